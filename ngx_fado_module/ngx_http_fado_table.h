/*
 * The routing table in shared memory: bucket -> route -> interned endpoint
 * set -> endpoints with load counters shared by all workers. A contract 2
 * route goes through a group (its cluster list, interned) whose set is the
 * join of the groups's cluster records (ngx_http_fado_cluster.c); a cluster
 * change swaps the set of the few groups naming it, never touching routes.
 *
 * One worker (the sync owner) writes, under the write lock; requests read
 * under the read lock and leave it holding a reference on the endpoint set
 * they use. A set no route uses any more becomes a zombie and is freed by the
 * owner once its last reader is gone, so nothing is freed under a reader.
 */

#ifndef NGX_HTTP_FADO_TABLE_H
#define NGX_HTTP_FADO_TABLE_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "frc_record.h"
#include "frc_text.h"


/* A name from Redis or a request, escaped for a log line (%V). */
typedef struct {
    ngx_str_t                  s;
    u_char                     buf[FRC_TEXT_LOG_SIZE];
} ngx_http_fado_esc_t;


static ngx_inline ngx_str_t *
ngx_http_fado_esc(ngx_http_fado_esc_t *e, const void *p, size_t len)
{
    e->s.data = e->buf;
    e->s.len = frc_text_log(e->buf, p, len,
                            FRC_TEXT_LOG_MAX) - e->buf;
    return &e->s;
}


/*
 * In-flight counts are also kept per worker process, in a slot the worker
 * claims at start, so that the counts of a worker that crashed (and cannot
 * release them) are taken back when its slot is reclaimed.
 */
#define NGX_HTTP_FADO_SLOTS  64


typedef struct ngx_http_fado_endpoint_s  ngx_http_fado_endpoint_t;
typedef struct ngx_http_fado_set_s       ngx_http_fado_set_t;
typedef struct ngx_http_fado_route_s     ngx_http_fado_route_t;
typedef struct ngx_http_fado_cluster_s   ngx_http_fado_cluster_t;
typedef struct ngx_http_fado_group_s     ngx_http_fado_group_t;


struct ngx_http_fado_endpoint_s {
    ngx_http_fado_endpoint_t  *next;        /* intern chain */
    ngx_atomic_t               inflight;
    ngx_atomic_t               requests;
    ngx_atomic_t               fails;       /* consecutive, for max_fails */
    ngx_atomic_t               failures;    /* total */
    ngx_atomic_t               last_fail;   /* ngx_current_msec */
    ngx_atomic_t               ewma_us;     /* response time, microseconds */
    ngx_uint_t                 refs;        /* sets using it (write lock) */
    uint32_t                   held[NGX_HTTP_FADO_SLOTS]; /* per worker */
    uint32_t                   hash;
    socklen_t                  socklen;
    union {
        struct sockaddr        sa;
        struct sockaddr_in     sin;
        struct sockaddr_in6    sin6;
    }                          sockaddr;
    ngx_str_t                  name;        /* ip:port */
    ngx_str_t                  cluster;
    ngx_str_t                  zone;
    u_char                     data[1];
};


/* An endpoint's origin in a set (contract 2.1), in the set's own key
 * text, so it lives and dies with the set: immutable under readers. */
typedef struct {
    ngx_str_t                  host;        /* len 0: no name */
    ngx_str_t                  prefix;      /* len 0: no prefix */
    unsigned                   https:1;
} ngx_http_fado_origin_t;


typedef struct {
    ngx_http_fado_endpoint_t  *ep;
    uint32_t                   weight;
    uint32_t                   max_inflight;
    ngx_http_fado_origin_t     origin;
} ngx_http_fado_member_t;


struct ngx_http_fado_set_s {
    ngx_http_fado_set_t       *next;        /* intern chain, or zombie list */
    ngx_atomic_t               readers;     /* requests holding the set */
    uint32_t                   held[NGX_HTTP_FADO_SLOTS]; /* per worker */
    ngx_atomic_t               rr;          /* round robin cursor */
    ngx_atomic_t               rr_retry;    /* the same, for retries */
    ngx_uint_t                 routes;      /* routes using it (write lock) */
    uint32_t                   hash;
    uint32_t                   snap_id;     /* ordinal in the state file */
    uint32_t                   n;
    uint32_t                   total_weight;
    uint32_t                   key_len;
    u_char                    *key;         /* the record's endpoint text */
    ngx_http_fado_member_t     m[1];
};


/* A cluster record (C2): the endpoints of one cluster. */
struct ngx_http_fado_cluster_s {
    ngx_http_fado_cluster_t   *next;        /* hash chain */
    uint64_t                   version;
    uint32_t                   hash;
    uint32_t                   gen;         /* resync mark */
    uint32_t                   n;           /* endpoints in text */
    uint32_t                   text_len;
    u_char                    *text;        /* "addr,weight,max_inflight" */
    ngx_http_fado_endpoint_t **eps;         /* n references: counters live
                                               while the cluster is down */
    u_char                     up;
    u_char                     len;
    uint16_t                   zone_len;    /* its zones, "+"-joined */
    u_char                     name[FRC_NAME_MAX];
    u_char                     zone[FRC_ZONES_MAX];
};


/* The cluster list of F2 routes, shared by every route with that list. */
struct ngx_http_fado_group_s {
    ngx_http_fado_group_t     *next;        /* intern chain */
    ngx_http_fado_set_t       *set;         /* the join, never NULL */
    ngx_uint_t                 routes;      /* routes using it */
    uint32_t                   hash;
    uint32_t                   snap_id;     /* ordinal in the state file */
    uint32_t                   key_len;
    u_char                     key[1];      /* the clusters, as in F2 */
};


struct ngx_http_fado_route_s {
    ngx_http_fado_route_t     *next;
    ngx_http_fado_set_t       *set;         /* F1 */
    ngx_http_fado_group_t     *group;       /* F2 (then set is NULL) */
    uint64_t                   version;
    uint32_t                   hash;
    uint32_t                   gen;         /* resync mark */
    u_char                     policy;
    u_char                     len;
    u_char                     name[1];
};


enum {
    NGX_HTTP_FADO_SYNC_DISABLED = 0,
    NGX_HTTP_FADO_SYNC_CONNECTING,
    NGX_HTTP_FADO_SYNC_SNAPSHOT,
    NGX_HTTP_FADO_SYNC_FOLLOWING,
    NGX_HTTP_FADO_SYNC_DOWN
};


typedef struct {
    ngx_atomic_t               lock;        /* ngx_rwlock */
    ngx_atomic_t               owner;       /* pid of the sync worker */
    ngx_atomic_t               owner_gen;
    ngx_atomic_t               conf_gen;    /* bumped on every (re)load */
    ngx_atomic_t               slot_pid[NGX_HTTP_FADO_SLOTS];
    ngx_uint_t                 reclaimed;   /* in-flight counts taken back */

    ngx_http_fado_route_t    **slots;
    ngx_uint_t                 nslots;      /* a power of two */
    ngx_http_fado_set_t      **set_slots;
    ngx_uint_t                 nset_slots;
    ngx_http_fado_endpoint_t **ep_slots;
    ngx_uint_t                 nep_slots;
    ngx_http_fado_cluster_t  **cluster_slots;
    ngx_uint_t                 ncluster_slots;
    ngx_http_fado_group_t    **group_slots;
    ngx_uint_t                 ngroup_slots;

    ngx_http_fado_route_t     *def;         /* the "P default" route */
    ngx_http_fado_set_t       *zombies;

    ngx_uint_t                 nroutes;
    ngx_uint_t                 nsets;
    ngx_uint_t                 nendpoints;
    ngx_uint_t                 nzombies;
    ngx_uint_t                 nclusters;
    ngx_uint_t                 ngroups;
    uint32_t                   gen;

    /* written by the owner, read racily by the status handler */
    uint64_t                   version;
    ngx_uint_t                 state;
    ngx_uint_t                 resyncs;
    ngx_uint_t                 updates;
    ngx_uint_t                 rejected;
    ngx_uint_t                 alloc_failures;
    ngx_msec_t                 last_resync_ms;
    time_t                     last_resync_at;
    time_t                     last_error_at;
    size_t                     epoch_len;
    size_t                     last_error_len;
    ngx_uint_t                 ready;       /* a first table is loaded */
    ngx_uint_t                 redis_server; /* index the owner uses */
    uint64_t                   state_loaded_version;
    uint64_t                   state_version;   /* last written */
    ngx_uint_t                 state_writes;
    ngx_uint_t                 state_errors;
    time_t                     state_written_at;
    ngx_msec_t                 state_write_ms;  /* the last write took */
    u_char                     epoch[64];
    u_char                     last_error[256];

    /* the published bucket_header setting (write lock), empty: none */
    size_t                     bucket_header_len;
    u_char                     bucket_header[FRC_HEADER_MAX];
} ngx_http_fado_shm_t;


typedef struct {
    ngx_http_fado_shm_t       *sh;
    ngx_slab_pool_t           *shpool;
    ngx_shm_zone_t            *shm_zone;
    ngx_str_t                  state;       /* state= file, NUL terminated */
    ngx_str_t                  state_tmp;   /* state + ".tmp" */
} ngx_http_fado_table_t;


ngx_int_t ngx_http_fado_table_init_zone(ngx_shm_zone_t *shm_zone, void *data);

/* This worker's slot, NGX_HTTP_FADO_SLOTS when it has none. */
extern ngx_uint_t  ngx_http_fado_slot;


static ngx_inline ngx_atomic_uint_t
ngx_http_fado_hold(ngx_http_fado_endpoint_t *ep)
{
    ngx_atomic_uint_t  old;

    old = ngx_atomic_fetch_add(&ep->inflight, 1);

    /* only this process writes its slot: no atomic needed */
    if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
        ep->held[ngx_http_fado_slot]++;
    }

    return old;
}


static ngx_inline void
ngx_http_fado_unhold(ngx_http_fado_endpoint_t *ep)
{
    if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
        ep->held[ngx_http_fado_slot]--;
    }

    (void) ngx_atomic_fetch_add(&ep->inflight, (ngx_atomic_int_t) -1);
}


/* Worker start: reclaim the slots of dead workers, claim one. */
void ngx_http_fado_table_slot_claim(ngx_http_fado_table_t *t, ngx_log_t *log);
/* Worker exit: the slot is free again (what it held dies with it). */
void ngx_http_fado_table_slot_release(ngx_http_fado_table_t *t,
    ngx_log_t *log);
/* The owner, every tick (write lock held): slots of dead workers. */
ngx_uint_t ngx_http_fado_table_slot_reclaim(ngx_http_fado_table_t *t,
    ngx_log_t *log);

/* Request side: under the read lock, takes a reference on the set. */
ngx_http_fado_route_t *ngx_http_fado_table_lookup(ngx_http_fado_shm_t *sh,
    u_char *name, size_t len);
void ngx_http_fado_table_hold(ngx_http_fado_set_t *set);
void ngx_http_fado_table_release(ngx_http_fado_set_t *set);

/* The endpoint set a route routes to now (read or write lock held). */
#define ngx_http_fado_route_set(r)                                            \
    ((r)->group ? (r)->group->set : (r)->set)

/* Owner side: the caller holds the write lock. */
ngx_int_t ngx_http_fado_table_set(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *bucket, size_t len, const char *rec, size_t rec_len);
void ngx_http_fado_table_delete(ngx_http_fado_table_t *t, u_char *bucket,
    size_t len);
void ngx_http_fado_table_clear_default(ngx_http_fado_table_t *t);
/* The bucket_header setting; NGX_DECLINED (logged) if the value is not one. */
ngx_int_t ngx_http_fado_table_set_header(ngx_http_fado_table_t *t,
    ngx_log_t *log, const char *value, size_t len);
void ngx_http_fado_table_keep(ngx_http_fado_table_t *t, u_char *bucket,
    size_t len);
ngx_uint_t ngx_http_fado_table_sweep_unseen(ngx_http_fado_table_t *t);
ngx_uint_t ngx_http_fado_table_free_zombies(ngx_http_fado_table_t *t);
size_t ngx_http_fado_table_used(ngx_http_fado_table_t *t);

/*
 * Interns the set of an endpoint text (F1 grammar), taking a reference for
 * the caller; NULL with *rc NGX_DECLINED and err set if the text is
 * invalid, NGX_ERROR if the zone is full.
 */
ngx_http_fado_set_t *ngx_http_fado_table_intern(ngx_http_fado_table_t *t,
    const char *key, size_t key_len, ngx_int_t *rc, char *err);
void ngx_http_fado_table_unref_set(ngx_http_fado_table_t *t,
    ngx_http_fado_set_t *set);

/* References the endpoint "addr,cluster,zone" of re, interning it. */
ngx_http_fado_endpoint_t *ngx_http_fado_table_endpoint(
    ngx_http_fado_table_t *t, frc_record_endpoint_t *re);
void ngx_http_fado_table_unref_endpoint(ngx_http_fado_table_t *t,
    ngx_http_fado_endpoint_t *ep);

/* ngx_http_fado_state.c: the table on disk */
ngx_int_t ngx_http_fado_state_write(ngx_http_fado_table_t *t, ngx_log_t *log);
ngx_int_t ngx_http_fado_state_load(ngx_http_fado_table_t *t, ngx_log_t *log);

/* ngx_http_fado_cluster.c: cluster records and groups (owner side) */
ngx_int_t ngx_http_fado_cluster_init(ngx_http_fado_table_t *t);
ngx_int_t ngx_http_fado_cluster_set(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *name, size_t len, const char *rec, size_t rec_len);
void ngx_http_fado_cluster_delete(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *name, size_t len);
ngx_uint_t ngx_http_fado_cluster_sweep_unseen(ngx_http_fado_table_t *t,
    ngx_log_t *log);
ngx_http_fado_cluster_t *ngx_http_fado_cluster_lookup(ngx_http_fado_shm_t *sh,
    u_char *name, size_t len);
ngx_http_fado_group_t *ngx_http_fado_group_get(ngx_http_fado_table_t *t,
    const char *key, size_t key_len, ngx_int_t *rc, char *err);
void ngx_http_fado_group_unref(ngx_http_fado_table_t *t,
    ngx_http_fado_group_t *g);
void ngx_http_fado_table_error(ngx_http_fado_shm_t *sh, const char *fmt, ...);

/* A record not applied for want of memory: counted, logged rate limited. */
void ngx_http_fado_table_nomem(ngx_http_fado_table_t *t, ngx_log_t *log,
    const char *what, u_char *name, size_t len);
/* After a batch: one line for the records whose alert was held back. */
void ngx_http_fado_table_nomem_flush(ngx_log_t *log);

#endif /* NGX_HTTP_FADO_TABLE_H */
