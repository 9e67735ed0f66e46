#include "fst_madmin_client.h"
#include "fst_madmin_crypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define FST_MADMIN_PREFIX  "/minio/admin/v3"

static void
fst_madmin_errf(char *err, size_t err_len, const char *fmt, const char *a,
    const char *b)
{
    if (err && err_len) {
        snprintf(err, err_len, fmt, a, b);
    }
}

/* Perform an admin call; 2xx required. */
static int
fst_madmin_call(fst_s3_client_t *c, const char *method, const char *op,
    const fst_s3_kv_t *q, size_t nq, const void *body, size_t body_len,
    fst_s3_response_t *resp, char *err, size_t err_len)
{
    char               path[128];
    fst_s3_request_t   req;

    snprintf(path, sizeof(path), "%s/%s", FST_MADMIN_PREFIX, op);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.query = q;
    req.nquery = nq;
    req.body = body;
    req.body_len = body_len;
    if (fst_s3_request(c, &req, resp, err, err_len) != 0) {
        return -1;
    }
    if (resp->status < 200 || resp->status >= 300) {
        /* admin errors are JSON: {"Code":..., "Message":...} */
        json_error_t  jerr;
        json_t       *j = json_loadb(resp->body ? resp->body : "",
                                     resp->body_len, 0, &jerr);
        const char   *code = NULL, *msg = NULL;

        if (j) {
            code = json_string_value(json_object_get(j, "Code"));
            msg = json_string_value(json_object_get(j, "Message"));
        }
        if (err && err_len) {
            snprintf(err, err_len, "admin %s on %s: HTTP %ld %s%s%s", op,
                     fst_s3_client_endpoint(c), resp->status,
                     code ? code : "", msg ? ": " : "", msg ? msg : "");
        }
        json_decref(j);
        fst_s3_response_free(resp);
        return -1;
    }
    return 0;
}

int
fst_madmin_deployment_id(fst_s3_client_t *c, char *id, size_t id_len,
    char *err, size_t err_len)
{
    fst_s3_response_t   resp;
    json_error_t        jerr;
    json_t             *j;
    const char         *v;
    int                 rc = -1;

    if (fst_madmin_call(c, "GET", "info", NULL, 0, NULL, 0, &resp, err,
                         err_len) != 0)
    {
        return -1;
    }
    j = json_loadb(resp.body, resp.body_len, 0, &jerr);
    v = j ? json_string_value(json_object_get(j, "deploymentID")) : NULL;
    if (v == NULL || *v == '\0') {
        fst_madmin_errf(err, err_len, "admin info on %s: no deploymentID in "
                         "the answer%s", fst_s3_client_endpoint(c), "");
    } else {
        snprintf(id, id_len, "%s", v);
        rc = 0;
    }
    json_decref(j);
    fst_s3_response_free(&resp);
    return rc;
}

static void
fst_madmin_copy(char *dst, size_t len, json_t *obj, const char *key)
{
    const char  *v = json_string_value(json_object_get(obj, key));

    snprintf(dst, len, "%s", v ? v : "");
}

int
fst_madmin_targets_list(fst_s3_client_t *c, const char *bucket,
    fst_madmin_target_t **targets, size_t *n, char *err, size_t err_len)
{
    fst_s3_kv_t           q[] = { { "bucket", bucket }, { "type", "replication" } };
    fst_s3_response_t     resp;
    json_error_t          jerr;
    json_t               *j, *t;
    fst_madmin_target_t  *out;
    size_t                i, cnt;

    *targets = NULL;
    *n = 0;
    if (fst_madmin_call(c, "GET", "list-remote-targets", q, 2, NULL, 0,
                         &resp, err, err_len) != 0)
    {
        return -1;
    }
    j = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, &jerr);
    fst_s3_response_free(&resp);
    if (j == NULL || !(json_is_array(j) || json_is_null(j))) {
        fst_madmin_errf(err, err_len, "admin list-remote-targets for %s: "
                         "answer is not a JSON array%s", bucket, "");
        json_decref(j);
        return -1;
    }
    cnt = json_is_array(j) ? json_array_size(j) : 0;
    out = calloc(cnt + 1, sizeof(*out));
    if (out == NULL) {
        json_decref(j);
        fst_madmin_errf(err, err_len, "%s%s: out of memory", "admin", "");
        return -1;
    }
    for (i = 0; i < cnt; i++) {
        t = json_array_get(j, i);
        fst_madmin_copy(out[i].arn, sizeof(out[i].arn), t, "arn");
        fst_madmin_copy(out[i].endpoint, sizeof(out[i].endpoint), t,
                         "endpoint");
        fst_madmin_copy(out[i].target_bucket, sizeof(out[i].target_bucket),
                         t, "targetbucket");
        fst_madmin_copy(out[i].reset_id, sizeof(out[i].reset_id), t,
                         "resetID");
        out[i].online = json_is_true(json_object_get(t, "isOnline"));
    }
    json_decref(j);
    *targets = out;
    *n = cnt;
    return 0;
}

int
fst_madmin_target_set(fst_s3_client_t *c, const char *bucket,
    const char *target_endpoint, const char *target_access_key,
    const char *target_secret_key, const char *target_bucket,
    const char *region, char *arn, size_t arn_len, char *err, size_t err_len)
{
    fst_s3_kv_t          q[] = { { "bucket", bucket } };
    fst_s3_response_t    resp;
    json_error_t         jerr;
    json_t              *body = NULL, *ans = NULL;
    const char          *host, *v;
    char                *plain = NULL;
    unsigned char       *enc = NULL;
    size_t               enc_len = 0;
    int                  secure, rc = -1;

    secure = strncmp(target_endpoint, "https://", 8) == 0;
    host = strstr(target_endpoint, "://");
    host = host ? host + 3 : target_endpoint;
    body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:b, s:s, s:s, s:s, s:b}",
                     "sourcebucket", bucket,
                     "endpoint", host,
                     "credentials", "accessKey", target_access_key,
                                    "secretKey", target_secret_key,
                     "targetbucket", target_bucket,
                     "secure", secure,
                     "type", "replication",
                     "api", "s3v4",
                     "region", region && *region ? region : "us-east-1",
                     "replicationSync", 0);
    if (body == NULL) {
        fst_madmin_errf(err, err_len, "admin set-remote-target for %s: "
                         "cannot build the request%s", bucket, "");
        goto done;
    }
    /* strip a trailing '/' the URL may carry */
    if (host[0] && host[strlen(host) - 1] == '/') {
        char  h[256];

        snprintf(h, sizeof(h), "%.*s", (int) strlen(host) - 1, host);
        if (json_object_set_new(body, "endpoint", json_string(h)) != 0) {
            goto done;
        }
    }
    plain = json_dumps(body, JSON_COMPACT);
    if (plain == NULL
        || fst_madmin_encrypt(fst_s3_client_creds(c)->secret_key, plain,
                               strlen(plain), &enc, &enc_len, err, err_len)
           != 0)
    {
        if (plain == NULL) {
            fst_madmin_errf(err, err_len, "admin set-remote-target for %s: "
                             "out of memory%s", bucket, "");
        }
        goto done;
    }
    if (fst_madmin_call(c, "PUT", "set-remote-target", q, 1, enc, enc_len,
                         &resp, err, err_len) != 0)
    {
        goto done;
    }
    ans = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, &jerr);
    fst_s3_response_free(&resp);
    v = json_string_value(ans);
    if (v == NULL || *v == '\0') {
        fst_madmin_errf(err, err_len, "admin set-remote-target for %s: no "
                         "ARN in the answer%s", bucket, "");
        goto done;
    }
    snprintf(arn, arn_len, "%s", v);
    rc = 0;
done:
    if (plain) {
        /* it holds the target's secret key */
        memset(plain, 0, strlen(plain));
        free(plain);
    }
    free(enc);
    json_decref(body);
    json_decref(ans);
    return rc;
}

int
fst_madmin_target_remove(fst_s3_client_t *c, const char *bucket,
    const char *arn, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { "bucket", bucket }, { "arn", arn } };
    fst_s3_response_t  resp;

    if (fst_madmin_call(c, "DELETE", "remove-remote-target", q, 2, NULL, 0,
                         &resp, err, err_len) != 0)
    {
        /* already gone (deleting the last rule drops the targets too) */
        return fst_s3_last_status(c) == 404 ? 0 : -1;
    }
    fst_s3_response_free(&resp);
    return 0;
}

int
fst_madmin_resync_start(fst_s3_client_t *c, const char *bucket,
    const char *arn, const char *reset_id, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { "replication-reset", "" }, { "arn", arn },
                                { "reset-id", reset_id } };
    fst_s3_request_t   req = { .method = "PUT", .bucket = bucket,
                                .query = q, .nquery = 3 };
    fst_s3_response_t  resp;

    if (fst_s3_request(c, &req, &resp, err, err_len) != 0) {
        return -1;
    }
    fst_s3_response_free(&resp);
    return resp.status >= 200 && resp.status < 300 ? 0 : -1;
}

int
fst_madmin_resync_status(fst_s3_client_t *c, const char *bucket,
    const char *arn, char *status, size_t status_len, char *err,
    size_t err_len)
{
    fst_s3_kv_t         q[] = { { "replication-reset-status", "" },
                                 { "arn", arn } };
    fst_s3_request_t    req = { .method = "GET", .bucket = bucket,
                                 .query = q, .nquery = 2 };
    fst_s3_response_t   resp;
    json_error_t        jerr;
    json_t             *j, *targets, *t;
    size_t              i;

    snprintf(status, status_len, "%s", "");
    if (fst_s3_request(c, &req, &resp, err, err_len) != 0) {
        return -1;
    }
    if (resp.status < 200 || resp.status >= 300) {
        fst_s3_response_free(&resp);
        return -1;
    }
    j = json_loadb(resp.body, resp.body_len, 0, &jerr);
    fst_s3_response_free(&resp);
    if (j == NULL) {
        fst_madmin_errf(err, err_len, "replication-reset-status of %s: "
                         "answer is not JSON: %s", bucket, jerr.text);
        return -1;
    }
    targets = json_object_get(j, "target");
    for (i = 0; json_is_array(targets) && i < json_array_size(targets); i++) {
        const char  *a, *st;

        t = json_array_get(targets, i);
        a = json_string_value(json_object_get(t, "arn"));
        st = json_string_value(json_object_get(t, "resyncStatus"));
        if (a && st && strcmp(a, arn) == 0) {
            snprintf(status, status_len, "%s", st);
        }
    }
    json_decref(j);
    return 0;
}
