/*
 * fado_http: the controller's HTTP server (libmicrohttpd, thread pool).
 *
 * It is handed a route table (fado_router.c) and knows no path itself:
 * for each request it finds the route, checks the caller's access from the
 * headers alone, collects the body (up to a limit) and calls the route's
 * handler with a fado_req_t, which answers with a status and a document.
 */

#ifndef FADO_HTTP_H
#define FADO_HTTP_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fado_db.h"

/* The API's state (fado_api.h): the transport hands it to the handlers
 * and never looks inside. */
typedef struct fado_app_s  fado_app_t;

typedef enum {
    FADO_ROLE_DB_ERROR = -1,    /* the token could not be checked */
    FADO_ROLE_NONE = 0,
    FADO_ROLE_READ_ONLY,
    FADO_ROLE_ADMIN
} fado_role_e;

typedef struct {
    fado_app_t   *app;
    const char   *method;
    const char   *path;
    const char   *query_limit;    /* ?limit= */
    const char   *query_cursor;   /* ?cursor= */
    const char   *authorization;
    const char   *body;
    size_t        body_len;
    PGconn       *conn;           /* held while a route's handle runs; NULL in stream ops */
    void         *mhd;            /* the connection, for fado_req_arg/header */
    fado_role_e   role;
    /* answer */
    unsigned int  status;
    json_t       *json;           /* owned; NULL for 204 */
    const char   *content_type;   /* non-JSON answers (metrics) */
    char         *text;           /* owned */
} fado_req_t;

/* Who may call a route; checked before a byte of the body is read. */
typedef enum {
    FADO_ACCESS_PUBLIC = 0,     /* anyone; answered from the head, no database */
    FADO_ACCESS_PROBE,          /* anyone, served as a read-only caller */
    FADO_ACCESS_OWN,            /* the route's own check (authorize) */
    FADO_ACCESS_READ,           /* any API token */
    FADO_ACCESS_ADMIN           /* an admin token: a read-only one gets 403 */
} fado_access_e;

/*
 * Streamed routes: requests that may wait on a store run on the object
 * threads, and their bodies or answers pass through in bounded pieces.
 * The handler side (fado_api_objects.c) provides these functions; the
 * transport owns the threads, the staging buffer and the connection to
 * the client. It holds no PostgreSQL connection for them: they may wait
 * on a store for long, so they take one for as long as they need it.
 */
typedef enum {
    FADO_STREAM_NONE = 0,       /* not streamed: the route's handler, on an HTTP thread */
    FADO_STREAM_JSON,           /* a JSON exchange, no body: json(), on the pool */
    FADO_STREAM_UPLOAD,         /* the body is streamed through the pool */
    FADO_STREAM_DOWNLOAD        /* the answer is streamed from the pool */
} fado_stream_kind_e;

typedef struct {
    const char          *what;  /* in "GET of <what> takes no request body" */
    /* From the head, after the access check. */
    fado_stream_kind_e (*kind)(fado_req_t *req);
    /* FADO_STREAM_JSON: answers the request. */
    void               (*json)(fado_req_t *req);
    /* begin returns the transfer, or NULL with the answer set; end
     * answers. data after a failed write returns -1 and the rest of the
     * body is dropped. abort: the client went away. */
    void              *(*upload_begin)(fado_req_t *req, int64_t length);
    int                (*upload_data)(void *upload, const char *data, size_t len);
    void               (*upload_end)(fado_req_t *req, void *upload);
    void               (*upload_abort)(void *upload);
    /* head: HEAD, no body follows. header(i) gives the i-th answer
     * header (NULL name past the last; a NULL or "" value is left out). */
    void              *(*download_begin)(fado_req_t *req, int head);
    int64_t            (*download_size)(const void *download);
    const char        *(*download_header)(const void *download, size_t i, const char **name);
    ssize_t            (*download_read)(void *download, char *buf, size_t len);
    void               (*download_close)(void *download);
} fado_stream_ops_t;

typedef struct {
    const char     *method;     /* NULL: any method */
    const char     *path;       /* exact; "*": any; ending in a slash and a star: the part before the slash and below it */
    fado_access_e   access;
    /* FADO_ACCESS_OWN: 0 to serve the caller as admin, or -1 with the
     * answer set. */
    int           (*authorize)(fado_req_t *req);
    /* Answers the request; a PostgreSQL connection is held for the call
     * unless access is FADO_ACCESS_PUBLIC. */
    void          (*handle)(fado_req_t *req);
    /* NULL, or the streamed part of the route (kind() tells per request). */
    const fado_stream_ops_t  *stream;
} fado_route_t;

typedef struct fado_http_s  fado_http_t;

/* Who an Authorization header is (FADO_ROLE_NONE when nobody, _DB_ERROR
 * when it could not be told), from the headers alone: it runs before a
 * byte of the body is read. */
typedef fado_role_e (*fado_http_authenticate_pt)(fado_db_t *db, const char *authorization);

/* routes: the first entry whose method and path match serves a request;
 * the table ends with an entry whose path is NULL and must outlive the
 * server. db: the pool a route's handle() gets its connection from;
 * authenticate: checks API tokens (fado_auth_check); app: handed to every
 * handler as req->app. */
fado_http_t *fado_http_start(fado_db_t *db, fado_app_t *app, const fado_route_t *routes,
    fado_http_authenticate_pt authenticate, const char *listen, int threads, char *err,
    size_t err_len);
void fado_http_stop(fado_http_t *http);

/* Sets an error answer: {"error": {"code", "message", "field"}}. */
void fado_req_error(fado_req_t *req, unsigned int status, const char *code,
    const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A query argument or request header; NULL when absent. */
const char *fado_req_arg(fado_req_t *req, const char *name);
const char *fado_req_header(fado_req_t *req, const char *name);

#endif /* FADO_HTTP_H */
