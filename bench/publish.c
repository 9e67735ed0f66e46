/*
 * Route publication benchmark: 100,000 buckets, each with ready replicas on
 * two of ten clusters (two endpoints each), published to Redis through the
 * controller's publisher: the first pass writes everything (a full
 * republish with a new epoch), the second after 1% of the buckets changed.
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

static int
pass(fado_publisher_t *pub, PGconn *conn, const char *name, const char *n)
{
    fado_publish_stats_t  st;
    char                  err[512];
    double                t0 = now_ms(), ms;

    if (fado_publisher_run(pub, conn, &st, err, sizeof(err)) != 0) {
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
    printf("pass,buckets,routes_written,ms\n");
    if (pass(pub, conn, "full", n) != 0) {
        return 1;
    }
    if (run_sql(conn, "UPDATE buckets SET policy = 'lc' WHERE substr(name, 8)::int % 100 = 0",
                NULL) != 0
        || pass(pub, conn, "one-percent-changed", n) != 0
        || pass(pub, conn, "unchanged", n) != 0)
    {
        return 1;
    }
    fado_publisher_free(pub);
    fado_db_release(db, conn);
    fado_db_close(db);
    return 0;
}
