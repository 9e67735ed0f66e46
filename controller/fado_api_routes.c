/*
 * fado_api_routes: /v1/routes[/{bucket}], read-only: the route records the
 * publisher wrote, as the gateways decode them. Two reads of the
 * publisher's tables; the decoding is fado_route_view.c's.
 */

#include "fado_api.h"
#include "fado_log.h"
#include "fado_route_view.h"

#include <string.h>

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

void
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
