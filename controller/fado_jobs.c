/*
 * fado_jobs: workers for the jobs table (replica convergence, index scans).
 */

#include "fado_jobs.h"
#include "fado_log.h"
#include "replication.h"
#include "s3_client.h"
#include "storage_notify.h"

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

static PGresult *
fado_jobs_query(PGconn *conn, const char *sql, int n, const char *const *params,
    char *err, size_t err_len)
{
    char       e[512];
    PGresult  *res = fado_db_query(conn, sql, n, params, e, sizeof(e), NULL);

    if (res == NULL) {
        if (err != NULL) {
            snprintf(err, err_len, "database: %.400s", e);
        } else {
            fado_log(FADO_LOG_WARN, "msg=\"jobs query failed\" error=\"%s\"", e);
        }
    }
    return res;
}

static int
fado_jobs_exec(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult  *res = fado_jobs_query(conn, sql, n, params, NULL, 0);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

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
    rc |= fado_jobs_exec(conn,
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
    rc |= fado_jobs_exec(conn,
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

    return fado_jobs_exec(conn,
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

    if (fado_jobs_exec(conn, "BEGIN", 0, NULL) != 0) {
        return -1;
    }
    res = fado_jobs_query(conn,
        "SELECT id, kind, bucket, cluster, attempts FROM jobs"
        " WHERE run_after <= now() ORDER BY run_after LIMIT 16"
        " FOR UPDATE SKIP LOCKED", 0, NULL, NULL, 0);
    if (res == NULL) {
        (void) fado_jobs_exec(conn, "ROLLBACK", 0, NULL);
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && !got; i++) {
        const char  *bucket = PQgetvalue(res, i, 2);
        const char  *p[1] = { bucket };
        PGresult    *lk;

        lk = fado_jobs_query(conn,
            "SELECT pg_try_advisory_lock(" FADO_JOBS_LOCK_CLASS ", hashtext($1))",
            1, p, NULL, 0);
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
            got = fado_jobs_exec(conn,
                "UPDATE jobs SET state = 'running', owner = $2, updated_at = now()"
                " WHERE id = $1", 2, q) == 0 ? 1 : -1;
        }
        PQclear(lk);
    }
    PQclear(res);
    if (got < 0 || fado_jobs_exec(conn, "COMMIT", 0, NULL) != 0) {
        (void) fado_jobs_exec(conn, "ROLLBACK", 0, NULL);
        return -1;
    }
    return got;
}

static void
fado_jobs_release(PGconn *conn, const fado_job_t *job)
{
    const char  *p[1] = { job->bucket };

    (void) fado_jobs_exec(conn,
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
        (void) fado_jobs_exec(conn, "DELETE FROM jobs WHERE id = $1", 1, p);
    } else if (result == FADO_JOB_AGAIN) {
        const char  *p[2] = { job->id, poll };
        (void) fado_jobs_exec(conn,
            "UPDATE jobs SET state = 'queued', owner = '', attempts = 0, last_error = '',"
            " run_after = now() + make_interval(secs => $2::int / 1000.0),"
            " updated_at = now() WHERE id = $1", 2, p);
    } else {
        /* 1 s, 2 s, 4 s ... up to the cap, each within +-25% so that many
         * failing jobs do not retry in step. */
        const char  *p[3] = { job->id, err, cap };
        (void) fado_jobs_exec(conn,
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
fado_jobs_site(PGresult *res, int row, int col, fado_storage_site_t *site)
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
fado_jobs_notify(fado_jobs_t *jobs, const fado_storage_site_t *site, const char *bucket)
{
    fado_s3_client_t  *c;
    char               err[512];

    if (jobs->conf.events_arn == NULL) {
        return;
    }
    c = fado_s3_client_new(site->endpoint, site->access_key, site->secret_key,
                           site->region, err, sizeof(err));
    if (c == NULL || fado_storage_notify_set(c, bucket, jobs->conf.events_arn,
                                             err, sizeof(err)) != 0)
    {
        fado_log(FADO_LOG_WARN, "msg=\"bucket notifications not set\" bucket=%s cluster=%s"
                 " error=\"%s\"", bucket, site->cluster, err);
    }
    fado_s3_client_free(c);
}

static fado_job_result_e
fado_jobs_replica(fado_jobs_t *jobs, PGconn *conn, const fado_job_t *job,
    char *err, size_t err_len)
{
    const char            *p[2] = { job->bucket, job->cluster };
    PGresult              *res;
    fado_storage_site_t    replica, home;
    fado_replica_state_e   next = FADO_REPLICA_FAILED;
    const char            *state;
    int                    is_home, rc, changed = 0;
    double                 behind_for;

    res = fado_jobs_query(conn,
        "SELECT state, is_home, rn, re, ra, rs, hn, he, ha, hs, prio, behind_for"
        "  FROM (SELECT r.cluster, r.state, r.cluster = b.home_cluster AS is_home,"
        "               rc.name AS rn, rc.storage_endpoint AS re,"
        "               rc.storage_access_key AS ra, rc.storage_secret_key AS rs,"
        "               hc.name AS hn, hc.storage_endpoint AS he,"
        "               hc.storage_access_key AS ha, hc.storage_secret_key AS hs,"
        "               row_number() OVER (ORDER BY r.cluster) AS prio,"
        "               coalesce(extract(epoch FROM now() - r.behind_since), -1) AS behind_for"
        "          FROM replicas r JOIN buckets b ON b.name = r.bucket"
        "          JOIN clusters rc ON rc.name = r.cluster"
        "          JOIN clusters hc ON hc.name = b.home_cluster"
        "         WHERE r.bucket = $1) s"
        " WHERE s.cluster = $2", 2, p, err, err_len);
    if (res == NULL) {
        return FADO_JOB_FAILED;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return FADO_JOB_DONE;       /* the replica (or bucket) is gone */
    }
    state = PQgetvalue(res, 0, 0);
    is_home = PQgetvalue(res, 0, 1)[0] == 't';
    fado_jobs_site(res, 0, 2, &replica);
    fado_jobs_site(res, 0, 6, &home);
    behind_for = atof(PQgetvalue(res, 0, 11));

    if (replica.endpoint[0] == '\0' || home.endpoint[0] == '\0') {
        snprintf(err, err_len, "cluster has no storage endpoint");
        rc = -1;
    } else if (strcmp(state, "removing") == 0) {
        /* Out of the routes already (not ready); stop replicating and
         * forget the row. The replica's data stays where it is. */
        rc = is_home ? 0 : fado_replication_stop(&home, &replica, job->bucket, err, err_len);
        if (rc == 0) {
            (void) fado_jobs_exec(conn, "DELETE FROM replicas WHERE bucket = $1"
                                  " AND cluster = $2 AND state = 'removing'", 2, p);
            fado_log(FADO_LOG_INFO, "msg=\"replica removed, data kept\" bucket=%s cluster=%s",
                     job->bucket, job->cluster);
            PQclear(res);
            return FADO_JOB_DONE;
        }
        {
            const char  *q[3] = { job->bucket, job->cluster, err };
            (void) fado_jobs_exec(conn, "UPDATE replicas SET reason = $3"
                                  " WHERE bucket = $1 AND cluster = $2", 3, q);
        }
        PQclear(res);
        return FADO_JOB_FAILED;
    } else if (is_home) {
        rc = fado_replication_ensure_home(&home, job->bucket, err, err_len);
        next = FADO_REPLICA_READY;
    } else {
        rc = fado_replication_converge(&home, &replica, job->bucket,
                                       atoi(PQgetvalue(res, 0, 10)), &next, err, err_len);
    }
    if (rc == 0) {
        fado_jobs_notify(jobs, &replica, job->bucket);
    }

    if (rc != 0) {
        const char  *q[3] = { job->bucket, job->cluster, err };
        if (strcmp(state, "failed") != 0) {
            fado_log(FADO_LOG_WARN, "msg=\"replica failed\" bucket=%s cluster=%s reason=\"%s\"",
                     job->bucket, job->cluster, err);
            changed = strcmp(state, "ready") == 0;
        }
        (void) fado_jobs_exec(conn,
            "UPDATE replicas SET state = 'failed', reason = $3, behind_since = NULL,"
            " updated_at = now() WHERE bucket = $1 AND cluster = $2"
            " AND state <> 'removing' AND (state <> 'failed' OR reason <> $3)", 3, q);
    } else if (next == FADO_REPLICA_READY) {
        if (strcmp(state, "ready") != 0) {
            fado_log(FADO_LOG_INFO, "msg=\"replica ready\" bucket=%s cluster=%s",
                     job->bucket, job->cluster);
            changed = 1;
        }
        (void) fado_jobs_exec(conn,
            "UPDATE replicas SET state = 'ready', reason = '', checked_at = now(),"
            " behind_since = NULL,"
            " updated_at = CASE WHEN state = 'ready' THEN updated_at ELSE now() END"
            " WHERE bucket = $1 AND cluster = $2 AND state <> 'removing'", 2, p);
    } else if (strcmp(state, "ready") == 0
               && (behind_for < 0 || behind_for < jobs->conf.ready_lag_s))
    {
        /* Behind by writes in flight: stays routed within the lag bound. */
        (void) fado_jobs_exec(conn,
            "UPDATE replicas SET checked_at = now(),"
            " behind_since = coalesce(behind_since, now())"
            " WHERE bucket = $1 AND cluster = $2 AND state = 'ready'", 2, p);
    } else {
        if (strcmp(state, "ready") == 0) {
            fado_log(FADO_LOG_WARN, "msg=\"replica fell behind, leaves the routes\""
                     " bucket=%s cluster=%s behind_s=%.0f", job->bucket, job->cluster,
                     behind_for);
            changed = 1;
        }
        (void) fado_jobs_exec(conn,
            "UPDATE replicas SET state = 'syncing', reason = '', checked_at = now(),"
            " updated_at = CASE WHEN state = 'syncing' THEN updated_at ELSE now() END"
            " WHERE bucket = $1 AND cluster = $2 AND state <> 'removing'", 2, p);
    }
    PQclear(res);

    if (changed && jobs->changed != NULL) {
        jobs->changed(jobs->changed_ud);
    }
    if (rc != 0) {
        return FADO_JOB_FAILED;
    }
    if (next == FADO_REPLICA_READY) {
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
        res = fado_jobs_query(s->conn,
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
            4, p, s->err, sizeof(s->err));
    } else {
        const char  *p[3] = { s->bucket, s->cluster, doc };
        res = fado_jobs_query(s->conn,
            "UPDATE objects o SET locations = array_append(o.locations, $2)"
            "  FROM json_to_recordset($3::json) AS t(k text, v text)"
            " WHERE o.bucket = $1 AND o.key = t.k AND o.version_id = t.v"
            "   AND NOT ($2 = ANY (o.locations))", 3, p, s->err, sizeof(s->err));
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
fado_scan_entry(void *ud, const fado_s3_entry_t *e)
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
fado_scan_site(fado_scan_t *s, const fado_storage_site_t *site, int home)
{
    fado_s3_client_t  *c;
    char               e[512];
    int                rc;

    s->cluster = site->cluster;
    s->home = home;
    s->failed = 0;
    c = fado_s3_client_new(site->endpoint, site->access_key, site->secret_key,
                           site->region, e, sizeof(e));
    if (c == NULL) {
        snprintf(s->err, sizeof(s->err), "cluster \"%.63s\": %.400s", site->cluster, e);
        return -1;
    }
    rc = fado_s3_list_versions(c, s->bucket, NULL, fado_scan_entry, s, e, sizeof(e));
    fado_s3_client_free(c);
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
    fado_storage_site_t   site;
    char                  scan[32], started[64];
    fado_job_result_e     result = FADO_JOB_FAILED;

    res = fado_jobs_query(conn,
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint, clock_timestamp(),"
        "       c.name, c.storage_endpoint, c.storage_access_key, c.storage_secret_key,"
        "       (c.name = b.home_cluster)"
        "  FROM buckets b JOIN replicas r ON r.bucket = b.name"
        "  JOIN clusters c ON c.name = r.cluster"
        " WHERE b.name = $1 AND c.storage_endpoint <> ''"
        "   AND (c.name = b.home_cluster OR r.state IN ('ready', 'syncing'))"
        " ORDER BY (c.name = b.home_cluster) DESC, c.name", 1, p, err, err_len);
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
            if (fado_jobs_exec(conn,
                    "DELETE FROM objects WHERE bucket = $1 AND scan < $2::bigint"
                    " AND updated_at < $3::timestamptz", 3, q) != 0)
            {
                snprintf(err, err_len, "index scan: database error");
                goto done;
            }
        }
    }
    (void) fado_jobs_exec(conn, "UPDATE buckets SET scanned_at = now() WHERE name = $1", 1, p);
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
                 " cluster=%s error=\"%s\"", job.kind, job.bucket, job.cluster, err);
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
