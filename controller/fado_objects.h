/*
 * fado_objects: one storage interface over every cluster (the domain).
 *
 * It finds the sites of a bucket in PostgreSQL, talks to their MinIO
 * through the storage library and keeps the object index; it knows
 * nothing of HTTP. fado_api_objects.c reads the requests
 *
 *   GET    /v1/buckets/{b}/objects[?prefix=&limit=&cursor=]   index listing
 *   PUT    /v1/buckets/{b}/objects/{key}                      streamed to the home
 *   GET    /v1/buckets/{b}/objects/{key}[?zone=&version_id=]  streamed from a replica
 *   HEAD   /v1/buckets/{b}/objects/{key}                      the same, headers only
 *   GET    /v1/buckets/{b}/objects/{key}?metadata=true        JSON, with locations
 *   DELETE /v1/buckets/{b}/objects/{key}[?version_id=]        on the home
 *
 * and turns what these functions return into answers.
 *
 * Object bytes never sit in the controller whole: uploads and downloads go
 * through fst_stream.h, a bounded buffer per transfer.
 *
 * Connections: the listing takes a PGconn, as every domain call does. The
 * calls that wait on MinIO (metadata, delete, upload, download) take the
 * pool instead: each holds a connection only for its SQL and gives it back
 * before it asks a store, so that a stuck MinIO holds none of the
 * connections the JSON API needs, and an upload's end takes one again
 * only once MinIO has answered.
 */

#ifndef FADO_OBJECTS_H
#define FADO_OBJECTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "fado_db.h"
#include "fado_err.h"

#define FADO_OBJ_MAX_SITES  16

typedef struct fado_obj_upload_s    fado_obj_upload_t;
typedef struct fado_obj_download_s  fado_obj_download_t;

/*
 * How an object call failed. err says it as every domain error does; for
 * a failure of a store, store says which kind the caller cannot act on
 * (err's kind is then FADO_ERR_UNAVAILABLE or, for a refusal,
 * FADO_ERR_INVALID / FADO_ERR_CONFLICT), and a refusal keeps the status
 * the S3 protocol gives it (fst_s3_error_http_status: 400, 409, 412, 413,
 * 416) so that it can be passed on.
 */
typedef enum {
    FADO_OBJ_STORE_NONE = 0,    /* err alone says it */
    FADO_OBJ_STORE_TIMEOUT,     /* a store did not answer in time (err names it) */
    FADO_OBJ_STORE_FAILED,      /* a store failed: not the caller's doing */
    FADO_OBJ_STORE_REFUSED      /* a store refused the call: s3_status */
} fado_obj_store_e;

typedef struct {
    fado_err_t        err;
    fado_obj_store_e  store;
    int               s3_status;
} fado_obj_err_t;

/* 0 if bucket and key ("" or NULL for none) may be used; else -1 with err
 * invalid (invalid_key for a key breaking S3's rules: NUL or control
 * characters, "." or ".." or empty segments, over 1024 bytes, not UTF-8). */
int fado_objects_valid(const char *bucket, const char *key, fado_err_t *err);

/*
 * The index rows of bucket's objects whose keys start with prefix, after
 * cursor, at most fetch (a number) of them: (key, item JSON) each. NULL
 * with err: not_found for an unknown bucket, unavailable.
 */
PGresult *fado_objects_list(PGconn *conn, const char *bucket, const char *prefix,
    const char *cursor, const char *fetch, fado_err_t *err);

/* Where a version is: one entry per replica, the home first. */
typedef struct {
    char  cluster[64];
    char  zone[64];
    int   home;
    int   present;              /* the replica's MinIO holds the version */
    char  replica_state[32];
} fado_obj_location_t;

typedef struct {
    char                 version_id[128];
    int64_t              size;
    char                 etag[80];
    char                 content_type[128];
    char                 last_modified[64];
    char                 replication_status[32];    /* "" when MinIO gave none */
    int                  nlocations;
    fado_obj_location_t  locations[FADO_OBJ_MAX_SITES];
} fado_obj_meta_t;

/* The home's metadata of key (version: NULL or "" for the latest) and
 * where that version is, asked of each replica: 0, or -1 with err. */
int fado_objects_metadata(fado_db_t *db, const char *bucket, const char *key,
    const char *version, fado_obj_meta_t *meta, fado_obj_err_t *err);

/* Deletes key (version: NULL or "" for a delete marker) on the home and
 * then from the index: 0, or -1 with err (nothing deleted). */
int fado_objects_delete(fado_db_t *db, const char *bucket, const char *key,
    const char *version, fado_obj_err_t *err);

/* What an upload stored on the home. */
typedef struct {
    char     version_id[128];
    char     etag[80];
    char     content_type[128];
    char     cluster[64];
    int64_t  size;
} fado_obj_stored_t;

/* Upload: begin (NULL with err), data*, then end or abort. content_type
 * NULL or "" stores application/octet-stream. */
fado_obj_upload_t *fado_objects_upload_begin(fado_db_t *db, const char *bucket,
    const char *key, const char *content_type, int64_t length, fado_obj_err_t *err);
int fado_objects_upload_data(fado_obj_upload_t *u, const char *data, size_t len);
/* Finishes (or, after a failed write, fails) and frees u: 0 with what was
 * stored, or -1 with err. Waits for MinIO first, then records the version
 * in the index (a connection taken only then; without one the index
 * catches up from events or a scan). */
int fado_objects_upload_end(fado_db_t *db, fado_obj_upload_t *u, fado_obj_stored_t *stored,
    fado_obj_err_t *err);
void fado_objects_upload_abort(fado_obj_upload_t *u);

/* Download of key from the best site holding its latest version (zone:
 * NULL, or those in it first; version: NULL or "" for the latest; head:
 * metadata only). NULL with err. */
fado_obj_download_t *fado_objects_download_begin(fado_db_t *db, const char *bucket,
    const char *key, const char *zone, const char *version, int head, fado_obj_err_t *err);
/* What is downloaded, and from where. */
int64_t fado_objects_download_size(const fado_obj_download_t *d);
const char *fado_objects_download_content_type(const fado_obj_download_t *d);
const char *fado_objects_download_etag(const fado_obj_download_t *d);
const char *fado_objects_download_last_modified(const fado_obj_download_t *d);
const char *fado_objects_download_version(const fado_obj_download_t *d);
const char *fado_objects_download_cluster(const fado_obj_download_t *d);
/* Bytes read into buf, 0 at the end, -1 when the transfer broke (logged). */
ssize_t fado_objects_download_read(fado_obj_download_t *d, char *buf, size_t len);
void fado_objects_download_close(fado_obj_download_t *d);

#endif /* FADO_OBJECTS_H */
