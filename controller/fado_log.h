/*
 * fado_log: structured (logfmt) logging to stderr.
 *
 *   fado_log(FADO_LOG_INFO, "msg=\"bucket placed\" bucket=%s replicas=%d",
 *            FADO_LOG_Q(b), n);
 *
 * Callers never pass secrets. Every value that did not come from fado's own
 * constants (names, paths, keys, error texts of PostgreSQL or MinIO) goes
 * through FADO_LOG_Q(), which quotes and escapes it, so no value can end a
 * line early or forge a key=value pair.
 */

#ifndef FADO_LOG_H
#define FADO_LOG_H

#include <stddef.h>

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

/*
 * Writes s as one logfmt value into buf: in double quotes, with '"' and
 * '\\' escaped, control characters and bytes that are not UTF-8 as \xHH,
 * cut (with "...") to fit. Returns buf. len: bytes of s, or (size_t) -1 for
 * a NUL-terminated string; NULL gives "".
 */
const char *fado_log_quote(char *buf, size_t size, const char *s, size_t len);

#define FADO_LOG_QSIZE  512

/* fado_log_quote into a buffer that lives until the end of the statement's
 * enclosing block: fado_log(..., "path=%s", FADO_LOG_Q(path)). */
#define FADO_LOG_Q(s) \
    fado_log_quote((char[FADO_LOG_QSIZE]) { 0 }, FADO_LOG_QSIZE, (s), (size_t) -1)
#define FADO_LOG_QN(s, n) \
    fado_log_quote((char[FADO_LOG_QSIZE]) { 0 }, FADO_LOG_QSIZE, (s), (n))

#endif /* FADO_LOG_H */
