/*
 * The wait queue of a fado upstream (`fado ... queue=N timeout=T`): when
 * every endpoint that may serve a request is at its max_inflight, the
 * request waits, in a queue all workers share, for the first of those
 * endpoints to free a slot, instead of being answered at once.
 *
 * Central queueing in the sense of core-granular schedulers: max_inflight is
 * the number of cores of an endpoint, and the gateway, which sees every core,
 * keeps the backlog instead of letting it pile up on busy endpoints.
 *
 * How a slot moves:
 *
 *   - admission (preaccess phase): the balancer reserves a slot now, with the
 *     request's policy (ngx_http_fado_balancer_reserve); the request that
 *     gets none takes a place in the queue (shared memory, one zone per
 *     upstream), arms its timeout and returns NGX_AGAIN to the phase engine;
 *   - free-peer path (ngx_http_fado_queue_unhold): the worker that frees a
 *     slot of endpoint E looks for the best waiter E may serve (a waiter of
 *     its own bucket's route before one on the default route, then the
 *     oldest) and hands the slot over: E's in-flight count does not drop,
 *     so no other request can take the slot meanwhile, and the waiter's
 *     worker is woken through its notification socket;
 *   - wake-up: every worker binds, at start, an abstract unix datagram
 *     socket named after its pid; a hand-off sends one byte to the waiter's
 *     worker, whose event loop then takes the slots handed to it and resumes
 *     those requests' phases. Nobody polls: a waiter sleeps until a slot is
 *     handed to it or its timer fires.
 *
 * A waiter whose client goes away, or whose timer fires, leaves the queue in
 * its request's cleanup; a slot handed to it and not taken yet goes on to
 * the next waiter. The places and slots of a worker that died are swept by
 * the next worker that takes the queue's lock, once the worker's table slot
 * shows another pid (ngx_http_fado_table_slot_reclaim).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sys/un.h>

#include "ngx_http_fado_module.h"


#define NGX_HTTP_FADO_QUEUE_MAX        65536
#define NGX_HTTP_FADO_QUEUE_TIMEOUT    60000

/* wait time histogram bounds, milliseconds (the last bucket is +Inf) */
#define NGX_HTTP_FADO_QUEUE_NHIST      10

static const ngx_msec_t  ngx_http_fado_queue_hist_ms[NGX_HTTP_FADO_QUEUE_NHIST]
    = { 1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000 };


enum {
    NGX_HTTP_FADO_QUEUE_FREE = 0,
    NGX_HTTP_FADO_QUEUE_WAITING,
    NGX_HTTP_FADO_QUEUE_GRANTED
};


/* A place in the queue. The waiter's pointers are only read in its pid. */
typedef struct {
    ngx_uint_t                   state;
    ngx_pid_t                    pid;
    ngx_uint_t                   slot;       /* the waiter's table slot */
    uint64_t                     seq;        /* arrival order */
    uint64_t                     since_us;
    ngx_http_fado_shm_t         *table;      /* the zone the set lives in */
    ngx_http_fado_set_t         *set;        /* referenced by the waiter */
    ngx_http_fado_endpoint_t    *ep;         /* GRANTED: the slot's */
    ngx_http_fado_queue_wait_t  *wait;       /* in the waiter's process */
    uint32_t                     member;     /* GRANTED: index in set */
    ngx_uint_t                   local;      /* its own bucket's route */
} ngx_http_fado_queue_entry_t;


typedef struct {
    ngx_atomic_t                 waiting;    /* read without the lock */
    ngx_uint_t                   used;       /* places not FREE */
    ngx_uint_t                   size;
    uint64_t                     seq;

    ngx_uint_t                   peak;
    ngx_uint_t                   enqueued;
    ngx_uint_t                   dispatched;
    ngx_uint_t                   timeouts;
    ngx_uint_t                   overflows;
    ngx_uint_t                   aborted;
    ngx_uint_t                   reclaimed;
    uint64_t                     wait_sum_us;
    uint64_t                     wait_max_us;
    ngx_uint_t                   hist[NGX_HTTP_FADO_QUEUE_NHIST + 1];

    ngx_http_fado_queue_entry_t  e[1];
} ngx_http_fado_queue_sh_t;


struct ngx_http_fado_queue_s {
    ngx_http_fado_queue_t       *next;       /* of the configuration */
    ngx_str_t                    upstream;
    ngx_uint_t                   size;
    ngx_msec_t                   timeout;
    ngx_shm_zone_t              *shm_zone;
    ngx_http_fado_queue_sh_t    *sh;
    ngx_slab_pool_t             *shpool;
};


struct ngx_http_fado_queue_wait_s {
    ngx_http_fado_queue_t       *q;
    ngx_http_fado_ctx_t         *ctx;
    ngx_event_t                  timer;
    ngx_uint_t                   index;
    uint64_t                     seq;
    uint64_t                     since_us;
};


static ngx_int_t ngx_http_fado_queue_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_upstream_srv_conf_t *ngx_http_fado_queue_upstream(
    ngx_http_request_t *r);
static ngx_http_fado_shm_t *ngx_http_fado_queue_table(void);
static void ngx_http_fado_queue_sweep(ngx_http_fado_queue_t *q,
    ngx_http_fado_shm_t *table);
static ngx_int_t ngx_http_fado_queue_grant(ngx_http_fado_queue_t *q,
    ngx_http_fado_shm_t *table, ngx_http_fado_endpoint_t *ep,
    ngx_pid_t *wake);
static void ngx_http_fado_queue_grant_entry(ngx_http_fado_queue_t *q,
    ngx_http_fado_queue_entry_t *best, uint32_t member);
static void ngx_http_fado_queue_kick(ngx_http_fado_queue_t *q,
    ngx_http_fado_shm_t *table);
static void ngx_http_fado_queue_pass(ngx_http_fado_queue_t *q,
    ngx_http_fado_shm_t *table, ngx_http_fado_endpoint_t *ep,
    ngx_pid_t *wake);
static void ngx_http_fado_queue_notify(ngx_pid_t pid, ngx_log_t *log);
static void ngx_http_fado_queue_take(ngx_http_fado_queue_t *q,
    ngx_http_fado_queue_entry_t *e);
static void ngx_http_fado_queue_resume(ngx_http_fado_queue_wait_t *w);
static void ngx_http_fado_queue_timeout(ngx_event_t *ev);
static void ngx_http_fado_queue_wake_handler(ngx_event_t *ev);


/* proxy's location conf starts with its ngx_http_upstream_conf_t */
static ngx_int_t          ngx_http_fado_queue_proxy_index = -1;
static ngx_connection_t  *ngx_http_fado_queue_channel;


static uint64_t
ngx_http_fado_queue_now_us(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec;
}


/* `queue=N [timeout=T]` of the fado directive */
char *
ngx_http_fado_queue_conf(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us,
    ngx_http_fado_srv_conf_t *fscf, ngx_str_t *size, ngx_str_t *timeout)
{
    size_t                      zsize;
    ngx_int_t                   n;
    ngx_str_t                   name;
    ngx_msec_t                  ms;
    ngx_http_fado_queue_t      *q;
    ngx_http_fado_main_conf_t  *fmcf;

    if (size == NULL) {
        if (timeout) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"timeout=%V\" needs \"queue=\"", timeout);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    n = ngx_atoi(size->data, size->len);
    if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_FADO_QUEUE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"queue=%V\": a number of "
                           "requests from 1 to %d", size,
                           NGX_HTTP_FADO_QUEUE_MAX);
        return NGX_CONF_ERROR;
    }

    ms = NGX_HTTP_FADO_QUEUE_TIMEOUT;

    if (timeout) {
        ms = ngx_parse_time(timeout, 0);
        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"timeout=%V\"", timeout);
            return NGX_CONF_ERROR;
        }
    }

    q = ngx_pcalloc(cf->pool, sizeof(ngx_http_fado_queue_t));
    if (q == NULL) {
        return NGX_CONF_ERROR;
    }

    q->upstream = us->host;
    q->size = n;
    q->timeout = ms;

    /* one zone per upstream: a new size on reload makes a new zone */
    name.len = sizeof("fado_queue:") - 1 + us->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "fado_queue:%V", &us->host);

    zsize = 8 * ngx_pagesize + sizeof(ngx_http_fado_queue_sh_t)
            + n * sizeof(ngx_http_fado_queue_entry_t);

    q->shm_zone = ngx_shared_memory_add(cf, &name, zsize,
                                        &ngx_http_fado_module);
    if (q->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (q->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upstream \"%V\" has a queue already", &us->host);
        return NGX_CONF_ERROR;
    }

    q->shm_zone->init = ngx_http_fado_queue_init_zone;
    q->shm_zone->data = q;

    fscf->queue = q;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fado_module);
    q->next = fmcf->queues;
    fmcf->queues = q;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fado_queue_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_fado_queue_t  *oq = data;

    ngx_http_fado_queue_t  *q;

    q = shm_zone->data;
    q->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /*
     * A reload keeps the zone (same name, same size), and with it the
     * requests old workers still have queued: new workers serve them too.
     */
    if (oq) {
        q->sh = oq->sh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        q->sh = q->shpool->data;
        return NGX_OK;
    }

    q->sh = ngx_slab_calloc(q->shpool, sizeof(ngx_http_fado_queue_sh_t)
                            + q->size * sizeof(ngx_http_fado_queue_entry_t));
    if (q->sh == NULL) {
        return NGX_ERROR;
    }

    q->sh->size = q->size;
    q->shpool->data = q->sh;

    return NGX_OK;
}


ngx_int_t
ngx_http_fado_queue_postconf(ngx_conf_t *cf)
{
    ngx_uint_t  i;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name, "ngx_http_proxy_module")
            == 0)
        {
            ngx_http_fado_queue_proxy_index = cf->cycle->modules[i]->ctx_index;
            break;
        }
    }

    return NGX_OK;
}


/*
 * The upstream a location proxies to, known at configuration time when
 * proxy_pass names it without variables: proxy's location configuration,
 * like that of every upstream-based module, starts with its
 * ngx_http_upstream_conf_t, whose first member is that upstream. The
 * pointer is checked against the upstream list before it is used.
 */
static ngx_http_upstream_srv_conf_t *
ngx_http_fado_queue_upstream(ngx_http_request_t *r)
{
    void                            *plcf;
    ngx_uint_t                       i;
    ngx_http_upstream_srv_conf_t    *us, **uscfp;
    ngx_http_upstream_main_conf_t   *umcf;

    if (ngx_http_fado_queue_proxy_index < 0) {
        return NULL;
    }

    plcf = r->loc_conf[ngx_http_fado_queue_proxy_index];
    if (plcf == NULL) {
        return NULL;
    }

    us = ((ngx_http_upstream_conf_t *) plcf)->upstream;
    if (us == NULL) {
        return NULL;
    }

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i] == us) {
            return us->srv_conf ? us : NULL;
        }
    }

    return NULL;
}


static ngx_http_fado_shm_t *
ngx_http_fado_queue_table(void)
{
    ngx_http_fado_table_t      *t;
    ngx_http_fado_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_fado_module);
    t = ngx_http_fado_table(fmcf);

    return t ? t->sh : NULL;
}


/* Is the waiter of e gone? Its table slot shows another pid then. */
static ngx_uint_t
ngx_http_fado_queue_stale(ngx_http_fado_queue_entry_t *e,
    ngx_http_fado_shm_t *table)
{
    if (e->table != table || e->slot >= NGX_HTTP_FADO_SLOTS) {
        return 0;   /* cannot tell: its worker will take it */
    }

    return table->slot_pid[e->slot] != (ngx_atomic_uint_t) e->pid;
}


static void
ngx_http_fado_queue_free_entry(ngx_http_fado_queue_t *q,
    ngx_http_fado_queue_entry_t *e)
{
    if (e->state == NGX_HTTP_FADO_QUEUE_WAITING) {
        (void) ngx_atomic_fetch_add(&q->sh->waiting, (ngx_atomic_int_t) -1);
    }

    e->state = NGX_HTTP_FADO_QUEUE_FREE;
    e->wait = NULL;
    e->set = NULL;
    e->ep = NULL;
    q->sh->used--;
}


/* Under the lock: the places of dead workers, and the slots handed to them */
static void
ngx_http_fado_queue_sweep(ngx_http_fado_queue_t *q, ngx_http_fado_shm_t *table)
{
    ngx_pid_t                     wake;
    ngx_uint_t                    i;
    ngx_http_fado_endpoint_t     *ep;
    ngx_http_fado_queue_entry_t  *e;

    for (i = 0; i < q->sh->size && q->sh->used; i++) {
        e = &q->sh->e[i];

        if (e->state == NGX_HTTP_FADO_QUEUE_FREE
            || !ngx_http_fado_queue_stale(e, table))
        {
            continue;
        }

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "fado: worker %P is gone with a request queued on "
                      "upstream \"%V\", its place is freed", e->pid,
                      &q->upstream);

        ep = (e->state == NGX_HTTP_FADO_QUEUE_GRANTED) ? e->ep : NULL;

        ngx_http_fado_queue_free_entry(q, e);
        q->sh->reclaimed++;

        if (ep) {
            wake = 0;
            ngx_http_fado_queue_pass(q, table, ep, &wake);
            ngx_http_fado_queue_notify(wake, ngx_cycle->log);
        }
    }
}


/*
 * Under the lock: hands one slot of ep, already counted in ep->inflight, to
 * the best waiter ep may serve. NGX_DECLINED when no waiter can take it.
 */
static ngx_int_t
ngx_http_fado_queue_grant(ngx_http_fado_queue_t *q, ngx_http_fado_shm_t *table,
    ngx_http_fado_endpoint_t *ep, ngx_pid_t *wake)
{
    uint32_t                      j, member;
    ngx_uint_t                    i;
    ngx_http_fado_member_t       *m;
    ngx_http_fado_queue_sh_t     *sh;
    ngx_http_fado_queue_entry_t  *e, *best;

    sh = q->sh;

    if (sh->waiting == 0) {
        return NGX_DECLINED;
    }

    best = NULL;
    member = 0;

    for (i = 0; i < sh->size; i++) {
        e = &sh->e[i];

        if (e->state != NGX_HTTP_FADO_QUEUE_WAITING || e->table != table
            || ngx_http_fado_queue_stale(e, table))
        {
            continue;
        }

        /* a waiter of its own bucket's route first, then arrival order */
        if (best
            && (best->local > e->local
                || (best->local == e->local && best->seq < e->seq)))
        {
            continue;
        }

        for (j = 0; j < e->set->n; j++) {
            m = &e->set->m[j];

            if (m->ep == ep
                && (m->max_inflight == 0 || ep->inflight <= m->max_inflight))
            {
                best = e;
                member = j;
                break;
            }
        }
    }

    if (best == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_fado_queue_grant_entry(q, best, member);

    *wake = best->pid;

    return NGX_OK;
}


/* Under the lock: e gets the slot, counted already, of its member. */
static void
ngx_http_fado_queue_grant_entry(ngx_http_fado_queue_t *q,
    ngx_http_fado_queue_entry_t *best, uint32_t member)
{
    uint64_t                   now, waited;
    ngx_uint_t                 h;
    ngx_http_fado_queue_sh_t  *sh;

    sh = q->sh;

    best->state = NGX_HTTP_FADO_QUEUE_GRANTED;
    best->ep = best->set->m[member].ep;
    best->member = member;
    (void) ngx_atomic_fetch_add(&sh->waiting, (ngx_atomic_int_t) -1);

    now = ngx_http_fado_queue_now_us();
    waited = now > best->since_us ? now - best->since_us : 0;

    sh->dispatched++;
    sh->wait_sum_us += waited;
    if (waited > sh->wait_max_us) {
        sh->wait_max_us = waited;
    }

    for (h = 0; h < NGX_HTTP_FADO_QUEUE_NHIST; h++) {
        if (waited <= ngx_http_fado_queue_hist_ms[h] * 1000) {
            break;
        }
    }

    sh->hist[h]++;
}


/*
 * Slots freed without the free-peer path (the in-flight counts of a dead
 * worker, taken back when its slot is reclaimed) go to the waiters they
 * suit, oldest first. Runs in a new worker, after its slot claim.
 */
static void
ngx_http_fado_queue_kick(ngx_http_fado_queue_t *q, ngx_http_fado_shm_t *table)
{
    uint32_t                      j;
    ngx_uint_t                    i;
    ngx_atomic_uint_t             old;
    ngx_http_fado_member_t       *m;
    ngx_http_fado_queue_sh_t     *sh;
    ngx_http_fado_queue_entry_t  *e, *best;

    sh = q->sh;

    ngx_shmtx_lock(&q->shpool->mutex);

    ngx_http_fado_queue_sweep(q, table);

    for ( ;; ) {
        best = NULL;

        for (i = 0; i < sh->size; i++) {
            e = &sh->e[i];

            if (e->state == NGX_HTTP_FADO_QUEUE_WAITING && e->table == table
                && (best == NULL || e->seq < best->seq))
            {
                best = e;
            }
        }

        if (best == NULL) {
            break;
        }

        for (j = 0; j < best->set->n; j++) {
            m = &best->set->m[j];
            old = ngx_atomic_fetch_add(&m->ep->inflight, 1);

            if (m->max_inflight == 0 || old < m->max_inflight) {
                break;
            }

            (void) ngx_atomic_fetch_add(&m->ep->inflight,
                                        (ngx_atomic_int_t) -1);
        }

        if (j == best->set->n) {
            break;  /* the oldest waits on: nobody overtakes it */
        }

        ngx_http_fado_queue_grant_entry(q, best, j);
        ngx_http_fado_queue_notify(best->pid, ngx_cycle->log);
    }

    ngx_shmtx_unlock(&q->shpool->mutex);
}


/* Under the lock: a slot of ep no waiter took is free again. */
static void
ngx_http_fado_queue_pass(ngx_http_fado_queue_t *q, ngx_http_fado_shm_t *table,
    ngx_http_fado_endpoint_t *ep, ngx_pid_t *wake)
{
    if (ngx_http_fado_queue_grant(q, table, ep, wake) != NGX_OK) {
        (void) ngx_atomic_fetch_add(&ep->inflight, (ngx_atomic_int_t) -1);
    }
}


static void
ngx_http_fado_queue_notify(ngx_pid_t pid, ngx_log_t *log)
{
    u_char              byte;
    socklen_t           len;
    struct sockaddr_un  sun;

    if (pid == 0 || ngx_http_fado_queue_channel == NULL) {
        return;
    }

    ngx_memzero(&sun, sizeof(struct sockaddr_un));
    sun.sun_family = AF_UNIX;
    len = ngx_sprintf((u_char *) sun.sun_path + 1, "fado-queue.%P", pid)
          - (u_char *) sun.sun_path;

    byte = 'w';

    /*
     * A full socket buffer means a wake-up is pending already, and a worker
     * that is gone leaves its places to the sweep: neither is an error.
     */
    if (sendto(ngx_http_fado_queue_channel->fd, &byte, 1, MSG_DONTWAIT,
               (struct sockaddr *) &sun,
               offsetof(struct sockaddr_un, sun_path) + len) == -1
        && ngx_errno != NGX_EAGAIN && ngx_errno != ECONNREFUSED
        && ngx_errno != ENOENT)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "fado: waking worker %P failed", pid);
    }
}


/*
 * The free-peer hook, in place of ngx_http_fado_unhold(): the slot goes to
 * a waiter if one may use it, else back to the endpoint.
 */
void
ngx_http_fado_queue_unhold(ngx_http_fado_ctx_t *ctx,
    ngx_http_fado_endpoint_t *ep, ngx_uint_t failed)
{
    uint32_t                    max;
    ngx_pid_t                   wake;
    ngx_atomic_uint_t           old;
    ngx_http_fado_shm_t        *table;
    ngx_http_fado_queue_t      *q;
    ngx_http_fado_srv_conf_t   *fscf;

    fscf = ctx->uscf;
    q = fscf ? fscf->queue : NULL;

    if (q == NULL || q->sh == NULL) {
        ngx_http_fado_unhold(ep);
        return;
    }

    if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
        ep->held[ngx_http_fado_slot]--;
    }

    table = ngx_http_fado_queue_table();
    wake = 0;
    max = ctx->member ? ctx->member->max_inflight : 0;

    /*
     * An endpoint this failure takes out for fail_timeout would only fail
     * a waiter too: its slot is not handed over, waiters wait for another.
     */
    if (failed && fscf->max_fails && ep->fails + 1 >= fscf->max_fails) {
        (void) ngx_atomic_fetch_add(&ep->inflight, (ngx_atomic_int_t) -1);
        return;
    }

    if (q->sh->waiting == 0) {
        (void) ngx_atomic_fetch_add(&ep->inflight, (ngx_atomic_int_t) -1);

        /*
         * An arrival that counted itself waiting after our look, and
         * looked at the endpoints before our decrement, sees neither:
         * look again (both are full barriers) and give it the slot.
         */
        if (q->sh->waiting == 0) {
            return;
        }

        ngx_shmtx_lock(&q->shpool->mutex);

        old = ngx_atomic_fetch_add(&ep->inflight, 1);

        if ((max != 0 && old >= max)
            || ngx_http_fado_queue_grant(q, table, ep, &wake) != NGX_OK)
        {
            /* taken by someone meanwhile, or nobody to give it to */
            (void) ngx_atomic_fetch_add(&ep->inflight, (ngx_atomic_int_t) -1);
        }

        ngx_shmtx_unlock(&q->shpool->mutex);

        ngx_http_fado_queue_notify(wake, ngx_cycle->log);
        return;
    }

    ngx_shmtx_lock(&q->shpool->mutex);
    ngx_http_fado_queue_sweep(q, table);
    ngx_http_fado_queue_pass(q, table, ep, &wake);
    ngx_shmtx_unlock(&q->shpool->mutex);

    ngx_http_fado_queue_notify(wake, ngx_cycle->log);
}


/*
 * Preaccess: NGX_DECLINED when the location's upstream has no queue, NGX_OK
 * with a slot reserved, NGX_AGAIN when queued, or the status to answer.
 */
ngx_int_t
ngx_http_fado_queue_admit(ngx_http_request_t *r, ngx_http_fado_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_pid_t                     wake;
    ngx_uint_t                    i;
    ngx_http_fado_shm_t          *table;
    ngx_http_fado_queue_t        *q;
    ngx_http_fado_queue_sh_t     *sh;
    ngx_http_fado_loc_conf_t     *flcf;
    ngx_http_fado_srv_conf_t     *fscf;
    ngx_http_fado_queue_wait_t   *w;
    ngx_http_fado_queue_entry_t  *e;
    ngx_http_fado_endpoint_t     *ep;
    ngx_http_upstream_srv_conf_t *us;

    us = ngx_http_fado_queue_upstream(r);
    if (us == NULL) {
        return NGX_DECLINED;
    }

    fscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_fado_module);
    if (fscf == NULL || !fscf->enabled || fscf->queue == NULL) {
        return NGX_DECLINED;
    }

    q = fscf->queue;
    sh = q->sh;
    table = ngx_http_fado_queue_table();

    rc = ngx_http_fado_balancer_reserve(r, ctx, us);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK && sh->waiting == 0) {
        return NGX_OK;
    }

    wake = 0;

    ngx_shmtx_lock(&q->shpool->mutex);

    ngx_http_fado_queue_sweep(q, table);

    /* counted before looking again: see the free path */
    (void) ngx_atomic_fetch_add(&sh->waiting, 1);

    if (rc != NGX_OK) {
        rc = ngx_http_fado_balancer_reserve(r, ctx, us);
    }

    if (rc == NGX_OK) {
        /*
         * A slot is free while others wait (a worker's slots reclaimed, or
         * a race with the free path): the oldest waiter it suits goes
         * first, this request queues behind it.
         */
        ep = ctx->member->ep;

        (void) ngx_atomic_fetch_add(&sh->waiting, (ngx_atomic_int_t) -1);

        if (ngx_http_fado_queue_grant(q, table, ep, &wake) != NGX_OK) {
            ngx_shmtx_unlock(&q->shpool->mutex);
            return NGX_OK;
        }

        (void) ngx_atomic_fetch_add(&sh->waiting, 1);

        if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
            ep->held[ngx_http_fado_slot]--;
        }

        (void) ngx_atomic_fetch_add(&ep->requests, (ngx_atomic_int_t) -1);
        ctx->tried[ctx->member - ctx->set->m] = 0;     /* not tried */
        ctx->member = NULL;
        ctx->held = 0;
        ctx->reserved = 0;
    }

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fado_module);

    if (sh->used >= sh->size) {
        (void) ngx_atomic_fetch_add(&sh->waiting, (ngx_atomic_int_t) -1);
        sh->overflows++;
        ngx_shmtx_unlock(&q->shpool->mutex);

        ngx_http_fado_queue_notify(wake, r->connection->log);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fado: queue of upstream \"%V\" is full (%ui waiting), "
                      "bucket \"%V\" answered %i", &q->upstream, sh->size,
                      ngx_http_fado_log_bucket(ctx), flcf->no_route_status);

        return flcf->no_route_status;
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_fado_queue_wait_t));
    if (w == NULL) {
        (void) ngx_atomic_fetch_add(&sh->waiting, (ngx_atomic_int_t) -1);
        ngx_shmtx_unlock(&q->shpool->mutex);
        ngx_http_fado_queue_notify(wake, r->connection->log);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < sh->size; i++) {
        if (sh->e[i].state == NGX_HTTP_FADO_QUEUE_FREE) {
            break;
        }
    }

    e = &sh->e[i];

    w->q = q;
    w->ctx = ctx;
    w->index = i;
    w->seq = ++sh->seq;
    w->since_us = ngx_http_fado_queue_now_us();

    e->state = NGX_HTTP_FADO_QUEUE_WAITING;
    e->pid = ngx_pid;
    e->slot = ngx_http_fado_slot;
    e->seq = w->seq;
    e->since_us = w->since_us;
    e->table = table;
    e->set = ctx->set;
    e->ep = NULL;
    e->wait = w;
    e->local = (ctx->locality == NGX_HTTP_FADO_LOCALITY_LOCAL);

    sh->used++;
    sh->enqueued++;
    if (sh->used > sh->peak) {
        sh->peak = sh->used;
    }

    ngx_shmtx_unlock(&q->shpool->mutex);

    ngx_http_fado_queue_notify(wake, r->connection->log);

    ctx->wait = w;

    w->timer.handler = ngx_http_fado_queue_timeout;
    w->timer.data = w;
    w->timer.log = r->connection->log;
    ngx_add_timer(&w->timer, q->timeout);

    /* a client that goes away while queued ends the request (cleanup) */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fado: bucket \"%V\" queued on upstream \"%V\", place %ui, "
                   "%ui in the queue", ngx_http_fado_log_bucket(ctx),
                   &q->upstream, i, sh->used);

    return NGX_AGAIN;
}


/* Under the lock, in the waiter's worker: the slot handed to e is ours. */
static void
ngx_http_fado_queue_take(ngx_http_fado_queue_t *q,
    ngx_http_fado_queue_entry_t *e)
{
    ngx_http_fado_ctx_t         *ctx;
    ngx_http_fado_member_t      *m;
    ngx_http_fado_queue_wait_t  *w;

    w = e->wait;
    ctx = w->ctx;
    m = &ctx->set->m[e->member];

    if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
        m->ep->held[ngx_http_fado_slot]++;
    }

    (void) ngx_atomic_fetch_add(&m->ep->requests, 1);

    ctx->tried[e->member] = 1;     /* the balancer's "used" mark */
    ctx->member = m;
    ctx->held = 1;
    ctx->reserved = 1;

    ngx_http_fado_queue_free_entry(q, e);
}


static void
ngx_http_fado_queue_resume(ngx_http_fado_queue_wait_t *w)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = w->ctx->request;
    c = r->connection;

    w->ctx->wait = NULL;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fado: bucket \"%V\" leaves the queue for %V",
                   ngx_http_fado_log_bucket(w->ctx), &w->ctx->member->ep->name);

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fado_queue_timeout(ngx_event_t *ev)
{
    ngx_http_fado_queue_wait_t *w = ev->data;

    ngx_msec_t                    waited;
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_fado_queue_t        *q;
    ngx_http_fado_loc_conf_t     *flcf;
    ngx_http_fado_queue_entry_t  *e;

    q = w->q;
    r = w->ctx->request;
    c = r->connection;
    e = &q->sh->e[w->index];

    ngx_shmtx_lock(&q->shpool->mutex);

    if (e->wait == w && e->seq == w->seq && e->pid == ngx_pid
        && e->state == NGX_HTTP_FADO_QUEUE_GRANTED)
    {
        /* handed over just now, the wake-up is on its way: take it */
        ngx_http_fado_queue_take(q, e);
        ngx_shmtx_unlock(&q->shpool->mutex);
        ngx_http_fado_queue_resume(w);
        return;
    }

    if (e->wait == w && e->seq == w->seq && e->pid == ngx_pid) {
        ngx_http_fado_queue_free_entry(q, e);
        q->sh->timeouts++;
    }

    ngx_shmtx_unlock(&q->shpool->mutex);

    w->ctx->wait = NULL;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fado_module);
    waited = (ngx_msec_t) ((ngx_http_fado_queue_now_us() - w->since_us)
                           / 1000);

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "fado: bucket \"%V\" waited %Mms in the queue of upstream "
                  "\"%V\" and no endpoint freed a slot, answering %i",
                  ngx_http_fado_log_bucket(w->ctx), waited, &q->upstream,
                  flcf->no_route_status);

    ngx_http_finalize_request(r, flcf->no_route_status);
    ngx_http_run_posted_requests(c);
}


/* Request cleanup: a waiter leaves, and a slot handed to it goes on. */
void
ngx_http_fado_queue_cleanup(ngx_http_fado_ctx_t *ctx)
{
    ngx_pid_t                     wake;
    ngx_http_fado_shm_t          *table;
    ngx_http_fado_queue_t        *q;
    ngx_http_fado_endpoint_t     *ep;
    ngx_http_fado_queue_wait_t   *w;
    ngx_http_fado_queue_entry_t  *e;

    w = ctx->wait;
    if (w == NULL) {
        return;
    }

    ctx->wait = NULL;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    q = w->q;
    e = &q->sh->e[w->index];
    table = ngx_http_fado_queue_table();
    wake = 0;
    ep = NULL;

    ngx_shmtx_lock(&q->shpool->mutex);

    if (e->wait == w && e->seq == w->seq && e->pid == ngx_pid) {
        if (e->state == NGX_HTTP_FADO_QUEUE_GRANTED) {
            ep = e->ep;
        }

        ngx_http_fado_queue_free_entry(q, e);
        q->sh->aborted++;

        if (ep) {
            ngx_http_fado_queue_pass(q, table, ep, &wake);
        }
    }

    ngx_shmtx_unlock(&q->shpool->mutex);

    ngx_http_fado_queue_notify(wake, ngx_cycle->log);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "fado: a request left the queue of upstream \"%V\"",
                   &q->upstream);
}


/* Our worker was handed slots: take them, then resume their requests. */
static void
ngx_http_fado_queue_wake_handler(ngx_event_t *ev)
{
    u_char                        buf[64];
    ssize_t                       n;
    ngx_uint_t                    i, k, more;
    ngx_connection_t             *c;
    ngx_http_fado_queue_t        *q;
    ngx_http_fado_queue_wait_t   *ready[32];
    ngx_http_fado_queue_entry_t  *e;
    ngx_http_fado_main_conf_t    *fmcf;

    c = ev->data;

    do {
        n = recv(c->fd, buf, sizeof(buf), 0);
    } while (n > 0);

    if (n == -1 && ngx_socket_errno != NGX_EAGAIN) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_socket_errno,
                      "fado: reading the queue's wake-ups failed");
    }

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_fado_module);

    for (q = fmcf ? fmcf->queues : NULL; q; q = q->next) {

        do {
            k = 0;
            more = 0;

            ngx_shmtx_lock(&q->shpool->mutex);

            for (i = 0; i < q->sh->size; i++) {
                e = &q->sh->e[i];

                if (e->state != NGX_HTTP_FADO_QUEUE_GRANTED
                    || e->pid != ngx_pid)
                {
                    continue;
                }

                if (k == sizeof(ready) / sizeof(ready[0])) {
                    more = 1;
                    break;
                }

                ready[k++] = e->wait;
                ngx_http_fado_queue_take(q, e);
            }

            ngx_shmtx_unlock(&q->shpool->mutex);

            for (i = 0; i < k; i++) {
                ngx_http_fado_queue_resume(ready[i]);
            }

        } while (more);
    }

    if (ngx_handle_read_event(ev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "fado: the queue's wake-up socket failed");
    }
}


/*
 * Worker start: the notification socket other workers wake this one on,
 * an abstract unix datagram socket named after the pid (nothing on disk,
 * gone with the process).
 */
ngx_int_t
ngx_http_fado_queue_init_process(ngx_cycle_t *cycle)
{
    socklen_t                   len;
    ngx_socket_t                s;
    ngx_connection_t           *c;
    struct sockaddr_un          sun;
    ngx_http_fado_queue_t      *q;
    ngx_http_fado_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fado_module);

    if (fmcf == NULL || fmcf->queues == NULL
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "fado: socket() for the queue's wake-ups failed");
        return NGX_ERROR;
    }

    ngx_memzero(&sun, sizeof(struct sockaddr_un));
    sun.sun_family = AF_UNIX;
    len = ngx_sprintf((u_char *) sun.sun_path + 1, "fado-queue.%P", ngx_pid)
          - (u_char *) sun.sun_path;

    if (bind(s, (struct sockaddr *) &sun,
             offsetof(struct sockaddr_un, sun_path) + len) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "fado: bind() of the queue's wake-up socket failed");
        (void) ngx_close_socket(s);
        return NGX_ERROR;
    }

    c = ngx_get_connection(s, cycle->log);
    if (c == NULL) {
        (void) ngx_close_socket(s);
        return NGX_ERROR;
    }

    c->read->handler = ngx_http_fado_queue_wake_handler;
    c->read->log = cycle->log;
    c->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_http_fado_queue_channel = c;

    /* this worker may replace a dead one whose slots were just taken back */
    for (q = fmcf->queues; q; q = q->next) {
        ngx_http_fado_queue_kick(q, ngx_http_fado_queue_table());
    }

    return NGX_OK;
}


void
ngx_http_fado_queue_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_fado_queue_channel) {
        ngx_close_connection(ngx_http_fado_queue_channel);
        ngx_http_fado_queue_channel = NULL;
    }
}


size_t
ngx_http_fado_queue_text_size(ngx_http_fado_main_conf_t *fmcf)
{
    size_t                  size;
    ngx_http_fado_queue_t  *q;

    size = sizeof("\"queues\":[],");

    for (q = fmcf->queues; q; q = q->next) {
        /*
         * The larger of the JSON object and the metrics (9 families, the
         * histogram's buckets): a line each, with the upstream's name and a
         * number of up to 20 digits.
         */
        size += (16 + NGX_HTTP_FADO_QUEUE_NHIST) * (q->upstream.len + 128);
    }

    return size;
}


u_char *
ngx_http_fado_queue_status(u_char *p, ngx_http_fado_main_conf_t *fmcf)
{
    ngx_http_fado_queue_t     *q;
    ngx_http_fado_queue_sh_t  *sh;

    if (fmcf->queues == NULL) {
        return p;
    }

    p = ngx_sprintf(p, ",\"queues\":[");

    for (q = fmcf->queues; q; q = q->next) {
        sh = q->sh;

        /* counters read racily, like the endpoints' */
        p = ngx_sprintf(p, "{\"upstream\":\"%V\",\"size\":%ui,"
                        "\"timeout_ms\":%M,\"waiting\":%uA,\"length\":%ui,"
                        "\"peak\":%ui,\"enqueued\":%ui,\"dispatched\":%ui,"
                        "\"timeouts\":%ui,\"overflows\":%ui,\"aborted\":%ui,"
                        "\"reclaimed\":%ui,\"wait_avg_ms\":%uL,"
                        "\"wait_max_ms\":%uL}%s",
                        &q->upstream, sh->size, q->timeout, sh->waiting,
                        sh->used, sh->peak, sh->enqueued, sh->dispatched,
                        sh->timeouts, sh->overflows, sh->aborted,
                        sh->reclaimed,
                        sh->dispatched ? sh->wait_sum_us / sh->dispatched
                                         / 1000 : 0,
                        sh->wait_max_us / 1000, q->next ? "," : "");
    }

    return ngx_sprintf(p, "]");
}


u_char *
ngx_http_fado_queue_metrics(u_char *p, ngx_http_fado_main_conf_t *fmcf)
{
    ngx_uint_t                 h, n, pass;
    ngx_http_fado_queue_t     *q;
    ngx_http_fado_queue_sh_t  *sh;

    static const char  *names[] = {
        "fado_queue_length", "fado_queue_size",
        "fado_queue_enqueued_total", "fado_queue_dispatched_total",
        "fado_queue_timeouts_total", "fado_queue_overflows_total",
        "fado_queue_aborted_total"
    };
    static const char  *types[] = {
        "gauge", "gauge", "counter", "counter", "counter", "counter",
        "counter"
    };

    if (fmcf->queues == NULL) {
        return p;
    }

    for (pass = 0; pass < sizeof(names) / sizeof(names[0]); pass++) {
        p = ngx_sprintf(p, "# TYPE %s %s\n", names[pass], types[pass]);

        for (q = fmcf->queues; q; q = q->next) {
            sh = q->sh;

            switch (pass) {
            case 0:  n = sh->used; break;
            case 1:  n = sh->size; break;
            case 2:  n = sh->enqueued; break;
            case 3:  n = sh->dispatched; break;
            case 4:  n = sh->timeouts; break;
            case 5:  n = sh->overflows; break;
            default: n = sh->aborted;
            }

            p = ngx_sprintf(p, "%s{upstream=\"%V\"} %ui\n", names[pass],
                            &q->upstream, n);
        }
    }

    p = ngx_sprintf(p, "# TYPE fado_queue_wait_seconds histogram\n");

    for (q = fmcf->queues; q; q = q->next) {
        sh = q->sh;
        n = 0;

        for (h = 0; h <= NGX_HTTP_FADO_QUEUE_NHIST; h++) {
            n += sh->hist[h];

            if (h == NGX_HTTP_FADO_QUEUE_NHIST) {
                p = ngx_sprintf(p, "fado_queue_wait_seconds_bucket{upstream="
                                "\"%V\",le=\"+Inf\"} %ui\n", &q->upstream, n);
                break;
            }

            p = ngx_sprintf(p, "fado_queue_wait_seconds_bucket{upstream="
                            "\"%V\",le=\"%M.%03M\"} %ui\n", &q->upstream,
                            ngx_http_fado_queue_hist_ms[h] / 1000,
                            ngx_http_fado_queue_hist_ms[h] % 1000, n);
        }

        p = ngx_sprintf(p, "fado_queue_wait_seconds_sum{upstream=\"%V\"} "
                        "%uL.%06uL\nfado_queue_wait_seconds_count{upstream="
                        "\"%V\"} %ui\n", &q->upstream,
                        sh->wait_sum_us / 1000000, sh->wait_sum_us % 1000000,
                        &q->upstream, sh->dispatched);
    }

    return p;
}
