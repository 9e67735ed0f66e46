/*
 * fado_async_front: the small HTTP server behind nginx's /async-function/.
 *
 *   POST /async-function/<name>[?query]   queue a call: 202 {"call_id": ...}
 *   GET  /async-function/calls/<id>       the call's state (JSON), 404 after TTL
 *   GET  /async-function/queue            calls queued or in progress
 *   GET  /healthz
 *
 * The 202 is sent only after Redis answered the enqueue script, so a call
 * that got its id is in the stream (how durable that is depends on Redis's
 * persistence settings: docs/async.md). nginx only proxies here: the gateway
 * does no blocking I/O for asynchronous calls either.
 *
 * libmicrohttpd runs a thread pool; each pool thread keeps its own Redis
 * connection (thread-local), opened on first use and again after an error.
 */

#include "fado_async.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "fado_log.h"


typedef struct {
    char    *body;
    size_t   len;
    int      too_large;
    int      post;
} fado_async_front_req_t;


#define FADO_ASYNC_FRONT_THREADS_MAX  64

static struct MHD_Daemon  *fado_async_front_daemon;

/* Each pool thread's connection sits in a slot of its own, so stop can
 * close them all after libmicrohttpd's threads are gone. */
static redisContext       *fado_async_front_rcs[FADO_ASYNC_FRONT_THREADS_MAX];
static int                 fado_async_front_nslots;
static pthread_mutex_t     fado_async_front_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int   fado_async_front_slot = -1;


static redisContext *
fado_async_front_redis(void)
{
    char  err[256];

    if (fado_async_front_slot < 0) {
        pthread_mutex_lock(&fado_async_front_lock);
        if (fado_async_front_nslots < FADO_ASYNC_FRONT_THREADS_MAX) {
            fado_async_front_slot = fado_async_front_nslots++;
        }
        pthread_mutex_unlock(&fado_async_front_lock);
        if (fado_async_front_slot < 0) {
            return NULL;
        }
    }
    if (fado_async_front_rcs[fado_async_front_slot] == NULL) {
        fado_async_front_rcs[fado_async_front_slot] = fado_async_queue_connect(err, sizeof(err));
        if (fado_async_front_rcs[fado_async_front_slot] == NULL) {
            fado_log(FADO_LOG_ERROR, "msg=%s", FADO_LOG_Q(err));
        }
    }
    return fado_async_front_rcs[fado_async_front_slot];
}


/* After a failed command the connection may be half-read: start again. */
static void
fado_async_front_redis_reset(void)
{
    if (fado_async_front_slot >= 0 && fado_async_front_rcs[fado_async_front_slot] != NULL) {
        redisFree(fado_async_front_rcs[fado_async_front_slot]);
        fado_async_front_rcs[fado_async_front_slot] = NULL;
    }
}


static enum MHD_Result
fado_async_front_json(struct MHD_Connection *c, unsigned int status, json_t *j,
    const char *h1, const char *v1)
{
    struct MHD_Response  *resp;
    enum MHD_Result       r;
    char                 *body;

    if (j == NULL) {
        return MHD_NO;
    }
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (body == NULL) {
        return MHD_NO;
    }
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, "Content-Type", "application/json") != MHD_YES
        || (h1 && MHD_add_response_header(resp, h1, v1) != MHD_YES))
    {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}


static enum MHD_Result
fado_async_front_error(struct MHD_Connection *c, unsigned int status, const char *code,
    const char *field, const char *msg)
{
    json_t  *e;

    e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    if (e != NULL && field != NULL) {
        json_object_set_new(json_object_get(e, "error"), "field", json_string(field));
    }
    return fado_async_front_json(c, status, e, status == 503 ? "Retry-After" : NULL, "1");
}


/* printable ASCII, no spaces: what a header value we store may hold */
static int
fado_async_front_token(const char *s, size_t max)
{
    size_t  n = 0;

    for (; *s; s++, n++) {
        if (n >= max || *s <= ' ' || *s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}


static int
fado_async_front_name(const char *s)
{
    size_t  n = 0;

    for (; *s; s++, n++) {
        if (n >= FADO_ASYNC_NAME_MAX
            || !(isalnum((unsigned char) *s) || *s == '-' || *s == '_' || *s == '.'))
        {
            return 0;
        }
    }
    return n > 0;
}


typedef struct {
    char    buf[8192];
    size_t  len;
    int     overflow;
} fado_async_front_query_t;


/* The query as the worker will send it to the gateway, rebuilt from the
 * arguments libmicrohttpd decoded (each value escaped again). */
static enum MHD_Result
fado_async_front_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    fado_async_front_query_t  *q = cls;
    char                      *k, *v;
    int                        n;

    (void) kind;
    k = curl_easy_escape(NULL, key, 0);
    v = value ? curl_easy_escape(NULL, value, 0) : NULL;
    if (k == NULL || (value && v == NULL)) {
        q->overflow = 1;
    } else {
        n = snprintf(q->buf + q->len, sizeof(q->buf) - q->len, "%s%s%s%s",
                     q->len ? "&" : "", k, v ? "=" : "", v ? v : "");
        if (n < 0 || (size_t) n >= sizeof(q->buf) - q->len) {
            q->overflow = 1;
        } else {
            q->len += (size_t) n;
        }
    }
    curl_free(k);
    curl_free(v);
    return q->overflow ? MHD_NO : MHD_YES;
}


static enum MHD_Result
fado_async_front_submit(struct MHD_Connection *c, const char *name, fado_async_front_req_t *req)
{
    fado_async_front_query_t   q;
    fado_async_call_t          call;
    redisContext              *rc;
    const char                *cb, *bucket, *ctype, *tp;
    char                       sid[48], err[256], tpbuf[FADO_ASYNC_TP_LEN + 1], loc[128];
    int                        rv;

    if (!fado_async_front_name(name)) {
        return fado_async_front_error(c, 400, "invalid_name", "function",
            "a function name is 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    if (req->too_large) {
        char  msg[128];
        snprintf(msg, sizeof(msg), "the request body is larger than the limit of %zu bytes",
                 fado_async_conf.max_body);
        return fado_async_front_error(c, 413, "body_too_large", "body", msg);
    }

    cb = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Callback-Url");
    if (cb == NULL || cb[0] == '\0') {
        if (fado_async_conf.require_callback) {
            return fado_async_front_error(c, 400, "missing_header", "X-Callback-Url",
                "this gateway requires a callback URL for asynchronous calls");
        }
        cb = "";
    } else if ((strncmp(cb, "http://", 7) != 0 && strncmp(cb, "https://", 8) != 0)
               || !fado_async_front_token(cb, FADO_ASYNC_URL_MAX) || strlen(cb) < 10)
    {
        return fado_async_front_error(c, 400, "invalid_header", "X-Callback-Url",
            "the callback URL must be an http:// or https:// URL of at most 2048 "
            "printable characters");
    }

    bucket = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Fado-Bucket");
    if (bucket == NULL) {
        bucket = "";
    } else if (!fado_async_front_token(bucket, 255)) {
        return fado_async_front_error(c, 400, "invalid_header", "X-Fado-Bucket",
            "a bucket name is at most 255 printable characters");
    }
    ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ctype == NULL) {
        ctype = "";
    } else if (strlen(ctype) > 255) {
        return fado_async_front_error(c, 400, "invalid_header", "Content-Type",
            "the content type is longer than 255 characters");
    }

    /* nginx sends $fado_traceparent; a direct caller may send none */
    tp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
    if (tp == NULL) {
        char  trace[33], span[17];
        if (fado_async_random_hex(trace, 32) != 0 || fado_async_random_hex(span, 16) != 0) {
            return fado_async_front_error(c, 500, "internal", NULL, "no randomness");
        }
        snprintf(tpbuf, sizeof(tpbuf), "00-%s-%s-01", trace, span);
        tp = tpbuf;
    } else if (!fado_async_traceparent_valid(tp)) {
        return fado_async_front_error(c, 400, "invalid_header", "traceparent",
            "the traceparent header is not a W3C version-00 trace context "
            "(00-<32 hex>-<16 hex>-<2 hex>)");
    }

    memset(&q, 0, sizeof(q));
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, fado_async_front_arg, &q);
    if (q.overflow) {
        return fado_async_front_error(c, 400, "invalid_query", "query",
            "the query string is longer than 8 KiB");
    }

    memset(&call, 0, sizeof(call));
    if (fado_async_random_hex(call.id, FADO_ASYNC_ID_LEN) != 0) {
        return fado_async_front_error(c, 500, "internal", NULL, "no randomness");
    }
    call.fn = (char *) name;
    call.query = q.buf;
    call.bucket = (char *) bucket;
    call.ctype = (char *) ctype;
    call.traceparent = (char *) tp;
    call.callback = (char *) cb;
    call.body = req->body ? req->body : "";
    call.body_len = req->len;

    rc = fado_async_front_redis();
    if (rc == NULL) {
        return fado_async_front_error(c, 503, "queue_unavailable", NULL,
            "the call queue (Redis) cannot be reached; nothing was queued");
    }
    rv = fado_async_queue_put(rc, &call, sid, sizeof(sid), err, sizeof(err));
    if (rv < 0) {
        fado_log(FADO_LOG_ERROR, "msg=\"enqueue failed\" function=%s error=%s",
                 FADO_LOG_Q(name), FADO_LOG_Q(err));
        fado_async_front_redis_reset();
        return fado_async_front_error(c, 503, "queue_unavailable", NULL,
            "the call queue (Redis) failed; nothing was queued");
    }
    if (rv == 0) {
        fado_log(FADO_LOG_WARN, "msg=\"queue full, call refused\" function=%s max_queued=%lld",
                 FADO_LOG_Q(name), fado_async_conf.max_queued);
        return fado_async_front_error(c, 503, "queue_full", NULL,
            "the asynchronous call queue is full; retry later");
    }
    fado_log(FADO_LOG_DEBUG, "msg=queued call_id=%s function=%s stream_id=%s", call.id,
             FADO_LOG_Q(name), sid);
    snprintf(loc, sizeof(loc), "/async-function/calls/%s", call.id);
    return fado_async_front_json(c, 202,
        json_pack("{s:s, s:s, s:s, s:s}", "call_id", call.id, "state", "queued",
                  "status_url", loc, "traceparent", tp),
        "X-Fado-Call-Id", call.id);
}


static const char *const  fado_async_front_ints[] = {
    "attempts", "http_status", "created_ms", "updated_ms", "finished_ms",
    "callback_attempts", "callback_http_status", "result_bytes", NULL
};


static json_t *
fado_async_front_value(const char *k, const redisReply *v, int *binary)
{
    json_t         *s;
    unsigned char  *b64;
    int             n;

    for (int i = 0; fado_async_front_ints[i]; i++) {
        if (strcmp(k, fado_async_front_ints[i]) == 0) {
            return json_integer(strtoll(v->str, NULL, 10));
        }
    }
    if (strcmp(k, "result_truncated") == 0) {
        return json_boolean(strcmp(v->str, "1") == 0);
    }
    s = json_stringn(v->str, v->len);
    if (s != NULL || strcmp(k, "result") != 0) {
        return s;
    }
    /* a result that is not UTF-8 text goes out in base64 */
    *binary = 1;
    b64 = malloc(4 * ((v->len + 2) / 3) + 1);
    if (b64 == NULL) {
        return NULL;
    }
    n = EVP_EncodeBlock(b64, (const unsigned char *) v->str, (int) v->len);
    s = json_stringn((char *) b64, (size_t) n);
    free(b64);
    return s;
}


static enum MHD_Result
fado_async_front_state(struct MHD_Connection *c, const char *id)
{
    redisContext  *rc;
    redisReply    *r;
    json_t        *j, *v;
    size_t         i;
    int            binary;

    if (strlen(id) != FADO_ASYNC_ID_LEN || strspn(id, "0123456789abcdef") != FADO_ASYNC_ID_LEN) {
        return fado_async_front_error(c, 400, "invalid_id", "call_id",
            "a call id is 32 lowercase hex digits");
    }
    rc = fado_async_front_redis();
    r = rc ? fado_async_state_get(rc, id) : NULL;
    if (r == NULL) {
        fado_async_front_redis_reset();
        return fado_async_front_error(c, 503, "queue_unavailable", NULL,
            "the call store (Redis) cannot be reached");
    }
    if (r->elements == 0) {
        freeReplyObject(r);
        return fado_async_front_error(c, 404, "unknown_call", "call_id",
            "no such call (never queued, or its state expired)");
    }
    j = json_pack("{s:s}", "call_id", id);
    for (i = 0; j && i + 1 < r->elements; i += 2) {
        const char  *k = r->element[i]->str;

        binary = 0;
        v = fado_async_front_value(k, r->element[i + 1], &binary);
        if (v == NULL) {
            continue;
        }
        json_object_set_new(j, binary ? "result_base64" : k, v);
    }
    freeReplyObject(r);
    return fado_async_front_json(c, 200, j, NULL, NULL);
}


static enum MHD_Result
fado_async_front_queue(struct MHD_Connection *c)
{
    char           key[256];
    redisContext  *rc;
    redisReply    *r;
    long long      queued;

    fado_async_key(key, sizeof(key), "calls", NULL);
    rc = fado_async_front_redis();
    r = rc ? redisCommand(rc, "XLEN %s", key) : NULL;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r) {
            freeReplyObject(r);
        }
        fado_async_front_redis_reset();
        return fado_async_front_error(c, 503, "queue_unavailable", NULL,
            "the call queue (Redis) cannot be reached");
    }
    queued = r->integer;
    freeReplyObject(r);
    return fado_async_front_json(c, 200, json_pack("{s:I, s:I}", "unfinished", (json_int_t) queued,
                                 "max_queued", (json_int_t) fado_async_conf.max_queued),
                                 NULL, NULL);
}


static enum MHD_Result
fado_async_front_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    fado_async_front_req_t  *req = *con_cls;
    const char              *cl;
    char                    *nb;

    (void) cls;
    (void) version;

    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL) {
            return MHD_NO;
        }
        req->post = strcmp(method, "POST") == 0;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > fado_async_conf.max_body) {
            req->too_large = 1;
        }
        *con_cls = req;
        return MHD_YES;
    }

    if (*upload_data_size) {
        if (req->post && !req->too_large) {
            if (req->len + *upload_data_size > fado_async_conf.max_body) {
                req->too_large = 1;
                free(req->body);
                req->body = NULL;
                req->len = 0;
            } else {
                nb = realloc(req->body, req->len + *upload_data_size);
                if (nb == NULL) {
                    return MHD_NO;
                }
                memcpy(nb + req->len, upload_data, *upload_data_size);
                req->body = nb;
                req->len += *upload_data_size;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (strcmp(url, "/healthz") == 0) {
        return fado_async_front_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL, NULL);
    }
    if (strncmp(url, "/async-function/", 16) != 0) {
        return fado_async_front_error(c, 404, "not_found", NULL,
            "asynchronous calls live under /async-function/<name>");
    }
    url += 16;
    if (strncmp(url, "calls/", 6) == 0) {
        if (strcmp(method, "GET") != 0) {
            return fado_async_front_error(c, 405, "method_not_allowed", NULL, "use GET");
        }
        return fado_async_front_state(c, url + 6);
    }
    if (strcmp(url, "queue") == 0 && strcmp(method, "GET") == 0) {
        return fado_async_front_queue(c);
    }
    if (!req->post) {
        return fado_async_front_error(c, 405, "method_not_allowed", NULL,
            "queue a call with POST /async-function/<name>");
    }
    return fado_async_front_submit(c, url, req);
}


static void
fado_async_front_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    fado_async_front_req_t  *req = *con_cls;

    (void) cls;
    (void) c;
    (void) toe;
    if (req != NULL) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}


int
fado_async_front_start(char *err, size_t errlen)
{
    struct sockaddr_in   addr;
    const char          *colon;
    char                 host[64];
    long                 port;

    colon = strrchr(fado_async_conf.listen, ':');
    port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (colon == NULL || (size_t) (colon - fado_async_conf.listen) >= sizeof(host)
        || port < 1 || port > 65535)
    {
        snprintf(err, errlen, "invalid --listen \"%s\" (want IPv4:PORT)", fado_async_conf.listen);
        return -1;
    }
    memcpy(host, fado_async_conf.listen, (size_t) (colon - fado_async_conf.listen));
    host[colon - fado_async_conf.listen] = '\0';
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "invalid --listen \"%s\" (want IPv4:PORT)", fado_async_conf.listen);
        return -1;
    }

    fado_async_front_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
        (uint16_t) port, NULL, NULL, fado_async_front_handler, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) fado_async_conf.front_threads,
        MHD_OPTION_NOTIFY_COMPLETED, fado_async_front_done, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
        MHD_OPTION_END);
    if (fado_async_front_daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s", fado_async_conf.listen);
        return -1;
    }
    return 0;
}


void
fado_async_front_stop(void)
{
    if (fado_async_front_daemon != NULL) {
        MHD_stop_daemon(fado_async_front_daemon);
        fado_async_front_daemon = NULL;
    }
    for (int i = 0; i < fado_async_front_nslots; i++) {
        if (fado_async_front_rcs[i] != NULL) {
            redisFree(fado_async_front_rcs[i]);
            fado_async_front_rcs[i] = NULL;
        }
    }
}
