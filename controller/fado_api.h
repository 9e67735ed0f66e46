/*
 * fado_api: the API handlers. They turn a request into calls on the
 * database and domain layers and map what those return to HTTP.
 */

#ifndef FADO_API_H
#define FADO_API_H

#include "fado_db.h"
#include "fado_err.h"
#include "fado_http.h"

/* The one mapping from a database error to an HTTP answer: 409 for a
 * taken name or a row in use, 400 for a value the schema refuses, 503
 * while PostgreSQL is away, 500 (logged) for anything else. */
void fado_api_db_error(fado_req_t *req, const fado_db_err_t *e);

/* A domain error as an answer: invalid 400, not found 404, conflict 409,
 * unavailable 503, internal 500; code, field and message carried over. */
void fado_api_err(fado_req_t *req, const fado_err_t *err);

/* POST /v1/minio/events[/{cluster}] (fado_api_events.c). */
void fado_api_events(fado_req_t *req, const char *path_cluster);

/* Object uploads, downloads and JSON exchanges on the object threads
 * (fado_api_objects.c), for the /v1/buckets routes. */
extern const fado_stream_ops_t  fado_api_objects_stream;

/* Listing, metadata and delete of objects: JSON answers. */
void fado_api_objects_handle(fado_req_t *req, const char *bucket, const char *key);

/* Paging (fado_api_page.c): ?limit= from 1 to max (def when absent), or
 * -1 with a 400 naming limit; fetch is limit + 1 as a query parameter. */
typedef struct {
    int   limit;
    char  fetch[16];
} fado_api_page_t;

int fado_api_page_limit(fado_req_t *req, int def, int max, fado_api_page_t *pg);

/* One row as an item, or NULL with the error answered. */
typedef json_t *(*fado_api_page_row_fn)(fado_req_t *req, PGresult *res, int row);

/* {"items": [...], "next_cursor": the last item's first column, or null}
 * from rows fetched with pg->fetch; NULL with the error answered. */
json_t *fado_api_page_json(fado_req_t *req, PGresult *res, const fado_api_page_t *pg,
    fado_api_page_row_fn row);

/* The API's resources, dispatched by path (the routes in fado_router.c
 * hand every authenticated request here). */
void fado_api_handle(fado_req_t *req);

#endif /* FADO_API_H */
