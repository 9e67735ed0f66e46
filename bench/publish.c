/*
 * Route publication benchmark: 100,000 buckets, each with ready replicas on
 * two of ten clusters (two endpoints each), published to Redis through the
 * controller's publisher: a full republish (new epoch, every record), then
 * the 1% of the buckets that changed, then one cluster's endpoints (one
 * record, whatever the buckets routed there), then the drift check of the
 * full reconcile (Redis compared with what was published).
 *
 *   publish DATABASE_URL REDIS_URL [buckets]
 *
 * The database must be empty (the benchmark creates the schema). Prints
 * CSV: pass, buckets, routes_written, ms.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fado_db.h"
#include "fado_log.h"
#include "fado_publisher.h"

#include <jansson.h>

static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
run_sql(PGconn *conn, const char *sql, const char *arg)
{
    char        err[512];
    const char *p[1] = { arg };
    PGresult   *res = fado_db_query(conn, sql, arg ? 1 : 0, arg ? p : NULL, err, sizeof(err), NULL);

    if (res == NULL) {
        fprintf(stderr, "publish bench: %s\n", err);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* A JSON array of the names a query returns. */
static json_t *
names(PGconn *conn, const char *sql)
{
    char       err[512];
    PGresult  *res = fado_db_query(conn, sql, 0, NULL, err, sizeof(err), NULL);
    json_t    *a = json_array();

    if (res == NULL || a == NULL) {
        fprintf(stderr, "publish bench: %s\n", res ? "out of memory" : err);
        return NULL;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        json_array_append_new(a, json_string(PQgetvalue(res, i, 0)));
    }
    PQclear(res);
    return a;
}

/* kind: full, sync (of the names the two queries give) or drift. */
static int
pass(fado_publisher_t *pub, PGconn *conn, const char *name, const char *n,
    const char *bucket_sql, const char *cluster_sql)
{
    fado_publish_stats_t  st;
    char                  err[512];
    json_t               *b = NULL, *c = NULL;
    double                t0 = now_ms(), ms;
    size_t                drifted = 0;
    int                   rc;

    memset(&st, 0, sizeof(st));
    if (strcmp(name, "full") == 0) {
        rc = fado_publisher_republish(pub, conn, &st, err, sizeof(err));
    } else if (strcmp(name, "drift-check") == 0) {
        rc = fado_publisher_drift(pub, conn, &drifted, err, sizeof(err));
        st.set = drifted;
    } else {
        b = bucket_sql ? names(conn, bucket_sql) : NULL;
        c = cluster_sql ? names(conn, cluster_sql) : NULL;
        rc = fado_publisher_sync(pub, conn, b, c, NULL, 0, NULL, 0, &st, err, sizeof(err));
    }
    json_decref(b);
    json_decref(c);
    if (rc != 0) {
        fprintf(stderr, "publish bench: %s\n", err);
        return -1;
    }
    ms = now_ms() - t0;
    printf("%s,%s,%zu,%.1f\n", name, n, st.set + st.deleted, ms);
    return 0;
}

int
main(int argc, char **argv)
{
    fado_db_t         *db;
    fado_publisher_t  *pub;
    PGconn            *conn;
    char               err[512];
    const char        *n = argc > 3 ? argv[3] : "100000";

    if (argc < 3) {
        fprintf(stderr, "usage: publish DATABASE_URL REDIS_URL [buckets]\n");
        return 2;
    }
    fado_log_level = FADO_LOG_WARN;
    db = fado_db_open(argv[1], 1);
    conn = db ? fado_db_acquire(db) : NULL;
    if (conn == NULL || fado_db_migrate(conn, err, sizeof(err)) != 0) {
        fprintf(stderr, "publish bench: database: %s\n", conn ? err : "unreachable");
        return 1;
    }
    pub = fado_publisher_new(argv[2], "benchpub:", err, sizeof(err));
    if (pub == NULL) {
        fprintf(stderr, "publish bench: %s\n", err);
        return 1;
    }
    if (run_sql(conn, "INSERT INTO zones (name) VALUES ('z1') ON CONFLICT DO NOTHING", NULL)
        || run_sql(conn, "INSERT INTO clusters (name, zone, storage_endpoint)"
                   " SELECT 'c' || i, 'z1', 'http://127.0.0.1:1' FROM generate_series(0, 9) i"
                   " ON CONFLICT DO NOTHING", NULL)
        || run_sql(conn, "INSERT INTO endpoints (cluster, address)"
                   " SELECT 'c' || i, '127.0.0.1:' || (20000 + i * 2 + k)"
                   " FROM generate_series(0, 9) i, generate_series(0, 1) k"
                   " ON CONFLICT DO NOTHING", NULL)
        || run_sql(conn, "INSERT INTO buckets (name, home_cluster)"
                   " SELECT 'bucket-' || lpad(i::text, 7, '0'), 'c' || (i % 10)"
                   " FROM generate_series(1, $1::int) i ON CONFLICT DO NOTHING", n)
        || run_sql(conn, "INSERT INTO replicas (bucket, cluster, state)"
                   " SELECT name, 'c' || ((substr(name, 8)::int + k) % 10), 'ready'"
                   " FROM buckets, generate_series(0, 1) k ON CONFLICT DO NOTHING", NULL)
        /* statistics as autovacuum would have them on a running platform */
        || run_sql(conn, "ANALYZE", NULL))
    {
        return 1;
    }
    printf("pass,buckets,records_written,ms\n");
    if (pass(pub, conn, "full", n, NULL, NULL) != 0) {
        return 1;
    }
    if (run_sql(conn, "UPDATE buckets SET policy = 'lc' WHERE substr(name, 8)::int % 100 = 0",
                NULL) != 0
        || pass(pub, conn, "one-percent-changed", n,
                "SELECT name FROM buckets WHERE substr(name, 8)::int % 100 = 0", NULL) != 0
        || run_sql(conn, "UPDATE endpoints SET weight = 7 WHERE cluster = 'c3'", NULL) != 0
        || pass(pub, conn, "one-cluster-endpoints", n, NULL, "SELECT 'c3'") != 0
        || pass(pub, conn, "drift-check", n, NULL, NULL) != 0)
    {
        return 1;
    }
    fado_publisher_free(pub);
    fado_db_release(db, conn);
    fado_db_close(db);
    return 0;
}
