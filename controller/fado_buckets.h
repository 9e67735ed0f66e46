/*
 * fado_buckets: a bucket (home, placement fields, policy, route override)
 * in PostgreSQL, as domain functions. The API's handler
 * (fado_api_buckets.c) checks a body's shape and fills a fado_bucket_t;
 * what needs the database (that the names it refers to exist, that a home
 * may move, that an update is based on the stored version) is checked
 * here. Nothing here knows HTTP.
 */

#ifndef FADO_BUCKETS_H
#define FADO_BUCKETS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"

/* One endpoint of a route override, in its record's order. */
typedef struct {
    char         address[64];           /* normalized: "1.2.3.4:80", "[::1]:80" */
    const char  *cluster;               /* a label of the route record */
    long         weight;                /* 1..1000 */
    long         max_inflight;          /* 0..65535 */
} fado_bucket_endpoint_t;

typedef struct {
    const char                    *name;
    const char                    *home;
    const char                    *policy;            /* a route-record token */
    json_t                        *allowed_zones;     /* array of names, NULL: none */
    json_t                        *pinned_clusters;   /* array of names, NULL: none */
    long                           replicas;          /* 1..64 */
    /*
     * FaDO's route-overrides: an explicit endpoint list with its own
     * policy, published instead of the placement's route. noverride 0
     * removes the bucket's override.
     */
    const char                    *override_policy;
    const fado_bucket_endpoint_t  *override;
    size_t                         noverride;
} fado_bucket_t;

/*
 * Writes b inside the caller's transaction: version 0 creates it, a
 * version > 0 replaces the bucket stored at that version. Returns 0, or
 * -1 with err: unknown (home_cluster, placement.allowed_zones,
 * placement.pinned_clusters, route_override.endpoints[i].cluster),
 * conflict (name taken; home_not_ready; version_conflict naming version),
 * unavailable, internal.
 */
int fado_buckets_put(PGconn *conn, const fado_bucket_t *b, long version, fado_err_t *err);

/* A bucket as the API shows it (placement result, replicas, home, copies,
 * override), built in one query; NULL with err: not_found, unavailable. */
json_t *fado_buckets_get(PGconn *conn, const char *name, fado_err_t *err);

/* A page of (name, JSON text) rows after cursor; NULL with err. */
PGresult *fado_buckets_list(PGconn *conn, const char *cursor, const char *fetch,
    fado_err_t *err);

/* Stops managing and routing a bucket (MinIO keeps the data): 0, or -1
 * with err: not_found, unavailable. */
int fado_buckets_delete(PGconn *conn, const char *name, fado_err_t *err);

#endif /* FADO_BUCKETS_H */
