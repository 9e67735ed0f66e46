/*
 * fado_log: one logfmt line per event, with time and level first, written
 * with a single write(2) so lines from threads never interleave.
 */

#include "fado_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

fado_log_level_e  fado_log_level = FADO_LOG_INFO;

static const char *const fado_log_names[] = { "error", "warn", "info", "debug" };

int
fado_log_parse_level(const char *name, fado_log_level_e *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, fado_log_names[i]) == 0) {
            *level = (fado_log_level_e) i;
            return 0;
        }
    }
    return -1;
}

void
fado_log(fado_log_level_e level, const char *fmt, ...)
{
    char             line[2048];
    struct timespec  ts;
    struct tm        tm;
    size_t           n;
    int              r;
    va_list          ap;

    if (level > fado_log_level) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s ",
                 ts.tv_nsec / 1000000, fado_log_names[level]);
    if (r > 0) {
        n += (size_t) r;
    }

    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (r > 0) {
        n += (size_t) r < sizeof(line) - n - 1 ? (size_t) r : sizeof(line) - n - 2;
    }
    line[n++] = '\n';

    /* A failed log write has nowhere better to be reported. */
    if (write(STDERR_FILENO, line, n) < 0) {
        return;
    }
}
