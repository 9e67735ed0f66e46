/*
 * fado_reconcile: the level-triggered loop that makes the world match
 * PostgreSQL. Each pass: health of clusters, placement of every bucket,
 * replica rows, the jobs that replication and indexing call for (run by the
 * workers of fado_jobs.h), then route publication. A pass is idempotent,
 * so a crash anywhere is repaired by the next one.
 */

#ifndef FADO_RECONCILE_H
#define FADO_RECONCILE_H

#include "fado_db.h"
#include "fado_jobs.h"
#include "fado_publisher.h"

typedef struct fado_reconciler_s  fado_reconciler_t;

typedef struct {
    int          interval_ms;         /* between passes when nothing wakes it */
    int          health_interval_ms;  /* between health probes */
    int          health_failures;     /* consecutive failures that mark a cluster down */
    const char  *health_path;         /* probed on function endpoints */
    fado_jobs_config_t  jobs;
} fado_reconcile_config_t;

fado_reconciler_t *fado_reconciler_start(fado_db_t *db, fado_publisher_t *pub,
    const fado_reconcile_config_t *conf);

/* Ask for a pass now (after an API change). */
void fado_reconciler_wake(fado_reconciler_t *rec);

/* The job workers (wake them, read their counters). */
fado_jobs_t *fado_reconciler_jobs(fado_reconciler_t *rec);

/* Whether the last publication reached Redis, and passes done. */
int fado_reconciler_redis_ok(fado_reconciler_t *rec);
unsigned long fado_reconciler_passes(fado_reconciler_t *rec);

void fado_reconciler_stop(fado_reconciler_t *rec);

#endif /* FADO_RECONCILE_H */
