/*
 * fado_jobs: workers for the jobs table (replica convergence, index scans).
 */

#include "fado_jobs.h"
#include "fado_log.h"
#include "fst_replication.h"
#include "fst_s3_client.h"
#include "fst_notify.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FADO_JOBS_MAX_WORKERS  16
#define FADO_JOBS_LOCK_CLASS   "7283002"   /* advisory lock: (class, bucket hash) */
#define FADO_JOBS_BATCH        500         /* index rows per statement */

typedef enum {
    FADO_JOB_DONE,          /* delete the job */
    FADO_JOB_AGAIN,         /* progress: run again after the poll interval */
    FADO_JOB_FAILED         /* retry with back-off */
} fado_job_result_e;

typedef struct {
    char  id[24];
    char  kind[16];
    char  bucket[64];
    char  cluster[64];
    int   attempts;
} fado_job_t;

struct fado_jobs_s {
    fado_db_t           *db;
    fado_jobs_config_t   conf;
    void               (*changed)(void *ud);
    void                *changed_ud;
    pthread_t            threads[FADO_JOBS_MAX_WORKERS];
    int                  nthreads;
    pthread_mutex_t      lock;
    pthread_cond_t       cond;
    unsigned long        wakeups;
    int                  stopping;
    unsigned long        done;
    unsigned long        failed;
};

/* ------------------------------------------------------------ scheduling */

int
fado_jobs_schedule(PGconn *conn, const fado_jobs_config_t *conf)
{
    char         verify[16], scan[16];
    const char  *p1[1] = { verify }, *p2[1] = { scan };
    int          rc = 0;

    snprintf(verify, sizeof(verify), "%d", conf->verify_s);
    snprintf(scan, sizeof(scan), "%d", conf->scan_s);
    /* Every replica that is not ready (or leaving), and ready ones due for
     * verification. An existing job keeps its schedule (and back-off).
     * Each branch reads a partial index (sql/003), so with nothing due
     * this costs nothing, however many buckets there are. */
    rc |= fado_db_run(conn, NULL,
        "INSERT INTO jobs (kind, bucket, cluster)"
        " SELECT 'replica', bucket, cluster FROM replicas WHERE state <> 'ready'"
        " UNION ALL"
        " SELECT 'replica', bucket, cluster FROM replicas"
        "  WHERE state = 'ready' AND checked_at IS NULL"
        " UNION ALL"
        " SELECT 'replica', bucket, cluster FROM replicas"
        "  WHERE state = 'ready' AND checked_at < now() - make_interval(secs => $1::int)"
        " ON CONFLICT (kind, bucket, cluster) DO NOTHING", 1, p1);
    /* Index scans once the home holds the bucket. */
    rc |= fado_db_run(conn, NULL,
        "INSERT INTO jobs (kind, bucket)"
        " SELECT 'scan', b.name FROM buckets b"
        "   JOIN replicas r ON r.bucket = b.name AND r.cluster = b.home_cluster"
        "  WHERE r.state = 'ready' AND (b.scanned_at IS NULL"
        "        OR b.scanned_at < now() - make_interval(secs => $1::int))"
        "    AND b.name IN (SELECT name FROM buckets WHERE scanned_at IS NULL"
        "                   UNION ALL SELECT name FROM buckets"
        "                   WHERE scanned_at < now() - make_interval(secs => $1::int))"
        " ON CONFLICT (kind, bucket, cluster) DO NOTHING", 1, p2);
    return rc == 0 ? 0 : -1;
}

int
fado_jobs_hurry(PGconn *conn, const char *bucket, const char *cluster)
{
    const char  *p[2] = { bucket, cluster ? cluster : "" };

    return fado_db_run(conn, NULL,
        "INSERT INTO jobs (kind, bucket, cluster)"
        " SELECT 'replica', r.bucket, r.cluster FROM replicas r"
        "  WHERE r.bucket = $1 AND ($2 = '' OR r.cluster = $2)"
        "    AND r.state IN ('syncing', 'ready')"
        " ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now()"
        "  WHERE jobs.state = 'queued' AND jobs.attempts = 0", 2, p);
}

/* ------------------------------------------------------------ claiming */

/*
 * Claim one due job: lock candidates with SKIP LOCKED (other claimers pass
 * them by), then take the first whose bucket's advisory lock this session
 * gets. The advisory lock outlives the transaction and is what marks the
 * bucket busy while the job runs.
 */
static int
fado_jobs_claim(PGconn *conn, const char *instance, fado_job_t *job)
{
    PGresult  *res;
    int        got = 0;

    if (fado_db_begin(conn, NULL) != 0) {
        return -1;
    }
    res = fado_db_exec(conn, NULL,
        "SELECT id, kind, bucket, cluster, attempts FROM jobs"
        " WHERE run_after <= now() ORDER BY run_after LIMIT 16"
        " FOR UPDATE SKIP LOCKED", 0, NULL);
    if (res == NULL) {
        (void) fado_db_end(conn, 0, NULL);
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && !got; i++) {
        const char  *bucket = PQgetvalue(res, i, 2);
        const char  *p[1] = { bucket };
        PGresult    *lk;

        lk = fado_db_exec(conn, NULL,
            "SELECT pg_try_advisory_lock(" FADO_JOBS_LOCK_CLASS ", hashtext($1))",
            1, p);
        if (lk == NULL) {
            break;
        }
        if (PQgetvalue(lk, 0, 0)[0] == 't') {
            const char  *q[2] = { PQgetvalue(res, i, 0), instance };

            snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, i, 0));
            snprintf(job->kind, sizeof(job->kind), "%s", PQgetvalue(res, i, 1));
            snprintf(job->bucket, sizeof(job->bucket), "%s", bucket);
            snprintf(job->cluster, sizeof(job->cluster), "%s", PQgetvalue(res, i, 3));
            job->attempts = atoi(PQgetvalue(res, i, 4));
            got = fado_db_run(conn, NULL,
                "UPDATE jobs SET state = 'running', owner = $2, updated_at = now()"
                " WHERE id = $1", 2, q) == 0 ? 1 : -1;
        }
        PQclear(lk);
    }
    PQclear(res);
    if (got < 0 || fado_db_end(conn, 1, NULL) != 0) {
        (void) fado_db_end(conn, 0, NULL);
        return -1;
    }
    return got;
}

static void
fado_jobs_release(PGconn *conn, const fado_job_t *job)
{
    const char  *p[1] = { job->bucket };

    (void) fado_db_run(conn, NULL,
        "SELECT pg_advisory_unlock(" FADO_JOBS_LOCK_CLASS ", hashtext($1))", 1, p);
}

static void
fado_jobs_finish(fado_jobs_t *jobs, PGconn *conn, const fado_job_t *job,
    fado_job_result_e result, const char *err)
{
    char  poll[16], cap[16];

    snprintf(poll, sizeof(poll), "%d", jobs->conf.poll_ms);
    snprintf(cap, sizeof(cap), "%d", jobs->conf.backoff_max_s);

    if (result == FADO_JOB_DONE) {
        const char  *p[1] = { job->id };
        (void) fado_db_run(conn, NULL, "DELETE FROM jobs WHERE id = $1", 1, p);
    } else if (result == FADO_JOB_AGAIN) {
        const char  *p[2] = { job->id, poll };
        (void) fado_db_run(conn, NULL,
            "UPDATE jobs SET state = 'queued', owner = '', attempts = 0, last_error = '',"
            " run_after = now() + make_interval(secs => $2::int / 1000.0),"
            " updated_at = now() WHERE id = $1", 2, p);
    } else {
        /* 1 s, 2 s, 4 s ... up to the cap, each within +-25% so that many
         * failing jobs do not retry in step. */
        const char  *p[3] = { job->id, err, cap };
        (void) fado_db_run(conn, NULL,
            "UPDATE jobs SET state = 'queued', owner = '', attempts = attempts + 1,"
            " last_error = $2, updated_at = now(),"
            " run_after = now() + make_interval(secs =>"
            "   least(power(2, least(attempts, 20)), $3::int) * (0.75 + random() / 2))"
            " WHERE id = $1", 3, p);
    }
    fado_jobs_release(conn, job);

    pthread_mutex_lock(&jobs->lock);
    if (result == FADO_JOB_FAILED) {
        jobs->failed++;
    } else if (result == FADO_JOB_DONE) {
        jobs->done++;
    }
    pthread_mutex_unlock(&jobs->lock);
}

/* ------------------------------------------------------------ replica jobs */

/* A site from four columns (name, endpoint, access key, secret key). */
static void
fado_jobs_site(PGresult *res, int row, int col, fst_site_t *site)
{
    memset(site, 0, sizeof(*site));
    site->cluster = PQgetvalue(res, row, col);
    site->endpoint = PQgetvalue(res, row, col + 1);
    site->access_key = PQgetvalue(res, row, col + 2);
    site->secret_key = PQgetvalue(res, row, col + 3);
}

/* Point the cluster's bucket at the controller's webhook. Events are hints,
 * so a failure is reported, not fatal to the replica. */
static void
fado_jobs_notify(fado_jobs_t *jobs, const fst_site_t *site, const char *bucket)
{
    fst_s3_client_t  *c;
    char               err[512];

    if (jobs->conf.events_arn == NULL) {
        return;
    }
    c = fst_s3_client_new(site->endpoint, site->access_key, site->secret_key,
                           site->region, err, sizeof(err));
    if (c == NULL || fst_notify_set(c, bucket, jobs->conf.events_arn,
                                             err, sizeof(err)) != 0)
    {
        fado_log(FADO_LOG_WARN, "msg=\"bucket notifications not set\" bucket=%s cluster=%s"
                 " error=%s", bucket, site->cluster, FADO_LOG_Q(err));
    }
    fst_s3_client_free(c);
}

/*
 * The bucket's home could not be reached: recorded on the bucket (the API
 * shows the home as unavailable), not on the replica, whose own data is
 * as good as before. Logged when it starts.
 */
static void
fado_jobs_home_down(PGconn *conn, const char *bucket, const char *home, const char *err)
{
    const char  *p[3] = { bucket, err, home };
    PGresult    *res;

    res = fado_db_exec(conn, NULL,
        "UPDATE buckets b SET home_error = $2,"
        "       home_error_at = coalesce(b.home_error_at, now())"
        "  FROM (SELECT name, home_error AS old FROM buckets WHERE name = $1 FOR UPDATE) o"
        " WHERE b.name = o.name AND b.home_cluster = $3 RETURNING o.old = ''",
        3, p);
    if (res == NULL) {
        return;
    }
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
        fado_log(FADO_LOG_WARN, "msg=\"home unavailable, replicas keep serving reads\""
                 " bucket=%s home=%s error=%s", bucket, home, FADO_LOG_Q(err));
    }
    PQclear(res);
}

static void
fado_jobs_home_up(PGconn *conn, const char *bucket, const char *home)
{
    const char  *p[2] = { bucket, home };
    PGresult    *res;

    res = fado_db_exec(conn, NULL,
        "UPDATE buckets SET home_error = '', home_error_at = NULL"
        " WHERE name = $1 AND home_cluster = $2 AND home_error <> '' RETURNING name",
        2, p);
    if (res == NULL) {
        return;
    }
    if (PQntuples(res) == 1) {
        fado_log(FADO_LOG_INFO, "msg=\"home available again\" bucket=%s home=%s", bucket, home);
    }
    PQclear(res);
}

/* A note on the replica that leaves its state alone (its cluster cannot be
 * reached: the health check takes it out of the routes; its data is not
 * in doubt until a check says so). */
static void
fado_jobs_replica_note(PGconn *conn, const fado_job_t *job, const char *note)
{
    const char  *p[3] = { job->bucket, job->cluster, note };

    (void) fado_db_run(conn, NULL,
        "UPDATE replicas SET reason = $3 WHERE bucket = $1 AND cluster = $2"
        " AND reason <> $3", 3, p);
}

typedef enum {
    FADO_JOBS_FAULT_HOME,       /* the home's store did not answer */
    FADO_JOBS_FAULT_OWN,        /* the replica's own store did not answer */
    FADO_JOBS_FAULT_ERROR       /* both answer: a real failure of the replica */
} fado_jobs_fault_e;

/* Why a step failed: whose store is unreachable, if any. */
static fado_jobs_fault_e
fado_jobs_fault(const fst_site_t *home, const fst_site_t *replica,
    const char *bucket)
{
    if (!fst_replication_reachable(home, bucket)) {
        return FADO_JOBS_FAULT_HOME;
    }
    if (replica != home && !fst_replication_reachable(replica, bucket)) {
        return FADO_JOBS_FAULT_OWN;
    }
    return FADO_JOBS_FAULT_ERROR;
}

/*
 * A failed step: an outage of the home or of the replica's cluster leaves
 * the replica's state as it is (a ready replica stays routable while its
 * home is down); anything else marks it failed with the reason. The job
 * is retried with back-off, and at once when the cluster comes back
 * (trigger clusters_back, sql/004).
 */
static fado_job_result_e
fado_jobs_replica_failed(fado_jobs_t *jobs, PGconn *conn, const fado_job_t *job,
    const fst_site_t *home, const fst_site_t *replica,
    const char *state, const char *err)
{
    const char  *q[3] = { job->bucket, job->cluster, err };
    char         note[800];

    switch (fado_jobs_fault(home, replica, job->bucket)) {
    case FADO_JOBS_FAULT_HOME:
        fado_jobs_home_down(conn, job->bucket, home->cluster, err);
        if (replica == home) {
            snprintf(note, sizeof(note), "store unreachable: %.700s", err);
            fado_jobs_replica_note(conn, job, note);
        }
        return FADO_JOB_FAILED;
    case FADO_JOBS_FAULT_OWN:
        snprintf(note, sizeof(note), "store unreachable: %.700s", err);
        fado_jobs_replica_note(conn, job, note);
        return FADO_JOB_FAILED;
    case FADO_JOBS_FAULT_ERROR:
        break;
    }
    if (strcmp(state, "failed") != 0) {
        fado_log(FADO_LOG_WARN, "msg=\"replica failed\" bucket=%s cluster=%s reason=%s",
                 job->bucket, job->cluster, FADO_LOG_Q(err));
        if (strcmp(state, "ready") == 0 && jobs->changed != NULL) {
            jobs->changed(jobs->changed_ud);
        }
    }
    (void) fado_db_run(conn, NULL,
        "UPDATE replicas SET state = 'failed', reason = $3, behind_since = NULL,"
        " updated_at = now() WHERE bucket = $1 AND cluster = $2"
        " AND state <> 'removing' AND (state <> 'failed' OR reason <> $3)", 3, q);
    return FADO_JOB_FAILED;
}

/* Replica clusters of the bucket as an array (for pruning the home's
 * rules), split in buf. -1 when they do not all fit: then nothing may be
 * pruned (a rule towards a cluster left out would go). */
static long
fado_jobs_keep(PGresult *res, int col, char *buf, size_t size, const char **keep, size_t max)
{
    size_t  n = 0;
    char   *save = NULL, *tok;

    if ((size_t) PQgetlength(res, 0, col) >= size) {
        return -1;
    }
    snprintf(buf, size, "%s", PQgetvalue(res, 0, col));
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max) {
            return -1;
        }
        keep[n++] = tok;
    }
    return (long) n;
}

/*
 * A replica leaves the placement (state 'removing', set by the placement
 * only once it may go). Nothing is deleted: the home stops replicating to
 * it, the copy loses any rules of its own (it may have been the home), and
 * the copy is recorded in released_copies until a confirmed request
 * deletes it. From then on nothing flows into or out of it, so a delete on
 * the released copy never reaches the others.
 */
static fado_job_result_e
fado_jobs_leave(PGconn *conn, const fado_job_t *job, const fst_site_t *home,
    const fst_site_t *replica, int is_home, int rules_out, char *err, size_t err_len)
{
    const char  *p[3] = { job->bucket, job->cluster, home->cluster };
    int          draining = 0;
    size_t       removed = 0;
    int          rc = 0;

    if (!is_home) {
        rc = fst_replication_stop(home, replica, job->bucket, err, err_len);
    }
    if (rc == 0 && !is_home) {
        rc = fst_replication_release(replica, home, job->bucket, &draining, &removed,
                                      err, err_len);
        if (rc != 0 && !rules_out && !fst_replication_reachable(replica, job->bucket)) {
            rc = 0;     /* never a home, so no rules of its own to wait for */
        }
    }
    if (rc != 0) {
        const char  *q[3] = { job->bucket, job->cluster, err };
        (void) fado_db_run(conn, NULL, "UPDATE replicas SET reason = $3"
                           " WHERE bucket = $1 AND cluster = $2", 3, q);
        return FADO_JOB_FAILED;
    }
    if (draining) {
        return FADO_JOB_AGAIN;
    }
    if (fado_db_begin(conn, NULL) != 0) {
        snprintf(err, err_len, "database: cannot begin");
        return FADO_JOB_FAILED;
    }
    if (fado_db_run(conn, NULL, "DELETE FROM replicas WHERE bucket = $1"
                    " AND cluster = $2 AND state = 'removing'", 2, p) != 0
        || (!is_home && fado_db_run(conn, NULL,
               "INSERT INTO released_copies (bucket, cluster, home_cluster)"
               " VALUES ($1, $2, $3) ON CONFLICT (bucket, cluster) DO UPDATE SET"
               " state = 'kept', home_cluster = EXCLUDED.home_cluster, reason = '',"
               " released_at = now(), updated_at = now()", 3, p) != 0)
        || fado_db_end(conn, 1, NULL) != 0)
    {
        (void) fado_db_end(conn, 0, NULL);
        snprintf(err, err_len, "database: recording the released copy failed");
        return FADO_JOB_FAILED;
    }
    fado_log(FADO_LOG_INFO, "msg=\"replica released, data kept\" bucket=%s cluster=%s"
             " rules_removed=%zu", job->bucket, job->cluster, removed);
    return FADO_JOB_DONE;
}

/*
 * No replica row: the (bucket, cluster) pair may be a released copy whose
 * deletion was confirmed through the API. Its bucket and every version in
 * it are deleted on that cluster, then the record. fst_replication_purge
 * refuses a copy that still has replication rules, so a deletion there
 * can never propagate.
 */
static fado_job_result_e
fado_jobs_purge(PGconn *conn, const fado_job_t *job, char *err, size_t err_len)
{
    const char           *p[2] = { job->bucket, job->cluster };
    PGresult             *res;
    fst_site_t   site;
    size_t                deleted = 0;

    res = fado_db_query(conn,
        "SELECT c.name, c.storage_endpoint, c.storage_access_key, c.storage_secret_key"
        "  FROM released_copies rc JOIN clusters c ON c.name = rc.cluster"
        " WHERE rc.bucket = $1 AND rc.cluster = $2 AND rc.state = 'deleting'"
        "   AND NOT EXISTS (SELECT 1 FROM replicas r"
        "                    WHERE r.bucket = rc.bucket AND r.cluster = rc.cluster)",
        2, p, err, err_len, NULL);
    if (res == NULL) {
        return FADO_JOB_FAILED;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return FADO_JOB_DONE;       /* nothing to delete (or back in the placement) */
    }
    fado_jobs_site(res, 0, 0, &site);
    if (fst_replication_purge(&site, job->bucket, &deleted, err, err_len) != 0) {
        const char  *q[3] = { job->bucket, job->cluster, err };
        (void) fado_db_run(conn, NULL, "UPDATE released_copies SET reason = $3, updated_at = now()"
                           " WHERE bucket = $1 AND cluster = $2", 3, q);
        PQclear(res);
        return FADO_JOB_FAILED;
    }
    PQclear(res);
    (void) fado_db_run(conn, NULL, "DELETE FROM released_copies WHERE bucket = $1"
                       " AND cluster = $2 AND state = 'deleting'", 2, p);
    fado_log(FADO_LOG_INFO, "msg=\"released copy deleted\" bucket=%s cluster=%s versions=%zu",
             job->bucket, job->cluster, deleted);
    return FADO_JOB_DONE;
}

static fado_job_result_e
fado_jobs_replica(fado_jobs_t *jobs, PGconn *conn, const fado_job_t *job,
    char *err, size_t err_len)
{
    const char            *p[2] = { job->bucket, job->cluster };
    PGresult              *res;
    fst_site_t    replica, home;
    fst_replica_state_e   next = FST_REPLICA_FAILED;
    const char            *state;
    char                   keep_buf[8192];
    const char            *keep[256];
    int                    is_home, rules_out, rc, changed = 0, draining = 0;
    size_t                 removed = 0;
    double                 behind_for;

    res = fado_db_query(conn,
        "SELECT state, is_home, rn, re, ra, rs, hn, he, ha, hs, prio, behind_for,"
        "       rules_out, keep"
        "  FROM (SELECT r.cluster, r.state, r.cluster = b.home_cluster AS is_home,"
        "               rc.name AS rn, rc.storage_endpoint AS re,"
        "               rc.storage_access_key AS ra, rc.storage_secret_key AS rs,"
        "               hc.name AS hn, hc.storage_endpoint AS he,"
        "               hc.storage_access_key AS ha, hc.storage_secret_key AS hs,"
        "               row_number() OVER (ORDER BY r.cluster) AS prio,"
        "               coalesce(extract(epoch FROM now() - r.behind_since), -1) AS behind_for,"
        "               r.rules_out,"
        "               string_agg(r.cluster, ',') OVER () AS keep"
        "          FROM replicas r JOIN buckets b ON b.name = r.bucket"
        "          JOIN clusters rc ON rc.name = r.cluster"
        "          JOIN clusters hc ON hc.name = b.home_cluster"
        "         WHERE r.bucket = $1) s"
        " WHERE s.cluster = $2", 2, p, err, err_len, NULL);
    if (res == NULL) {
        return FADO_JOB_FAILED;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fado_jobs_purge(conn, job, err, err_len);
    }
    state = PQgetvalue(res, 0, 0);
    is_home = PQgetvalue(res, 0, 1)[0] == 't';
    fado_jobs_site(res, 0, 2, &replica);
    fado_jobs_site(res, 0, 6, &home);
    behind_for = atof(PQgetvalue(res, 0, 11));
    rules_out = PQgetvalue(res, 0, 12)[0] == 't';

    if (replica.endpoint[0] == '\0' || home.endpoint[0] == '\0') {
        snprintf(err, err_len, "cluster has no storage endpoint");
        rc = -1;
    } else if (strcmp(state, "removing") == 0) {
        fado_job_result_e  r = fado_jobs_leave(conn, job, &home, &replica, is_home,
                                               rules_out, err, err_len);
        PQclear(res);
        return r;
    } else if (is_home) {
        /* The home: its bucket, and no rules of ours towards clusters that
         * are no longer replicas (leftovers of a crash or an earlier home). */
        rc = fst_replication_ensure_home(&home, job->bucket, err, err_len);
        if (rc == 0) {
            long  n = fado_jobs_keep(res, 13, keep_buf, sizeof(keep_buf), keep, 256);
            rc = n < 0 ? 0 : fst_replication_prune(&home, job->bucket, keep, (size_t) n,
                                                    &removed, err, err_len);
            if (rc == 0 && removed > 0) {
                fado_log(FADO_LOG_INFO, "msg=\"stale replication rules removed\" bucket=%s"
                         " cluster=%s rules=%zu", job->bucket, job->cluster, removed);
            }
        }
        if (rc == 0 && !rules_out) {
            (void) fado_db_run(conn, NULL, "UPDATE replicas SET rules_out = true"
                               " WHERE bucket = $1 AND cluster = $2", 2, p);
        }
        next = FST_REPLICA_READY;
    } else {
        /* Only the home replicates out: a copy that was the home drops its
         * rules once the new home holds everything it has, then follows the
         * new home like any replica. (Only copies that were a home can
         * hold rules of ours: the others are not asked.) */
        rc = rules_out ? fst_replication_release(&replica, &home, job->bucket, &draining,
                                                  &removed, err, err_len) : 0;
        if (rc == 0 && removed > 0) {
            fado_log(FADO_LOG_INFO, "msg=\"former home stopped replicating out\" bucket=%s"
                     " cluster=%s home=%s rules=%zu", job->bucket, job->cluster,
                     home.cluster, removed);
        }
        if (rc == 0 && !draining && rules_out) {
            (void) fado_db_run(conn, NULL, "UPDATE replicas SET rules_out = false"
                               " WHERE bucket = $1 AND cluster = $2", 2, p);
        }
        if (rc == 0) {
            rc = fst_replication_converge(&home, &replica, job->bucket,
                                           atoi(PQgetvalue(res, 0, 10)), &next, err, err_len);
        }
    }

    if (rc != 0) {
        fado_job_result_e  r = FADO_JOB_FAILED;

        if (replica.endpoint[0] == '\0' || home.endpoint[0] == '\0') {
            const char  *q[3] = { job->bucket, job->cluster, err };
            (void) fado_db_run(conn, NULL,
                "UPDATE replicas SET state = 'failed', reason = $3, behind_since = NULL,"
                " updated_at = now() WHERE bucket = $1 AND cluster = $2"
                " AND state <> 'removing' AND (state <> 'failed' OR reason <> $3)", 3, q);
        } else {
            r = fado_jobs_replica_failed(jobs, conn, job, &home, is_home ? &home : &replica,
                                         state, err);
        }
        PQclear(res);
        return r;
    }

    fado_jobs_notify(jobs, &replica, job->bucket);
    fado_jobs_home_up(conn, job->bucket, home.cluster);
    /* In the placement again: no longer a released copy. */
    (void) fado_db_run(conn, NULL, "DELETE FROM released_copies WHERE bucket = $1"
                       " AND cluster = $2", 2, p);

    if (next == FST_REPLICA_READY) {
        if (strcmp(state, "ready") != 0) {
            fado_log(FADO_LOG_INFO, "msg=\"replica ready\" bucket=%s cluster=%s",
                     job->bucket, job->cluster);
            changed = 1;
        }
        (void) fado_db_run(conn, NULL,
            "UPDATE replicas SET state = 'ready', reason = '', checked_at = now(),"
            " behind_since = NULL,"
            " updated_at = CASE WHEN state = 'ready' THEN updated_at ELSE now() END"
            " WHERE bucket = $1 AND cluster = $2 AND state <> 'removing'", 2, p);
    } else if (strcmp(state, "ready") == 0
               && (behind_for < 0 || behind_for < jobs->conf.ready_lag_s))
    {
        /* Behind by writes in flight: stays routed within the lag bound. */
        (void) fado_db_run(conn, NULL,
            "UPDATE replicas SET checked_at = now(), reason = '',"
            " behind_since = coalesce(behind_since, now())"
            " WHERE bucket = $1 AND cluster = $2 AND state = 'ready'", 2, p);
    } else {
        if (strcmp(state, "ready") == 0) {
            fado_log(FADO_LOG_WARN, "msg=\"replica fell behind, leaves the routes\""
                     " bucket=%s cluster=%s behind_s=%.0f", job->bucket, job->cluster,
                     behind_for);
            changed = 1;
        }
        (void) fado_db_run(conn, NULL,
            "UPDATE replicas SET state = 'syncing', reason = '', checked_at = now(),"
            " updated_at = CASE WHEN state = 'syncing' THEN updated_at ELSE now() END"
            " WHERE bucket = $1 AND cluster = $2 AND state <> 'removing'", 2, p);
    }
    PQclear(res);

    if (changed && jobs->changed != NULL) {
        jobs->changed(jobs->changed_ud);
    }
    if (draining) {
        return FADO_JOB_AGAIN;      /* the former home's rules go next time */
    }
    if (next == FST_REPLICA_READY) {
        return FADO_JOB_DONE;
    }
    return FADO_JOB_AGAIN;
}

/* ------------------------------------------------------------ scan jobs */

typedef struct {
    PGconn       *conn;
    const char   *bucket;
    const char   *cluster;
    const char   *scan;
    int           home;             /* listing the home: upsert; else: locate */
    json_t       *batch;
    size_t        rows;
    int           failed;
    char          err[512];
} fado_scan_t;

static int
fado_scan_flush(fado_scan_t *s)
{
    char        *doc;
    PGresult    *res;

    if (json_array_size(s->batch) == 0) {
        return 0;
    }
    doc = json_dumps(s->batch, JSON_COMPACT);
    if (doc == NULL) {
        snprintf(s->err, sizeof(s->err), "out of memory");
        return -1;
    }
    if (s->home) {
        const char  *p[4] = { s->bucket, s->cluster, s->scan, doc };
        /* A version already indexed keeps its locations and type; a new
         * one is, as far as we know, only on the home. */
        res = fado_db_query(s->conn,
            "INSERT INTO objects AS o (bucket, key, version_id, size, etag,"
            "                          last_modified, locations, scan)"
            " SELECT $1, t.k, t.v, t.s, t.e, t.m, ARRAY[$2], $3::bigint"
            "   FROM json_to_recordset($4::json) AS t(k text, v text, s bigint,"
            "                                          e text, m timestamptz)"
            " ON CONFLICT (bucket, key) DO UPDATE SET"
            "   scan = EXCLUDED.scan,"
            "   version_id = EXCLUDED.version_id, size = EXCLUDED.size,"
            "   etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified,"
            "   locations = CASE WHEN o.version_id = EXCLUDED.version_id"
            "               THEN o.locations ELSE EXCLUDED.locations END,"
            "   content_type = CASE WHEN o.version_id = EXCLUDED.version_id"
            "                  THEN o.content_type ELSE '' END,"
            "   updated_at = CASE WHEN o.version_id = EXCLUDED.version_id"
            "                THEN o.updated_at ELSE clock_timestamp() END",
            4, p, s->err, sizeof(s->err), NULL);
    } else {
        const char  *p[3] = { s->bucket, s->cluster, doc };
        res = fado_db_query(s->conn,
            "UPDATE objects o SET locations = array_append(o.locations, $2)"
            "  FROM json_to_recordset($3::json) AS t(k text, v text)"
            " WHERE o.bucket = $1 AND o.key = t.k AND o.version_id = t.v"
            "   AND NOT ($2 = ANY (o.locations))", 3, p, s->err, sizeof(s->err), NULL);
    }
    free(doc);
    json_array_clear(s->batch);
    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

static int
fado_scan_entry(void *ud, const fst_s3_entry_t *e)
{
    fado_scan_t  *s = ud;
    json_t       *row;

    if (s->home && (!e->is_latest || e->delete_marker)) {
        return 0;
    }
    if (!s->home && e->delete_marker) {
        return 0;
    }
    row = s->home
        ? json_pack("{s:s, s:s, s:I, s:s, s:s?}", "k", e->key,
                    "v", e->version_id ? e->version_id : "", "s", (json_int_t) e->size,
                    "e", e->etag ? e->etag : "",
                    "m", e->last_modified && e->last_modified[0] ? e->last_modified : NULL)
        : json_pack("{s:s, s:s}", "k", e->key, "v", e->version_id ? e->version_id : "");
    if (row == NULL || json_array_append_new(s->batch, row) != 0) {
        snprintf(s->err, sizeof(s->err), "out of memory");
        s->failed = 1;
        return 1;
    }
    s->rows++;
    if (json_array_size(s->batch) >= FADO_JOBS_BATCH && fado_scan_flush(s) != 0) {
        s->failed = 1;
        return 1;
    }
    return 0;
}

static int
fado_scan_site(fado_scan_t *s, const fst_site_t *site, int home)
{
    fst_s3_client_t  *c;
    char               e[512];
    int                rc;

    s->cluster = site->cluster;
    s->home = home;
    s->failed = 0;
    c = fst_s3_client_new(site->endpoint, site->access_key, site->secret_key,
                           site->region, e, sizeof(e));
    if (c == NULL) {
        snprintf(s->err, sizeof(s->err), "cluster \"%.63s\": %.400s", site->cluster, e);
        return -1;
    }
    rc = fst_s3_list_versions(c, s->bucket, NULL, fado_scan_entry, s, e, sizeof(e));
    fst_s3_client_free(c);
    if (s->failed) {
        return -1;
    }
    if (rc != 0) {
        snprintf(s->err, sizeof(s->err), "cluster \"%.63s\": %.400s", site->cluster, e);
        return -1;
    }
    return fado_scan_flush(s);
}

/*
 * Rebuild the bucket's index: the home's latest versions (upserted, rows of
 * keys gone since removed), then each replica adds itself to the objects
 * whose version it holds. Rows touched by notifications after the scan
 * began are left alone: they are newer than the listing.
 */
static fado_job_result_e
fado_jobs_scan(PGconn *conn, const fado_job_t *job, char *err, size_t err_len)
{
    const char           *p[1] = { job->bucket };
    PGresult             *res;
    fado_scan_t           s;
    fst_site_t   site;
    char                  scan[32], started[64];
    fado_job_result_e     result = FADO_JOB_FAILED;

    res = fado_db_query(conn,
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint, clock_timestamp(),"
        "       c.name, c.storage_endpoint, c.storage_access_key, c.storage_secret_key,"
        "       (c.name = b.home_cluster)"
        "  FROM buckets b JOIN replicas r ON r.bucket = b.name"
        "  JOIN clusters c ON c.name = r.cluster"
        " WHERE b.name = $1 AND c.storage_endpoint <> ''"
        "   AND (c.name = b.home_cluster OR r.state IN ('ready', 'syncing'))"
        " ORDER BY (c.name = b.home_cluster) DESC, c.name", 1, p, err, err_len, NULL);
    if (res == NULL) {
        return FADO_JOB_FAILED;
    }
    if (PQntuples(res) == 0 || PQgetvalue(res, 0, 6)[0] != 't') {
        PQclear(res);
        return FADO_JOB_DONE;       /* bucket gone, or its home has no storage */
    }
    snprintf(scan, sizeof(scan), "%s", PQgetvalue(res, 0, 0));
    snprintf(started, sizeof(started), "%s", PQgetvalue(res, 0, 1));

    memset(&s, 0, sizeof(s));
    s.conn = conn;
    s.bucket = job->bucket;
    s.scan = scan;
    s.batch = json_array();
    if (s.batch == NULL) {
        snprintf(err, err_len, "out of memory");
        PQclear(res);
        return FADO_JOB_FAILED;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        fado_jobs_site(res, i, 2, &site);
        if (fado_scan_site(&s, &site, i == 0) != 0) {
            snprintf(err, err_len, "index scan: %.400s", s.err);
            goto done;
        }
        if (i == 0) {
            const char  *q[3] = { job->bucket, scan, started };
            if (fado_db_run(conn, NULL,
                    "DELETE FROM objects WHERE bucket = $1 AND scan < $2::bigint"
                    " AND updated_at < $3::timestamptz", 3, q) != 0)
            {
                snprintf(err, err_len, "index scan: database error");
                goto done;
            }
        }
    }
    (void) fado_db_run(conn, NULL, "UPDATE buckets SET scanned_at = now() WHERE name = $1", 1, p);
    fado_log(FADO_LOG_DEBUG, "msg=\"index scanned\" bucket=%s entries=%zu", job->bucket, s.rows);
    result = FADO_JOB_DONE;
done:
    json_decref(s.batch);
    PQclear(res);
    return result;
}

/* ------------------------------------------------------------ workers */

static int
fado_jobs_run_one(fado_jobs_t *jobs)
{
    PGconn             *conn = fado_db_acquire(jobs->db);
    fado_job_t          job;
    fado_job_result_e   result;
    char                err[768] = "";
    int                 got;

    if (conn == NULL) {
        return 0;
    }
    got = fado_jobs_claim(conn, jobs->conf.instance, &job);
    if (got <= 0) {
        fado_db_release(jobs->db, conn);
        return 0;
    }
    if (strcmp(job.kind, "replica") == 0) {
        result = fado_jobs_replica(jobs, conn, &job, err, sizeof(err));
    } else if (strcmp(job.kind, "scan") == 0) {
        result = fado_jobs_scan(conn, &job, err, sizeof(err));
    } else {
        snprintf(err, sizeof(err), "unknown job kind \"%s\"", job.kind);
        result = FADO_JOB_FAILED;
    }
    if (result == FADO_JOB_FAILED && job.attempts == 0) {
        fado_log(FADO_LOG_WARN, "msg=\"job failed, will retry\" kind=%s bucket=%s"
                 " cluster=%s error=%s", job.kind, job.bucket, job.cluster, FADO_LOG_Q(err));
    }
    fado_jobs_finish(jobs, conn, &job, result, err);
    fado_db_release(jobs->db, conn);
    return 1;
}

static void *
fado_jobs_main(void *arg)
{
    fado_jobs_t  *jobs = arg;

    for (;;) {
        struct timespec  until;
        unsigned long    seen;

        pthread_mutex_lock(&jobs->lock);
        seen = jobs->wakeups;
        if (jobs->stopping) {
            pthread_mutex_unlock(&jobs->lock);
            return NULL;
        }
        pthread_mutex_unlock(&jobs->lock);

        if (fado_jobs_run_one(jobs)) {
            continue;               /* there may be more due */
        }

        pthread_mutex_lock(&jobs->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += jobs->conf.poll_ms / 1000;
        until.tv_nsec += (long) (jobs->conf.poll_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (jobs->wakeups == seen && !jobs->stopping) {
            if (pthread_cond_timedwait(&jobs->cond, &jobs->lock, &until) == ETIMEDOUT) {
                break;
            }
        }
        pthread_mutex_unlock(&jobs->lock);
    }
}

fado_jobs_t *
fado_jobs_start(fado_db_t *db, const fado_jobs_config_t *conf,
    void (*changed)(void *ud), void *ud)
{
    fado_jobs_t  *jobs = calloc(1, sizeof(*jobs));

    if (jobs == NULL) {
        return NULL;
    }
    jobs->db = db;
    jobs->conf = *conf;
    jobs->changed = changed;
    jobs->changed_ud = ud;
    if (jobs->conf.workers < 1) {
        jobs->conf.workers = 1;
    } else if (jobs->conf.workers > FADO_JOBS_MAX_WORKERS) {
        jobs->conf.workers = FADO_JOBS_MAX_WORKERS;
    }
    if (pthread_mutex_init(&jobs->lock, NULL) != 0) {
        free(jobs);
        return NULL;
    }
    if (pthread_cond_init(&jobs->cond, NULL) != 0) {
        pthread_mutex_destroy(&jobs->lock);
        free(jobs);
        return NULL;
    }
    for (int i = 0; i < jobs->conf.workers; i++) {
        if (pthread_create(&jobs->threads[i], NULL, fado_jobs_main, jobs) != 0) {
            fado_jobs_stop(jobs);
            return NULL;
        }
        jobs->nthreads++;
    }
    return jobs;
}

void
fado_jobs_wake(fado_jobs_t *jobs)
{
    if (jobs == NULL) {
        return;
    }
    pthread_mutex_lock(&jobs->lock);
    jobs->wakeups++;
    pthread_cond_broadcast(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
}

void
fado_jobs_counters(fado_jobs_t *jobs, unsigned long *done, unsigned long *failed)
{
    pthread_mutex_lock(&jobs->lock);
    *done = jobs->done;
    *failed = jobs->failed;
    pthread_mutex_unlock(&jobs->lock);
}

void
fado_jobs_stop(fado_jobs_t *jobs)
{
    if (jobs == NULL) {
        return;
    }
    pthread_mutex_lock(&jobs->lock);
    jobs->stopping = 1;
    pthread_cond_broadcast(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
    for (int i = 0; i < jobs->nthreads; i++) {
        pthread_join(jobs->threads[i], NULL);
    }
    pthread_mutex_destroy(&jobs->lock);
    pthread_cond_destroy(&jobs->cond);
    free(jobs);
}
