/*
 * fado_clusters: a cluster (its zones, function endpoints and storage) in
 * PostgreSQL, as domain functions. The API's handler
 * (fado_api_clusters.c) checks a body's shape and fills a fado_cluster_t;
 * what needs the database (that the zones exist, that an update is based
 * on the stored version) is checked here. Nothing here knows HTTP.
 */

#ifndef FADO_CLUSTERS_H
#define FADO_CLUSTERS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"
#include "fado_valid.h"

#define FADO_CLUSTER_MAX_ZONES      16
#define FADO_CLUSTER_MAX_FUNCTIONS  64

typedef struct {
    const char       *address;          /* as written: GET shows it so */
    fado_endpoint_t   ep;               /* its parts, as the schema stores them */
    long              weight;           /* 1..1000 */
    long              max_inflight;     /* 0..65535, 0: no limit */
} fado_cluster_fn_t;

typedef struct {
    const char         *name;
    /* 1..16 distinct names; zones[0] is the cluster's zone. */
    const char         *zones[FADO_CLUSTER_MAX_ZONES];
    size_t              nzones;
    const char         *zones_field;    /* "zones" or "zone": what the caller wrote */
    const char         *storage_endpoint;   /* "" for none */
    /* Both or neither; NULL keeps the stored ones on an update. */
    const char         *access_key;
    const char         *secret_key;
    fado_cluster_fn_t   functions[FADO_CLUSTER_MAX_FUNCTIONS];
    size_t              nfunctions;
} fado_cluster_t;

/*
 * Writes c inside the caller's transaction: version 0 creates it, a
 * version > 0 replaces the cluster stored at that version (its endpoints
 * become c's). Returns 0, or -1 with err: unknown (zones_field), conflict
 * (name taken; version_conflict naming version), unavailable, internal.
 */
int fado_clusters_put(PGconn *conn, const fado_cluster_t *c, long version, fado_err_t *err);

/* A cluster as the API shows it (credentials only as credentials_set), or
 * NULL with err: not_found, unavailable, internal. */
json_t *fado_clusters_get(PGconn *conn, const char *name, fado_err_t *err);

/* A page of (name, JSON text) rows after cursor, fetch rows at most; NULL
 * with err. */
PGresult *fado_clusters_list(PGconn *conn, const char *cursor, const char *fetch,
    fado_err_t *err);

/* Deletes a cluster: 0, or -1 with err: not_found, conflict in_use (a
 * bucket is homed there), unavailable. */
int fado_clusters_delete(PGconn *conn, const char *name, fado_err_t *err);

#endif /* FADO_CLUSTERS_H */
