/*
 * fado_publisher: the one writer of routes to Redis.
 *
 * It computes each bucket's route body (docs/routing-contract.md: the
 * endpoints of the clusters holding a READY replica, if healthy) and the
 * default route (every healthy endpoint) in one query, FADO_DESIRED_SQL in
 * fado_publisher.c, the one encoder of the record; compares them with what it last
 * published (table published_routes), and writes only the differences
 * through the embedded docs/fado-publish.lua, in batches. When the epoch in
 * Redis is missing or not the one it recorded (Redis lost its data, or was
 * replaced), it republishes everything and announces a reset.
 */

#ifndef FADO_PUBLISHER_H
#define FADO_PUBLISHER_H

#include <stddef.h>
#include <libpq-fe.h>

typedef struct fado_publisher_s  fado_publisher_t;

typedef struct {
    size_t  set;          /* routes written */
    size_t  deleted;      /* routes removed */
    int     full;         /* a full republish (new epoch) happened */
    long long version;    /* last version assigned, 0 if nothing written */
} fado_publish_stats_t;

/* url: redis://[:password@]host[:port][/db]; prefix: key prefix. */
fado_publisher_t *fado_publisher_new(const char *url, const char *prefix,
    char *err, size_t err_len);
void fado_publisher_free(fado_publisher_t *pub);

/* One publication pass. Returns 0, or -1 with err (Redis or SQL). */
int fado_publisher_run(fado_publisher_t *pub, PGconn *conn,
    fado_publish_stats_t *stats, char *err, size_t err_len);

#endif /* FADO_PUBLISHER_H */
