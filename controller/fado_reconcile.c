/*
 * fado_reconcile: health, placement, replicas, publication.
 */

#include "fado_reconcile.h"
#include "fado_log.h"
#include "fado_placement.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FADO_MAX_CLUSTERS  256

struct fado_reconciler_s {
    fado_db_t               *db;
    fado_publisher_t        *pub;
    fado_reconcile_config_t  conf;
    fado_jobs_t             *jobs;
    pthread_t                thread;
    pthread_mutex_t          lock;
    pthread_cond_t           cond;
    int                      woken;
    int                      stopping;
    int                      redis_ok;
    unsigned long            passes;
    struct timespec          last_health;
    int                      failures[FADO_MAX_CLUSTERS];
    char                     names[FADO_MAX_CLUSTERS][64];
};

static long
fado_ms_since(const struct timespec *t)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static PGresult *
fado_rec_query(PGconn *conn, const char *sql, int n, const char *const *params)
{
    char       err[512];
    PGresult  *res = fado_db_query(conn, sql, n, params, err, sizeof(err), NULL);

    if (res == NULL) {
        fado_log(FADO_LOG_WARN, "msg=\"reconcile query failed\" error=\"%s\"", err);
    }
    return res;
}

static void
fado_rec_exec(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult  *res = fado_rec_query(conn, sql, n, params);

    if (res != NULL) {
        PQclear(res);
    }
}

/* ------------------------------------------------------------ health */

static size_t
fado_discard(void *ptr, size_t size, size_t n, void *ud)
{
    (void) ptr;
    (void) ud;
    return size * n;
}

/* 1 if url answers; need_ok: only a 2xx counts. */
static int
fado_probe(const char *url, int need_ok)
{
    CURL  *c = curl_easy_init();
    long   code = 0;
    int    ok;

    if (c == NULL) {
        return 0;
    }
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fado_discard) != CURLE_OK)
    {
        curl_easy_cleanup(c);
        return 0;
    }
    ok = curl_easy_perform(c) == CURLE_OK
         && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK
         && (!need_ok || (code >= 200 && code < 300));
    curl_easy_cleanup(c);
    return ok;
}

/*
 * A cluster is up when its object store reports live and, if it has function
 * endpoints, at least one of them answers HTTP. N failures in a row mark it
 * down; one success marks it up again.
 */
static void
fado_reconcile_health(fado_reconciler_t *rec, PGconn *conn)
{
    PGresult  *res;

    res = fado_rec_query(conn,
        "SELECT c.name, c.storage_endpoint, c.healthy,"
        "       array_to_string(array_agg(e.address ORDER BY e.address)"
        "                       FILTER (WHERE e.address IS NOT NULL), ' ')"
        "  FROM clusters c LEFT JOIN endpoints e ON e.cluster = c.name"
        " GROUP BY c.name, c.storage_endpoint, c.healthy ORDER BY c.name",
        0, NULL);
    if (res == NULL) {
        return;
    }
    for (int i = 0; i < PQntuples(res) && i < FADO_MAX_CLUSTERS; i++) {
        const char  *name = PQgetvalue(res, i, 0);
        const char  *storage = PQgetvalue(res, i, 1);
        int          was = PQgetvalue(res, i, 2)[0] == 't';
        char         eps[4096], url[600], *save = NULL, *tok;
        int          up = 1, any_ep = 0, ep_up = 0, slot = -1;

        if (storage[0]) {
            snprintf(url, sizeof(url), "%s/minio/health/live", storage);
            up = fado_probe(url, 1);
        }
        snprintf(eps, sizeof(eps), "%s", PQgetvalue(res, i, 3));
        for (tok = strtok_r(eps, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            any_ep = 1;
            snprintf(url, sizeof(url), "http://%s%s", tok, rec->conf.health_path);
            if (fado_probe(url, 0)) {
                ep_up = 1;
                break;
            }
        }
        up = up && (!any_ep || ep_up);

        for (int k = 0; k < FADO_MAX_CLUSTERS; k++) {
            if (strcmp(rec->names[k], name) == 0 || (slot < 0 && rec->names[k][0] == '\0')) {
                slot = k;
                if (strcmp(rec->names[k], name) == 0) {
                    break;
                }
            }
        }
        if (slot < 0) {
            continue;
        }
        if (strcmp(rec->names[slot], name) != 0) {
            snprintf(rec->names[slot], sizeof(rec->names[slot]), "%s", name);
            rec->failures[slot] = 0;
        }
        rec->failures[slot] = up ? 0 : rec->failures[slot] + 1;

        if (was && rec->failures[slot] >= rec->conf.health_failures) {
            const char  *p[1] = { name };
            fado_rec_exec(conn, "UPDATE clusters SET healthy = false WHERE name = $1", 1, p);
            fado_log(FADO_LOG_WARN, "msg=\"cluster down\" cluster=%s failures=%d",
                     name, rec->failures[slot]);
        } else if (!was && up) {
            const char  *p[1] = { name };
            fado_rec_exec(conn, "UPDATE clusters SET healthy = true WHERE name = $1", 1, p);
            fado_log(FADO_LOG_INFO, "msg=\"cluster up\" cluster=%s", name);
        }
    }
    PQclear(res);
}

/* ------------------------------------------------------------ placement */

/* Splits a PostgreSQL text[] output ("{a,b}") of simple names in place. */
static size_t
fado_pg_array(char *text, const char **items, size_t max)
{
    size_t  n = 0;
    char   *save = NULL, *tok;

    if (text[0] != '{') {
        return 0;
    }
    text[strcspn(text, "}")] = '\0';
    for (tok = strtok_r(text + 1, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save)) {
        if (*tok == '"') {
            tok++;
            tok[strcspn(tok, "\"")] = '\0';
        }
        items[n++] = tok;
    }
    return n;
}

static void
fado_reconcile_placement(PGconn *conn)
{
    PGresult                  *cl, *bk;
    fado_placement_cluster_t   clusters[FADO_MAX_CLUSTERS];
    int                        nc;

    cl = fado_rec_query(conn,
        "SELECT name, zone, healthy, storage_endpoint <> '' FROM clusters ORDER BY name",
        0, NULL);
    if (cl == NULL) {
        return;
    }
    nc = PQntuples(cl) < FADO_MAX_CLUSTERS ? PQntuples(cl) : FADO_MAX_CLUSTERS;
    for (int i = 0; i < nc; i++) {
        clusters[i].name = PQgetvalue(cl, i, 0);
        clusters[i].zone = PQgetvalue(cl, i, 1);
        clusters[i].healthy = PQgetvalue(cl, i, 2)[0] == 't';
        clusters[i].has_storage = PQgetvalue(cl, i, 3)[0] == 't';
    }

    bk = fado_rec_query(conn,
        "SELECT name, home_cluster, allowed_zones, replicas, pinned_clusters,"
        "       placement_ok, placement_reason FROM buckets", 0, NULL);
    if (bk == NULL) {
        PQclear(cl);
        return;
    }
    for (int i = 0; i < PQntuples(bk); i++) {
        char                       zones_buf[2048], pins_buf[2048], list[4096];
        const char                *zones[64], *pins[64];
        fado_placement_request_t   req;
        fado_placement_result_t    res;
        size_t                     len = 1;

        snprintf(zones_buf, sizeof(zones_buf), "%s", PQgetvalue(bk, i, 2));
        snprintf(pins_buf, sizeof(pins_buf), "%s", PQgetvalue(bk, i, 4));
        req.bucket = PQgetvalue(bk, i, 0);
        req.home = PQgetvalue(bk, i, 1);
        req.allowed_zones = zones;
        req.n_allowed_zones = fado_pg_array(zones_buf, zones, 64);
        req.pinned = pins;
        req.n_pinned = fado_pg_array(pins_buf, pins, 64);
        req.replicas = atoi(PQgetvalue(bk, i, 3));
        fado_placement_compute(&req, clusters, (size_t) nc, &res);

        list[0] = '{';
        list[1] = '\0';
        for (size_t k = 0; k < res.n && len < sizeof(list) - 70; k++) {
            len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%s",
                                     k ? "," : "", clusters[res.chosen[k]].name);
        }
        snprintf(list + len, sizeof(list) - len, "}");

        {
            const char  *p[3] = { req.bucket, res.satisfiable ? "t" : "f",
                                  res.satisfiable ? "" : res.reason };
            /* New clusters become pending replicas; dropped ones leave the
             * routes (not ready any more) and are removed by the next step. */
            fado_rec_exec(conn,
                "UPDATE buckets SET placement_ok = $2::boolean, placement_reason = $3"
                " WHERE name = $1 AND (placement_ok IS DISTINCT FROM $2::boolean"
                "                      OR placement_reason <> $3)", 3, p);
            const char  *q[2] = { req.bucket, list };

            fado_rec_exec(conn,
                "INSERT INTO replicas (bucket, cluster)"
                " SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", 2, q);
            fado_rec_exec(conn,
                "UPDATE replicas SET state = 'removing', reason = 'left the placement',"
                " updated_at = now() WHERE bucket = $1 AND state <> 'removing'"
                " AND NOT (cluster = ANY ($2::text[]))", 2, q);
            if (!res.satisfiable && (PQgetvalue(bk, i, 5)[0] != 'f'
                                     || strcmp(PQgetvalue(bk, i, 6), res.reason) != 0))
            {
                fado_log(FADO_LOG_WARN, "msg=\"placement unsatisfiable\" bucket=%s reason=\"%s\"",
                         req.bucket, res.reason);
            }
        }
    }
    PQclear(bk);
    PQclear(cl);
}

/* ------------------------------------------------------------ loop */

static void
fado_reconcile_pass(fado_reconciler_t *rec)
{
    PGconn               *conn = fado_db_acquire(rec->db);
    fado_publish_stats_t  stats;
    char                  err[512];
    int                   ok;

    if (conn == NULL) {
        return;     /* logged by the pool; the routes in Redis keep working */
    }
    if (fado_ms_since(&rec->last_health) >= rec->conf.health_interval_ms) {
        fado_reconcile_health(rec, conn);
        clock_gettime(CLOCK_MONOTONIC, &rec->last_health);
    }
    fado_reconcile_placement(conn);
    /* Replication and indexing run as jobs, on their own threads: a slow
     * MinIO never delays health, placement or publication. */
    if (fado_jobs_schedule(conn, &rec->conf.jobs) == 0) {
        fado_jobs_wake(rec->jobs);
    }
    ok = fado_publisher_run(rec->pub, conn, &stats, err, sizeof(err)) == 0;
    if (!ok) {
        fado_log(FADO_LOG_WARN, "msg=\"publication failed, will retry\" error=\"%s\"", err);
    }
    fado_db_release(rec->db, conn);

    pthread_mutex_lock(&rec->lock);
    rec->redis_ok = ok;
    rec->passes++;
    pthread_mutex_unlock(&rec->lock);
}

static void *
fado_reconcile_main(void *arg)
{
    fado_reconciler_t  *rec = arg;

    for (;;) {
        struct timespec  until;
        int              wait_ms;

        fado_reconcile_pass(rec);

        pthread_mutex_lock(&rec->lock);
        /* Retry soon while Redis is unreachable, else the configured pace. */
        wait_ms = rec->redis_ok ? rec->conf.interval_ms
                                : (rec->conf.interval_ms < 500 ? rec->conf.interval_ms : 500);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!rec->woken && !rec->stopping) {
            if (pthread_cond_timedwait(&rec->cond, &rec->lock, &until) == ETIMEDOUT) {
                break;
            }
        }
        rec->woken = 0;
        if (rec->stopping) {
            pthread_mutex_unlock(&rec->lock);
            return NULL;
        }
        pthread_mutex_unlock(&rec->lock);
    }
}

/* A worker changed a replica's state: publish soon. */
static void
fado_reconciler_changed(void *ud)
{
    fado_reconciler_wake(ud);
}

fado_reconciler_t *
fado_reconciler_start(fado_db_t *db, fado_publisher_t *pub,
    const fado_reconcile_config_t *conf)
{
    fado_reconciler_t  *rec = calloc(1, sizeof(*rec));

    if (rec == NULL) {
        return NULL;
    }
    rec->db = db;
    rec->pub = pub;
    rec->conf = *conf;
    /* The first pass probes health at once. */
    rec->last_health.tv_sec = -1000000;
    if (pthread_mutex_init(&rec->lock, NULL) != 0) {
        free(rec);
        return NULL;
    }
    if (pthread_cond_init(&rec->cond, NULL) != 0) {
        pthread_mutex_destroy(&rec->lock);
        free(rec);
        return NULL;
    }
    rec->jobs = fado_jobs_start(db, &rec->conf.jobs, fado_reconciler_changed, rec);
    if (rec->jobs == NULL
        || pthread_create(&rec->thread, NULL, fado_reconcile_main, rec) != 0)
    {
        fado_jobs_stop(rec->jobs);
        pthread_cond_destroy(&rec->cond);
        pthread_mutex_destroy(&rec->lock);
        free(rec);
        return NULL;
    }
    return rec;
}

void
fado_reconciler_wake(fado_reconciler_t *rec)
{
    pthread_mutex_lock(&rec->lock);
    rec->woken = 1;
    pthread_cond_signal(&rec->cond);
    pthread_mutex_unlock(&rec->lock);
}

int
fado_reconciler_redis_ok(fado_reconciler_t *rec)
{
    int  ok;

    pthread_mutex_lock(&rec->lock);
    ok = rec->redis_ok;
    pthread_mutex_unlock(&rec->lock);
    return ok;
}

fado_jobs_t *
fado_reconciler_jobs(fado_reconciler_t *rec)
{
    return rec->jobs;
}

unsigned long
fado_reconciler_passes(fado_reconciler_t *rec)
{
    unsigned long  n;

    pthread_mutex_lock(&rec->lock);
    n = rec->passes;
    pthread_mutex_unlock(&rec->lock);
    return n;
}

void
fado_reconciler_stop(fado_reconciler_t *rec)
{
    if (rec == NULL) {
        return;
    }
    pthread_mutex_lock(&rec->lock);
    rec->stopping = 1;
    pthread_cond_signal(&rec->cond);
    pthread_mutex_unlock(&rec->lock);
    pthread_join(rec->thread, NULL);
    fado_jobs_stop(rec->jobs);
    pthread_mutex_destroy(&rec->lock);
    pthread_cond_destroy(&rec->cond);
    free(rec);
}
