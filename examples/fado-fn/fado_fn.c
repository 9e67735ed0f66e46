/*
 * fado-fn: an example function runtime for fado's local platform.
 *
 * OpenFaaS-style paths, /function/<name>; each function reads the object
 * the request names (bucket: header X-Fado-Bucket or ?bucket=, key: ?key=)
 * from the object store of the cluster it runs in, streaming it through the
 * computation (constant memory), and answers JSON with the result, where it
 * ran, and how long the data took to arrive. When the object store it reads
 * is far away (a WAN delay proxy in front of another cluster), fetch_ms
 * shows the price of running away from the data.
 *
 *   checksum   SHA-256 of the object
 *   wordcount  lines, words and bytes
 *   bytes      size and byte histogram summary (distinct values, most common)
 */

#include <ctype.h>
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fst_hex.h"
#include "fst_s3_client.h"

typedef struct {
    const char  *cluster;
    const char  *zone;
    const char  *listen;
    const char  *storage;
    const char  *access_key;
    const char  *secret_key;
    int          threads;
} fado_fn_config_t;

typedef enum { FADO_FN_CHECKSUM, FADO_FN_WORDCOUNT, FADO_FN_BYTES } fado_fn_kind_e;

/* The computation state fed by the streamed download. */
typedef struct {
    fado_fn_kind_e   kind;
    EVP_MD_CTX      *sha;
    unsigned long    lines, words, bytes;
    int              in_word;
    unsigned long    hist[256];
    double           compute_ms;
} fado_fn_work_t;

static fado_fn_config_t       fado_fn_conf;
static volatile sig_atomic_t  fado_fn_stop;

static double
fado_fn_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
fado_fn_consume(void *ud, const char *buf, size_t len)
{
    fado_fn_work_t  *w = ud;
    double           t0 = fado_fn_now_ms();

    w->bytes += len;
    switch (w->kind) {
    case FADO_FN_CHECKSUM:
        if (EVP_DigestUpdate(w->sha, buf, len) != 1) {
            return -1;
        }
        break;
    case FADO_FN_WORDCOUNT:
        for (size_t i = 0; i < len; i++) {
            int  space = isspace((unsigned char) buf[i]);
            w->lines += buf[i] == '\n';
            if (!space && !w->in_word) {
                w->words++;
            }
            w->in_word = !space;
        }
        break;
    case FADO_FN_BYTES:
        for (size_t i = 0; i < len; i++) {
            w->hist[(unsigned char) buf[i]]++;
        }
        break;
    }
    w->compute_ms += fado_fn_now_ms() - t0;
    return 0;
}

static json_t *
fado_fn_result(fado_fn_work_t *w)
{
    switch (w->kind) {
    case FADO_FN_CHECKSUM: {
        unsigned char  md[EVP_MAX_MD_SIZE];
        unsigned int   n = 0;
        char           hex[2 * EVP_MAX_MD_SIZE + 1];

        if (EVP_DigestFinal_ex(w->sha, md, &n) != 1) {
            return NULL;
        }
        return json_pack("{s:s}", "sha256", fst_hex_encode(md, n, hex));
    }
    case FADO_FN_WORDCOUNT:
        return json_pack("{s:I, s:I, s:I}", "lines", (json_int_t) w->lines,
                         "words", (json_int_t) w->words, "bytes", (json_int_t) w->bytes);
    case FADO_FN_BYTES: {
        int  distinct = 0, top = 0;
        for (int i = 0; i < 256; i++) {
            distinct += w->hist[i] > 0;
            if (w->hist[i] > w->hist[top]) {
                top = i;
            }
        }
        return json_pack("{s:I, s:i, s:i, s:I}", "size", (json_int_t) w->bytes,
                         "distinct_values", distinct, "most_common", top,
                         "most_common_count", (json_int_t) w->hist[top]);
    }
    }
    return NULL;
}

static const char *fado_fn_traceparent(struct MHD_Connection *c);

static enum MHD_Result
fado_fn_reply(struct MHD_Connection *c, unsigned int status, json_t *j, double fetch_ms)
{
    struct MHD_Response  *resp;
    enum MHD_Result       r;
    char                 *body, ms[32];
    const char           *tp;

    json_object_set_new(j, "cluster", json_string(fado_fn_conf.cluster));
    json_object_set_new(j, "zone", json_string(fado_fn_conf.zone));
    json_object_set_new(j, "endpoint", json_string(fado_fn_conf.listen));
    if ((tp = fado_fn_traceparent(c)) != NULL) {
        json_object_set_new(j, "traceparent", json_string(tp));
    }
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (body == NULL) {
        return MHD_NO;
    }
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    snprintf(ms, sizeof(ms), "%.3f", fetch_ms);
    if (MHD_add_response_header(resp, "Content-Type", "application/json") != MHD_YES
        || MHD_add_response_header(resp, "X-Fado-Cluster", fado_fn_conf.cluster) != MHD_YES
        || MHD_add_response_header(resp, "X-Fado-Fetch-Ms", ms) != MHD_YES)
    {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
fado_fn_error(struct MHD_Connection *c, unsigned int status, const char *code,
    const char *field, const char *msg)
{
    json_t  *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);

    if (e == NULL) {
        return MHD_NO;
    }
    if (field != NULL) {
        json_object_set_new(json_object_get(e, "error"), "field", json_string(field));
    }
    return fado_fn_reply(c, status, e, 0);
}

/* A traceparent as the gateway passes it on (W3C, version 00), or NULL:
 * only a well-formed one is logged or echoed, so no header can forge a
 * log line. */
static const char *
fado_fn_traceparent(struct MHD_Connection *c)
{
    const char  *tp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");

    if (tp == NULL || strlen(tp) != 55 || strspn(tp, "0123456789abcdef-") != 55
        || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
    {
        return NULL;
    }
    return tp;
}

/* One line per invocation: the trace id ties it to the gateway's access
 * log ($fado_trace_id) and, for asynchronous calls, to the call id. */
static void
fado_fn_log_call(struct MHD_Connection *c, const char *name)
{
    const char  *tp = fado_fn_traceparent(c);
    const char  *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Fado-Call-Id");

    if (id != NULL && (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)) {
        id = NULL;
    }
    fprintf(stderr, "fado-fn: call function=%.*s trace_id=%.32s parent_id=%.16s call_id=%s\n",
            (int) strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-"), name,
            tp ? tp + 3 : "-", tp ? tp + 36 : "-", id ? id : "-");
}

static enum MHD_Result
fado_fn_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    const char             *name, *bucket, *key;
    fado_fn_work_t          w;
    fst_s3_client_t       *s3;
    fst_s3_object_info_t   info;
    char                    err[512];
    double                  t0, total;
    int                     rc;
    json_t                 *result;

    (void) cls;
    (void) version;
    (void) upload_data;
    if (*con_cls == NULL) {
        *con_cls = (void *) 1;      /* headers seen; wait for the body */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;      /* request bodies are read and ignored; */
        return MHD_YES;             /* the answer waits for the last call */
    }

    if (strcmp(url, "/healthz") == 0) {
        return fado_fn_reply(c, 200, json_pack("{s:s}", "status", "ok"), 0);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        return fado_fn_error(c, 405, "method_not_allowed", NULL, "use GET or POST");
    }
    if (strncmp(url, "/function/", 10) != 0) {
        return fado_fn_error(c, 404, "not_found", NULL, "functions live under /function/<name>");
    }
    name = url + 10;
    fado_fn_log_call(c, name);
    memset(&w, 0, sizeof(w));
    if (strcmp(name, "checksum") == 0) {
        w.kind = FADO_FN_CHECKSUM;
    } else if (strcmp(name, "wordcount") == 0) {
        w.kind = FADO_FN_WORDCOUNT;
    } else if (strcmp(name, "bytes") == 0) {
        w.kind = FADO_FN_BYTES;
    } else {
        return fado_fn_error(c, 404, "unknown_function", NULL,
                             "functions: checksum, wordcount, bytes");
    }
    bucket = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Fado-Bucket");
    if (bucket == NULL || bucket[0] == '\0') {
        bucket = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "bucket");
    }
    key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    if (bucket == NULL || bucket[0] == '\0') {
        return fado_fn_error(c, 400, "missing_parameter", "bucket",
                             "name the bucket in X-Fado-Bucket or ?bucket=");
    }
    if (key == NULL || key[0] == '\0') {
        return fado_fn_error(c, 400, "missing_parameter", "key", "name the object in ?key=");
    }

    /* One client per request: the S3 client is not shared across threads. */
    s3 = fst_s3_client_new(fado_fn_conf.storage, fado_fn_conf.access_key,
                            fado_fn_conf.secret_key, NULL, err, sizeof(err));
    if (s3 == NULL) {
        return fado_fn_error(c, 500, "storage_client", NULL, err);
    }
    if (w.kind == FADO_FN_CHECKSUM
        && ((w.sha = EVP_MD_CTX_new()) == NULL
            || EVP_DigestInit_ex(w.sha, EVP_sha256(), NULL) != 1))
    {
        EVP_MD_CTX_free(w.sha);
        fst_s3_client_free(s3);
        return fado_fn_error(c, 500, "internal", NULL, "cannot start SHA-256");
    }
    t0 = fado_fn_now_ms();
    rc = fst_s3_object_get(s3, bucket, key, NULL, fado_fn_consume, &w, &info, err, sizeof(err));
    total = fado_fn_now_ms() - t0;
    if (rc != 0) {
        long  st = fst_s3_last_status(s3);
        EVP_MD_CTX_free(w.sha);
        fst_s3_client_free(s3);
        if (st == 404) {
            return fado_fn_error(c, 404, "no_such_object", "key", err);
        }
        return fado_fn_error(c, 502, "storage_error", NULL, err);
    }
    fst_s3_client_free(s3);
    result = fado_fn_result(&w);
    EVP_MD_CTX_free(w.sha);
    if (result == NULL) {
        return fado_fn_error(c, 500, "internal", NULL, "computation failed");
    }
    return fado_fn_reply(c, 200, json_pack("{s:s, s:s, s:s, s:o, s:f, s:f}",
        "function", name, "bucket", bucket, "key", key, "result", result,
        "fetch_ms", total - w.compute_ms, "compute_ms", w.compute_ms), total - w.compute_ms);
}

static void
fado_fn_on_signal(int sig)
{
    (void) sig;
    fado_fn_stop = 1;
}

static void
fado_fn_usage(FILE *out)
{
    fprintf(out,
        "usage: fado-fn --cluster NAME --zone ZONE --listen 127.0.0.1:PORT\n"
        "               --storage-endpoint URL [--threads N]\n"
        "  keys from FADO_FN_ACCESS_KEY and FADO_FN_SECRET_KEY (environment)\n");
}

int
main(int argc, char **argv)
{
    static const struct option  opts[] = {
        { "cluster", required_argument, NULL, 'c' },
        { "zone", required_argument, NULL, 'z' },
        { "listen", required_argument, NULL, 'l' },
        { "storage-endpoint", required_argument, NULL, 's' },
        { "threads", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    struct sockaddr_in   addr;
    struct MHD_Daemon   *d;
    char                 host[64];
    const char          *colon;
    long                 port;
    int                  ch;
    struct sigaction     sa;

    fado_fn_conf.threads = 4;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': fado_fn_conf.cluster = optarg; break;
        case 'z': fado_fn_conf.zone = optarg; break;
        case 'l': fado_fn_conf.listen = optarg; break;
        case 's': fado_fn_conf.storage = optarg; break;
        case 't': fado_fn_conf.threads = atoi(optarg); break;
        case 'h': fado_fn_usage(stdout); return 0;
        default: fado_fn_usage(stderr); return 2;
        }
    }
    fado_fn_conf.access_key = getenv("FADO_FN_ACCESS_KEY");
    fado_fn_conf.secret_key = getenv("FADO_FN_SECRET_KEY");
    if (!fado_fn_conf.cluster || !fado_fn_conf.zone || !fado_fn_conf.listen
        || !fado_fn_conf.storage || !fado_fn_conf.access_key || !fado_fn_conf.secret_key
        || fado_fn_conf.threads < 1 || fado_fn_conf.threads > 64)
    {
        fado_fn_usage(stderr);
        return 2;
    }
    colon = strrchr(fado_fn_conf.listen, ':');
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (colon == NULL || (size_t) (colon - fado_fn_conf.listen) >= sizeof(host)
        || port < 1 || port > 65535)
    {
        fprintf(stderr, "fado-fn: invalid --listen \"%s\"\n", fado_fn_conf.listen);
        return 2;
    }
    memcpy(host, fado_fn_conf.listen, (size_t) (colon - fado_fn_conf.listen));
    host[colon - fado_fn_conf.listen] = '\0';
    addr.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "fado-fn: invalid --listen \"%s\"\n", fado_fn_conf.listen);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fado-fn: libcurl initialisation failed\n");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fado_fn_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
        (uint16_t) port, NULL, NULL, fado_fn_handler, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) fado_fn_conf.threads,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fado-fn: cannot listen on %s\n", fado_fn_conf.listen);
        return 1;
    }
    fprintf(stderr, "fado-fn: cluster=%s zone=%s listen=%s storage=%s\n", fado_fn_conf.cluster,
            fado_fn_conf.zone, fado_fn_conf.listen, fado_fn_conf.storage);
    while (!fado_fn_stop) {
        pause();
    }
    MHD_stop_daemon(d);
    curl_global_cleanup();
    return 0;
}
