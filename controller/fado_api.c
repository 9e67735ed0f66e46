/*
 * fado_api: the REST API under /v1 (docs/api.yaml).
 *
 * Every handler validates its input before touching the database and names
 * the offending field; SQL only with parameters; storage secrets are
 * accepted and never returned. Lists are paginated by name (limit, cursor);
 * updates carry the version they were based on (optimistic concurrency).
 */

#include "fado_api.h"
#include "fado_api_console.h"
#include "fado_http.h"
#include "fado_import.h"
#include "fado_lifecycle.h"
#include "fado_log.h"
#include "fado_reconcile.h"
#include "fado_policy.h"
#include "fado_resolve.h"
#include "fado_route_view.h"
#include "fado_valid.h"
#include "fst_s3_client.h"
#include "frc_record.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------ helpers */

/*
 * The API's answer to a failed statement: the database layer has told
 * what the SQLSTATE means; this is the one place that turns it into HTTP.
 */
void
fado_api_db_error(fado_req_t *req, const fado_db_err_t *e)
{
    switch (e->status) {
    case FADO_DB_EXISTS:
        fado_req_error(req, 409, "conflict", "name", "it already exists");
        break;
    case FADO_DB_IN_USE:
        fado_req_error(req, 409, "in_use", NULL,
                       "it is referenced by another resource: %s", e->message);
        break;
    case FADO_DB_INVALID:
        fado_req_error(req, 400, "invalid", NULL, "%s", e->message);
        break;
    case FADO_DB_UNAVAILABLE:
        fado_req_error(req, 503, "database_unavailable", NULL, "PostgreSQL connection lost");
        break;
    default:
        fado_log(FADO_LOG_ERROR, "msg=\"query failed\" sqlstate=%s error=%s",
                 FADO_LOG_Q(e->sqlstate), FADO_LOG_Q(e->message));
        fado_req_error(req, 500, "internal", NULL, "database error");
        break;
    }
}

void
fado_api_err(fado_req_t *req, const fado_err_t *err)
{
    static const unsigned int  status[] = {
        [FADO_ERR_NONE] = 500, [FADO_ERR_INVALID] = 400, [FADO_ERR_NOT_FOUND] = 404,
        [FADO_ERR_CONFLICT] = 409, [FADO_ERR_UNAVAILABLE] = 503, [FADO_ERR_INTERNAL] = 500
    };

    fado_req_error(req, status[err->kind], err->code != NULL ? err->code : "internal",
                   err->field[0] != '\0' ? err->field : NULL, "%s", err->message);
}

PGresult *
fado_api_query(fado_req_t *req, const char *sql, int n, const char *const *params)
{
    fado_db_err_t  e;
    PGresult      *res = fado_db_exec(req->conn, &e, sql, n, params);

    if (res == NULL) {
        fado_api_db_error(req, &e);
    }
    return res;
}

int
fado_api_exec(fado_req_t *req, const char *sql, int n, const char *const *params)
{
    PGresult  *res = fado_api_query(req, sql, n, params);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

static int
fado_api_begin(fado_req_t *req)
{
    fado_db_err_t  e;

    if (fado_db_begin(req->conn, &e) != 0) {
        fado_api_db_error(req, &e);
        return -1;
    }
    return 0;
}

static void
fado_api_end(fado_req_t *req, int ok)
{
    fado_db_err_t  e;

    if (fado_db_end(req->conn, ok, &e) != 0 && ok) {
        fado_req_error(req, 503, "database_unavailable", NULL, "commit failed: %s", e.message);
    }
}

/* Splits "/v1/res/id" into res and id (id may be NULL). */
static int
fado_api_split(const char *path, char *res, size_t rsize, char *id, size_t isize)
{
    const char  *p, *slash;

    if (strncmp(path, "/v1/", 4) != 0) {
        return -1;
    }
    p = path + 4;
    slash = strchr(p, '/');
    if (slash == NULL) {
        snprintf(res, rsize, "%s", p);
        id[0] = '\0';
        return 0;
    }
    if ((size_t) (slash - p) >= rsize || strchr(slash + 1, '/') != NULL
        || strlen(slash + 1) >= isize)
    {
        return -1;
    }
    memcpy(res, p, (size_t) (slash - p));
    res[slash - p] = '\0';
    snprintf(id, isize, "%s", slash + 1);
    return 0;
}

/* Row's second column: a JSON document PostgreSQL built. */
static json_t *
fado_api_row_json(fado_req_t *req, PGresult *res, int row)
{
    json_t  *j = json_loads(PQgetvalue(res, row, 1), 0, NULL);

    if (j == NULL) {
        fado_req_error(req, 500, "internal", NULL, "cannot read a stored document");
    }
    return j;
}

static json_t *
fado_api_row_item(fado_req_t *req, PGresult *res, int row, void *arg)
{
    (void) arg;
    return fado_api_row_json(req, res, row);
}

/* One resource as JSON by name, or NULL with a 404 (or other error) set. */
static json_t *
fado_api_one(fado_req_t *req, const char *sql, const char *kind, const char *name)
{
    const char  *p[1] = { name };
    PGresult    *res = fado_api_query(req, sql, 1, p);
    json_t      *j = NULL;

    if (res == NULL) {
        return NULL;
    }
    if (PQntuples(res) == 0) {
        fado_req_error(req, 404, "not_found", NULL, "%s \"%s\" does not exist", kind, name);
    } else {
        j = fado_api_row_json(req, res, 0);
    }
    PQclear(res);
    return j;
}

static void
fado_api_changed(fado_req_t *req)
{
    fado_reconciler_wake(req->app->rec);
}

/* ------------------------------------------------------------ zones */

static json_t *
fado_zone_json(PGresult *res, int i)
{
    return json_pack("{s:s, s:i}", "name", PQgetvalue(res, i, 0),
                     "version", atoi(PQgetvalue(res, i, 1)));
}

static json_t *
fado_zone_item(fado_req_t *req, PGresult *res, int i, void *arg)
{
    json_t  *j = fado_zone_json(res, i);

    (void) arg;
    if (j == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
    }
    return j;
}

static void
fado_api_zones(fado_req_t *req, const char *id)
{
    PGresult  *res;

    if (strcmp(req->method, "GET") == 0 && id[0] == '\0') {
        fado_api_page_t  pg;
        const char      *p[2] = { req->query_cursor ? req->query_cursor : "", pg.fetch };

        if (fado_api_page_limit(req, FADO_LIST_DEFAULT, FADO_LIST_MAX, &pg) != 0
            || (res = fado_api_query(req,
                "SELECT name, version FROM zones WHERE name > $1 ORDER BY name"
                " LIMIT $2::int", 2, p)) == NULL)
        {
            return;
        }
        req->json = fado_api_page_json(req, res, &pg, fado_zone_item, NULL);
        if (req->json != NULL) {
            req->status = 200;
        }
        PQclear(res);
        return;
    }
    if (strcmp(req->method, "POST") == 0 && id[0] == '\0') {
        json_t      *body = fado_api_body(req);
        const char  *name;

        if (body == NULL) {
            return;
        }
        name = fado_api_str(req, body, "name", "name", 1);
        if (name != NULL && !fado_valid_name(name)) {
            fado_req_error(req, 400, "invalid_field", "name",
                           "name must be 1-63 characters of letters, digits, '.', '_', '-'");
        } else if (name != NULL) {
            const char  *p[1] = { name };
            res = fado_api_query(req, "INSERT INTO zones (name) VALUES ($1)"
                                 " RETURNING name, version", 1, p);
            if (res != NULL) {
                req->json = fado_zone_json(res, 0);
                req->status = 201;
                PQclear(res);
            }
        }
        json_decref(body);
        return;
    }
    if (id[0] != '\0' && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "DELETE") == 0)) {
        const char  *p[1] = { id };
        int          del = req->method[0] == 'D';

        res = fado_api_query(req, del ? "DELETE FROM zones WHERE name = $1 RETURNING name, version"
                                      : "SELECT name, version FROM zones WHERE name = $1", 1, p);
        if (res == NULL) {
            return;
        }
        if (PQntuples(res) == 0) {
            fado_req_error(req, 404, "not_found", NULL, "zone \"%s\" does not exist", id);
        } else if (del) {
            req->status = 204;
        } else {
            req->json = fado_zone_json(res, 0);
            req->status = 200;
        }
        PQclear(res);
        return;
    }
    fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here", req->method);
}

/* ------------------------------------------------------------ clusters */

/* A cluster in one query; credentials are write-only: only whether set. */
#define FADO_CLUSTER_JSON_SQL \
    "SELECT c.name, json_build_object(" \
    " 'name', c.name, 'zone', c.zone, 'zones', to_json(c.zones), 'healthy', c.healthy," \
    " 'functions', COALESCE((SELECT json_agg(fado_endpoint_json(e) ORDER BY e.address)" \
    "     FROM endpoints e WHERE e.cluster = c.name), '[]')," \
    " 'storage', json_build_object('endpoint', c.storage_endpoint," \
    "     'credentials_set', c.storage_access_key <> '' AND c.storage_secret_key <> ''," \
    "     'management_url', NULLIF(c.management_url, ''))," \
    " 'version', c.version)::text FROM clusters c"

static json_t *
fado_cluster_json(fado_req_t *req, const char *name)
{
    return fado_api_one(req, FADO_CLUSTER_JSON_SQL " WHERE c.name = $1", "cluster", name);
}

/*
 * A cluster's zones: "zones" (1..16 distinct names) or the older "zone"
 * (one name); both may be given when zone is the list's first (what GET
 * answers). Writes the text[] literal and points *first at the first zone.
 */
static int
fado_cluster_zones(fado_req_t *req, json_t *obj, const char *prefix, char *out,
    size_t size, const char **first)
{
    char         f[128];
    json_t      *arr = json_object_get(obj, "zones");
    const char  *zone;
    size_t       i, j;

    if (arr == NULL && json_object_get(obj, "zone") == NULL) {
        snprintf(f, sizeof(f), "%szones", prefix);
        fado_req_error(req, 400, "missing_field", f,
                       "%s is required (a list of 1 to 16 zone names)", f);
        return -1;
    }
    snprintf(f, sizeof(f), "%szone", prefix);
    zone = fado_api_str(req, obj, "zone", f, 0);
    if (req->json != NULL) {
        return -1;
    }
    if (arr == NULL) {
        if (!fado_valid_name(zone)) {
            fado_req_error(req, 400, "invalid_field", f, "%s is not a valid zone name", f);
            return -1;
        }
        snprintf(out, size, "{%s}", zone);
        *first = zone;
        return 0;
    }
    snprintf(f, sizeof(f), "%szones", prefix);
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > 16) {
        fado_req_error(req, 400, "invalid_field", f, "%s must be a list of 1 to 16 zone names", f);
        return -1;
    }
    for (i = 0; i < json_array_size(arr); i++) {
        const char  *z = json_string_value(json_array_get(arr, i));

        for (j = 0; z != NULL && j < i; j++) {
            if (strcmp(z, json_string_value(json_array_get(arr, j))) == 0) {
                fado_req_error(req, 400, "invalid_field", f, "%s[%zu] repeats \"%s\"", f, i, z);
                return -1;
            }
        }
    }
    if (fado_api_names(req, obj, "zones", f, 0, out, size) != 0) {
        return -1;
    }
    *first = json_string_value(json_array_get(arr, 0));
    if (zone != NULL && strcmp(zone, *first) != 0) {
        snprintf(f, sizeof(f), "%szone", prefix);
        fado_req_error(req, 400, "invalid_field", f,
                       "%s must be the first of zones (or be left out)", f);
        return -1;
    }
    return 0;
}

/*
 * Creates or updates a cluster from a JSON object; prefix names fields in
 * errors (e.g. "clusters[2]."). version: the expected version for an
 * update (0: create; -1: upsert, for import). Returns 0 or -1 (error set).
 */
static int
fado_cluster_put(fado_req_t *req, json_t *obj, const char *name_in, long version,
    const char *prefix)
{
    char         f[128], vbuf[24], zones[1100];
    const char  *written[64];
    fado_endpoint_t  eps[64];
    long         weights[64], maxes[64];
    const char  *name, *zone, *endpoint = "", *ak = NULL, *sk = NULL;
    json_t      *fns, *storage, *fn;
    size_t       i, nfn = 0;
    PGresult    *res;

#define FIELD(x)  (snprintf(f, sizeof(f), "%s%s", prefix, x), f)
    name = name_in ? name_in : fado_api_str(req, obj, "name", FIELD("name"), 1);
    if (name == NULL) {
        return -1;
    }
    if (!fado_valid_name(name)) {
        fado_req_error(req, 400, "invalid_field", FIELD("name"),
                       "name must be 1-63 characters of letters, digits, '.', '_', '-'");
        return -1;
    }
    /* zones (1..16) or, as before multi-zone clusters, zone: one of them. */
    if (fado_cluster_zones(req, obj, prefix, zones, sizeof(zones), &zone) != 0) {
        return -1;
    }
    fns = json_object_get(obj, "functions");
    if (fns != NULL && (!json_is_array(fns) || json_array_size(fns) > 64)) {
        fado_req_error(req, 400, "invalid_field", FIELD("functions"),
                       "functions must be an array of at most 64 endpoints");
        return -1;
    }
    json_array_foreach(fns, i, fn) {
        char         sub[96];
        const char  *addr;

        snprintf(sub, sizeof(sub), "%sfunctions[%zu].", prefix, i);
        if (!json_is_object(fn)) {
            fado_req_error(req, 400, "invalid_field", FIELD("functions"),
                           "functions[%zu] must be an object", i);
            return -1;
        }
        addr = json_string_value(json_object_get(fn, "address"));
        if (addr == NULL) {
            addr = json_string_value(json_object_get(fn, "url"));
        }
        snprintf(f, sizeof(f), "%saddress", sub);
        if (addr == NULL) {
            fado_req_error(req, 400, "missing_field", f, "%s is required: IPv4:port,"
                           " [IPv6]:port or http[s]://host[:port][/path]", f);
            return -1;
        } else {
            const char  *why = fado_valid_endpoint(addr, &eps[nfn]);
            if (why != NULL) {
                fado_req_error(req, 400, "invalid_field", f, "%s must be IPv4:port, [IPv6]:port"
                               " or http[s]://host[:port][/path]: %s", f, why);
                return -1;
            }
        }
        written[nfn] = addr;
        snprintf(f, sizeof(f), "%sweight", sub);
        if ((weights[nfn] = fado_api_int(req, fn, "weight", f, 1, 1000, 1)) < 0) {
            return -1;
        }
        snprintf(f, sizeof(f), "%smax_inflight", sub);
        if ((maxes[nfn] = fado_api_int(req, fn, "max_inflight", f, 0, 65535, 0)) < 0) {
            return -1;
        }
        nfn++;
    }
    storage = json_object_get(obj, "storage");
    if (storage != NULL && !json_is_null(storage)) {
        if (!json_is_object(storage)) {
            fado_req_error(req, 400, "invalid_field", FIELD("storage"), "storage must be an object");
            return -1;
        }
        endpoint = fado_api_str(req, storage, "endpoint", FIELD("storage.endpoint"), 1);
        if (endpoint == NULL) {
            return -1;
        }
        if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
            fado_req_error(req, 400, "invalid_field", FIELD("storage.endpoint"),
                           "storage.endpoint must be an http:// or https:// URL");
            return -1;
        }
        ak = fado_api_str(req, storage, "access_key", FIELD("storage.access_key"), 0);
        sk = fado_api_str(req, storage, "secret_key", FIELD("storage.secret_key"), 0);
        if ((ak == NULL) != (sk == NULL)) {
            fado_req_error(req, 400, "missing_field",
                           FIELD(ak ? "storage.secret_key" : "storage.access_key"),
                           "access_key and secret_key go together");
            return -1;
        }
    }

    {
        const char  *p[1] = { zones };
        res = fado_api_query(req, "SELECT string_agg(z, ',') FROM unnest($1::text[]) z"
                             " WHERE z NOT IN (SELECT name FROM zones)", 1, p);
        if (res == NULL) {
            return -1;
        }
        if (!PQgetisnull(res, 0, 0)) {
            fado_req_error(req, 422, "unknown_reference",
                           FIELD(json_object_get(obj, "zones") ? "zones" : "zone"),
                           "unknown zones: %s", PQgetvalue(res, 0, 0));
            PQclear(res);
            return -1;
        }
        PQclear(res);
    }

    snprintf(vbuf, sizeof(vbuf), "%ld", version);
    {
        /* Credentials given replace the stored ones; absent, they are kept. */
        const char  *p[7] = { name, zones, endpoint, ak ? ak : "", sk ? sk : "", zone, vbuf };
        const char  *sql = version == 0
            ? "INSERT INTO clusters (name, zone, zones, storage_endpoint, storage_access_key,"
              " storage_secret_key) VALUES ($1, $6, $2::text[], $3, $4, $5) RETURNING version"
            : version > 0
            ? "UPDATE clusters SET zone = $6, zones = $2::text[], storage_endpoint = $3,"
              " storage_access_key = CASE WHEN $4 = '' THEN storage_access_key ELSE $4 END,"
              " storage_secret_key = CASE WHEN $5 = '' THEN storage_secret_key ELSE $5 END,"
              " version = version + 1 WHERE name = $1 AND version = $7::int RETURNING version"
            : "INSERT INTO clusters (name, zone, zones, storage_endpoint, storage_access_key,"
              " storage_secret_key) VALUES ($1, $6, $2::text[], $3, $4, $5)"
              " ON CONFLICT (name) DO UPDATE SET zone = EXCLUDED.zone, zones = EXCLUDED.zones,"
              " storage_endpoint = EXCLUDED.storage_endpoint,"
              " storage_access_key = CASE WHEN $4 = '' THEN clusters.storage_access_key ELSE $4 END,"
              " storage_secret_key = CASE WHEN $5 = '' THEN clusters.storage_secret_key ELSE $5 END,"
              " version = clusters.version + 1"
              " WHERE (clusters.zones, clusters.storage_endpoint)"
              "       IS DISTINCT FROM ($2::text[], $3)"
              "    OR ($4 <> '' AND (clusters.storage_access_key, clusters.storage_secret_key)"
              "        IS DISTINCT FROM ($4, $5))"
              " RETURNING version";

        res = fado_api_query(req, sql, version > 0 ? 7 : 6, p);
        if (res == NULL) {
            return -1;
        }
        if (version > 0 && PQntuples(res) == 0) {
            PQclear(res);
            fado_req_error(req, 409, "version_conflict", "version",
                           "cluster \"%s\" changed since version %ld (or does not exist)",
                           name, version);
            return -1;
        }
        PQclear(res);
    }

    {
        const char  *p[1] = { name };
        if (fado_api_exec(req, "DELETE FROM endpoints WHERE cluster = $1", 1, p) != 0) {
            return -1;
        }
    }
    for (i = 0; i < nfn; i++) {
        char         w[24], m[24], port[8];
        const char  *p[9] = { name, written[i], w, m, eps[i].https ? "https" : "http",
                              eps[i].host, port, eps[i].path, eps[i].named ? "t" : "f" };

        snprintf(w, sizeof(w), "%ld", weights[i]);
        snprintf(m, sizeof(m), "%ld", maxes[i]);
        snprintf(port, sizeof(port), "%d", eps[i].port);
        if (fado_api_exec(req, "INSERT INTO endpoints (cluster, address, weight, max_inflight,"
                          " scheme, host, port, path, named) VALUES ($1, $2, $3::int, $4::int,"
                          " $5, $6, $7::int, $8, $9::boolean) ON CONFLICT DO NOTHING",
                          9, p) != 0)
        {
            return -1;
        }
    }
#undef FIELD
    return 0;
}

/* A page of (name, json) rows from one query. */
static void
fado_api_list(fado_req_t *req, const char *sql)
{
    fado_api_page_t  pg;
    const char      *p[2] = { req->query_cursor ? req->query_cursor : "", pg.fetch };
    PGresult        *res;

    if (fado_api_page_limit(req, FADO_LIST_DEFAULT, FADO_LIST_MAX, &pg) != 0
        || (res = fado_api_query(req, sql, 2, p)) == NULL)
    {
        return;
    }
    req->json = fado_api_page_json(req, res, &pg, fado_api_row_item, NULL);
    if (req->json != NULL) {
        req->status = 200;
    }
    PQclear(res);
}

/* ------------------------------------------------------------ buckets */

/*
 * A bucket as the API shows it, built by PostgreSQL in one query (bucket,
 * placement result and replica states), so reads cost one round trip.
 */
#define FADO_BUCKET_JSON_SQL \
    "SELECT b.name, json_build_object(" \
    " 'name', b.name, 'home_cluster', b.home_cluster," \
    " 'placement', json_build_object('allowed_zones', to_json(b.allowed_zones)," \
    "     'replicas', b.replicas, 'pinned_clusters', to_json(b.pinned_clusters)," \
    "     'cap_replicas', b.cap_replicas)," \
    " 'policy', b.policy," \
    " 'placement_result', json_build_object('satisfiable', b.placement_ok," \
    "     'clusters', COALESCE((SELECT json_agg(r.cluster ORDER BY r.cluster)" \
    "         FROM replicas r WHERE r.bucket = b.name AND r.state <> 'removing'), '[]')," \
    "     'reason', b.placement_reason," \
    "     'capped', CASE WHEN b.placement_effective IS NOT NULL THEN json_build_object(" \
    "         'requested', b.replicas, 'effective', b.placement_effective) END)," \
    " 'replicas', COALESCE((SELECT json_agg(json_build_object('cluster', r.cluster," \
    "     'state', r.state, 'reason', r.reason) ORDER BY r.cluster)" \
    "     FROM replicas r WHERE r.bucket = b.name), '[]')," \
    " 'home_unavailable', fado_bucket_home_unavailable(b)," \
    " 'home', fado_bucket_home_json(b), 'released_copies', fado_bucket_copies_json(b.name)," \
    " 'route_override', (SELECT json_build_object('policy', o.policy," \
    "     'endpoints', (SELECT json_agg(json_build_object('address', e.address," \
    "         'cluster', e.cluster, 'weight', e.weight, 'max_inflight', e.max_inflight)" \
    "         ORDER BY e.position) FROM route_override_endpoints e WHERE e.bucket = o.bucket))" \
    "     FROM route_overrides o WHERE o.bucket = b.name)," \
    " 'version', b.version)::text FROM buckets b"

static json_t *
fado_bucket_json(fado_req_t *req, const char *name)
{
    return fado_api_one(req, FADO_BUCKET_JSON_SQL " WHERE b.name = $1", "bucket", name);
}

/*
 * A bucket's route override (FaDO's route-overrides): an explicit endpoint
 * list, in order, with its own policy, published as an F1 record instead of
 * the placement's route. Absent or null removes it. f is the field prefix.
 */
static int
fado_bucket_override_put(fado_req_t *req, json_t *obj, const char *name, const char *prefix)
{
    char         f[160], addr[64], *js;
    const char  *policy = "-", *cluster;
    json_t      *ov, *eps, *ep, *rows;
    long         weight, maxin;
    size_t       i;
    PGresult    *res;
    int          rc = -1;

#define OFIELD(...)  (snprintf(f, sizeof(f), __VA_ARGS__), f)
    ov = json_object_get(obj, "route_override");
    if (ov == NULL || json_is_null(ov)) {
        const char  *p[1] = { name };
        return fado_api_exec(req, "DELETE FROM route_overrides WHERE bucket = $1", 1, p);
    }
    if (!json_is_object(ov)) {
        fado_req_error(req, 400, "invalid_field", OFIELD("%sroute_override", prefix),
                       "route_override must be an object or null");
        return -1;
    }
    if (json_object_get(ov, "policy") != NULL) {
        policy = fado_api_str(req, ov, "policy", OFIELD("%sroute_override.policy", prefix), 0);
        if (policy == NULL) {
            if (req->json != NULL) {
                return -1;
            }
            policy = "-";
        }
        if ((policy = fado_policy_token(policy)) == NULL) {
            fado_req_error(req, 400, "invalid_field", f,
                           "policy must be one of " FADO_POLICY_NAMES);
            return -1;
        }
    }
    eps = json_object_get(ov, "endpoints");
    if (!json_is_array(eps) || json_array_size(eps) == 0
        || json_array_size(eps) > FRC_MAX_ENDPOINTS)
    {
        fado_req_error(req, 400, "invalid_field", OFIELD("%sroute_override.endpoints", prefix),
                       "route_override.endpoints must be an array of 1 to %d endpoints",
                       FRC_MAX_ENDPOINTS);
        return -1;
    }
    rows = json_array();
    if (rows == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return -1;
    }
    json_array_foreach(eps, i, ep) {
        const char  *a;

        if (!json_is_object(ep)) {
            fado_req_error(req, 400, "invalid_field",
                           OFIELD("%sroute_override.endpoints[%zu]", prefix, i),
                           "an endpoint must be an object");
            goto done;
        }
        a = fado_api_str(req, ep, "address",
                         OFIELD("%sroute_override.endpoints[%zu].address", prefix, i), 1);
        if (a == NULL) {
            goto done;
        }
        /*
         * An override's endpoints go into its F1 record as they are: no
         * names (the controller resolves cluster endpoints only), plain
         * http (an origin in the record is cluster endpoints' business).
         */
        {
            fado_endpoint_t  fe;
            const char      *why = fado_valid_endpoint(a, &fe);

            if (why == NULL && (fe.named || fe.https || fe.path[0] != '\0')) {
                why = "an override endpoint is a literal address, plain http, no path";
            }
            if (why != NULL) {
                fado_req_error(req, 400, "invalid_field", f,
                               "%s must be IPv4:port or [IPv6]:port: %s", f, why);
                goto done;
            }
            snprintf(addr, sizeof(addr), strchr(fe.host, ':') ? "[%s]:%d" : "%s:%d",
                     fe.host, fe.port);
        }
        cluster = fado_api_str(req, ep, "cluster",
                               OFIELD("%sroute_override.endpoints[%zu].cluster", prefix, i), 1);
        if (cluster == NULL) {
            goto done;
        }
        if (!frc_record_label_valid(cluster, strlen(cluster))) {
            fado_req_error(req, 400, "invalid_field", f,
                           "%s must be 1-63 characters of A-Z a-z 0-9 - _ .", f);
            goto done;
        }
        weight = fado_api_int(req, ep, "weight",
                              OFIELD("%sroute_override.endpoints[%zu].weight", prefix, i),
                              1, 1000, 1);
        maxin = weight < 0 ? -1
              : fado_api_int(req, ep, "max_inflight",
                             OFIELD("%sroute_override.endpoints[%zu].max_inflight", prefix, i),
                             0, 65535, 0);
        if (weight < 0 || maxin < 0) {
            goto done;
        }
        for (size_t j = 0; j < i; j++) {
            json_t  *o = json_array_get(rows, j);

            if (strcmp(json_string_value(json_object_get(o, "address")), addr) == 0
                && strcmp(json_string_value(json_object_get(o, "cluster")), cluster) == 0)
            {
                fado_req_error(req, 400, "invalid_field",
                               OFIELD("%sroute_override.endpoints[%zu]", prefix, i),
                               "endpoint %s of cluster %s is listed twice", addr, cluster);
                goto done;
            }
        }
        if (json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:I}", "address", addr,
                                                  "cluster", cluster, "weight",
                                                  (json_int_t) weight, "max_inflight",
                                                  (json_int_t) maxin)) != 0)
        {
            fado_req_error(req, 500, "internal", NULL, "out of memory");
            goto done;
        }
    }
    js = json_dumps(rows, JSON_COMPACT);
    if (js == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        goto done;
    }
    {
        const char  *p[3] = { name, policy, js };

        /* the first endpoint whose cluster does not exist, by position */
        res = fado_api_query(req,
            "SELECT min(ord) - 1 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY e (v, ord)"
            " WHERE NOT EXISTS (SELECT 1 FROM clusters c WHERE c.name = v->>'cluster')",
            1, p + 2);
        if (res == NULL) {
            free(js);
            goto done;
        }
        if (!PQgetisnull(res, 0, 0)) {
            i = (size_t) atol(PQgetvalue(res, 0, 0));
            fado_req_error(req, 422, "unknown_reference",
                           OFIELD("%sroute_override.endpoints[%zu].cluster", prefix, i),
                           "cluster \"%s\" does not exist",
                           json_string_value(json_object_get(json_array_get(rows, i),
                                                             "cluster")));
            PQclear(res);
            free(js);
            goto done;
        }
        PQclear(res);
        if (fado_api_exec(req,
                "INSERT INTO route_overrides (bucket, policy) VALUES ($1, $2)"
                " ON CONFLICT (bucket) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()"
                " WHERE route_overrides.policy IS DISTINCT FROM EXCLUDED.policy", 2, p) != 0
            || fado_api_exec(req,
                "DELETE FROM route_override_endpoints WHERE bucket = $1", 1, p) != 0
            || fado_api_exec(req,
                "INSERT INTO route_override_endpoints"
                " (bucket, position, address, cluster, weight, max_inflight)"
                " SELECT $1, (ord - 1)::int, v->>'address', v->>'cluster',"
                "        (v->>'weight')::int, (v->>'max_inflight')::int"
                "   FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY e (v, ord)",
                2, (const char *[]) { name, js }) != 0)
        {
            free(js);
            goto done;
        }
        free(js);
    }
    rc = 0;

done:
    json_decref(rows);
    return rc;
#undef OFIELD
}

static int
fado_bucket_put(fado_req_t *req, json_t *obj, const char *name_in, long version,
    const char *prefix)
{
    char         f[128], zones[2048], pins[2048], reps[24], vbuf[24];
    const char  *name, *home, *policy;
    json_t      *placement;
    long         replicas;
    PGresult    *res;

#define FIELD(x)  (snprintf(f, sizeof(f), "%s%s", prefix, x), f)
    name = name_in ? name_in : fado_api_str(req, obj, "name", FIELD("name"), 1);
    if (name == NULL) {
        return -1;
    }
    if (!fado_valid_bucket(name)) {
        fado_req_error(req, 400, "invalid_field", FIELD("name"),
                       "bucket names are 3-63 characters of a-z, 0-9, '.', '-' (S3 rules)");
        return -1;
    }
    home = fado_api_str(req, obj, "home_cluster", FIELD("home_cluster"), 1);
    if (home == NULL) {
        return -1;
    }
    policy = fado_api_str(req, obj, "policy", FIELD("policy"), 0);
    if (policy == NULL) {
        if (req->json != NULL) {
            return -1;
        }
        policy = "-";
    }
    policy = fado_policy_token(policy);
    if (policy == NULL) {
        fado_req_error(req, 400, "invalid_field", FIELD("policy"),
                       "policy must be one of " FADO_POLICY_NAMES);
        return -1;
    }
    placement = json_object_get(obj, "placement");
    if (placement != NULL && !json_is_object(placement)) {
        fado_req_error(req, 400, "invalid_field", FIELD("placement"),
                       "placement must be an object");
        return -1;
    }
    if (placement == NULL) {
        placement = obj;    /* flat form: allowed_zones, replicas at top level */
    }
    if (fado_api_names(req, placement, "allowed_zones", FIELD("placement.allowed_zones"), 0,
                       zones, sizeof(zones)) != 0
        || fado_api_names(req, placement, "pinned_clusters",
                          FIELD("placement.pinned_clusters"), 0, pins, sizeof(pins)) != 0)
    {
        return -1;
    }
    replicas = fado_api_int(req, placement, "replicas", FIELD("placement.replicas"), 1, 64, 1);
    if (replicas < 0) {
        return -1;
    }

    /* References must exist: an unknown name is a 422, naming the field. */
    {
        const char  *p[3] = { home, zones, pins };
        res = fado_api_query(req,
            "SELECT (SELECT count(*) FROM clusters WHERE name = $1),"
            "       (SELECT string_agg(z, ',') FROM unnest($2::text[]) z"
            "         WHERE z NOT IN (SELECT name FROM zones)),"
            "       (SELECT string_agg(c, ',') FROM unnest($3::text[]) c"
            "         WHERE c NOT IN (SELECT name FROM clusters))", 3, p);
        if (res == NULL) {
            return -1;
        }
        if (PQgetvalue(res, 0, 0)[0] == '0') {
            fado_req_error(req, 422, "unknown_reference", FIELD("home_cluster"),
                           "cluster \"%s\" does not exist", home);
        } else if (!PQgetisnull(res, 0, 1)) {
            fado_req_error(req, 422, "unknown_reference", FIELD("placement.allowed_zones"),
                           "unknown zones: %s", PQgetvalue(res, 0, 1));
        } else if (!PQgetisnull(res, 0, 2)) {
            fado_req_error(req, 422, "unknown_reference", FIELD("placement.pinned_clusters"),
                           "unknown clusters: %s", PQgetvalue(res, 0, 2));
        }
        PQclear(res);
        if (req->json != NULL) {
            return -1;
        }
    }
    /* A home moves only to a cluster that already holds the data. */
    if (version != 0) {
        fado_err_t  err;

        if (fado_lifecycle_home_move(req->conn, name, home, FIELD("home_cluster"), &err) != 0) {
            fado_api_err(req, &err);
            return -1;
        }
    }

    snprintf(reps, sizeof(reps), "%ld", replicas);
    snprintf(vbuf, sizeof(vbuf), "%ld", version);
    {
        const char  *p[7] = { name, home, zones, reps, pins, policy, vbuf };
        const char  *sql = version == 0
            ? "INSERT INTO buckets (name, home_cluster, allowed_zones, replicas,"
              " pinned_clusters, policy) VALUES ($1, $2, $3::text[], $4::int, $5::text[], $6)"
              " RETURNING version"
            : version > 0
            ? "UPDATE buckets SET home_cluster = $2, allowed_zones = $3::text[],"
              " replicas = $4::int, pinned_clusters = $5::text[], policy = $6,"
              " version = version + 1 WHERE name = $1 AND version = $7::int RETURNING version"
            : "INSERT INTO buckets (name, home_cluster, allowed_zones, replicas,"
              " pinned_clusters, policy) VALUES ($1, $2, $3::text[], $4::int, $5::text[], $6)"
              " ON CONFLICT (name) DO UPDATE SET home_cluster = EXCLUDED.home_cluster,"
              " allowed_zones = EXCLUDED.allowed_zones, replicas = EXCLUDED.replicas,"
              " pinned_clusters = EXCLUDED.pinned_clusters, policy = EXCLUDED.policy,"
              " version = buckets.version + 1"
              " WHERE (buckets.home_cluster, buckets.allowed_zones, buckets.replicas,"
              "        buckets.pinned_clusters, buckets.policy)"
              "   IS DISTINCT FROM (EXCLUDED.home_cluster, EXCLUDED.allowed_zones,"
              "        EXCLUDED.replicas, EXCLUDED.pinned_clusters, EXCLUDED.policy)"
              " RETURNING version";

        res = fado_api_query(req, sql, version > 0 ? 7 : 6, p);
        if (res == NULL) {
            return -1;
        }
        if (version > 0 && PQntuples(res) == 0) {
            PQclear(res);
            fado_req_error(req, 409, "version_conflict", "version",
                           "bucket \"%s\" changed since version %ld (or does not exist)",
                           name, version);
            return -1;
        }
        PQclear(res);
    }
#undef FIELD
    return fado_bucket_override_put(req, obj, name, prefix);
}

/*
 * Clusters and buckets share their handlers: list, get, create (POST),
 * replace (PUT with the version it was based on) and delete.
 */
typedef struct {
    const char  *kind;
    const char  *list_sql;
    json_t     *(*one)(fado_req_t *req, const char *name);
    int         (*put)(fado_req_t *req, json_t *obj, const char *name, long version,
                       const char *prefix);
    const char  *delete_sql;
} fado_resource_t;

static void
fado_api_resource(fado_req_t *req, const char *id, const fado_resource_t *r)
{
    if (strcmp(req->method, "GET") == 0 && id[0] == '\0') {
        fado_api_list(req, r->list_sql);
        return;
    }
    if (strcmp(req->method, "GET") == 0) {
        json_t  *j = r->one(req, id);    /* on error it set req->json */
        if (j != NULL) {
            req->json = j;
            req->status = 200;
        }
        return;
    }
    if ((strcmp(req->method, "POST") == 0 && id[0] == '\0')
        || (strcmp(req->method, "PUT") == 0 && id[0] != '\0'))
    {
        json_t  *body = fado_api_body(req);
        long     version = 0;
        int      ok;

        if (body == NULL) {
            return;
        }
        if (id[0] != '\0') {
            version = fado_api_int(req, body, "version", "version", 1, 2147483647L, 0);
            if (version == 0) {
                fado_req_error(req, 400, "missing_field", "version",
                               "version is required: the version the update is based on");
            }
            if (version <= 0) {
                json_decref(body);
                return;
            }
        }
        if (fado_api_begin(req) != 0) {
            json_decref(body);
            return;
        }
        ok = r->put(req, body, id[0] ? id : NULL, version, "") == 0;
        fado_api_end(req, ok);
        if (ok && req->json == NULL) {
            const char  *name = id[0] ? id : json_string_value(json_object_get(body, "name"));
            json_t      *j = r->one(req, name);
            if (j != NULL) {
                req->json = j;
                req->status = id[0] ? 200 : 201;
            }
            fado_api_changed(req);
        }
        json_decref(body);
        return;
    }
    if (strcmp(req->method, "DELETE") == 0 && id[0] != '\0') {
        const char  *p[1] = { id };
        PGresult    *res = fado_api_query(req, r->delete_sql, 1, p);

        if (res == NULL) {
            return;
        }
        if (PQntuples(res) == 0) {
            fado_req_error(req, 404, "not_found", NULL, "%s \"%s\" does not exist", r->kind, id);
        } else {
            req->status = 204;
            fado_api_changed(req);
        }
        PQclear(res);
        return;
    }
    fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here", req->method);
}

static const fado_resource_t  fado_clusters = {
    "cluster",
    FADO_CLUSTER_JSON_SQL " WHERE c.name > $1 ORDER BY c.name LIMIT $2::int",
    fado_cluster_json, fado_cluster_put,
    "DELETE FROM clusters WHERE name = $1 RETURNING name"
};

/* Deleting a bucket stops managing and routing it; MinIO keeps the data. */
static const fado_resource_t  fado_buckets = {
    "bucket",
    FADO_BUCKET_JSON_SQL " WHERE b.name > $1 ORDER BY b.name LIMIT $2::int",
    fado_bucket_json, fado_bucket_put,
    "DELETE FROM buckets WHERE name = $1 RETURNING name"
};

/* ------------------------------------------------------------ routes */

/*
 * A published route as the gateways see it, decoded by the gateway's own
 * decoder (fado_route_view.c): the bucket record joined, for contract 2,
 * with the cluster records that are up.
 */
#define FADO_ROUTE_SQL \
    "SELECT p.bucket, p.version, p.body FROM published_routes p WHERE p.body NOT LIKE '!%' "

/* The published cluster records as {name: body}. */
static json_t *
fado_api_route_clusters(fado_req_t *req)
{
    PGresult  *res = fado_api_query(req,
        "SELECT cluster, body FROM published_clusters WHERE body NOT LIKE '!%'", 0, NULL);
    json_t    *map;

    if (res == NULL) {
        return NULL;
    }
    map = json_object();
    for (int i = 0; map != NULL && i < PQntuples(res); i++) {
        if (json_object_set_new(map, PQgetvalue(res, i, 0),
                                json_string(PQgetvalue(res, i, 1))) != 0)
        {
            json_decref(map);
            map = NULL;
        }
    }
    PQclear(res);
    if (map == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
    }
    return map;
}

static json_t *
fado_api_route_row(fado_req_t *req, PGresult *res, int row, json_t *clusters)
{
    char     err[256];
    json_t  *j = fado_route_view(PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
                                 PQgetvalue(res, row, 2), clusters, err, sizeof(err));

    if (j == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"published route unreadable\" error=%s", FADO_LOG_Q(err));
        fado_req_error(req, 500, "internal", NULL, "cannot read a published route");
    }
    return j;
}

static json_t *
fado_api_route_item(fado_req_t *req, PGresult *res, int row, void *clusters)
{
    return fado_api_route_row(req, res, row, clusters);
}

static void
fado_api_routes(fado_req_t *req, const char *id)
{
    PGresult  *res;
    json_t    *clusters;

    if (strcmp(req->method, "GET") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "routes are read-only");
        return;
    }
    if (id[0] == '\0') {
        fado_api_page_t  pg;
        const char      *p[2] = { req->query_cursor ? req->query_cursor : "", pg.fetch };

        if (fado_api_page_limit(req, FADO_LIST_DEFAULT, FADO_LIST_MAX, &pg) != 0
            || (res = fado_api_query(req,
                FADO_ROUTE_SQL "AND p.bucket > $1"
                " ORDER BY p.bucket LIMIT $2::int", 2, p)) == NULL)
        {
            return;
        }
        if ((clusters = fado_api_route_clusters(req)) == NULL) {
            PQclear(res);
            return;
        }
        req->json = fado_api_page_json(req, res, &pg, fado_api_route_item, clusters);
        if (req->json != NULL) {
            req->status = 200;
        }
        json_decref(clusters);
        PQclear(res);
        return;
    }
    {
        /* "_default" names the default route (stored under the empty name). */
        const char  *p[1] = { strcmp(id, "_default") == 0 ? "" : id };
        res = fado_api_query(req, FADO_ROUTE_SQL "AND p.bucket = $1", 1, p);
        if (res == NULL) {
            return;
        }
        if (PQntuples(res) == 0) {
            fado_req_error(req, 404, "not_found", NULL, "no route published for \"%s\"", id);
        } else if ((clusters = fado_api_route_clusters(req)) != NULL) {
            if ((req->json = fado_api_route_row(req, res, 0, clusters)) != NULL) {
                req->status = 200;
            }
            json_decref(clusters);
        }
        PQclear(res);
    }
}

/* ------------------------------------------------------------ settings */

static void
fado_api_settings(fado_req_t *req)
{
    PGresult  *res;

    if (strcmp(req->method, "PUT") == 0) {
        json_t      *body = fado_api_body(req);
        const char  *policy, *header;

        if (body == NULL) {
            return;
        }
        policy = fado_api_str(req, body, "default_policy", "default_policy", 0);
        header = req->json ? NULL : fado_api_str(req, body, "bucket_header", "bucket_header", 0);
        if (req->json == NULL && policy != NULL
            && (policy = fado_policy_token(policy)) == NULL)
        {
            fado_req_error(req, 400, "invalid_field", "default_policy",
                           "default_policy must be one of " FADO_POLICY_NAMES);
        }
        /* the gateway's rule (lib/route/frc_record.c), so it takes what we publish */
        if (req->json == NULL && header != NULL
            && !frc_record_header_valid(header, strlen(header)))
        {
            fado_req_error(req, 400, "invalid_field", "bucket_header",
                           "bucket_header must be a header name of 1-64 letters, digits and '-'");
        }
        if (req->json == NULL && policy != NULL) {
            const char  *p[2] = { "default_policy", policy };
            (void) fado_api_exec(req, "UPDATE settings SET value = $2 WHERE key = $1", 2, p);
        }
        if (req->json == NULL && header != NULL) {
            const char  *p[2] = { "bucket_header", header };
            (void) fado_api_exec(req, "UPDATE settings SET value = $2 WHERE key = $1", 2, p);
        }
        json_decref(body);
        if (req->json != NULL) {
            return;
        }
        fado_api_changed(req);
    } else if (strcmp(req->method, "GET") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here", req->method);
        return;
    }
    res = fado_api_query(req, "SELECT key, value FROM settings ORDER BY key", 0, NULL);
    if (res == NULL) {
        return;
    }
    req->json = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        json_object_set_new(req->json, PQgetvalue(res, i, 0), json_string(PQgetvalue(res, i, 1)));
    }
    req->status = 200;
    PQclear(res);
}

/* ------------------------------------------------------------ import */

/* The import itself is controller/fado_import.c; here only HTTP. */
static void
fado_api_import(fado_req_t *req)
{
    static const unsigned int  status[] = {
        [FADO_IMPORT_OK] = 200, [FADO_IMPORT_INVALID] = 400, [FADO_IMPORT_UNKNOWN] = 422,
        [FADO_IMPORT_CONFLICT] = 409, [FADO_IMPORT_STORAGE] = 502,
        [FADO_IMPORT_DATABASE] = 503, [FADO_IMPORT_INTERNAL] = 500
    };
    fado_import_options_t      opt = { 0 };
    fado_import_error_t        err;
    const char                *adopt = fado_req_arg(req, "adopt");
    json_t                    *body, *summary;

    if (strcmp(req->method, "POST") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "import is POST");
        return;
    }
    if (adopt != NULL) {
        if (strcmp(adopt, "true") != 0 && strcmp(adopt, "false") != 0) {
            fado_req_error(req, 400, "invalid_field", "adopt", "adopt must be true or false");
            return;
        }
        opt.adopt = adopt[0] == 't';
    }
    if ((body = fado_api_body(req)) == NULL) {
        return;
    }
    if (fado_import(req->conn, body, &opt, &summary, &err) != 0) {
        fado_req_error(req, status[err.status], err.code, err.field[0] ? err.field : NULL,
                       "%s", err.message);
    } else {
        req->json = summary;
        req->status = 200;
        fado_api_changed(req);
    }
    json_decref(body);
}

/* ------------------------------------------------------------ router */

void
fado_api_handle(fado_req_t *req)
{
    char  res[32], id[128];

    if (strcmp(req->path, "/readyz") == 0) {
        /* Reaching here means PostgreSQL answered and migrations ran. */
        req->json = json_pack("{s:s, s:b, s:b}", "status", "ready", "redis",
                              fado_reconciler_redis_ok(req->app->rec), "leader",
                              fado_reconciler_leading(req->app->rec));
        req->status = 200;
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        fado_api_metrics(req);
        return;
    }
    if (strncmp(req->path, "/v1/minio/events", 16) == 0) {
        if (req->path[16] == '\0') {
            fado_api_events(req, "");
            return;
        }
        if (req->path[16] == '/' && strchr(req->path + 17, '/') == NULL) {
            fado_api_events(req, req->path + 17);
            return;
        }
    }
    {
        char         bucket[64], cluster[64];
        const char  *key;

        if (fado_api_copies_path(req->path, bucket, sizeof(bucket), cluster,
                                 sizeof(cluster))) {
            fado_api_copies(req, bucket, cluster);
            return;
        }
        if (fado_api_objects_path(req->path, bucket, sizeof(bucket), &key)) {
            fado_api_objects_handle(req, bucket, key);
            return;
        }
    }
    if (fado_api_console_handle(req)) {
        return;
    }
    if (fado_api_split(req->path, res, sizeof(res), id, sizeof(id)) != 0) {
        fado_req_error(req, 404, "not_found", NULL, "no such resource: %s", req->path);
        return;
    }
    if (fado_api_valid_input(req, res, id) != 0) {
        return;
    }
    if (strcmp(res, "zones") == 0) {
        fado_api_zones(req, id);
    } else if (strcmp(res, "clusters") == 0) {
        fado_api_resource(req, id, &fado_clusters);
    } else if (strcmp(res, "buckets") == 0) {
        fado_api_resource(req, id, &fado_buckets);
    } else if (strcmp(res, "routes") == 0) {
        fado_api_routes(req, id);
    } else if (strcmp(res, "settings") == 0 && id[0] == '\0') {
        fado_api_settings(req);
    } else if (strcmp(res, "tokens") == 0) {
        fado_api_tokens(req, id);
    } else if (strcmp(res, "import") == 0 && id[0] == '\0') {
        fado_api_import(req);
    } else {
        fado_req_error(req, 404, "not_found", NULL, "no such resource: %s", req->path);
    }
}
