/*
 * fado_http: the controller's HTTP server (libmicrohttpd, thread pool).
 *
 * It collects the request body (up to a limit), authenticates the bearer
 * token, and hands a fado_req_t to the API router (fado_api.c), which
 * answers with a status and a JSON document.
 */

#ifndef FADO_HTTP_H
#define FADO_HTTP_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "fado_db.h"
#include "fado_reconcile.h"

typedef enum {
    FADO_ROLE_DB_ERROR = -1,    /* the token could not be checked */
    FADO_ROLE_NONE = 0,
    FADO_ROLE_READ_ONLY,
    FADO_ROLE_ADMIN
} fado_role_e;

typedef struct {
    fado_db_t          *db;
    fado_reconciler_t  *rec;
    const char         *redis_prefix;
    const char         *events_token;   /* MinIO webhook; NULL: disabled */
} fado_app_t;

typedef struct {
    fado_app_t   *app;
    const char   *method;
    const char   *path;
    const char   *query_limit;    /* ?limit= */
    const char   *query_cursor;   /* ?cursor= */
    const char   *authorization;
    const char   *body;
    size_t        body_len;
    PGconn       *conn;           /* acquired for the request */
    void         *mhd;            /* the connection, for fado_req_arg/header */
    fado_role_e   role;
    /* answer */
    unsigned int  status;
    json_t       *json;           /* owned; NULL for 204 */
    const char   *content_type;   /* non-JSON answers (metrics) */
    char         *text;           /* owned */
} fado_req_t;

typedef struct fado_http_s  fado_http_t;

fado_http_t *fado_http_start(fado_app_t *app, const char *listen, int threads,
    char *err, size_t err_len);
void fado_http_stop(fado_http_t *http);

/* Sets an error answer: {"error": {"code", "message", "field"}}. */
void fado_req_error(fado_req_t *req, unsigned int status, const char *code,
    const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A query argument or request header; NULL when absent. */
const char *fado_req_arg(fado_req_t *req, const char *name);
const char *fado_req_header(fado_req_t *req, const char *name);

/* Router, in fado_api.c. */
void fado_api_handle(fado_req_t *req);

/* Token helpers, in fado_auth.c. */
void fado_auth_hash(const char *secret, char hex[65]);
int fado_auth_new_secret(char *out, size_t size);
fado_role_e fado_auth_check(fado_db_t *db, const char *authorization);
void fado_auth_invalidate(void);
int fado_auth_bootstrap(PGconn *conn, const char *secret, char *err, size_t err_len);

#endif /* FADO_HTTP_H */
