/*
 * fado_api_objects: the objects resource on the transport's streaming
 * interface (fado_stream_ops_t). The transport streams bodies and answers
 * on its object threads; fado_objects.c finds the sites and talks to the
 * stores. This file only reads the request: which object, which kind of
 * exchange, which headers.
 */

#include "fado_api.h"
#include "fado_objects.h"
#include "fado_valid.h"

#include <string.h>

#define FADO_API_OBJECTS_LIST_DEFAULT  100
#define FADO_API_OBJECTS_LIST_MAX      1000

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

/* GET /v1/buckets/{b}/objects[?prefix=&limit=&cursor=] */
static void
fado_api_objects_list(fado_req_t *req, const char *bucket)
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
    res = fado_objects_list(req->conn, bucket, prefix ? prefix : "", cursor ? cursor : "",
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

void
fado_api_objects_handle(fado_req_t *req, const char *bucket, const char *key)
{
    if (!fado_objects_valid(req, bucket, key)) {
        return;
    }
    if (key[0] == '\0') {
        if (strcmp(req->method, "GET") != 0) {
            fado_req_error(req, 405, "method_not_allowed", NULL,
                           "objects are listed with GET and written with PUT on their key");
            return;
        }
        fado_api_objects_list(req, bucket);
    } else if (strcmp(req->method, "GET") == 0) {
        fado_objects_metadata(req, bucket, key);
    } else if (strcmp(req->method, "DELETE") == 0) {
        fado_objects_delete(req, bucket, key);
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
    return fado_objects_path(req->path, bucket, size, key);
}

static fado_stream_kind_e
fado_api_objects_kind(fado_req_t *req)
{
    char         bucket[64];
    const char  *key;
    int          metadata;

    if (!fado_api_objects_target(req, bucket, sizeof(bucket), &key)) {
        return FADO_STREAM_NONE;            /* /v1/buckets/{b} itself: plain JSON */
    }
    metadata = fado_req_arg(req, "metadata") != NULL;
    if (!fado_objects_streamed(req->method, req->path, metadata)) {
        return FADO_STREAM_JSON;            /* listing, metadata, delete */
    }
    return strcmp(req->method, "PUT") == 0 ? FADO_STREAM_UPLOAD : FADO_STREAM_DOWNLOAD;
}

static void *
fado_api_objects_upload_begin(fado_req_t *req, int64_t length)
{
    char         bucket[64];
    const char  *key;

    (void) fado_api_objects_target(req, bucket, sizeof(bucket), &key);
    return fado_objects_upload_begin(req, bucket, key, fado_req_header(req, "Content-Type"),
                                     length);
}

static int
fado_api_objects_upload_data(void *u, const char *data, size_t len)
{
    return fado_objects_upload_data(u, data, len);
}

static void
fado_api_objects_upload_end(fado_req_t *req, void *u)
{
    fado_objects_upload_end(req, u);
}

static void
fado_api_objects_upload_abort(void *u)
{
    fado_objects_upload_abort(u);
}

static void *
fado_api_objects_download_begin(fado_req_t *req, int head)
{
    char         bucket[64];
    const char  *key;

    (void) fado_api_objects_target(req, bucket, sizeof(bucket), &key);
    return fado_objects_download_begin(req, bucket, key, head);
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
    static const char *const  headers[] = { "Content-Type", "ETag", "Last-Modified",
                                            "X-Fado-Version-Id", "X-Fado-Cluster" };

    if (i >= sizeof(headers) / sizeof(headers[0])) {
        *name = NULL;
        return NULL;
    }
    *name = headers[i];
    return fado_objects_download_header(d, headers[i]);
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
