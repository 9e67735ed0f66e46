/*
 * fado_api_clusters: /v1/clusters[/{name}]. The body's shape is checked
 * here (names, zones, endpoints, storage), each fault a 400 naming its
 * field; what needs the database is fado_clusters.c's.
 */

#include "fado_api.h"
#include "fado_clusters.h"
#include "fado_valid.h"

#include <stdio.h>
#include <string.h>

/*
 * A cluster's zones: "zones" (1..16 distinct names) or the older "zone"
 * (one name); both may be given when zone is the list's first (what GET
 * answers).
 */
static int
fado_api_clusters_zones(fado_req_t *req, json_t *obj, fado_cluster_t *c)
{
    json_t      *arr = json_object_get(obj, "zones"), *names;
    const char  *zone;
    size_t       i, j;

    if (arr == NULL && json_object_get(obj, "zone") == NULL) {
        fado_req_error(req, 400, "missing_field", "zones",
                       "zones is required (a list of 1 to 16 zone names)");
        return -1;
    }
    zone = fado_api_str(req, obj, "zone", "zone", 0);
    if (req->json != NULL) {
        return -1;
    }
    if (arr == NULL) {
        /* "zone": null alone names no zone */
        if (zone == NULL || !fado_valid_name(zone)) {
            fado_req_error(req, 400, "invalid_field", "zone", "zone is not a valid zone name");
            return -1;
        }
        c->zones[0] = zone;
        c->nzones = 1;
        c->zones_field = "zone";
        return 0;
    }
    if (!json_is_array(arr) || json_array_size(arr) < 1
        || json_array_size(arr) > FADO_CLUSTER_MAX_ZONES)
    {
        fado_req_error(req, 400, "invalid_field", "zones",
                       "zones must be a list of 1 to 16 zone names");
        return -1;
    }
    for (i = 0; i < json_array_size(arr); i++) {
        const char  *z = json_string_value(json_array_get(arr, i));

        for (j = 0; z != NULL && j < i; j++) {
            const char  *y = json_string_value(json_array_get(arr, j));

            if (y != NULL && strcmp(z, y) == 0) {
                fado_req_error(req, 400, "invalid_field", "zones",
                               "zones[%zu] repeats \"%s\"", i, z);
                return -1;
            }
        }
    }
    if (fado_api_names(req, obj, "zones", "zones", 0, &names) != 0) {
        return -1;
    }
    for (i = 0; i < json_array_size(names); i++) {
        c->zones[i] = json_string_value(json_array_get(names, i));
    }
    c->nzones = i;
    c->zones_field = "zones";
    if (zone != NULL && strcmp(zone, c->zones[0]) != 0) {
        fado_req_error(req, 400, "invalid_field", "zone",
                       "zone must be the first of zones (or be left out)");
        return -1;
    }
    return 0;
}

static int
fado_api_clusters_functions(fado_req_t *req, json_t *obj, fado_cluster_t *c)
{
    char     f[96];
    json_t  *fns = json_object_get(obj, "functions"), *fn;
    size_t   i;

    if (fns != NULL && (!json_is_array(fns)
                        || json_array_size(fns) > FADO_CLUSTER_MAX_FUNCTIONS))
    {
        fado_req_error(req, 400, "invalid_field", "functions",
                       "functions must be an array of at most 64 endpoints");
        return -1;
    }
    json_array_foreach(fns, i, fn) {
        fado_cluster_fn_t  *cf = &c->functions[c->nfunctions];
        const char         *addr, *why;

        if (!json_is_object(fn)) {
            fado_req_error(req, 400, "invalid_field", "functions",
                           "functions[%zu] must be an object", i);
            return -1;
        }
        addr = json_string_value(json_object_get(fn, "address"));
        if (addr == NULL) {
            addr = json_string_value(json_object_get(fn, "url"));
        }
        snprintf(f, sizeof(f), "functions[%zu].address", i);
        if (addr == NULL) {
            fado_req_error(req, 400, "missing_field", f, "%s is required: IPv4:port,"
                           " [IPv6]:port or http[s]://host[:port][/path]", f);
            return -1;
        }
        why = fado_valid_endpoint(addr, &cf->ep);
        if (why != NULL) {
            fado_req_error(req, 400, "invalid_field", f, "%s must be IPv4:port, [IPv6]:port"
                           " or http[s]://host[:port][/path]: %s", f, why);
            return -1;
        }
        cf->address = addr;
        snprintf(f, sizeof(f), "functions[%zu].weight", i);
        if ((cf->weight = fado_api_int(req, fn, "weight", f, 1, 1000, 1)) < 0) {
            return -1;
        }
        snprintf(f, sizeof(f), "functions[%zu].max_inflight", i);
        if ((cf->max_inflight = fado_api_int(req, fn, "max_inflight", f, 0, 65535, 0)) < 0) {
            return -1;
        }
        c->nfunctions++;
    }
    return 0;
}

static int
fado_api_clusters_storage(fado_req_t *req, json_t *obj, fado_cluster_t *c)
{
    json_t  *storage = json_object_get(obj, "storage");

    c->storage_endpoint = "";
    if (storage == NULL || json_is_null(storage)) {
        return 0;
    }
    if (!json_is_object(storage)) {
        fado_req_error(req, 400, "invalid_field", "storage", "storage must be an object");
        return -1;
    }
    c->storage_endpoint = fado_api_str(req, storage, "endpoint", "storage.endpoint", 1);
    if (c->storage_endpoint == NULL) {
        return -1;
    }
    if (strncmp(c->storage_endpoint, "http://", 7) != 0
        && strncmp(c->storage_endpoint, "https://", 8) != 0)
    {
        fado_req_error(req, 400, "invalid_field", "storage.endpoint",
                       "storage.endpoint must be an http:// or https:// URL");
        return -1;
    }
    c->access_key = fado_api_str(req, storage, "access_key", "storage.access_key", 0);
    c->secret_key = fado_api_str(req, storage, "secret_key", "storage.secret_key", 0);
    if ((c->access_key == NULL) != (c->secret_key == NULL)) {
        fado_req_error(req, 400, "missing_field",
                       c->access_key ? "storage.secret_key" : "storage.access_key",
                       "access_key and secret_key go together");
        return -1;
    }
    return 0;
}

static int
fado_api_clusters_put(fado_req_t *req, json_t *obj, const char *name, long version)
{
    fado_cluster_t  c;
    fado_err_t      err;
    int             ok;

    memset(&c, 0, sizeof(c));
    c.name = name ? name : fado_api_str(req, obj, "name", "name", 1);
    if (c.name == NULL) {
        return -1;
    }
    if (!fado_valid_name(c.name)) {
        fado_req_error(req, 400, "invalid_field", "name",
                       "name must be 1-63 characters of letters, digits, '.', '_', '-'");
        return -1;
    }
    if (fado_api_clusters_zones(req, obj, &c) != 0
        || fado_api_clusters_functions(req, obj, &c) != 0
        || fado_api_clusters_storage(req, obj, &c) != 0
        || fado_api_begin(req) != 0)
    {
        return -1;
    }
    ok = fado_clusters_put(req->conn, &c, version, &err) == 0;
    if (!ok) {
        fado_api_err(req, &err);
    }
    return fado_api_end(req, ok);
}

const fado_api_resource_t  fado_api_clusters = {
    fado_clusters_list, fado_clusters_get, fado_api_clusters_put, fado_clusters_delete
};
