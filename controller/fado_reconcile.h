/*
 * fado_reconcile: the control plane, driven by changes.
 *
 * Writes record what they affect in the same transaction (triggers in
 * sql/003_control_plane.sql fill dirty_buckets and dirty_clusters) and wake
 * the controller with NOTIFY. One controller leads, by a PostgreSQL
 * advisory lock held on a connection of its own; it LISTENs there, and for
 * each batch of changes re-places only the buckets named (make before
 * break: a replica leaves only once its replacement is ready), schedules
 * their replica jobs and publishes only their records and those of the
 * clusters named. A slow periodic full reconcile walks every bucket in
 * chunks between batches, and compares Redis itself with what was
 * published, to repair drift. With nothing changing it costs nothing but
 * the health probes.
 *
 * Every controller serves the API and runs job workers; the others wait for
 * the lock and take over within about a second of the leader's death or of
 * its database connection being cut.
 */

#ifndef FADO_RECONCILE_H
#define FADO_RECONCILE_H

#include "fado_db.h"
#include "fado_jobs.h"
#include "fado_publisher.h"

typedef struct fado_reconciler_s  fado_reconciler_t;

typedef struct {
    const char  *database_url;        /* for the leader's own connection */
    const char  *instance;            /* shown as the leader */
    int          full_interval_ms;    /* between full reconciles */
    int          health_interval_ms;  /* between health probes */
    int          health_failures;     /* consecutive failures that mark a cluster down */
    int          grace_s;             /* down this long: its replicas may be replaced */
    const char  *health_path;         /* probed on function endpoints */
    fado_jobs_config_t  jobs;
} fado_reconcile_config_t;

fado_reconciler_t *fado_reconciler_start(fado_db_t *db, fado_publisher_t *pub,
    const fado_reconcile_config_t *conf);

/* A change was committed here: look now (NOTIFY also tells, a bit later). */
void fado_reconciler_wake(fado_reconciler_t *rec);

/* The job workers (wake them, read their counters). */
fado_jobs_t *fado_reconciler_jobs(fado_reconciler_t *rec);

/* Whether the last publication reached Redis (true on followers: they do
 * not publish), batches done, and whether this controller leads. */
int fado_reconciler_redis_ok(fado_reconciler_t *rec);
unsigned long fado_reconciler_passes(fado_reconciler_t *rec);
int fado_reconciler_leading(fado_reconciler_t *rec);

void fado_reconciler_stop(fado_reconciler_t *rec);

#endif /* FADO_RECONCILE_H */
