/*
 * fado replication: what the reconciler asks of the object stores.
 *
 * The controller never copies object data itself. For each bucket it names a
 * home site (where uploads land) and replica sites; these calls make MinIO on
 * the home site replicate the bucket to each replica with its own server-side
 * bucket replication, and report how far each replica is.
 *
 * Every call is idempotent and safe to repeat after a crash at any point.
 * None of them ever deletes or overwrites user data: an existing bucket of
 * the same name is adopted as it is.
 */

#ifndef FST_REPLICATION_H
#define FST_REPLICATION_H

#include <stddef.h>

#include "fst_site.h"

typedef enum {
    FST_REPLICA_PENDING = 0,   /* nothing done yet */
    FST_REPLICA_SYNCING,       /* replication configured, not caught up */
    FST_REPLICA_READY,         /* caught up: may enter the routes */
    FST_REPLICA_REMOVING,      /* leaving the placement */
    FST_REPLICA_FAILED         /* see reason; retried on the next pass */
} fst_replica_state_e;

/* Returns a static name: "pending", "syncing", "ready", "removing", "failed". */
const char *fst_replica_state_name(fst_replica_state_e state);

/*
 * Make sure the bucket exists on the home site with versioning enabled.
 * Returns 0 on success, -1 with a message in err.
 */
int fst_replication_ensure_home(const fst_site_t *home,
    const char *bucket, char *err, size_t err_len);

/*
 * One convergence step for one replica: the bucket exists with versioning
 * on the replica site, the home site has a remote target and a replication
 * rule (with the given priority, unique per bucket) towards it, existing
 * objects are being resynced, and the replica's progress is measured.
 * Sets *state (SYNCING or READY on success). Returns 0 on success, -1 with
 * the reason in err (the caller records FAILED with that reason).
 */
int fst_replication_converge(const fst_site_t *home,
    const fst_site_t *replica, const char *bucket, int priority,
    fst_replica_state_e *state, char *err, size_t err_len);

/*
 * Stop replicating the bucket to the replica site: remove the rule and the
 * remote target from the home site. The replica's data is left in place;
 * deleting it is a separate, explicit request.
 */
int fst_replication_stop(const fst_site_t *home,
    const fst_site_t *replica, const char *bucket,
    char *err, size_t err_len);

/*
 * Whether the site's object store answers (a request on bucket gets an
 * answer that is not a 5xx). For telling an outage from an error after a
 * call failed: a replica's readiness must not depend on its home being
 * reachable, so a failure to reach the home is not the replica's failure.
 */
int fst_replication_reachable(const fst_site_t *site,
    const char *bucket);

/*
 * The site's copy of the bucket stops replicating to others: the rules of
 * ours in its configuration (IDs "fado-*"; other rules are kept) and the
 * remote targets they used are removed. A copy that is no longer the home
 * (the home moved) must not replicate out, else a delete on it would reach
 * the new home. drain_to (the current home, or NULL): first every version
 * on the site must be on drain_to; while it is not, and a rule of ours
 * still carries it there, *draining is 1 and nothing changes (call again).
 * Without such a rule it fails (the versions would never arrive).
 * *removed: rules removed. A missing bucket is success.
 */
int fst_replication_release(const fst_site_t *site,
    const fst_site_t *drain_to, const char *bucket, int *draining,
    size_t *removed, char *err, size_t err_len);

/*
 * On the home: remove the rules of ours towards clusters not in keep
 * (rule "fado-<cluster>") and their targets: leftovers of replicas that
 * are gone. *removed: rules removed.
 */
int fst_replication_prune(const fst_site_t *home,
    const char *bucket, const char *const *keep, size_t n_keep,
    size_t *removed, char *err, size_t err_len);

/*
 * How far a replica is, for the API: versions (delete markers included) on
 * the home, and how many of them the replica does not hold yet. Read-only.
 */
typedef struct {
    size_t  versions;
    size_t  missing;
} fst_replica_progress_t;

int fst_replication_progress(const fst_site_t *home,
    const fst_site_t *replica, const char *bucket,
    fst_replica_progress_t *progress, char *err, size_t err_len);

/*
 * Delete the bucket and every object version in it on one site: only for
 * an explicit, confirmed request to remove a replica's data, after
 * fst_replication_stop. Refuses a bucket that replicates elsewhere (a
 * home: it has replication rules). A missing bucket is success.
 * *deleted counts the versions (and delete markers) removed.
 */
int fst_replication_purge(const fst_site_t *site,
    const char *bucket, size_t *deleted, char *err, size_t err_len);

#endif /* FST_REPLICATION_H */
