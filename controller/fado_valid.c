/*
 * fado_valid: input rules shared by the API handlers (see fado_valid.h).
 * ASCII classes are spelled out: <ctype.h> depends on the locale.
 */

#include "fado_valid.h"
#include "ngx_http_fado_record.h"

#include <string.h>

int
fado_valid_utf8(const char *str, size_t len)
{
    const unsigned char  *s = (const unsigned char *) str, *end = s + len;

    while (s < end) {
        unsigned int  cp;
        size_t        need;

        if (s[0] < 0x80) {
            s++;
            continue;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
            need = 2;
            cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
            need = 3;
            cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
            need = 4;
            cp = s[0] & 0x07;
        } else {
            return 0;
        }
        if ((size_t) (end - s) < need) {
            return 0;
        }
        for (size_t i = 1; i < need; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            return 0;
        }
        s += need;
    }
    return 1;
}

/* The route contract's rules (ngx_http_fado_record.c): one copy for the API
 * and the gateways, so a name the API takes is a name a gateway routes. */
int
fado_valid_name(const char *s)
{
    return ngx_http_fado_record_label_valid(s, strlen(s));
}

int
fado_valid_bucket(const char *s)
{
    return ngx_http_fado_record_bucket_valid(s, strlen(s));
}

/* No C0 control character nor DEL. */
static int
fado_valid_no_controls(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int
fado_valid_cursor(const char *s)
{
    size_t  n = strlen(s);

    return n <= 1024 && fado_valid_utf8(s, n) && fado_valid_no_controls(s, n);
}

const char *
fado_valid_key(const char *s)
{
    size_t       n = strlen(s);
    const char  *seg;

    if (n == 0) {
        return "an object key must not be empty";
    }
    if (n > 1024) {
        return "an object key is at most 1024 bytes of UTF-8";
    }
    if (!fado_valid_utf8(s, n)) {
        return "an object key must be UTF-8";
    }
    if (!fado_valid_no_controls(s, n)) {
        return "an object key must not hold control characters (NUL included)";
    }
    for (seg = s;; ) {
        const char  *slash = strchr(seg, '/');
        size_t       len = slash ? (size_t) (slash - seg) : strlen(seg);

        if (len == 0) {
            return "an object key must not have an empty segment (\"a//b\", a leading"
                   " or trailing '/')";
        }
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
            return "an object key must not have a \".\" or \"..\" segment";
        }
        if (slash == NULL) {
            break;
        }
        seg = slash + 1;
    }
    return NULL;
}

int
fado_valid_int64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int       neg = 0;
    uint64_t  v = 0, limit;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (*s == '\0' || strlen(s) > 19) {
        return 0;
    }
    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
        if (v > (limit - (uint64_t) (*s - '0')) / 10) {
            return 0;
        }
        v = v * 10 + (uint64_t) (*s - '0');
    }
    {
        int64_t  r = neg ? (v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v)
                         : (int64_t) v;
        if (r < lo || r > hi) {
            return 0;
        }
        *out = r;
    }
    return 1;
}

/* n decimal digits at s as an int, or -1. */
static int
fado_valid_digits(const char *s, int n)
{
    int  v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int
fado_valid_rfc3339(const char *s)
{
    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int               y, mo, d, h, mi, sec, leap;

    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't')
        || s[13] != ':' || s[16] != ':')
    {
        return 0;
    }
    y = fado_valid_digits(s, 4);
    mo = fado_valid_digits(s + 5, 2);
    d = fado_valid_digits(s + 8, 2);
    h = fado_valid_digits(s + 11, 2);
    mi = fado_valid_digits(s + 14, 2);
    sec = fado_valid_digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59
        || sec < 0 || sec > 60)
    {
        return 0;
    }
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) {
        return 0;
    }
    s += 19;
    if (*s == '.') {
        int  digits = 0;
        for (s++; *s >= '0' && *s <= '9'; s++) {
            digits++;
        }
        if (digits == 0 || digits > 9) {
            return 0;
        }
    }
    if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
        return 1;
    }
    if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':') {
        int  oh = fado_valid_digits(s + 1, 2), om = fado_valid_digits(s + 4, 2);
        return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
    }
    return 0;
}
