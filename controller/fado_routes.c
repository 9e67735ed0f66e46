/*
 * fado_routes: published routes read and decoded (see fado_routes.h).
 */

#include "fado_routes.h"
#include "fado_db.h"
#include "fado_log.h"
#include "fado_route_view.h"

/* A body starting with '!' marks a route the publisher retracted. */
#define FADO_ROUTES_SQL \
    "SELECT p.bucket, p.version, p.body FROM published_routes p WHERE p.body NOT LIKE '!%' "

json_t *
fado_routes_clusters(PGconn *conn, fado_err_t *err)
{
    return fado_db_object(conn,
        "SELECT cluster, body FROM published_clusters WHERE body NOT LIKE '!%'", err);
}

PGresult *
fado_routes_list(PGconn *conn, const char *cursor, const char *fetch, fado_err_t *err)
{
    const char  *p[2] = { cursor, fetch };

    return fado_db_exec_err(conn, err, FADO_ROUTES_SQL "AND p.bucket > $1"
                            " ORDER BY p.bucket LIMIT $2::int", 2, p);
}

json_t *
fado_routes_view(PGresult *res, int row, json_t *clusters, fado_err_t *err)
{
    char     why[256];
    json_t  *j = fado_route_view(PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
                                 PQgetvalue(res, row, 2), clusters, why, sizeof(why));

    if (j == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"published route unreadable\" error=%s", FADO_LOG_Q(why));
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "cannot read a published route");
    }
    return j;
}

json_t *
fado_routes_get(PGconn *conn, const char *bucket, fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, FADO_ROUTES_SQL "AND p.bucket = $1", 1,
                                      &bucket);
    json_t    *clusters, *j = NULL;

    if (res == NULL) {
        return NULL;
    }
    if (PQntuples(res) == 0) {
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", NULL,
                     "no route published for \"%s\"", bucket[0] ? bucket : "_default");
    } else if ((clusters = fado_routes_clusters(conn, err)) != NULL) {
        j = fado_routes_view(res, 0, clusters, err);
        json_decref(clusters);
    }
    PQclear(res);
    return j;
}
