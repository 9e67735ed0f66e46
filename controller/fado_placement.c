/*
 * fado_placement: rendezvous hashing under zone, pin and count constraints.
 */

#include "fado_placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cluster's rendezvous score for a bucket: FNV-1a over
 * "bucket\0cluster", then a strong finaliser so that scores of similar
 * names are independent. The bucket's part is the same for every cluster:
 * hashed once per placement. */
static uint64_t
fado_placement_seed(const char *bucket)
{
    uint64_t  h = 0xcbf29ce484222325ULL;

    for (const unsigned char *p = (const unsigned char *) bucket; *p; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
    }
    return (h ^ 0) * 0x100000001b3ULL;
}

static uint64_t
fado_placement_score_from(uint64_t h, const char *cluster)
{
    for (const unsigned char *p = (const unsigned char *) cluster; *p; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/* A cluster in several zones is eligible when ANY of its zones is allowed. */
int
fado_placement_zones_allowed(const char *const *allowed, size_t n_allowed,
    const fado_placement_cluster_t *c)
{
    if (n_allowed == 0) {
        return 1;
    }
    for (size_t i = 0; i < n_allowed; i++) {
        if (c->n_zones == 0) {
            if (c->zone != NULL && strcmp(allowed[i], c->zone) == 0) {
                return 1;
            }
            continue;
        }
        for (size_t z = 0; z < c->n_zones; z++) {
            if (strcmp(allowed[i], c->zones[z]) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static int
fado_placement_zone_allowed(const fado_placement_request_t *req,
    const fado_placement_cluster_t *c)
{
    return fado_placement_zones_allowed(req->allowed_zones, req->n_allowed_zones, c);
}

/* Clusters scored on the stack; more take a malloc. */
#define FADO_PLACEMENT_SCAN  256

typedef struct {
    size_t    idx;
    uint64_t  score;
} fado_placement_cand_t;

static long
fado_placement_find(const fado_placement_cluster_t *clusters, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(clusters[i].name, name) == 0) {
            return (long) i;
        }
    }
    return -1;
}

static int
fado_placement_has(const fado_placement_result_t *res, size_t idx)
{
    for (size_t i = 0; i < res->n; i++) {
        if (res->chosen[i] == idx) {
            return 1;
        }
    }
    return 0;
}

static void
fado_placement_fail(fado_placement_result_t *res, const char *fmt, const char *a,
    const char *b)
{
    if (res->satisfiable) {
        res->satisfiable = 0;
        snprintf(res->reason, sizeof(res->reason), fmt, a, b);
    }
}

/* Adds a named cluster that the policy requires (home or pin). */
static void
fado_placement_require(const fado_placement_request_t *req,
    const fado_placement_cluster_t *clusters, size_t n, const char *name,
    const char *what, fado_placement_result_t *res)
{
    long  idx = fado_placement_find(clusters, n, name);

    if (idx < 0) {
        fado_placement_fail(res, "%s cluster \"%s\" does not exist", what, name);
        return;
    }
    /* FaDO's home is where the data is, whatever the bucket's zones. */
    if (!(req->cap && strcmp(what, "home") == 0)
        && !fado_placement_zone_allowed(req, &clusters[idx]))
    {
        fado_placement_fail(res, "%s cluster \"%s\" is outside the allowed zones",
                            what, name);
        return;
    }
    if (!fado_placement_has(res, (size_t) idx) && res->n < FADO_PLACEMENT_MAX) {
        res->chosen[res->n++] = (size_t) idx;
    }
}

void
fado_placement_compute(const fado_placement_request_t *req,
    const fado_placement_cluster_t *clusters, size_t n_clusters,
    fado_placement_result_t *res)
{
    fado_placement_cand_t   stack[FADO_PLACEMENT_SCAN], *cand;
    size_t                  want, n_cand;
    uint64_t                seed;

    memset(res, 0, sizeof(*res));
    res->satisfiable = 1;
    want = req->replicas < 1 ? 1
         : (size_t) req->replicas > FADO_PLACEMENT_MAX ? FADO_PLACEMENT_MAX
         : (size_t) req->replicas;

    fado_placement_require(req, clusters, n_clusters, req->home, "home", res);
    for (size_t i = 0; i < req->n_pinned; i++) {
        fado_placement_require(req, clusters, n_clusters, req->pinned[i], "pinned", res);
    }
    if (res->n > want) {
        char  counts[64];
        snprintf(counts, sizeof(counts), "%zu", res->n);
        fado_placement_fail(res, "home and pinned clusters (%s) exceed the replica "
                            "count%s", counts, "");
        return;
    }

    if (res->n >= want) {
        return;
    }
    /* Each eligible cluster is checked and scored once; the fill then takes
     * the best-ranked remaining one per replica. */
    n_cand = 0;
    cand = n_clusters <= FADO_PLACEMENT_SCAN ? stack : malloc(n_clusters * sizeof(*cand));
    if (cand == NULL) {
        fado_placement_fail(res, "out of memory placing %s%s", req->bucket, "");
        return;
    }
    seed = fado_placement_seed(req->bucket);
    for (size_t i = 0; i < n_clusters; i++) {
        const fado_placement_cluster_t  *c = &clusters[i];

        if (c->healthy && c->has_storage && !fado_placement_has(res, i)
            && fado_placement_zone_allowed(req, c))
        {
            cand[n_cand].idx = i;
            cand[n_cand].score = fado_placement_score_from(seed, c->name);
            n_cand++;
        }
    }

    /* Fill the rest with the best-ranked eligible clusters. */
    while (res->n < want) {
        long      best = -1;
        size_t    best_k = 0;
        uint64_t  best_score = 0;

        for (size_t k = 0; k < n_cand; k++) {
            /* ties (never seen with 64 bits) go to the first cluster, as
             * a scan in cluster order would */
            if (best < 0 || cand[k].score > best_score
                || (cand[k].score == best_score && (long) cand[k].idx < best))
            {
                best = (long) cand[k].idx;
                best_k = k;
                best_score = cand[k].score;
            }
        }
        if (best < 0 && req->cap) {
            res->capped = 1;    /* FaDO: as many as the zones give */
            break;
        }
        if (best < 0) {
            char  have[32], need[32];
            snprintf(have, sizeof(have), "%zu", res->n);
            snprintf(need, sizeof(need), "%zu", want);
            fado_placement_fail(res, "only %s eligible clusters (healthy, with "
                                "storage, in the allowed zones) for %s replicas",
                                have, need);
            break;
        }
        res->chosen[res->n++] = (size_t) best;
        cand[best_k] = cand[--n_cand];
    }
    if (cand != stack) {
        free(cand);
    }
}
