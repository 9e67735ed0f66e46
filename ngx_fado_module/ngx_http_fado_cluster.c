/*
 * Contract version 2 in the shared table: cluster records (C2) and the
 * groups that join them for F2 routes.
 *
 * An F2 route points to a group, interned by its cluster list, so the
 * 10,000 buckets replicated on "eu-1 us-1" share one group. The group's set
 * is the join of its clusters' endpoints, written as a contract 1 endpoint
 * text and interned like any F1 set: identical endpoint lists share one set,
 * and an endpoint keeps its counters (interned by address, cluster and zone)
 * across cluster updates and across a migration from F1 to F2.
 *
 * A cluster change rebuilds the set of each group naming the cluster and
 * swaps the pointer; the old set becomes a zombie that the table frees once
 * no request holds it. Routes are never touched, so the cost of a change is
 * O(groups), not O(buckets). Everything here runs in the sync owner under
 * the write lock; requests only follow route -> group -> set under the read
 * lock.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_fado_table.h"


#define NGX_HTTP_FADO_CLUSTER_SLOTS  256

/* the longest join: every endpoint with the longest names */
#define NGX_HTTP_FADO_JOIN_MAX                                                \
    (FRC_MAX_ENDPOINTS * (64 + 2 * (FRC_NAME_MAX + 1) + 12))


static ngx_int_t ngx_http_fado_group_rebuild(ngx_http_fado_table_t *t,
    ngx_http_fado_group_t *g, char *err);
static void ngx_http_fado_cluster_changed(ngx_http_fado_table_t *t,
    ngx_log_t *log, u_char *name, size_t len);
static ngx_http_fado_endpoint_t **ngx_http_fado_cluster_refs(
    ngx_http_fado_table_t *t, u_char *name, size_t len,
    frc_record_cluster_t *rc);
static void ngx_http_fado_cluster_unrefs(ngx_http_fado_table_t *t,
    ngx_http_fado_endpoint_t **eps, ngx_uint_t n);


ngx_int_t
ngx_http_fado_cluster_init(ngx_http_fado_table_t *t)
{
    ngx_http_fado_shm_t  *sh;

    sh = t->sh;

    sh->ncluster_slots = NGX_HTTP_FADO_CLUSTER_SLOTS;
    sh->ngroup_slots = sh->nset_slots;

    sh->cluster_slots = ngx_slab_calloc(t->shpool,
                        sh->ncluster_slots * sizeof(ngx_http_fado_cluster_t *));
    sh->group_slots = ngx_slab_calloc(t->shpool,
                        sh->ngroup_slots * sizeof(ngx_http_fado_group_t *));

    if (sh->cluster_slots == NULL || sh->group_slots == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_http_fado_cluster_t *
ngx_http_fado_cluster_lookup(ngx_http_fado_shm_t *sh, u_char *name,
    size_t len)
{
    uint32_t                  hash;
    ngx_http_fado_cluster_t  *c;

    hash = ngx_murmur_hash2(name, len);

    for (c = sh->cluster_slots[hash & (sh->ncluster_slots - 1)]; c;
         c = c->next)
    {
        if (c->hash == hash && c->len == len
            && ngx_memcmp(c->name, name, len) == 0)
        {
            return c;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_fado_cluster_set(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *name, size_t len, const char *rec, size_t rec_len)
{
    char                             err[FRC_ERR_LEN];
    u_char                          *text;
    ngx_str_t                       *ename;
    ngx_http_fado_esc_t              esc;
    uint32_t                         hash, old_n;
    ngx_http_fado_shm_t             *sh;
    ngx_http_fado_cluster_t         *c, **slot;
    ngx_http_fado_endpoint_t       **eps, **old_eps;
    frc_record_cluster_t   rc;

    sh = t->sh;

    if (!frc_record_label_valid((char *) name, len)) {
        ngx_snprintf((u_char *) err, sizeof(err) - 1, "invalid cluster name%Z");
        goto rejected;
    }

    if (frc_record_cluster(rec, rec_len, &rc, err) != 0) {
        goto rejected;
    }

    c = ngx_http_fado_cluster_lookup(sh, name, len);

    if (c && c->up == rc.up && c->zone_len == rc.zone_len
        && ngx_memcmp(c->zone, rc.zone, rc.zone_len) == 0
        && c->text_len == rc.endpoints_len
        && (rc.endpoints_len == 0
            || ngx_memcmp(c->text, rc.endpoints, rc.endpoints_len) == 0))
    {
        /* a resync or a republication of the same record: nothing moves */
        c->version = rc.version;
        c->gen = sh->gen;
        return NGX_OK;
    }

    text = NULL;
    eps = NULL;

    if (rc.endpoints_len) {
        text = ngx_slab_alloc_locked(t->shpool, rc.endpoints_len);
        if (text == NULL) {
            goto nomem;
        }

        ngx_memcpy(text, rc.endpoints, rc.endpoints_len);

        /* new references first: endpoints the record keeps keep counters */
        eps = ngx_http_fado_cluster_refs(t, name, len, &rc);
        if (eps == NULL) {
            ngx_slab_free_locked(t->shpool, text);
            goto nomem;
        }
    }

    if (c == NULL) {
        c = ngx_slab_calloc_locked(t->shpool, sizeof(ngx_http_fado_cluster_t));
        if (c == NULL) {
            if (text) {
                ngx_http_fado_cluster_unrefs(t, eps, rc.n);
                ngx_slab_free_locked(t->shpool, text);
            }

            goto nomem;
        }

        hash = ngx_murmur_hash2(name, len);
        slot = &sh->cluster_slots[hash & (sh->ncluster_slots - 1)];

        c->hash = hash;
        c->len = (u_char) len;
        ngx_memcpy(c->name, name, len);
        c->next = *slot;
        *slot = c;
        sh->nclusters++;
    }

    if (c->text) {
        ngx_slab_free_locked(t->shpool, c->text);
    }

    old_eps = c->eps;
    old_n = c->n;

    c->text = text;
    c->eps = eps;
    c->text_len = (uint32_t) rc.endpoints_len;
    c->n = (uint32_t) rc.n;
    c->up = (u_char) rc.up;
    c->zone_len = (uint16_t) rc.zone_len;
    ngx_memcpy(c->zone, rc.zone, rc.zone_len);
    c->version = rc.version;
    c->gen = sh->gen;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                   "fado: cluster \"%*s\" %s with %uD endpoints",
                   len, name, c->up ? "up" : "down", c->n);

    ngx_http_fado_cluster_changed(t, log, name, len);

    /* the groups hold the endpoints they use: the rest may go now */
    ngx_http_fado_cluster_unrefs(t, old_eps, old_n);

    return NGX_OK;

nomem:

    ngx_http_fado_table_nomem(t, log, "cluster", name, len);
    return NGX_ERROR;

rejected:

    ename = ngx_http_fado_esc(&esc, name, len);
    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "fado: rejected record for cluster \"%V\": %s", ename, err);
    ngx_http_fado_table_error(sh, "rejected record for cluster \"%V\": %s",
                              ename, err);
    sh->rejected++;

    /* keep what we had for the cluster, also across a resync sweep */
    if (len <= FRC_NAME_MAX) {
        c = ngx_http_fado_cluster_lookup(sh, name, len);
        if (c) {
            c->gen = sh->gen;
        }
    }

    return NGX_DECLINED;
}


/*
 * References every endpoint of a decoded cluster record, under the identity
 * "addr,cluster,zone" an F1 record gives it. Returns the array, or NULL
 * (nothing referenced) when the zone is full.
 */
static ngx_http_fado_endpoint_t **
ngx_http_fado_cluster_refs(ngx_http_fado_table_t *t, u_char *name,
    size_t len, frc_record_cluster_t *rc)
{
    u_char                           *p;
    size_t                            i, n;
    char                              err[FRC_ERR_LEN];
    ngx_http_fado_endpoint_t        **eps;
    static u_char                     key[128 + FRC_NAME_MAX
                                          + FRC_ZONES_MAX];
    static frc_record_endpoint_t  re[FRC_MAX_ENDPOINTS];

    /* validated by frc_record_cluster() already */
    if (frc_record_endpoints2(rc->endpoints, rc->endpoints_len, re,
                              FRC_MAX_ENDPOINTS, &n, err)
        != 0 || n == 0)
    {
        return NULL;
    }

    eps = ngx_slab_alloc_locked(t->shpool, n * sizeof(ngx_http_fado_endpoint_t *));
    if (eps == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(key, re[i].addr, re[i].addr_len);
        *p++ = ',';
        re[i].cluster = (char *) p;
        re[i].cluster_len = len;
        p = ngx_cpymem(p, name, len);
        *p++ = ',';
        re[i].zone = (char *) p;
        re[i].zone_len = rc->zone_len;
        ngx_memcpy(p, rc->zone, rc->zone_len);
        re[i].addr = (char *) key;

        eps[i] = ngx_http_fado_table_endpoint(t, &re[i]);
        if (eps[i] == NULL) {
            ngx_http_fado_cluster_unrefs(t, eps, i);
            return NULL;
        }
    }

    return eps;
}


/* Drops the references and frees the array (eps may be NULL). */
static void
ngx_http_fado_cluster_unrefs(ngx_http_fado_table_t *t,
    ngx_http_fado_endpoint_t **eps, ngx_uint_t n)
{
    ngx_uint_t  i;

    if (eps == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_fado_table_unref_endpoint(t, eps[i]);
    }

    ngx_slab_free_locked(t->shpool, eps);
}


static void
ngx_http_fado_cluster_free(ngx_http_fado_table_t *t,
    ngx_http_fado_cluster_t *c)
{
    if (c->text) {
        ngx_slab_free_locked(t->shpool, c->text);
    }

    ngx_http_fado_cluster_unrefs(t, c->eps, c->n);

    ngx_slab_free_locked(t->shpool, c);
    t->sh->nclusters--;
}


void
ngx_http_fado_cluster_delete(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *name, size_t len)
{
    uint32_t                   hash;
    ngx_http_fado_shm_t       *sh;
    ngx_http_fado_cluster_t   *c, **pp;

    sh = t->sh;
    hash = ngx_murmur_hash2(name, len);

    for (pp = &sh->cluster_slots[hash & (sh->ncluster_slots - 1)]; *pp;
         pp = &(*pp)->next)
    {
        c = *pp;

        if (c->hash == hash && c->len == len
            && ngx_memcmp(c->name, name, len) == 0)
        {
            *pp = c->next;
            ngx_http_fado_cluster_free(t, c);
            ngx_http_fado_cluster_changed(t, log, name, len);
            return;
        }
    }
}


ngx_uint_t
ngx_http_fado_cluster_sweep_unseen(ngx_http_fado_table_t *t, ngx_log_t *log)
{
    u_char                    name[FRC_NAME_MAX];
    size_t                    len;
    ngx_uint_t                i, removed;
    ngx_http_fado_shm_t      *sh;
    ngx_http_fado_cluster_t  *c, **pp;

    sh = t->sh;
    removed = 0;

    for (i = 0; i < sh->ncluster_slots; i++) {
        for (pp = &sh->cluster_slots[i]; *pp; /* void */) {
            c = *pp;

            if (c->gen == sh->gen) {
                pp = &c->next;
                continue;
            }

            *pp = c->next;
            len = c->len;
            ngx_memcpy(name, c->name, len);
            ngx_http_fado_cluster_free(t, c);
            ngx_http_fado_cluster_changed(t, log, name, len);
            removed++;
        }
    }

    return removed;
}


/* Is the cluster one of the group's (a token of its key)? */
static ngx_uint_t
ngx_http_fado_group_names(ngx_http_fado_group_t *g, u_char *name, size_t len)
{
    u_char  *p, *end, *tok;

    p = g->key;
    end = g->key + g->key_len;

    while (p < end) {
        tok = p;

        while (p < end && *p != ' ') {
            p++;
        }

        if ((size_t) (p - tok) == len && ngx_memcmp(tok, name, len) == 0) {
            return 1;
        }

        p++;
    }

    return 0;
}


static void
ngx_http_fado_cluster_changed(ngx_http_fado_table_t *t, ngx_log_t *log,
    u_char *name, size_t len)
{
    char                    err[FRC_ERR_LEN];
    ngx_uint_t              i;
    ngx_http_fado_esc_t     esc;
    ngx_http_fado_shm_t    *sh;
    ngx_http_fado_group_t  *g;

    sh = t->sh;

    for (i = 0; i < sh->ngroup_slots; i++) {
        for (g = sh->group_slots[i]; g; g = g->next) {
            if (!ngx_http_fado_group_names(g, name, len)
                || ngx_http_fado_group_rebuild(t, g, err) == NGX_OK)
            {
                continue;
            }

            /* the group keeps routing to what it had */
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "fado: clusters \"%*s\" keep their endpoints after "
                          "a change of cluster \"%V\": %s",
                          ngx_min(g->key_len, 128), g->key,
                          ngx_http_fado_esc(&esc, name, len), err);
            ngx_http_fado_table_error(sh, "clusters \"%*s\" not joined: %s",
                                      ngx_min(g->key_len, 128), g->key, err);
        }
    }
}


/*
 * Writes the group's join as a contract 1 endpoint text into buf:
 * "addr,cluster,zone,weight,max_inflight" for every endpoint of every
 * cluster that has a record and is up, in the group's order. Returns the
 * length, or -1 if it does not fit.
 */
static ssize_t
ngx_http_fado_group_join(ngx_http_fado_shm_t *sh, ngx_http_fado_group_t *g,
    u_char *buf, size_t size, char *err)
{
    u_char                   *p, *last, *k, *kend, *tok, *e, *eend, *comma;
    ngx_uint_t                n;
    ngx_http_fado_cluster_t  *c;

    p = buf;
    last = buf + size;
    n = 0;

    k = g->key;
    kend = g->key + g->key_len;

    while (k < kend) {
        tok = k;

        while (k < kend && *k != ' ') {
            k++;
        }

        c = ngx_http_fado_cluster_lookup(sh, tok, (size_t) (k - tok));
        k++;

        if (c == NULL || !c->up) {
            continue;
        }

        e = c->text;
        eend = c->text + c->text_len;

        while (e < eend) {
            /* one "addr,weight,max_inflight", split after addr */
            for (comma = e; *comma != ','; comma++) { /* void */ }
            for (tok = comma; tok < eend && *tok != ' '; tok++) { /* void */ }

            if (++n > FRC_MAX_ENDPOINTS
                || (size_t) (last - p)
                   < (size_t) (tok - e) + c->len + c->zone_len + 3)
            {
                ngx_snprintf((u_char *) err, FRC_ERR_LEN - 1,
                             "more than %d endpoints in its clusters%Z",
                             FRC_MAX_ENDPOINTS);
                return -1;
            }

            if (p != buf) {
                *p++ = ' ';
            }

            p = ngx_cpymem(p, e, comma - e);
            *p++ = ',';
            p = ngx_cpymem(p, c->name, c->len);
            *p++ = ',';
            p = ngx_cpymem(p, c->zone, c->zone_len);
            p = ngx_cpymem(p, comma, tok - comma);

            e = tok + 1;
        }
    }

    return p - buf;
}


/* NGX_OK, NGX_DECLINED (the join is too long), NGX_ERROR (zone full) */
static ngx_int_t
ngx_http_fado_group_rebuild(ngx_http_fado_table_t *t,
    ngx_http_fado_group_t *g, char *err)
{
    ssize_t               n;
    ngx_int_t             rc;
    ngx_http_fado_set_t  *set;
    static u_char         join[NGX_HTTP_FADO_JOIN_MAX];

    n = ngx_http_fado_group_join(t->sh, g, join, sizeof(join), err);
    if (n < 0) {
        return NGX_DECLINED;
    }

    rc = NGX_OK;
    set = ngx_http_fado_table_intern(t, (char *) join, (size_t) n, &rc, err);

    if (set == NULL) {
        if (rc == NGX_ERROR) {
            t->sh->alloc_failures++;
            ngx_snprintf((u_char *) err, FRC_ERR_LEN - 1,
                         "shared memory zone full%Z");
        }

        return rc;
    }

    if (g->set) {
        /* readers in flight keep the old set alive as a zombie */
        ngx_http_fado_table_unref_set(t, g->set);
    }

    g->set = set;

    return NGX_OK;
}


ngx_http_fado_group_t *
ngx_http_fado_group_get(ngx_http_fado_table_t *t, const char *key, size_t key_len, ngx_int_t *rc, char *err)
{
    size_t                        n;
    uint32_t                      hash;
    ngx_http_fado_shm_t          *sh;
    ngx_http_fado_group_t        *g, **slot;
    static frc_record_name_t  names[FRC_MAX_CLUSTERS];

    sh = t->sh;

    hash = ngx_murmur_hash2((u_char *) key, key_len);
    slot = &sh->group_slots[hash & (sh->ngroup_slots - 1)];

    for (g = *slot; g; g = g->next) {
        if (g->hash == hash && g->key_len == key_len
            && ngx_memcmp(g->key, key, key_len) == 0)
        {
            g->routes++;
            return g;
        }
    }

    if (frc_record_clusters(key, key_len, names,
                            FRC_MAX_CLUSTERS, &n, err)
        != 0)
    {
        *rc = NGX_DECLINED;
        return NULL;
    }

    g = ngx_slab_alloc_locked(t->shpool,
                              offsetof(ngx_http_fado_group_t, key) + key_len);
    if (g == NULL) {
        *rc = NGX_ERROR;
        return NULL;
    }

    g->set = NULL;
    g->routes = 1;
    g->hash = hash;
    g->key_len = (uint32_t) key_len;
    ngx_memcpy(g->key, key, key_len);

    *rc = ngx_http_fado_group_rebuild(t, g, err);

    if (*rc != NGX_OK) {
        ngx_slab_free_locked(t->shpool, g);
        return NULL;
    }

    g->next = *slot;
    *slot = g;
    sh->ngroups++;

    return g;
}


void
ngx_http_fado_group_unref(ngx_http_fado_table_t *t, ngx_http_fado_group_t *g)
{
    ngx_http_fado_shm_t     *sh;
    ngx_http_fado_group_t  **pp;

    if (--g->routes) {
        return;
    }

    sh = t->sh;

    for (pp = &sh->group_slots[g->hash & (sh->ngroup_slots - 1)]; *pp;
         pp = &(*pp)->next)
    {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }

    sh->ngroups--;

    /*
     * Requests hold sets, never groups, and reach a group only under the
     * read lock: with the write lock held it can go at once.
     */
    ngx_http_fado_table_unref_set(t, g->set);
    ngx_slab_free_locked(t->shpool, g);
}
