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

/* The API's resources, dispatched by path (the routes in fado_router.c
 * hand every authenticated request here). */
void fado_api_handle(fado_req_t *req);

#endif /* FADO_API_H */
