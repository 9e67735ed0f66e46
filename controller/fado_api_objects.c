/*
 * fado_api_objects: the objects resource. It reads a request (which
 * object, which kind of exchange, its query and headers), calls the
 * objects domain (fado_objects.c: the sites, the stores, the index) and
 * maps what that returns to HTTP: statuses, JSON documents and the
 * download's headers. The transport streams bodies and answers on its
 * object threads through fado_api_objects_stream.
 */

#include "fado_api.h"
#include "fado_objects.h"
#include "fado_valid.h"

#include <string.h>

#define FADO_API_OBJECTS_LIST_DEFAULT  100
#define FADO_API_OBJECTS_LIST_MAX      1000

/* ------------------------------------------------------------ requests */

int
fado_api_objects_path(const char *path, char *bucket, size_t bsize, const char **key)
{
    const char  *p, *slash;

    if (strncmp(path, "/v1/buckets/", 12) != 0) {
        return 0;
    }
    p = path + 12;
    slash = strchr(p, '/');
    if (slash == NULL || (size_t) (slash - p) >= bsize || slash == p) {
        return 0;
    }
    if (strncmp(slash, "/objects", 8) != 0 || (slash[8] != '\0' && slash[8] != '/')) {
        return 0;
    }
    memcpy(bucket, p, (size_t) (slash - p));
    bucket[slash - p] = '\0';
    *key = slash[8] == '/' ? slash + 9 : "";
    return 1;
}

/*
 * An object call's failure as an answer: a store that did not answer in
 * time is 504 and one that failed 502 (neither is the caller's doing); a
 * store's refusal keeps the status S3 gives it; the rest as every domain
 * error (fado_api_err).
 */
static void
fado_api_objects_err(fado_req_t *req, const fado_obj_err_t *e)
{
    const char  *field = e->err.field[0] != '\0' ? e->err.field : NULL;

    switch (e->store) {
    case FADO_OBJ_STORE_TIMEOUT:
        fado_req_error(req, 504, e->err.code, field, "%s", e->err.message);
        return;
    case FADO_OBJ_STORE_FAILED:
        fado_req_error(req, 502, e->err.code, field, "%s", e->err.message);
        return;
    case FADO_OBJ_STORE_REFUSED:
        fado_req_error(req, (unsigned int) e->s3_status, e->err.code, field, "%s",
                       e->err.message);
        return;
    case FADO_OBJ_STORE_NONE:
        break;
    }
    fado_api_err(req, &e->err);
}

/* ------------------------------------------------------------ JSON */

static json_t *
fado_api_objects_item(fado_req_t *req, PGresult *res, int i, void *arg)
{
    json_t  *item = json_loads(PQgetvalue(res, i, 1), 0, NULL);

    (void) arg;
    if (item == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
    }
    return item;
}

/* GET /v1/buckets/{b}/objects[?prefix=&limit=&cursor=] on conn. */
static void
fado_api_objects_list(fado_req_t *req, PGconn *conn, const char *bucket)
{
    const char       *prefix = fado_req_arg(req, "prefix");
    const char       *cursor = req->query_cursor;
    fado_api_page_t   pg;
    fado_err_t        err;
    PGresult         *res;
    json_t           *page;

    if (prefix != NULL && !fado_valid_cursor(prefix)) {
        fado_req_error(req, 400, "invalid_field", "prefix",
                       "prefix must be UTF-8 without control characters, at most 1024 bytes");
        return;
    }
    if (cursor != NULL && !fado_valid_cursor(cursor)) {
        fado_req_error(req, 400, "invalid_field", "cursor",
                       "cursor must be the next_cursor of a previous page");
        return;
    }
    if (fado_api_page_limit(req, FADO_API_OBJECTS_LIST_DEFAULT, FADO_API_OBJECTS_LIST_MAX,
                            &pg) != 0)
    {
        return;
    }
    res = fado_objects_list(conn, bucket, prefix ? prefix : "", cursor ? cursor : "",
                            pg.fetch, &err);
    if (res == NULL) {
        fado_api_err(req, &err);
        return;
    }
    page = fado_api_page_json(req, res, &pg, fado_api_objects_item, NULL);
    PQclear(res);
    if (page == NULL) {
        return;
    }
    req->json = json_pack("{s:s, s:O, s:O}", "bucket", bucket,
                          "items", json_object_get(page, "items"),
                          "next_cursor", json_object_get(page, "next_cursor"));
    json_decref(page);
    if (req->json == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->status = 200;
}

/* The listing holds a connection only for its query: the transport holds
 * none on the object threads. */
static void
fado_api_objects_list_conn(fado_req_t *req, const char *bucket)
{
    PGconn  *conn = req->conn;

    if (conn == NULL && (conn = fado_db_acquire(req->app->db)) == NULL) {
        fado_req_error(req, 503, "database_unavailable", NULL,
                       "PostgreSQL is unreachable; routes already published keep working");
        return;
    }
    fado_api_objects_list(req, conn, bucket);
    if (conn != req->conn) {
        fado_db_release(req->app->db, conn);
    }
}

/* GET /v1/buckets/{b}/objects/{key}?metadata=true */
static void
fado_api_objects_metadata(fado_req_t *req, const char *bucket, const char *key)
{
    fado_obj_meta_t   meta;
    fado_obj_err_t    err;
    json_t           *locations;

    if (fado_objects_metadata(req->app->db, bucket, key, fado_req_arg(req, "version_id"),
                              &meta, &err) != 0)
    {
        fado_api_objects_err(req, &err);
        return;
    }
    locations = json_array();
    for (int i = 0; i < meta.nlocations && locations != NULL; i++) {
        const fado_obj_location_t  *l = &meta.locations[i];

        if (json_array_append_new(locations, json_pack("{s:s, s:s, s:b, s:b, s:s}",
                                  "cluster", l->cluster, "zone", l->zone, "home", l->home,
                                  "present", l->present, "replica_state",
                                  l->replica_state)) != 0)
        {
            json_decref(locations);
            locations = NULL;
        }
    }
    req->json = locations == NULL ? NULL
        : json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o}",
                    "bucket", bucket, "key", key, "version_id", meta.version_id,
                    "size", (json_int_t) meta.size, "etag", meta.etag,
                    "content_type", meta.content_type, "last_modified", meta.last_modified,
                    "replication_status", meta.replication_status[0]
                                          ? meta.replication_status : "NONE",
                    "locations", locations);
    if (req->json == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->status = 200;
}

/* DELETE /v1/buckets/{b}/objects/{key}[?version_id=] */
static void
fado_api_objects_delete(fado_req_t *req, const char *bucket, const char *key)
{
    fado_obj_err_t  err;

    if (fado_objects_delete(req->app->db, bucket, key, fado_req_arg(req, "version_id"),
                            &err) != 0)
    {
        fado_api_objects_err(req, &err);
        return;
    }
    req->status = 204;
    json_decref(req->json);
    req->json = NULL;
}

void
fado_api_objects_handle(fado_req_t *req, const char *bucket, const char *key)
{
    fado_err_t  err;

    if (fado_objects_valid(bucket, key, &err) != 0) {
        fado_api_err(req, &err);
        return;
    }
    if (key[0] == '\0') {
        if (strcmp(req->method, "GET") != 0) {
            fado_req_error(req, 405, "method_not_allowed", NULL,
                           "objects are listed with GET and written with PUT on their key");
            return;
        }
        fado_api_objects_list_conn(req, bucket);
    } else if (strcmp(req->method, "GET") == 0) {
        fado_api_objects_metadata(req, bucket, key);
    } else if (strcmp(req->method, "DELETE") == 0) {
        fado_api_objects_delete(req, bucket, key);
    } else {
        fado_req_error(req, 405, "method_not_allowed", NULL,
                       "objects take GET, HEAD, PUT and DELETE");
    }
}

/* ------------------------------------------------------------ streams */

/* The object a request names; 0 when the path is not an object path. */
static int
fado_api_objects_target(fado_req_t *req, char *bucket, size_t size, const char **key)
{
    return fado_api_objects_path(req->path, bucket, size, key);
}

/* Uploads (PUT), downloads (GET) and HEAD of a key stream; the listing,
 * metadata (GET ?metadata=true) and deletes are JSON exchanges. */
static fado_stream_kind_e
fado_api_objects_kind(fado_req_t *req)
{
    char         bucket[64];
    const char  *key;

    if (!fado_api_objects_target(req, bucket, sizeof(bucket), &key)) {
        return FADO_STREAM_NONE;            /* /v1/buckets/{b} itself: plain JSON */
    }
    if (key[0] == '\0') {
        return FADO_STREAM_JSON;
    }
    if (strcmp(req->method, "PUT") == 0) {
        return FADO_STREAM_UPLOAD;
    }
    if (strcmp(req->method, "HEAD") == 0
        || (strcmp(req->method, "GET") == 0 && fado_req_arg(req, "metadata") == NULL))
    {
        return FADO_STREAM_DOWNLOAD;
    }
    return FADO_STREAM_JSON;
}

static void
fado_api_objects_json(fado_req_t *req)
{
    char         bucket[64];
    const char  *key;

    (void) fado_api_objects_target(req, bucket, sizeof(bucket), &key);
    fado_api_objects_handle(req, bucket, key);
}

static void *
fado_api_objects_upload_begin(fado_req_t *req, int64_t length)
{
    char                bucket[64];
    const char         *key;
    fado_obj_upload_t  *u;
    fado_obj_err_t      err;

    (void) fado_api_objects_target(req, bucket, sizeof(bucket), &key);
    u = fado_objects_upload_begin(req->app->db, bucket, key,
                                  fado_req_header(req, "Content-Type"), length, &err);
    if (u == NULL) {
        fado_api_objects_err(req, &err);
    }
    return u;
}

static int
fado_api_objects_upload_data(void *u, const char *data, size_t len)
{
    return fado_objects_upload_data(u, data, len);
}

/* 201 with what the home stored. */
static void
fado_api_objects_upload_end(fado_req_t *req, void *u)
{
    char               bucket[64];
    const char        *key;
    fado_obj_stored_t  stored;
    fado_obj_err_t     err;

    (void) fado_api_objects_target(req, bucket, sizeof(bucket), &key);
    if (fado_objects_upload_end(req->app->db, u, &stored, &err) != 0) {
        fado_api_objects_err(req, &err);
        return;
    }
    json_decref(req->json);
    req->json = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
                          "bucket", bucket, "key", key,
                          "version_id", stored.version_id, "etag", stored.etag,
                          "size", (json_int_t) stored.size,
                          "content_type", stored.content_type, "cluster", stored.cluster);
    if (req->json == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->status = 201;
}

static void
fado_api_objects_upload_abort(void *u)
{
    fado_objects_upload_abort(u);
}

/* GET (or HEAD) of a key: ?zone= (or X-Fado-Zone) puts that zone's
 * replicas first, ?version_id= names a version. */
static void *
fado_api_objects_download_begin(fado_req_t *req, int head)
{
    char                  bucket[64];
    const char           *key, *zone = fado_req_arg(req, "zone");
    fado_obj_download_t  *d;
    fado_obj_err_t        err;

    (void) fado_api_objects_target(req, bucket, sizeof(bucket), &key);
    if (zone == NULL) {
        zone = fado_req_header(req, "X-Fado-Zone");
    }
    d = fado_objects_download_begin(req->app->db, bucket, key, zone,
                                    fado_req_arg(req, "version_id"), head, &err);
    if (d == NULL) {
        fado_api_objects_err(req, &err);
    }
    return d;
}

static int64_t
fado_api_objects_download_size(const void *d)
{
    return fado_objects_download_size(d);
}

/* The answer's headers: what S3 clients read, and where it came from. */
static const char *
fado_api_objects_download_header(const void *d, size_t i, const char **name)
{
    static const struct {
        const char   *name;
        const char *(*value)(const fado_obj_download_t *d);
    } headers[] = {
        { "Content-Type", fado_objects_download_content_type },
        { "ETag", fado_objects_download_etag },
        { "Last-Modified", fado_objects_download_last_modified },
        { "X-Fado-Version-Id", fado_objects_download_version },
        { "X-Fado-Cluster", fado_objects_download_cluster },
    };

    if (i >= sizeof(headers) / sizeof(headers[0])) {
        *name = NULL;
        return NULL;
    }
    *name = headers[i].name;
    return headers[i].value(d);
}

static ssize_t
fado_api_objects_download_read(void *d, char *buf, size_t len)
{
    return fado_objects_download_read(d, buf, len);
}

static void
fado_api_objects_download_close(void *d)
{
    fado_objects_download_close(d);
}

const fado_stream_ops_t  fado_api_objects_stream = {
    "an object",
    fado_api_objects_kind,
    fado_api_objects_json,
    fado_api_objects_upload_begin,
    fado_api_objects_upload_data,
    fado_api_objects_upload_end,
    fado_api_objects_upload_abort,
    fado_api_objects_download_begin,
    fado_api_objects_download_size,
    fado_api_objects_download_header,
    fado_api_objects_download_read,
    fado_api_objects_download_close
};
