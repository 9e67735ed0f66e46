/*
 * SigV4 as S3 defines it: unlike the generic AWS rules the path is encoded
 * once (not twice) and not normalised, since S3 keys may contain "//" or
 * "..". See docs/storage.md for the canonical request layout.
 */

#include "fst_s3_sign.h"
#include "fst_buf.h"
#include "fst_hex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

typedef struct {
    char    *name;      /* encoded (query) or lowercased (header) */
    char    *value;
} fst_s3_pair_t;

static void
fst_s3_err(char *err, size_t err_len, const char *msg)
{
    if (err && err_len) {
        snprintf(err, err_len, "%s", msg);
    }
}

int
fst_s3_sha256_hex(const void *data, size_t len, char *hex)
{
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned int   mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1
        || mdlen != 32)
    {
        return -1;
    }
    fst_hex_encode(md, mdlen, hex);
    return 0;
}

int
fst_s3_md5_base64(const void *data, size_t len, char *b64)
{
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned int   mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1
        || mdlen != 16)
    {
        return -1;
    }
    if (EVP_EncodeBlock((unsigned char *) b64, md, (int) mdlen) != 24) {
        return -1;
    }
    return 0;
}

static int
fst_s3_hmac(const void *key, size_t key_len, const char *msg,
    unsigned char *out)
{
    unsigned int  len = 0;

    if (HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) msg,
             strlen(msg), out, &len) == NULL || len != 32)
    {
        return -1;
    }
    return 0;
}

void
fst_s3_amz_date(time_t t, char *buf)
{
    struct tm  tm;

    gmtime_r(&t, &tm);
    strftime(buf, FST_S3_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

char *
fst_s3_uri_encode(const char *s, int keep_slash)
{
    fst_buf_t      b;
    unsigned char  c;
    char           esc[4];

    fst_buf_init(&b);
    fst_buf_append(&b, "", 0);
    for (; *s; s++) {
        c = (unsigned char) *s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~'
            || (keep_slash && c == '/'))
        {
            fst_buf_append(&b, s, 1);
        } else {
            esc[0] = '%';
            fst_hex_encode_upper(&c, 1, esc + 1);
            fst_buf_append(&b, esc, 3);
        }
    }
    return fst_buf_steal(&b);
}

static int
fst_s3_pair_cmp(const void *a, const void *b)
{
    const fst_s3_pair_t   *x = a, *y = b;
    int                    r;

    r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->value, y->value);
}

static void
fst_s3_pairs_free(fst_s3_pair_t *p, size_t n)
{
    size_t  i;

    if (p == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

/* Header values: trimmed, inner runs of blanks collapsed to one space. */
static char *
fst_s3_header_value(const char *v)
{
    fst_buf_t           b;
    int                 space = 0;

    fst_buf_init(&b);
    fst_buf_append(&b, "", 0);
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space) {
            fst_buf_append(&b, " ", 1);
            space = 0;
        }
        fst_buf_append(&b, v, 1);
    }
    return fst_buf_steal(&b);
}

static char *
fst_s3_lower(const char *s)
{
    char    *p = strdup(s);
    size_t   i;

    if (p) {
        for (i = 0; p[i]; i++) {
            p[i] = (char) tolower((unsigned char) p[i]);
        }
    }
    return p;
}

int
fst_s3_sign(const fst_s3_creds_t *creds, const fst_s3_sign_input_t *in,
    fst_s3_signed_t *out, char *err, size_t err_len)
{
    fst_s3_pair_t       *q = NULL, *h = NULL;
    fst_buf_t            creq, sts, uri, signed_hdrs, auth;
    char                *path = NULL, date[9], hash[FST_S3_SHA256_HEX_LEN + 1];
    char                 sig[FST_S3_SHA256_HEX_LEN + 1], *ksecret = NULL;
    unsigned char        k1[32], k2[32], k3[32], k4[32], s[32];
    const char          *region, *service;
    size_t               i, ksecret_len;
    int                  rc = -1;

    memset(out, 0, sizeof(*out));
    fst_buf_init(&creq);
    fst_buf_init(&sts);
    fst_buf_init(&uri);
    fst_buf_init(&signed_hdrs);
    fst_buf_init(&auth);

    if (in->method == NULL || in->path == NULL || in->path[0] != '/'
        || in->amz_date == NULL || strlen(in->amz_date) != FST_S3_AMZ_DATE_LEN
        || in->payload_hash == NULL || creds->access_key == NULL
        || creds->secret_key == NULL)
    {
        fst_s3_err(err, err_len, "sigv4: incomplete request or credentials");
        return -1;
    }
    region = creds->region && *creds->region ? creds->region : "us-east-1";
    service = creds->service ? creds->service : "s3";

    path = fst_s3_uri_encode(in->path, 1);
    q = calloc(in->nquery + 1, sizeof(*q));
    h = calloc(in->nheaders + 1, sizeof(*h));
    if (path == NULL || q == NULL || h == NULL) {
        goto nomem;
    }
    for (i = 0; i < in->nquery; i++) {
        q[i].name = fst_s3_uri_encode(in->query[i].name, 0);
        q[i].value = fst_s3_uri_encode(in->query[i].value
                                        ? in->query[i].value : "", 0);
        if (q[i].name == NULL || q[i].value == NULL) {
            goto nomem;
        }
    }
    qsort(q, in->nquery, sizeof(*q), fst_s3_pair_cmp);
    for (i = 0; i < in->nheaders; i++) {
        h[i].name = fst_s3_lower(in->headers[i].name);
        h[i].value = fst_s3_header_value(in->headers[i].value);
        if (h[i].name == NULL || h[i].value == NULL) {
            goto nomem;
        }
    }
    qsort(h, in->nheaders, sizeof(*h), fst_s3_pair_cmp);

    /* canonical request */
    fst_buf_printf(&creq, "%s\n%s\n", in->method, path);
    fst_buf_puts(&uri, path);
    for (i = 0; i < in->nquery; i++) {
        fst_buf_printf(&creq, "%s%s=%s", i ? "&" : "",
                                q[i].name, q[i].value);
        fst_buf_printf(&uri, "%s%s=%s", i ? "&" : "?",
                                q[i].name, q[i].value);
    }
    fst_buf_puts(&creq, "\n");
    for (i = 0; i < in->nheaders; i++) {
        fst_buf_printf(&creq, "%s:%s\n", h[i].name, h[i].value);
        fst_buf_printf(&signed_hdrs, "%s%s", i ? ";" : "",
                                h[i].name);
    }
    fst_buf_append(&signed_hdrs, "", 0);
    fst_buf_printf(&creq, "\n%s\n%s", signed_hdrs.data
                            ? signed_hdrs.data : "", in->payload_hash);
    if (!fst_buf_ok(&creq) || !fst_buf_ok(&uri)
        || !fst_buf_ok(&signed_hdrs))
    {
        goto nomem;
    }

    /* string to sign */
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    if (fst_s3_sha256_hex(creq.data, creq.len, hash) != 0) {
        fst_s3_err(err, err_len, "sigv4: SHA-256 failed");
        goto done;
    }
    fst_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                            in->amz_date, date, region, service, hash);
    if (!fst_buf_ok(&sts)) {
        goto nomem;
    }

    /* signing key: the secret only ever lives in this scratch buffer */
    ksecret_len = 4 + strlen(creds->secret_key);
    ksecret = malloc(ksecret_len + 1);
    if (ksecret == NULL) {
        goto nomem;
    }
    snprintf(ksecret, ksecret_len + 1, "AWS4%s", creds->secret_key);
    if (fst_s3_hmac(ksecret, ksecret_len, date, k1) != 0
        || fst_s3_hmac(k1, 32, region, k2) != 0
        || fst_s3_hmac(k2, 32, service, k3) != 0
        || fst_s3_hmac(k3, 32, "aws4_request", k4) != 0
        || fst_s3_hmac(k4, 32, sts.data, s) != 0)
    {
        fst_s3_err(err, err_len, "sigv4: HMAC-SHA256 failed");
        goto done;
    }
    fst_hex_encode(s, 32, sig);

    fst_buf_printf(&auth,
        "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,"
        "SignedHeaders=%s,Signature=%s", creds->access_key, date, region,
        service, signed_hdrs.data, sig);
    if (!fst_buf_ok(&auth)) {
        goto nomem;
    }
    out->uri = fst_buf_steal(&uri);
    out->authorization = fst_buf_steal(&auth);
    out->canonical_request = fst_buf_steal(&creq);
    if (out->uri == NULL || out->authorization == NULL
        || out->canonical_request == NULL)
    {
        fst_s3_signed_free(out);
        goto nomem;
    }
    rc = 0;
    goto done;

nomem:
    fst_s3_err(err, err_len, "sigv4: out of memory");
done:
    if (ksecret) {
        OPENSSL_cleanse(ksecret, ksecret_len);
        free(ksecret);
    }
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k4, sizeof(k4));
    free(path);
    fst_s3_pairs_free(q, in->nquery);
    fst_s3_pairs_free(h, in->nheaders);
    fst_buf_free(&creq);
    fst_buf_free(&sts);
    fst_buf_free(&uri);
    fst_buf_free(&signed_hdrs);
    fst_buf_free(&auth);
    return rc;
}

void
fst_s3_signed_free(fst_s3_signed_t *s)
{
    free(s->uri);
    free(s->authorization);
    free(s->canonical_request);
    memset(s, 0, sizeof(*s));
}
