/*
 * fado_clusters: a cluster's rows (clusters, endpoints) written and read
 * (see fado_clusters.h). Lists go to PostgreSQL as JSON parameters, so no
 * array literal is built here.
 */

#include "fado_clusters.h"
#include "fado_db.h"

#include <stdio.h>
#include <stdlib.h>

/* A cluster in one query; credentials are write-only: only whether set. */
#define FADO_CLUSTERS_JSON_SQL \
    "SELECT c.name, json_build_object(" \
    " 'name', c.name, 'zone', c.zone, 'zones', to_json(c.zones), 'healthy', c.healthy," \
    " 'functions', COALESCE((SELECT json_agg(fado_endpoint_json(e) ORDER BY e.address)" \
    "     FROM endpoints e WHERE e.cluster = c.name), '[]')," \
    " 'storage', json_build_object('endpoint', c.storage_endpoint," \
    "     'credentials_set', c.storage_access_key <> '' AND c.storage_secret_key <> ''," \
    "     'management_url', NULLIF(c.management_url, ''))," \
    " 'version', c.version)::text FROM clusters c"

static char *
fado_clusters_zones_json(const fado_cluster_t *c, fado_err_t *err)
{
    json_t  *arr = json_array();
    char    *js = NULL;

    for (size_t i = 0; arr != NULL && i < c->nzones; i++) {
        if (json_array_append_new(arr, json_string(c->zones[i])) != 0) {
            break;
        }
    }
    if (arr != NULL && json_array_size(arr) == c->nzones) {
        js = json_dumps(arr, JSON_COMPACT);
    }
    json_decref(arr);
    if (js == NULL) {
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
    }
    return js;
}

/* The endpoints as the rows of the endpoints table, for one INSERT. */
static char *
fado_clusters_functions_json(const fado_cluster_t *c, fado_err_t *err)
{
    json_t  *rows = json_array();
    char    *js = NULL;
    size_t   i;

    for (i = 0; rows != NULL && i < c->nfunctions; i++) {
        const fado_cluster_fn_t  *fn = &c->functions[i];

        if (json_array_append_new(rows, json_pack("{s:s, s:I, s:I, s:s, s:s, s:i, s:s, s:b}",
                "address", fn->address, "weight", (json_int_t) fn->weight,
                "max_inflight", (json_int_t) fn->max_inflight,
                "scheme", fn->ep.https ? "https" : "http", "host", fn->ep.host,
                "port", fn->ep.port, "path", fn->ep.path, "named", fn->ep.named)) != 0)
        {
            break;
        }
    }
    if (rows != NULL && i == c->nfunctions) {
        js = json_dumps(rows, JSON_COMPACT);
    }
    json_decref(rows);
    if (js == NULL) {
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
    }
    return js;
}

static int
fado_clusters_write(PGconn *conn, const fado_cluster_t *c, long version, const char *zones,
    const char *functions, fado_err_t *err)
{
    char         vbuf[24];
    PGresult    *res;

    res = fado_db_exec_err(conn, err,
        "SELECT string_agg(z, ',' ORDER BY o)"
        "  FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS a (z, o)"
        " WHERE (SELECT true FROM zones WHERE name = z) IS NULL", 1, &zones);
    if (res == NULL) {
        return -1;
    }
    if (!PQgetisnull(res, 0, 0)) {
        fado_err_set(err, FADO_ERR_UNKNOWN, "unknown_reference", c->zones_field,
                     "unknown zones: %s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return -1;
    }
    PQclear(res);

    snprintf(vbuf, sizeof(vbuf), "%ld", version);
    {
        /* Credentials given replace the stored ones; absent, they are kept. */
        const char  *p[7] = { c->name, zones, c->storage_endpoint,
                              c->access_key ? c->access_key : "",
                              c->secret_key ? c->secret_key : "", c->zones[0], vbuf };

        res = fado_db_exec_err(conn, err, version == 0
            ? "INSERT INTO clusters (name, zone, zones, storage_endpoint, storage_access_key,"
              " storage_secret_key) VALUES ($1, $6, " FADO_DB_TEXT_ARRAY("$2") ", $3, $4, $5)"
              " RETURNING version"
            : "UPDATE clusters SET zone = $6, zones = " FADO_DB_TEXT_ARRAY("$2") ","
              " storage_endpoint = $3,"
              " storage_access_key = CASE WHEN $4 = '' THEN storage_access_key ELSE $4 END,"
              " storage_secret_key = CASE WHEN $5 = '' THEN storage_secret_key ELSE $5 END,"
              " version = version + 1 WHERE name = $1 AND version = $7::int RETURNING version",
            version == 0 ? 6 : 7, p);
        if (res == NULL) {
            return -1;
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            fado_err_set(err, FADO_ERR_CONFLICT, "version_conflict", "version",
                         "cluster \"%s\" changed since version %ld (or does not exist)",
                         c->name, version);
            return -1;
        }
        PQclear(res);
    }

    /* The endpoints become the ones given; a repeated address counts once. */
    {
        const char  *p[2] = { c->name, functions };

        res = fado_db_exec_err(conn, err, "DELETE FROM endpoints WHERE cluster = $1", 1, p);
        if (res == NULL) {
            return -1;
        }
        PQclear(res);
        if (c->nfunctions == 0) {
            return 0;
        }
        res = fado_db_exec_err(conn, err,
            "INSERT INTO endpoints (cluster, address, weight, max_inflight, scheme, host, port,"
            " path, named)"
            " SELECT $1, f.address, f.weight, f.max_inflight, f.scheme, f.host, f.port, f.path,"
            "        f.named"
            "   FROM jsonb_to_recordset($2::jsonb) AS f (address text, weight int,"
            "        max_inflight int, scheme text, host text, port int, path text,"
            "        named boolean)"
            " ON CONFLICT DO NOTHING", 2, p);
        if (res == NULL) {
            return -1;
        }
        PQclear(res);
    }
    return 0;
}

int
fado_clusters_put(PGconn *conn, const fado_cluster_t *c, long version, fado_err_t *err)
{
    char  *zones, *functions;
    int    rc = -1;

    zones = fado_clusters_zones_json(c, err);
    functions = zones != NULL ? fado_clusters_functions_json(c, err) : NULL;
    if (functions != NULL) {
        rc = fado_clusters_write(conn, c, version, zones, functions, err);
    }
    free(functions);
    free(zones);
    return rc;
}

json_t *
fado_clusters_get(PGconn *conn, const char *name, fado_err_t *err)
{
    return fado_db_get_named(conn, FADO_CLUSTERS_JSON_SQL " WHERE c.name = $1", "cluster", name,
                             err);
}

PGresult *
fado_clusters_list(PGconn *conn, const char *cursor, const char *fetch, fado_err_t *err)
{
    const char  *p[2] = { cursor, fetch };

    return fado_db_exec_err(conn, err, FADO_CLUSTERS_JSON_SQL
                            " WHERE c.name > $1 ORDER BY c.name LIMIT $2::int", 2, p);
}

int
fado_clusters_delete(PGconn *conn, const char *name, fado_err_t *err)
{
    return fado_db_delete_named(conn, "DELETE FROM clusters WHERE name = $1 RETURNING name",
                                "cluster", name, err);
}
