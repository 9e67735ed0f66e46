/*
 * The shared-memory routing table (see ngx_http_fado_table.h).
 *
 * Memory per route is one slab chunk (the route node with its name, 64 bytes
 * for names up to 30 characters) plus one hash slot; endpoint sets and
 * endpoints are interned, so thousands of buckets replicated on the same
 * clusters share one set. The slot arrays are sized once from the zone size,
 * which keeps lookups O(1) without ever rehashing under readers.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_fado_table.h"
#include "ngx_http_fado_origin.h"


#define NGX_HTTP_FADO_BYTES_PER_SLOT   256


ngx_uint_t  ngx_http_fado_slot = NGX_HTTP_FADO_SLOTS;


static void ngx_http_fado_table_route_unref(ngx_http_fado_table_t *t,
    ngx_http_fado_route_t *r);
static void ngx_http_fado_table_free_set(ngx_http_fado_table_t *t,
    ngx_http_fado_set_t *set);


static ngx_uint_t
ngx_http_fado_table_pow2(ngx_uint_t n)
{
    ngx_uint_t  p;

    for (p = 1; p < n; p <<= 1) { /* void */ }

    return p;
}


ngx_int_t
ngx_http_fado_table_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_fado_table_t  *ot = data;

    size_t                  size;
    ngx_http_fado_shm_t    *sh;
    ngx_http_fado_table_t  *t;

    t = shm_zone->data;

    if (ot) {
        /* reload with the same zone: keep serving the table we have */
        t->sh = ot->sh;
        t->shpool = ot->shpool;
        t->sh->conf_gen++;
        return NGX_OK;
    }

    t->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        t->sh = t->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(t->shpool, sizeof(ngx_http_fado_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    t->sh = sh;
    t->shpool->data = sh;

    size = shm_zone->shm.size;

    sh->nslots = ngx_http_fado_table_pow2(size / NGX_HTTP_FADO_BYTES_PER_SLOT);
    if (sh->nslots < 1024) {
        sh->nslots = 1024;
    }

    sh->nset_slots = ngx_max(sh->nslots / 64, 256);
    sh->nep_slots = 1024;

    sh->slots = ngx_slab_calloc(t->shpool,
                                sh->nslots * sizeof(ngx_http_fado_route_t *));
    sh->set_slots = ngx_slab_calloc(t->shpool,
                                 sh->nset_slots * sizeof(ngx_http_fado_set_t *));
    sh->ep_slots = ngx_slab_calloc(t->shpool,
                          sh->nep_slots * sizeof(ngx_http_fado_endpoint_t *));

    if (sh->slots == NULL || sh->set_slots == NULL || sh->ep_slots == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "fado_shm_zone \"%V\" of %uz bytes is too small for "
                      "its hash slots", &shm_zone->shm.name, size);
        return NGX_ERROR;
    }

    if (ngx_http_fado_cluster_init(t) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "fado_shm_zone \"%V\" of %uz bytes is too small for "
                      "its cluster slots", &shm_zone->shm.name, size);
        return NGX_ERROR;
    }

    sh->conf_gen = 1;

    t->shpool->log_nomem = 0;

    /* a fresh zone: start from the table on disk, if any */
    if (t->state.len) {
        (void) ngx_http_fado_state_load(t, shm_zone->shm.log);
    }

    return NGX_OK;
}


ngx_http_fado_route_t *
ngx_http_fado_table_lookup(ngx_http_fado_shm_t *sh, u_char *name, size_t len)
{
    uint32_t                hash;
    ngx_http_fado_route_t  *r;

    hash = ngx_murmur_hash2(name, len);

    for (r = sh->slots[hash & (sh->nslots - 1)]; r; r = r->next) {
        if (r->hash == hash && r->len == len
            && ngx_memcmp(r->name, name, len) == 0)
        {
            return r;
        }
    }

    return NULL;
}


/* Under the read lock; counted per worker too, see slot_free. */
void
ngx_http_fado_table_hold(ngx_http_fado_set_t *set)
{
    (void) ngx_atomic_fetch_add(&set->readers, 1);

    if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
        set->held[ngx_http_fado_slot]++;
    }
}


void
ngx_http_fado_table_release(ngx_http_fado_set_t *set)
{
    if (ngx_http_fado_slot < NGX_HTTP_FADO_SLOTS) {
        set->held[ngx_http_fado_slot]--;
    }

    (void) ngx_atomic_fetch_add(&set->readers, (ngx_atomic_int_t) -1);
}


void
ngx_http_fado_table_error(ngx_http_fado_shm_t *sh, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(sh->last_error, sh->last_error + sizeof(sh->last_error),
                      fmt, args);
    va_end(args);

    sh->last_error_len = p - sh->last_error;
    sh->last_error_at = ngx_time();
}


ngx_int_t
ngx_http_fado_table_set(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *bucket, size_t len, const char *rec, size_t rec_len)
{
    char                          err[FRC_ERR_LEN];
    uint32_t                      hash;
    ngx_int_t                     rc;
    ngx_str_t                    *name;
    ngx_http_fado_esc_t           esc;
    ngx_http_fado_shm_t          *sh;
    ngx_http_fado_set_t          *set;
    ngx_http_fado_group_t        *group;
    ngx_http_fado_route_t        *r, **slot;
    frc_record_head_t   head;

    sh = t->sh;

    if (len && !frc_record_bucket_valid((char *) bucket, len)) {
        name = ngx_http_fado_esc(&esc, bucket, len);
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "fado: rejected record for bucket \"%V\": invalid "
                      "bucket name", name);
        ngx_http_fado_table_error(sh, "rejected record for bucket \"%V\": "
                                  "invalid bucket name", name);
        sh->rejected++;
        return NGX_DECLINED;
    }

    if (frc_record_head(rec, rec_len, &head, err) != 0) {
        goto rejected;
    }

    rc = NGX_OK;
    set = NULL;
    group = NULL;

    if (head.contract == 2) {
        group = ngx_http_fado_group_get(t, head.endpoints,
                                        head.endpoints_len, &rc, err);
    } else {
        set = ngx_http_fado_table_intern(t, head.endpoints,
                                         head.endpoints_len, &rc, err);
    }

    if (set == NULL && group == NULL) {
        if (rc == NGX_DECLINED) {
            goto rejected;
        }

        goto nomem;
    }

    if (len == 0) {
        r = sh->def;

    } else {
        hash = ngx_murmur_hash2(bucket, len);
        slot = &sh->slots[hash & (sh->nslots - 1)];

        for (r = *slot; r; r = r->next) {
            if (r->hash == hash && r->len == len
                && ngx_memcmp(r->name, bucket, len) == 0)
            {
                break;
            }
        }

        if (r == NULL) {
            r = ngx_slab_alloc_locked(t->shpool,
                                    offsetof(ngx_http_fado_route_t, name) + len);
            if (r == NULL) {
                goto unref;
            }

            r->hash = hash;
            r->len = (u_char) len;
            r->set = NULL;
            r->group = NULL;
            ngx_memcpy(r->name, bucket, len);
            r->next = *slot;
            *slot = r;
            sh->nroutes++;
        }
    }

    if (r == NULL) {
        /* the default route lives outside the hash, with an empty name */
        r = ngx_slab_alloc_locked(t->shpool,
                                  offsetof(ngx_http_fado_route_t, name) + 1);
        if (r == NULL) {
            goto unref;
        }

        r->next = NULL;
        r->hash = 0;
        r->len = 0;
        r->set = NULL;
        r->group = NULL;
        sh->def = r;
    }

    /* the new reference is taken: releasing the old one frees nothing shared */
    ngx_http_fado_table_route_unref(t, r);

    r->set = set;
    r->group = group;
    r->version = head.version;
    r->policy = (u_char) head.policy;
    r->gen = sh->gen;

    return NGX_OK;

unref:

    if (group) {
        ngx_http_fado_group_unref(t, group);

    } else {
        ngx_http_fado_table_unref_set(t, set);
    }

nomem:

    ngx_http_fado_table_nomem(t, log, "bucket", len ? bucket
                              : (u_char *) "(default)",
                              len ? len : sizeof("(default)") - 1);
    return NGX_ERROR;

rejected:

    /* err quotes what it rejects escaped already (the record decoder) */
    name = len ? ngx_http_fado_esc(&esc, bucket, len)
               : ngx_http_fado_esc(&esc, "(default)", sizeof("(default)") - 1);
    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "fado: rejected record for bucket \"%V\": %s", name, err);
    ngx_http_fado_table_error(sh, "rejected record for bucket \"%V\": %s",
                              name, err);
    sh->rejected++;

    /* keep what we had for the bucket, also across a resync sweep */
    ngx_http_fado_table_keep(t, bucket, len);

    return NGX_DECLINED;
}


/*
 * A full zone fails every record of a publication alike: one alert a
 * second names the first record, the others are counted and summed up by
 * ngx_http_fado_table_nomem_flush() after the batch, so that thousands of
 * records not applied make a few log lines, not thousands.
 */
static ngx_uint_t  ngx_http_fado_nomem_suppressed;
static time_t      ngx_http_fado_nomem_last;


void
ngx_http_fado_table_nomem(ngx_http_fado_table_t *t, ngx_log_t *log,
    const char *what, u_char *name, size_t len)
{
    ngx_http_fado_esc_t  esc;

    t->sh->alloc_failures++;
    ngx_http_fado_table_error(t->sh, "shared memory zone full");

    if (ngx_time() == ngx_http_fado_nomem_last) {
        ngx_http_fado_nomem_suppressed++;
        return;
    }

    ngx_http_fado_nomem_last = ngx_time();

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "fado: fado_shm_zone is full, record for %s \"%V\" "
                  "not applied", what, ngx_http_fado_esc(&esc, name, len));
}


void
ngx_http_fado_table_nomem_flush(ngx_log_t *log)
{
    if (ngx_http_fado_nomem_suppressed == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "fado: fado_shm_zone is full, %ui more records not applied "
                  "(see alloc_failures in fado_status)",
                  ngx_http_fado_nomem_suppressed);

    ngx_http_fado_nomem_suppressed = 0;
}


static void
ngx_http_fado_table_route_unref(ngx_http_fado_table_t *t,
    ngx_http_fado_route_t *r)
{
    if (r->group) {
        ngx_http_fado_group_unref(t, r->group);
        r->group = NULL;

    } else if (r->set) {
        ngx_http_fado_table_unref_set(t, r->set);
        r->set = NULL;
    }
}


ngx_http_fado_set_t *
ngx_http_fado_table_intern(ngx_http_fado_table_t *t, const char *key,
    size_t key_len, ngx_int_t *rc, char *err)
{
    size_t                            n, i, size;
    uint32_t                          hash;
    ngx_http_fado_shm_t              *sh;
    ngx_http_fado_set_t              *set, **slot;
    ngx_http_fado_endpoint_t         *ep;
    static frc_record_endpoint_t  eps[FRC_MAX_ENDPOINTS];

    sh = t->sh;

    hash = ngx_murmur_hash2((u_char *) key, key_len);
    slot = &sh->set_slots[hash & (sh->nset_slots - 1)];

    /*
     * A known endpoint text was valid when its set was made, so the common
     * case (a bucket moving to a set other buckets use) decodes nothing.
     */
    for (set = *slot; set; set = set->next) {
        if (set->hash == hash && set->key_len == key_len
            && ngx_memcmp(set->key, key, key_len) == 0)
        {
            set->routes++;
            return set;
        }
    }

    if (frc_record_endpoints(key, key_len, eps,
                             FRC_MAX_ENDPOINTS, &n, err)
        != 0)
    {
        *rc = NGX_DECLINED;
        return NULL;
    }

    size = offsetof(ngx_http_fado_set_t, m)
           + ngx_max(n, 1) * sizeof(ngx_http_fado_member_t);

    set = ngx_slab_alloc_locked(t->shpool, size + key_len);
    if (set == NULL) {
        *rc = NGX_ERROR;
        return NULL;
    }

    set->readers = 0;
    ngx_memzero(set->held, sizeof(set->held));
    set->rr = 0;
    set->rr_retry = 0;
    set->routes = 1;
    set->hash = hash;
    set->n = 0;
    set->total_weight = 0;
    set->key_len = (uint32_t) key_len;
    set->key = (u_char *) set + size;
    ngx_memcpy(set->key, key, key_len);

    for (i = 0; i < n; i++) {
        ep = ngx_http_fado_table_endpoint(t, &eps[i]);
        if (ep == NULL) {
            ngx_http_fado_table_free_set(t, set);
            *rc = NGX_ERROR;
            return NULL;
        }

        set->m[i].ep = ep;
        set->m[i].weight = eps[i].weight;
        set->m[i].max_inflight = eps[i].max_inflight;
        ngx_http_fado_origin_member(&set->m[i], &eps[i], key, set->key);
        set->n++;
        set->total_weight += eps[i].weight;
    }

    set->next = *slot;
    *slot = set;
    sh->nsets++;

    return set;
}


ngx_http_fado_endpoint_t *
ngx_http_fado_table_endpoint(ngx_http_fado_table_t *t,
    frc_record_endpoint_t *re)
{
    u_char                     *p;
    size_t                      klen;
    uint32_t                    hash;
    ngx_http_fado_shm_t        *sh;
    ngx_http_fado_endpoint_t   *ep, **slot;

    sh = t->sh;

    /* identity: the text "addr,cluster,zone", contiguous in the record */
    klen = (size_t) (re->zone + re->zone_len - re->addr);
    hash = ngx_murmur_hash2((u_char *) re->addr, klen);
    slot = &sh->ep_slots[hash & (sh->nep_slots - 1)];

    for (ep = *slot; ep; ep = ep->next) {
        if (ep->hash == hash
            && (size_t) (ep->zone.data + ep->zone.len - ep->name.data) == klen
            && ngx_memcmp(ep->name.data, re->addr, klen) == 0)
        {
            ep->refs++;
            return ep;
        }
    }

    ep = ngx_slab_calloc_locked(t->shpool,
                                offsetof(ngx_http_fado_endpoint_t, data) + klen);
    if (ep == NULL) {
        return NULL;
    }

    ep->hash = hash;
    ep->refs = 1;
    ep->socklen = re->socklen;
    ngx_memcpy(&ep->sockaddr, &re->sockaddr, re->socklen);

    p = ngx_cpymem(ep->data, re->addr, klen);
    (void) p;

    ep->name.data = ep->data;
    ep->name.len = re->addr_len;
    ep->cluster.data = ep->data + (re->cluster - re->addr);
    ep->cluster.len = re->cluster_len;
    ep->zone.data = ep->data + (re->zone - re->addr);
    ep->zone.len = re->zone_len;

    ep->next = *slot;
    *slot = ep;
    sh->nendpoints++;

    return ep;
}


void
ngx_http_fado_table_unref_endpoint(ngx_http_fado_table_t *t,
    ngx_http_fado_endpoint_t *ep)
{
    ngx_http_fado_shm_t        *sh;
    ngx_http_fado_endpoint_t  **pp;

    if (--ep->refs) {
        return;
    }

    sh = t->sh;

    for (pp = &sh->ep_slots[ep->hash & (sh->nep_slots - 1)]; *pp;
         pp = &(*pp)->next)
    {
        if (*pp == ep) {
            *pp = ep->next;
            break;
        }
    }

    sh->nendpoints--;
    ngx_slab_free_locked(t->shpool, ep);
}


static void
ngx_http_fado_table_free_set(ngx_http_fado_table_t *t,
    ngx_http_fado_set_t *set)
{
    uint32_t  i;

    for (i = 0; i < set->n; i++) {
        ngx_http_fado_table_unref_endpoint(t, set->m[i].ep);
    }

    ngx_slab_free_locked(t->shpool, set);
}


/* A set no route uses leaves the intern hash; readers may still hold it. */
void
ngx_http_fado_table_unref_set(ngx_http_fado_table_t *t,
    ngx_http_fado_set_t *set)
{
    ngx_http_fado_shm_t   *sh;
    ngx_http_fado_set_t  **pp;

    if (--set->routes) {
        return;
    }

    sh = t->sh;

    for (pp = &sh->set_slots[set->hash & (sh->nset_slots - 1)]; *pp;
         pp = &(*pp)->next)
    {
        if (*pp == set) {
            *pp = set->next;
            break;
        }
    }

    sh->nsets--;

    set->next = sh->zombies;
    sh->zombies = set;
    sh->nzombies++;
}


ngx_uint_t
ngx_http_fado_table_free_zombies(ngx_http_fado_table_t *t)
{
    ngx_uint_t             freed;
    ngx_http_fado_shm_t   *sh;
    ngx_http_fado_set_t   *set, **pp;

    sh = t->sh;
    freed = 0;

    /*
     * Readers take references only under the read lock and only on sets
     * reachable from a route; a zombie is unreachable, so once its count is
     * zero under the write lock it stays zero.
     */
    for (pp = &sh->zombies; *pp; /* void */) {
        set = *pp;

        if (set->readers == 0) {
            *pp = set->next;
            ngx_http_fado_table_free_set(t, set);
            sh->nzombies--;
            freed++;

        } else {
            pp = &set->next;
        }
    }

    return freed;
}


void
ngx_http_fado_table_delete(ngx_http_fado_table_t *t, u_char *bucket,
    size_t len)
{
    uint32_t                 hash;
    ngx_http_fado_shm_t     *sh;
    ngx_http_fado_route_t   *r, **pp;

    sh = t->sh;
    hash = ngx_murmur_hash2(bucket, len);

    for (pp = &sh->slots[hash & (sh->nslots - 1)]; *pp; pp = &(*pp)->next) {
        r = *pp;

        if (r->hash == hash && r->len == len
            && ngx_memcmp(r->name, bucket, len) == 0)
        {
            *pp = r->next;
            ngx_http_fado_table_route_unref(t, r);
            ngx_slab_free_locked(t->shpool, r);
            sh->nroutes--;
            return;
        }
    }
}


void
ngx_http_fado_table_clear_default(ngx_http_fado_table_t *t)
{
    ngx_http_fado_route_t  *r;

    r = t->sh->def;
    if (r == NULL) {
        return;
    }

    t->sh->def = NULL;
    ngx_http_fado_table_route_unref(t, r);
    ngx_slab_free_locked(t->shpool, r);
}


ngx_int_t
ngx_http_fado_table_set_header(ngx_http_fado_table_t *t, ngx_log_t *log,
    const char *value, size_t len)
{
    ngx_http_fado_esc_t   esc;
    ngx_http_fado_shm_t  *sh;

    sh = t->sh;

    /* empty: the setting is gone, locations without fado_bucket stop */
    if (len && !frc_record_header_valid(value, len)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "fado: rejected setting bucket_header \"%V\": not a "
                      "header name of 1-64 letters, digits and '-'",
                      ngx_http_fado_esc(&esc, value, len));
        sh->rejected++;
        return NGX_DECLINED;
    }

    if (len != sh->bucket_header_len
        || ngx_strncasecmp(sh->bucket_header, (u_char *) value, len) != 0)
    {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "fado: bucket_header is now \"%V\"",
                      ngx_http_fado_esc(&esc, value, len));
    }

    ngx_memcpy(sh->bucket_header, value, len);
    sh->bucket_header_len = len;

    return NGX_OK;
}


void
ngx_http_fado_table_keep(ngx_http_fado_table_t *t, u_char *bucket,
    size_t len)
{
    ngx_http_fado_route_t  *r;

    r = len ? ngx_http_fado_table_lookup(t->sh, bucket, len) : t->sh->def;
    if (r) {
        r->gen = t->sh->gen;
    }
}


ngx_uint_t
ngx_http_fado_table_sweep_unseen(ngx_http_fado_table_t *t)
{
    ngx_uint_t              i, removed;
    ngx_http_fado_shm_t    *sh;
    ngx_http_fado_route_t  *r, **pp;

    sh = t->sh;
    removed = 0;

    for (i = 0; i < sh->nslots; i++) {
        for (pp = &sh->slots[i]; *pp; /* void */) {
            r = *pp;

            if (r->gen != sh->gen) {
                *pp = r->next;
                ngx_http_fado_table_route_unref(t, r);
                ngx_slab_free_locked(t->shpool, r);
                sh->nroutes--;
                removed++;

            } else {
                pp = &r->next;
            }
        }
    }

    if (sh->def && sh->def->gen != sh->gen) {
        ngx_http_fado_table_clear_default(t);
    }

    return removed;
}


size_t
ngx_http_fado_table_used(ngx_http_fado_table_t *t)
{
    /* pages the slab allocator handed out, partly used chunk pages included */
    return (size_t) (t->shpool->end - t->shpool->start)
           - t->shpool->pfree * ngx_pagesize;
}


/* Other workers release their references meanwhile: atomically. */
static void
ngx_http_fado_table_unhold_set(ngx_http_fado_set_t *set, ngx_uint_t i)
{
    ngx_atomic_uint_t  n;

    n = ngx_min((ngx_atomic_uint_t) set->held[i], set->readers);

    if (n) {
        (void) ngx_atomic_fetch_add(&set->readers, - (ngx_atomic_int_t) n);
    }

    set->held[i] = 0;
}


/* Takes back what the worker of slot i held, once it is gone. */
static void
ngx_http_fado_table_slot_free(ngx_http_fado_table_t *t, ngx_uint_t i,
    ngx_log_t *log)
{
    ngx_uint_t                 j, total;
    ngx_atomic_uint_t          n;
    ngx_http_fado_shm_t       *sh;
    ngx_http_fado_set_t       *set;
    ngx_http_fado_endpoint_t  *ep;

    sh = t->sh;
    total = 0;

    /* the sets it held: a replaced one can then be freed */
    for (j = 0; j < sh->nset_slots; j++) {
        for (set = sh->set_slots[j]; set; set = set->next) {
            ngx_http_fado_table_unhold_set(set, i);
        }
    }

    for (set = sh->zombies; set; set = set->next) {
        ngx_http_fado_table_unhold_set(set, i);
    }

    for (j = 0; j < sh->nep_slots; j++) {
        for (ep = sh->ep_slots[j]; ep; ep = ep->next) {
            n = ngx_min((ngx_atomic_uint_t) ep->held[i], ep->inflight);
            if (n) {
                (void) ngx_atomic_fetch_add(&ep->inflight,
                                            - (ngx_atomic_int_t) n);
                total += n;
            }

            ep->held[i] = 0;
        }
    }

    if (total) {
        sh->reclaimed += total;
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "fado: worker %P is gone with %ui requests in flight; "
                      "their in-flight counts are released",
                      (ngx_pid_t) sh->slot_pid[i], total);
    }

    sh->slot_pid[i] = 0;
}


/* The caller holds the write lock. */
ngx_uint_t
ngx_http_fado_table_slot_reclaim(ngx_http_fado_table_t *t, ngx_log_t *log)
{
    ngx_pid_t             pid;
    ngx_uint_t            i, n;
    ngx_http_fado_shm_t  *sh;

    sh = t->sh;
    n = 0;

    for (i = 0; i < NGX_HTTP_FADO_SLOTS; i++) {
        pid = (ngx_pid_t) sh->slot_pid[i];

        if (pid && pid != ngx_pid && kill(pid, 0) == -1
            && ngx_errno == NGX_ESRCH)
        {
            ngx_http_fado_table_slot_free(t, i, log);
            n++;
        }
    }

    return n;
}


void
ngx_http_fado_table_slot_claim(ngx_http_fado_table_t *t, ngx_log_t *log)
{
    ngx_uint_t            i;
    ngx_http_fado_shm_t  *sh;

    sh = t->sh;

    ngx_rwlock_wlock(&sh->lock);

    /* a respawned worker takes back what the crashed one held */
    (void) ngx_http_fado_table_slot_reclaim(t, log);

    for (i = 0; i < NGX_HTTP_FADO_SLOTS; i++) {
        if (sh->slot_pid[i] == 0) {
            sh->slot_pid[i] = (ngx_atomic_uint_t) ngx_pid;
            ngx_http_fado_slot = i;
            break;
        }
    }

    ngx_rwlock_unlock(&sh->lock);

    if (i == NGX_HTTP_FADO_SLOTS) {
        ngx_http_fado_slot = NGX_HTTP_FADO_SLOTS;
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "fado: more than %d worker processes share the table; "
                      "this one's in-flight counts are not released if it "
                      "crashes", NGX_HTTP_FADO_SLOTS);
    }
}


void
ngx_http_fado_table_slot_release(ngx_http_fado_table_t *t, ngx_log_t *log)
{
    ngx_uint_t  i;

    i = ngx_http_fado_slot;

    if (i >= NGX_HTTP_FADO_SLOTS
        || t->sh->slot_pid[i] != (ngx_atomic_uint_t) ngx_pid)
    {
        return;
    }

    ngx_rwlock_wlock(&t->sh->lock);
    ngx_http_fado_table_slot_free(t, i, log);
    ngx_rwlock_unlock(&t->sh->lock);

    ngx_http_fado_slot = NGX_HTTP_FADO_SLOTS;
}
