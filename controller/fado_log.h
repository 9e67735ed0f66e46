/*
 * fado_log: structured (logfmt) logging to stderr.
 *
 *   fado_log(FADO_LOG_INFO, "msg=\"bucket placed\" bucket=%s replicas=%d", b, n);
 *
 * Callers never pass secrets; values that may hold user text go through
 * fado_log_quote().
 */

#ifndef FADO_LOG_H
#define FADO_LOG_H

typedef enum {
    FADO_LOG_ERROR = 0,
    FADO_LOG_WARN,
    FADO_LOG_INFO,
    FADO_LOG_DEBUG
} fado_log_level_e;

extern fado_log_level_e  fado_log_level;

/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int fado_log_parse_level(const char *name, fado_log_level_e *level);

void fado_log(fado_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* FADO_LOG_H */
