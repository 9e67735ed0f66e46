/*
 * fado_async_queue: every Redis command fado-async sends.
 *
 * The stream holds only calls that are not finished: a worker acknowledges
 * and deletes an entry in one MULTI, so XLEN is the number of calls queued
 * or in progress, and the bound on it (max_queued) is a bound on memory.
 * The enqueue is one Lua script, so the check against the bound, the XADD
 * and the call's state record happen atomically: no call is visible in the
 * queue without its state, and two fronts cannot both take the last slot.
 */

#include "fado_async.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "fado_log.h"


/* KEYS[1] stream, KEYS[2] state; ARGV: max, fields..., created, ttl */
static const char  fado_async_put_lua[] =
    "if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end\n"
    "local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'fn', ARGV[3],\n"
    "  'query', ARGV[4], 'bucket', ARGV[5], 'ctype', ARGV[6],\n"
    "  'traceparent', ARGV[7], 'callback', ARGV[8], 'body', ARGV[9])\n"
    "redis.call('HSET', KEYS[2], 'state', 'queued', 'function', ARGV[3],\n"
    "  'created_ms', ARGV[10], 'updated_ms', ARGV[10], 'attempts', '0',\n"
    "  'callback_url', ARGV[8], 'traceparent', ARGV[7], 'stream_id', sid)\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[11])\n"
    "return sid\n";


void
fado_async_key(char *buf, size_t size, const char *what, const char *id)
{
    snprintf(buf, size, "%s%s%s", fado_async_conf.prefix, what, id ? id : "");
}


static long long
fado_async_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


redisContext *
fado_async_queue_connect(char *err, size_t errlen)
{
    struct timeval   tv = { 2, 0 };
    redisContext    *rc;
    redisReply      *r;

    rc = redisConnectWithTimeout(fado_async_conf.redis_host, fado_async_conf.redis_port, tv);
    if (rc == NULL || rc->err) {
        snprintf(err, errlen, "cannot connect to Redis %s:%d: %s", fado_async_conf.redis_host,
                 fado_async_conf.redis_port, rc ? rc->errstr : "out of memory");
        if (rc) {
            redisFree(rc);
        }
        return NULL;
    }

    /* reads block at most ~1 s (XREADGROUP BLOCK 1000) plus slack */
    tv.tv_sec = 5;
    if (redisSetTimeout(rc, tv) != REDIS_OK) {
        snprintf(err, errlen, "cannot set the Redis timeout");
        redisFree(rc);
        return NULL;
    }

    if (fado_async_conf.redis_password && fado_async_conf.redis_password[0]) {
        r = redisCommand(rc, "AUTH %s", fado_async_conf.redis_password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            /* the reply names no secret; the password is never logged */
            snprintf(err, errlen, "Redis refused the password: %s",
                     r ? r->str : rc->errstr);
            if (r) {
                freeReplyObject(r);
            }
            redisFree(rc);
            return NULL;
        }
        freeReplyObject(r);
    }

    return rc;
}


/* The group reads from the stream's start, so calls queued before any
 * worker ever ran are not skipped. */
int
fado_async_queue_ensure_group(redisContext *rc, char *err, size_t errlen)
{
    char         key[256];
    redisReply  *r;
    int          rv = 0;

    fado_async_key(key, sizeof(key), "calls", NULL);
    r = redisCommand(rc, "XGROUP CREATE %s %s 0 MKSTREAM", key, FADO_ASYNC_GROUP);
    if (r == NULL) {
        snprintf(err, errlen, "XGROUP CREATE: %s", rc->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
        snprintf(err, errlen, "XGROUP CREATE: %s", r->str);
        rv = -1;
    }
    freeReplyObject(r);
    return rv;
}


int
fado_async_queue_put(redisContext *rc, const fado_async_call_t *call, char *sid, size_t sidlen,
    char *err, size_t errlen)
{
    char         stream[256], state[256], max[32], created[32], ttl[32], nkeys[] = "2";
    const char  *argv[16];
    size_t       lens[16];
    redisReply  *r;
    int          i, rv;

    fado_async_key(stream, sizeof(stream), "calls", NULL);
    fado_async_key(state, sizeof(state), "call:", call->id);
    snprintf(max, sizeof(max), "%lld", fado_async_conf.max_queued);
    snprintf(created, sizeof(created), "%lld", fado_async_now_ms());
    snprintf(ttl, sizeof(ttl), "%ld", fado_async_conf.state_ttl_s);

    i = 0;
    argv[i++] = "EVAL";
    argv[i++] = fado_async_put_lua;
    argv[i++] = nkeys;
    argv[i++] = stream;
    argv[i++] = state;
    argv[i++] = max;
    argv[i++] = call->id;
    argv[i++] = call->fn;
    argv[i++] = call->query;
    argv[i++] = call->bucket;
    argv[i++] = call->ctype;
    argv[i++] = call->traceparent;
    argv[i++] = call->callback;
    for (int k = 0; k < i; k++) {
        lens[k] = strlen(argv[k]);
    }
    argv[i] = call->body;
    lens[i++] = call->body_len;
    argv[i] = created;
    lens[i] = strlen(created);
    i++;
    argv[i] = ttl;
    lens[i] = strlen(ttl);
    i++;

    r = redisCommandArgv(rc, i, argv, lens);
    if (r == NULL) {
        snprintf(err, errlen, "Redis: %s", rc->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        rv = 0;
    } else if (r->type == REDIS_REPLY_STRING) {
        snprintf(sid, sidlen, "%s", r->str);
        rv = 1;
    } else {
        snprintf(err, errlen, "Redis: %s", r->type == REDIS_REPLY_ERROR ? r->str
                                                                      : "unexpected reply");
        rv = -1;
    }
    freeReplyObject(r);
    return rv;
}


static char *
fado_async_dup(const redisReply *v, size_t *len)
{
    char  *s;

    s = malloc(v->len + 1);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s, v->str, v->len);
    s[v->len] = '\0';
    if (len) {
        *len = v->len;
    }
    return s;
}


void
fado_async_call_free(fado_async_call_t *call)
{
    free(call->fn);
    free(call->query);
    free(call->bucket);
    free(call->ctype);
    free(call->traceparent);
    free(call->callback);
    free(call->body);
    memset(call, 0, sizeof(*call));
}


/* An entry [id, [field, value, ...]] into call; -1 when malformed (an
 * entry no fado-async wrote: it is acknowledged and dropped, logged). */
static int
fado_async_entry(const redisReply *e, fado_async_call_t *call)
{
    const redisReply  *f, *k, *v;
    char             **slot;
    size_t             i;

    memset(call, 0, sizeof(*call));
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING)
    {
        return -1;
    }
    snprintf(call->stream_id, sizeof(call->stream_id), "%s", e->element[0]->str);
    f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY) {
        return -1;       /* deleted while pending: nil fields */
    }
    for (i = 0; i + 1 < f->elements; i += 2) {
        k = f->element[i];
        v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        slot = NULL;
        if (strcmp(k->str, "id") == 0) {
            if (v->len == FADO_ASYNC_ID_LEN) {
                memcpy(call->id, v->str, FADO_ASYNC_ID_LEN + 1);
            }
            continue;
        }
        if (strcmp(k->str, "fn") == 0) slot = &call->fn;
        else if (strcmp(k->str, "query") == 0) slot = &call->query;
        else if (strcmp(k->str, "bucket") == 0) slot = &call->bucket;
        else if (strcmp(k->str, "ctype") == 0) slot = &call->ctype;
        else if (strcmp(k->str, "traceparent") == 0) slot = &call->traceparent;
        else if (strcmp(k->str, "callback") == 0) slot = &call->callback;
        if (slot != NULL && *slot == NULL) {
            *slot = fado_async_dup(v, NULL);
        } else if (strcmp(k->str, "body") == 0 && call->body == NULL) {
            call->body = fado_async_dup(v, &call->body_len);
        }
    }
    if (call->id[0] == '\0' || !call->fn || !call->query || !call->bucket || !call->ctype
        || !call->traceparent || !call->callback || !call->body)
    {
        return -1;
    }
    return 0;
}


/* the first entry of an XREADGROUP / XAUTOCLAIM list of entries */
static int
fado_async_first(const redisReply *entries, fado_async_call_t *call)
{
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
        return 0;
    }
    if (fado_async_entry(entries->element[0], call) != 0) {
        char  sid[48];

        fado_log(FADO_LOG_WARN, "msg=\"malformed stream entry dropped\" stream_id=%s",
                 FADO_LOG_Q(call->stream_id));
        memcpy(sid, call->stream_id, sizeof(sid));
        fado_async_call_free(call);
        memcpy(call->stream_id, sid, sizeof(sid));
        return 2;
    }
    return 1;
}


static int
fado_async_malformed(redisContext *rc, fado_async_call_t *call)
{
    char  sid[48];

    snprintf(sid, sizeof(sid), "%s", call->stream_id);
    if (sid[0] && fado_async_queue_ack(rc, sid) != 0) {
        return -1;
    }
    return 0;
}


int
fado_async_queue_read(redisContext *rc, const char *consumer, int block_ms,
    fado_async_call_t *call)
{
    char         key[256];
    redisReply  *r;
    int          rv;

    fado_async_key(key, sizeof(key), "calls", NULL);
    r = redisCommand(rc, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d STREAMS %s >",
                     FADO_ASYNC_GROUP, consumer, block_ms, key);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2)
    {
        fado_log(FADO_LOG_ERROR, "msg=\"XREADGROUP failed\" error=%s",
                 FADO_LOG_Q(r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOGROUP", 7) == 0) {
            char  err[256];
            if (fado_async_queue_ensure_group(rc, err, sizeof(err)) != 0) {
                fado_log(FADO_LOG_ERROR, "msg=%s", FADO_LOG_Q(err));
            }
        }
        freeReplyObject(r);
        return -1;
    }
    rv = fado_async_first(r->element[0]->element[1], call);
    freeReplyObject(r);
    if (rv == 2) {
        return fado_async_malformed(rc, call);
    }
    return rv;
}


/* One entry idle longer than min_idle (its consumer presumed dead) taken
 * over by this consumer. Redis counts its deliveries. */
int
fado_async_queue_claim(redisContext *rc, const char *consumer, fado_async_call_t *call)
{
    char         key[256];
    redisReply  *r;
    int          rv;

    fado_async_key(key, sizeof(key), "calls", NULL);
    r = redisCommand(rc, "XAUTOCLAIM %s %s %s %ld 0-0 COUNT 1", key, FADO_ASYNC_GROUP,
                     consumer, fado_async_conf.min_idle_ms);
    if (r == NULL) {
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        fado_log(FADO_LOG_ERROR, "msg=\"XAUTOCLAIM failed\" error=%s",
                 FADO_LOG_Q(r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
        freeReplyObject(r);
        return -1;
    }
    rv = fado_async_first(r->element[1], call);
    freeReplyObject(r);
    if (rv == 1) {
        fado_log(FADO_LOG_INFO, "msg=\"reclaimed a call from a silent consumer\" call_id=%s "
                 "stream_id=%s min_idle_ms=%ld", call->id, call->stream_id,
                 fado_async_conf.min_idle_ms);
    }
    if (rv == 2) {
        return fado_async_malformed(rc, call);
    }
    return rv;
}


/* Resets the entry's idle time: a live worker waiting between attempts is
 * not mistaken for a dead one. */
int
fado_async_queue_touch(redisContext *rc, const char *consumer, const char *stream_id)
{
    char         key[256];
    redisReply  *r;
    int          rv;

    fado_async_key(key, sizeof(key), "calls", NULL);
    r = redisCommand(rc, "XCLAIM %s %s %s 0 %s JUSTID", key, FADO_ASYNC_GROUP, consumer,
                     stream_id);
    if (r == NULL) {
        return -1;
    }
    rv = r->type == REDIS_REPLY_ARRAY ? 0 : -1;
    freeReplyObject(r);
    return rv;
}


int
fado_async_queue_ack(redisContext *rc, const char *stream_id)
{
    char         key[256];
    redisReply  *r;
    int          rv = 0;

    fado_async_key(key, sizeof(key), "calls", NULL);
    r = redisCommand(rc, "MULTI");
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    redisAppendCommand(rc, "XACK %s %s %s", key, FADO_ASYNC_GROUP, stream_id);
    redisAppendCommand(rc, "XDEL %s %s", key, stream_id);
    redisAppendCommand(rc, "EXEC");
    for (int i = 0; i < 3; i++) {
        if (redisGetReply(rc, (void **) &r) != REDIS_OK) {
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fado_log(FADO_LOG_ERROR, "msg=\"XACK failed\" error=%s", FADO_LOG_Q(r->str));
            rv = -1;
        }
        freeReplyObject(r);
    }
    return rv;
}


int
fado_async_state_set(redisContext *rc, const char *id, int n, const char **fields,
    const char **values, const size_t *lens)
{
    char         key[256], ttl[32];
    const char  *argv[2 + 2 * 16];
    size_t       argl[2 + 2 * 16];
    redisReply  *r;
    int          i, k, rv = 0;

    if (n > 16) {
        return -1;
    }
    fado_async_key(key, sizeof(key), "call:", id);
    i = 0;
    argv[i] = "HSET";
    argl[i++] = 4;
    argv[i] = key;
    argl[i++] = strlen(key);
    for (k = 0; k < n; k++) {
        argv[i] = fields[k];
        argl[i++] = strlen(fields[k]);
        argv[i] = values[k];
        argl[i++] = lens && lens[k] != (size_t) -1 ? lens[k] : strlen(values[k]);
    }
    snprintf(ttl, sizeof(ttl), "%ld", fado_async_conf.state_ttl_s);
    redisAppendCommandArgv(rc, i, argv, argl);
    redisAppendCommand(rc, "EXPIRE %s %s", key, ttl);
    for (k = 0; k < 2; k++) {
        if (redisGetReply(rc, (void **) &r) != REDIS_OK) {
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fado_log(FADO_LOG_ERROR, "msg=\"state update failed\" call_id=%s error=%s", id,
                     FADO_LOG_Q(r->str));
            rv = -1;
        }
        freeReplyObject(r);
    }
    return rv;
}


int
fado_async_state_incr(redisContext *rc, const char *id, const char *field, long long *value)
{
    char         key[256];
    redisReply  *r;
    int          rv = -1;

    fado_async_key(key, sizeof(key), "call:", id);
    r = redisCommand(rc, "HINCRBY %s %s 1", key, field);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *value = r->integer;
        rv = 0;
    }
    freeReplyObject(r);
    return rv;
}


redisReply *
fado_async_state_get(redisContext *rc, const char *id)
{
    char         key[256];
    redisReply  *r;

    fado_async_key(key, sizeof(key), "call:", id);
    r = redisCommand(rc, "HGETALL %s", key);
    if (r != NULL && r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}


int
fado_async_random_hex(char *out, size_t n)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      raw[64];
    size_t             i;

    if (n > 2 * sizeof(raw) || getrandom(raw, (n + 1) / 2, 0) != (ssize_t) ((n + 1) / 2)) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        out[i] = hex[(raw[i / 2] >> ((i & 1) * 4)) & 0xf];
    }
    out[n] = '\0';
    return 0;
}


static int
fado_async_hex(const char *p, size_t n)
{
    int  nonzero = 0;

    for (size_t i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return -1;
        }
        nonzero |= p[i] != '0';
    }
    return nonzero;
}


/* A version-00 W3C traceparent (the gateway always sends one). */
int
fado_async_traceparent_valid(const char *tp)
{
    return strlen(tp) == FADO_ASYNC_TP_LEN && tp[0] == '0' && tp[1] == '0' && tp[2] == '-'
           && fado_async_hex(tp + 3, 32) == 1 && tp[35] == '-'
           && fado_async_hex(tp + 36, 16) == 1 && tp[52] == '-'
           && fado_async_hex(tp + 53, 2) >= 0;
}
