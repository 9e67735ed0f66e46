/*
 * fado_http: libmicrohttpd glue — body collection, authentication, JSON out.
 */

#include "fado_http.h"
#include "fado_events.h"
#include "fado_log.h"
#include "fado_objects.h"
#include "fado_ui.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FADO_HTTP_MAX_BODY  (8 * 1024 * 1024)

struct fado_http_s {
    struct MHD_Daemon  *daemon;
    fado_app_t         *app;
};

typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      too_large;
} fado_body_t;

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
    err = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (err != NULL && field != NULL) {
        json_object_set_new(err, "field", json_string(field));
    }
    req->json = err ? json_pack("{s:o}", "error", err) : NULL;
    req->status = status;
}

static enum MHD_Result
fado_http_send(struct MHD_Connection *c, unsigned int status, const char *type,
    char *body, size_t len)
{
    struct MHD_Response  *resp;
    enum MHD_Result       r;

    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    if (type != NULL && MHD_add_response_header(resp, "Content-Type", type) != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static int
fado_http_public(const char *path)
{
    return strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0;
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

/* Per-connection request state. */
typedef struct {
    fado_body_t          body;
    int                  streamed;      /* object upload/download/HEAD */
    fado_obj_upload_t   *upload;
} fado_conn_t;

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
             "msg=request method=%s path=\"%s\" status=%u", req->method, req->path,
             req->status);

    if (req->text != NULL) {
        return fado_http_send(c, req->status, req->content_type, req->text, strlen(req->text));
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

/*
 * Acquires PostgreSQL and authenticates: 0 with req->conn held, or -1 with
 * the error answer set (and no connection held). MinIO's webhook has its
 * own token; everything else but the health checks needs an API token.
 */
static int
fado_http_authenticate(fado_http_t *http, fado_req_t *req)
{
    req->conn = fado_db_acquire(http->app->db);
    if (req->conn == NULL) {
        fado_req_error(req, 503, "database_unavailable", NULL,
                       "PostgreSQL is unreachable; routes already published keep working");
        return -1;
    }
    if (strncmp(req->path, "/v1/minio/events", 16) == 0
        && (req->path[16] == '\0' || req->path[16] == '/'))
    {
        if (fado_events_authorized(http->app->events_token, req->authorization)) {
            req->role = FADO_ROLE_ADMIN;
            return 0;
        }
        fado_req_error(req, 401, "unauthorized", "Authorization",
                       http->app->events_token == NULL
                       ? "the webhook is disabled: the controller has no FADO_EVENTS_TOKEN"
                       : "the events bearer token is required");
    } else {
        req->role = fado_http_public(req->path) ? FADO_ROLE_ADMIN
                  : fado_auth_check(req->conn, req->authorization);
        if (req->role == FADO_ROLE_DB_ERROR) {
            fado_req_error(req, 503, "database_unavailable", NULL,
                           "PostgreSQL connection lost; routes already published keep working");
        } else if (req->role == FADO_ROLE_NONE) {
            fado_req_error(req, 401, "unauthorized", "Authorization",
                           "a valid bearer token is required");
        } else if (req->role == FADO_ROLE_READ_ONLY && strcmp(req->method, "GET") != 0
                   && strcmp(req->method, "HEAD") != 0)
        {
            fado_req_error(req, 403, "forbidden", NULL, "this token is read-only");
        } else {
            return 0;
        }
    }
    fado_db_release(http->app->db, req->conn);
    req->conn = NULL;
    return -1;
}

static ssize_t
fado_http_download_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t  n = fado_objects_download_read(cls, buf, max);

    (void) pos;
    if (n == 0) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* The status line is gone already: cutting the connection is how the
     * client learns the body is incomplete (short of Content-Length). */
    return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void
fado_http_download_free(void *cls)
{
    fado_objects_download_close(cls);
}

/* The first call of a streamed object request: authenticate, then start
 * the download (answered at once) or the upload (body follows). */
static enum MHD_Result
fado_http_object_begin(fado_http_t *http, fado_conn_t *st, struct MHD_Connection *c,
    const char *url, const char *method)
{
    fado_req_t             req;
    char                   bucket[64];
    const char            *key;
    fado_obj_download_t   *d;
    struct MHD_Response   *resp;
    enum MHD_Result        r;
    static const char     *headers[] = { "Content-Type", "ETag", "Last-Modified",
                                         "X-Fado-Version-Id", "X-Fado-Cluster" };

    fado_http_req_init(&req, http, c, url, method);
    if (!fado_objects_path(url, bucket, sizeof(bucket), &key)) {
        fado_req_error(&req, 404, "not_found", NULL, "no such resource: %s", url);
        return fado_http_answer(c, &req);
    }
    if (fado_http_authenticate(http, &req) != 0) {
        return fado_http_answer(c, &req);
    }

    if (strcmp(method, "PUT") == 0) {
        const char  *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        int64_t      length = -1;

        if (len != NULL) {
            char  *end;
            long long  v = strtoll(len, &end, 10);
            if (*end != '\0' || v < 0) {
                fado_req_error(&req, 400, "invalid_field", "Content-Length",
                               "Content-Length \"%.32s\" is not a size", len);
            }
            length = v;
        }
        if (req.json == NULL) {
            st->upload = fado_objects_upload_begin(&req, bucket, key,
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"), length);
        }
        fado_db_release(http->app->db, req.conn);
        req.conn = NULL;
        if (st->upload != NULL) {
            return MHD_YES;         /* the body comes in the next calls */
        }
        return fado_http_answer(c, &req);
    }

    d = fado_objects_download_begin(&req, bucket, key, strcmp(method, "HEAD") == 0);
    fado_db_release(http->app->db, req.conn);
    req.conn = NULL;
    if (d == NULL) {
        return fado_http_answer(c, &req);
    }
    resp = MHD_create_response_from_callback(
        fado_objects_download_size(d) < 0 ? MHD_SIZE_UNKNOWN
                                          : (uint64_t) fado_objects_download_size(d),
        256 * 1024, fado_http_download_read, d, fado_http_download_free);
    if (resp == NULL) {
        fado_objects_download_close(d);
        return MHD_NO;
    }
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        const char  *v = fado_objects_download_header(d, headers[i]);
        if (v != NULL && v[0] != '\0'
            && MHD_add_response_header(resp, headers[i], v) != MHD_YES)
        {
            MHD_destroy_response(resp);
            return MHD_NO;
        }
    }
    fado_log(FADO_LOG_DEBUG, "msg=request method=%s path=\"%s\" status=200 cluster=%s",
             method, url, fado_objects_download_header(d, "X-Fado-Cluster"));
    r = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
fado_http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    fado_http_t  *http = cls;
    fado_conn_t  *st = *con_cls;
    fado_body_t  *body;
    fado_req_t    req;

    (void) version;

    if (st == NULL && fado_ui_path(url)) {
        return fado_ui_answer(c, method, url);     /* static console files: public */
    }
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return MHD_NO;
        }
        *con_cls = st;
        st->streamed = fado_objects_streamed(method, url,
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "metadata") != NULL);
        if (st->streamed) {
            return fado_http_object_begin(http, st, c, url, method);
        }
        return MHD_YES;
    }

    if (st->streamed) {
        /* Only an upload comes back here: body pieces, then the end. */
        if (*upload_data_size > 0) {
            if (st->upload != NULL) {
                (void) fado_objects_upload_data(st->upload, upload_data, *upload_data_size);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (st->upload == NULL) {
            return MHD_YES;
        }
        fado_http_req_init(&req, http, c, url, method);
        req.conn = fado_db_acquire(http->app->db);     /* NULL: index left to events */
        fado_objects_upload_end(&req, st->upload);
        st->upload = NULL;
        if (req.conn != NULL) {
            fado_db_release(http->app->db, req.conn);
            req.conn = NULL;
        }
        return fado_http_answer(c, &req);
    }

    body = &st->body;
    if (*upload_data_size > 0) {
        size_t  n = *upload_data_size;

        if (!body->too_large && body->len + n > FADO_HTTP_MAX_BODY) {
            body->too_large = 1;
        }
        if (!body->too_large) {
            if (body->len + n + 1 > body->cap) {
                size_t  cap = body->cap ? body->cap : 4096;
                char   *p;
                while (cap < body->len + n + 1) {
                    cap *= 2;
                }
                p = realloc(body->data, cap);
                if (p == NULL) {
                    return MHD_NO;
                }
                body->data = p;
                body->cap = cap;
            }
            memcpy(body->data + body->len, upload_data, n);
            body->len += n;
            body->data[body->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    fado_http_req_init(&req, http, c, url, method);
    req.body = body->data ? body->data : "";
    req.body_len = body->len;

    if (body->too_large) {
        fado_req_error(&req, 413, "body_too_large", NULL, "request body over %d bytes",
                       FADO_HTTP_MAX_BODY);
    } else if (strcmp(url, "/healthz") == 0) {
        req.status = 200;
        req.json = json_pack("{s:s}", "status", "ok");
    } else if (fado_http_authenticate(http, &req) == 0) {
        fado_api_handle(&req);
        fado_db_release(http->app->db, req.conn);
        req.conn = NULL;
    }
    return fado_http_answer(c, &req);
}

static void
fado_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    fado_conn_t  *st = *con_cls;

    (void) cls;
    (void) c;
    (void) toe;
    if (st != NULL) {
        /* A client that went away mid-upload: MinIO keeps nothing of it. */
        fado_objects_upload_abort(st->upload);
        free(st->body.data);
        free(st);
        *con_cls = NULL;
    }
}

fado_http_t *
fado_http_start(fado_app_t *app, const char *listen, int threads, char *err, size_t err_len)
{
    struct sockaddr_in  addr;
    char                host[64];
    const char         *colon = strrchr(listen, ':');
    fado_http_t        *http;
    long                port;

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
    http->app = app;
    http->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO,
        (uint16_t) port, NULL, NULL, fado_http_handler, http,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) threads,
        MHD_OPTION_NOTIFY_COMPLETED, fado_http_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
        MHD_OPTION_END);
    if (http->daemon == NULL) {
        snprintf(err, err_len, "cannot listen on %s", listen);
        free(http);
        return NULL;
    }
    return http;
}

void
fado_http_stop(fado_http_t *http)
{
    if (http == NULL) {
        return;
    }
    MHD_stop_daemon(http->daemon);
    free(http);
}
