/*
 * Route sync, shared by its two halves:
 *
 *   ngx_http_fado_owner.c  which worker syncs (election through the shared
 *                          zone), the process hooks, the state file timer
 *   ngx_http_fado_sync.c   the protocol with Redis (docs/routing-contract.md):
 *                          connection, snapshot, feed
 *
 * One instance per worker process, ngx_http_fado_sync.
 */

#ifndef NGX_HTTP_FADO_SYNC_H
#define NGX_HTTP_FADO_SYNC_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_fado_module.h"
#include "ngx_http_fado_redis.h"


#define NGX_HTTP_FADO_TICK          1000
#define NGX_HTTP_FADO_BLOCK         5000
#define NGX_HTTP_FADO_BACKOFF_MIN   100
#define NGX_HTTP_FADO_BACKOFF_MAX   5000
#define NGX_HTTP_FADO_FEED_COUNT    1000
#define NGX_HTTP_FADO_LOCK_BATCH    1000
#define NGX_HTTP_FADO_STATE_DELAY   1000   /* batches state file writes */


typedef struct {
    ngx_log_t                  *log;
    ngx_http_fado_main_conf_t  *fmcf;
    ngx_http_fado_table_t      *table;
    redisAsyncContext          *ac;

    ngx_event_t                 tick;       /* election, zombie sweep */
    ngx_event_t                 retry;      /* reconnect after back-off */
    ngx_event_t                 watchdog;   /* a reply is overdue */
    ngx_event_t                 state;      /* write the state file */

    ngx_msec_t                  backoff;
    ngx_uint_t                  server;     /* index in fmcf->servers */
    ngx_uint_t                  walk;       /* servers failed this round */
    ngx_msec_t                  snapshot_start;
    ngx_msec_t                  last_resync;
    ngx_atomic_uint_t           gen;        /* our configuration's */
    ngx_uint_t                  owner;
    ngx_uint_t                  snapshot_routes;

    uint64_t                    version;    /* last applied */
    uint64_t                    snapshot_version;
    size_t                      last_id_len;
    size_t                      epoch_len;
    size_t                      cursor_len;
    u_char                      last_id[64];
    u_char                      epoch[64];
    u_char                      cursor[32];
    unsigned                    synced:1;   /* table matches last_id */
    unsigned                    scan_clusters:1; /* snapshot phase */
    unsigned                    has_epoch:1;
} ngx_http_fado_sync_t;



extern ngx_http_fado_sync_t  ngx_http_fado_sync;


/* ngx_http_fado_sync.c: the protocol, run by the owner only */
void ngx_http_fado_sync_connect(ngx_http_fado_sync_t *s);
/* Forgets the connection; with a reason, records it and reconnects later. */
void ngx_http_fado_sync_drop(ngx_http_fado_sync_t *s, const char *why,
    size_t len);
void ngx_http_fado_sync_retry(ngx_event_t *ev);
void ngx_http_fado_sync_watchdog(ngx_event_t *ev);

/* ngx_http_fado_owner.c: ownership */
/* The write lock, if this worker still owns the table (else NGX_ERROR). */
ngx_int_t ngx_http_fado_owner_wlock(ngx_http_fado_sync_t *s);
void ngx_http_fado_owner_release(ngx_http_fado_sync_t *s);
/* The table changed: the state file is written soon. */
void ngx_http_fado_owner_changed(ngx_http_fado_sync_t *s);

#endif /* NGX_HTTP_FADO_SYNC_H */
