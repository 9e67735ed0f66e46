/*
 * fado_lifecycle: released copies and home moves (see fado_lifecycle.h).
 */

#include "fado_lifecycle.h"
#include "fado_jobs.h"
#include "fado_reconcile.h"
#include "fado_log.h"

#include <stdio.h>
#include <string.h>

static PGresult *
fado_lifecycle_query(fado_req_t *req, const char *sql, int n, const char *const *p)
{
    PGresult  *res = fado_db_exec(req->conn, NULL, sql, n, p);      /* logs a failure */

    if (res == NULL) {
        fado_req_error(req, 503, "database_unavailable", NULL, "PostgreSQL query failed");
    }
    return res;
}

static int
fado_lifecycle_exec(fado_req_t *req, const char *sql, int n, const char *const *p)
{
    PGresult  *res = fado_lifecycle_query(req, sql, n, p);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

int
fado_lifecycle_copies_path(const char *path, char *bucket, size_t bsize, char *cluster,
    size_t csize)
{
    const char  *p, *slash, *rest;

    if (strncmp(path, "/v1/buckets/", 12) != 0) {
        return 0;
    }
    p = path + 12;
    slash = strchr(p, '/');
    if (slash == NULL || slash == p || (size_t) (slash - p) >= bsize
        || strncmp(slash, "/copies", 7) != 0 || (slash[7] != '\0' && slash[7] != '/'))
    {
        return 0;
    }
    rest = slash[7] == '/' ? slash + 8 : "";
    if (strchr(rest, '/') != NULL || strlen(rest) >= csize) {
        return 0;
    }
    memcpy(bucket, p, (size_t) (slash - p));
    bucket[slash - p] = '\0';
    snprintf(cluster, csize, "%s", rest);
    return 1;
}

#define FADO_COPY_JSON_SQL \
    "SELECT json_build_object('bucket', bucket, 'cluster', cluster, 'state', state," \
    " 'home_cluster', home_cluster, 'released_at', released_at, 'reason', reason)::text" \
    "  FROM released_copies WHERE bucket = $1 AND cluster = $2"

/* 1 when the bucket exists; 0 with 404 answered; -1 on a database error. */
static int
fado_lifecycle_bucket(fado_req_t *req, const char *bucket)
{
    const char  *p[1] = { bucket };
    PGresult    *res = fado_lifecycle_query(req, "SELECT 1 FROM buckets WHERE name = $1", 1, p);
    int          found;

    if (res == NULL) {
        return -1;
    }
    found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        fado_req_error(req, 404, "not_found", "bucket", "bucket \"%s\" does not exist", bucket);
    }
    return found;
}

static void
fado_lifecycle_answer(fado_req_t *req, PGresult *res, unsigned int status)
{
    json_t  *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);

    if (j == NULL) {
        fado_req_error(req, 500, "internal", NULL, "cannot read a stored document");
        return;
    }
    json_decref(req->json);
    req->json = j;
    req->status = status;
}

/*
 * The copy's data goes only on an explicit request that repeats the
 * bucket's name, and only for a cluster that is not in the placement: a
 * copy in use, or one that may still receive replication, is never
 * deleted. The deletion itself is a job (it survives a controller crash,
 * and a large bucket takes a while).
 */
static void
fado_lifecycle_copy_delete(fado_req_t *req, const char *bucket, const char *cluster)
{
    const char  *confirm = fado_req_arg(req, "confirm");
    const char  *p[2] = { bucket, cluster };
    PGresult    *res;
    int          ok = 0;

    if (confirm == NULL || strcmp(confirm, bucket) != 0) {
        fado_req_error(req, 400, confirm == NULL ? "missing_field" : "invalid_field", "confirm",
                       "deleting the copy of bucket \"%s\" on cluster \"%s\" destroys its data:"
                       " repeat the request with ?confirm=%s", bucket, cluster, bucket);
        return;
    }
    if (fado_db_begin(req->conn, NULL) != 0) {
        fado_req_error(req, 503, "database_unavailable", NULL, "PostgreSQL query failed");
        return;
    }
    res = fado_lifecycle_query(req,
        "SELECT (SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE),"
        "       (SELECT state FROM replicas WHERE bucket = $1 AND cluster = $2),"
        "       (SELECT state FROM released_copies WHERE bucket = $1 AND cluster = $2"
        "         FOR UPDATE)", 2, p);
    if (res == NULL) {
        goto done;
    }
    if (PQgetisnull(res, 0, 0)) {
        fado_req_error(req, 404, "not_found", "bucket", "bucket \"%s\" does not exist", bucket);
    } else if (!PQgetisnull(res, 0, 1)) {
        fado_req_error(req, 409, "in_placement", "cluster",
                       "cluster \"%s\" holds a replica of bucket \"%s\" (state %s): only a copy"
                       " on a cluster that left the placement can be deleted", cluster, bucket,
                       PQgetvalue(res, 0, 1));
    } else if (PQgetisnull(res, 0, 2)) {
        fado_req_error(req, 404, "not_found", "cluster",
                       "no released copy of bucket \"%s\" is recorded on cluster \"%s\"",
                       bucket, cluster);
    } else {
        ok = 1;
    }
    PQclear(res);
    if (!ok) {
        goto done;
    }
    ok = fado_lifecycle_exec(req,
            "UPDATE released_copies SET state = 'deleting', reason = '', updated_at = now()"
            " WHERE bucket = $1 AND cluster = $2", 2, p) == 0
         && fado_lifecycle_exec(req,
            "INSERT INTO jobs (kind, bucket, cluster) VALUES ('replica', $1, $2)"
            " ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now(), attempts = 0"
            " WHERE jobs.state = 'queued'", 2, p) == 0;
done:
    if (fado_db_end(req->conn, ok, NULL) != 0) {
        fado_req_error(req, 503, "database_unavailable", NULL, "PostgreSQL query failed");
        return;
    }
    if (!ok) {
        return;
    }
    fado_log(FADO_LOG_INFO, "msg=\"released copy deletion confirmed\" bucket=%s cluster=%s",
             bucket, cluster);
    fado_jobs_wake(fado_reconciler_jobs(req->app->rec));
    res = fado_lifecycle_query(req, FADO_COPY_JSON_SQL, 2, p);
    if (res == NULL) {
        return;
    }
    if (PQntuples(res) == 1) {
        fado_lifecycle_answer(req, res, 202);
    } else {
        req->status = 202;      /* already done */
        json_decref(req->json);
        req->json = json_pack("{s:s, s:s, s:s}", "bucket", bucket, "cluster", cluster,
                              "state", "deleted");
    }
    PQclear(res);
}

void
fado_lifecycle_copies(fado_req_t *req, const char *bucket, const char *cluster)
{
    const char  *p[2] = { bucket, cluster };
    PGresult    *res;

    if (cluster[0] != '\0' && strcmp(req->method, "DELETE") == 0) {
        fado_lifecycle_copy_delete(req, bucket, cluster);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL,
                       "copies are read with GET and deleted with DELETE on their cluster");
        return;
    }
    if (fado_lifecycle_bucket(req, bucket) <= 0) {
        return;
    }
    if (cluster[0] == '\0') {
        res = fado_lifecycle_query(req,
            "SELECT json_build_object('bucket', $1::text,"
            " 'items', fado_bucket_copies_json($1))::text", 1, p);
    } else {
        res = fado_lifecycle_query(req, FADO_COPY_JSON_SQL, 2, p);
    }
    if (res == NULL) {
        return;
    }
    if (PQntuples(res) == 0) {
        fado_req_error(req, 404, "not_found", "cluster",
                       "no released copy of bucket \"%s\" is recorded on cluster \"%s\"",
                       bucket, cluster);
    } else {
        fado_lifecycle_answer(req, res, 200);
    }
    PQclear(res);
}

int
fado_lifecycle_home_move(fado_req_t *req, const char *bucket, const char *home,
    const char *field)
{
    const char  *p[2] = { bucket, home };
    PGresult    *res;
    int          rc = 0;

    res = fado_lifecycle_query(req,
        "SELECT b.home_cluster, coalesce(r.state, ''), c.healthy"
        "  FROM buckets b LEFT JOIN replicas r ON r.bucket = b.name AND r.cluster = $2"
        "  LEFT JOIN clusters c ON c.name = $2"
        " WHERE b.name = $1 FOR UPDATE OF b", 2, p);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), home) != 0) {
        const char  *state = PQgetvalue(res, 0, 1);

        if (strcmp(state, "ready") != 0) {
            fado_req_error(req, 409, "home_not_ready", field,
                           "cluster \"%s\" holds no ready replica of bucket \"%s\" (%s%s):"
                           " the home moves only to a cluster that already has its data;"
                           " add the cluster to the placement (pinned_clusters), wait for"
                           " its replica to be ready, then move the home", home, bucket,
                           state[0] ? "replica " : "no replica", state);
            rc = -1;
        } else if (PQgetvalue(res, 0, 2)[0] != 't') {
            fado_req_error(req, 409, "home_not_ready", field,
                           "cluster \"%s\" is down: the home cannot move there now", home);
            rc = -1;
        }
    }
    PQclear(res);
    return rc;
}
