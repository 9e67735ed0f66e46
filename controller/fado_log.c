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
        size_t  start = n;

        n += (size_t) r < sizeof(line) - n - 1 ? (size_t) r : sizeof(line) - n - 2;
        /* A call site that forgot FADO_LOG_Q still cannot start a new line. */
        for (size_t i = start; i < n; i++) {
            if ((unsigned char) line[i] < 0x20) {
                line[i] = '?';
            }
        }
    }
    line[n++] = '\n';

    /* A failed log write has nowhere better to be reported. */
    if (write(STDERR_FILENO, line, n) < 0) {
        return;
    }
}

/* Length of the UTF-8 sequence starting at p (at most n bytes), 0 if p
 * does not start a valid one (overlong forms and surrogates included). */
static size_t
fado_log_utf8_len(const unsigned char *p, size_t n)
{
    size_t  need;
    unsigned int  cp;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        need = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        need = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        need = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < need) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }
    return need;
}

const char *
fado_log_quote(char *buf, size_t size, const char *s, size_t len)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) (s ? s : "");
    size_t               n = 0, i = 0;

    if (size < 8) {
        if (size > 0) {
            buf[0] = '\0';
        }
        return buf;
    }
    if (len == (size_t) -1) {
        len = strlen((const char *) p);
    }
    buf[n++] = '"';
    /* keep room for the worst escape (4), "..." (3), the quote and NUL */
    while (i < len) {
        size_t  u = fado_log_utf8_len(p + i, len - i);

        if (n + 9 > size) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (u == 0 || p[i] < 0x20 || p[i] == 0x7f) {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[p[i] >> 4];
            buf[n++] = hex[p[i] & 0xf];
            i++;
        } else if (p[i] == '"' || p[i] == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char) p[i++];
        } else {
            memcpy(buf + n, p + i, u);
            n += u;
            i += u;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}
