/*
 * fado_api_zones: /v1/zones[/{name}]: list, create (POST), get, delete.
 * A zone has nothing to replace, so there is no PUT.
 */

#include "fado_api.h"
#include "fado_valid.h"
#include "fado_zones.h"

#include <string.h>

static void
fado_api_zones_list(fado_req_t *req)
{
    fado_api_list(req, fado_zones_list);
}

static void
fado_api_zones_create(fado_req_t *req)
{
    json_t      *body = fado_api_body(req), *zone;
    const char  *name;
    fado_err_t   err;

    if (body == NULL) {
        return;
    }
    name = fado_api_str(req, body, "name", "name", 1);
    if (name != NULL && !fado_valid_name(name)) {
        fado_req_error(req, 400, "invalid_field", "name",
                       "name must be 1-63 characters of letters, digits, '.', '_', '-'");
    } else if (name != NULL) {
        if ((zone = fado_zones_create(req->conn, name, &err)) == NULL) {
            fado_api_err(req, &err);
        } else {
            req->json = zone;
            req->status = 201;
        }
    }
    json_decref(body);
}

void
fado_api_zones(fado_req_t *req, const char *id)
{
    fado_err_t  err;

    if (strcmp(req->method, "GET") == 0 && id[0] == '\0') {
        fado_api_zones_list(req);
    } else if (strcmp(req->method, "POST") == 0 && id[0] == '\0') {
        fado_api_zones_create(req);
    } else if (strcmp(req->method, "GET") == 0 && id[0] != '\0') {
        if ((req->json = fado_zones_get(req->conn, id, &err)) == NULL) {
            fado_api_err(req, &err);
        } else {
            req->status = 200;
        }
    } else if (strcmp(req->method, "DELETE") == 0 && id[0] != '\0') {
        if (fado_zones_delete(req->conn, id, &err) != 0) {
            fado_api_err(req, &err);
        } else {
            req->status = 204;
        }
    } else {
        fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here",
                       req->method);
    }
}
