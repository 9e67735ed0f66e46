#include "fst_s3_client.h"
#include "fst_s3_xml.h"
#include "fst_buf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define FST_S3_ERR_BODY_MAX   (64 * 1024)

static _Atomic uint64_t  fst_s3_sent;
static _Atomic uint64_t  fst_s3_received;
static _Atomic uint64_t  fst_s3_object_sent;       /* bodies of requests on keys */
static _Atomic uint64_t  fst_s3_object_received;
#define FST_S3_MIN_PART       (5 * 1024 * 1024)

struct fst_s3_client_s {
    CURL             *curl;
    char             *endpoint;     /* "http://127.0.0.1:9000", no trailing '/' */
    char             *host;         /* "127.0.0.1:9000": the signed Host */
    char             *access_key;
    char             *secret_key;
    char             *region;
    fst_s3_creds_t    creds;
    int64_t           mp_threshold;
    size_t            mp_part_size;
    long              stall_timeout;        /* s without a byte either way */
    long              connect_timeout_ms;
    long              last_status;
    char              last_code[64];
};

static void
fst_s3_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fst_s3_errf(char *err, size_t err_len, const char *fmt, ...)
{
    va_list  ap;

    if (err == NULL || err_len == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static CURLcode  fst_s3_curl_status = CURLE_FAILED_INIT;

static void
fst_s3_curl_once(void)
{
    fst_s3_curl_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init is not thread-safe before curl 7.84 (Debian has 7.88,
 * but the controller may create clients from several threads at once). */
static int
fst_s3_curl_init(void)
{
    static pthread_once_t  once = PTHREAD_ONCE_INIT;

    if (pthread_once(&once, fst_s3_curl_once) != 0) {
        return -1;
    }
    return fst_s3_curl_status == CURLE_OK ? 0 : -1;
}

/*
 * Whether the last request made by this thread ended on a timeout (connect
 * or stall): the one fact callers need that the HTTP status cannot carry.
 */
static _Thread_local int  fst_s3_thread_timed_out;

/* A timeout from the environment (docs/controller.md), def when unset. */
static long
fst_s3_env_long(const char *name, long def, long lo, long hi)
{
    const char  *v = getenv(name);
    char        *end;
    long         n;

    if (v == NULL || *v == '\0') {
        return def;
    }
    n = strtol(v, &end, 10);
    return *end != '\0' || n < lo || n > hi ? def : n;
}

fst_s3_client_t *
fst_s3_client_new(const char *endpoint, const char *access_key,
    const char *secret_key, const char *region, char *err, size_t err_len)
{
    fst_s3_client_t   *c;
    const char        *h;
    size_t             n;

    if (endpoint == NULL || (strncmp(endpoint, "http://", 7) != 0
                             && strncmp(endpoint, "https://", 8) != 0))
    {
        fst_s3_errf(err, err_len, "storage endpoint \"%s\": must start with "
                     "http:// or https://", endpoint ? endpoint : "(null)");
        return NULL;
    }
    if (access_key == NULL || *access_key == '\0' || secret_key == NULL
        || *secret_key == '\0')
    {
        fst_s3_errf(err, err_len, "storage endpoint \"%s\": access_key and "
                     "secret_key are required", endpoint);
        return NULL;
    }
    h = strstr(endpoint, "://") + 3;
    n = strcspn(h, "/");
    if (n == 0 || (h[n] != '\0' && strcmp(h + n, "/") != 0)) {
        fst_s3_errf(err, err_len, "storage endpoint \"%s\": expected "
                     "scheme://host[:port] without a path", endpoint);
        return NULL;
    }
    if (fst_s3_curl_init() != 0) {
        fst_s3_errf(err, err_len, "curl_global_init failed");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        fst_s3_errf(err, err_len, "out of memory");
        return NULL;
    }
    c->endpoint = strndup(endpoint, (size_t) (h - endpoint) + n);
    c->host = strndup(h, n);
    c->access_key = strdup(access_key);
    c->secret_key = strdup(secret_key);
    c->region = strdup(region && *region ? region : "us-east-1");
    c->curl = curl_easy_init();
    if (c->endpoint == NULL || c->host == NULL || c->access_key == NULL
        || c->secret_key == NULL || c->region == NULL || c->curl == NULL)
    {
        fst_s3_client_free(c);
        fst_s3_errf(err, err_len, "out of memory");
        return NULL;
    }
    c->creds.access_key = c->access_key;
    c->creds.secret_key = c->secret_key;
    c->creds.region = c->region;
    c->creds.service = "s3";
    c->mp_threshold = 64 * 1024 * 1024;
    c->mp_part_size = 16 * 1024 * 1024;
    c->stall_timeout = fst_s3_env_long("FADO_S3_STALL_TIMEOUT", 10, 1, 3600);
    c->connect_timeout_ms = fst_s3_env_long("FADO_S3_CONNECT_TIMEOUT_MS", 3000, 100,
                                             600000);
    return c;
}

void
fst_s3_client_free(fst_s3_client_t *c)
{
    if (c == NULL) {
        return;
    }
    if (c->curl) {
        curl_easy_cleanup(c->curl);
    }
    if (c->secret_key) {
        memset(c->secret_key, 0, strlen(c->secret_key));
    }
    free(c->endpoint);
    free(c->host);
    free(c->access_key);
    free(c->secret_key);
    free(c->region);
    free(c);
}

void
fst_s3_client_set_multipart(fst_s3_client_t *c, int64_t threshold,
    size_t part_size)
{
    c->mp_part_size = part_size < FST_S3_MIN_PART ? FST_S3_MIN_PART
                                                   : part_size;
    c->mp_threshold = threshold < (int64_t) c->mp_part_size
                      ? (int64_t) c->mp_part_size : threshold;
}

void
fst_s3_client_set_stall_timeout(fst_s3_client_t *c, long seconds)
{
    c->stall_timeout = seconds > 0 ? seconds : 10;
}

int
fst_s3_timed_out(void)
{
    return fst_s3_thread_timed_out;
}

void
fst_s3_traffic(uint64_t *sent, uint64_t *received)
{
    *sent = fst_s3_sent;
    *received = fst_s3_received;
}

void
fst_s3_object_traffic(uint64_t *sent, uint64_t *received)
{
    *sent = fst_s3_object_sent;
    *received = fst_s3_object_received;
}

long
fst_s3_last_status(const fst_s3_client_t *c)
{
    return c->last_status;
}

const char *
fst_s3_last_code(const fst_s3_client_t *c)
{
    return c->last_code;
}

const char *
fst_s3_client_endpoint(const fst_s3_client_t *c)
{
    return c->endpoint;
}

const fst_s3_creds_t *
fst_s3_client_creds(const fst_s3_client_t *c)
{
    return &c->creds;
}

/* ------------------------------------------------------------ transport */

typedef struct {
    fst_s3_client_t         *client;
    const fst_s3_request_t  *req;
    fst_s3_response_t       *resp;
    fst_buf_t                body;
    int                      aborted;   /* the user's sink said stop */
    int                      read_failed;
} fst_s3_xfer_t;

static int
fst_s3_is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static void
fst_s3_copy_header(char *dst, size_t dst_len, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && isspace((unsigned char) v[n - 1])) {
        n--;
    }
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= dst_len) {
        n = dst_len - 1;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t
fst_s3_header_cb(char *line, size_t size, size_t nitems, void *ud)
{
    fst_s3_xfer_t          *x = ud;
    fst_s3_object_info_t   *info = &x->resp->info;
    size_t                  n = size * nitems, nl;
    const char             *colon = memchr(line, ':', n);
    char                    tmp[32];

    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue or a redirect) */
        memset(info, 0, sizeof(*info));
        info->size = -1;
        return n;
    }
    if (colon == NULL) {
        return n;
    }
    nl = (size_t) (colon - line);
    colon++;
#define FST_S3_HDR(name) (nl == sizeof(name) - 1 \
                           && strncasecmp(line, name, nl) == 0)
    if (FST_S3_HDR("etag")) {
        fst_s3_copy_header(info->etag, sizeof(info->etag), colon,
                            n - nl - 1);
    } else if (FST_S3_HDR("x-amz-version-id")) {
        fst_s3_copy_header(info->version_id, sizeof(info->version_id),
                            colon, n - nl - 1);
    } else if (FST_S3_HDR("content-type")) {
        fst_s3_copy_header(info->content_type, sizeof(info->content_type),
                            colon, n - nl - 1);
    } else if (FST_S3_HDR("last-modified")) {
        fst_s3_copy_header(info->last_modified,
                            sizeof(info->last_modified), colon, n - nl - 1);
    } else if (FST_S3_HDR("x-amz-replication-status")) {
        fst_s3_copy_header(info->replication_status,
                            sizeof(info->replication_status), colon,
                            n - nl - 1);
    } else if (FST_S3_HDR("x-amz-delete-marker")) {
        fst_s3_copy_header(tmp, sizeof(tmp), colon, n - nl - 1);
        info->delete_marker = strcmp(tmp, "true") == 0;
    } else if (FST_S3_HDR("content-length")) {
        fst_s3_copy_header(tmp, sizeof(tmp), colon, n - nl - 1);
        info->size = strtoll(tmp, NULL, 10);
    }
#undef FST_S3_HDR
    return n;
}

static size_t
fst_s3_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    fst_s3_xfer_t   *x = ud;
    size_t           n = size * nmemb;
    long             status = 0;

    if (curl_easy_getinfo(x->client->curl, CURLINFO_RESPONSE_CODE, &status)
        != CURLE_OK)
    {
        return 0;
    }
    if (x->req->write_fn && fst_s3_is_2xx(status)) {
        if (x->req->write_fn(x->req->write_ud, data, n) != 0) {
            x->aborted = 1;
            return 0;
        }
        return n;
    }
    /* error bodies are small XML; a runaway one is cut, not stored */
    if (x->body.len + n > FST_S3_ERR_BODY_MAX && !fst_s3_is_2xx(status)) {
        return n;
    }
    fst_buf_append(&x->body, data, n);
    return fst_buf_ok(&x->body) ? n : 0;
}

static size_t
fst_s3_read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    fst_s3_xfer_t   *x = ud;
    ssize_t          n;

    n = x->req->read_fn(x->req->read_ud, buf, size * nitems);
    if (n < 0) {
        x->read_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    return (size_t) n;
}

/* Parse <Error><Code>..</Code><Message>..</Message></Error> into the
 * client's last_code and a message suffix. */
static void
fst_s3_parse_error(fst_s3_client_t *c, const char *body, size_t len,
    char *msg, size_t msg_len)
{
    fst_s3_xml_span_t  s = { body, body + len };

    msg[0] = '\0';
    if (body == NULL) {
        return;
    }
    fst_s3_xml_copy(&s, "Code", c->last_code, sizeof(c->last_code));
    fst_s3_xml_copy(&s, "Message", msg, msg_len);
}

static int
fst_s3_has_header(const fst_s3_request_t *req, const char *name)
{
    size_t  i;

    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
fst_s3_request(fst_s3_client_t *c, const fst_s3_request_t *req,
    fst_s3_response_t *resp, char *err, size_t err_len)
{
    fst_s3_xfer_t          x;
    fst_s3_signed_t        sig;
    fst_s3_sign_input_t    in;
    fst_s3_kv_t           *hdrs = NULL;
    fst_buf_t              path, url, line;
    struct curl_slist     *list = NULL, *tmp;
    char                   date[FST_S3_AMZ_DATE_LEN + 1];
    char                   hash[FST_S3_SHA256_HEX_LEN + 1], md5[25];
    char                   cerr[CURL_ERROR_SIZE];
    const char            *payload;
    size_t                 i, nh = 0;
    CURLcode               rc = CURLE_OK;
    CURL                  *h = c->curl;
    int                    ret = -1;

    memset(resp, 0, sizeof(*resp));
    resp->info.size = -1;
    memset(&x, 0, sizeof(x));
    memset(&sig, 0, sizeof(sig));
    x.client = c;
    x.req = req;
    x.resp = resp;
    fst_buf_init(&x.body);
    fst_buf_init(&path);
    fst_buf_init(&url);
    fst_buf_init(&line);
    c->last_status = 0;
    c->last_code[0] = '\0';
    cerr[0] = '\0';

    if (req->path) {
        fst_buf_puts(&path, req->path);
    } else {
        fst_buf_puts(&path, "/");
        if (req->bucket) {
            fst_buf_puts(&path, req->bucket);
            if (req->key) {
                fst_buf_puts(&path, "/");
                fst_buf_puts(&path, req->key);
            }
        }
    }

    if (req->read_fn) {
        payload = FST_S3_UNSIGNED;
    } else {
        if (fst_s3_sha256_hex(req->body ? req->body : "", req->body_len,
                               hash) != 0
            || (req->body && fst_s3_md5_base64(req->body, req->body_len,
                                                 md5) != 0))
        {
            fst_s3_errf(err, err_len, "%s %s: hashing the body failed",
                         req->method, path.data ? path.data : "");
            goto done;
        }
        payload = hash;
    }
    fst_s3_amz_date(time(NULL), date);

    hdrs = calloc(req->nheaders + 4, sizeof(*hdrs));
    if (hdrs == NULL || !fst_buf_ok(&path)) {
        fst_s3_errf(err, err_len, "out of memory");
        goto done;
    }
    hdrs[nh++] = (fst_s3_kv_t) { "host", c->host };
    hdrs[nh++] = (fst_s3_kv_t) { "x-amz-date", date };
    hdrs[nh++] = (fst_s3_kv_t) { "x-amz-content-sha256", payload };
    if (req->body) {
        hdrs[nh++] = (fst_s3_kv_t) { "content-md5", md5 };
    }
    for (i = 0; i < req->nheaders; i++) {
        hdrs[nh++] = req->headers[i];
    }
    memset(&in, 0, sizeof(in));
    in.method = req->method;
    in.path = path.data;
    in.query = req->query;
    in.nquery = req->nquery;
    in.headers = hdrs;
    in.nheaders = nh;
    in.payload_hash = payload;
    in.amz_date = date;
    if (fst_s3_sign(&c->creds, &in, &sig, err, err_len) != 0) {
        goto done;
    }

    for (i = 0; i < nh; i++) {
        fst_buf_free(&line);
        fst_buf_printf(&line, "%s: %s", hdrs[i].name, hdrs[i].value);
        if (!fst_buf_ok(&line)) {
            goto nomem;
        }
        tmp = curl_slist_append(list, line.data);
        if (tmp == NULL) {
            goto nomem;
        }
        list = tmp;
    }
    fst_buf_free(&line);
    fst_buf_printf(&line, "Authorization: %s", sig.authorization);
    if (!fst_buf_ok(&line)
        || (tmp = curl_slist_append(list, line.data)) == NULL)
    {
        goto nomem;
    }
    list = tmp;
    /* no 100-continue round trip: MinIO answers errors before reading */
    if ((tmp = curl_slist_append(list, "Expect:")) == NULL) {
        goto nomem;
    }
    list = tmp;
    /* curl would add an unsigned form Content-Type to in-memory bodies */
    if (req->body && !fst_s3_has_header(req, "content-type")) {
        if ((tmp = curl_slist_append(list, "Content-Type:")) == NULL) {
            goto nomem;
        }
        list = tmp;
    }
    fst_buf_printf(&url, "%s%s", c->endpoint, sig.uri);
    if (!fst_buf_ok(&url)) {
        goto nomem;
    }

    curl_easy_reset(h);
    fst_s3_thread_timed_out = 0;
#define FST_S3_SETOPT(opt, val) \
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
    FST_S3_SETOPT(CURLOPT_URL, url.data);
    FST_S3_SETOPT(CURLOPT_HTTPHEADER, list);
    FST_S3_SETOPT(CURLOPT_ERRORBUFFER, cerr);
    FST_S3_SETOPT(CURLOPT_NOSIGNAL, 1L);
    /* A MinIO that accepts connections and never answers (stopped, hung)
     * must not hold a caller: the connect and every silence are bounded. */
    FST_S3_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    FST_S3_SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
    FST_S3_SETOPT(CURLOPT_LOW_SPEED_TIME, c->stall_timeout);
    FST_S3_SETOPT(CURLOPT_HEADERFUNCTION, fst_s3_header_cb);
    FST_S3_SETOPT(CURLOPT_HEADERDATA, &x);
    FST_S3_SETOPT(CURLOPT_WRITEFUNCTION, fst_s3_write_cb);
    FST_S3_SETOPT(CURLOPT_WRITEDATA, &x);
    if (strcmp(req->method, "HEAD") == 0) {
        FST_S3_SETOPT(CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0) {
        FST_S3_SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (req->read_fn) {
        FST_S3_SETOPT(CURLOPT_UPLOAD, 1L);
        FST_S3_SETOPT(CURLOPT_READFUNCTION, fst_s3_read_cb);
        FST_S3_SETOPT(CURLOPT_READDATA, &x);
        FST_S3_SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t) req->read_len);
        /* CURLOPT_UPLOAD means PUT; POST bodies keep their method */
        FST_S3_SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
    } else if (req->body) {
        FST_S3_SETOPT(CURLOPT_POSTFIELDS, req->body);
        FST_S3_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE,
                       (curl_off_t) req->body_len);
    }
#undef FST_S3_SETOPT
    if (rc != CURLE_OK) {
        fst_s3_errf(err, err_len, "%s %s: curl setup: %s", req->method,
                     path.data, curl_easy_strerror(rc));
        goto done;
    }
    if (req->read_fn && req->read_len < 0) {
        fst_s3_errf(err, err_len, "%s %s: a streamed body needs its length",
                     req->method, path.data);
        goto done;
    }

    rc = curl_easy_perform(h);
    fst_s3_thread_timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status)
        != CURLE_OK)
    {
        resp->status = 0;
    }
    {
        curl_off_t  up = 0, down = 0;

        if (curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK
            && up > 0)
        {
            fst_s3_sent += (uint64_t) up;
            if (req->key != NULL && req->key[0] != '\0') {
                fst_s3_object_sent += (uint64_t) up;
            }
        }
        if (curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down) == CURLE_OK
            && down > 0)
        {
            fst_s3_received += (uint64_t) down;
            if (req->key != NULL && req->key[0] != '\0') {
                fst_s3_object_received += (uint64_t) down;
            }
        }
    }
    c->last_status = resp->status;
    if (rc != CURLE_OK) {
        if (x.aborted) {
            fst_s3_errf(err, err_len, "%s %s: the receiver stopped the "
                         "transfer", req->method, path.data);
        } else if (x.read_failed) {
            fst_s3_errf(err, err_len, "%s %s: reading the upload failed",
                         req->method, path.data);
        } else {
            fst_s3_errf(err, err_len, "%s %s%s: %s", req->method,
                         c->endpoint, path.data, cerr[0] ? cerr
                         : curl_easy_strerror(rc));
        }
        goto done;
    }
    if (!fst_buf_ok(&x.body)) {
        goto nomem;
    }
    resp->body_len = x.body.len;
    resp->body = fst_buf_steal(&x.body);
    if (resp->body == NULL) {
        goto nomem;
    }
    if (!fst_s3_is_2xx(resp->status)) {
        char  msg[256];

        fst_s3_parse_error(c, resp->body, resp->body_len, msg, sizeof(msg));
        fst_s3_errf(err, err_len, "%s %s: HTTP %ld%s%s%s%s", req->method,
                     path.data, resp->status, c->last_code[0] ? " " : "",
                     c->last_code, msg[0] ? ": " : "", msg);
    }
    ret = 0;
    goto done;

nomem:
    fst_s3_errf(err, err_len, "%s: out of memory", req->method);
done:
    /* the handle keeps pointers to our header list and buffers */
    curl_easy_reset(h);
    curl_slist_free_all(list);
    fst_s3_signed_free(&sig);
    free(hdrs);
    fst_buf_free(&x.body);
    fst_buf_free(&path);
    fst_buf_free(&url);
    fst_buf_free(&line);
    if (ret != 0) {
        fst_s3_response_free(resp);
    }
    return ret;
}

void
fst_s3_response_free(fst_s3_response_t *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* Perform and require a 2xx answer; the error message is already set. */
static int
fst_s3_call(fst_s3_client_t *c, const fst_s3_request_t *req,
    fst_s3_response_t *resp, char *err, size_t err_len)
{
    if (fst_s3_request(c, req, resp, err, err_len) != 0) {
        return -1;
    }
    if (!fst_s3_is_2xx(resp->status)) {
        fst_s3_response_free(resp);
        return -1;
    }
    return 0;
}

static int
fst_s3_check_name(const char *what, const char *v, char *err, size_t err_len)
{
    if (v == NULL || *v == '\0') {
        fst_s3_errf(err, err_len, "%s is required", what);
        return -1;
    }
    return 0;
}

/* S3 bucket naming: 3-63 of [a-z0-9.-], starting and ending alphanumeric. */
static int
fst_s3_check_bucket(const char *b, char *err, size_t err_len)
{
    size_t  i, n;

    if (fst_s3_check_name("bucket", b, err, err_len) != 0) {
        return -1;
    }
    n = strlen(b);
    for (i = 0; i < n; i++) {
        if (!(islower((unsigned char) b[i]) || isdigit((unsigned char) b[i])
              || b[i] == '-' || b[i] == '.'))
        {
            break;
        }
    }
    if (n < 3 || n > 63 || i < n || !isalnum((unsigned char) b[0])
        || !isalnum((unsigned char) b[n - 1]))
    {
        fst_s3_errf(err, err_len, "bucket \"%s\": invalid name (3-63 "
                     "characters of a-z, 0-9, '.', '-', starting and ending "
                     "with a letter or digit)", b);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ buckets */

int
fst_s3_bucket_create(fst_s3_client_t *c, const char *bucket, int *created,
    char *err, size_t err_len)
{
    fst_s3_request_t   req = { .method = "PUT", .bucket = bucket };
    fst_s3_response_t  resp;

    *created = 0;
    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_request(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    if (fst_s3_is_2xx(resp.status)) {
        *created = 1;
        return 0;
    }
    if (resp.status == 409
        && strcmp(c->last_code, "BucketAlreadyOwnedByYou") == 0)
    {
        return 0;
    }
    return -1;
}

int
fst_s3_bucket_exists(fst_s3_client_t *c, const char *bucket, int *exists,
    char *err, size_t err_len)
{
    fst_s3_request_t   req = { .method = "HEAD", .bucket = bucket };
    fst_s3_response_t  resp;

    *exists = 0;
    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_request(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    if (fst_s3_is_2xx(resp.status)) {
        *exists = 1;
        return 0;
    }
    if (resp.status == 404) {
        return 0;
    }
    fst_s3_errf(err, err_len, "HEAD /%s: HTTP %ld", bucket, resp.status);
    return -1;
}

int
fst_s3_bucket_delete(fst_s3_client_t *c, const char *bucket,
    char *err, size_t err_len)
{
    fst_s3_request_t   req = { .method = "DELETE", .bucket = bucket };
    fst_s3_response_t  resp;

    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_call(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    return 0;
}

int
fst_s3_bucket_config_get(fst_s3_client_t *c, const char *bucket,
    const char *subresource, char **xml, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { subresource, "" } };
    fst_s3_request_t   req = { .method = "GET", .bucket = bucket,
                                .query = q, .nquery = 1 };
    fst_s3_response_t  resp;

    *xml = NULL;
    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_request(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    if (fst_s3_is_2xx(resp.status)) {
        *xml = resp.body;
        return 0;
    }
    fst_s3_response_free(&resp);
    /* "none configured" answers are 404 with a specific code per kind */
    if (resp.status == 404 && strcmp(c->last_code, "NoSuchBucket") != 0) {
        return 0;
    }
    return -1;
}

int
fst_s3_bucket_config_put(fst_s3_client_t *c, const char *bucket,
    const char *subresource, const char *xml, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { subresource, "" } };
    fst_s3_kv_t        h[] = { { "content-type", "application/xml" } };
    fst_s3_request_t   req = { .method = "PUT", .bucket = bucket,
                                .query = q, .nquery = 1, .headers = h,
                                .nheaders = 1, .body = xml,
                                .body_len = strlen(xml) };
    fst_s3_response_t  resp;

    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_call(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    return 0;
}

int
fst_s3_bucket_config_delete(fst_s3_client_t *c, const char *bucket,
    const char *subresource, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { subresource, "" } };
    fst_s3_request_t   req = { .method = "DELETE", .bucket = bucket,
                                .query = q, .nquery = 1 };
    fst_s3_response_t  resp;

    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_request(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    if (fst_s3_is_2xx(resp.status)
        || (resp.status == 404 && strcmp(c->last_code, "NoSuchBucket") != 0))
    {
        return 0;
    }
    return -1;
}

int
fst_s3_bucket_versioning_set(fst_s3_client_t *c, const char *bucket,
    int enabled, char *err, size_t err_len)
{
    char  xml[256];

    snprintf(xml, sizeof(xml),
             "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
             "2006-03-01/\"><Status>%s</Status></VersioningConfiguration>",
             enabled ? "Enabled" : "Suspended");
    return fst_s3_bucket_config_put(c, bucket, "versioning", xml, err,
                                     err_len);
}

int
fst_s3_bucket_versioning_get(fst_s3_client_t *c, const char *bucket,
    char *status, size_t status_len, char *err, size_t err_len)
{
    char                *xml;
    fst_s3_xml_span_t    s;

    if (fst_s3_bucket_config_get(c, bucket, "versioning", &xml, err,
                                  err_len) != 0)
    {
        return -1;
    }
    if (xml == NULL) {
        snprintf(status, status_len, "%s", "");
        return 0;
    }
    s.p = xml;
    s.end = xml + strlen(xml);
    fst_s3_xml_copy(&s, "Status", status, status_len);
    free(xml);
    return 0;
}

/* ------------------------------------------------------------ listings */

static int
fst_s3_list_page(fst_s3_client_t *c, const char *body, size_t len,
    const char *elem, int versions, fst_s3_list_fn fn, void *ud,
    int *stopped, char *err, size_t err_len)
{
    fst_s3_xml_span_t   all = { body, body + len }, item, s;
    fst_s3_entry_t      e;
    char                key[1100], vid[128], etag[80], lm[64], size[32];
    char                latest[8];
    int                 r, dm;

    fst_s3_xml_span_t   av = all, ad = all, iv, id;
    int                 rv = -2, rd = -2;

    (void) c;
    /* versions come as <Version> and <DeleteMarker> interleaved in order;
     * keep the next one of each kind found and search again only for the
     * kind just consumed, so a page is scanned once per kind */
    for (;;) {
        if (versions) {
            if (rv == -2) {
                rv = fst_s3_xml_next(&av, "Version", &iv);
            }
            if (rd == -2) {
                rd = fst_s3_xml_next(&ad, "DeleteMarker", &id);
            }
            if (rv < 0 || rd < 0) {
                goto bad;
            }
            if (rv == 0 && rd == 0) {
                return 0;
            }
            if (rv == 1 && (rd == 0 || iv.p < id.p)) {
                item = iv;
                dm = 0;
                rv = -2;
            } else {
                item = id;
                dm = 1;
                rd = -2;
            }
        } else {
            r = fst_s3_xml_next(&all, elem, &item);
            if (r < 0) {
                goto bad;
            }
            if (r == 0) {
                return 0;
            }
            dm = 0;
        }
        s = item;
        if (!fst_s3_xml_copy(&s, "Key", key, sizeof(key))) {
            goto bad;
        }
        fst_s3_xml_copy(&s, "VersionId", vid, sizeof(vid));
        fst_s3_xml_copy(&s, "ETag", etag, sizeof(etag));
        fst_s3_xml_copy(&s, "LastModified", lm, sizeof(lm));
        fst_s3_xml_copy(&s, "Size", size, sizeof(size));
        fst_s3_xml_copy(&s, "IsLatest", latest, sizeof(latest));
        memset(&e, 0, sizeof(e));
        e.key = key;
        e.version_id = versions ? vid : NULL;
        if (etag[0] == '"') {
            size_t  n = strlen(etag);

            memmove(etag, etag + 1, n);
            if (n >= 2 && etag[n - 2] == '"') {
                etag[n - 2] = '\0';
            }
        }
        e.etag = etag;
        e.last_modified = lm;
        e.size = size[0] ? strtoll(size, NULL, 10) : 0;
        e.is_latest = strcmp(latest, "true") == 0;
        e.delete_marker = dm;
        if (fn(ud, &e) != 0) {
            *stopped = 1;
            return 0;
        }
    }
bad:
    fst_s3_errf(err, err_len, "listing: malformed XML from MinIO");
    return -1;
}

static int
fst_s3_list(fst_s3_client_t *c, const char *bucket, const char *prefix,
    int versions, fst_s3_list_fn fn, void *ud, char *err, size_t err_len)
{
    fst_s3_kv_t         q[4];
    fst_s3_request_t    req;
    fst_s3_response_t   resp;
    fst_s3_xml_span_t   s;
    char               *tok1 = NULL, *tok2 = NULL, trunc[8];
    int                 stopped = 0, rc = -1, nomem;

    if (fst_s3_check_bucket(bucket, err, err_len) != 0) {
        return -1;
    }
    for (;;) {
        size_t  nq = 0;

        if (versions) {
            q[nq++] = (fst_s3_kv_t) { "versions", "" };
            if (tok1) {
                q[nq++] = (fst_s3_kv_t) { "key-marker", tok1 };
                q[nq++] = (fst_s3_kv_t) { "version-id-marker", tok2 };
            }
        } else {
            q[nq++] = (fst_s3_kv_t) { "list-type", "2" };
            if (tok1) {
                q[nq++] = (fst_s3_kv_t) { "continuation-token", tok1 };
            }
        }
        if (prefix && *prefix) {
            q[nq++] = (fst_s3_kv_t) { "prefix", prefix };
        }
        memset(&req, 0, sizeof(req));
        req.method = "GET";
        req.bucket = bucket;
        req.query = q;
        req.nquery = nq;
        if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
            goto done;
        }
        if (fst_s3_list_page(c, resp.body, resp.body_len,
                              versions ? NULL : "Contents", versions, fn, ud,
                              &stopped, err, err_len) != 0)
        {
            fst_s3_response_free(&resp);
            goto done;
        }
        s.p = resp.body;
        s.end = resp.body + resp.body_len;
        fst_s3_xml_copy(&s, "IsTruncated", trunc, sizeof(trunc));
        free(tok1);
        free(tok2);
        tok1 = tok2 = NULL;
        if (stopped || strcmp(trunc, "true") != 0) {
            fst_s3_response_free(&resp);
            rc = 0;
            goto done;
        }
        if (versions) {
            tok1 = fst_s3_xml_text(&s, "NextKeyMarker", &nomem);
            tok2 = fst_s3_xml_text(&s, "NextVersionIdMarker", &nomem);
            if (tok2 == NULL && tok1 != NULL) {
                tok2 = strdup("");
            }
        } else {
            tok1 = fst_s3_xml_text(&s, "NextContinuationToken", &nomem);
        }
        fst_s3_response_free(&resp);
        if (tok1 == NULL || (versions && tok2 == NULL)) {
            fst_s3_errf(err, err_len, "listing %s: truncated page without "
                         "a continuation marker", bucket);
            goto done;
        }
    }
done:
    free(tok1);
    free(tok2);
    return rc;
}

int
fst_s3_list_objects(fst_s3_client_t *c, const char *bucket,
    const char *prefix, fst_s3_list_fn fn, void *ud, char *err,
    size_t err_len)
{
    return fst_s3_list(c, bucket, prefix, 0, fn, ud, err, err_len);
}

int
fst_s3_list_versions(fst_s3_client_t *c, const char *bucket,
    const char *prefix, fst_s3_list_fn fn, void *ud, char *err,
    size_t err_len)
{
    return fst_s3_list(c, bucket, prefix, 1, fn, ud, err, err_len);
}

/* ------------------------------------------------------------ objects */

static int
fst_s3_check_object(const char *bucket, const char *key, char *err,
    size_t err_len)
{
    if (fst_s3_check_bucket(bucket, err, err_len) != 0
        || fst_s3_check_name("object key", key, err, err_len) != 0)
    {
        return -1;
    }
    if (strlen(key) > 1024) {
        fst_s3_errf(err, err_len, "object key: longer than 1024 bytes");
        return -1;
    }
    return 0;
}

int
fst_s3_object_head(fst_s3_client_t *c, const char *bucket, const char *key,
    const char *version_id, fst_s3_object_info_t *info, char *err,
    size_t err_len)
{
    fst_s3_kv_t        q[] = { { "versionId", version_id } };
    fst_s3_request_t   req = { .method = "HEAD", .bucket = bucket,
                                .key = key, .query = q,
                                .nquery = version_id ? 1 : 0 };
    fst_s3_response_t  resp;

    if (fst_s3_check_object(bucket, key, err, err_len) != 0
        || fst_s3_request(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    if (!fst_s3_is_2xx(resp.status)) {
        /* HEAD has no body: name the common cases ourselves */
        fst_s3_errf(err, err_len, "HEAD /%s/%s: %s", bucket, key,
                     resp.status == 404 ? "no such object"
                     : resp.status == 403 ? "access denied" : "failed");
        snprintf(c->last_code, sizeof(c->last_code), "%s",
                 resp.status == 404 ? "NoSuchKey" : "");
        return -1;
    }
    if (info) {
        *info = resp.info;
    }
    return 0;
}

int
fst_s3_object_get(fst_s3_client_t *c, const char *bucket, const char *key,
    const char *version_id, fst_s3_write_fn fn, void *ud,
    fst_s3_object_info_t *info, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { "versionId", version_id } };
    fst_s3_request_t   req = { .method = "GET", .bucket = bucket,
                                .key = key, .query = q,
                                .nquery = version_id ? 1 : 0,
                                .write_fn = fn, .write_ud = ud };
    fst_s3_response_t  resp;

    if (fst_s3_check_object(bucket, key, err, err_len) != 0
        || fst_s3_call(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    if (info) {
        *info = resp.info;
    }
    fst_s3_response_free(&resp);
    return 0;
}

/* One part of a multipart upload, read from the caller's source. */
typedef struct {
    fst_s3_read_fn   fn;
    void            *ud;
    int64_t          left;
} fst_s3_part_src_t;

static ssize_t
fst_s3_part_read(void *ud, char *buf, size_t len)
{
    fst_s3_part_src_t   *p = ud;
    ssize_t              n;

    if (p->left <= 0) {
        return 0;
    }
    if ((int64_t) len > p->left) {
        len = (size_t) p->left;
    }
    n = p->fn(p->ud, buf, len);
    if (n > 0) {
        p->left -= n;
    }
    return n;
}

/* Fill buf with up to len bytes from fn; returns bytes read or -1. */
static ssize_t
fst_s3_read_full(fst_s3_read_fn fn, void *ud, char *buf, size_t len)
{
    size_t   got = 0;
    ssize_t  n;

    while (got < len) {
        n = fn(ud, buf + got, len - got);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t) n;
    }
    return (ssize_t) got;
}

static int
fst_s3_multipart_abort(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *upload_id)
{
    fst_s3_kv_t         q[] = { { "uploadId", upload_id } };
    fst_s3_request_t    req = { .method = "DELETE", .bucket = bucket,
                                 .key = key, .query = q, .nquery = 1 };
    fst_s3_response_t   resp;
    char                e[64];
    long                st = c->last_status;
    char                code[64];

    /* keep the error that made us abort visible to the caller */
    memcpy(code, c->last_code, sizeof(code));
    if (fst_s3_request(c, &req, &resp, e, sizeof(e)) == 0) {
        fst_s3_response_free(&resp);
    }
    c->last_status = st;
    memcpy(c->last_code, code, sizeof(code));
    return 0;
}

static int
fst_s3_object_put_multipart(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *content_type, fst_s3_read_fn fn, void *ud,
    int64_t length, fst_s3_object_info_t *info, char *err, size_t err_len)
{
    fst_s3_kv_t          hct[] = { { "content-type", content_type } };
    fst_s3_kv_t          qi[] = { { "uploads", "" } };
    fst_s3_request_t     req = { .method = "POST", .bucket = bucket,
                                  .key = key, .query = qi, .nquery = 1,
                                  .headers = hct,
                                  .nheaders = content_type ? 1 : 0 };
    fst_s3_response_t    resp;
    fst_s3_xml_span_t    s;
    fst_buf_t            done;
    fst_s3_part_src_t    src;
    char                *upload_id = NULL, *buf = NULL, pn[16];
    int64_t              sent = 0;
    int                  part = 0, rc = -1;
    ssize_t              n;

    fst_buf_init(&done);
    if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
        return -1;
    }
    s.p = resp.body;
    s.end = resp.body + resp.body_len;
    upload_id = fst_s3_xml_text(&s, "UploadId", NULL);
    fst_s3_response_free(&resp);
    if (upload_id == NULL) {
        fst_s3_errf(err, err_len, "POST /%s/%s?uploads: no UploadId in the "
                     "answer", bucket, key);
        return -1;
    }
    if (length < 0) {
        buf = malloc(c->mp_part_size);
        if (buf == NULL) {
            fst_s3_errf(err, err_len, "multipart: out of memory");
            goto fail;
        }
    }
    fst_buf_puts(&done, "<CompleteMultipartUpload>");

    for (;;) {
        fst_s3_kv_t   qp[] = { { "partNumber", pn }, { "uploadId", upload_id } };
        int64_t       plen;

        memset(&req, 0, sizeof(req));
        req.method = "PUT";
        req.bucket = bucket;
        req.key = key;
        req.query = qp;
        req.nquery = 2;
        if (length >= 0) {
            plen = length - sent;
            if (plen > (int64_t) c->mp_part_size) {
                plen = (int64_t) c->mp_part_size;
            }
            if (plen == 0 && part > 0) {
                break;
            }
            src.fn = fn;
            src.ud = ud;
            src.left = plen;
            req.read_fn = fst_s3_part_read;
            req.read_ud = &src;
            req.read_len = plen;
        } else {
            n = fst_s3_read_full(fn, ud, buf, c->mp_part_size);
            if (n < 0) {
                fst_s3_errf(err, err_len, "PUT /%s/%s: reading the upload "
                             "failed", bucket, key);
                goto fail;
            }
            if (n == 0 && part > 0) {
                break;
            }
            plen = n;
            req.body = buf;
            req.body_len = (size_t) n;
        }
        part++;
        if (part > 10000) {
            fst_s3_errf(err, err_len, "PUT /%s/%s: more than 10000 parts",
                         bucket, key);
            goto fail;
        }
        snprintf(pn, sizeof(pn), "%d", part);
        if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
            goto fail;
        }
        fst_s3_response_free(&resp);
        if (resp.info.etag[0] == '\0') {
            fst_s3_errf(err, err_len, "PUT /%s/%s part %d: no ETag",
                         bucket, key, part);
            goto fail;
        }
        fst_buf_printf(&done, "<Part><PartNumber>%d</PartNumber>"
                                "<ETag>\"%s\"</ETag></Part>", part,
                                resp.info.etag);
        sent += plen;
        if (length < 0 && (size_t) plen < c->mp_part_size) {
            break;
        }
    }
    fst_buf_puts(&done, "</CompleteMultipartUpload>");
    if (!fst_buf_ok(&done)) {
        fst_s3_errf(err, err_len, "multipart: out of memory");
        goto fail;
    }
    {
        fst_s3_kv_t  qc[] = { { "uploadId", upload_id } };

        memset(&req, 0, sizeof(req));
        req.method = "POST";
        req.bucket = bucket;
        req.key = key;
        req.query = qc;
        req.nquery = 1;
        req.body = done.data;
        req.body_len = done.len;
        if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
            goto fail;
        }
    }
    /* S3 may answer 200 and still report an error in the body */
    s.p = resp.body;
    s.end = resp.body + resp.body_len;
    {
        fst_s3_xml_span_t  t = s, e;

        if (fst_s3_xml_next(&t, "Error", &e) == 1) {
            char  msg[200];

            fst_s3_parse_error(c, resp.body, resp.body_len, msg,
                                sizeof(msg));
            fst_s3_errf(err, err_len, "completing /%s/%s: %s %s", bucket,
                         key, c->last_code, msg);
            fst_s3_response_free(&resp);
            goto fail;
        }
    }
    if (info) {
        *info = resp.info;
        fst_s3_xml_copy(&s, "ETag", info->etag, sizeof(info->etag));
        if (info->etag[0] == '"') {
            size_t  l = strlen(info->etag);

            memmove(info->etag, info->etag + 1, l);
            if (l >= 2) {
                info->etag[l - 2] = '\0';
            }
        }
        info->size = sent;
    }
    fst_s3_response_free(&resp);
    rc = 0;
    goto out;

fail:
    fst_s3_multipart_abort(c, bucket, key, upload_id);
out:
    free(buf);
    free(upload_id);
    fst_buf_free(&done);
    return rc;
}

int
fst_s3_object_put(fst_s3_client_t *c, const char *bucket, const char *key,
    const char *content_type, fst_s3_read_fn fn, void *ud, int64_t length,
    fst_s3_object_info_t *info, char *err, size_t err_len)
{
    fst_s3_kv_t        hct[] = { { "content-type", content_type } };
    fst_s3_request_t   req = { .method = "PUT", .bucket = bucket,
                                .key = key, .headers = hct,
                                .nheaders = content_type ? 1 : 0,
                                .read_fn = fn, .read_ud = ud,
                                .read_len = length };
    fst_s3_response_t  resp;

    if (fst_s3_check_object(bucket, key, err, err_len) != 0) {
        return -1;
    }
    if (length < 0 || length > c->mp_threshold) {
        return fst_s3_object_put_multipart(c, bucket, key, content_type, fn,
                                            ud, length, info, err, err_len);
    }
    if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
        return -1;
    }
    if (info) {
        *info = resp.info;
        info->size = length;
    }
    fst_s3_response_free(&resp);
    return 0;
}

typedef struct {
    const char  *p;
    size_t       left;
} fst_s3_mem_src_t;

static ssize_t
fst_s3_mem_read(void *ud, char *buf, size_t len)
{
    fst_s3_mem_src_t  *m = ud;

    if (len > m->left) {
        len = m->left;
    }
    memcpy(buf, m->p, len);
    m->p += len;
    m->left -= len;
    return (ssize_t) len;
}

int
fst_s3_object_put_buffer(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *content_type, const void *data, size_t len,
    fst_s3_object_info_t *info, char *err, size_t err_len)
{
    fst_s3_mem_src_t  m = { data, len };

    return fst_s3_object_put(c, bucket, key, content_type, fst_s3_mem_read,
                              &m, (int64_t) len, info, err, err_len);
}

int
fst_s3_object_delete(fst_s3_client_t *c, const char *bucket,
    const char *key, const char *version_id, char *err, size_t err_len)
{
    fst_s3_kv_t        q[] = { { "versionId", version_id } };
    fst_s3_request_t   req = { .method = "DELETE", .bucket = bucket,
                                .key = key, .query = q,
                                .nquery = version_id ? 1 : 0 };
    fst_s3_response_t  resp;

    if (fst_s3_check_object(bucket, key, err, err_len) != 0
        || fst_s3_call(c, &req, &resp, err, err_len) != 0)
    {
        return -1;
    }
    fst_s3_response_free(&resp);
    return 0;
}

int
fst_s3_objects_delete(fst_s3_client_t *c, const char *bucket,
    const fst_s3_entry_t *entries, size_t n, char *err, size_t err_len)
{
    fst_s3_kv_t          q[] = { { "delete", "" } };
    fst_s3_kv_t          h[] = { { "content-type", "application/xml" } };
    fst_s3_request_t     req = { .method = "POST", .bucket = bucket,
                                  .query = q, .nquery = 1, .headers = h,
                                  .nheaders = 1 };
    fst_s3_response_t    resp;
    fst_s3_xml_span_t    s, e;
    fst_buf_t            b;
    size_t               i;
    int                  rc = -1;

    if (fst_s3_check_bucket(bucket, err, err_len) != 0) {
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    if (n > 1000) {
        fst_s3_errf(err, err_len, "delete in /%s: at most 1000 objects per "
                     "request (%zu)", bucket, n);
        return -1;
    }
    fst_buf_init(&b);
    fst_buf_puts(&b, "<Delete><Quiet>true</Quiet>");
    for (i = 0; i < n; i++) {
        fst_buf_puts(&b, "<Object><Key>");
        fst_buf_xml_escape(&b, entries[i].key);
        fst_buf_puts(&b, "</Key>");
        if (entries[i].version_id && *entries[i].version_id) {
            fst_buf_puts(&b, "<VersionId>");
            fst_buf_xml_escape(&b, entries[i].version_id);
            fst_buf_puts(&b, "</VersionId>");
        }
        fst_buf_puts(&b, "</Object>");
    }
    fst_buf_puts(&b, "</Delete>");
    if (!fst_buf_ok(&b)) {
        fst_s3_errf(err, err_len, "delete in /%s: out of memory", bucket);
        goto done;
    }
    req.body = b.data;
    req.body_len = b.len;
    if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
        goto done;
    }
    s.p = resp.body;
    s.end = resp.body + resp.body_len;
    if (fst_s3_xml_next(&s, "Error", &e) == 1) {
        char  key[256], code[64], msg[200];

        fst_s3_xml_copy(&e, "Key", key, sizeof(key));
        fst_s3_xml_copy(&e, "Code", code, sizeof(code));
        fst_s3_xml_copy(&e, "Message", msg, sizeof(msg));
        snprintf(c->last_code, sizeof(c->last_code), "%s", code);
        fst_s3_errf(err, err_len, "delete /%s/%s: %s: %s", bucket, key,
                     code, msg);
        fst_s3_response_free(&resp);
        goto done;
    }
    fst_s3_response_free(&resp);
    rc = 0;
done:
    fst_buf_free(&b);
    return rc;
}

int
fst_s3_error_http_status(long status, const char *code)
{
    static const struct {
        const char  *code;
        int          http;
    } map[] = {
        { "NoSuchBucket", 404 }, { "NoSuchKey", 404 }, { "NoSuchVersion", 404 },
        { "NoSuchUpload", 404 }, { "InvalidBucketName", 400 },
        { "InvalidArgument", 400 }, { "KeyTooLongError", 400 },
        { "InvalidObjectName", 400 }, { "MalformedXML", 400 },
        { "BucketNotEmpty", 409 }, { "BucketAlreadyExists", 409 },
        { "BucketAlreadyOwnedByYou", 409 }, { "OperationAborted", 409 },
        { "PreconditionFailed", 412 }, { "InvalidRange", 416 },
        { "EntityTooLarge", 413 }, { "SlowDown", 503 },
        { "ServiceUnavailable", 503 }, { "XMinioServerNotInitialized", 503 },
    };
    size_t  i;

    if (code && *code) {
        for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            if (strcmp(code, map[i].code) == 0) {
                return map[i].http;
            }
        }
    }
    if (status == 0 || status == 503) {
        return 503;
    }
    if (status == 404) {
        return 404;             /* HEAD answers carry no code */
    }
    return 502;
}

int
fst_s3_buckets_list(fst_s3_client_t *c, fst_s3_list_fn fn, void *ud,
    char *err, size_t err_len)
{
    fst_s3_request_t    req = { .method = "GET", .path = "/" };
    fst_s3_response_t   resp;
    fst_s3_xml_span_t   all, item;
    fst_s3_entry_t      e;
    char                name[64], date[64];
    int                 r;

    if (fst_s3_call(c, &req, &resp, err, err_len) != 0) {
        return -1;
    }
    all.p = resp.body;
    all.end = resp.body + resp.body_len;
    while ((r = fst_s3_xml_next(&all, "Bucket", &item)) == 1) {
        fst_s3_xml_copy(&item, "Name", name, sizeof(name));
        fst_s3_xml_copy(&item, "CreationDate", date, sizeof(date));
        memset(&e, 0, sizeof(e));
        e.key = name;
        e.last_modified = date;
        if (fn(ud, &e) != 0) {
            break;
        }
    }
    fst_s3_response_free(&resp);
    if (r < 0) {
        fst_s3_errf(err, err_len, "GET /: malformed XML from MinIO");
        return -1;
    }
    return 0;
}
