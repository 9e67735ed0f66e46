#include "fst_stream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t  fst_stream_buffer = 1024 * 1024;

struct fst_stream_s {
    pthread_t              thread;
    pthread_mutex_t        mu;
    pthread_cond_t         cv;
    char                  *buf;         /* ring buffer */
    size_t                 cap;
    size_t                 head;        /* next byte to take */
    size_t                 len;         /* bytes held */
    int                    eof;         /* the writer side is done */
    int                    cancelled;   /* the user side gave up */
    int                    done;        /* the transfer thread returned */
    int                    rc;
    char                   err[768];
    fst_s3_client_t       *client;
    char                  *bucket;
    char                  *key;
    char                  *content_type;
    char                  *version_id;
    int64_t                length;
    fst_s3_object_info_t   info;
};

void
fst_stream_set_buffer(size_t bytes)
{
    fst_stream_buffer = bytes < 4096 ? 4096 : bytes;
}

static void
fst_stream_free(fst_stream_t *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    fst_s3_client_free(s->client);
    free(s->buf);
    free(s->bucket);
    free(s->key);
    free(s->content_type);
    free(s->version_id);
    free(s);
}

static fst_stream_t *
fst_stream_new(const fst_site_t *site, const char *bucket,
    const char *key, const char *content_type, const char *version_id,
    char *err, size_t err_len)
{
    fst_stream_t  *s;

    if (site == NULL || bucket == NULL || key == NULL) {
        snprintf(err, err_len, "stream: site, bucket and key are required");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, err_len, "stream: out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        snprintf(err, err_len, "stream: pthread_mutex_init failed");
        return NULL;
    }
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        snprintf(err, err_len, "stream: pthread_cond_init failed");
        return NULL;
    }
    s->cap = fst_stream_buffer;
    s->buf = malloc(s->cap);
    s->bucket = strdup(bucket);
    s->key = strdup(key);
    s->content_type = content_type ? strdup(content_type) : NULL;
    s->version_id = version_id ? strdup(version_id) : NULL;
    if (s->buf == NULL || s->bucket == NULL || s->key == NULL
        || (content_type && s->content_type == NULL)
        || (version_id && s->version_id == NULL))
    {
        fst_stream_free(s);
        snprintf(err, err_len, "stream: out of memory");
        return NULL;
    }
    s->client = fst_s3_client_new(site->endpoint, site->access_key,
                                   site->secret_key, site->region, err,
                                   err_len);
    if (s->client == NULL) {
        fst_stream_free(s);
        return NULL;
    }
    return s;
}

/* ------------------------------------------------------------ upload */

/* The S3 client pulls the body from the ring buffer. */
static ssize_t
fst_stream_pull(void *ud, char *out, size_t len)
{
    fst_stream_t           *s = ud;
    size_t                  n, first;

    pthread_mutex_lock(&s->mu);
    while (s->len == 0 && !s->eof && !s->cancelled) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    if (s->cancelled) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    n = len < s->len ? len : s->len;
    first = s->cap - s->head < n ? s->cap - s->head : n;
    memcpy(out, s->buf + s->head, first);
    memcpy(out + first, s->buf, n - first);
    s->head = (s->head + n) % s->cap;
    s->len -= n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return (ssize_t) n;
}

static void *
fst_stream_upload_main(void *arg)
{
    fst_stream_t           *s = arg;
    int                     rc;

    rc = fst_s3_object_put(s->client, s->bucket, s->key, s->content_type,
                            fst_stream_pull, s, s->length, &s->info,
                            s->err, sizeof(s->err));
    pthread_mutex_lock(&s->mu);
    s->rc = rc;
    s->done = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

fst_stream_t *
fst_stream_upload_start(const fst_site_t *site,
    const char *bucket, const char *key, const char *content_type,
    int64_t length, char *err, size_t err_len)
{
    fst_stream_t  *s;

    s = fst_stream_new(site, bucket, key, content_type, NULL, err, err_len);
    if (s == NULL) {
        return NULL;
    }
    s->length = length;
    if (pthread_create(&s->thread, NULL, fst_stream_upload_main, s) != 0) {
        snprintf(err, err_len, "upload %s/%s: cannot start a thread",
                 bucket, key);
        fst_stream_free(s);
        return NULL;
    }
    return s;
}

int
fst_stream_upload_write(fst_stream_t *s, const void *data,
    size_t len)
{
    const char  *p = data;
    size_t       n, tail, first;

    pthread_mutex_lock(&s->mu);
    while (len) {
        while (s->len == s->cap && !s->done) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        if (s->done) {          /* MinIO answered (an error) before the end */
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        n = s->cap - s->len < len ? s->cap - s->len : len;
        tail = (s->head + s->len) % s->cap;
        first = s->cap - tail < n ? s->cap - tail : n;
        memcpy(s->buf + tail, p, first);
        memcpy(s->buf, p + first, n - first);
        s->len += n;
        p += n;
        len -= n;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int
fst_stream_upload_finish(fst_stream_t *s,
    fst_s3_object_info_t *info, char *err, size_t err_len)
{
    int  rc;

    pthread_mutex_lock(&s->mu);
    s->eof = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    rc = s->rc;
    if (rc != 0) {
        snprintf(err, err_len, "%s", s->err);
    } else if (info) {
        *info = s->info;
    }
    fst_stream_free(s);
    return rc;
}

void
fst_stream_upload_abort(fst_stream_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->cancelled = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* the read callback fails, curl aborts, a multipart upload is aborted */
    pthread_join(s->thread, NULL);
    fst_stream_free(s);
}

/* ------------------------------------------------------------ download */

/* The S3 client pushes the body into the ring buffer. */
static int
fst_stream_push(void *ud, const char *data, size_t len)
{
    fst_stream_t           *s = ud;
    size_t                  n, tail, first;

    pthread_mutex_lock(&s->mu);
    while (len) {
        while (s->len == s->cap && !s->cancelled) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        if (s->cancelled) {
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        n = s->cap - s->len < len ? s->cap - s->len : len;
        tail = (s->head + s->len) % s->cap;
        first = s->cap - tail < n ? s->cap - tail : n;
        memcpy(s->buf + tail, data, first);
        memcpy(s->buf, data + first, n - first);
        s->len += n;
        data += n;
        len -= n;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void *
fst_stream_download_main(void *arg)
{
    fst_stream_t           *s = arg;
    fst_s3_object_info_t    info;
    int                     rc;

    rc = fst_s3_object_get(s->client, s->bucket, s->key, s->version_id,
                            fst_stream_push, s, &info, s->err,
                            sizeof(s->err));
    pthread_mutex_lock(&s->mu);
    s->rc = rc;
    s->done = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

fst_stream_t *
fst_stream_download_start(const fst_site_t *site,
    const char *bucket, const char *key, const char *version_id,
    fst_s3_object_info_t *info, long *status, char *err, size_t err_len)
{
    fst_stream_t  *s;

    *status = 0;
    s = fst_stream_new(site, bucket, key, NULL, version_id, err, err_len);
    if (s == NULL) {
        return NULL;
    }
    /* metadata first, so the caller can answer 404 or set the length;
     * then the body of exactly that version */
    if (fst_s3_object_head(s->client, bucket, key, version_id, &s->info,
                            err, err_len) != 0)
    {
        *status = fst_s3_last_status(s->client);
        fst_stream_free(s);
        return NULL;
    }
    *status = 200;
    if (s->version_id == NULL && s->info.version_id[0]
        && strcmp(s->info.version_id, "null") != 0)
    {
        s->version_id = strdup(s->info.version_id);
        if (s->version_id == NULL) {
            snprintf(err, err_len, "download: out of memory");
            fst_stream_free(s);
            return NULL;
        }
    }
    if (info) {
        *info = s->info;
    }
    if (pthread_create(&s->thread, NULL, fst_stream_download_main, s) != 0) {
        snprintf(err, err_len, "download %s/%s: cannot start a thread",
                 bucket, key);
        fst_stream_free(s);
        return NULL;
    }
    return s;
}

ssize_t
fst_stream_download_read(fst_stream_t *s, void *out, size_t len)
{
    size_t  n, first;

    pthread_mutex_lock(&s->mu);
    while (s->len == 0 && !s->done) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    if (s->len == 0) {
        pthread_mutex_unlock(&s->mu);
        return s->rc == 0 ? 0 : -1;
    }
    n = len < s->len ? len : s->len;
    first = s->cap - s->head < n ? s->cap - s->head : n;
    memcpy(out, s->buf + s->head, first);
    memcpy((char *) out + first, s->buf, n - first);
    s->head = (s->head + n) % s->cap;
    s->len -= n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return (ssize_t) n;
}

const char *
fst_stream_error(const fst_stream_t *s)
{
    return s->err;
}

void
fst_stream_download_close(fst_stream_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->cancelled = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    fst_stream_free(s);
}
