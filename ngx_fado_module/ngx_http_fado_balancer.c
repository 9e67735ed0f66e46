/*
 * The fado balancer: `fado` inside upstream{}. The bucket lookup already
 * happened in the preaccess phase and left the request holding its route's
 * endpoint set; here a policy picks one member of that set per try, using
 * the load counters every worker shares. Retries skip members already tried
 * and prefer a cluster not tried yet, since another replica of the data is
 * the best second chance.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <math.h>

#include "ngx_http_fado_module.h"
#include "ngx_http_fado_origin.h"


#define NGX_HTTP_FADO_ZONE_REFUSED                                            \
    "\"zone\" cannot be used in a \"fado\" upstream: its endpoints and "      \
    "their counters live in fado_shm_zone"


/* What a request did with each member of its set (ctx->tried[i]). */
enum {
    NGX_HTTP_FADO_TRY_NONE = 0,     /* not tried: eligible */
    NGX_HTTP_FADO_TRY_USED,         /* a try went to it */
    NGX_HTTP_FADO_TRY_RACED         /* its last in-flight slot was taken
                                       while this pick held it: skipped for
                                       the rest of the pick only */
};

/* The passes of a pick (ngx_http_fado_eligible). */
enum {
    NGX_HTTP_FADO_PASS_NEW_CLUSTER = 0, /* clusters no earlier try used */
    NGX_HTTP_FADO_PASS_ANY
};


static ngx_int_t ngx_http_fado_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_fado_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_fado_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_fado_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);


static uint64_t
ngx_http_fado_now_us(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec;
}


char *
ngx_http_fado_upstream(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fado_srv_conf_t  *fscf = conf;

    ngx_int_t                          n;
    ngx_str_t                         *value, v, qsize, qtimeout;
    ngx_str_t                         *qs, *qt;
    ngx_uint_t                         i;
    ngx_msec_t                         ms;
    ngx_http_upstream_server_t        *us;
    ngx_http_upstream_srv_conf_t      *uscf;
    ngx_http_compile_complex_value_t   ccv;

    if (fscf->enabled) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "load balancing method redefined");
        return NGX_CONF_ERROR;
    }

    if (uscf->servers->nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a \"fado\" upstream takes its endpoints from the "
                           "routing table, not from \"server\" directives");
        return NGX_CONF_ERROR;
    }

    if (uscf->shm_zone) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_HTTP_FADO_ZONE_REFUSED);
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;
    qs = NULL;
    qt = NULL;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len > 6 && ngx_strncmp(value[i].data, "queue=", 6) == 0) {
            qsize.data = value[i].data + 6;
            qsize.len = value[i].len - 6;
            qs = &qsize;
            continue;
        }

        if (value[i].len > 8
            && ngx_strncmp(value[i].data, "timeout=", 8) == 0)
        {
            qtimeout.data = value[i].data + 8;
            qtimeout.len = value[i].len - 8;
            qt = &qtimeout;
            continue;
        }

        if (value[i].len > 7 && ngx_strncmp(value[i].data, "policy=", 7) == 0)
        {
            n = frc_record_policy((char *) value[i].data + 7,
                                  value[i].len - 7);
            if (n <= FRC_POLICY_DEFAULT) {
                goto invalid;
            }

            fscf->policy = n;
            continue;
        }

        if (value[i].len > 9
            && ngx_strncmp(value[i].data, "hash_key=", 9) == 0)
        {
            v.data = value[i].data + 9;
            v.len = value[i].len - 9;

            fscf->hash_key = ngx_palloc(cf->pool,
                                        sizeof(ngx_http_complex_value_t));
            if (fscf->hash_key == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
            ccv.cf = cf;
            ccv.value = &v;
            ccv.complex_value = fscf->hash_key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (value[i].len > 13
            && ngx_strncmp(value[i].data, "bounded_load=", 13) == 0)
        {
            /* a factor with up to two decimals, e.g. 1.25; 0 = unbounded */
            n = ngx_atofp(value[i].data + 13, value[i].len - 13, 2);
            if (n == NGX_ERROR || (n != 0 && n < 100) || n > 10000) {
                goto invalid;
            }

            fscf->bounded_load = n;
            continue;
        }

        if (value[i].len > 10
            && ngx_strncmp(value[i].data, "max_fails=", 10) == 0)
        {
            n = ngx_atoi(value[i].data + 10, value[i].len - 10);
            if (n == NGX_ERROR || n > 1000) {
                goto invalid;
            }

            fscf->max_fails = n;
            continue;
        }

        if (value[i].len > 13
            && ngx_strncmp(value[i].data, "fail_timeout=", 13) == 0)
        {
            v.data = value[i].data + 13;
            v.len = value[i].len - 13;

            ms = ngx_parse_time(&v, 0);
            if (ms == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

            fscf->fail_timeout = ms;
            continue;
        }

        goto invalid;
    }

    if (ngx_http_fado_queue_conf(cf, uscf, fscf, qs, qt) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * nginx insists that an upstream block lists a server; the endpoints of
     * a fado upstream come from the routing table, so a placeholder stands
     * in for them and init_upstream checks nobody added real ones.
     */
    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));
    ngx_str_set(&us->name, "fado");

    uscf->peer.init_upstream = ngx_http_fado_init_upstream;
    uscf->flags = NGX_HTTP_UPSTREAM_CREATE;

    fscf->enabled = 1;
    ngx_http_fado_need_table("fado");

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_fado_init_upstream(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    if (us->servers->nelts != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" mixes \"fado\" with \"server\" "
                      "directives in %s:%ui; a \"fado\" upstream takes its "
                      "endpoints from the routing table",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    /*
     * The zone module would copy round-robin peers this upstream does not
     * have into shared memory, and crash doing so: refuse it here, when
     * "zone" came after "fado" (before, the "fado" directive refused it).
     */
    if (us->shm_zone) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" in %s:%ui: " NGX_HTTP_FADO_ZONE_REFUSED,
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_fado_init_peer;

    return NGX_OK;
}


/* The request's view of its upstream: its policy and hash key. */
static ngx_int_t
ngx_http_fado_prepare(ngx_http_request_t *r, ngx_http_fado_ctx_t *ctx,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_str_t                  key;
    ngx_http_fado_srv_conf_t  *fscf;

    fscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_fado_module);

    ctx->uscf = fscf;

    if (ctx->policy == FRC_POLICY_DEFAULT) {
        ctx->policy = fscf->policy;
    }

    if (ctx->policy == FRC_POLICY_CHASH) {
        key = ctx->bucket;

        if (fscf->hash_key
            && ngx_http_complex_value(r, fscf->hash_key, &key) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->key_hash = ngx_crc32_long(key.data, key.len);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "fado: hash key of %uz bytes -> %uD", key.len,
                       ctx->key_hash);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_fado_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_fado_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fado_module);

    if (ctx == NULL || ctx->set == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fado: upstream \"%V\" used in a location without "
                      "\"fado_bucket\"", &us->host);
        return NGX_ERROR;
    }

    if (ngx_http_fado_prepare(r, ctx, us) != NGX_OK) {
        return NGX_ERROR;
    }

    r->upstream->peer.get = ngx_http_fado_get_peer;
    r->upstream->peer.free = ngx_http_fado_free_peer;
    r->upstream->peer.data = ctx;
    r->upstream->peer.tries = ctx->set->n;

    return NGX_OK;
}


ngx_int_t
ngx_http_fado_balancer_available(ngx_http_fado_set_t *set,
    ngx_http_fado_srv_conf_t *fscf)
{
    uint32_t                 i;
    ngx_http_fado_member_t  *m;

    for (i = 0; i < set->n; i++) {
        m = &set->m[i];

        if (m->max_inflight == 0 || m->ep->inflight < m->max_inflight) {
            return NGX_OK;
        }
    }

    return NGX_BUSY;
}


/*
 * The queue's admission (ngx_http_fado_queue.c): the first try of get_peer,
 * run in the preaccess phase, so that a request either holds its slot
 * before proxying starts or waits for one; get_peer then hands it out.
 */
ngx_int_t
ngx_http_fado_balancer_reserve(ngx_http_request_t *r, ngx_http_fado_ctx_t *ctx,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_int_t              rc;
    ngx_peer_connection_t  pc;

    if (ngx_http_fado_prepare(r, ctx, us) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));
    pc.log = r->connection->log;

    ctx->probe = 1;
    rc = ngx_http_fado_get_peer(&pc, ctx);
    ctx->probe = 0;

    if (rc == NGX_OK) {
        ctx->reserved = 1;
    }

    return rc;
}


/*
 * A pick looks at the members in passes: a retry first keeps to clusters no
 * earlier try used (another replica of the data is the best second chance),
 * then takes any member still eligible.
 */
static ngx_uint_t
ngx_http_fado_eligible(ngx_http_fado_ctx_t *ctx, uint32_t i, ngx_uint_t pass,
    ngx_msec_t now)
{
    uint32_t                   j;
    ngx_http_fado_member_t    *m;
    ngx_http_fado_endpoint_t  *ep;
    ngx_http_fado_srv_conf_t  *fscf;

    m = &ctx->set->m[i];
    ep = m->ep;
    fscf = ctx->uscf;

    if (ctx->tried[i] != NGX_HTTP_FADO_TRY_NONE) {
        return 0;
    }

    if (m->max_inflight && ep->inflight >= m->max_inflight) {
        return 0;
    }

    if (fscf->max_fails && ep->fails >= fscf->max_fails
        && (ngx_msec_int_t) (now - (ngx_msec_t) ep->last_fail)
           < (ngx_msec_int_t) fscf->fail_timeout)
    {
        return 0;
    }

    if (pass == NGX_HTTP_FADO_PASS_NEW_CLUSTER) {
        for (j = 0; j < ctx->set->n; j++) {
            if (ctx->tried[j] == NGX_HTTP_FADO_TRY_USED
                && ctx->set->m[j].ep->cluster.len == ep->cluster.len
                && ngx_memcmp(ctx->set->m[j].ep->cluster.data,
                              ep->cluster.data, ep->cluster.len) == 0)
            {
                return 0;
            }
        }
    }

    return 1;
}


/* a < b in load per weight, without division */
static ngx_uint_t
ngx_http_fado_less_loaded(ngx_http_fado_member_t *a, ngx_http_fado_member_t *b)
{
    return (uint64_t) a->ep->inflight * b->weight
           < (uint64_t) b->ep->inflight * a->weight;
}


/*
 * The cursor a pick turns: retries turn a cursor of their own, since on the
 * shared one the retry after a failing member would always take the slot of
 * the member that follows it, which then never gets a first try.
 */
static uint32_t
ngx_http_fado_cursor(ngx_http_fado_ctx_t *ctx)
{
    return (uint32_t) ngx_atomic_fetch_add(ctx->member ? &ctx->set->rr_retry
                                                       : &ctx->set->rr, 1);
}


/* Weighted round robin over the eligible members. */
static ngx_int_t
ngx_http_fado_pick_rr(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    uint32_t              i;
    uint64_t              w, total;
    ngx_http_fado_set_t  *set;

    set = ctx->set;
    total = 0;

    for (i = 0; i < set->n; i++) {
        if (ngx_http_fado_eligible(ctx, i, pass, now)) {
            total += set->m[i].weight;
        }
    }

    if (total == 0) {
        return -1;
    }

    w = ngx_http_fado_cursor(ctx) % total;

    for (i = 0; i < set->n; i++) {
        if (!ngx_http_fado_eligible(ctx, i, pass, now)) {
            continue;
        }

        if (w < set->m[i].weight) {
            return i;
        }

        w -= set->m[i].weight;
    }

    return -1;
}


/* Least in-flight per weight; ties broken in turn. */
static ngx_int_t
ngx_http_fado_pick_lc(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    uint32_t              i, k, start;
    ngx_int_t             best;
    ngx_http_fado_set_t  *set;

    set = ctx->set;
    start = ngx_http_fado_cursor(ctx);
    best = -1;

    for (k = 0; k < set->n; k++) {
        i = (start + k) % set->n;

        if (ngx_http_fado_eligible(ctx, i, pass, now)
            && (best == -1
                || ngx_http_fado_less_loaded(&set->m[i], &set->m[best])))
        {
            best = i;
        }
    }

    return best;
}


/* Lowest response time times load, per weight; ties broken in turn. */
static ngx_int_t
ngx_http_fado_pick_ewma(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    double                   score, best_score;
    uint32_t                 i, k, start;
    ngx_int_t                best;
    ngx_http_fado_set_t     *set;
    ngx_http_fado_member_t  *m;

    set = ctx->set;
    start = ngx_http_fado_cursor(ctx);
    best = -1;
    best_score = 0;

    for (k = 0; k < set->n; k++) {
        i = (start + k) % set->n;

        if (!ngx_http_fado_eligible(ctx, i, pass, now)) {
            continue;
        }

        m = &set->m[i];
        score = (double) (m->ep->ewma_us + 1) * (m->ep->inflight + 1)
                / m->weight;

        if (best == -1 || score < best_score) {
            best = i;
            best_score = score;
        }
    }

    return best;
}


/* Power of two choices: two distinct eligible members, the less loaded. */
static ngx_int_t
ngx_http_fado_pick_p2c(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    uint32_t              i, k, c, r1, r2;
    ngx_int_t             first, second;
    ngx_http_fado_set_t  *set;

    set = ctx->set;
    c = 0;

    for (i = 0; i < set->n; i++) {
        c += ngx_http_fado_eligible(ctx, i, pass, now);
    }

    if (c == 0) {
        return -1;
    }

    r1 = ngx_random() % c;
    r2 = r1;

    if (c > 1) {
        r2 = ngx_random() % (c - 1);
        if (r2 >= r1) {
            r2++;
        }
    }

    first = -1;
    second = -1;
    k = 0;

    for (i = 0; i < set->n; i++) {
        if (!ngx_http_fado_eligible(ctx, i, pass, now)) {
            continue;
        }

        if (k == r1) {
            first = i;
        }

        if (k == r2) {
            second = i;
        }

        k++;
    }

    if (ngx_http_fado_less_loaded(&set->m[second], &set->m[first])) {
        return second;
    }

    return first;
}


/*
 * Weighted rendezvous hashing: a key keeps its endpoint while the set
 * allows, and a change of the set moves only the keys it must. Bounded
 * load: an endpoint may hold at most `bounded_load` times the average
 * in-flight count before the key spills to the next.
 */
static ngx_int_t
ngx_http_fado_pick_chash(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    double                   score, best_score, best_ok_score, u;
    uint32_t                 i, c, h;
    uint64_t                 w, total;
    ngx_int_t                best, best_ok;
    ngx_http_fado_set_t     *set;
    ngx_http_fado_member_t  *m;

    set = ctx->set;
    c = 0;
    total = 0;

    for (i = 0; i < set->n; i++) {
        if (ngx_http_fado_eligible(ctx, i, pass, now)) {
            c++;
            total += set->m[i].ep->inflight;
        }
    }

    if (c == 0) {
        return -1;
    }

    w = ctx->uscf->bounded_load
        ? ((total + 1) * ctx->uscf->bounded_load + 100 * c - 1) / (100 * c)
        : (uint64_t) -1;

    best = -1;
    best_ok = -1;
    best_score = 0;
    best_ok_score = 0;

    for (i = 0; i < set->n; i++) {
        if (!ngx_http_fado_eligible(ctx, i, pass, now)) {
            continue;
        }

        m = &set->m[i];

        h = ctx->key_hash ^ m->ep->hash;
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;

        u = ((double) h + 1.0) / 4294967297.0;
        score = m->weight / -log(u);

        if (best == -1 || score > best_score) {
            best = i;
            best_score = score;
        }

        if (m->ep->inflight < w && (best_ok == -1 || score > best_ok_score)) {
            best_ok = i;
            best_ok_score = score;
        }
    }

    return best_ok != -1 ? best_ok : best;
}


/*
 * Random: each eligible member with a chance proportional to its weight
 * (uniform when the weights are equal, as the controller publishes them by
 * default). No shared cursor, so no cache line bounces between workers.
 */
static ngx_int_t
ngx_http_fado_pick_random(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    uint32_t              i;
    uint64_t              w, total;
    ngx_http_fado_set_t  *set;

    set = ctx->set;
    total = 0;

    for (i = 0; i < set->n; i++) {
        if (ngx_http_fado_eligible(ctx, i, pass, now)) {
            total += set->m[i].weight;
        }
    }

    if (total == 0) {
        return -1;
    }

    w = (uint64_t) ngx_random() % total;

    for (i = 0; i < set->n; i++) {
        if (!ngx_http_fado_eligible(ctx, i, pass, now)) {
            continue;
        }

        if (w < set->m[i].weight) {
            return i;
        }

        w -= set->m[i].weight;
    }

    return -1;
}


/*
 * First: the first member, in the route's order, that is not failed, not
 * saturated and not tried yet. The order is the operator's preference, so
 * a retry takes the next member in it, whatever its cluster: the new-cluster
 * pass does not apply.
 */
static ngx_int_t
ngx_http_fado_pick_first(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass,
    ngx_msec_t now)
{
    uint32_t  i;

    for (i = 0; i < ctx->set->n; i++) {
        if (ngx_http_fado_eligible(ctx, i, NGX_HTTP_FADO_PASS_ANY, now)) {
            return i;
        }
    }

    return -1;
}


typedef ngx_int_t (*ngx_http_fado_pick_pt)(ngx_http_fado_ctx_t *ctx,
    ngx_uint_t pass, ngx_msec_t now);

/* Indexed by FRC_POLICY_*; "-" never reaches a pick. */
static ngx_http_fado_pick_pt  ngx_http_fado_picks[] = {
    ngx_http_fado_pick_rr,              /* "-" */
    ngx_http_fado_pick_rr,
    ngx_http_fado_pick_lc,
    ngx_http_fado_pick_p2c,
    ngx_http_fado_pick_ewma,
    ngx_http_fado_pick_chash,
    ngx_http_fado_pick_random,
    ngx_http_fado_pick_first
};


static ngx_int_t
ngx_http_fado_pick(ngx_http_fado_ctx_t *ctx, ngx_uint_t pass, ngx_msec_t now)
{
    ngx_uint_t  policy;

    policy = ctx->policy;

    if (policy > FRC_POLICY_LAST) {
        policy = FRC_POLICY_RR;
    }

    return ngx_http_fado_picks[policy](ctx, pass, now);
}


static ngx_int_t
ngx_http_fado_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_fado_ctx_t  *ctx = data;

    uint32_t                   i;
    ngx_int_t                  k;
    ngx_msec_t                 now;
    ngx_uint_t                 pass, attempts, any_tried;
    ngx_atomic_uint_t          old;
    ngx_http_fado_member_t    *m;

    pc->cached = 0;
    pc->connection = NULL;
    any_tried = 0;

    if (ctx->reserved) {
        /* the slot taken at admission, or handed over by the queue */
        ctx->reserved = 0;
        m = ctx->member;
        ctx->start_us = ngx_http_fado_now_us();
        goto found;
    }

    now = ngx_current_msec;

    for (i = 0; i < ctx->set->n; i++) {
        if (ctx->tried[i] == NGX_HTTP_FADO_TRY_USED) {
            any_tried = 1;
        }
    }

    k = -1;

    /* a lost race for the last in-flight slot marks the member and re-picks */
    for (attempts = 0; attempts <= ctx->set->n; attempts++) {

        for (pass = any_tried ? NGX_HTTP_FADO_PASS_NEW_CLUSTER
                              : NGX_HTTP_FADO_PASS_ANY;
             pass <= NGX_HTTP_FADO_PASS_ANY;
             pass++)
        {
            k = ngx_http_fado_pick(ctx, pass, now);
            if (k != -1) {
                break;
            }
        }

        if (k == -1) {
            break;
        }

        m = &ctx->set->m[k];

        old = ngx_http_fado_hold(m->ep);

        if (m->max_inflight == 0 || old < m->max_inflight) {
            break;
        }

        ngx_http_fado_unhold(m->ep);
        ctx->tried[k] = NGX_HTTP_FADO_TRY_RACED;
        k = -1;
    }

    /* a member saturated during this pick may have room for the next */
    for (i = 0; i < ctx->set->n; i++) {
        if (ctx->tried[i] == NGX_HTTP_FADO_TRY_RACED) {
            ctx->tried[i] = NGX_HTTP_FADO_TRY_NONE;
        }
    }

    if (k == -1) {
        if (ctx->probe) {
            return NGX_BUSY;    /* the queue's turn, not an error */
        }

        ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                      "fado: no endpoint of bucket \"%V\" can take the "
                      "request (%uD endpoints, all tried, failed or "
                      "saturated)", ngx_http_fado_log_bucket(ctx), ctx->set->n);
        return NGX_BUSY;
    }

    m = &ctx->set->m[k];

    ctx->tried[k] = NGX_HTTP_FADO_TRY_USED;
    ctx->member = m;
    ctx->held = 1;
    ctx->start_us = ngx_http_fado_now_us();

    (void) ngx_atomic_fetch_add(&m->ep->requests, 1);

found:

    pc->sockaddr = &m->ep->sockaddr.sa;
    pc->socklen = m->ep->socklen;
    pc->name = &m->ep->name;

    if (ctx->probe) {
        return NGX_OK;  /* admission: no upstream yet, the real try follows */
    }

    /* https, Host and prefix of this endpoint (contract 2.1) */
    if (ngx_http_fado_origin_apply(ctx, pc, m) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug7(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "fado: bucket \"%V\" policy %s -> %V (cluster %V, "
                   "in-flight %uA, ewma %uAus, retry %ui)",
                   ngx_http_fado_log_bucket(ctx),
                   frc_record_policy_name(ctx->policy),
                   &m->ep->name, &m->ep->cluster, m->ep->inflight,
                   m->ep->ewma_us, any_tried);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_fado_all_tried(ngx_http_fado_ctx_t *ctx)
{
    uint32_t  i;

    for (i = 0; i < ctx->set->n; i++) {
        if (ctx->tried[i] != NGX_HTTP_FADO_TRY_USED) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_fado_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_fado_ctx_t  *ctx = data;

    uint64_t                   rt, ewma;
    ngx_http_fado_endpoint_t  *ep;

    if (pc->tries) {
        pc->tries--;
    }

    if (!ctx->held) {
        return;
    }

    ep = ctx->member->ep;
    ctx->held = 0;

    /* the free-peer edge: a queued request may take the slot over */
    ngx_http_fado_queue_unhold(ctx, ep, state & NGX_PEER_FAILED);

    if (state & NGX_PEER_FAILED) {
        (void) ngx_atomic_fetch_add(&ep->fails, 1);
        (void) ngx_atomic_fetch_add(&ep->failures, 1);
        ep->last_fail = ngx_current_msec;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "fado: endpoint %V (cluster %V) failed, fails %uA",
                       &ep->name, &ep->cluster, ep->fails);

        /*
         * With no try left nginx answers 502 without asking us again: say
         * here, on this very request, that the bucket had no endpoint left.
         */
        if (pc->tries == 0 && ngx_http_fado_all_tried(ctx)) {
            ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                          "fado: no endpoint of bucket \"%V\" can take the "
                          "request (all %uD endpoints tried and failed)",
                          ngx_http_fado_log_bucket(ctx), ctx->set->n);
        }

        return;
    }

    if (ep->fails) {
        ep->fails = 0;
    }

    /* EWMA with a weight of 1/8 for the new sample, racy by design */
    rt = ngx_http_fado_now_us() - ctx->start_us;
    ewma = ep->ewma_us;
    ep->ewma_us = ewma ? (ewma * 7 + rt) / 8 : rt;
}
