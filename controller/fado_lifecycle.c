/*
 * fado_lifecycle: released copies and home moves (see fado_lifecycle.h).
 */

#include "fado_lifecycle.h"
#include "fado_db.h"
#include "fado_log.h"

#include <stdio.h>
#include <string.h>

#define FADO_COPY_JSON_SQL \
    "SELECT json_build_object('bucket', bucket, 'cluster', cluster, 'state', state," \
    " 'home_cluster', home_cluster, 'released_at', released_at, 'reason', reason)::text" \
    "  FROM released_copies WHERE bucket = $1 AND cluster = $2"

static void
fado_lifecycle_unavailable(fado_err_t *err)
{
    fado_err_set(err, FADO_ERR_UNAVAILABLE, "database_unavailable", NULL,
                 "PostgreSQL query failed");
}

/* A statement whose failure (logged by fado_db) is "unavailable". */
static PGresult *
fado_lifecycle_query(PGconn *conn, const char *sql, int n, const char *const *p,
    fado_err_t *err)
{
    PGresult  *res = fado_db_exec(conn, NULL, sql, n, p);

    if (res == NULL) {
        fado_lifecycle_unavailable(err);
    }
    return res;
}

json_t *
fado_lifecycle_copies_json(PGconn *conn, const char *bucket, const char *cluster,
    fado_err_t *err)
{
    const char  *p[2] = { bucket, cluster };
    PGresult    *res;
    json_t      *j = NULL;
    int          found;

    res = fado_lifecycle_query(conn, "SELECT 1 FROM buckets WHERE name = $1", 1, p, err);
    if (res == NULL) {
        return NULL;
    }
    found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", "bucket",
                     "bucket \"%s\" does not exist", bucket);
        return NULL;
    }
    if (cluster[0] == '\0') {
        res = fado_lifecycle_query(conn,
            "SELECT json_build_object('bucket', $1::text,"
            " 'items', fado_bucket_copies_json($1))::text", 1, p, err);
    } else {
        res = fado_lifecycle_query(conn, FADO_COPY_JSON_SQL, 2, p, err);
    }
    if (res == NULL) {
        return NULL;
    }
    if (PQntuples(res) == 0) {
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", "cluster",
                     "no released copy of bucket \"%s\" is recorded on cluster \"%s\"",
                     bucket, cluster);
    } else if ((j = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) == NULL) {
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "cannot read a stored document");
    }
    PQclear(res);
    return j;
}

/*
 * The copy's data goes only for a cluster that is not in the placement: a
 * copy in use, or one that may still receive replication, is never
 * deleted. The deletion itself is a job (it survives a controller crash,
 * and a large bucket takes a while).
 */
int
fado_lifecycle_copy_delete(PGconn *conn, const char *bucket, const char *cluster,
    fado_err_t *err)
{
    const char  *p[2] = { bucket, cluster };
    PGresult    *res;
    int          ok = 0;

    if (fado_db_begin(conn, NULL) != 0) {
        fado_lifecycle_unavailable(err);
        return -1;
    }
    res = fado_lifecycle_query(conn,
        "SELECT (SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE),"
        "       (SELECT state FROM replicas WHERE bucket = $1 AND cluster = $2),"
        "       (SELECT state FROM released_copies WHERE bucket = $1 AND cluster = $2"
        "         FOR UPDATE)", 2, p, err);
    if (res == NULL) {
        goto done;
    }
    if (PQgetisnull(res, 0, 0)) {
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", "bucket",
                     "bucket \"%s\" does not exist", bucket);
    } else if (!PQgetisnull(res, 0, 1)) {
        fado_err_set(err, FADO_ERR_CONFLICT, "in_placement", "cluster",
                     "cluster \"%s\" holds a replica of bucket \"%s\" (state %s): only a copy"
                     " on a cluster that left the placement can be deleted", cluster, bucket,
                     PQgetvalue(res, 0, 1));
    } else if (PQgetisnull(res, 0, 2)) {
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", "cluster",
                     "no released copy of bucket \"%s\" is recorded on cluster \"%s\"",
                     bucket, cluster);
    } else {
        ok = 1;
    }
    PQclear(res);
    if (!ok) {
        goto done;
    }
    ok = fado_db_run(conn, NULL,
            "UPDATE released_copies SET state = 'deleting', reason = '', updated_at = now()"
            " WHERE bucket = $1 AND cluster = $2", 2, p) == 0
         && fado_db_run(conn, NULL,
            "INSERT INTO jobs (kind, bucket, cluster) VALUES ('replica', $1, $2)"
            " ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now(), attempts = 0"
            " WHERE jobs.state = 'queued'", 2, p) == 0;
    if (!ok) {
        fado_lifecycle_unavailable(err);
    }
done:
    if (fado_db_end(conn, ok, NULL) != 0) {
        fado_lifecycle_unavailable(err);
        return -1;
    }
    if (!ok) {
        return -1;
    }
    fado_log(FADO_LOG_INFO, "msg=\"released copy deletion confirmed\" bucket=%s cluster=%s",
             bucket, cluster);
    return 0;
}

int
fado_lifecycle_home_move(PGconn *conn, const char *bucket, const char *home,
    const char *field, fado_err_t *err)
{
    const char  *p[2] = { bucket, home };
    PGresult    *res;
    int          rc = 0;

    res = fado_lifecycle_query(conn,
        "SELECT b.home_cluster, coalesce(r.state, ''), c.healthy"
        "  FROM buckets b LEFT JOIN replicas r ON r.bucket = b.name AND r.cluster = $2"
        "  LEFT JOIN clusters c ON c.name = $2"
        " WHERE b.name = $1 FOR UPDATE OF b", 2, p, err);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), home) != 0) {
        const char  *state = PQgetvalue(res, 0, 1);

        if (strcmp(state, "ready") != 0) {
            fado_err_set(err, FADO_ERR_CONFLICT, "home_not_ready", field,
                         "cluster \"%s\" holds no ready replica of bucket \"%s\" (%s%s):"
                         " the home moves only to a cluster that already has its data;"
                         " add the cluster to the placement (pinned_clusters), wait for"
                         " its replica to be ready, then move the home", home, bucket,
                         state[0] ? "replica " : "no replica", state);
            rc = -1;
        } else if (PQgetvalue(res, 0, 2)[0] != 't') {
            fado_err_set(err, FADO_ERR_CONFLICT, "home_not_ready", field,
                         "cluster \"%s\" is down: the home cannot move there now", home);
            rc = -1;
        }
    }
    PQclear(res);
    return rc;
}
