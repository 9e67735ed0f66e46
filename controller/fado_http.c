/*
 * fado_http: the API's HTTP server.
 *
 * fado_accept.c owns the listening socket: it caps connections (in total
 * and per address), gives the whole request head a deadline, peeks at it
 * without buffering, answers protocol errors as JSON and hands complete,
 * well-formed heads to libmicrohttpd (MHD_add_connection). Here:
 *
 *   - the first call of a request (headers only) authenticates it and
 *     checks its declared length, so a request without a valid token is
 *     answered 401 before a byte of its body is read;
 *   - a body must keep arriving (FADO_HTTP_BODY_MIN_BYTES per window of
 *     FADO_HTTP_BODY_WINDOW ms): a client that trickles is cut, whatever
 *     its bytes reset in libmicrohttpd's idle timer;
 *   - every answer closes the connection, so each request passes through
 *     fado_accept's checks (no second head read under libmicrohttpd's
 *     rules only);
 *   - streamed routes (whatever may wait on a store) run on fado_pool.c's
 *     threads: the HTTP thread suspends the connection, the job resumes it,
 *     and the JSON API is served while every transfer is stuck.
 */

#include "fado_accept.h"
#include "fado_clock.h"
#include "fado_http.h"
#include "fado_log.h"
#include "fado_ui.h"
#include "fado_pool.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FADO_HTTP_MAX_BODY      (8 * 1024 * 1024)   /* JSON bodies */
#define FADO_HTTP_STAGE         (256 * 1024)        /* object bytes per hand-over */

/* Limits; each can be set from the environment (docs/controller.md). */
typedef struct {
    int  max_conns;
    int  max_per_ip;
    int  head_timeout_ms;
    int  max_head;
    int  idle_timeout_s;
    int  body_window_ms;
    int  body_min_bytes;
    int  object_threads;
    int  object_queue;
    int  memory_limit;
} fado_http_conf_t;

struct fado_http_s {
    struct MHD_Daemon  *daemon;
    fado_db_t          *db;
    fado_app_t         *app;
    const fado_route_t *routes;
    fado_http_authenticate_pt  authenticate;
    fado_accept_t      *accept;
    fado_pool_t        *pool;
    fado_http_conf_t    conf;
    atomic_int          pool_stopped;
};

typedef enum {
    FADO_KIND_JSON = 0,         /* body collected, answered on an HTTP thread */
    FADO_KIND_POOL_JSON,        /* a streamed route's JSON exchange: on the pool */
    FADO_KIND_DOWNLOAD,         /* the answer streamed from the pool */
    FADO_KIND_UPLOAD            /* the body streamed through the pool */
} fado_kind_e;

/* Per-request state (libmicrohttpd's con_cls). */
typedef struct {
    fado_http_t            *http;
    struct MHD_Connection  *c;
    fado_kind_e             kind;
    fado_req_t              req;
    int                     answer;         /* req holds the answer to send */
    pthread_mutex_t         mu;             /* job against HTTP thread */
    int                     job;            /* a pool job owns it (suspended) */
    const fado_route_t     *route;
    /* body */
    char                   *body;
    size_t                  body_len, body_cap;
    long long               win_start;
    uint64_t                win_bytes;
    /* streamed transfer */
    const fado_stream_ops_t *ops;           /* the route's streaming side */
    int64_t                 length;         /* of the body, 0 when none */
    int64_t                 received;       /* body bytes taken */
    void                   *upload;
    void                   *dl;
    char                   *stage;          /* FADO_HTTP_STAGE bytes */
    size_t                  stage_len, stage_off;
    int                     stage_eof;      /* download: the stream ended */
    int                     stage_err;      /* download: the stream broke */
} fado_conn_t;

/* ------------------------------------------------------------ helpers */

static int
fado_http_env(const char *name, int def, int lo, int hi)
{
    const char  *v = getenv(name);
    char        *end;
    long         n;

    if (v == NULL || *v == '\0') {
        return def;
    }
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi) {
        fado_log(FADO_LOG_WARN, "msg=\"ignoring an out-of-range setting\" name=%s value=%s",
                 name, FADO_LOG_Q(v));
        return def;
    }
    return (int) n;
}

void
fado_req_error(fado_req_t *req, unsigned int status, const char *code,
    const char *field, const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;
    json_t  *err;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    json_decref(req->json);
    /* json_string refuses bytes that are not UTF-8 (a message may quote
     * the request): fall back to the message without the quote. */
    err = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (err == NULL) {
        err = json_pack("{s:s, s:s}", "code", code, "message",
                        "the request holds bytes that are not UTF-8");
    }
    if (err != NULL && field != NULL) {
        json_object_set_new(err, "field", json_string(field));
    }
    req->json = err ? json_pack("{s:o}", "error", err) : NULL;
    req->status = status;
}

const char *
fado_req_arg(fado_req_t *req, const char *name)
{
    return req->mhd == NULL ? NULL
         : MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, name);
}

const char *
fado_req_header(fado_req_t *req, const char *name)
{
    return req->mhd == NULL ? NULL
         : MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, name);
}

static enum MHD_Result
fado_http_queue(struct MHD_Connection *c, unsigned int status, struct MHD_Response *resp)
{
    enum MHD_Result  r;

    /* One request per connection: the next one goes through fado_accept. */
    if (MHD_add_response_header(resp, "Connection", "close") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
fado_http_send(struct MHD_Connection *c, unsigned int status, const char *type,
    char *body, size_t len)
{
    struct MHD_Response  *resp;

    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    if (type != NULL && MHD_add_response_header(resp, "Content-Type", type) != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return fado_http_queue(c, status, resp);
}

static void
fado_http_req_init(fado_req_t *req, fado_http_t *http, struct MHD_Connection *c,
    const char *url, const char *method)
{
    memset(req, 0, sizeof(*req));
    req->app = http->app;
    req->mhd = c;
    req->method = method;
    req->path = url;
    req->body = "";
    req->query_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    req->query_cursor = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
    req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    req->status = 500;
}

/* Sends req's answer (JSON, text or empty). */
static enum MHD_Result
fado_http_answer(struct MHD_Connection *c, fado_req_t *req)
{
    char  *out;

    fado_log(req->status >= 500 ? FADO_LOG_WARN : FADO_LOG_DEBUG,
             "msg=request method=%s path=%s status=%u", FADO_LOG_Q(req->method),
             FADO_LOG_Q(req->path), req->status);

    if (req->text != NULL) {
        out = req->text;
        req->text = NULL;
        return fado_http_send(c, req->status, req->content_type, out, strlen(out));
    }
    if (req->json == NULL) {
        out = strdup("");
        return out ? fado_http_send(c, req->status, NULL, out, 0) : MHD_NO;
    }
    out = json_dumps(req->json, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(req->json);
    req->json = NULL;
    if (out == NULL) {
        return MHD_NO;
    }
    {
        size_t  len = strlen(out);
        char   *nl = realloc(out, len + 2);
        if (nl == NULL) {
            free(out);
            return MHD_NO;
        }
        nl[len] = '\n';
        nl[len + 1] = '\0';
        return fado_http_send(c, req->status, "application/json", nl, len + 1);
    }
}

/* A route's path pattern: exact, "*" for any, or ending in a slash and a
 * star for the part before the slash and everything below it. */
static int
fado_http_path_match(const char *pattern, const char *path)
{
    size_t  n = strlen(pattern);

    if (strcmp(pattern, "*") == 0) {
        return 1;
    }
    if (n >= 2 && pattern[n - 2] == '/' && pattern[n - 1] == '*') {
        n -= 2;
        return strncmp(path, pattern, n) == 0 && (path[n] == '\0' || path[n] == '/');
    }
    return strcmp(pattern, path) == 0;
}

static const fado_route_t *
fado_http_find_route(fado_http_t *http, const char *method, const char *path)
{
    for (const fado_route_t *r = http->routes; r->path != NULL; r++) {
        if ((r->method == NULL || strcmp(r->method, method) == 0)
            && fado_http_path_match(r->path, path))
        {
            return r;
        }
    }
    return NULL;
}

/*
 * Checks the caller's access to the route from the headers alone: 0, or
 * -1 with the error answer set. API tokens go to the check the server was
 * given (fado_auth.c's in-memory token set), so that a missing or unknown
 * token is a 401 even with PostgreSQL down.
 */
static int
fado_http_authenticate(fado_http_t *http, const fado_route_t *route, fado_req_t *req)
{
    switch (route->access) {
    case FADO_ACCESS_PUBLIC:
    case FADO_ACCESS_PROBE:
        req->role = FADO_ROLE_READ_ONLY;
        return 0;
    case FADO_ACCESS_OWN:
        if (route->authorize(req) != 0) {
            return -1;
        }
        req->role = FADO_ROLE_ADMIN;
        return 0;
    case FADO_ACCESS_READ:
    case FADO_ACCESS_ADMIN:
        break;
    }
    req->role = http->authenticate(http->db, req->authorization);
    if (req->role == FADO_ROLE_NONE || req->role == FADO_ROLE_DB_ERROR) {
        req->role = FADO_ROLE_NONE;
        fado_req_error(req, 401, "unauthorized", "Authorization",
                       "a valid bearer token is required");
        return -1;
    }
    if (route->access == FADO_ACCESS_ADMIN && req->role != FADO_ROLE_ADMIN) {
        fado_req_error(req, 403, "forbidden", NULL, "this token is read-only");
        return -1;
    }
    return 0;
}

/* Runs the route's handler with a PostgreSQL connection held for the call. */
static void
fado_http_route(fado_conn_t *st)
{
    fado_http_t  *http = st->http;
    fado_req_t   *req = &st->req;

    req->conn = fado_db_acquire(http->db);
    if (req->conn == NULL) {
        fado_req_error(req, 503, "database_unavailable", NULL,
                       "PostgreSQL is unreachable; routes already published keep working");
        return;
    }
    st->route->handle(req);
    fado_db_release(http->db, req->conn);
    req->conn = NULL;
}

/*
 * Body progress: within every window of body_window_ms at least
 * body_min_bytes must come (or the body end). Time a job held the
 * connection does not count against the client.
 */
static int
fado_http_body_progress(fado_conn_t *st, size_t n)
{
    long long  now = fado_clock_ms();

    if (st->win_start == 0) {
        st->win_start = now;
    }
    st->win_bytes += n;
    if (now - st->win_start >= st->http->conf.body_window_ms) {
        if (st->win_bytes < (uint64_t) st->http->conf.body_min_bytes) {
            fado_log(FADO_LOG_WARN, "msg=\"request body too slow, connection cut\" path=%s"
                     " bytes=%llu window_ms=%lld", FADO_LOG_Q(st->req.path),
                     (unsigned long long) st->win_bytes, now - st->win_start);
            return -1;
        }
        st->win_start = now;
        st->win_bytes = 0;
    }
    return 0;
}

/* ------------------------------------------------------------ pool jobs */

/* Hands st to a pool job, suspending its connection: 0, or -1 (the pool
 * is full or stopping; nothing suspended). */
static int
fado_http_submit(fado_conn_t *st, fado_pool_fn fn)
{
    int  rc = -1;

    pthread_mutex_lock(&st->mu);
    if (!st->http->pool_stopped) {
        st->job = 1;
        MHD_suspend_connection(st->c);
        rc = fado_pool_submit(st->http->pool, fn, st);
        if (rc != 0) {
            st->job = 0;
            MHD_resume_connection(st->c);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* The end of every job: the connection goes back to its HTTP thread. */
static void
fado_http_job_done(fado_conn_t *st)
{
    pthread_mutex_lock(&st->mu);
    st->job = 0;
    st->win_start = 0;          /* waiting on MinIO is not the client's delay */
    st->win_bytes = 0;
    MHD_resume_connection(st->c);
    pthread_mutex_unlock(&st->mu);
}

static void
fado_http_busy(fado_req_t *req)
{
    fado_req_error(req, 503, "busy", NULL,
                   "every object transfer slot is taken; retry shortly");
}

static void
fado_http_job_pool_json(void *arg)
{
    fado_conn_t  *st = arg;

    st->ops->json(&st->req);
    st->answer = 1;
    fado_http_job_done(st);
}

static void
fado_http_job_download_begin(void *arg)
{
    fado_conn_t  *st = arg;

    st->dl = st->ops->download_begin(&st->req, strcmp(st->req.method, "HEAD") == 0);
    st->answer = st->dl == NULL;
    fado_http_job_done(st);
}

static void
fado_http_job_download_fill(void *arg)
{
    fado_conn_t  *st = arg;
    ssize_t       n = st->ops->download_read(st->dl, st->stage, FADO_HTTP_STAGE);

    st->stage_off = 0;
    st->stage_len = n > 0 ? (size_t) n : 0;
    st->stage_eof = n == 0;
    st->stage_err = n < 0;
    fado_http_job_done(st);
}

static void
fado_http_job_upload_begin(void *arg)
{
    fado_conn_t  *st = arg;

    st->upload = st->ops->upload_begin(&st->req, st->length);
    st->answer = st->upload == NULL;
    fado_http_job_done(st);
}

static void
fado_http_job_upload_write(void *arg)
{
    fado_conn_t  *st = arg;

    /* After a failed write the rest of the body is read and dropped; the
     * end answers with the failure. */
    (void) st->ops->upload_data(st->upload, st->stage, st->stage_len);
    st->stage_len = 0;
    fado_http_job_done(st);
}

static void
fado_http_job_upload_end(void *arg)
{
    fado_conn_t  *st = arg;

    if (st->stage_len > 0) {
        (void) st->ops->upload_data(st->upload, st->stage, st->stage_len);
        st->stage_len = 0;
    }
    st->ops->upload_end(&st->req, st->upload);          /* frees the upload */
    st->upload = NULL;
    st->answer = 1;
    fado_http_job_done(st);
}

/* ------------------------------------------------------------ downloads */

static ssize_t
fado_http_download_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    fado_conn_t  *st = cls;
    size_t        n;

    (void) pos;
    if (st->stage_off < st->stage_len) {
        n = st->stage_len - st->stage_off < max ? st->stage_len - st->stage_off : max;
        memcpy(buf, st->stage + st->stage_off, n);
        st->stage_off += n;
        return (ssize_t) n;
    }
    if (st->stage_eof) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* The status line is gone already: cutting the connection is how the
     * client learns the body is incomplete (short of Content-Length). */
    if (st->stage_err || fado_http_submit(st, fado_http_job_download_fill) != 0) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return 0;           /* suspended: called again once the job resumes us */
}

static enum MHD_Result
fado_http_download_answer(fado_conn_t *st)
{
    void                  *d = st->dl;
    struct MHD_Response   *resp;
    int64_t                size = st->ops->download_size(d);
    const char            *name, *v;

    st->stage = malloc(FADO_HTTP_STAGE);
    if (st->stage == NULL) {
        return MHD_NO;
    }
    /* st outlives the response: the request ends (fado_http_completed)
     * after the response is done with the reader. */
    resp = MHD_create_response_from_callback(size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t) size,
                                             FADO_HTTP_STAGE, fado_http_download_read, st,
                                             NULL);
    if (resp == NULL) {
        return MHD_NO;
    }
    for (size_t i = 0; (v = st->ops->download_header(d, i, &name), name != NULL); i++) {
        if (v != NULL && v[0] != '\0' && MHD_add_response_header(resp, name, v) != MHD_YES) {
            MHD_destroy_response(resp);
            return MHD_NO;
        }
    }
    fado_log(FADO_LOG_DEBUG, "msg=request method=%s path=%s status=200",
             FADO_LOG_Q(st->req.method), FADO_LOG_Q(st->req.path));
    return fado_http_queue(st->c, MHD_HTTP_OK, resp);
}

/* ------------------------------------------------------------ handler */

/* The first call: headers only. Decides the kind, authenticates, checks
 * the declared length, starts pool work for streamed routes. */
static enum MHD_Result
fado_http_first(fado_conn_t *st, const char *url, const char *method)
{
    fado_http_t  *http = st->http;
    fado_req_t   *req = &st->req;
    const char   *len = MHD_lookup_connection_value(st->c, MHD_HEADER_KIND, "Content-Length");
    int64_t       length = -1;
    fado_stream_kind_e  sk;

    fado_http_req_init(req, http, st->c, url, method);
    if (len != NULL) {
        length = strtoll(len, NULL, 10);        /* digits: fado_accept checked */
    }
    /* fado_accept refuses Transfer-Encoding: no length, no body. */
    st->length = length < 0 ? 0 : length;

    st->route = fado_http_find_route(http, method, url);
    if (st->route == NULL) {
        fado_req_error(req, 404, "not_found", NULL, "no such resource: %s", url);
        return fado_http_answer(st->c, req);
    }
    if (fado_http_authenticate(http, st->route, req) != 0) {
        return fado_http_answer(st->c, req);
    }
    if (st->route->access == FADO_ACCESS_PUBLIC) {
        st->route->handle(req);                 /* from the head alone */
        return fado_http_answer(st->c, req);
    }
    st->ops = st->route->stream;
    if (st->ops != NULL && (sk = st->ops->kind(req)) != FADO_STREAM_NONE) {
        fado_pool_fn  fn;

        st->kind = sk == FADO_STREAM_UPLOAD ? FADO_KIND_UPLOAD
                 : sk == FADO_STREAM_DOWNLOAD ? FADO_KIND_DOWNLOAD : FADO_KIND_POOL_JSON;
        if (st->kind != FADO_KIND_UPLOAD && length > 0) {
            fado_req_error(req, 400, "invalid_field", "Content-Length",
                           "%s of %s takes no request body", method, st->ops->what);
            return fado_http_answer(st->c, req);
        }
        if (st->kind == FADO_KIND_UPLOAD) {
            st->stage = malloc(FADO_HTTP_STAGE);
            if (st->stage == NULL) {
                return MHD_NO;
            }
        }
        fn = st->kind == FADO_KIND_UPLOAD ? fado_http_job_upload_begin
           : st->kind == FADO_KIND_DOWNLOAD ? fado_http_job_download_begin
           : fado_http_job_pool_json;
        if (fado_http_submit(st, fn) != 0) {
            fado_http_busy(req);
            return fado_http_answer(st->c, req);
        }
        return MHD_YES;
    }
    if (length > FADO_HTTP_MAX_BODY) {
        fado_req_error(req, 413, "body_too_large", "Content-Length",
                       "request body over %d bytes", FADO_HTTP_MAX_BODY);
        return fado_http_answer(st->c, req);
    }
    st->kind = FADO_KIND_JSON;
    return MHD_YES;
}

static enum MHD_Result
fado_http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    fado_http_t  *http = cls;
    fado_conn_t  *st = *con_cls;

    (void) version;

    if (st == NULL && fado_ui_path(url)) {
        return fado_ui_answer(c, method, url);     /* static console files: public */
    }
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL || pthread_mutex_init(&st->mu, NULL) != 0) {
            free(st);
            return MHD_NO;
        }
        st->http = http;
        st->c = c;
        *con_cls = st;
        return fado_http_first(st, url, method);
    }
    if (st->answer) {
        /* A job finished with the answer (an error, or a JSON result). */
        return fado_http_answer(c, &st->req);
    }

    switch (st->kind) {
    case FADO_KIND_JSON:
        if (*upload_data_size > 0) {
            size_t  n = *upload_data_size;

            if (fado_http_body_progress(st, n) != 0 || st->body_len + n > FADO_HTTP_MAX_BODY) {
                return MHD_NO;
            }
            if (st->body_len + n + 1 > st->body_cap) {
                size_t  cap = st->body_cap ? st->body_cap : 4096;
                char   *p;
                while (cap < st->body_len + n + 1) {
                    cap *= 2;
                }
                p = realloc(st->body, cap);
                if (p == NULL) {
                    return MHD_NO;
                }
                st->body = p;
                st->body_cap = cap;
            }
            memcpy(st->body + st->body_len, upload_data, n);
            st->body_len += n;
            st->body[st->body_len] = '\0';
            *upload_data_size = 0;
            return MHD_YES;
        }
        st->req.body = st->body ? st->body : "";
        st->req.body_len = st->body_len;
        fado_http_route(st);
        return fado_http_answer(c, &st->req);

    case FADO_KIND_DOWNLOAD:
        return fado_http_download_answer(st);

    case FADO_KIND_UPLOAD:
        if (*upload_data_size > 0) {
            size_t  n = *upload_data_size, room = FADO_HTTP_STAGE - st->stage_len;

            if (n > room) {
                n = room;
            }
            if (fado_http_body_progress(st, n) != 0) {
                return MHD_NO;
            }
            memcpy(st->stage + st->stage_len, upload_data, n);
            st->stage_len += n;
            st->received += (int64_t) n;
            *upload_data_size -= n;     /* the rest comes again after the write */
            if (st->stage_len == FADO_HTTP_STAGE
                && fado_http_submit(st, fado_http_job_upload_write) != 0)
            {
                return MHD_NO;
            }
            return MHD_YES;
        }
        if (st->received < st->length) {
            /* The first call again, after the begin job resumed us. */
            return MHD_YES;
        }
        if (fado_http_submit(st, fado_http_job_upload_end) != 0) {
            fado_http_busy(&st->req);
            return fado_http_answer(c, &st->req);
        }
        return MHD_YES;

    case FADO_KIND_POOL_JSON:
        break;
    }
    return MHD_YES;     /* only reached while a job runs, which resumes us */
}

/* Ends what a request still holds; may wait on MinIO (a stream thread). */
static void
fado_http_conn_free(fado_conn_t *st)
{
    /* A client that went away mid-upload: MinIO keeps nothing of it. */
    if (st->upload != NULL) {
        st->ops->upload_abort(st->upload);
    }
    if (st->dl != NULL) {
        st->ops->download_close(st->dl);
    }
    json_decref(st->req.json);
    free(st->req.text);
    free(st->body);
    free(st->stage);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static void
fado_http_job_free(void *arg)
{
    fado_http_conn_free(arg);
}

static void
fado_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    fado_http_t  *http = cls;
    fado_conn_t  *st = *con_cls;

    (void) c;
    (void) toe;
    if (st == NULL) {
        return;
    }
    *con_cls = NULL;
    /* Stopping a stream joins its transfer thread, which may be waiting on
     * a stuck MinIO: not on an HTTP thread when the pool can take it. */
    if ((st->upload != NULL || st->dl != NULL) && !http->pool_stopped
        && fado_pool_submit(http->pool, fado_http_job_free, st) == 0)
    {
        return;
    }
    fado_http_conn_free(st);
}

/* Connections as libmicrohttpd serves them, for fado_accept's caps. */
static void
fado_http_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
    fado_http_t                     *http = cls;
    const union MHD_ConnectionInfo  *info;
    struct sockaddr_storage         *ss;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        ss = calloc(1, sizeof(*ss));
        if (ss == NULL || info == NULL || info->client_addr == NULL) {
            free(ss);
            return;
        }
        memcpy(ss, info->client_addr, info->client_addr->sa_family == AF_INET6
               ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        *socket_context = ss;
        fado_accept_served(http->accept, (struct sockaddr *) ss, 1);
    } else if (*socket_context != NULL) {
        fado_accept_served(http->accept, *socket_context, 0);
        free(*socket_context);
        *socket_context = NULL;
    }
}

static int
fado_http_handoff(void *ud, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    fado_http_t  *http = ud;

    return MHD_add_connection(http->daemon, fd, addr, addrlen) == MHD_YES ? 0 : -1;
}

/* ------------------------------------------------------------ start, stop */

fado_http_t *
fado_http_start(fado_db_t *db, fado_app_t *app, const fado_route_t *routes,
    fado_http_authenticate_pt authenticate, const char *listen, int threads, char *err,
    size_t err_len)
{
    struct sockaddr_in   addr;
    char                 host[64];
    const char          *colon = strrchr(listen, ':');
    fado_http_t         *http;
    fado_http_conf_t    *cf;
    fado_accept_conf_t   ac;
    long                 port;

    if (colon == NULL || (size_t) (colon - listen) >= sizeof(host)) {
        snprintf(err, err_len, "listen address \"%s\" is not host:port", listen);
        return NULL;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, NULL, 10);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) port);
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, err_len, "listen address \"%s\" is not IPv4:port", listen);
        return NULL;
    }

    http = calloc(1, sizeof(*http));
    if (http == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    http->db = db;
    http->app = app;
    http->routes = routes;
    http->authenticate = authenticate;
    cf = &http->conf;
    cf->max_conns = fado_http_env("FADO_HTTP_MAX_CONNECTIONS", 1024, 8, 1000000);
    cf->max_per_ip = fado_http_env("FADO_HTTP_MAX_PER_IP", 64, 1, 1000000);
    cf->head_timeout_ms = fado_http_env("FADO_HTTP_HEAD_TIMEOUT", 10000, 100, 3600000);
    cf->max_head = fado_http_env("FADO_HTTP_MAX_HEAD", 8192, 1024, 1048576);
    cf->idle_timeout_s = fado_http_env("FADO_HTTP_IDLE_TIMEOUT", 10, 1, 3600);
    cf->body_window_ms = fado_http_env("FADO_HTTP_BODY_WINDOW", 5000, 100, 3600000);
    cf->body_min_bytes = fado_http_env("FADO_HTTP_BODY_MIN_BYTES", 16384, 1, 1 << 30);
    cf->object_threads = fado_http_env("FADO_OBJECT_THREADS", 8, 1, 1024);
    cf->object_queue = fado_http_env("FADO_OBJECT_QUEUE", 256, 1, 1000000);
    /* libmicrohttpd's per-connection pool holds the head (fado_accept
     * bounds it) and the read buffer of a body. */
    cf->memory_limit = cf->max_head + 16384;

    http->pool = fado_pool_start(cf->object_threads, cf->object_queue);
    if (http->pool == NULL) {
        snprintf(err, err_len, "cannot start the object threads");
        free(http);
        return NULL;
    }
    http->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO
        | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, fado_http_handler, http,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) threads,
        MHD_OPTION_NOTIFY_COMPLETED, fado_http_completed, http,
        MHD_OPTION_NOTIFY_CONNECTION, fado_http_notify, http,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cf->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) cf->max_conns,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) cf->memory_limit,
        MHD_OPTION_END);
    if (http->daemon == NULL) {
        snprintf(err, err_len, "cannot start the HTTP server");
        fado_pool_stop(http->pool);
        fado_pool_free(http->pool);
        free(http);
        return NULL;
    }
    ac.max_conns = cf->max_conns;
    ac.max_per_ip = cf->max_per_ip;
    ac.head_timeout_ms = cf->head_timeout_ms;
    ac.max_head = (size_t) cf->max_head;
    http->accept = fado_accept_start(&addr, &ac, fado_http_handoff, http, err, err_len);
    if (http->accept == NULL) {
        char  why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, err_len, "%s: %s", listen, why);
        MHD_stop_daemon(http->daemon);
        fado_pool_stop(http->pool);
        fado_pool_free(http->pool);
        free(http);
        return NULL;
    }
    fado_log(FADO_LOG_INFO, "msg=\"api limits\" max_connections=%d max_per_ip=%d"
             " head_timeout_ms=%d idle_timeout_s=%d body_min_bytes=%d body_window_ms=%d"
             " object_threads=%d", cf->max_conns, cf->max_per_ip, cf->head_timeout_ms,
             cf->idle_timeout_s, cf->body_min_bytes, cf->body_window_ms, cf->object_threads);
    return http;
}

void
fado_http_stop(fado_http_t *http)
{
    if (http == NULL) {
        return;
    }
    fado_accept_stop(http->accept);
    {
        unsigned long  refused, timed_out, malformed;

        fado_accept_counters(http->accept, &refused, &timed_out, &malformed);
        fado_log(FADO_LOG_INFO, "msg=\"api connections turned away\" over_limits=%lu"
                 " head_timeouts=%lu protocol_errors=%lu", refused, timed_out, malformed);
    }
    /* Every suspended connection has a job that resumes it: let them all
     * finish before libmicrohttpd stops (it must see none suspended). */
    http->pool_stopped = 1;
    fado_pool_stop(http->pool);
    MHD_stop_daemon(http->daemon);      /* its last notifications count out */
    fado_accept_free(http->accept);
    fado_pool_free(http->pool);
    free(http);
}
