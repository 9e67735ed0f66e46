/*
 * Route sync, the protocol: the worker that owns the table
 * (ngx_http_fado_owner.c) keeps it equal to Redis, following the gateway
 * algorithm of
 * docs/routing-contract.md: snapshot (HSCAN batches of the cluster records,
 * then of the bucket records, so F2 routes find their clusters), then the
 * change feed
 * (XREAD BLOCK) in version order; a version gap, a reset entry or a new
 * epoch sends it back to the snapshot. While Redis is away the table stays
 * as it was and the owner reconnects with back-off.
 *
 * fado_redis may list several servers (a primary and its replicas, all
 * holding the same keys): a connection that fails or drops moves on to the
 * next one at once, and after a whole round without an answer the owner
 * backs off and starts again from the first, the preferred one.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_fado_sync.h"


ngx_http_fado_sync_t  ngx_http_fado_sync;

#define ngx_http_fado_sync_name(s)  (&(s)->fmcf->servers[(s)->server].name)

static const char  *ngx_http_fado_sync_states[] = {
    "disabled", "connecting", "snapshot", "following", "down"
};


static void ngx_http_fado_sync_snapshot(ngx_http_fado_sync_t *s);
static void ngx_http_fado_sync_follow(ngx_http_fado_sync_t *s);


const char *
ngx_http_fado_sync_state_name(ngx_uint_t state)
{
    if (state > NGX_HTTP_FADO_SYNC_DOWN) {
        return "unknown";
    }

    return ngx_http_fado_sync_states[state];
}


















void
ngx_http_fado_sync_retry(ngx_event_t *ev)
{
    ngx_http_fado_sync_t  *s = ev->data;

    if (s->owner && s->ac == NULL) {
        ngx_http_fado_sync_connect(s);
    }
}


void
ngx_http_fado_sync_watchdog(ngx_event_t *ev)
{
    ngx_http_fado_sync_t  *s = ev->data;

    if (s->ac) {
        ngx_http_fado_sync_drop(s, "Redis did not answer in time",
                                sizeof("Redis did not answer in time") - 1);
    }
}


/*
 * Forget the connection (freeing it unless hiredis is already doing so)
 * and, when a reason is given, record it and schedule a reconnect.
 */
static void
ngx_http_fado_sync_lost(ngx_http_fado_sync_t *s, redisAsyncContext *ac,
    const char *why, size_t len)
{
    ngx_http_fado_esc_t   esc;
    ngx_http_fado_shm_t  *sh;

    sh = s->table->sh;

    s->ac = NULL;

    if (s->watchdog.timer_set) {
        ngx_del_timer(&s->watchdog);
    }

    if (ac) {
        /* safe inside a hiredis callback: it frees once the callback ends */
        redisAsyncFree(ac);
    }

    if (why == NULL) {
        return;
    }

    /* an error reply of Redis is text from outside too */
    why = (const char *) ngx_http_fado_esc(&esc, why, len)->data;
    len = esc.s.len;

    ngx_http_fado_table_error(sh, "Redis %V: %*s", ngx_http_fado_sync_name(s),
                              len, why);

    if (++s->walk < s->fmcf->nservers) {
        /* a replica holds the same table: go on with it at once */
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "fado: Redis %V: %*s; keeping the last table, "
                      "trying %V next", ngx_http_fado_sync_name(s), len, why,
                      &s->fmcf->servers[(s->server + 1)
                                        % s->fmcf->nservers].name);

        s->server = (s->server + 1) % s->fmcf->nservers;
        sh->redis_server = s->server;
        sh->state = NGX_HTTP_FADO_SYNC_CONNECTING;

        if (s->owner && !ngx_exiting) {
            ngx_add_timer(&s->retry, 1);
        }

        return;
    }

    ngx_log_error(NGX_LOG_ERR, s->log, 0,
                  "fado: Redis %V: %*s; keeping the last table, "
                  "retrying in %Mms", ngx_http_fado_sync_name(s), len, why,
                  s->backoff ? ngx_min(s->backoff * 2, NGX_HTTP_FADO_BACKOFF_MAX)
                             : NGX_HTTP_FADO_BACKOFF_MIN);

    /* a new round, from the preferred server */
    s->walk = 0;
    s->server = 0;
    sh->state = NGX_HTTP_FADO_SYNC_DOWN;

    s->backoff = s->backoff
                 ? ngx_min(s->backoff * 2, NGX_HTTP_FADO_BACKOFF_MAX)
                 : NGX_HTTP_FADO_BACKOFF_MIN;

    if (s->owner && !ngx_exiting) {
        ngx_add_timer(&s->retry, s->backoff);
    }
}


void
ngx_http_fado_sync_drop(ngx_http_fado_sync_t *s, const char *why, size_t len)
{
    ngx_http_fado_sync_lost(s, s->ac, why, len);
}


static void
ngx_http_fado_sync_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_fado_sync_t  *s = ac->data;

    if (ac != s->ac || status == REDIS_OK) {
        return;
    }

    /* hiredis frees the context after this callback */
    ngx_http_fado_sync_lost(s, NULL, ac->errstr, ngx_strlen(ac->errstr));
}


static void
ngx_http_fado_sync_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_fado_sync_t  *s = ac->data;

    if (ac != s->ac) {
        return;
    }

    if (status == REDIS_OK || ac->errstr[0] == '\0') {
        ngx_http_fado_sync_lost(s, NULL, "connection closed",
                                sizeof("connection closed") - 1);
        return;
    }

    ngx_http_fado_sync_lost(s, NULL, ac->errstr, ngx_strlen(ac->errstr));
}


/*
 * Common prologue of reply callbacks: a reply for a connection we already
 * dropped is ignored, an error reply drops this one. Returns the reply or
 * NULL.
 */
static redisReply *
ngx_http_fado_sync_reply(ngx_http_fado_sync_t *s, redisAsyncContext *ac,
    void *r)
{
    redisReply  *reply = r;

    if (ac != s->ac || reply == NULL) {
        return NULL;
    }

    if (ac->replies.head == NULL && s->watchdog.timer_set) {
        ngx_del_timer(&s->watchdog);

    } else if (ac->replies.head) {
        ngx_add_timer(&s->watchdog, s->fmcf->read_timeout);
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_fado_sync_drop(s, reply->str, reply->len);
        return NULL;
    }

    /* this server answers: a later failure starts a new round */
    s->walk = 0;

    return reply;
}


static ngx_int_t
ngx_http_fado_sync_command(ngx_http_fado_sync_t *s, ngx_msec_t extra,
    redisCallbackFn *fn, int argc, const char **argv)
{
    if (s->ac == NULL) {
        return NGX_ERROR;
    }

    if (redisAsyncCommandArgv(s->ac, fn, NULL, argc, argv, NULL) != REDIS_OK)
    {
        ngx_http_fado_sync_drop(s, "cannot queue a command",
                                sizeof("cannot queue a command") - 1);
        return NGX_ERROR;
    }

    ngx_add_timer(&s->watchdog, s->fmcf->read_timeout + extra);

    return NGX_OK;
}


static void
ngx_http_fado_sync_on_auth(redisAsyncContext *ac, void *r, void *data)
{
    (void) ngx_http_fado_sync_reply(&ngx_http_fado_sync, ac, r);
}


static void
ngx_http_fado_sync_on_epoch_check(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisReply            *reply;

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    if (s->has_epoch
        && reply->type == REDIS_REPLY_STRING
        && reply->len == s->epoch_len
        && ngx_memcmp(reply->str, s->epoch, s->epoch_len) == 0)
    {
        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "fado: Redis %V back, same epoch, following the feed "
                      "from version %uL", ngx_http_fado_sync_name(s), s->version);
        s->backoff = 0;
        s->table->sh->state = NGX_HTTP_FADO_SYNC_FOLLOWING;
        ngx_http_fado_sync_follow(s);
        return;
    }

    if (!s->has_epoch && reply->type == REDIS_REPLY_NIL) {
        s->backoff = 0;
        s->table->sh->state = NGX_HTTP_FADO_SYNC_FOLLOWING;
        ngx_http_fado_sync_follow(s);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                  "fado: Redis %V has a new epoch, resyncing",
                  ngx_http_fado_sync_name(s));
    ngx_http_fado_sync_snapshot(s);
}


void
ngx_http_fado_sync_connect(ngx_http_fado_sync_t *s)
{
    const char                 *argv[3];
    u_char                      db[NGX_INT_T_LEN + 1];
    redisAsyncContext          *ac;
    ngx_http_fado_main_conf_t  *fmcf;

    fmcf = s->fmcf;

    if (s->ac) {
        return;
    }

    s->table->sh->state = NGX_HTTP_FADO_SYNC_CONNECTING;

    s->table->sh->redis_server = s->server;

    ac = redisAsyncConnect((char *) fmcf->servers[s->server].host,
                           (int) fmcf->servers[s->server].port);
    if (ac == NULL) {
        ngx_http_fado_sync_lost(s, NULL, "out of memory",
                                sizeof("out of memory") - 1);
        return;
    }

    if (ac->err) {
        ngx_http_fado_sync_lost(s, ac, ac->errstr, ngx_strlen(ac->errstr));
        return;
    }

    ac->data = s;

    if (ngx_http_fado_redis_attach(ac, s->log) != NGX_OK
        || redisAsyncSetConnectCallback(ac, ngx_http_fado_sync_on_connect)
           != REDIS_OK
        || redisAsyncSetDisconnectCallback(ac,
                                           ngx_http_fado_sync_on_disconnect)
           != REDIS_OK)
    {
        if (ac->ev.data == NULL) {
            /* not attached: hiredis must not call into nginx events */
            ac->ev.cleanup = NULL;
        }

        ngx_http_fado_sync_lost(s, ac, "cannot attach to the event loop",
                                sizeof("cannot attach to the event loop") - 1);
        return;
    }

    s->ac = ac;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->log, 0,
                   "fado: connecting to Redis %s:%i",
                   fmcf->servers[s->server].host, fmcf->servers[s->server].port);

    /* pipelined: hiredis sends them once the connection is up */
    if (fmcf->password.len) {
        argv[0] = "AUTH";
        argv[1] = (char *) fmcf->password.data;

        if (ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_auth,
                                       2, argv)
            != NGX_OK)
        {
            return;
        }
    }

    if (fmcf->db) {
        *ngx_sprintf(db, "%i", fmcf->db) = '\0';
        argv[0] = "SELECT";
        argv[1] = (char *) db;

        if (ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_auth,
                                       2, argv)
            != NGX_OK)
        {
            return;
        }
    }

    /* the first reply also bounds the connect time */
    if (s->synced) {
        argv[0] = "GET";
        argv[1] = (char *) fmcf->key_epoch.data;

        if (ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_epoch_check,
                                       2, argv)
            != NGX_OK)
        {
            return;
        }

    } else {
        ngx_http_fado_sync_snapshot(s);
    }

    if (s->ac) {
        ngx_add_timer(&s->watchdog, fmcf->connect_timeout);
    }
}


/* ------------------------------------------------------------ snapshot */


static void ngx_http_fado_sync_on_snap_epoch(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_fado_sync_on_snap_last(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_fado_sync_on_snap_version(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_fado_sync_on_hscan(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_fado_sync_on_snap_settings(redisAsyncContext *ac,
    void *r, void *data);
static void ngx_http_fado_sync_on_snap_default(redisAsyncContext *ac,
    void *r, void *data);


static void
ngx_http_fado_sync_snapshot(ngx_http_fado_sync_t *s)
{
    const char  *argv[6];

    s->synced = 0;
    s->has_epoch = 0;
    s->snapshot_start = ngx_current_msec;
    s->snapshot_routes = 0;
    s->table->sh->state = NGX_HTTP_FADO_SYNC_SNAPSHOT;

    argv[0] = "GET";
    argv[1] = (char *) s->fmcf->key_epoch.data;

    if (ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_snap_epoch,
                                   2, argv)
        != NGX_OK)
    {
        return;
    }

    argv[0] = "XREVRANGE";
    argv[1] = (char *) s->fmcf->key_feed.data;
    argv[2] = "+";
    argv[3] = "-";
    argv[4] = "COUNT";
    argv[5] = "1";

    if (ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_snap_last,
                                   6, argv)
        != NGX_OK)
    {
        return;
    }

    argv[0] = "GET";
    argv[1] = (char *) s->fmcf->key_version.data;

    (void) ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_snap_version,
                                      2, argv);
}


static void
ngx_http_fado_sync_on_snap_epoch(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisReply            *reply;

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_STRING
        && reply->len <= sizeof(s->epoch))
    {
        ngx_memcpy(s->epoch, reply->str, reply->len);
        s->epoch_len = reply->len;
        s->has_epoch = 1;

    } else {
        s->epoch_len = 0;
        s->has_epoch = 0;
    }
}


/* finds the value of field `name` in a flat field/value array */
static redisReply *
ngx_http_fado_sync_field(redisReply *fields, const char *name)
{
    size_t  i, len;

    len = ngx_strlen(name);

    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    for (i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING
            && fields->element[i]->len == len
            && ngx_memcmp(fields->element[i]->str, name, len) == 0
            && fields->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return fields->element[i + 1];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_fado_sync_uint(redisReply *r, uint64_t *v)
{
    size_t    i;
    uint64_t  n;

    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len == 0
        || r->len > 20)
    {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return NGX_ERROR;
        }

        n = n * 10 + (r->str[i] - '0');
    }

    *v = n;
    return NGX_OK;
}


static void
ngx_http_fado_sync_on_snap_last(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisReply            *reply, *entry, *v;

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    s->snapshot_version = 0;
    s->last_id_len = 0;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        /* no feed yet: follow from its very beginning */
        ngx_memcpy(s->last_id, "0-0", 3);
        s->last_id_len = 3;
        s->snapshot_version = (uint64_t) -1;
        return;
    }

    entry = reply->element[0];

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[0]->len >= sizeof(s->last_id))
    {
        ngx_http_fado_sync_drop(s, "malformed feed entry",
                                sizeof("malformed feed entry") - 1);
        return;
    }

    v = ngx_http_fado_sync_field(entry->element[1], "v");

    if (ngx_http_fado_sync_uint(v, &s->snapshot_version) != NGX_OK) {
        ngx_http_fado_sync_drop(s, "feed entry without a version",
                                sizeof("feed entry without a version") - 1);
        return;
    }

    ngx_memcpy(s->last_id, entry->element[0]->str, entry->element[0]->len);
    s->last_id_len = entry->element[0]->len;
}


static void
ngx_http_fado_sync_scan(ngx_http_fado_sync_t *s)
{
    u_char       count[NGX_INT_T_LEN + 1];
    const char  *argv[5];

    *ngx_sprintf(count, "%ui", s->fmcf->batch) = '\0';

    argv[0] = "HSCAN";
    argv[1] = s->scan_clusters ? (char *) s->fmcf->key_clusters.data
                               : (char *) s->fmcf->key_routes.data;
    argv[2] = (char *) s->cursor;
    argv[3] = "COUNT";
    argv[4] = (char *) count;

    (void) ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_hscan,
                                      5, argv);
}


static void
ngx_http_fado_sync_on_snap_version(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisReply            *reply;
    ngx_http_fado_shm_t   *sh;
    uint64_t               v;

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    if (s->snapshot_version == (uint64_t) -1) {
        /* an empty feed: the counter tells where the next entry starts */
        v = 0;

        if (reply->type != REDIS_REPLY_NIL
            && ngx_http_fado_sync_uint(reply, &v) != NGX_OK)
        {
            ngx_http_fado_sync_drop(s, "version is not a number",
                                    sizeof("version is not a number") - 1);
            return;
        }

        s->snapshot_version = v;
    }

    sh = s->table->sh;

    ngx_rwlock_wlock(&sh->lock);
    sh->gen++;
    ngx_rwlock_unlock(&sh->lock);

    ngx_memcpy(s->cursor, "0", 2);
    s->cursor_len = 1;
    s->scan_clusters = 1;

    ngx_http_fado_sync_scan(s);
}




static void
ngx_http_fado_sync_on_hscan(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    size_t                 i;
    ngx_uint_t             clusters;
    redisReply            *reply, *cursor, *items, *k, *v;
    ngx_http_fado_shm_t   *sh;
    const char            *argv[3];

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len >= sizeof(s->cursor)
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        ngx_http_fado_sync_drop(s, "malformed HSCAN reply",
                                sizeof("malformed HSCAN reply") - 1);
        return;
    }

    cursor = reply->element[0];
    items = reply->element[1];
    sh = s->table->sh;
    clusters = s->scan_clusters;

    /*
     * Ask for the next batch before applying this one: Redis builds it while
     * this worker applies, which halves the time of a large resync.
     */
    ngx_memcpy(s->cursor, cursor->str, cursor->len);
    s->cursor[cursor->len] = '\0';
    s->cursor_len = cursor->len;

    if (cursor->len == 1 && cursor->str[0] == '0' && clusters) {
        /* the cluster records are in: now the buckets */
        s->scan_clusters = 0;
    }

    if (!(cursor->len == 1 && cursor->str[0] == '0') || clusters) {
        ngx_http_fado_sync_scan(s);

        /*
         * hiredis would send it on the next write event, after this batch
         * is applied; writing now lets Redis scan while this worker applies.
         */
        if (s->ac) {
            redisAsyncHandleWrite(s->ac);
        }

    } else {
        argv[0] = "HGET";
        argv[1] = (char *) s->fmcf->key_settings.data;
        argv[2] = "bucket_header";

        (void) ngx_http_fado_sync_command(s, 0,
                                          ngx_http_fado_sync_on_snap_settings,
                                          3, argv);
    }

    if (s->ac == NULL) {
        return;
    }

    for (i = 0; i + 1 < items->elements; i += 2) {

        if (i % (2 * NGX_HTTP_FADO_LOCK_BATCH) == 0) {
            if (i) {
                /* let readers in between batches */
                ngx_rwlock_unlock(&sh->lock);
            }

            if (ngx_http_fado_owner_wlock(s) != NGX_OK) {
                return;
            }
        }

        k = items->element[i];
        v = items->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (clusters) {
            (void) ngx_http_fado_cluster_set(s->table, s->log,
                                             (u_char *) k->str, k->len,
                                             v->str, v->len);
            continue;
        }

        if (k->len == 0) {
            ngx_log_error(NGX_LOG_ERR, s->log, 0,
                          "fado: rejected record for bucket \"\": empty bucket "
                          "name");
            sh->rejected++;
            continue;
        }

        if (ngx_http_fado_table_set(s->table, s->log, (u_char *) k->str,
                                    k->len, v->str, v->len)
            != NGX_DECLINED)
        {
            s->snapshot_routes++;
        }
    }

    if (items->elements >= 2) {
        ngx_rwlock_unlock(&sh->lock);
    }

    ngx_http_fado_table_nomem_flush(s->log);
}


/* The settings (contract: "Settings"), between the routes and the default. */
static void
ngx_http_fado_sync_on_snap_settings(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisReply            *reply;
    const char            *argv[2];

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    if (ngx_http_fado_owner_wlock(s) != NGX_OK) {
        return;
    }

    /* absent (nil): no header published, which clears the one we had */
    (void) ngx_http_fado_table_set_header(s->table, s->log,
                                          reply->type == REDIS_REPLY_STRING
                                          ? reply->str : "",
                                          reply->type == REDIS_REPLY_STRING
                                          ? reply->len : 0);

    ngx_rwlock_unlock(&s->table->sh->lock);

    argv[0] = "GET";
    argv[1] = (char *) s->fmcf->key_default.data;

    (void) ngx_http_fado_sync_command(s, 0, ngx_http_fado_sync_on_snap_default,
                                      2, argv);
}


static void
ngx_http_fado_sync_on_snap_default(redisAsyncContext *ac, void *r,
    void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisReply            *reply;
    ngx_uint_t             removed, cremoved, freed;
    ngx_http_fado_shm_t   *sh;

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    sh = s->table->sh;

    if (ngx_http_fado_owner_wlock(s) != NGX_OK) {
        return;
    }

    if (reply->type == REDIS_REPLY_STRING) {
        (void) ngx_http_fado_table_set(s->table, s->log, (u_char *) "", 0,
                                       reply->str, reply->len);
    }

    /* what the snapshot did not see is gone from Redis */
    removed = ngx_http_fado_table_sweep_unseen(s->table);
    cremoved = ngx_http_fado_cluster_sweep_unseen(s->table, s->log);
    freed = ngx_http_fado_table_free_zombies(s->table);

    sh->version = s->snapshot_version;
    sh->epoch_len = s->epoch_len;
    ngx_memcpy(sh->epoch, s->epoch, s->epoch_len);
    sh->resyncs++;
    sh->ready = 1;
    sh->state = NGX_HTTP_FADO_SYNC_FOLLOWING;

    ngx_time_update();
    sh->last_resync_ms = ngx_current_msec - s->snapshot_start;
    sh->last_resync_at = ngx_time();

    ngx_rwlock_unlock(&sh->lock);

    s->version = s->snapshot_version;
    s->synced = 1;
    s->backoff = 0;
    s->last_resync = ngx_current_msec;

    ngx_http_fado_owner_changed(s);

    ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                  "fado: resync done: %ui routes (%ui in table, %ui removed, "
                  "%ui sets freed), %ui clusters (%ui removed), version %uL, "
                  "in %Mms",
                  s->snapshot_routes, sh->nroutes, removed, freed,
                  sh->nclusters, cremoved, s->version, sh->last_resync_ms);

    ngx_http_fado_sync_follow(s);
}


/* ---------------------------------------------------------------- feed */


static void ngx_http_fado_sync_on_xread(redisAsyncContext *ac, void *r,
    void *data);


static void
ngx_http_fado_sync_follow(ngx_http_fado_sync_t *s)
{
    u_char       id[sizeof(s->last_id) + 1];
    u_char       count[NGX_INT_T_LEN + 1], block[NGX_INT_T_LEN + 1];
    const char  *argv[8];

    ngx_memcpy(id, s->last_id, s->last_id_len);
    id[s->last_id_len] = '\0';

    *ngx_sprintf(count, "%d", NGX_HTTP_FADO_FEED_COUNT) = '\0';
    *ngx_sprintf(block, "%d", NGX_HTTP_FADO_BLOCK) = '\0';

    argv[0] = "XREAD";
    argv[1] = "COUNT";
    argv[2] = (char *) count;
    argv[3] = "BLOCK";
    argv[4] = (char *) block;
    argv[5] = "STREAMS";
    argv[6] = (char *) s->fmcf->key_feed.data;
    argv[7] = (char *) id;

    (void) ngx_http_fado_sync_command(s, NGX_HTTP_FADO_BLOCK,
                                      ngx_http_fado_sync_on_xread, 8, argv);
}


/*
 * Applies one feed entry. Returns NGX_OK, or NGX_DECLINED when the entry
 * says the table must be rebuilt (gap, reset), or NGX_ERROR when ownership
 * was lost.
 */
static ngx_int_t
ngx_http_fado_sync_apply(ngx_http_fado_sync_t *s, redisReply *entry)
{
    uint64_t              v;
    redisReply           *fields, *op, *b, *c, *k, *rec;
    ngx_http_fado_esc_t   esc, esc2;
    ngx_http_fado_shm_t  *sh;

    sh = s->table->sh;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[0]->len >= sizeof(s->last_id))
    {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "fado: malformed feed entry, resyncing");
        return NGX_DECLINED;
    }

    fields = entry->element[1];
    op = ngx_http_fado_sync_field(fields, "op");

    if (ngx_http_fado_sync_uint(ngx_http_fado_sync_field(fields, "v"), &v)
        != NGX_OK || op == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "fado: feed entry %V without version or op, resyncing",
                      ngx_http_fado_esc(&esc, entry->element[0]->str,
                                        entry->element[0]->len));
        return NGX_DECLINED;
    }

    if (v != s->version + 1) {
        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "fado: feed gap: table at version %uL, next entry has "
                      "%uL; resyncing", s->version, v);
        return NGX_DECLINED;
    }

    b = ngx_http_fado_sync_field(fields, "b");
    c = ngx_http_fado_sync_field(fields, "c");
    k = ngx_http_fado_sync_field(fields, "k");
    rec = ngx_http_fado_sync_field(fields, "r");

    if (op->len == 3 && ngx_memcmp(op->str, "set", 3) == 0
        && b && rec && b->len)
    {
        (void) ngx_http_fado_table_set(s->table, s->log, (u_char *) b->str,
                                       b->len, rec->str, rec->len);

    } else if (op->len == 3 && ngx_memcmp(op->str, "del", 3) == 0 && b) {
        ngx_http_fado_table_delete(s->table, (u_char *) b->str, b->len);

    } else if (op->len == 7 && ngx_memcmp(op->str, "default", 7) == 0 && rec) {
        (void) ngx_http_fado_table_set(s->table, s->log, (u_char *) "", 0,
                                       rec->str, rec->len);

    } else if (op->len == 9 && ngx_memcmp(op->str, "nodefault", 9) == 0) {
        ngx_http_fado_table_clear_default(s->table);

    } else if (op->len == 4 && ngx_memcmp(op->str, "cset", 4) == 0
               && c && rec)
    {
        (void) ngx_http_fado_cluster_set(s->table, s->log, (u_char *) c->str,
                                         c->len, rec->str, rec->len);

    } else if (op->len == 4 && ngx_memcmp(op->str, "cdel", 4) == 0 && c) {
        ngx_http_fado_cluster_delete(s->table, s->log, (u_char *) c->str,
                                     c->len);

    } else if (op->len == 7 && ngx_memcmp(op->str, "setting", 7) == 0
               && k && rec)
    {
        /* a setting this gateway does not know is no reason to resync */
        if (k->len == sizeof("bucket_header") - 1
            && ngx_memcmp(k->str, "bucket_header", k->len) == 0)
        {
            (void) ngx_http_fado_table_set_header(s->table, s->log, rec->str,
                                                  rec->len);
        }

    } else if (op->len == 5 && ngx_memcmp(op->str, "reset", 5) == 0) {
        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "fado: feed reset at version %uL, resyncing", v);
        return NGX_DECLINED;

    } else {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "fado: feed entry %V has unknown op \"%V\", resyncing",
                      ngx_http_fado_esc(&esc, entry->element[0]->str,
                                        entry->element[0]->len),
                      ngx_http_fado_esc(&esc2, op->str, op->len));
        return NGX_DECLINED;
    }

    s->version = v;
    sh->version = v;
    sh->updates++;

    ngx_memcpy(s->last_id, entry->element[0]->str, entry->element[0]->len);
    s->last_id_len = entry->element[0]->len;

    return NGX_OK;
}


static void
ngx_http_fado_sync_on_xread(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    size_t                 i;
    ngx_int_t              rc;
    redisReply            *reply, *stream, *entries;

    reply = ngx_http_fado_sync_reply(s, ac, r);
    if (reply == NULL) {
        return;
    }

    if (ngx_exiting) {
        ngx_http_fado_sync_drop(s, NULL, 0);
        ngx_http_fado_owner_release(s);
        return;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        ngx_http_fado_sync_follow(s);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1
        || reply->element[0]->type != REDIS_REPLY_ARRAY
        || reply->element[0]->elements != 2
        || reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    {
        ngx_http_fado_sync_drop(s, "malformed XREAD reply",
                                sizeof("malformed XREAD reply") - 1);
        return;
    }

    stream = reply->element[0];
    entries = stream->element[1];

    if (ngx_http_fado_owner_wlock(s) != NGX_OK) {
        return;
    }

    rc = NGX_OK;

    for (i = 0; i < entries->elements; i++) {
        rc = ngx_http_fado_sync_apply(s, entries->element[i]);
        if (rc != NGX_OK) {
            break;
        }
    }

    (void) ngx_http_fado_table_free_zombies(s->table);

    ngx_rwlock_unlock(&s->table->sh->lock);

    ngx_http_fado_table_nomem_flush(s->log);

    if (i) {
        ngx_http_fado_owner_changed(s);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->log, 0,
                   "fado: feed applied up to version %uL (%uz entries)",
                   s->version, i);

    if (rc == NGX_DECLINED) {
        ngx_http_fado_sync_snapshot(s);
        return;
    }

    ngx_http_fado_sync_follow(s);
}
