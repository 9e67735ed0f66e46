/*
 * fado_lifecycle: a replica's life that is not placement, as domain
 * functions (fado_api_copies.c answers HTTP):
 *
 *   - copies kept on clusters that left a bucket's placement
 *     (released_copies), and the confirmed deletion of one, which a job
 *     (fado_jobs.c) carries out;
 *   - the rule for moving a bucket's home: the new home must already hold
 *     a ready replica and be up.
 *
 * docs/storage.md describes both operations.
 */

#ifndef FADO_LIFECYCLE_H
#define FADO_LIFECYCLE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"

/*
 * The copies of bucket kept on clusters that left (cluster ""), as
 * {"bucket", "items"}, or the one on cluster. NULL with err: not_found
 * (field bucket or cluster), unavailable, internal.
 */
json_t *fado_lifecycle_copies_json(PGconn *conn, const char *bucket, const char *cluster,
    fado_err_t *err);

/*
 * Schedules the deletion of the copy of bucket on cluster: only a copy
 * that is recorded and on a cluster outside the placement. Returns 0, or
 * -1 with err: not_found (bucket, cluster), conflict in_placement,
 * unavailable. The caller wakes the workers.
 */
int fado_lifecycle_copy_delete(PGconn *conn, const char *bucket, const char *cluster,
    fado_err_t *err);

/*
 * Inside a bucket write's transaction, before the row changes: when the
 * bucket exists and home moves to another cluster, that cluster must hold
 * a ready replica and be up. Returns 0, or -1 with err (conflict
 * home_not_ready naming field, or unavailable). field: the name to report
 * (with an import's path prefix).
 */
int fado_lifecycle_home_move(PGconn *conn, const char *bucket, const char *home,
    const char *field, fado_err_t *err);

#endif /* FADO_LIFECYCLE_H */
