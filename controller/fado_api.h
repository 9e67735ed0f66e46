/*
 * fado_api: the API handlers. They turn a request into calls on the
 * database and domain layers and map what those return to HTTP. What they
 * share is fado_api.c; each resource has a file of its own
 * (fado_api_<resource>.c).
 */

#ifndef FADO_API_H
#define FADO_API_H

#include "fado_db.h"
#include "fado_err.h"
#include "fado_http.h"

typedef struct fado_reconciler_s  fado_reconciler_t;

/* The API's state, which every handler reaches through req->app; the
 * transport carries it without looking inside. */
struct fado_app_s {
    fado_db_t          *db;             /* the pool (object calls take their own) */
    fado_reconciler_t  *rec;
    const char         *redis_prefix;
    const char         *events_token;   /* MinIO webhook; NULL: disabled */
};

/* A database error as an HTTP answer, through fado_db_error: 409 for a
 * taken name or a row in use, 400 for a value the schema refuses, 503
 * while PostgreSQL is away, 500 (logged) for anything else. */
void fado_api_db_error(fado_req_t *req, const fado_db_err_t *e);

/* Lists: ?limit= default and maximum. */
#define FADO_LIST_DEFAULT  100
#define FADO_LIST_MAX      1000

/* A statement on the request's connection; a failure is answered through
 * fado_api_db_error. exec: for statements whose rows nobody reads. */
PGresult *fado_api_query(fado_req_t *req, const char *sql, int n, const char *const *params);
int fado_api_exec(fado_req_t *req, const char *sql, int n, const char *const *params);

/* A transaction on the request's connection: begin 0 or -1 answered; end
 * commits when ok (0, or -1 with a 503 when the commit failed) or rolls
 * back (-1). */
int fado_api_begin(fado_req_t *req);
int fado_api_end(fado_req_t *req, int ok);

/* After a write the placement and the routes may change: the reconciler
 * runs now rather than at its next tick. */
void fado_api_changed(fado_req_t *req);

/* Input (fado_api_valid.c). The body as a JSON object, or NULL with a
 * 400. A string member, NULL when absent (400 missing_field if required)
 * or not a string (400). An integer member in [lo, hi], def when absent,
 * -1 with a 400 when wrong. A JSON array of at most 64 names (bucket rules
 * or name rules): *out the array (NULL when absent or null), to be passed
 * to SQL as jsonb; -1 with a 400. */
json_t *fado_api_body(fado_req_t *req);
const char *fado_api_str(fado_req_t *req, json_t *obj, const char *key, const char *field,
    int required);
long fado_api_int(fado_req_t *req, json_t *obj, const char *key, const char *field, long lo,
    long hi, long def);
int fado_api_names(fado_req_t *req, json_t *obj, const char *key, const char *field,
    int bucket_rule, json_t **out);
/* The path's resource name, id and the cursor obey the schema's rules:
 * 0, or -1 with a 400 naming the field. */
int fado_api_valid_input(fado_req_t *req, const char *res, const char *id);

/* /v1/tokens (fado_api_tokens.c) and GET /metrics (fado_api_metrics.c). */
void fado_api_tokens(fado_req_t *req, const char *id);
void fado_api_metrics(fado_req_t *req);

/* A domain error as an answer: invalid 400, not found 404, conflict 409,
 * unknown reference 422, unavailable 503, internal 500; code, field and
 * message carried over. */
void fado_api_err(fado_req_t *req, const fado_err_t *err);

/* POST /v1/minio/events[/{cluster}] (fado_api_events.c). */
void fado_api_events(fado_req_t *req, const char *path_cluster);

/* Object uploads, downloads and JSON exchanges on the object threads
 * (fado_api_objects.c), for the /v1/buckets routes. */
extern const fado_stream_ops_t  fado_api_objects_stream;

/* Splits "/v1/buckets/{b}/objects[/{key}]": 1 if it is one, bucket and key
 * ("" for the listing) filled in; 0 if not an object path. */
int fado_api_objects_path(const char *path, char *bucket, size_t bsize, const char **key);

/* Listing, metadata and delete of objects: JSON answers. Object calls
 * take their own connections from req->app->db (they wait on MinIO), so
 * this runs on the object threads (fado_api_objects_stream's json), not
 * with req->conn held. */
void fado_api_objects_handle(fado_req_t *req, const char *bucket, const char *key);

/* Paging (fado_api_page.c): ?limit= from 1 to max (def when absent), or
 * -1 with a 400 naming limit; fetch is limit + 1 as a query parameter. */
typedef struct {
    int   limit;
    char  fetch[16];
} fado_api_page_t;

int fado_api_page_limit(fado_req_t *req, int def, int max, fado_api_page_t *pg);

/* One row as an item, or NULL with the error answered; arg is the
 * caller's, passed through. */
typedef json_t *(*fado_api_page_row_fn)(fado_req_t *req, PGresult *res, int row, void *arg);

/* {"items": [...], "next_cursor": the last item's first column, or null}
 * from rows fetched with pg->fetch; NULL with the error answered. */
json_t *fado_api_page_json(fado_req_t *req, PGresult *res, const fado_api_page_t *pg,
    fado_api_page_row_fn row, void *arg);

/* /v1/buckets/{b}/copies[/{cluster}] (fado_api_copies.c): path is 1 when
 * it is such a path (cluster "" for the list). */
int fado_api_copies_path(const char *path, char *bucket, size_t bsize, char *cluster,
    size_t csize);
void fado_api_copies(fado_req_t *req, const char *bucket, const char *cluster);

/* A row whose second column is a JSON document PostgreSQL built, as a
 * list item (fado_api_page_row_fn). */
json_t *fado_api_row_item(fado_req_t *req, PGresult *res, int row, void *arg);

/*
 * Clusters and buckets share their flow (fado_api_resource): list, get,
 * create (POST), replace (PUT with the version it was based on), delete.
 * list, get and del are the domain's; put is the resource's handler: it
 * checks the body, writes it in a transaction of its own and returns 0,
 * or -1 with the error answered. name is NULL for a create.
 */
typedef struct {
    PGresult  *(*list)(PGconn *conn, const char *cursor, const char *fetch, fado_err_t *err);
    json_t    *(*get)(PGconn *conn, const char *name, fado_err_t *err);
    int        (*put)(fado_req_t *req, json_t *body, const char *name, long version);
    int        (*del)(PGconn *conn, const char *name, fado_err_t *err);
} fado_api_resource_t;

void fado_api_resource(fado_req_t *req, const char *id, const fado_api_resource_t *r);

/* A page of a collection from the domain's list function (?limit=, ?cursor=). */
typedef PGresult *(*fado_api_list_pt)(PGconn *conn, const char *cursor, const char *fetch,
    fado_err_t *err);
void fado_api_list(fado_req_t *req, fado_api_list_pt list);

/* The resources (fado_api_<resource>.c); id is the path's name, "" for the
 * collection. */
extern const fado_api_resource_t  fado_api_clusters;
extern const fado_api_resource_t  fado_api_buckets;
void fado_api_zones(fado_req_t *req, const char *id);
void fado_api_routes(fado_req_t *req, const char *id);
void fado_api_settings(fado_req_t *req);
void fado_api_import(fado_req_t *req);

/* The API's resources, dispatched by path (the routes in fado_router.c
 * hand every authenticated request here). */
void fado_api_handle(fado_req_t *req);

#endif /* FADO_API_H */
