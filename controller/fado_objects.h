/*
 * fado_objects: one storage interface over every cluster.
 *
 *   GET    /v1/buckets/{b}/objects[?prefix=&limit=&cursor=]   index listing
 *   PUT    /v1/buckets/{b}/objects/{key}                      streamed to the home
 *   GET    /v1/buckets/{b}/objects/{key}[?zone=&version_id=]  streamed from a replica
 *   HEAD   /v1/buckets/{b}/objects/{key}                      the same, headers only
 *   GET    /v1/buckets/{b}/objects/{key}?metadata=true        JSON, with locations
 *   DELETE /v1/buckets/{b}/objects/{key}[?version_id=]        on the home
 *
 * Object bytes never sit in the controller whole: uploads and downloads go
 * through fst_stream.h, a bounded buffer per transfer. The transport
 * (fado_http.c) streams them through fado_api_objects.c's fado_stream_ops_t;
 * these functions take a fado_req_t whose connection to PostgreSQL is held
 * only while they run.
 */

#ifndef FADO_OBJECTS_H
#define FADO_OBJECTS_H

#include <stdint.h>
#include <sys/types.h>

#include "fado_err.h"
#include "fado_http.h"

typedef struct fado_obj_upload_s    fado_obj_upload_t;
typedef struct fado_obj_download_s  fado_obj_download_t;

/* Splits "/v1/buckets/{b}/objects[/{key}]": 1 if it is one, bucket and key
 * ("" for the listing) filled in; 0 if not an object path. */
int fado_objects_path(const char *path, char *bucket, size_t bsize,
    const char **key);

/* Whether the request's body or answer is streamed (upload, download,
 * HEAD) rather than a JSON exchange. */
int fado_objects_streamed(const char *method, const char *path, int metadata);

/* 1 if bucket and key ("" for none) may be used; else 0 with a 400 in req
 * (invalid_key for a key breaking S3's rules: NUL or control characters,
 * "." or ".." or empty segments, over 1024 bytes, not UTF-8). */
int fado_objects_valid(fado_req_t *req, const char *bucket, const char *key);

/*
 * The index rows of bucket's objects whose keys start with prefix, after
 * cursor, at most fetch (a number) of them: (key, item JSON) each. NULL
 * with err: not_found for an unknown bucket, unavailable.
 */
PGresult *fado_objects_list(PGconn *conn, const char *bucket, const char *prefix,
    const char *cursor, const char *fetch, fado_err_t *err);

/* GET ?metadata=true and DELETE of one key: JSON answers in req. */
void fado_objects_metadata(fado_req_t *req, const char *bucket, const char *key);
void fado_objects_delete(fado_req_t *req, const char *bucket, const char *key);

/* Upload: begin (answers an error in req and returns NULL), data*, end. */
fado_obj_upload_t *fado_objects_upload_begin(fado_req_t *req, const char *bucket,
    const char *key, const char *content_type, int64_t length);
int fado_objects_upload_data(fado_obj_upload_t *u, const char *data, size_t len);
/* Finishes (or, after a failed write, aborts) and answers in req; frees u.
 * Waits for MinIO first, then takes a PostgreSQL connection into req->conn
 * for the index (the caller releases it). */
void fado_objects_upload_end(fado_req_t *req, fado_obj_upload_t *u);
void fado_objects_upload_abort(fado_obj_upload_t *u);

/* Download (head: metadata only). NULL with the error answered in req. */
fado_obj_download_t *fado_objects_download_begin(fado_req_t *req, const char *bucket,
    const char *key, int head);
/* Headers of the answer. */
int64_t fado_objects_download_size(const fado_obj_download_t *d);
const char *fado_objects_download_header(const fado_obj_download_t *d, const char *name);
ssize_t fado_objects_download_read(fado_obj_download_t *d, char *buf, size_t len);
void fado_objects_download_close(fado_obj_download_t *d);

#endif /* FADO_OBJECTS_H */
