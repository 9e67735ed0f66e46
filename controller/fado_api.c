/*
 * fado_api: what the API's handlers share (docs/api.yaml): the one mapping
 * of database and domain errors to answers, the request's statements and
 * transaction, the list / get / create / replace / delete flow of clusters
 * and buckets, the reconciler's wake-up after a change, and the dispatch
 * of /v1 paths to the handler files (fado_api_<resource>.c).
 *
 * Every handler validates its input before touching the database and names
 * the offending field; SQL only with parameters; storage secrets are
 * accepted and never returned. Lists are paginated by name (limit, cursor);
 * updates carry the version they were based on (optimistic concurrency).
 */

#include "fado_api.h"
#include "fado_api_console.h"
#include "fado_http.h"
#include "fado_log.h"
#include "fado_reconcile.h"

#include <stdio.h>
#include <string.h>


/* ------------------------------------------------------------ helpers */

/*
 * The API's answer to a failed statement: fado_db_error says what it means
 * as a domain error (the one domain code returns too), fado_api_err turns
 * that into HTTP, so both paths answer alike.
 */
void
fado_api_db_error(fado_req_t *req, const fado_db_err_t *e)
{
    fado_err_t  err;

    fado_db_error(e, &err);
    fado_api_err(req, &err);
}

void
fado_api_err(fado_req_t *req, const fado_err_t *err)
{
    static const unsigned int  status[] = {
        [FADO_ERR_NONE] = 500, [FADO_ERR_INVALID] = 400, [FADO_ERR_NOT_FOUND] = 404,
        [FADO_ERR_CONFLICT] = 409, [FADO_ERR_UNKNOWN] = 422, [FADO_ERR_UNAVAILABLE] = 503,
        [FADO_ERR_INTERNAL] = 500
    };

    fado_req_error(req, status[err->kind], err->code != NULL ? err->code : "internal",
                   err->field[0] != '\0' ? err->field : NULL, "%s", err->message);
}

PGresult *
fado_api_query(fado_req_t *req, const char *sql, int n, const char *const *params)
{
    fado_db_err_t  e;
    PGresult      *res = fado_db_exec(req->conn, &e, sql, n, params);

    if (res == NULL) {
        fado_api_db_error(req, &e);
    }
    return res;
}

int
fado_api_exec(fado_req_t *req, const char *sql, int n, const char *const *params)
{
    PGresult  *res = fado_api_query(req, sql, n, params);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

int
fado_api_begin(fado_req_t *req)
{
    fado_db_err_t  e;

    if (fado_db_begin(req->conn, &e) != 0) {
        fado_api_db_error(req, &e);
        return -1;
    }
    return 0;
}

int
fado_api_end(fado_req_t *req, int ok)
{
    fado_db_err_t  e;

    if (fado_db_end(req->conn, ok, &e) != 0 && ok) {
        fado_req_error(req, 503, "database_unavailable", NULL, "commit failed: %s", e.message);
        return -1;
    }
    return ok ? 0 : -1;
}

/* Splits "/v1/res/id" into res and id (id may be NULL). */
static int
fado_api_split(const char *path, char *res, size_t rsize, char *id, size_t isize)
{
    const char  *p, *slash;

    if (strncmp(path, "/v1/", 4) != 0) {
        return -1;
    }
    p = path + 4;
    slash = strchr(p, '/');
    if (slash == NULL) {
        snprintf(res, rsize, "%s", p);
        id[0] = '\0';
        return 0;
    }
    if ((size_t) (slash - p) >= rsize || strchr(slash + 1, '/') != NULL
        || strlen(slash + 1) >= isize)
    {
        return -1;
    }
    memcpy(res, p, (size_t) (slash - p));
    res[slash - p] = '\0';
    snprintf(id, isize, "%s", slash + 1);
    return 0;
}

json_t *
fado_api_row_item(fado_req_t *req, PGresult *res, int row, void *arg)
{
    json_t  *j = json_loads(PQgetvalue(res, row, 1), 0, NULL);

    (void) arg;
    if (j == NULL) {
        fado_req_error(req, 500, "internal", NULL, "cannot read a stored document");
    }
    return j;
}

void
fado_api_changed(fado_req_t *req)
{
    fado_reconciler_wake(req->app->rec);
}

/* ------------------------------------------------------------ resources */

void
fado_api_list(fado_req_t *req, fado_api_list_pt list)
{
    fado_api_page_t  pg;
    fado_err_t       err;
    PGresult        *res;

    if (fado_api_page_limit(req, FADO_LIST_DEFAULT, FADO_LIST_MAX, &pg) != 0) {
        return;
    }
    res = list(req->conn, req->query_cursor ? req->query_cursor : "", pg.fetch, &err);
    if (res == NULL) {
        fado_api_err(req, &err);
        return;
    }
    req->json = fado_api_page_json(req, res, &pg, fado_api_row_item, NULL);
    if (req->json != NULL) {
        req->status = 200;
    }
    PQclear(res);
}

/* The stored resource as the answer to a read or a write. */
static void
fado_api_resource_answer(fado_req_t *req, const fado_api_resource_t *r, const char *name,
    unsigned int status)
{
    fado_err_t  err;
    json_t     *j = r->get(req->conn, name, &err);

    if (j == NULL) {
        fado_api_err(req, &err);
        return;
    }
    req->json = j;
    req->status = status;
}

void
fado_api_resource(fado_req_t *req, const char *id, const fado_api_resource_t *r)
{
    fado_err_t  err;

    if (strcmp(req->method, "GET") == 0) {
        if (id[0] == '\0') {
            fado_api_list(req, r->list);
        } else {
            fado_api_resource_answer(req, r, id, 200);
        }
        return;
    }
    if ((strcmp(req->method, "POST") == 0 && id[0] == '\0')
        || (strcmp(req->method, "PUT") == 0 && id[0] != '\0'))
    {
        json_t  *body = fado_api_body(req);
        long     version = 0;

        if (body == NULL) {
            return;
        }
        if (id[0] != '\0') {
            version = fado_api_int(req, body, "version", "version", 1, 2147483647L, 0);
            if (version == 0) {
                fado_req_error(req, 400, "missing_field", "version",
                               "version is required: the version the update is based on");
            }
            if (version <= 0) {
                json_decref(body);
                return;
            }
        }
        if (r->put(req, body, id[0] ? id : NULL, version) == 0) {
            fado_api_resource_answer(req, r, id[0] ? id
                                     : json_string_value(json_object_get(body, "name")),
                                     id[0] ? 200 : 201);
            fado_api_changed(req);
        }
        json_decref(body);
        return;
    }
    if (strcmp(req->method, "DELETE") == 0 && id[0] != '\0') {
        if (r->del(req->conn, id, &err) != 0) {
            fado_api_err(req, &err);
            return;
        }
        req->status = 204;
        fado_api_changed(req);
        return;
    }
    fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here", req->method);
}

/* ------------------------------------------------------------ router */

void
fado_api_handle(fado_req_t *req)
{
    char  res[32], id[128];

    if (strcmp(req->path, "/readyz") == 0) {
        /* Reaching here means PostgreSQL answered and migrations ran. */
        req->json = json_pack("{s:s, s:b, s:b}", "status", "ready", "redis",
                              fado_reconciler_redis_ok(req->app->rec), "leader",
                              fado_reconciler_leading(req->app->rec));
        req->status = 200;
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        fado_api_metrics(req);
        return;
    }
    if (strncmp(req->path, "/v1/minio/events", 16) == 0) {
        if (req->path[16] == '\0') {
            fado_api_events(req, "");
            return;
        }
        if (req->path[16] == '/' && strchr(req->path + 17, '/') == NULL) {
            fado_api_events(req, req->path + 17);
            return;
        }
    }
    {
        char         bucket[64], cluster[64];
        const char  *key;

        if (fado_api_copies_path(req->path, bucket, sizeof(bucket), cluster,
                                 sizeof(cluster))) {
            fado_api_copies(req, bucket, cluster);
            return;
        }
        if (fado_api_objects_path(req->path, bucket, sizeof(bucket), &key)) {
            fado_api_objects_handle(req, bucket, key);
            return;
        }
    }
    if (fado_api_console_handle(req)) {
        return;
    }
    if (fado_api_split(req->path, res, sizeof(res), id, sizeof(id)) != 0) {
        fado_req_error(req, 404, "not_found", NULL, "no such resource: %s", req->path);
        return;
    }
    if (fado_api_valid_input(req, res, id) != 0) {
        return;
    }
    if (strcmp(res, "zones") == 0) {
        fado_api_zones(req, id);
    } else if (strcmp(res, "clusters") == 0) {
        fado_api_resource(req, id, &fado_api_clusters);
    } else if (strcmp(res, "buckets") == 0) {
        fado_api_resource(req, id, &fado_api_buckets);
    } else if (strcmp(res, "routes") == 0) {
        fado_api_routes(req, id);
    } else if (strcmp(res, "settings") == 0 && id[0] == '\0') {
        fado_api_settings(req);
    } else if (strcmp(res, "tokens") == 0) {
        fado_api_tokens(req, id);
    } else if (strcmp(res, "import") == 0 && id[0] == '\0') {
        fado_api_import(req);
    } else {
        fado_req_error(req, 404, "not_found", NULL, "no such resource: %s", req->path);
    }
}
