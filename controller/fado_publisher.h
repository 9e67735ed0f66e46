/*
 * fado_publisher: the one writer of routes to Redis (routing contract 2,
 * docs/routing-contract.md).
 *
 * A bucket record names the clusters holding a ready replica; a cluster
 * record carries the cluster's zone, state and endpoints; the gateway joins
 * them when it picks. So an endpoint change, or a cluster going down, is one
 * record whatever the number of buckets routed to it.
 *
 * PostgreSQL builds the record bodies (FADO_*_SQL in fado_publisher.c, the
 * one encoder); the publisher compares them with what it last published
 * (published_routes, published_clusters) and writes only the differences
 * through the embedded docs/fado-publish.lua. Work is O(what was asked for):
 * the caller names the buckets and clusters that changed.
 *
 * When the epoch in Redis is missing or not the one recorded (Redis lost its
 * data, or was replaced), fado_publisher_republish writes everything under a
 * new epoch and announces a reset. fado_publisher_drift compares Redis
 * itself with what was published and marks what differs for rewriting, so a
 * hand-edited or corrupted record does not stay.
 */

#ifndef FADO_PUBLISHER_H
#define FADO_PUBLISHER_H

#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "fado_db.h"

typedef struct fado_publisher_s  fado_publisher_t;

typedef struct {
    size_t     set;           /* records written */
    size_t     deleted;       /* records removed */
    int        full;          /* a full republish (new epoch) happened */
    long long  version;       /* last version assigned, 0 if nothing written */
    double     read_ms;       /* where a sync's time went, for the debug log */
    double     redis_ms;
    double     record_ms;
} fado_publish_stats_t;

/* url: redis://[:password@]host[:port][/db]; prefix: key prefix. */
fado_publisher_t *fado_publisher_new(const char *url, const char *prefix,
    char *err, size_t err_len);
void fado_publisher_free(fado_publisher_t *pub);

/*
 * Whether Redis holds the table this controller recorded (its epoch).
 * 1: yes; 0: a full republish is needed; -1 with err: Redis or SQL failed.
 */
int fado_publisher_epoch_ok(fado_publisher_t *pub, PGconn *conn,
    char *err, size_t err_len);

/* The recorded epoch is read again at the next check (a new leadership:
 * another controller may have recorded a new one meanwhile). */
void fado_publisher_forget_epoch(fado_publisher_t *pub);

/*
 * Publishes the records of these buckets and clusters (JSON arrays of
 * names; NULL for none) where they differ from what was published; the
 * default route is recomputed whenever a cluster is named. The caller's
 * statements (at most 4 each; their results are cleared here) ride along:
 * head ones run first, in the transaction that reads the records (the
 * reads see what they wrote); tail ones in the transaction that records
 * what was written, once Redis has it, so the caller's bookkeeping moves
 * with the record.
 * Returns 0; 1 when Redis no longer holds the recorded table (nothing was
 * written to Redis, the head statements have run: the caller republishes);
 * -1 with err: nothing was recorded, the caller retries the same names.
 */
int fado_publisher_sync(fado_publisher_t *pub, PGconn *conn, json_t *buckets,
    json_t *clusters, fado_db_stmt_t *head, size_t nhead, fado_db_stmt_t *tail,
    size_t ntail, fado_publish_stats_t *stats, char *err, size_t err_len);

/* Everything, under a new epoch, then a reset for the gateways. */
int fado_publisher_republish(fado_publisher_t *pub, PGconn *conn,
    fado_publish_stats_t *stats, char *err, size_t err_len);

/*
 * Compares Redis with published_routes / published_clusters and marks every
 * bucket and cluster whose record differs (or is missing, or should not be
 * there) dirty for the next sync. *found receives how many.
 *
 * fado_publisher_drift_step does it in steps of at most 5,000 records, so
 * that a full reconcile lets changes through between them: start with a
 * zeroed cursor; 1 while steps remain, 0 when done (adding to *found), -1
 * with err.
 */
typedef struct {
    int                  phase;        /* clusters, known routes, strays */
    char                 after[128];   /* last published route checked */
    unsigned long long   scan;         /* HSCAN cursor of the strays */
    size_t               known_drifted; /* published routes found different */
} fado_drift_cursor_t;

int fado_publisher_drift_step(fado_publisher_t *pub, PGconn *conn,
    fado_drift_cursor_t *cur, size_t *found, char *err, size_t err_len);
int fado_publisher_drift(fado_publisher_t *pub, PGconn *conn, size_t *found,
    char *err, size_t err_len);

#endif /* FADO_PUBLISHER_H */
