/*
 * fado_valid: input rules shared by the API handlers (see fado_valid.h).
 * ASCII classes are spelled out: <ctype.h> depends on the locale.
 */

#include "fado_valid.h"
#include "frc_record.h"

#include <arpa/inet.h>
#include <string.h>

static int
fado_valid_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
#include <strings.h>

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

/* The route contract's rules (lib/route/frc_record.c): one copy for the API
 * and the gateways, so a name the API takes is a name a gateway routes. */
int
fado_valid_name(const char *s)
{
    return frc_record_label_valid(s, strlen(s));
}

int
fado_valid_bucket(const char *s)
{
    return frc_record_bucket_valid(s, strlen(s));
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

/* ------------------------------------------------------------ endpoints */

int
fado_valid_dns_name(const char *s, size_t len)
{
    size_t  label = 0;
    int     digits_only = 1;

    if (len == 0 || len > FADO_EP_HOST_MAX) {
        return 0;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }
            if (i == len && digits_only) {
                return 0;       /* "10.1.2.300" is a bad address, not a name */
            }
            label = 0;
            digits_only = 1;
            continue;
        }
        if (!fado_valid_alnum((unsigned char) s[i]) && !(s[i] == '-' && label > 0)) {
            return 0;
        }
        if (s[i] < '0' || s[i] > '9') {
            digits_only = 0;
        }
        label++;
    }
    return 1;
}

static int
fado_valid_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A path prefix: segments of RFC 3986 pchar without ',' (the separator of
 * the route record's fields), no "." or ".." segment, no query or fragment.
 * Trailing '/' are dropped ("/api/" and "/api" are the same prefix; "/" is
 * none), so the gateway can prepend it to any request URI.
 */
static const char *
fado_valid_prefix(const char *s, fado_endpoint_t *ep)
{
    size_t  n = strlen(s);

    while (n > 0 && s[n - 1] == '/') {
        n--;
    }
    if (n > FADO_EP_PATH_MAX) {
        return "path is at most 512 bytes";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char  c = (unsigned char) s[i];

        if (c == '?' || c == '#') {
            return "path must not have a query or a fragment (the request's own are sent)";
        }
        if (c == '%') {
            if (i + 2 >= n || !fado_valid_hex((unsigned char) s[i + 1])
                || !fado_valid_hex((unsigned char) s[i + 2]))
            {
                return "path has a '%' that is not followed by two hex digits";
            }
            continue;
        }
        if (!fado_valid_alnum(c) && !strchr("-._~!$&'()*+;=:@/", c)) {
            return "path may hold only letters, digits, '/', '%XX' and -._~!$&'()*+;=:@"
                   " (no ',', space or control character)";
        }
    }
    for (size_t i = 0; i < n; ) {
        size_t  j = i + 1;

        while (j < n && s[j] != '/') {
            j++;
        }
        if (j - i == 1) {
            return "path must not have an empty segment (\"//\")";
        }
        if ((j - i == 2 && s[i + 1] == '.') || (j - i == 3 && s[i + 1] == '.' && s[i + 2] == '.')) {
            return "path must not have a \".\" or \"..\" segment";
        }
        i = j;
    }
    memcpy(ep->path, s, n);
    ep->path[n] = '\0';
    return NULL;
}

const char *
fado_valid_endpoint(const char *s, fado_endpoint_t *ep)
{
    const char     *p = s, *hs, *he, *ps, *pe;
    int             url = 0;
    unsigned char   buf[16];
    size_t          hl;

    memset(ep, 0, sizeof(*ep));
    if (strlen(s) > 1024 || !fado_valid_no_controls(s, strlen(s))) {
        return "must be at most 1024 characters, without control characters";
    }
    if (strncasecmp(p, "http://", 7) == 0) {
        p += 7;
        url = 1;
    } else if (strncasecmp(p, "https://", 8) == 0) {
        p += 8;
        url = 1;
        ep->https = 1;
    } else if (strstr(p, "://") != NULL) {
        return "scheme must be http or https";
    }

    /* host */
    {
        size_t  auth = strcspn(p, "/?#");

        if (memchr(p, '@', auth) != NULL) {
            return "host: credentials in the URL are not supported";
        }
    }
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (he == NULL) {
            return "host: an IPv6 address needs its closing ']'";
        }
        hl = (size_t) (he - hs);
        if (hl == 0 || hl >= 46) {
            return "host is not an IPv6 address";
        }
        memcpy(ep->host, hs, hl);
        ep->host[hl] = '\0';
        if (inet_pton(AF_INET6, ep->host, buf) != 1) {
            return "host is not an IPv6 address";
        }
        p = he + 1;
    } else {
        hs = p;
        p += strcspn(p, ":/?#");
        he = p;
        hl = (size_t) (he - hs);
        if (hl == 0) {
            return "host is missing";
        }
        if (hl > FADO_EP_HOST_MAX) {
            return "host is at most 253 characters";
        }
        for (size_t i = 0; i < hl; i++) {
            char  c = hs[i];
            ep->host[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
        }
        ep->host[hl] = '\0';
        if (inet_pton(AF_INET, ep->host, buf) != 1) {
            if (!url) {
                return "host: without a scheme the endpoint is IPv4:port or [IPv6]:port"
                       " (a host name needs http:// or https://)";
            }
            if (!fado_valid_dns_name(ep->host, hl)) {
                return "host must be an IPv4 address, an [IPv6] address or a DNS name"
                       " (labels of letters, digits and '-', separated by '.')";
            }
            ep->named = 1;
        }
    }

    /* port */
    if (*p == ':') {
        long  port = 0;

        ps = ++p;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        pe = p;
        if (pe == ps || pe - ps > 5 || (*p != '\0' && *p != '/')) {
            return "port must be a number from 1 to 65535";
        }
        for (const char *d = ps; d < pe; d++) {
            port = port * 10 + (*d - '0');
        }
        if (port < 1 || port > 65535) {
            return "port must be a number from 1 to 65535";
        }
        ep->port = (int) port;
    } else if (!url) {
        return "port is required (IPv4:port or [IPv6]:port)";
    } else if (*p != '\0' && *p != '/') {
        return *p == '?' || *p == '#'
               ? "path must not have a query or a fragment"
               : "host is followed by something other than ':port' or a path";
    } else {
        ep->port = ep->https ? 443 : 80;
    }

    /* path */
    if (*p == '/') {
        if (!url) {
            return "path: only a URL (http:// or https://) may have a path";
        }
        return fado_valid_prefix(p, ep);
    }
    return NULL;
}
