/*
 * fado storage streams: object bodies for servers that push uploads and
 * pull downloads (libmicrohttpd hands an upload over in pieces and asks a
 * reader callback for a download), while the S3 client pulls uploads and
 * pushes downloads. Each stream runs its transfer in its own thread with
 * its own client, through a bounded buffer: memory stays at the buffer
 * size whatever the object's size.
 *
 * Upload:   s = upload_start(...); upload_write(s, ...)*; upload_finish(s)
 *           (or upload_abort(s): MinIO keeps nothing of it).
 * Download: s = download_start(...) (answers 404 & co. before any body);
 *           download_read(s, ...)* until 0; download_close(s).
 */

#ifndef FST_STREAM_H
#define FST_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fst_s3_client.h"
#include "fst_site.h"

typedef struct fst_stream_s  fst_stream_t;

/* length -1 when unknown (multipart, one part buffered). NULL on error. */
fst_stream_t *fst_stream_upload_start(
    const fst_site_t *site, const char *bucket, const char *key,
    const char *content_type, int64_t length, char *err, size_t err_len);
/* Blocks while the buffer is full; -1 if the transfer already failed. */
int fst_stream_upload_write(fst_stream_t *s, const void *data,
    size_t len);
/* End of the body: waits for MinIO's answer. Frees s. 0 or -1 with err. */
int fst_stream_upload_finish(fst_stream_t *s,
    fst_s3_object_info_t *info, char *err, size_t err_len);
void fst_stream_upload_abort(fst_stream_t *s);

/*
 * Open a download: the object's metadata (size, etag, version, type) is in
 * *info on return, and the body that follows is of that very version.
 * On failure NULL, *status the HTTP status (404 for a missing object or
 * bucket, 0 when MinIO could not be reached) and err the reason.
 */
fst_stream_t *fst_stream_download_start(
    const fst_site_t *site, const char *bucket, const char *key,
    const char *version_id, fst_s3_object_info_t *info, long *status,
    char *err, size_t err_len);
/* Bytes read (blocks until some), 0 at the end, -1 on failure. */
ssize_t fst_stream_download_read(fst_stream_t *s, void *buf,
    size_t len);
/* The failure behind a -1 from download_read. */
const char *fst_stream_error(const fst_stream_t *s);
/* Stop (early or at the end) and free. */
void fst_stream_download_close(fst_stream_t *s);

/* Buffer size of new streams (default 1 MiB). */
void fst_stream_set_buffer(size_t bytes);

#endif /* FST_STREAM_H */
