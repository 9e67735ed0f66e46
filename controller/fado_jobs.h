/*
 * fado_jobs: the data plane's work, kept in PostgreSQL (table jobs).
 *
 * The reconciler decides what needs doing (fado_jobs_schedule); workers
 * claim due jobs with SELECT ... FOR UPDATE SKIP LOCKED and run them while
 * holding a per-bucket advisory lock on their own connection. Two workers,
 * or two controllers, never work on one bucket at once (its replication
 * configuration is read, merged and written back), and a job whose
 * controller was killed is claimable again as soon as PostgreSQL drops
 * that connection: nothing is lost, the next worker picks it up.
 *
 * Kinds:
 *   replica (bucket, cluster): converge the replica (home: make sure the
 *     bucket exists, prune rules towards clusters that are no longer
 *     replicas; others: drop rules of their own if they were the home,
 *     then replication towards them, resync, readiness); release it when
 *     it is leaving the placement (its copy is kept and recorded in
 *     released_copies); with no replica row, delete a released copy whose
 *     deletion was confirmed through the API. A step that fails because
 *     the home or the replica's own store does not answer leaves the
 *     replica's state alone (the home's outage is recorded on the bucket).
 *   scan (bucket): rebuild the bucket's object index from listings.
 *
 * Failures are retried with exponential back-off (with jitter, capped);
 * a syncing replica is polled at a steady pace.
 */

#ifndef FADO_JOBS_H
#define FADO_JOBS_H

#include <libpq-fe.h>

#include "fado_db.h"

typedef struct {
    int          workers;           /* threads running jobs */
    int          poll_ms;           /* idle claim interval; syncing replicas */
    int          verify_s;          /* ready replicas re-verified after */
    int          ready_lag_s;       /* a ready replica behind for longer leaves the routes */
    int          backoff_max_s;     /* cap of the retry back-off */
    int          scan_s;            /* object index rebuilt after */
    const char  *instance;          /* shown as the owner of running jobs */
    const char  *events_arn;        /* MinIO notification target, or NULL */
} fado_jobs_config_t;

typedef struct fado_jobs_s  fado_jobs_t;

/* changed(ud) is called when a replica's state changed (routes to publish). */
fado_jobs_t *fado_jobs_start(fado_db_t *db, const fado_jobs_config_t *conf,
    void (*changed)(void *ud), void *ud);
void fado_jobs_stop(fado_jobs_t *jobs);

/* Look for due jobs now. */
void fado_jobs_wake(fado_jobs_t *jobs);

/* Insert the jobs that the current state calls for; 0 or -1 (logged). */
int fado_jobs_schedule(PGconn *conn, const fado_jobs_config_t *conf);

/* Make a bucket's replica jobs (or one cluster's) due now: MinIO told us
 * something changed there. */
int fado_jobs_hurry(PGconn *conn, const char *bucket, const char *cluster);

/* Jobs run and failed since start, for /metrics. */
void fado_jobs_counters(fado_jobs_t *jobs, unsigned long *done,
    unsigned long *failed);

#endif /* FADO_JOBS_H */
