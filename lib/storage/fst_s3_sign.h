/*
 * fado S3 Signature Version 4: the one place where requests to MinIO (S3
 * and admin API alike) are canonicalised and signed.
 *
 * The signer builds the canonical URI and query string itself and hands them
 * back, so that what goes on the wire is exactly what was signed: callers
 * never format a path or a query string of their own.
 */

#ifndef FST_S3_SIGN_H
#define FST_S3_SIGN_H

#include <stddef.h>
#include <time.h>

#define FST_S3_SHA256_HEX_LEN  64
#define FST_S3_AMZ_DATE_LEN    16          /* "20130524T000000Z" */
#define FST_S3_UNSIGNED        "UNSIGNED-PAYLOAD"
#define FST_S3_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    const char  *name;
    const char  *value;
} fst_s3_kv_t;

typedef struct {
    const char  *access_key;
    const char  *secret_key;
    const char  *region;        /* NULL: "us-east-1" */
    const char  *service;       /* NULL: "s3" */
} fst_s3_creds_t;

typedef struct {
    const char          *method;
    const char          *path;      /* unencoded, starts with '/' */
    const fst_s3_kv_t   *query;     /* unencoded; value NULL means "" */
    size_t               nquery;
    const fst_s3_kv_t   *headers;   /* all headers to sign, incl. host */
    size_t               nheaders;
    const char          *payload_hash;  /* hex SHA-256 or UNSIGNED-PAYLOAD */
    const char          *amz_date;  /* YYYYMMDDTHHMMSSZ */
} fst_s3_sign_input_t;

typedef struct {
    char    *uri;               /* canonical path + "?" + query: the URL tail */
    char    *authorization;     /* value of the Authorization header */
    char    *canonical_request; /* for diagnostics and tests */
} fst_s3_signed_t;

/*
 * Sign a request. Returns 0 and fills *out (free with fst_s3_signed_free),
 * or -1 with a message in err. Header names may have any case; values are
 * trimmed and inner runs of spaces collapsed, as SigV4 requires.
 */
int fst_s3_sign(const fst_s3_creds_t *creds, const fst_s3_sign_input_t *in,
    fst_s3_signed_t *out, char *err, size_t err_len);

void fst_s3_signed_free(fst_s3_signed_t *s);

/* "20130524T000000Z" for t (UTC) into buf[FST_S3_AMZ_DATE_LEN + 1]. */
void fst_s3_amz_date(time_t t, char *buf);

/* Hex SHA-256 of data into hex[FST_S3_SHA256_HEX_LEN + 1]; 0 or -1. */
int fst_s3_sha256_hex(const void *data, size_t len, char *hex);

/* Base64 MD5 of data (the Content-MD5 header) into b64[25]; 0 or -1. */
int fst_s3_md5_base64(const void *data, size_t len, char *b64);

/*
 * Percent-encode s as SigV4 does (unreserved A-Z a-z 0-9 - _ . ~ kept);
 * '/' kept when keep_slash. Returns a malloc'd string or NULL.
 */
char *fst_s3_uri_encode(const char *s, int keep_slash);

#endif /* FST_S3_SIGN_H */
