/*
 * fado_routes: the published routes as the API shows them (the handler is
 * fado_api_routes.c): the publisher's tables read, each record decoded by
 * the gateway's decoder (fado_route_view.c), a contract-2 route joined
 * with the cluster records that are up. Read-only.
 */

#ifndef FADO_ROUTES_H
#define FADO_ROUTES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"

/* The published cluster records as {name: body}, or NULL with err. */
json_t *fado_routes_clusters(PGconn *conn, fado_err_t *err);

/* A page of (bucket, version, body) rows after cursor; NULL with err. */
PGresult *fado_routes_list(PGconn *conn, const char *cursor, const char *fetch,
    fado_err_t *err);

/* Row row of fado_routes_list as a view, or NULL with err (internal, the
 * record unreadable: logged). */
json_t *fado_routes_view(PGresult *res, int row, json_t *clusters, fado_err_t *err);

/* The route of bucket ("" the default route) as a view, or NULL with err:
 * not_found, unavailable, internal. */
json_t *fado_routes_get(PGconn *conn, const char *bucket, fado_err_t *err);

#endif /* FADO_ROUTES_H */
