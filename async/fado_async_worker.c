/*
 * fado_async_worker: the queue worker's threads.
 *
 * Each thread is a consumer of the group (<consumer>-<n>), holds one call
 * at a time, and owns a Redis connection and a libcurl handle (kept alive
 * to the gateway). For one call, in this order:
 *
 *   1. read the call's state: if an outcome is already recorded (a worker
 *      died after recording it), skip to the callback, never invoke again;
 *   2. invoke POST <gateway>/function/<name>?<query> with the caller's
 *      bucket header, content type, body, traceparent, X-Fado-Call-Id and
 *      X-Fado-Attempt: through the gateway, so routing by data location
 *      and every policy apply as for a synchronous call;
 *   3. on a connection failure, a timeout, 429 or 5xx: wait
 *      min(cap, base * 2^(attempt-1)) with equal jitter (half fixed, half
 *      random) and try again, up to max_attempts;
 *   4. record the outcome (state, status, the first result_max bytes);
 *   5. POST it to the callback URL, with the same kind of retries, and
 *      record the callback's outcome;
 *   6. XACK and XDEL the entry (one MULTI).
 *
 * While it waits between attempts the thread renews its claim on the entry
 * (XCLAIM ... JUSTID), so only a consumer silent for min_idle is presumed
 * dead; XAUTOCLAIM then hands its entry to another thread (step 1 applies).
 */

#include "fado_async.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <curl/curl.h>

#include "fado_log.h"


typedef struct {
    pthread_t       tid;
    int             started;
    char            consumer[160];
    CURL           *curl;
    redisContext   *rc;
    unsigned int    seed;
} fado_async_worker_t;


/* What one HTTP exchange gave. */
typedef struct {
    long    status;          /* 0: no answer */
    char    error[CURL_ERROR_SIZE];
    char   *body;            /* the first result_max bytes */
    size_t  len;
    size_t  total;           /* bytes the answer had */
    char    ctype[256];
} fado_async_answer_t;


static fado_async_worker_t  *fado_async_workers;


static long long
fado_async_worker_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static void
fado_async_worker_sleep_ms(long ms)
{
    struct timespec  ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}


static size_t
fado_async_worker_write(char *data, size_t size, size_t n, void *cls)
{
    fado_async_answer_t  *a = cls;
    size_t                len = size * n, keep;
    char                 *nb;

    a->total += len;
    keep = a->len < fado_async_conf.result_max ? fado_async_conf.result_max - a->len : 0;
    if (keep > len) {
        keep = len;
    }
    if (keep > 0) {
        nb = realloc(a->body, a->len + keep);
        if (nb == NULL) {
            return 0;   /* curl fails the transfer: a retryable error */
        }
        memcpy(nb + a->len, data, keep);
        a->body = nb;
        a->len += keep;
    }
    return len;
}


static size_t
fado_async_worker_header(char *data, size_t size, size_t n, void *cls)
{
    fado_async_answer_t  *a = cls;
    size_t                len = size * n, v;

    if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
        v = 13;
        while (v < len && (data[v] == ' ' || data[v] == '\t')) {
            v++;
        }
        while (len > v && (data[len - 1] == '\r' || data[len - 1] == '\n')) {
            len--;
        }
        snprintf(a->ctype, sizeof(a->ctype), "%.*s", (int) (len - v), data + v);
    }
    return size * n;
}


static void
fado_async_answer_reset(fado_async_answer_t *a)
{
    free(a->body);
    memset(a, 0, sizeof(*a));
}


/* One POST; the answer in a. -1 only when the request could not be built. */
static int
fado_async_worker_post(fado_async_worker_t *w, const char *url, struct curl_slist *h,
    const char *body, size_t len, long timeout_ms, fado_async_answer_t *a)
{
    CURLcode  rc;

    fado_async_answer_reset(a);
    curl_easy_reset(w->curl);
    if (curl_easy_setopt(w->curl, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_POST, 1L) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, a->error) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, fado_async_worker_write) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, a) != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, fado_async_worker_header)
           != CURLE_OK
        || curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, a) != CURLE_OK)
    {
        snprintf(a->error, sizeof(a->error), "cannot set up the request");
        return -1;
    }
    rc = curl_easy_perform(w->curl);
    if (rc != CURLE_OK) {
        if (a->error[0] == '\0') {
            snprintf(a->error, sizeof(a->error), "%s", curl_easy_strerror(rc));
        }
        a->status = 0;
        return 0;
    }
    if (curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &a->status) != CURLE_OK) {
        a->status = 0;
        snprintf(a->error, sizeof(a->error), "no status code");
    }
    return 0;
}


static int
fado_async_retryable(const fado_async_answer_t *a)
{
    return a->status == 0 || a->status == 429 || a->status >= 500;
}


/* Waits before attempt n+1, renewing the claim on the entry every second. */
static void
fado_async_worker_backoff(fado_async_worker_t *w, const char *stream_id, int attempt)
{
    long  delay, slept, step;

    delay = fado_async_conf.backoff_ms;
    for (int i = 1; i < attempt && delay < fado_async_conf.backoff_cap_ms; i++) {
        delay *= 2;
    }
    if (delay > fado_async_conf.backoff_cap_ms) {
        delay = fado_async_conf.backoff_cap_ms;
    }
    delay = delay / 2 + (long) (rand_r(&w->seed) % (unsigned int) (delay / 2 + 1));

    for (slept = 0; slept < delay && !fado_async_stop; slept += step) {
        step = delay - slept < 1000 ? delay - slept : 1000;
        fado_async_worker_sleep_ms(step);
        if (fado_async_queue_touch(w->rc, w->consumer, stream_id) != 0) {
            fado_log(FADO_LOG_WARN, "msg=\"cannot renew the claim on a call\" stream_id=%s",
                     stream_id);
        }
    }
}


static struct curl_slist *
fado_async_worker_add(struct curl_slist *h, int *ok, const char *name, const char *value)
{
    char                buf[FADO_ASYNC_URL_MAX + 128];
    struct curl_slist  *n;

    if (!*ok) {
        return h;
    }
    snprintf(buf, sizeof(buf), "%s: %s", name, value);
    n = curl_slist_append(h, buf);
    if (n == NULL) {
        *ok = 0;
        return h;
    }
    return n;
}


static void
fado_async_worker_field(const char **f, const char **v, size_t *l, int *n, const char *field,
    const char *value, size_t len)
{
    f[*n] = field;
    v[*n] = value;
    l[*n] = len;
    (*n)++;
}


/* Steps 2-4: invoke with retries, then record the outcome. -1: Redis. */
static int
fado_async_worker_invoke(fado_async_worker_t *w, fado_async_call_t *call,
    fado_async_answer_t *a)
{
    struct curl_slist  *h = NULL;
    char                url[8192 + 256], attempt_s[16], status_s[16], now_s[32], bytes_s[32];
    const char         *f[16], *v[16];
    size_t              l[16];
    long long           attempts;
    int                 ok = 1, n, attempt;

    n = 0;
    snprintf(now_s, sizeof(now_s), "%lld", fado_async_worker_now_ms());
    fado_async_worker_field(f, v, l, &n, "state", "running", (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "worker", w->consumer, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "updated_ms", now_s, (size_t) -1);
    if (fado_async_state_set(w->rc, call->id, n, f, v, l) != 0) {
        return -1;
    }

    snprintf(url, sizeof(url), "%s/function/%s%s%s", fado_async_conf.gateway, call->fn,
             call->query[0] ? "?" : "", call->query);

    for (attempt = 1; attempt <= fado_async_conf.max_attempts && !fado_async_stop; attempt++) {
        if (fado_async_state_incr(w->rc, call->id, "attempts", &attempts) != 0) {
            return -1;
        }
        snprintf(attempt_s, sizeof(attempt_s), "%lld", attempts);
        ok = 1;
        h = NULL;
        h = fado_async_worker_add(h, &ok, "X-Fado-Call-Id", call->id);
        h = fado_async_worker_add(h, &ok, "X-Fado-Attempt", attempt_s);
        h = fado_async_worker_add(h, &ok, "traceparent", call->traceparent);
        h = fado_async_worker_add(h, &ok, "Expect", "");
        if (call->bucket[0]) {
            h = fado_async_worker_add(h, &ok, "X-Fado-Bucket", call->bucket);
        }
        h = fado_async_worker_add(h, &ok, "Content-Type",
                                  call->ctype[0] ? call->ctype : "application/octet-stream");
        if (!ok) {
            curl_slist_free_all(h);
            snprintf(a->error, sizeof(a->error), "out of memory");
            a->status = 0;
            break;
        }
        fado_async_worker_post(w, url, h, call->body, call->body_len,
                               fado_async_conf.invoke_timeout_ms, a);
        curl_slist_free_all(h);
        fado_log(FADO_LOG_DEBUG, "msg=invoked call_id=%s attempt=%lld status=%ld error=%s",
                 call->id, attempts, a->status, FADO_LOG_Q(a->error));
        if (!fado_async_retryable(a)) {
            break;
        }
        fado_log(FADO_LOG_INFO, "msg=\"invocation failed, will retry\" call_id=%s attempt=%lld "
                 "status=%ld error=%s", call->id, attempts, a->status, FADO_LOG_Q(a->error));
        if (attempt < fado_async_conf.max_attempts) {
            fado_async_worker_backoff(w, call->stream_id, attempt);
        }
    }
    if (fado_async_stop && fado_async_retryable(a)) {
        /* shutting down mid-retry: leave the entry pending for another worker */
        return -1;
    }

    n = 0;
    snprintf(status_s, sizeof(status_s), "%ld", a->status);
    snprintf(now_s, sizeof(now_s), "%lld", fado_async_worker_now_ms());
    snprintf(bytes_s, sizeof(bytes_s), "%zu", a->total);
    fado_async_worker_field(f, v, l, &n, "state",
        a->status >= 200 && a->status < 300 ? "succeeded" : "failed", (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "http_status", status_s, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "error", a->status ? "" : a->error, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "result", a->body ? a->body : "", a->len);
    fado_async_worker_field(f, v, l, &n, "result_bytes", bytes_s, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "result_truncated", a->total > a->len ? "1" : "0",
                            (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "result_content_type", a->ctype, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "finished_ms", now_s, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "updated_ms", now_s, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "callback_state",
                            call->callback[0] ? "pending" : "none", (size_t) -1);
    return fado_async_state_set(w->rc, call->id, n, f, v, l);
}


/* Step 5: the outcome to the callback URL; recorded. -1: Redis. */
static int
fado_async_worker_callback(fado_async_worker_t *w, fado_async_call_t *call,
    const char *state, long status, const char *ctype, const char *body, size_t len,
    int truncated)
{
    fado_async_answer_t  cb;
    struct curl_slist   *h = NULL;
    char                 status_s[16], attempts_s[16], cbstatus_s[16], now_s[32];
    const char          *f[8], *v[8];
    size_t               l[8];
    int                  ok = 1, n, attempt;

    snprintf(status_s, sizeof(status_s), "%ld", status);
    h = fado_async_worker_add(h, &ok, "X-Fado-Call-Id", call->id);
    h = fado_async_worker_add(h, &ok, "X-Fado-Call-State", state);
    h = fado_async_worker_add(h, &ok, "X-Fado-Function", call->fn);
    h = fado_async_worker_add(h, &ok, "X-Fado-Function-Status", status_s);
    h = fado_async_worker_add(h, &ok, "X-Fado-Result-Truncated", truncated ? "1" : "0");
    h = fado_async_worker_add(h, &ok, "traceparent", call->traceparent);
    h = fado_async_worker_add(h, &ok, "Expect", "");
    h = fado_async_worker_add(h, &ok, "Content-Type",
                              ctype && ctype[0] ? ctype : "application/octet-stream");
    memset(&cb, 0, sizeof(cb));
    attempt = 0;
    if (ok) {
        for (attempt = 1; attempt <= fado_async_conf.callback_attempts && !fado_async_stop;
             attempt++)
        {
            fado_async_worker_post(w, call->callback, h, body, len, 10000L, &cb);
            if (!fado_async_retryable(&cb)) {
                break;
            }
            fado_log(FADO_LOG_INFO, "msg=\"callback failed, will retry\" call_id=%s attempt=%d "
                     "status=%ld error=%s", call->id, attempt, cb.status, FADO_LOG_Q(cb.error));
            if (attempt < fado_async_conf.callback_attempts) {
                fado_async_worker_backoff(w, call->stream_id, attempt);
            }
        }
        if (attempt > fado_async_conf.callback_attempts) {
            attempt = fado_async_conf.callback_attempts;
        }
    }
    curl_slist_free_all(h);
    if (fado_async_stop && fado_async_retryable(&cb)) {
        fado_async_answer_reset(&cb);
        return -1;
    }
    if (fado_async_retryable(&cb)) {
        fado_log(FADO_LOG_WARN, "msg=\"callback not delivered\" call_id=%s attempts=%d "
                 "status=%ld error=%s", call->id, attempt, cb.status, FADO_LOG_Q(cb.error));
    }

    n = 0;
    snprintf(attempts_s, sizeof(attempts_s), "%d", attempt);
    snprintf(cbstatus_s, sizeof(cbstatus_s), "%ld", cb.status);
    snprintf(now_s, sizeof(now_s), "%lld", fado_async_worker_now_ms());
    fado_async_worker_field(f, v, l, &n, "callback_state",
                            cb.status >= 200 && cb.status < 300 ? "delivered" : "failed",
                            (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "callback_attempts", attempts_s, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "callback_http_status", cbstatus_s, (size_t) -1);
    fado_async_worker_field(f, v, l, &n, "updated_ms", now_s, (size_t) -1);
    fado_async_answer_reset(&cb);
    return fado_async_state_set(w->rc, call->id, n, f, v, l);
}


static const redisReply *
fado_async_worker_get(const redisReply *st, const char *field)
{
    for (size_t i = 0; st && i + 1 < st->elements; i += 2) {
        if (strcmp(st->element[i]->str, field) == 0) {
            return st->element[i + 1];
        }
    }
    return NULL;
}


static int
fado_async_worker_is(const redisReply *st, const char *field, const char *value)
{
    const redisReply  *v = fado_async_worker_get(st, field);

    return v != NULL && strcmp(v->str, value) == 0;
}


/* One call, steps 1-6. -1: leave it pending (Redis failed or stopping). */
static int
fado_async_worker_process(fado_async_worker_t *w, fado_async_call_t *call)
{
    fado_async_answer_t   a;
    redisReply           *st;
    const redisReply     *res, *ct, *hs;
    int                   rv = 0, done;

    st = fado_async_state_get(w->rc, call->id);
    if (st == NULL) {
        return -1;
    }
    done = fado_async_worker_is(st, "state", "succeeded")
           || fado_async_worker_is(st, "state", "failed");
    memset(&a, 0, sizeof(a));

    if (!done) {
        freeReplyObject(st);
        st = NULL;
        if (fado_async_worker_invoke(w, call, &a) != 0) {
            fado_async_answer_reset(&a);
            return -1;
        }
        if (call->callback[0]) {
            rv = fado_async_worker_callback(w, call,
                a.status >= 200 && a.status < 300 ? "succeeded" : "failed", a.status, a.ctype,
                a.body ? a.body : "", a.len, a.total > a.len);
        }
        fado_async_answer_reset(&a);

    } else if (call->callback[0] && fado_async_worker_is(st, "callback_state", "pending")) {
        /* the outcome is known; only its delivery was interrupted */
        res = fado_async_worker_get(st, "result");
        ct = fado_async_worker_get(st, "result_content_type");
        hs = fado_async_worker_get(st, "http_status");
        fado_log(FADO_LOG_INFO, "msg=\"outcome already recorded, delivering the callback\" "
                 "call_id=%s", call->id);
        rv = fado_async_worker_callback(w, call, fado_async_worker_get(st, "state")->str,
            hs ? strtol(hs->str, NULL, 10) : 0, ct ? ct->str : "", res ? res->str : "",
            res ? res->len : 0, fado_async_worker_is(st, "result_truncated", "1"));
    }
    if (st != NULL) {
        freeReplyObject(st);
    }
    if (rv != 0) {
        return -1;
    }
    return fado_async_queue_ack(w->rc, call->stream_id);
}


static void *
fado_async_worker_run(void *arg)
{
    fado_async_worker_t  *w = arg;
    fado_async_call_t     call;
    char                  err[256];
    long long             next_claim = 0, now;
    long                  pause_ms = 200;
    int                   rv;

    while (!fado_async_stop) {
        if (w->rc == NULL) {
            w->rc = fado_async_queue_connect(err, sizeof(err));
            if (w->rc == NULL || fado_async_queue_ensure_group(w->rc, err, sizeof(err)) != 0) {
                fado_log(FADO_LOG_ERROR, "msg=\"worker cannot use Redis, retrying\" "
                         "consumer=%s error=%s retry_ms=%ld", w->consumer, FADO_LOG_Q(err),
                         pause_ms);
                if (w->rc) {
                    redisFree(w->rc);
                    w->rc = NULL;
                }
                fado_async_worker_sleep_ms(pause_ms);
                pause_ms = pause_ms * 2 > 5000 ? 5000 : pause_ms * 2;
                continue;
            }
            pause_ms = 200;
        }

        rv = 0;
        now = fado_async_worker_now_ms();
        if (now >= next_claim) {
            rv = fado_async_queue_claim(w->rc, w->consumer, &call);
            if (rv == 0) {
                next_claim = now + (fado_async_conf.min_idle_ms / 4 > 100
                                    ? fado_async_conf.min_idle_ms / 4 : 100);
            }
        }
        if (rv == 0) {
            rv = fado_async_queue_read(w->rc, w->consumer, 1000, &call);
        }
        if (rv == 1) {
            if (fado_async_worker_process(w, &call) != 0) {
                if (!fado_async_stop) {
                    fado_log(FADO_LOG_WARN, "msg=\"call left pending\" call_id=%s "
                             "stream_id=%s reason=%s", call.id, call.stream_id,
                             FADO_LOG_Q(w->rc->err ? w->rc->errstr : "redis error"));
                }
                rv = -1;
            }
            fado_async_call_free(&call);
        }
        if (rv < 0 && !fado_async_stop) {
            redisFree(w->rc);
            w->rc = NULL;
        }
    }
    return NULL;
}


int
fado_async_worker_start(char *err, size_t errlen)
{
    fado_async_worker_t  *w;
    int                   i;

    fado_async_workers = calloc((size_t) fado_async_conf.workers, sizeof(*fado_async_workers));
    if (fado_async_workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < fado_async_conf.workers; i++) {
        w = &fado_async_workers[i];
        snprintf(w->consumer, sizeof(w->consumer), "%s-%d", fado_async_conf.consumer, i);
        w->seed = (unsigned int) (fado_async_worker_now_ms() ^ ((long long) i << 16));
        w->curl = curl_easy_init();
        if (w->curl == NULL) {
            snprintf(err, errlen, "libcurl: cannot create a handle");
            return -1;
        }
        if (pthread_create(&w->tid, NULL, fado_async_worker_run, w) != 0) {
            snprintf(err, errlen, "cannot start worker thread %d", i);
            return -1;
        }
        w->started = 1;
    }
    return 0;
}


void
fado_async_worker_join(void)
{
    fado_async_worker_t  *w;

    if (fado_async_workers == NULL) {
        return;
    }
    for (int i = 0; i < fado_async_conf.workers; i++) {
        w = &fado_async_workers[i];
        if (w->started) {
            pthread_join(w->tid, NULL);
        }
        if (w->curl) {
            curl_easy_cleanup(w->curl);
        }
        if (w->rc) {
            redisFree(w->rc);
        }
    }
    free(fado_async_workers);
    fado_async_workers = NULL;
}
