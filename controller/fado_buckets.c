/*
 * fado_buckets: a bucket's rows (buckets, route_overrides,
 * route_override_endpoints) written and read (see fado_buckets.h). Lists
 * go to PostgreSQL as JSON parameters, so no array literal is built here.
 */

#include "fado_buckets.h"
#include "fado_db.h"
#include "fado_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A bucket as the API shows it, built by PostgreSQL in one query (bucket,
 * placement result and replica states), so reads cost one round trip.
 */
#define FADO_BUCKETS_JSON_SQL \
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

static void
fado_buckets_oom(fado_err_t *err)
{
    fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
}

/* A list of names as its jsonb parameter; NULL (absent) is the empty list. */
static char *
fado_buckets_names_json(json_t *names, fado_err_t *err)
{
    char  *js = names != NULL ? json_dumps(names, JSON_COMPACT) : strdup("[]");

    if (js == NULL) {
        fado_buckets_oom(err);
    }
    return js;
}

/* The names b refers to exist: an unknown one is an error naming its field. */
static int
fado_buckets_refs(PGconn *conn, const fado_bucket_t *b, const char *zones, const char *pins,
    fado_err_t *err)
{
    const char  *p[3] = { b->home, zones, pins };
    PGresult    *res;
    int          rc = -1;

    res = fado_db_exec_err(conn, err,
        "SELECT (SELECT count(*) FROM clusters WHERE name = $1),"
        "       (SELECT string_agg(z, ',' ORDER BY o)"
        "          FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS a (z, o)"
        "         WHERE (SELECT true FROM zones WHERE name = z) IS NULL),"
        "       (SELECT string_agg(c, ',' ORDER BY o)"
        "          FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS a (c, o)"
        "         WHERE (SELECT true FROM clusters WHERE name = c) IS NULL)", 3, p);
    if (res == NULL) {
        return -1;
    }
    if (PQgetvalue(res, 0, 0)[0] == '0') {
        fado_err_set(err, FADO_ERR_UNKNOWN, "unknown_reference", "home_cluster",
                     "cluster \"%s\" does not exist", b->home);
    } else if (!PQgetisnull(res, 0, 1)) {
        fado_err_set(err, FADO_ERR_UNKNOWN, "unknown_reference", "placement.allowed_zones",
                     "unknown zones: %s", PQgetvalue(res, 0, 1));
    } else if (!PQgetisnull(res, 0, 2)) {
        fado_err_set(err, FADO_ERR_UNKNOWN, "unknown_reference", "placement.pinned_clusters",
                     "unknown clusters: %s", PQgetvalue(res, 0, 2));
    } else {
        rc = 0;
    }
    PQclear(res);
    return rc;
}

static int
fado_buckets_row(PGconn *conn, const fado_bucket_t *b, long version, const char *zones,
    const char *pins, fado_err_t *err)
{
    char         reps[24], vbuf[24];
    const char  *p[7] = { b->name, b->home, zones, reps, pins, b->policy, vbuf };
    PGresult    *res;

    snprintf(reps, sizeof(reps), "%ld", b->replicas);
    snprintf(vbuf, sizeof(vbuf), "%ld", version);
    res = fado_db_exec_err(conn, err, version == 0
        ? "INSERT INTO buckets (name, home_cluster, allowed_zones, replicas, pinned_clusters,"
          " policy) VALUES ($1, $2, " FADO_DB_TEXT_ARRAY("$3") ", $4::int, "
          FADO_DB_TEXT_ARRAY("$5") ", $6) RETURNING version"
        : "UPDATE buckets SET home_cluster = $2, allowed_zones = " FADO_DB_TEXT_ARRAY("$3") ","
          " replicas = $4::int, pinned_clusters = " FADO_DB_TEXT_ARRAY("$5") ", policy = $6,"
          " version = version + 1 WHERE name = $1 AND version = $7::int RETURNING version",
        version == 0 ? 6 : 7, p);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        fado_err_set(err, FADO_ERR_CONFLICT, "version_conflict", "version",
                     "bucket \"%s\" changed since version %ld (or does not exist)",
                     b->name, version);
        return -1;
    }
    PQclear(res);
    return 0;
}

static int
fado_buckets_run(PGconn *conn, fado_err_t *err, const char *sql, int n, const char *const *p)
{
    PGresult  *res = fado_db_exec_err(conn, err, sql, n, p);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

/* The override's endpoints as rows for one INSERT. */
static char *
fado_buckets_override_json(const fado_bucket_t *b, fado_err_t *err)
{
    json_t  *rows = json_array();
    char    *js = NULL;
    size_t   i;

    for (i = 0; rows != NULL && i < b->noverride; i++) {
        const fado_bucket_endpoint_t  *e = &b->override[i];

        if (json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:I}", "address",
                e->address, "cluster", e->cluster, "weight", (json_int_t) e->weight,
                "max_inflight", (json_int_t) e->max_inflight)) != 0)
        {
            break;
        }
    }
    if (rows != NULL && i == b->noverride) {
        js = json_dumps(rows, JSON_COMPACT);
    }
    json_decref(rows);
    if (js == NULL) {
        fado_buckets_oom(err);
    }
    return js;
}

static int
fado_buckets_override(PGconn *conn, const fado_bucket_t *b, fado_err_t *err)
{
    char        *js, field[96];
    const char  *p[3];
    PGresult    *res;
    int          rc = -1;

    if (b->noverride == 0) {
        return fado_buckets_run(conn, err, "DELETE FROM route_overrides WHERE bucket = $1",
                                1, &b->name);
    }
    if ((js = fado_buckets_override_json(b, err)) == NULL) {
        return -1;
    }
    p[0] = b->name;
    p[1] = b->override_policy;
    p[2] = js;
    /* the first endpoint whose cluster does not exist, by position */
    res = fado_db_exec_err(conn, err,
        "SELECT min(ord) - 1 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY e (v, ord)"
        " WHERE (SELECT true FROM clusters c WHERE c.name = v->>'cluster') IS NULL", 1, p + 2);
    if (res == NULL) {
        goto done;
    }
    if (!PQgetisnull(res, 0, 0)) {
        size_t  i = (size_t) atol(PQgetvalue(res, 0, 0));

        snprintf(field, sizeof(field), "route_override.endpoints[%zu].cluster", i);
        fado_err_set(err, FADO_ERR_UNKNOWN, "unknown_reference", field,
                     "cluster \"%s\" does not exist",
                     i < b->noverride ? b->override[i].cluster : "");
        PQclear(res);
        goto done;
    }
    PQclear(res);
    if (fado_buckets_run(conn, err,
            "INSERT INTO route_overrides (bucket, policy) VALUES ($1, $2)"
            " ON CONFLICT (bucket) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()"
            " WHERE route_overrides.policy IS DISTINCT FROM EXCLUDED.policy", 2, p) != 0
        || fado_buckets_run(conn, err,
            "DELETE FROM route_override_endpoints WHERE bucket = $1", 1, p) != 0
        || fado_buckets_run(conn, err,
            "INSERT INTO route_override_endpoints"
            " (bucket, position, address, cluster, weight, max_inflight)"
            " SELECT $1, (ord - 1)::int, v->>'address', v->>'cluster',"
            "        (v->>'weight')::int, (v->>'max_inflight')::int"
            "   FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY e (v, ord)",
            2, (const char *[]) { b->name, js }) != 0)
    {
        goto done;
    }
    rc = 0;

done:
    free(js);
    return rc;
}

int
fado_buckets_put(PGconn *conn, const fado_bucket_t *b, long version, fado_err_t *err)
{
    char  *zones, *pins = NULL;
    int    rc = -1;

    zones = fado_buckets_names_json(b->allowed_zones, err);
    if (zones == NULL || (pins = fado_buckets_names_json(b->pinned_clusters, err)) == NULL) {
        goto done;
    }
    if (fado_buckets_refs(conn, b, zones, pins, err) != 0
        /* a home moves only to a cluster that already holds the data */
        || (version != 0
            && fado_lifecycle_home_move(conn, b->name, b->home, "home_cluster", err) != 0)
        || fado_buckets_row(conn, b, version, zones, pins, err) != 0
        || fado_buckets_override(conn, b, err) != 0)
    {
        goto done;
    }
    rc = 0;

done:
    free(pins);
    free(zones);
    return rc;
}

json_t *
fado_buckets_get(PGconn *conn, const char *name, fado_err_t *err)
{
    return fado_db_get_named(conn, FADO_BUCKETS_JSON_SQL " WHERE b.name = $1", "bucket", name,
                             err);
}

PGresult *
fado_buckets_list(PGconn *conn, const char *cursor, const char *fetch, fado_err_t *err)
{
    const char  *p[2] = { cursor, fetch };

    return fado_db_exec_err(conn, err, FADO_BUCKETS_JSON_SQL
                            " WHERE b.name > $1 ORDER BY b.name LIMIT $2::int", 2, p);
}

int
fado_buckets_delete(PGconn *conn, const char *name, fado_err_t *err)
{
    return fado_db_delete_named(conn, "DELETE FROM buckets WHERE name = $1 RETURNING name",
                                "bucket", name, err);
}
