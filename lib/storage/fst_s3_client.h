/*
 * fado S3 client: the calls fado makes on a MinIO deployment, over libcurl,
 * signed by fst_s3_sign.c. Path-style addressing (/bucket/key), as MinIO serves.
 *
 * A client owns one curl handle (kept connections) and is not thread-safe:
 * use one per thread. Every call returns 0 on success or -1 with a message
 * in err naming the operation, bucket/key and MinIO's error code; the last
 * HTTP status and S3 error code stay readable with fst_s3_last_status()
 * and fst_s3_last_code(). Credentials never appear in messages.
 *
 * Object data is streamed through callbacks: get never buffers the object,
 * put reads it in pieces and switches to multipart upload above a threshold.
 */

#ifndef FST_S3_CLIENT_H
#define FST_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fst_s3_sign.h"

typedef struct fst_s3_client_s  fst_s3_client_t;

/* Source of a streamed upload: bytes read into buf (0 at end), -1 on error. */
typedef ssize_t (*fst_s3_read_fn)(void *ud, char *buf, size_t len);
/* Sink of a streamed download: 0 to continue, -1 to abort. */
typedef int (*fst_s3_write_fn)(void *ud, const char *buf, size_t len);

typedef struct {
    int64_t  size;              /* -1 when unknown */
    char     etag[80];          /* without quotes */
    char     version_id[128];
    char     content_type[128];
    char     last_modified[64];
    char     replication_status[32];    /* PENDING/COMPLETED/FAILED/REPLICA */
    int      delete_marker;
} fst_s3_object_info_t;

typedef struct {
    const char  *key;
    const char  *version_id;    /* NULL in plain listings */
    const char  *etag;
    const char  *last_modified;
    int64_t      size;
    int          is_latest;
    int          delete_marker;
} fst_s3_entry_t;

/* Called once per listed object/version; non-zero stops the listing. */
typedef int (*fst_s3_list_fn)(void *ud, const fst_s3_entry_t *entry);

/* A request at the level under the operations, for the admin API and
 * bucket sub-resources. */
typedef struct {
    const char          *method;
    const char          *path;          /* unencoded; built from bucket/key if NULL */
    const char          *bucket;
    const char          *key;
    const fst_s3_kv_t   *query;
    size_t               nquery;
    const fst_s3_kv_t   *headers;       /* extra headers, signed */
    size_t               nheaders;
    const void          *body;          /* in-memory body (hashed, Content-MD5) */
    size_t               body_len;
    fst_s3_read_fn       read_fn;       /* or a streamed body, UNSIGNED-PAYLOAD */
    void                *read_ud;
    int64_t              read_len;      /* must be known for a streamed body */
    fst_s3_write_fn      write_fn;      /* 2xx response body goes here if set */
    void                *write_ud;
} fst_s3_request_t;

typedef struct {
    long                   status;
    char                  *body;        /* collected body (NUL-terminated) */
    size_t                 body_len;
    fst_s3_object_info_t   info;        /* from the response headers */
} fst_s3_response_t;

fst_s3_client_t *fst_s3_client_new(const char *endpoint,
    const char *access_key, const char *secret_key, const char *region,
    char *err, size_t err_len);
void fst_s3_client_free(fst_s3_client_t *c);

/* Multipart upload above threshold bytes, in parts of part_size (>= 5 MiB). */
void fst_s3_client_set_multipart(fst_s3_client_t *c, int64_t threshold,
    size_t part_size);
/* Seconds without progress before a transfer is abandoned (default 10, or
 * FADO_S3_STALL_TIMEOUT); connects give up after FADO_S3_CONNECT_TIMEOUT_MS
 * (default 3000). */
void fst_s3_client_set_stall_timeout(fst_s3_client_t *c, long seconds);
/* 1 if the last request made by the calling thread (with any client) ended
 * on the connect or stall timeout: MinIO is there but not answering. */
int fst_s3_timed_out(void);

/* Bytes sent and received (bodies) by every client of this process: shows
 * what passes through fado, e.g. none of the replicated data. */
void fst_s3_traffic(uint64_t *sent, uint64_t *received);
/* The part of it that was object data (bodies of requests on a key: GET,
 * PUT, multipart parts), as opposed to listings and configuration. */
void fst_s3_object_traffic(uint64_t *sent, uint64_t *received);

long fst_s3_last_status(const fst_s3_client_t *c);
const char *fst_s3_last_code(const fst_s3_client_t *c);
const char *fst_s3_client_endpoint(const fst_s3_client_t *c);
const fst_s3_creds_t *fst_s3_client_creds(const fst_s3_client_t *c);

/*
 * Perform a request. Returns 0 when a response arrived (any status: check
 * resp->status), -1 on transport failure. Non-2xx bodies are always
 * collected in resp->body. Free with fst_s3_response_free.
 */
int fst_s3_request(fst_s3_client_t *c, const fst_s3_request_t *req,
    fst_s3_response_t *resp, char *err, size_t err_len);
void fst_s3_response_free(fst_s3_response_t *resp);

/*
 * The HTTP status fado's API should answer for a failed storage call, from
 * MinIO's status and code (fst_s3_last_status/last_code): 404 for missing
 * buckets, keys and versions, 400 for invalid names and arguments, 409 for
 * conflicts, 412/416 for preconditions and ranges, 413 for too large, 503
 * when MinIO is unreachable or asks to slow down, 502 for anything else
 * (including MinIO refusing fado's own credentials: not the caller's fault).
 */
int fst_s3_error_http_status(long status, const char *code);

/* Every bucket of the deployment, by name (creation date in last_modified). */
int fst_s3_buckets_list(fst_s3_client_t *c, fst_s3_list_fn fn, void *ud,
    char *err, size_t err_len);

/* Buckets. create: *created is 1 when made, 0 when it already existed and
 * is ours (adopted as it is, never emptied or overwritten). */
int fst_s3_bucket_create(fst_s3_client_t *c, const char *bucket,
    int *created, char *err, size_t err_len);
int fst_s3_bucket_exists(fst_s3_client_t *c, const char *bucket,
    int *exists, char *err, size_t err_len);
int fst_s3_bucket_versioning_set(fst_s3_client_t *c, const char *bucket,
    int enabled, char *err, size_t err_len);
/* status: "Enabled", "Suspended" or "" (never enabled). */
int fst_s3_bucket_versioning_get(fst_s3_client_t *c, const char *bucket,
    char *status, size_t status_len, char *err, size_t err_len);
/* Delete an (empty) bucket: only for explicit requests and tests. */
int fst_s3_bucket_delete(fst_s3_client_t *c, const char *bucket,
    char *err, size_t err_len);

/* Bucket sub-resource documents ("replication", "notification"...).
 * get: *xml is NULL (and 0 returned) when the bucket has none. */
int fst_s3_bucket_config_get(fst_s3_client_t *c, const char *bucket,
    const char *subresource, char **xml, char *err, size_t err_len);
int fst_s3_bucket_config_put(fst_s3_client_t *c, const char *bucket,
    const char *subresource, const char *xml, char *err, size_t err_len);
int fst_s3_bucket_config_delete(fst_s3_client_t *c, const char *bucket,
    const char *subresource, char *err, size_t err_len);

/* Listings, paginated internally; prefix may be NULL. */
int fst_s3_list_objects(fst_s3_client_t *c, const char *bucket,
    const char *prefix, fst_s3_list_fn fn, void *ud,
    char *err, size_t err_len);
int fst_s3_list_versions(fst_s3_client_t *c, const char *bucket,
    const char *prefix, fst_s3_list_fn fn, void *ud,
    char *err, size_t err_len);

/* Objects; version_id may be NULL (latest). head on a missing object
 * fails with fst_s3_last_status() == 404. */
int fst_s3_object_head(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *version_id, fst_s3_object_info_t *info,
    char *err, size_t err_len);
int fst_s3_object_get(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *version_id, fst_s3_write_fn fn, void *ud,
    fst_s3_object_info_t *info, char *err, size_t err_len);
/* length -1: unknown, read to the end (multipart, one part buffered). */
int fst_s3_object_put(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *content_type, fst_s3_read_fn fn, void *ud,
    int64_t length, fst_s3_object_info_t *info, char *err, size_t err_len);
int fst_s3_object_put_buffer(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *content_type, const void *data, size_t len,
    fst_s3_object_info_t *info, char *err, size_t err_len);
int fst_s3_object_delete(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *version_id, char *err, size_t err_len);

/* Delete up to 1000 (key, version) pairs in one request (version_id NULL:
 * latest). Fails naming the first key MinIO could not delete. */
int fst_s3_objects_delete(fst_s3_client_t *c, const char *bucket,
    const fst_s3_entry_t *entries, size_t n, char *err, size_t err_len);

#endif /* FST_S3_CLIENT_H */
