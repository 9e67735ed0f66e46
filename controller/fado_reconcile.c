/*
 * fado_reconcile: leader election, change batches, placement, health,
 * full reconcile.
 */

#include "fado_reconcile.h"
#include "fado_clock.h"
#include "fado_log.h"
#include "fado_placement.h"
#include "fado_resolve.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FADO_MAX_CLUSTERS    256
#define FADO_LEADER_LOCK     "7283003"   /* advisory lock: the one leader */
#define FADO_BATCH           "10000"     /* changed buckets per batch */
/*
 * A change that arrives during a step of the full reconcile waits for the
 * step: steps are sized to take about FADO_FULL_STEP_MS, between
 * FADO_FULL_CHUNK_MIN and FADO_FULL_CHUNK_MAX buckets (a loaded machine
 * gets smaller steps, not slower changes).
 */
#define FADO_FULL_STEP_MS    25
#define FADO_FULL_CHUNK_MIN  50
#define FADO_FULL_CHUNK_MAX  5000
#define FADO_ELECT_MS        1000        /* followers try the lock this often */
#define FADO_RETRY_MS        500         /* after a failed publication */
#define FADO_TICK_MS         1000        /* due replica checks and scans */

/* Where a full reconcile is. */
typedef enum {
    FADO_FULL_IDLE = 0,
    FADO_FULL_BUCKETS,      /* walking the buckets, chunk by chunk */
    FADO_FULL_STALE,        /* records of buckets that are gone */
    FADO_FULL_DRIFT         /* Redis against what was published, in steps */
} fado_full_phase_e;

struct fado_reconciler_s {
    fado_db_t               *db;
    fado_publisher_t        *pub;
    fado_reconcile_config_t  conf;
    fado_jobs_t             *jobs;
    pthread_t                leader_thread;
    pthread_t                health_thread;
    int                      wake_pipe[2];
    PGconn                  *conn;           /* the leader's own */
    atomic_int               leading;
    atomic_int               stopping;
    atomic_int               redis_ok;
    atomic_ulong             passes;
    char                     full_cursor[128];  /* last bucket of the walk */
    fado_full_phase_e        full_phase;
    long long                full_started;      /* ms */
    unsigned long            full_buckets;
    int                      full_chunk;        /* buckets in the next step */
    fado_drift_cursor_t      full_drift;
    size_t                   full_drifted;
    long long                next_full;
    long long                next_tick;
    pthread_mutex_t          health_lock;
    pthread_cond_t           health_cond;
    int                      failures[FADO_MAX_CLUSTERS];
    char                     names[FADO_MAX_CLUSTERS][64];
};

/* A JSON document as a query parameter; NULL when out of memory. */
static char *
fado_rec_json(json_t *j)
{
    return j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
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

/* The failure counter of a cluster, by name (slots reused by name). */
static int *
fado_health_counter(fado_reconciler_t *rec, const char *name)
{
    int  slot = -1;

    for (int k = 0; k < FADO_MAX_CLUSTERS; k++) {
        if (strcmp(rec->names[k], name) == 0) {
            return &rec->failures[k];
        }
        if (slot < 0 && rec->names[k][0] == '\0') {
            slot = k;
        }
    }
    if (slot < 0) {
        return NULL;
    }
    snprintf(rec->names[slot], sizeof(rec->names[slot]), "%s", name);
    rec->failures[slot] = 0;
    return &rec->failures[slot];
}

/*
 * A cluster is up when its object store reports live and, if it has function
 * endpoints, at least one of them answers HTTP. N failures in a row mark it
 * down (its record says so: the gateways stop routing there at once); one
 * success marks it up. Only after the grace period down does it stop being
 * eligible for placement, so a transient failure never moves data.
 */
static void
fado_health_round(fado_reconciler_t *rec, PGconn *conn)
{
    PGresult  *res;
    char       grace[16];
    const char *gp[1] = { grace };

    res = fado_db_exec(conn, NULL,
        "SELECT c.name, c.storage_endpoint, c.healthy FROM clusters c ORDER BY c.name",
        0, NULL);
    if (res == NULL) {
        return;
    }
    for (int i = 0; i < PQntuples(res) && !atomic_load(&rec->stopping); i++) {
        const char  *name = PQgetvalue(res, i, 0);
        const char  *storage = PQgetvalue(res, i, 1);
        int          was = PQgetvalue(res, i, 2)[0] == 't';
        char         url[600];
        int          up = 1, ep_up, *fails;
        const char  *p[1] = { name };

        if (storage[0]) {
            snprintf(url, sizeof(url), "%s/minio/health/live", storage);
            up = fado_probe(url, 1);
        }
        /* by scheme, name and prefix (-1: no endpoint published) */
        ep_up = fado_resolve_probe_cluster(conn, name, rec->conf.health_path);
        up = up && ep_up != 0;
        fails = fado_health_counter(rec, name);
        if (fails == NULL) {
            continue;
        }
        *fails = up ? 0 : *fails + 1;

        if (!atomic_load(&rec->leading)) {
            break;          /* lost the lead while probing: write nothing */
        }
        if (was && *fails >= rec->conf.health_failures) {
            if (fado_db_run(conn, NULL, "UPDATE clusters SET healthy = false,"
                            " unhealthy_since = now() WHERE name = $1 AND healthy",
                            1, p) == 0)
            {
                fado_log(FADO_LOG_WARN, "msg=\"cluster down\" cluster=%s failures=%d",
                         name, *fails);
            }
        } else if (!was && up) {
            if (fado_db_run(conn, NULL, "UPDATE clusters SET healthy = true,"
                            " unhealthy_since = NULL, eligible = true"
                            " WHERE name = $1 AND NOT healthy", 1, p) == 0)
            {
                fado_log(FADO_LOG_INFO, "msg=\"cluster up\" cluster=%s", name);
            }
        }
    }
    PQclear(res);

    if (!atomic_load(&rec->leading)) {
        return;
    }
    snprintf(grace, sizeof(grace), "%d", rec->conf.grace_s);
    res = fado_db_exec(conn, NULL,
        "UPDATE clusters SET eligible = false"
        " WHERE NOT healthy AND eligible"
        "   AND unhealthy_since < now() - make_interval(secs => $1::int)"
        " RETURNING name", 1, gp);
    if (res != NULL) {
        for (int i = 0; i < PQntuples(res); i++) {
            fado_log(FADO_LOG_WARN, "msg=\"cluster down past its grace period, its"
                     " replicas may be replaced\" cluster=%s grace_s=%d",
                     PQgetvalue(res, i, 0), rec->conf.grace_s);
        }
        PQclear(res);
    }
}

static void *
fado_health_main(void *arg)
{
    fado_reconciler_t  *rec = arg;

    pthread_mutex_lock(&rec->health_lock);
    while (!atomic_load(&rec->stopping)) {
        struct timespec  until;
        int              ms = rec->conf.health_interval_ms;

        if (atomic_load(&rec->leading)) {
            PGconn  *conn;

            pthread_mutex_unlock(&rec->health_lock);
            conn = fado_db_acquire(rec->db);
            if (conn != NULL) {
                fado_health_round(rec, conn);
                fado_db_release(rec->db, conn);
            }
            pthread_mutex_lock(&rec->health_lock);
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (long) (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!atomic_load(&rec->stopping)
               && pthread_cond_timedwait(&rec->health_cond, &rec->health_lock, &until) == 0)
        {
            /* woken only to stop */
        }
    }
    pthread_mutex_unlock(&rec->health_lock);
    return NULL;
}

/* ------------------------------------------------------------ placement */

typedef struct {
    fado_placement_cluster_t  c[FADO_MAX_CLUSTERS];
    int                       up[FADO_MAX_CLUSTERS];    /* healthy now */
    size_t                    n;
    int                       any_down;   /* some eligible cluster is not up */
    PGresult                 *res;
    char                     *zone_text;  /* every cluster's zones, split */
    const char              **zone_list;
} fado_cluster_set_t;

/*
 * A cluster in several zones (sql/005): its zone list, split once per
 * batch into one buffer (the result's own text stays untouched).
 */
static int
fado_clusters_zones(fado_cluster_set_t *cs)
{
    size_t  total = 0, nz = 0, off = 0, k = 0;

    for (size_t i = 0; i < cs->n; i++) {
        total += (size_t) PQgetlength(cs->res, (int) i, 5) + 1;
        nz += (size_t) atoi(PQgetvalue(cs->res, (int) i, 6));
    }
    cs->zone_text = malloc(total + 1);
    cs->zone_list = calloc(nz + 1, sizeof(*cs->zone_list));
    if (cs->zone_text == NULL || cs->zone_list == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"out of memory for the cluster zones\"");
        return -1;
    }
    for (size_t i = 0; i < cs->n; i++) {
        char   *text = cs->zone_text + off, *save = NULL, *tok;
        size_t  len = (size_t) PQgetlength(cs->res, (int) i, 5);

        memcpy(text, PQgetvalue(cs->res, (int) i, 5), len + 1);
        off += len + 1;
        cs->c[i].zones = cs->zone_list + k;
        cs->c[i].n_zones = 0;
        for (tok = strtok_r(text, " ", &save); tok && k < nz; tok = strtok_r(NULL, " ", &save)) {
            cs->zone_list[k++] = tok;
            cs->c[i].n_zones++;
        }
    }
    return 0;
}

#define FADO_PLACE_CLUSTERS_SQL \
    "SELECT name, zone, eligible, storage_endpoint <> '', healthy," \
    "       array_to_string(zones, ' '), cardinality(zones) FROM clusters" \
    " ORDER BY name COLLATE \"C\""

/* The cluster set from FADO_PLACE_CLUSTERS_SQL's rows; cs owns res from here. */
static int
fado_clusters_load(PGresult *res, fado_cluster_set_t *cs)
{
    cs->res = res;
    cs->n = (size_t) PQntuples(cs->res);
    if (cs->n > FADO_MAX_CLUSTERS) {
        fado_log(FADO_LOG_WARN, "msg=\"too many clusters, placing on the first\" max=%d",
                 FADO_MAX_CLUSTERS);
        cs->n = FADO_MAX_CLUSTERS;
    }
    cs->any_down = 0;
    for (size_t i = 0; i < cs->n; i++) {
        cs->c[i].name = PQgetvalue(cs->res, (int) i, 0);
        cs->c[i].zone = PQgetvalue(cs->res, (int) i, 1);
        cs->c[i].healthy = PQgetvalue(cs->res, (int) i, 2)[0] == 't';
        cs->c[i].has_storage = PQgetvalue(cs->res, (int) i, 3)[0] == 't';
        cs->up[i] = PQgetvalue(cs->res, (int) i, 4)[0] == 't';
        cs->any_down |= cs->c[i].healthy && !cs->up[i];
    }
    return fado_clusters_zones(cs);
}

/*
 * The strings of a JSON array PostgreSQL built (to_jsonb of a text[]), at
 * most max of them; they live as long as arr. NULL arr (unreadable): none.
 */
static size_t
fado_json_names(const json_t *arr, const char **items, size_t max)
{
    size_t   n = 0, i;
    json_t  *v;

    json_array_foreach(arr, i, v) {
        if (n < max && json_is_string(v)) {
            items[n++] = json_string_value(v);
        }
    }
    return n;
}

typedef struct {
    const char  *cluster;
    const char  *state;
} fado_replica_row_t;

/* Whether a cluster may hold the bucket by policy (health aside). */
static int
fado_policy_allows(const fado_placement_request_t *req, const fado_cluster_set_t *cs,
    const char *cluster)
{
    for (size_t i = 0; i < cs->n; i++) {
        if (strcmp(cs->c[i].name, cluster) != 0) {
            continue;
        }
        return fado_placement_zones_allowed(req->allowed_zones, req->n_allowed_zones,
                                            &cs->c[i]);
    }
    return 0;
}

/*
 * One bucket: the placement, and what it changes in its replica rows.
 * Make before break: a replica that left the placement goes only once the
 * placement's replicas are ready in the number asked for, or, when fewer
 * can be had, once every one that can be had is ready and the policy itself
 * excludes it. A replica that serves nothing (not ready) goes at once.
 */
static int
fado_place_one(const fado_cluster_set_t *cs, PGresult *bk, int row,
    const fado_replica_row_t *reps, size_t nreps, json_t *upd, json_t *ins, json_t *leave)
{
    json_t                    *zones_json, *pins_json;
    const char                *zones[64], *pins[64];
    fado_placement_request_t   req;
    fado_placement_result_t    res;
    size_t                     ready_in = 0, want;
    int                        rc = 0;

    /* The lists arrive as JSON: no buffer to cut them short, no splitting
     * by hand. */
    zones_json = json_loads(PQgetvalue(bk, row, 2), 0, NULL);
    pins_json = json_loads(PQgetvalue(bk, row, 4), 0, NULL);
    if (zones_json == NULL || pins_json == NULL) {
        json_decref(zones_json);
        json_decref(pins_json);
        fado_log(FADO_LOG_ERROR, "msg=\"unreadable placement lists\" bucket=%s",
                 FADO_LOG_Q(PQgetvalue(bk, row, 0)));
        return -1;
    }
    req.bucket = PQgetvalue(bk, row, 0);
    req.home = PQgetvalue(bk, row, 1);
    req.allowed_zones = zones;
    req.n_allowed_zones = fado_json_names(zones_json, zones, 64);
    req.pinned = pins;
    req.n_pinned = fado_json_names(pins_json, pins, 64);
    req.replicas = atoi(PQgetvalue(bk, row, 3));
    req.cap = PQgetvalue(bk, row, 7)[0] == 't';
    if (cs->any_down) {
        /* The grace period keeps the replicas a down cluster holds; it does
         * not bring it new ones. */
        fado_placement_cluster_t  c[FADO_MAX_CLUSTERS];

        for (size_t i = 0; i < cs->n; i++) {
            c[i] = cs->c[i];
            if (c[i].healthy && !cs->up[i]) {
                c[i].healthy = 0;
                for (size_t r = 0; r < nreps; r++) {
                    if (strcmp(reps[r].cluster, c[i].name) == 0) {
                        c[i].healthy = 1;
                        break;
                    }
                }
            }
        }
        fado_placement_compute(&req, c, cs->n, &res);
    } else {
        fado_placement_compute(&req, cs->c, cs->n, &res);
    }
    want = req.replicas < 1 ? 1 : (size_t) req.replicas;

    /* A capped FaDO bucket records how many it got (NULL: not capped). */
    if ((PQgetisnull(bk, row, 5) || (PQgetvalue(bk, row, 5)[0] == 't') != res.satisfiable)
        || strcmp(PQgetvalue(bk, row, 6), res.satisfiable ? "" : res.reason) != 0
        || PQgetisnull(bk, row, 8) == res.capped
        || (res.capped && (size_t) atoi(PQgetvalue(bk, row, 8)) != res.n))
    {
        rc |= json_array_append_new(upd, json_pack("{s:s, s:b, s:s, s:o}", "name", req.bucket,
                                    "ok", res.satisfiable,
                                    "reason", res.satisfiable ? "" : res.reason,
                                    "effective", res.capped ? json_integer((json_int_t) res.n)
                                                            : json_null()));
        if (!res.satisfiable) {
            fado_log(FADO_LOG_WARN, "msg=\"placement unsatisfiable\" bucket=%s reason=%s",
                     req.bucket, FADO_LOG_Q(res.reason));
        }
    }

    for (size_t k = 0; k < res.n; k++) {
        const char  *name = cs->c[res.chosen[k]].name;
        int          have = 0;

        for (size_t r = 0; r < nreps; r++) {
            if (strcmp(reps[r].cluster, name) == 0) {
                have = 1;
                ready_in += strcmp(reps[r].state, "ready") == 0;
                break;
            }
        }
        if (!have) {
            rc |= json_array_append_new(ins, json_pack("{s:s, s:s}", "bucket", req.bucket,
                                                       "cluster", name));
        }
    }

    for (size_t r = 0; r < nreps; r++) {
        int          chosen = 0, remove;
        const char  *reason;

        for (size_t k = 0; k < res.n && !chosen; k++) {
            chosen = strcmp(cs->c[res.chosen[k]].name, reps[r].cluster) == 0;
        }
        if (chosen || strcmp(reps[r].state, "removing") == 0) {
            continue;
        }
        remove = strcmp(reps[r].state, "ready") != 0
                 || ready_in >= want
                 || (ready_in >= res.n && !fado_policy_allows(&req, cs, reps[r].cluster));
        reason = remove ? "left the placement"
                        : "left the placement; kept until its replacement is ready";
        rc |= json_array_append_new(leave, json_pack("{s:s, s:s, s:b, s:s}",
                                    "bucket", req.bucket, "cluster", reps[r].cluster,
                                    "remove", remove, "reason", reason));
    }
    json_decref(zones_json);
    json_decref(pins_json);
    return rc == 0 ? 0 : -1;
}

/*
 * The placement writes of a batch and the replica jobs they call for. They
 * run at the head of the publisher's reads (fado_publisher_sync): one
 * round trip and one transaction, which the triggers do not record again
 * (the batch publishes what they change), and whose route reads see them.
 * Replicas that are not ready (new, syncing, failed, leaving) need a job;
 * an existing one keeps its schedule and back-off.
 */
typedef struct {
    char            *js[4];
    const char      *p[3];
    const char      *pn[1];
    fado_db_stmt_t   st[3];
    size_t           n;
    int              wake;          /* replicas added or leaving: wake the workers */
} fado_place_writes_t;

static void
fado_place_writes_free(fado_place_writes_t *pw)
{
    for (int i = 0; i < 4; i++) {
        free(pw->js[i]);
        pw->js[i] = NULL;
    }
    pw->n = 0;
}

static int
fado_place_writes(fado_place_writes_t *pw, json_t *names, json_t *upd, json_t *ins,
    json_t *leave)
{
    pw->js[0] = fado_rec_json(upd);
    pw->js[1] = fado_rec_json(ins);
    pw->js[2] = fado_rec_json(leave);
    pw->js[3] = fado_rec_json(names);
    if (pw->js[0] == NULL || pw->js[1] == NULL || pw->js[2] == NULL || pw->js[3] == NULL) {
        fado_place_writes_free(pw);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        pw->p[i] = pw->js[i];
    }
    pw->pn[0] = pw->js[3];
    pw->n = 0;
    pw->st[pw->n++] = (fado_db_stmt_t) {
        "SELECT set_config('fado.placing', 'on', true)", 0, NULL, NULL, 1 };
    if (json_array_size(upd) || json_array_size(ins) || json_array_size(leave)) {
        pw->st[pw->n++] = (fado_db_stmt_t) {
            "WITH u AS (UPDATE buckets b SET placement_ok = u.ok, placement_reason = u.reason,"
            "                                placement_effective = u.effective"
            "           FROM jsonb_to_recordset($1::jsonb) AS u (name text, ok boolean,"
            "                                                   reason text, effective int)"
            "           WHERE b.name = u.name),"
            " i AS (INSERT INTO replicas (bucket, cluster)"
            "       SELECT u.bucket, u.cluster"
            "         FROM jsonb_to_recordset($2::jsonb) AS u (bucket text, cluster text)"
            "       ON CONFLICT DO NOTHING)"
            " UPDATE replicas r"
            "    SET state = CASE WHEN u.remove THEN 'removing' ELSE r.state END,"
            "        reason = u.reason,"
            "        updated_at = CASE WHEN u.remove THEN now() ELSE r.updated_at END"
            "   FROM jsonb_to_recordset($3::jsonb) AS u (bucket text, cluster text,"
            "                                           remove boolean, reason text)"
            "  WHERE r.bucket = u.bucket AND r.cluster = u.cluster AND r.state <> 'removing'"
            "    AND (u.remove OR r.reason IS DISTINCT FROM u.reason)", 3, pw->p, NULL, 1 };
    }
    pw->st[pw->n++] = (fado_db_stmt_t) {
        "INSERT INTO jobs (kind, bucket, cluster)"
        " SELECT 'replica', bucket, cluster FROM replicas"
        "  WHERE bucket IN (SELECT jsonb_array_elements_text($1::jsonb))"
        "    AND state <> 'ready'"
        " ON CONFLICT (kind, bucket, cluster) DO NOTHING", 1, pw->pn, NULL, 1 };
    pw->wake = json_array_size(ins) || json_array_size(leave);
    return 0;
}

/*
 * Places the named buckets (a JSON array): reads in one round trip, and
 * the writes (with the replica jobs they call for) into *pw, for the
 * publisher to run. Set-based whatever the batch's size.
 */
static int
fado_place(PGconn *conn, json_t *names, fado_place_writes_t *pw)
{
    fado_cluster_set_t   cs;
    PGresult            *bk, *rp;
    char                *js = fado_rec_json(names);
    const char          *p[1] = { js };
    json_t              *upd = json_array(), *ins = json_array(), *leave = json_array();
    fado_replica_row_t  *reps = NULL;
    fado_db_stmt_t       st[3] = {
        { FADO_PLACE_CLUSTERS_SQL, 0, NULL, NULL, 1 },
        { "SELECT name, home_cluster, to_jsonb(allowed_zones), replicas,"
          "       to_jsonb(pinned_clusters), placement_ok, placement_reason,"
          "       cap_replicas, placement_effective"
          "  FROM buckets WHERE name IN (SELECT jsonb_array_elements_text($1::jsonb))"
          " ORDER BY name COLLATE \"C\"", 1, p, NULL, 1 },
        { "SELECT bucket, cluster, state FROM replicas"
          " WHERE bucket IN (SELECT jsonb_array_elements_text($1::jsonb))"
          " ORDER BY bucket COLLATE \"C\", cluster COLLATE \"C\"", 1, p, NULL, 1 }
    };
    int                  rc = -1, r = 0;

    cs.res = NULL;
    cs.zone_text = NULL;
    cs.zone_list = NULL;
    /* The three reads in one round trip. */
    if (js == NULL || upd == NULL || ins == NULL || leave == NULL
        || fado_db_pipeline(conn, NULL, st, 3) != 0)
    {
        goto done;
    }
    bk = st[1].res;
    rp = st[2].res;
    if (fado_clusters_load(st[0].res, &cs) != 0) {
        st[0].res = NULL;
        goto done;
    }
    st[0].res = NULL;              /* cs holds it */
    reps = calloc((size_t) PQntuples(rp) + 1, sizeof(*reps));
    if (reps == NULL) {
        goto done;
    }

    /* Both sorted by bucket in byte order: walk them together. */
    for (int i = 0; i < PQntuples(bk); i++) {
        const char  *bucket = PQgetvalue(bk, i, 0);
        size_t       n = 0;

        while (r < PQntuples(rp) && strcmp(PQgetvalue(rp, r, 0), bucket) < 0) {
            r++;
        }
        while (r < PQntuples(rp) && strcmp(PQgetvalue(rp, r, 0), bucket) == 0) {
            reps[n].cluster = PQgetvalue(rp, r, 1);
            reps[n].state = PQgetvalue(rp, r, 2);
            n++;
            r++;
        }
        if (fado_place_one(&cs, bk, i, reps, n, upd, ins, leave) != 0) {
            goto done;
        }
    }
    if (fado_place_writes(pw, names, upd, ins, leave) != 0) {
        goto done;
    }
    rc = 0;

done:
    free(reps);
    free(js);
    json_decref(upd);
    json_decref(ins);
    json_decref(leave);
    for (int i = 0; i < 3; i++) {
        if (st[i].res != NULL) {
            PQclear(st[i].res);
        }
    }
    if (cs.res != NULL) {
        PQclear(cs.res);
    }
    free(cs.zone_text);
    free(cs.zone_list);
    return rc;
}

/* ------------------------------------------------------------ batches */

/*
 * Places (where asked) and publishes one batch; the tail statements (the
 * batch's own bookkeeping) run with the recording of what was published.
 * Returns 0, or -1 when the publication failed (Redis): the caller keeps
 * the dirty rows and retries.
 */
static int
fado_batch_run(fado_reconciler_t *rec, PGconn *conn, json_t *place, json_t *buckets,
    json_t *clusters, fado_db_stmt_t *tail, size_t ntail)
{
    fado_publish_stats_t  st;
    fado_place_writes_t   pw;
    char                  err[512] = "";
    int                   ok;
    double                t0 = fado_clock_fms(), t1;

    memset(&pw, 0, sizeof(pw));
    if (json_array_size(place) > 0 && fado_place(conn, place, &pw) != 0) {
        return -1;
    }
    t1 = fado_clock_fms();
    ok = fado_publisher_sync(rec->pub, conn, buckets, clusters, pw.st, pw.n, tail, ntail,
                             &st, err, sizeof(err));
    if (ok >= 0 && pw.wake) {
        fado_jobs_wake(rec->jobs);
    }
    fado_place_writes_free(&pw);
    if (ok == 1) {
        /* Redis lost the table: all of it again, this batch included. */
        ok = fado_publisher_republish(rec->pub, conn, &st, err, sizeof(err)) == 0
             && fado_db_pipeline_run(conn, NULL, tail, ntail) == 0;
    } else if (ok == 0) {
        ok = 1;
        if (st.set || st.deleted) {
            fado_log(FADO_LOG_INFO, "msg=\"routes published\" set=%zu deleted=%zu"
                     " version=%lld", st.set, st.deleted, st.version);
        }
    } else {
        ok = 0;
    }
    if (!ok) {
        fado_log(FADO_LOG_WARN, "msg=\"publication failed, will retry\" error=%s", FADO_LOG_Q(err));
    }
    fado_log(FADO_LOG_DEBUG, "msg=\"batch\" buckets=%zu placed=%zu clusters=%zu"
             " place_ms=%.2f publish_ms=%.2f read_ms=%.2f redis_ms=%.2f record_ms=%.2f",
             json_array_size(buckets), json_array_size(place), json_array_size(clusters),
             t1 - t0, fado_clock_fms() - t1, st.read_ms, st.redis_ms, st.record_ms);
    atomic_store(&rec->redis_ok, ok);
    atomic_fetch_add(&rec->passes, 1);
    return ok ? 0 : -1;
}

/*
 * Redis lost its data (or was replaced) while nothing changed: republish
 * now, not at the next change. One GET and one SELECT per tick.
 */
static int
fado_epoch_check(fado_reconciler_t *rec, PGconn *conn)
{
    fado_publish_stats_t  st;
    char                  err[512];
    int                   ok = fado_publisher_epoch_ok(rec->pub, conn, err, sizeof(err));

    if (ok == 0) {
        ok = fado_publisher_republish(rec->pub, conn, &st, err, sizeof(err)) == 0;
    }
    if (ok != 1) {
        fado_log(FADO_LOG_WARN, "msg=\"publication failed, will retry\" error=%s", FADO_LOG_Q(err));
        ok = 0;
    }
    atomic_store(&rec->redis_ok, ok);
    return ok ? 0 : -1;
}

/*
 * The changes recorded since the last batch. Returns the number of rows
 * handled (0: nothing to do), or -1 (kept for a retry).
 */
static int
fado_changes_run(fado_reconciler_t *rec, PGconn *conn)
{
    PGresult        *db = NULL;
    json_t          *place = json_array(), *buckets = json_array(), *clusters = json_array();
    json_t          *seen_b = json_array(), *seen_c = json_array();
    char            *js[2] = { NULL, NULL };
    const char      *p[2];
    fado_db_stmt_t   tail = {
        "WITH b AS (DELETE FROM dirty_buckets d"
        "           USING jsonb_to_recordset($1::jsonb) AS u (b text, s bigint)"
        "           WHERE d.bucket = u.b AND d.seq = u.s)"
        " DELETE FROM dirty_clusters d"
        " USING jsonb_to_recordset($2::jsonb) AS u (c text, s bigint)"
        " WHERE d.cluster = u.c AND d.seq = u.s", 2, p, NULL, 1 };
    fado_db_stmt_t   changes = {
        "(SELECT 'b', bucket, place, seq FROM dirty_buckets ORDER BY seq LIMIT " FADO_BATCH ")"
        " UNION ALL SELECT 'c', cluster, false, seq FROM dirty_clusters", 0, NULL, NULL, 1 };
    int              rc = -1, n = 0;
    double           t0;

    if (place == NULL || buckets == NULL || clusters == NULL || seen_b == NULL
        || seen_c == NULL)
    {
        goto done;
    }
    /* One round trip for both tables: kind 'b' (with place) or 'c'. */
    t0 = fado_clock_fms();
    if (fado_db_pipeline(conn, NULL, &changes, 1) != 0) {
        goto done;
    }
    db = changes.res;
    if (db == NULL) {
        goto done;
    }
    n = PQntuples(db);
    if (n == 0) {
        rc = 0;
        goto done;
    }
    fado_log(FADO_LOG_DEBUG, "msg=\"changes read\" rows=%d ms=%.2f", n, fado_clock_fms() - t0);
    for (int i = 0; i < n; i++) {
        int      is_bucket = PQgetvalue(db, i, 0)[0] == 'b';
        json_t  *name = json_string(PQgetvalue(db, i, 1));

        if (name == NULL
            || json_array_append(is_bucket ? buckets : clusters, name) != 0
            || (PQgetvalue(db, i, 2)[0] == 't' && json_array_append(place, name) != 0)
            || json_array_append_new(is_bucket ? seen_b : seen_c,
                                     json_pack("{s:o, s:I}", is_bucket ? "b" : "c", name,
                                     "s", (json_int_t) atoll(PQgetvalue(db, i, 3)))) != 0)
        {
            goto done;
        }
    }
    /* The rows go with the record of what was published; rows written
     * again meanwhile have a new seq and stay. */
    js[0] = fado_rec_json(seen_b);
    js[1] = fado_rec_json(seen_c);
    if (js[0] == NULL || js[1] == NULL) {
        goto done;
    }
    p[0] = js[0];
    p[1] = js[1];
    if (fado_batch_run(rec, conn, place, buckets, clusters, &tail, 1) == 0) {
        rc = n;
    }

done:
    free(js[0]);
    free(js[1]);
    json_decref(place);
    json_decref(buckets);
    json_decref(clusters);
    json_decref(seen_b);
    json_decref(seen_c);
    if (db != NULL) {
        PQclear(db);
    }
    return rc;
}

/* ------------------------------------------------------------ full reconcile */

/*
 * One step of the full reconcile, placed and published like a batch of
 * changes: every cluster with the first chunk of buckets, then the next
 * chunks (the bucket index in its own order: a cursor in another collation
 * could not use it), then the records of buckets that are gone; last, Redis
 * itself is compared with what was published and every due job scheduled.
 */
static int
fado_full_drift_step(fado_reconciler_t *rec, PGconn *conn)
{
    char  err[512];
    int   more = fado_publisher_drift_step(rec->pub, conn, &rec->full_drift,
                                           &rec->full_drifted, err, sizeof(err));

    if (more < 0) {
        fado_log(FADO_LOG_WARN, "msg=\"drift check failed\" error=%s", FADO_LOG_Q(err));
        return -1;
    }
    if (more) {
        return 0;
    }
    if (rec->full_drifted > 0) {
        fado_log(FADO_LOG_WARN, "msg=\"records in redis differ from what was published,"
                 " rewriting them\" records=%zu", rec->full_drifted);
    }
    (void) fado_jobs_schedule(conn, &rec->conf.jobs);
    fado_log(FADO_LOG_INFO, "msg=\"full reconcile done\" buckets=%lu drifted=%zu ms=%lld",
             rec->full_buckets, rec->full_drifted, fado_clock_ms() - rec->full_started);
    rec->full_phase = FADO_FULL_IDLE;
    return 0;
}

/* The next step's size from how long this one took. */
static void
fado_full_resize(fado_reconciler_t *rec, int n, double ms)
{
    double  next = ms > 0 ? n * (FADO_FULL_STEP_MS / ms) : FADO_FULL_CHUNK_MAX;

    /* at most double per step: one quick step is no trend */
    if (next > 2.0 * rec->full_chunk) {
        next = 2.0 * rec->full_chunk;
    }
    rec->full_chunk = next < FADO_FULL_CHUNK_MIN ? FADO_FULL_CHUNK_MIN
                      : next > FADO_FULL_CHUNK_MAX ? FADO_FULL_CHUNK_MAX : (int) next;
}

static int
fado_full_step(fado_reconciler_t *rec, PGconn *conn)
{
    char         limit[16];
    const char  *p[2] = { rec->full_cursor, limit };
    json_t      *names, *clusters = NULL;
    char         err[512];
    int          rc = -1, n, first = rec->full_buckets == 0;
    int          stale = rec->full_phase == FADO_FULL_STALE;
    double       t0 = fado_clock_fms();

    if (rec->full_phase == FADO_FULL_DRIFT) {
        return fado_full_drift_step(rec, conn);
    }
    snprintf(limit, sizeof(limit), "%d", rec->full_chunk);
    names = stale
        ? fado_db_names(conn,
              "SELECT bucket FROM published_routes p WHERE bucket <> ''"
              " AND NOT EXISTS (SELECT 1 FROM buckets b WHERE b.name = p.bucket)",
              0, NULL, err, sizeof(err))
        : fado_db_names(conn,
              "SELECT name FROM buckets WHERE name > $1 ORDER BY name LIMIT $2::int",
              2, p, err, sizeof(err));
    if (names == NULL) {
        fado_log(FADO_LOG_WARN, "msg=\"reconcile query failed\" error=%s", FADO_LOG_Q(err));
        return -1;
    }
    n = (int) json_array_size(names);
    if (!stale) {
        rec->full_buckets += (unsigned long) n;
        if (n > 0) {
            snprintf(rec->full_cursor, sizeof(rec->full_cursor), "%s",
                     json_string_value(json_array_get(names, (size_t) n - 1)));
        }
    }
    if (first && !stale) {
        clusters = fado_db_names(conn,
            "SELECT name FROM clusters UNION SELECT cluster FROM published_clusters",
            0, NULL, err, sizeof(err));
        if (clusters == NULL) {
            fado_log(FADO_LOG_WARN, "msg=\"reconcile query failed\" error=%s", FADO_LOG_Q(err));
            goto done;
        }
    }
    if ((n > 0 || clusters != NULL)
        && fado_batch_run(rec, conn, stale ? NULL : names, names, clusters, NULL, 0) != 0)
    {
        goto done;
    }
    if (stale) {
        memset(&rec->full_drift, 0, sizeof(rec->full_drift));
        rec->full_drifted = 0;
        rec->full_phase = FADO_FULL_DRIFT;
    } else if (n < rec->full_chunk) {
        rec->full_phase = FADO_FULL_STALE;
    } else {
        fado_full_resize(rec, n, fado_clock_fms() - t0);
    }
    rc = 0;

done:
    json_decref(names);
    json_decref(clusters);
    return rc;
}

static void
fado_full_start(fado_reconciler_t *rec)
{
    rec->full_phase = FADO_FULL_BUCKETS;
    rec->full_cursor[0] = '\0';
    rec->full_started = fado_clock_ms();
    rec->full_buckets = 0;
    rec->full_chunk = 200;        /* grows while steps are quick */
}

/* ------------------------------------------------------------ leadership */

static void
fado_leader_drop(fado_reconciler_t *rec, const char *why)
{
    if (atomic_load(&rec->leading)) {
        fado_log(FADO_LOG_WARN, "msg=\"leadership lost\" reason=%s", FADO_LOG_Q(why));
    }
    atomic_store(&rec->leading, 0);
    if (rec->conn != NULL) {
        PQfinish(rec->conn);
        rec->conn = NULL;
    }
    rec->full_phase = FADO_FULL_IDLE;
}

/* Connects if needed and tries the lock; 1 when this controller leads. */
static int
fado_leader_elect(fado_reconciler_t *rec)
{
    PGresult  *res;
    int        got;

    if (rec->conn == NULL) {
        char  app[128];

        snprintf(app, sizeof(app), "fado-leader %s", rec->conf.instance);
        rec->conn = fado_db_connect(rec->conf.database_url, app);
        if (rec->conn == NULL || PQstatus(rec->conn) != CONNECTION_OK) {
            fado_leader_drop(rec, "cannot connect");
            return 0;
        }
    }
    res = fado_db_exec(rec->conn, NULL, "SELECT pg_try_advisory_lock(" FADO_LEADER_LOCK ")",
                       0, NULL);
    if (res == NULL) {
        fado_leader_drop(rec, "lock query failed");
        return 0;
    }
    got = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!got) {
        return 0;
    }
    if (fado_db_run(rec->conn, NULL, "LISTEN fado_changes", 0, NULL) != 0) {
        fado_leader_drop(rec, "LISTEN failed");
        return 0;
    }
    if (PQsetnonblocking(rec->conn, 0) != 0) {
        fado_leader_drop(rec, "connection mode");
        return 0;
    }
    atomic_store(&rec->leading, 1);
    fado_publisher_forget_epoch(rec->pub);
    /* A new leader repairs first: whatever happened before it is seen. */
    fado_full_start(rec);
    rec->next_full = fado_clock_ms() + rec->conf.full_interval_ms;
    rec->next_tick = 0;
    fado_log(FADO_LOG_INFO, "msg=\"leading: placement, publication and health run here\""
             " instance=%s", rec->conf.instance);
    return 1;
}

/* Drains the notifications libpq holds; 1 if there was one. */
static int
fado_leader_notified(fado_reconciler_t *rec)
{
    PGnotify  *nt;
    int        got = 0;

    while ((nt = PQnotifies(rec->conn)) != NULL) {
        PQfreemem(nt);
        got = 1;
    }
    return got;
}

/*
 * Waits for a notification, a local wake-up or the timeout; drains both.
 * A notification that arrived while the leader ran a query was read off
 * the socket with that query's answer and waits in libpq: the socket would
 * not wake the poll for it, so it is looked for first.
 */
static void
fado_leader_wait(fado_reconciler_t *rec, int timeout_ms)
{
    struct pollfd  fds[2];
    int            nfds = 1;
    char           buf[64];

    if (rec->conn != NULL && fado_leader_notified(rec)) {
        timeout_ms = 0;
    }
    fds[0].fd = rec->wake_pipe[0];
    fds[0].events = POLLIN;
    if (rec->conn != NULL && PQsocket(rec->conn) >= 0) {
        fds[1].fd = PQsocket(rec->conn);
        fds[1].events = POLLIN;
        nfds = 2;
    }
    if (poll(fds, (nfds_t) nfds, timeout_ms) < 0 && errno != EINTR) {
        return;
    }
    while (read(rec->wake_pipe[0], buf, sizeof(buf)) > 0) {
        /* drained */
    }
    if (nfds == 2 && rec->conn != NULL) {
        if (PQconsumeInput(rec->conn) != 1) {
            fado_leader_drop(rec, "database connection lost");
            return;
        }
        (void) fado_leader_notified(rec);
    }
}

static void *
fado_leader_main(void *arg)
{
    fado_reconciler_t  *rec = arg;

    while (!atomic_load(&rec->stopping)) {
        long long  now, wait;
        int        n;

        if (!atomic_load(&rec->leading)) {
            if (!fado_leader_elect(rec)) {
                atomic_store(&rec->redis_ok, 1);    /* not ours to publish */
                fado_leader_wait(rec, FADO_ELECT_MS);
                continue;
            }
        }
        if (PQstatus(rec->conn) != CONNECTION_OK) {
            fado_leader_drop(rec, "database connection lost");
            continue;
        }

        /* Changes first; a full reconcile advances a chunk between them. */
        n = fado_changes_run(rec, rec->conn);
        if (n < 0 && PQstatus(rec->conn) != CONNECTION_OK) {
            fado_leader_drop(rec, "database connection lost");
            continue;
        }
        now = fado_clock_ms();
        if (n >= 0 && rec->full_phase == FADO_FULL_IDLE && now >= rec->next_full) {
            fado_full_start(rec);
            rec->next_full = now + rec->conf.full_interval_ms;
        }
        if (n == 0 && rec->full_phase != FADO_FULL_IDLE && fado_full_step(rec, rec->conn) != 0) {
            n = -1;
        }
        if (n >= 0 && now >= rec->next_tick) {
            if (fado_epoch_check(rec, rec->conn) != 0) {
                n = -1;
            }
            if (fado_jobs_schedule(rec->conn, &rec->conf.jobs) == 0) {
                fado_jobs_wake(rec->jobs);
            }
            rec->next_tick = now + FADO_TICK_MS;
        }

        if (n > 0 || (n == 0 && rec->full_phase != FADO_FULL_IDLE)) {
            wait = 0;
        } else if (n < 0) {
            wait = FADO_RETRY_MS;
        } else {
            wait = (rec->next_full < rec->next_tick ? rec->next_full : rec->next_tick) - now;
            wait = wait < 0 ? 0 : wait > 60000 ? 60000 : wait;
        }
        fado_leader_wait(rec, (int) wait);
    }
    fado_leader_drop(rec, "stopping");
    return NULL;
}

/* ------------------------------------------------------------ life cycle */

/* A worker changed a replica's state: its trigger notifies; look now. */
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
    atomic_init(&rec->leading, 0);
    atomic_init(&rec->stopping, 0);
    atomic_init(&rec->redis_ok, 1);
    atomic_init(&rec->passes, 0);
    if (pipe2(rec->wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(rec);
        return NULL;
    }
    if (pthread_mutex_init(&rec->health_lock, NULL) != 0
        || pthread_cond_init(&rec->health_cond, NULL) != 0)
    {
        close(rec->wake_pipe[0]);
        close(rec->wake_pipe[1]);
        free(rec);
        return NULL;
    }
    rec->jobs = fado_jobs_start(db, &rec->conf.jobs, fado_reconciler_changed, rec);
    if (rec->jobs == NULL) {
        goto failed;
    }
    if (pthread_create(&rec->leader_thread, NULL, fado_leader_main, rec) != 0) {
        fado_jobs_stop(rec->jobs);
        goto failed;
    }
    if (pthread_create(&rec->health_thread, NULL, fado_health_main, rec) != 0) {
        atomic_store(&rec->stopping, 1);
        fado_reconciler_wake(rec);
        pthread_join(rec->leader_thread, NULL);
        fado_jobs_stop(rec->jobs);
        goto failed;
    }
    return rec;

failed:
    pthread_cond_destroy(&rec->health_cond);
    pthread_mutex_destroy(&rec->health_lock);
    close(rec->wake_pipe[0]);
    close(rec->wake_pipe[1]);
    free(rec);
    return NULL;
}

void
fado_reconciler_wake(fado_reconciler_t *rec)
{
    /* Non-blocking: a full pipe already means "look". */
    ssize_t  n = write(rec->wake_pipe[1], "w", 1);

    (void) n;
}

int
fado_reconciler_redis_ok(fado_reconciler_t *rec)
{
    return atomic_load(&rec->redis_ok);
}

int
fado_reconciler_leading(fado_reconciler_t *rec)
{
    return atomic_load(&rec->leading);
}

fado_jobs_t *
fado_reconciler_jobs(fado_reconciler_t *rec)
{
    return rec->jobs;
}

unsigned long
fado_reconciler_passes(fado_reconciler_t *rec)
{
    return atomic_load(&rec->passes);
}

void
fado_reconciler_stop(fado_reconciler_t *rec)
{
    if (rec == NULL) {
        return;
    }
    atomic_store(&rec->stopping, 1);
    fado_reconciler_wake(rec);
    pthread_mutex_lock(&rec->health_lock);
    pthread_cond_signal(&rec->health_cond);
    pthread_mutex_unlock(&rec->health_lock);
    pthread_join(rec->leader_thread, NULL);
    pthread_join(rec->health_thread, NULL);
    fado_jobs_stop(rec->jobs);
    pthread_cond_destroy(&rec->health_cond);
    pthread_mutex_destroy(&rec->health_lock);
    close(rec->wake_pipe[0]);
    close(rec->wake_pipe[1]);
    free(rec);
}
