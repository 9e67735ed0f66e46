/*
 * fado-async: asynchronous function invocation over Redis Streams.
 *
 *   fado_async_main.c    options, roles, signals, threads
 *   fado_async_queue.c   the Redis side: enqueue, read, claim, state, ack
 *   fado_async_front.c   the HTTP front nginx proxies /async-function/ to
 *   fado_async_worker.c  the queue worker: invoke through the gateway,
 *                        retry with back-off, record, call back, ack
 *
 * One binary, two roles (--role front|worker|all), so the front that
 * answers 202 keeps accepting calls while workers are killed and
 * restarted, and any number of workers share one consumer group.
 * docs/async.md is the contract (keys, states, delivery guarantees).
 */

#ifndef FADO_ASYNC_H
#define FADO_ASYNC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define FADO_ASYNC_ID_LEN     32      /* call ids: 128 random bits in hex */
#define FADO_ASYNC_NAME_MAX   64      /* function names */
#define FADO_ASYNC_URL_MAX    2048    /* callback URLs */
#define FADO_ASYNC_TP_LEN     55      /* a version-00 traceparent */

typedef struct {
    /* roles */
    int           front;
    int           worker;

    /* Redis */
    const char   *redis_host;
    int           redis_port;
    const char   *redis_password;     /* from the environment only */
    const char   *prefix;             /* of every key, default "fado:async:" */

    /* front */
    const char   *listen;
    int           front_threads;
    size_t        max_body;
    long long     max_queued;
    int           require_callback;

    /* worker */
    const char   *gateway;            /* base URL, e.g. http://127.0.0.1:8080 */
    const char   *consumer;           /* this process's consumer name */
    int           workers;            /* threads, each one call at a time */
    int           max_attempts;
    long          backoff_ms;
    long          backoff_cap_ms;
    long          invoke_timeout_ms;
    long          min_idle_ms;        /* XAUTOCLAIM: a consumer presumed dead */
    int           callback_attempts;
    size_t        result_max;         /* bytes of a result kept and posted */

    long          state_ttl_s;
} fado_async_conf_t;

extern fado_async_conf_t             fado_async_conf;
extern volatile sig_atomic_t         fado_async_stop;

/* Keys: <prefix>calls (the stream), <prefix>call:<id> (a call's state). */
#define FADO_ASYNC_GROUP  "workers"

/* One queued call as the stream holds it. */
typedef struct {
    char          stream_id[48];
    char          id[FADO_ASYNC_ID_LEN + 1];
    char         *fn;
    char         *query;
    char         *bucket;
    char         *ctype;
    char         *traceparent;
    char         *callback;
    char         *body;
    size_t        body_len;
} fado_async_call_t;

/* queue */
redisContext *fado_async_queue_connect(char *err, size_t errlen);
int fado_async_queue_ensure_group(redisContext *rc, char *err, size_t errlen);
void fado_async_key(char *buf, size_t size, const char *what, const char *id);

/* 1 queued (stream id in sid), 0 refused because full, -1 Redis error. */
int fado_async_queue_put(redisContext *rc, const fado_async_call_t *call,
    char *sid, size_t sidlen, char *err, size_t errlen);

/* Next call for this consumer: 1 got one, 0 none, -1 Redis error. */
int fado_async_queue_read(redisContext *rc, const char *consumer, int block_ms,
    fado_async_call_t *call);
int fado_async_queue_claim(redisContext *rc, const char *consumer,
    fado_async_call_t *call);
int fado_async_queue_touch(redisContext *rc, const char *consumer,
    const char *stream_id);
int fado_async_queue_ack(redisContext *rc, const char *stream_id);
void fado_async_call_free(fado_async_call_t *call);

/* Sets fields of a call's state (pairs of NUL-terminated strings, last
 * value with its length) and renews its TTL. */
int fado_async_state_set(redisContext *rc, const char *id, int n,
    const char **fields, const char **values, const size_t *lens);
int fado_async_state_incr(redisContext *rc, const char *id, const char *field,
    long long *value);
/* A call's state as a Redis reply (array of pairs), NULL on error. */
redisReply *fado_async_state_get(redisContext *rc, const char *id);

/* ids and traceparents */
int fado_async_random_hex(char *out, size_t n);
int fado_async_traceparent_valid(const char *tp);

/* front and worker */
int fado_async_front_start(char *err, size_t errlen);
void fado_async_front_stop(void);
int fado_async_worker_start(char *err, size_t errlen);
void fado_async_worker_join(void);

#endif /* FADO_ASYNC_H */
