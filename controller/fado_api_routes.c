/*
 * fado_api_routes: /v1/routes[/{bucket}], read-only: the route records the
 * publisher wrote, as the gateways decode them (fado_routes.c).
 * "_default" names the default route, stored under the empty name.
 */

#include "fado_api.h"
#include "fado_routes.h"

#include <string.h>

static json_t *
fado_api_routes_item(fado_req_t *req, PGresult *res, int row, void *clusters)
{
    fado_err_t  err;
    json_t     *j = fado_routes_view(res, row, clusters, &err);

    if (j == NULL) {
        fado_api_err(req, &err);
    }
    return j;
}

static void
fado_api_routes_list(fado_req_t *req)
{
    fado_api_page_t  pg;
    fado_err_t       err;
    PGresult        *res;
    json_t          *clusters;

    if (fado_api_page_limit(req, FADO_LIST_DEFAULT, FADO_LIST_MAX, &pg) != 0) {
        return;
    }
    res = fado_routes_list(req->conn, req->query_cursor ? req->query_cursor : "", pg.fetch,
                           &err);
    if (res == NULL) {
        fado_api_err(req, &err);
        return;
    }
    if ((clusters = fado_routes_clusters(req->conn, &err)) == NULL) {
        fado_api_err(req, &err);
        PQclear(res);
        return;
    }
    req->json = fado_api_page_json(req, res, &pg, fado_api_routes_item, clusters);
    if (req->json != NULL) {
        req->status = 200;
    }
    json_decref(clusters);
    PQclear(res);
}

void
fado_api_routes(fado_req_t *req, const char *id)
{
    fado_err_t  err;

    if (strcmp(req->method, "GET") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "routes are read-only");
        return;
    }
    if (id[0] == '\0') {
        fado_api_routes_list(req);
        return;
    }
    req->json = fado_routes_get(req->conn, strcmp(id, "_default") == 0 ? "" : id, &err);
    if (req->json == NULL) {
        fado_api_err(req, &err);
        return;
    }
    req->status = 200;
}
