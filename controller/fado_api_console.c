/*
 * fado_api_console: summary, placement preview, gateways, whoami
 * (fado_api_console.h).
 */

#include "fado_api_console.h"
#include "fado_api.h"
#include "fado_log.h"
#include "fado_reconcile.h"
#include "fado_placement.h"
#include "fado_valid.h"
#include "fst_buf.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FADO_CONSOLE_MAX_CLUSTERS  256
#define FADO_CONSOLE_MAX_GATEWAYS  16
#define FADO_CONSOLE_STATUS_MAX    (4 * 1024 * 1024)
#define FADO_CONSOLE_GW_TIMEOUT    1000L        /* ms, per gateway, in parallel */

/* ------------------------------------------------------------ helpers */

static PGresult *
fado_console_query(fado_req_t *req, const char *sql, int n, const char *const *params)
{
    char       err[512], state[6];
    PGresult  *res = fado_db_query(req->conn, sql, n, params, err, sizeof(err), state);

    if (res != NULL) {
        return res;
    }
    if ((state[0] == '0' && state[1] == '8') || PQstatus(req->conn) != CONNECTION_OK
        || strcmp(state, "57P01") == 0)
    {
        fado_req_error(req, 503, "database_unavailable", NULL, "PostgreSQL connection lost");
    } else {
        fado_log(FADO_LOG_ERROR, "msg=\"query failed\" sqlstate=%s error=%s", state, FADO_LOG_Q(err));
        fado_req_error(req, 500, "internal", NULL, "database error");
    }
    return NULL;
}

static int
fado_console_method(fado_req_t *req, const char *method)
{
    if (strcmp(req->method, method) == 0
        || (strcmp(method, "GET") == 0 && strcmp(req->method, "HEAD") == 0))
    {
        return 1;
    }
    fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here; use %s",
                   req->method, method);
    return 0;
}

/* ------------------------------------------------------------ whoami */

static void
fado_console_whoami(fado_req_t *req)
{
    if (!fado_console_method(req, "GET")) {
        return;
    }
    req->json = json_pack("{s:s}", "role",
                          req->role == FADO_ROLE_ADMIN ? "admin" : "read-only");
    req->status = req->json ? 200 : 500;
}

/* ------------------------------------------------------------ summary */

/*
 * The whole overview in one statement, so a console refreshing it every
 * few seconds costs one round trip however large the platform. A bucket's
 * state is the first that applies: unsatisfiable (its placement cannot be
 * met), home_unavailable (its home cluster is down), ready (every replica
 * it keeps is ready), syncing.
 */
#define FADO_SUMMARY_SQL \
    "WITH b AS (" \
    "  SELECT b.name, b.placement_ok, h.healthy AS home_up," \
    "         count(r.cluster) FILTER (WHERE r.state <> 'removing') AS kept," \
    "         count(r.cluster) FILTER (WHERE r.state = 'ready') AS ready" \
    "    FROM buckets b JOIN clusters h ON h.name = b.home_cluster" \
    "    LEFT JOIN replicas r ON r.bucket = b.name" \
    "   GROUP BY b.name, b.placement_ok, h.healthy)," \
    " bs AS (" \
    "  SELECT CASE WHEN placement_ok = false THEN 'unsatisfiable'" \
    "              WHEN NOT home_up THEN 'home_unavailable'" \
    "              WHEN kept > 0 AND ready >= kept THEN 'ready'" \
    "              ELSE 'syncing' END AS state FROM b)" \
    " SELECT json_build_object(" \
    "  'zones', (SELECT coalesce(json_agg(name ORDER BY name), '[]') FROM zones)," \
    "  'clusters', (SELECT coalesce(json_agg(json_build_object('name', c.name," \
    "      'zone', c.zone, 'healthy', c.healthy," \
    "      'endpoints', (SELECT count(*) FROM endpoints e WHERE e.cluster = c.name)," \
    "      'storage_endpoint', c.storage_endpoint," \
    "      'storage_configured', c.storage_endpoint <> '') ORDER BY c.zone, c.name), '[]')" \
    "      FROM clusters c)," \
    "  'buckets', (SELECT json_build_object('total', count(*)," \
    "      'ready', count(*) FILTER (WHERE state = 'ready')," \
    "      'syncing', count(*) FILTER (WHERE state = 'syncing')," \
    "      'unsatisfiable', count(*) FILTER (WHERE state = 'unsatisfiable')," \
    "      'home_unavailable', count(*) FILTER (WHERE state = 'home_unavailable')) FROM bs)," \
    "  'replicas', (SELECT json_build_object('total', count(*)," \
    "      'pending', count(*) FILTER (WHERE state = 'pending')," \
    "      'syncing', count(*) FILTER (WHERE state = 'syncing')," \
    "      'ready', count(*) FILTER (WHERE state = 'ready')," \
    "      'removing', count(*) FILTER (WHERE state = 'removing')," \
    "      'failed', count(*) FILTER (WHERE state = 'failed')) FROM replicas)," \
    "  'jobs', (SELECT json_build_object('queued', count(*) FILTER (WHERE state = 'queued')," \
    "      'running', count(*) FILTER (WHERE state = 'running')," \
    "      'retrying', count(*) FILTER (WHERE attempts > 0)) FROM jobs)," \
    "  'routes', (SELECT json_build_object('published', count(*) FILTER (WHERE bucket <> '')," \
    "      'default_route', coalesce(bool_or(bucket = ''), false)," \
    "      'version', coalesce(max(version), 0)) FROM published_routes)," \
    "  'settings', (SELECT coalesce(json_object_agg(key, value), '{}') FROM settings)" \
    " )::text"

/*
 * The counts are O(buckets) to compute; every open console asks for them
 * every two seconds. One answer is shared for FADO_SUMMARY_TTL_MS, so the
 * database does at most one summary a second however many consoles are
 * open (and none when no console is).
 */
#define FADO_SUMMARY_TTL_MS  1000

static pthread_mutex_t  fado_summary_lock = PTHREAD_MUTEX_INITIALIZER;
static char            *fado_summary_text;
static struct timespec  fado_summary_at;

static long
fado_summary_age_ms(const struct timespec *now)
{
    return (now->tv_sec - fado_summary_at.tv_sec) * 1000
         + (now->tv_nsec - fado_summary_at.tv_nsec) / 1000000;
}

/* The summary document (cached or fresh), or NULL with the error set. */
static json_t *
fado_console_summary_doc(fado_req_t *req)
{
    struct timespec  now;
    PGresult        *res;
    json_t          *j = NULL;
    char            *copy;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (pthread_mutex_lock(&fado_summary_lock) != 0) {
        fado_req_error(req, 500, "internal", NULL, "cannot lock the summary");
        return NULL;
    }
    /* Held across the query: concurrent consoles wait for one answer
     * instead of all asking PostgreSQL at once. */
    if (fado_summary_text != NULL && fado_summary_age_ms(&now) < FADO_SUMMARY_TTL_MS) {
        j = json_loads(fado_summary_text, 0, NULL);
    } else if ((res = fado_console_query(req, FADO_SUMMARY_SQL, 0, NULL)) != NULL) {
        j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        if (j != NULL && (copy = strdup(PQgetvalue(res, 0, 0))) != NULL) {
            free(fado_summary_text);
            fado_summary_text = copy;
            fado_summary_at = now;
        }
        PQclear(res);
    }
    (void) pthread_mutex_unlock(&fado_summary_lock);
    if (j == NULL && req->json == NULL) {
        fado_req_error(req, 500, "internal", NULL, "cannot build the summary");
    }
    return j;
}

static void
fado_console_summary(fado_req_t *req)
{
    json_t  *j, *routes;

    if (!fado_console_method(req, "GET")) {
        return;
    }
    if ((j = fado_console_summary_doc(req)) == NULL) {
        return;
    }
    routes = json_object_get(j, "routes");
    if (j == NULL || routes == NULL
        || json_object_set_new(routes, "redis_ok",
                               json_boolean(fado_reconciler_redis_ok(req->app->rec))) != 0
        || json_object_set_new(j, "reconcile_passes", json_integer(
               (json_int_t) fado_reconciler_passes(req->app->rec))) != 0)
    {
        json_decref(j);
        fado_req_error(req, 500, "internal", NULL, "cannot build the summary");
        return;
    }
    req->json = j;
    req->status = 200;
}

/* ------------------------------------------------------------ placement preview */

/* A JSON array of strings into names[]; -1 with the error set. */
static int
fado_console_names(fado_req_t *req, json_t *obj, const char *key, const char *field,
    const char **names, size_t max, size_t *n)
{
    json_t  *arr = json_object_get(obj, key), *v;
    size_t   i;

    *n = 0;
    if (arr == NULL || json_is_null(arr)) {
        return 0;
    }
    if (!json_is_array(arr) || json_array_size(arr) > max) {
        fado_req_error(req, 400, "invalid_field", field,
                       "%s must be an array of at most %zu names", field, max);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 63) {
            fado_req_error(req, 400, "invalid_field", field, "%s[%zu] is not a valid name",
                           field, i);
            return -1;
        }
        names[(*n)++] = json_string_value(v);
    }
    return 0;
}

static int
fado_console_in(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The answer: which clusters the placement would choose (and why each),
 * the replicas the bucket has now, what would be added and removed, and
 * whether the policy can be met. Same engine, same inputs as the
 * reconciler (fado_placement_compute over every cluster by name).
 */
static void
fado_console_preview_answer(fado_req_t *req, const fado_placement_request_t *preq,
    PGresult *cl)
{
    fado_placement_cluster_t  clusters[FADO_CONSOLE_MAX_CLUSTERS];
    fado_placement_result_t   result;
    const char               *p[1] = { preq->bucket };
    PGresult                 *cur;
    json_t                   *chosen, *current, *add, *remove, *keep;
    int                       nc = PQntuples(cl) < FADO_CONSOLE_MAX_CLUSTERS
                                   ? PQntuples(cl) : FADO_CONSOLE_MAX_CLUSTERS;

    char                     *ztext;
    const char              **zlist;
    size_t                    total = 1, nz = 0, off = 0;

    /* A cluster in several zones (sql/005): its list, as the reconciler reads it. */
    for (int i = 0; i < nc; i++) {
        total += (size_t) PQgetlength(cl, i, 4) + 1;
        nz += 16;
    }
    ztext = malloc(total);
    zlist = calloc(nz + 1, sizeof(*zlist));
    if (ztext == NULL || zlist == NULL) {
        free(ztext);
        free(zlist);
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    for (int i = 0; i < nc; i++) {
        char    *t = ztext + off, *save = NULL, *tok;
        size_t   len = (size_t) PQgetlength(cl, i, 4);

        memcpy(t, PQgetvalue(cl, i, 4), len + 1);
        off += len + 1;
        clusters[i].name = PQgetvalue(cl, i, 0);
        clusters[i].zone = PQgetvalue(cl, i, 1);
        clusters[i].healthy = PQgetvalue(cl, i, 2)[0] == 't';
        clusters[i].has_storage = PQgetvalue(cl, i, 3)[0] == 't';
        clusters[i].zones = zlist + (size_t) i * 16;
        clusters[i].n_zones = 0;
        for (tok = strtok_r(t, " ", &save); tok && clusters[i].n_zones < 16;
             tok = strtok_r(NULL, " ", &save))
        {
            zlist[(size_t) i * 16 + clusters[i].n_zones++] = tok;
        }
    }
    fado_placement_compute(preq, clusters, (size_t) nc, &result);
    free(ztext);
    free(zlist);

    cur = fado_console_query(req, "SELECT cluster, state, reason FROM replicas"
                             " WHERE bucket = $1 ORDER BY cluster", 1, p);
    if (cur == NULL) {
        return;
    }
    chosen = json_array();
    current = json_array();
    add = json_array();
    remove = json_array();
    keep = json_array();
    for (size_t k = 0; k < result.n; k++) {
        const fado_placement_cluster_t  *c = &clusters[result.chosen[k]];
        int                              have = 0;

        for (int i = 0; i < PQntuples(cur); i++) {
            have |= strcmp(PQgetvalue(cur, i, 0), c->name) == 0
                    && strcmp(PQgetvalue(cur, i, 1), "removing") != 0;
        }
        json_array_append_new(chosen, json_pack("{s:s, s:s, s:b, s:s}", "name", c->name,
            "zone", c->zone, "healthy", c->healthy,
            "why", strcmp(c->name, preq->home) == 0 ? "home"
                 : fado_console_in(c->name, preq->pinned, preq->n_pinned) ? "pinned"
                 : "ranked"));
        json_array_append_new(have ? keep : add, json_string(c->name));
    }
    for (int i = 0; i < PQntuples(cur); i++) {
        const char  *name = PQgetvalue(cur, i, 0);
        int          stays = 0;

        json_array_append_new(current, json_pack("{s:s, s:s, s:s}", "cluster", name,
            "state", PQgetvalue(cur, i, 1), "reason", PQgetvalue(cur, i, 2)));
        for (size_t k = 0; k < result.n; k++) {
            stays |= strcmp(clusters[result.chosen[k]].name, name) == 0;
        }
        if (!stays && strcmp(PQgetvalue(cur, i, 1), "removing") != 0) {
            json_array_append_new(remove, json_string(name));
        }
    }
    req->json = json_pack("{s:s, s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:b}",
        "bucket", preq->bucket, "satisfiable", result.satisfiable,
        "reason", result.satisfiable ? "" : result.reason, "clusters", chosen,
        "current", current, "add", add, "remove", remove, "keep", keep,
        "exists", PQntuples(cur) > 0);
    PQclear(cur);
    if (req->json == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->status = 200;
}

static void
fado_console_preview(fado_req_t *req)
{
    json_error_t              e;
    json_t                   *body, *placement, *v;
    const char               *zones[64], *pins[64];
    fado_placement_request_t  preq;
    PGresult                 *cl = NULL, *zr = NULL;

    if (!fado_console_method(req, "POST")) {
        return;
    }
    body = json_loadb(req->body, req->body_len, 0, &e);
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        fado_req_error(req, 400, "invalid_json", NULL, "request body must be a JSON object");
        return;
    }
    memset(&preq, 0, sizeof(preq));
    preq.bucket = json_string_value(json_object_get(body, "name"));
    preq.home = json_string_value(json_object_get(body, "home_cluster"));
    placement = json_object_get(body, "placement");
    if (placement == NULL) {
        placement = body;     /* flat form, as the bucket API accepts */
    }
    if (preq.bucket == NULL || !fado_valid_bucket(preq.bucket)) {
        fado_req_error(req, 400, "invalid_field", "name",
                       "bucket names are 3-63 characters of a-z, 0-9, '.', '-' (S3 rules)");
        goto done;
    }
    if (preq.home == NULL) {
        fado_req_error(req, 400, "missing_field", "home_cluster", "home_cluster is required");
        goto done;
    }
    if (!json_is_object(placement)) {
        fado_req_error(req, 400, "invalid_field", "placement", "placement must be an object");
        goto done;
    }
    if (fado_console_names(req, placement, "allowed_zones", "placement.allowed_zones",
                           zones, 64, &preq.n_allowed_zones) != 0
        || fado_console_names(req, placement, "pinned_clusters", "placement.pinned_clusters",
                              pins, 64, &preq.n_pinned) != 0)
    {
        goto done;
    }
    preq.allowed_zones = zones;
    preq.pinned = pins;
    v = json_object_get(placement, "replicas");
    preq.replicas = 1;
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 64) {
            fado_req_error(req, 400, "invalid_field", "placement.replicas",
                           "placement.replicas must be an integer from 1 to 64");
            goto done;
        }
        preq.replicas = (int) json_integer_value(v);
    }

    cl = fado_console_query(req, "SELECT name, zone, healthy, storage_endpoint <> '',"
                            " array_to_string(zones, ' ') FROM clusters ORDER BY name", 0, NULL);
    zr = cl ? fado_console_query(req, "SELECT name FROM zones", 0, NULL) : NULL;
    if (zr == NULL) {
        goto done;
    }
    /* Unknown names are the 422s the bucket API would answer, same fields. */
    {
        int  found = 0;
        for (int i = 0; i < PQntuples(cl); i++) {
            found |= strcmp(PQgetvalue(cl, i, 0), preq.home) == 0;
        }
        if (!found) {
            fado_req_error(req, 422, "unknown_reference", "home_cluster",
                           "cluster \"%s\" does not exist", preq.home);
            goto done;
        }
    }
    for (size_t k = 0; k < preq.n_allowed_zones; k++) {
        int  found = 0;
        for (int i = 0; i < PQntuples(zr); i++) {
            found |= strcmp(PQgetvalue(zr, i, 0), zones[k]) == 0;
        }
        if (!found) {
            fado_req_error(req, 422, "unknown_reference", "placement.allowed_zones",
                           "unknown zones: %s", zones[k]);
            goto done;
        }
    }
    for (size_t k = 0; k < preq.n_pinned; k++) {
        int  found = 0;
        for (int i = 0; i < PQntuples(cl); i++) {
            found |= strcmp(PQgetvalue(cl, i, 0), pins[k]) == 0;
        }
        if (!found) {
            fado_req_error(req, 422, "unknown_reference", "placement.pinned_clusters",
                           "unknown clusters: %s", pins[k]);
            goto done;
        }
    }
    fado_console_preview_answer(req, &preq, cl);

done:
    if (zr != NULL) {
        PQclear(zr);
    }
    if (cl != NULL) {
        PQclear(cl);
    }
    json_decref(body);
}

/* ------------------------------------------------------------ gateways */

static char         *fado_gw_urls[FADO_CONSOLE_MAX_GATEWAYS];
static size_t        fado_gw_count;
static pthread_once_t  fado_gw_once = PTHREAD_ONCE_INIT;

/* FADO_GATEWAYS: comma-separated http(s) URLs of the gateways' fado_status. */
static void
fado_gw_load(void)
{
    const char  *env = getenv("FADO_GATEWAYS");
    char        *copy, *save = NULL, *tok;

    if (env == NULL || (copy = strdup(env)) == NULL) {
        return;
    }
    for (tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) {
            fado_log(FADO_LOG_WARN, "msg=\"FADO_GATEWAYS entry ignored: not an http(s) URL\""
                     " entry=\"%.200s\"", tok);
            continue;
        }
        if (fado_gw_count == FADO_CONSOLE_MAX_GATEWAYS) {
            fado_log(FADO_LOG_WARN, "msg=\"FADO_GATEWAYS: only the first %d are shown\"",
                     FADO_CONSOLE_MAX_GATEWAYS);
            break;
        }
        if ((fado_gw_urls[fado_gw_count] = strdup(tok)) == NULL) {
            break;
        }
        fado_gw_count++;
    }
    free(copy);
}

/* All zero is ready to use: an empty body (fst_buf_t). */
typedef struct {
    CURL       *easy;
    fst_buf_t   body;
    int         too_large;
    char        err[CURL_ERROR_SIZE];
} fado_gw_fetch_t;

static size_t
fado_gw_write(void *ptr, size_t size, size_t n, void *ud)
{
    fado_gw_fetch_t  *f = ud;
    size_t            len = size * n;

    if (f->body.len + len > FADO_CONSOLE_STATUS_MAX) {
        f->too_large = 1;
        return 0;           /* aborts the transfer */
    }
    fst_buf_append(&f->body, ptr, len);
    return fst_buf_ok(&f->body) ? len : 0;
}

static int
fado_gw_setup(fado_gw_fetch_t *f, const char *url)
{
    f->easy = curl_easy_init();
    return f->easy == NULL
        || curl_easy_setopt(f->easy, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, FADO_CONSOLE_GW_TIMEOUT) != CURLE_OK
        || curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, 500L) != CURLE_OK
        || curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->err) != CURLE_OK
        || curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, fado_gw_write) != CURLE_OK
        || curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f) != CURLE_OK
        ? -1 : 0;
}

/* One gateway's entry: its status document, or why there is none. */
static json_t *
fado_gw_item(const char *url, fado_gw_fetch_t *f, CURLcode rc)
{
    long          code = 0;
    json_t       *status;
    json_error_t  e;

    if (rc != CURLE_OK) {
        return json_pack("{s:s, s:b, s:s}", "url", url, "ok", 0, "error",
                         f->too_large ? "status document too large"
                         : f->err[0] ? f->err : curl_easy_strerror(rc));
    }
    if (curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK
        || code != 200)
    {
        char  msg[64];
        snprintf(msg, sizeof(msg), "answered HTTP %ld", code);
        return json_pack("{s:s, s:b, s:s}", "url", url, "ok", 0, "error", msg);
    }
    status = json_loadb(f->body.data ? f->body.data : "", f->body.len, 0, &e);
    if (!json_is_object(status)) {
        json_decref(status);
        return json_pack("{s:s, s:b, s:s}", "url", url, "ok", 0, "error",
                         "the answer is not a fado_status JSON document");
    }
    return json_pack("{s:s, s:b, s:o}", "url", url, "ok", 1, "status", status);
}

static void
fado_console_gateways(fado_req_t *req)
{
    fado_gw_fetch_t  fetch[FADO_CONSOLE_MAX_GATEWAYS];
    CURLcode         done[FADO_CONSOLE_MAX_GATEWAYS];
    CURLM           *multi;
    json_t          *items;
    int              running = 0;
    size_t           i;

    if (!fado_console_method(req, "GET")) {
        return;
    }
    if (pthread_once(&fado_gw_once, fado_gw_load) != 0) {
        fado_req_error(req, 500, "internal", NULL, "cannot read FADO_GATEWAYS");
        return;
    }
    memset(fetch, 0, sizeof(fetch));
    multi = curl_multi_init();
    if (multi == NULL) {
        fado_req_error(req, 500, "internal", NULL, "cannot start HTTP requests");
        return;
    }
    /* All at once: a dead gateway costs the timeout once, not per gateway. */
    for (i = 0; i < fado_gw_count; i++) {
        done[i] = CURLE_FAILED_INIT;
        if (fado_gw_setup(&fetch[i], fado_gw_urls[i]) != 0
            || curl_multi_add_handle(multi, fetch[i].easy) != CURLM_OK)
        {
            curl_easy_cleanup(fetch[i].easy);
            fetch[i].easy = NULL;
        }
    }
    do {
        if (curl_multi_perform(multi, &running) != CURLM_OK
            || (running > 0 && curl_multi_poll(multi, NULL, 0, 200, NULL) != CURLM_OK))
        {
            break;
        }
    } while (running > 0);
    {
        CURLMsg  *m;
        int       left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            for (i = 0; i < fado_gw_count; i++) {
                if (m->msg == CURLMSG_DONE && fetch[i].easy == m->easy_handle) {
                    done[i] = m->data.result;
                }
            }
        }
    }
    items = json_array();
    for (i = 0; i < fado_gw_count; i++) {
        json_t  *item = fado_gw_item(fado_gw_urls[i], &fetch[i], done[i]);
        if (item == NULL || json_array_append_new(items, item) != 0) {
            json_decref(items);
            items = NULL;
        }
        if (fetch[i].easy != NULL) {
            (void) curl_multi_remove_handle(multi, fetch[i].easy);
            curl_easy_cleanup(fetch[i].easy);
        }
        fst_buf_free(&fetch[i].body);
    }
    (void) curl_multi_cleanup(multi);
    if (items == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->json = json_pack("{s:o, s:b}", "items", items, "configured", fado_gw_count > 0);
    req->status = req->json ? 200 : 500;
}

/* ------------------------------------------------------------ router */

int
fado_api_console_handle(fado_req_t *req)
{
    if (strcmp(req->path, "/v1/whoami") == 0) {
        fado_console_whoami(req);
    } else if (strcmp(req->path, "/v1/summary") == 0) {
        fado_console_summary(req);
    } else if (strcmp(req->path, "/v1/placement/preview") == 0) {
        fado_console_preview(req);
    } else if (strcmp(req->path, "/v1/gateways") == 0) {
        fado_console_gateways(req);
    } else {
        return 0;
    }
    return 1;
}
