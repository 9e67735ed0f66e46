#include "fst_hex.h"

#include <limits.h>
#include <string.h>

static char *
fst_hex_write(const void *data, size_t n, char *out, const char *digits)
{
    const unsigned char  *p = data;
    size_t                i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * n] = '\0';
    return out;
}

char *
fst_hex_encode(const void *data, size_t n, char *out)
{
    return fst_hex_write(data, n, out, "0123456789abcdef");
}

char *
fst_hex_encode_upper(const void *data, size_t n, char *out)
{
    return fst_hex_write(data, n, out, "0123456789ABCDEF");
}

static int
fst_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

ssize_t
fst_hex_decode(const char *s, unsigned char *out, size_t size)
{
    size_t  len = strlen(s), i;
    int     hi, lo;

    if (len % 2 != 0 || len / 2 > size || len / 2 > (size_t) SSIZE_MAX) {
        return -1;
    }
    for (i = 0; i < len / 2; i++) {
        hi = fst_hex_digit(s[2 * i]);
        lo = fst_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (unsigned char) (hi << 4 | lo);
    }
    return (ssize_t) (len / 2);
}
