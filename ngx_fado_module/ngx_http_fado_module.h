/*
 * ngx_http_fado_module: data-aware balancer fed from Redis through shared
 * memory. Types shared by the files of the module:
 *
 *   ngx_http_fado_module.c    directives, variables, bucket lookup
 *   lib/route/frc_record.c    the route record decoder (no nginx inside)
 *   ngx_http_fado_table.c     the routing table in shared memory
 *   ngx_http_fado_cluster.c   contract 2: cluster records and their joins
 *   ngx_http_fado_state.c     the table on disk (fado_shm_zone state=)
 *   lib/route/frc_text.c      escaping of outside text (no nginx inside)
 *   ngx_http_fado_balancer.c  the upstream balancer and its policies
 *   ngx_http_fado_queue.c     the wait queue of a saturated upstream
 *   ngx_http_fado_owner.c     route sync: which worker syncs, state timer
 *   ngx_http_fado_sync.c      route sync: the Redis protocol (snapshot, feed)
 *   ngx_http_fado_redis.c     hiredis async on nginx's event loop
 *   ngx_http_fado_status.c    fado_status (JSON) and fado_metrics
 */

#ifndef NGX_HTTP_FADO_MODULE_H
#define NGX_HTTP_FADO_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "frc_record.h"
#include "ngx_http_fado_table.h"


enum {
    NGX_HTTP_FADO_LOCALITY_NONE = 0,
    NGX_HTTP_FADO_LOCALITY_LOCAL,
    NGX_HTTP_FADO_LOCALITY_FALLBACK
};


#define NGX_HTTP_FADO_REDIS_MAX  8


typedef struct ngx_http_fado_queue_s       ngx_http_fado_queue_t;
typedef struct ngx_http_fado_queue_wait_s  ngx_http_fado_queue_wait_t;


/* One server of fado_redis: a primary or one of its replicas. */
typedef struct {
    ngx_str_t                  name;         /* as written, for messages */
    u_char                     host[NGX_INET6_ADDRSTRLEN + 1];
    ngx_int_t                  port;
} ngx_http_fado_redis_server_t;


typedef struct {
    ngx_shm_zone_t            *shm_zone;

    ngx_http_fado_redis_server_t  servers[NGX_HTTP_FADO_REDIS_MAX];
    ngx_uint_t                 nservers;
    ngx_str_t                  password;     /* NUL terminated */
    ngx_int_t                  db;
    ngx_str_t                  prefix;
    ngx_msec_t                 connect_timeout;
    ngx_msec_t                 read_timeout;
    ngx_msec_t                 resync_interval;
    ngx_uint_t                 batch;

    /* prefixed key names, NUL terminated */
    ngx_str_t                  key_routes;
    ngx_str_t                  key_version;
    ngx_str_t                  key_feed;
    ngx_str_t                  key_default;
    ngx_str_t                  key_epoch;
    ngx_str_t                  key_clusters;
    ngx_str_t                  key_settings;

    ngx_http_fado_queue_t     *queues;       /* of this configuration */

    unsigned                   redis_set:1;
} ngx_http_fado_main_conf_t;


typedef struct {
    /* in upstream{}: the balancer */
    ngx_uint_t                 policy;
    ngx_http_complex_value_t  *hash_key;
    ngx_uint_t                 bounded_load; /* percent, 0 = unbounded */
    ngx_uint_t                 max_fails;
    ngx_msec_t                 fail_timeout;
    ngx_http_fado_queue_t     *queue;        /* queue=, NULL without */
    unsigned                   enabled:1;
} ngx_http_fado_srv_conf_t;


/*
 * fado_bucket off: a location that never looks a bucket up. Unset (NULL
 * after merging), the bucket comes from the header the controller
 * publishes as bucket_header, if it publishes one.
 */
#define NGX_HTTP_FADO_BUCKET_OFF  (&ngx_http_fado_bucket_off)

/* A marker only (not NGX_CONF_UNSET_PTR: that means "inherit"). */
extern ngx_http_complex_value_t  ngx_http_fado_bucket_off;


typedef struct {
    ngx_http_complex_value_t  *bucket;
    ngx_int_t                  unknown_status;  /* 0: use the default route */
    ngx_int_t                  no_route_status;
    unsigned                   own_handler:1; /* fado_status, fado_metrics */
} ngx_http_fado_loc_conf_t;


typedef struct {
    ngx_http_request_t        *request;
    ngx_str_t                  bucket;
    ngx_str_t                  bucket_log;    /* escaped, for log lines */
    ngx_http_fado_set_t       *set;           /* referenced until cleanup */
    ngx_http_fado_member_t    *member;        /* last chosen */
    ngx_http_fado_srv_conf_t  *uscf;
    u_char                    *tried;         /* per member of set */
    uint64_t                   version;       /* table version seen */
    uint64_t                   start_us;      /* of the current try */
    uint32_t                   key_hash;      /* for chash */
    ngx_uint_t                 locality;
    ngx_uint_t                 policy;        /* the route's override */
    ngx_uint_t                 nodefault;
    ngx_uint_t                 contract;      /* of the route: 1 or 2 */
    ngx_http_fado_queue_wait_t *wait;         /* while queued, or NULL */
    ngx_buf_t                 *origin_head;   /* the proxy's request head */
    ngx_str_t                  origin_uri;    /* and its URI (u->uri) */
    unsigned                   held:1;        /* member->ep->inflight taken */
    unsigned                   reserved:1;    /* held before get_peer */
    unsigned                   probe:1;       /* a reservation attempt */
    unsigned                   looked_up:1;
} ngx_http_fado_ctx_t;


extern ngx_module_t  ngx_http_fado_module;


ngx_http_fado_table_t *ngx_http_fado_table(ngx_http_fado_main_conf_t *fmcf);
ngx_str_t *ngx_http_fado_log_bucket(ngx_http_fado_ctx_t *ctx);
void ngx_http_fado_need_table(char *directive);

/* balancer */
char *ngx_http_fado_upstream(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_fado_balancer_available(ngx_http_fado_set_t *set,
    ngx_http_fado_srv_conf_t *uscf);
ngx_int_t ngx_http_fado_balancer_reserve(ngx_http_request_t *r,
    ngx_http_fado_ctx_t *ctx, ngx_http_upstream_srv_conf_t *us);

/* queue: the hooks of the preaccess handler and of the free-peer path */
char *ngx_http_fado_queue_conf(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us,
    ngx_http_fado_srv_conf_t *fscf, ngx_str_t *size, ngx_str_t *timeout);
ngx_int_t ngx_http_fado_queue_postconf(ngx_conf_t *cf);
ngx_int_t ngx_http_fado_queue_admit(ngx_http_request_t *r,
    ngx_http_fado_ctx_t *ctx);
void ngx_http_fado_queue_unhold(ngx_http_fado_ctx_t *ctx,
    ngx_http_fado_endpoint_t *ep, ngx_uint_t failed);
void ngx_http_fado_queue_cleanup(ngx_http_fado_ctx_t *ctx);
ngx_int_t ngx_http_fado_queue_init_process(ngx_cycle_t *cycle);
void ngx_http_fado_queue_exit_process(ngx_cycle_t *cycle);
size_t ngx_http_fado_queue_text_size(ngx_http_fado_main_conf_t *fmcf);
u_char *ngx_http_fado_queue_status(u_char *p, ngx_http_fado_main_conf_t *fmcf);
u_char *ngx_http_fado_queue_metrics(u_char *p,
    ngx_http_fado_main_conf_t *fmcf);

/* route sync (ngx_http_fado_owner.c, ngx_http_fado_sync.c) */
ngx_int_t ngx_http_fado_owner_init_process(ngx_cycle_t *cycle);
void ngx_http_fado_owner_exit_process(ngx_cycle_t *cycle);
const char *ngx_http_fado_sync_state_name(ngx_uint_t state);

/* status */
char *ngx_http_fado_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_fado_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

#endif /* NGX_HTTP_FADO_MODULE_H */
