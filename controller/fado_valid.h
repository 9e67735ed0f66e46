/*
 * fado_valid: the input rules of the API in one place, applied before any
 * value reaches SQL or MinIO. Names follow the same rules as the schema's
 * CHECK constraints (sql/), object keys S3's, so a request is refused with
 * a 400 naming its field instead of failing deep inside PostgreSQL or MinIO.
 */

#ifndef FADO_VALID_H
#define FADO_VALID_H

#include <stddef.h>
#include <stdint.h>

/* 1 if [s, s+len) is well-formed UTF-8 (no overlongs, no surrogates). */
int fado_valid_utf8(const char *s, size_t len);

/* Zone, cluster names: 1-63 of letters, digits, '.', '_', '-'. */
int fado_valid_name(const char *s);

/* Bucket names, S3 rules as MinIO applies them: 3-63 of a-z 0-9 . -,
 * letter or digit at both ends, no "..". */
int fado_valid_bucket(const char *s);

/* A list cursor (the last name of the previous page): "" or at most 1024
 * bytes of UTF-8 without NUL or control characters. */
int fado_valid_cursor(const char *s);

/*
 * An object key by S3's rules plus what keeps the signed path equal to the
 * one sent: 1-1024 bytes of UTF-8, no control characters (NUL included),
 * no empty segment ("a//b", a leading or trailing '/'), no "." or ".."
 * segment. NULL if valid, else the reason.
 */
const char *fado_valid_key(const char *s);

/* A decimal integer in [lo, hi] with nothing around it: 1 and *out set. */
int fado_valid_int64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* An RFC 3339 date-time ("2026-05-01T10:00:00.123Z", "...+02:00") whose
 * fields are in range (month 1-12, day within the month, 23:59:60). */
int fado_valid_rfc3339(const char *s);

/*
 * A function endpoint as the API accepts it (docs/controller.md, "Function
 * endpoints"): "IPv4:port", "[IPv6]:port", or a URL
 * "http[s]://host[:port][/path]" whose host is an IP literal or a DNS name.
 * Parsed into the parts the schema stores (sql/006_endpoint_names.sql).
 */
#define FADO_EP_HOST_MAX  253
#define FADO_EP_PATH_MAX  512

typedef struct {
    int   https;                            /* scheme https (else http) */
    int   named;                            /* host is a DNS name to resolve */
    int   port;                             /* 1..65535 (URL default 80/443) */
    char  host[FADO_EP_HOST_MAX + 1];       /* lower case; IPv6 without [] */
    char  path[FADO_EP_PATH_MAX + 1];       /* "" or "/a/b", no trailing '/' */
} fado_endpoint_t;

/*
 * NULL if s is a valid endpoint (ep filled), else the reason, which names
 * the part that is wrong (scheme, host, port, path).
 */
const char *fado_valid_endpoint(const char *s, fado_endpoint_t *ep);

/* A DNS host name: 1-253 of labels of 1-63 letters, digits and '-' (not at
 * a label's ends), separated by '.'; the last label not all digits. */
int fado_valid_dns_name(const char *s, size_t len);

#endif /* FADO_VALID_H */
