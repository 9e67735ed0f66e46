/*
 * fado_api_objects: the objects resource on the transport's streaming
 * interface (fado_stream_ops_t). The transport streams bodies and answers
 * on its object threads; fado_objects.c finds the sites and talks to the
 * stores. This file only reads the request: which object, which kind of
 * exchange, which headers.
 */

#include "fado_api.h"
#include "fado_objects.h"

#include <string.h>

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
