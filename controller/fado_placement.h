/*
 * fado_placement: which clusters hold a bucket's replicas.
 *
 * Pure and deterministic: the same bucket, policy and clusters always give
 * the same answer, on any controller. Rendezvous (highest random weight)
 * hashing ranks the eligible clusters per bucket, so adding a cluster moves
 * only the replicas it wins and removing one moves only its own.
 */

#ifndef FADO_PLACEMENT_H
#define FADO_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#define FADO_PLACEMENT_MAX  64

typedef struct {
    const char         *name;
    const char         *zone;           /* its only zone, when n_zones is 0 */
    int                 healthy;        /* passes its health checks */
    int                 has_storage;    /* a storage endpoint is configured */
    const char *const  *zones;          /* a cluster in several zones */
    size_t              n_zones;
} fado_placement_cluster_t;

typedef struct {
    const char         *bucket;
    const char         *home;            /* always a replica: the data is there */
    const char *const  *allowed_zones;   /* empty: any zone */
    size_t              n_allowed_zones;
    const char *const  *pinned;          /* clusters that must hold a replica */
    size_t              n_pinned;
    int                 replicas;        /* total, home included */
    /*
     * FaDO's meaning (an imported FaDO bucket): the allowed zones bound the
     * replicas besides the home, not the home itself (the data is there),
     * and a count the eligible clusters cannot reach is capped at what they
     * give, not unsatisfiable.
     */
    int                 cap;
} fado_placement_request_t;

typedef struct {
    size_t  chosen[FADO_PLACEMENT_MAX];  /* indexes into the cluster array */
    size_t  n;
    int     satisfiable;
    int     capped;                      /* cap: fewer than asked, n placed */
    char    reason[256];                 /* why not, when not satisfiable */
} fado_placement_result_t;

/* Whether a cluster is in a zone (any of its zones is allowed): 0 or 1. */
int fado_placement_zones_allowed(const char *const *allowed, size_t n_allowed,
    const fado_placement_cluster_t *c);

/*
 * Computes the placement. The result lists home first, then pins, then the
 * best-ranked eligible clusters. When the policy cannot be met, the result
 * holds what can be placed without breaking a constraint (never a cluster
 * outside the allowed zones) and satisfiable = 0 with the reason.
 */
void fado_placement_compute(const fado_placement_request_t *req,
    const fado_placement_cluster_t *clusters, size_t n_clusters,
    fado_placement_result_t *res);

#endif /* FADO_PLACEMENT_H */
