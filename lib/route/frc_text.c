/*
 * Escaping for log lines and JSON (see lib/route/frc_text.h).
 */

#include "frc_text.h"


static const char  frc_text_hex[] = "0123456789abcdef";


unsigned char *
frc_text_log(unsigned char *dst, const unsigned char *src,
    size_t len, size_t max)
{
    size_t          i, n;
    unsigned char   c;

    n = len > max ? max : len;

    for (i = 0; i < n; i++) {
        c = src[i];

        /* a newline or an escape sequence could forge or hide a line */
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = 'x';
            *dst++ = (unsigned char) frc_text_hex[c >> 4];
            *dst++ = (unsigned char) frc_text_hex[c & 0xf];
            continue;
        }

        *dst++ = c;
    }

    if (len > max) {
        *dst++ = '.';
        *dst++ = '.';
        *dst++ = '.';
    }

    return dst;
}


/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
frc_text_utf8(const unsigned char *s, size_t n)
{
    size_t          need, i;
    unsigned char   c, lo, hi;

    c = s[0];
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;

    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) {
            lo = 0xa0;          /* no overlong forms */
        } else if (c == 0xed) {
            hi = 0x9f;          /* no UTF-16 surrogates */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;          /* nothing above U+10FFFF */
        }

    } else {
        return 0;
    }

    if (n < need + 1) {
        return 0;
    }

    if (s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i <= need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }

    return need + 1;
}


unsigned char *
frc_text_json(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t          i, n;
    unsigned char   c;

    for (i = 0; i < len; /* void */) {
        c = src[i];

        if (c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = c;
            i++;
            continue;
        }

        if (c < 0x20 || c == 0x7f) {
            *dst++ = '\\';
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = (unsigned char) frc_text_hex[c >> 4];
            *dst++ = (unsigned char) frc_text_hex[c & 0xf];
            i++;
            continue;
        }

        if (c < 0x80) {
            *dst++ = c;
            i++;
            continue;
        }

        n = frc_text_utf8(src + i, len - i);

        if (n == 0) {
            /* U+FFFD, the replacement character, for a byte that is not */
            *dst++ = '\\';
            *dst++ = 'u';
            *dst++ = 'f';
            *dst++ = 'f';
            *dst++ = 'f';
            *dst++ = 'd';
            i++;
            continue;
        }

        while (n--) {
            *dst++ = src[i++];
        }
    }

    return dst;
}
