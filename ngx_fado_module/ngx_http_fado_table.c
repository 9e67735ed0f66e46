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


#define NGX_HTTP_FADO_BYTES_PER_SLOT   256


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


void
ngx_http_fado_table_release(ngx_http_fado_set_t *set)
{
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
    char                          err[NGX_HTTP_FADO_ERR_LEN];
    uint32_t                      hash;
    ngx_int_t                     rc;
    ngx_http_fado_shm_t          *sh;
    ngx_http_fado_set_t          *set;
    ngx_http_fado_group_t        *group;
    ngx_http_fado_route_t        *r, **slot;
    ngx_http_fado_record_head_t   head;

    sh = t->sh;

    if (len && !ngx_http_fado_record_bucket_valid((char *) bucket, len)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "fado: rejected route for invalid bucket name \"%*s\"",
                      ngx_min(len, 64), bucket);
        ngx_http_fado_table_error(sh, "invalid bucket name \"%*s\"",
                                  ngx_min(len, 64), bucket);
        sh->rejected++;
        return NGX_DECLINED;
    }

    if (ngx_http_fado_record_head(rec, rec_len, &head, err) != 0) {
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

    sh->alloc_failures++;
    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "fado: fado_shm_zone is full, route for bucket \"%*s\" "
                  "not applied", len ? len : sizeof("(default)") - 1,
                  len ? bucket : (u_char *) "(default)");
    ngx_http_fado_table_error(sh, "shared memory zone full");
    return NGX_ERROR;

rejected:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "fado: rejected record for bucket \"%*s\": %s",
                  len ? len : sizeof("(default)") - 1,
                  len ? bucket : (u_char *) "(default)", err);
    ngx_http_fado_table_error(sh, "rejected record for bucket \"%*s\": %s",
                              len ? len : sizeof("(default)") - 1,
                              len ? bucket : (u_char *) "(default)", err);
    sh->rejected++;

    /* keep what we had for the bucket, also across a resync sweep */
    ngx_http_fado_table_keep(t, bucket, len);

    return NGX_DECLINED;
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
    static ngx_http_fado_record_endpoint_t  eps[NGX_HTTP_FADO_MAX_ENDPOINTS];

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

    if (ngx_http_fado_record_endpoints(key, key_len, eps,
                                       NGX_HTTP_FADO_MAX_ENDPOINTS, &n, err)
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
    set->rr = 0;
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
    ngx_http_fado_record_endpoint_t *re)
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
