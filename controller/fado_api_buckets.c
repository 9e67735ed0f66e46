/*
 * fado_api_buckets: /v1/buckets[/{name}] as JSON (objects and copies have
 * their own handlers). The body's shape is checked here (name, home,
 * policy, placement, route override), each fault a 400 naming its field,
 * before any SQL; what needs the database is fado_buckets.c's.
 */

#include "fado_api.h"
#include "fado_buckets.h"
#include "fado_policy.h"
#include "fado_valid.h"
#include "frc_record.h"

#include <stdio.h>
#include <string.h>

/*
 * A bucket's route override (FaDO's route-overrides): an explicit endpoint
 * list, in order, with its own policy, published as an F1 record instead of
 * the placement's route. Absent or null removes it.
 */
static int
fado_api_buckets_override(fado_req_t *req, json_t *obj, fado_bucket_t *b,
    fado_bucket_endpoint_t *out)
{
    char     f[160];
    json_t  *ov, *eps, *ep;
    size_t   i;

#define OFIELD(...)  (snprintf(f, sizeof(f), __VA_ARGS__), f)
    b->override_policy = "-";
    ov = json_object_get(obj, "route_override");
    if (ov == NULL || json_is_null(ov)) {
        return 0;
    }
    if (!json_is_object(ov)) {
        fado_req_error(req, 400, "invalid_field", "route_override",
                       "route_override must be an object or null");
        return -1;
    }
    if (json_object_get(ov, "policy") != NULL) {
        const char  *policy = fado_api_str(req, ov, "policy", "route_override.policy", 0);

        if (policy == NULL) {
            if (req->json != NULL) {
                return -1;
            }
            policy = "-";
        }
        if ((b->override_policy = fado_policy_token(policy)) == NULL) {
            fado_req_error(req, 400, "invalid_field", "route_override.policy",
                           "policy must be one of " FADO_POLICY_NAMES);
            return -1;
        }
    }
    eps = json_object_get(ov, "endpoints");
    if (!json_is_array(eps) || json_array_size(eps) == 0
        || json_array_size(eps) > FRC_MAX_ENDPOINTS)
    {
        fado_req_error(req, 400, "invalid_field", "route_override.endpoints",
                       "route_override.endpoints must be an array of 1 to %d endpoints",
                       FRC_MAX_ENDPOINTS);
        return -1;
    }
    json_array_foreach(eps, i, ep) {
        fado_bucket_endpoint_t  *e = &out[i];
        fado_endpoint_t          fe;
        const char              *a, *why;

        if (!json_is_object(ep)) {
            fado_req_error(req, 400, "invalid_field", OFIELD("route_override.endpoints[%zu]", i),
                           "an endpoint must be an object");
            return -1;
        }
        a = fado_api_str(req, ep, "address",
                         OFIELD("route_override.endpoints[%zu].address", i), 1);
        if (a == NULL) {
            return -1;
        }
        /*
         * An override's endpoints go into its F1 record as they are: no
         * names (the controller resolves cluster endpoints only), plain
         * http (an origin in the record is cluster endpoints' business).
         */
        why = fado_valid_endpoint(a, &fe);
        if (why == NULL && (fe.named || fe.https || fe.path[0] != '\0')) {
            why = "an override endpoint is a literal address, plain http, no path";
        }
        if (why != NULL) {
            fado_req_error(req, 400, "invalid_field", f,
                           "%s must be IPv4:port or [IPv6]:port: %s", f, why);
            return -1;
        }
        snprintf(e->address, sizeof(e->address), strchr(fe.host, ':') ? "[%s]:%d" : "%s:%d",
                 fe.host, fe.port);
        e->cluster = fado_api_str(req, ep, "cluster",
                                  OFIELD("route_override.endpoints[%zu].cluster", i), 1);
        if (e->cluster == NULL) {
            return -1;
        }
        if (!frc_record_label_valid(e->cluster, strlen(e->cluster))) {
            fado_req_error(req, 400, "invalid_field", f,
                           "%s must be 1-63 characters of A-Z a-z 0-9 - _ .", f);
            return -1;
        }
        e->weight = fado_api_int(req, ep, "weight",
                                 OFIELD("route_override.endpoints[%zu].weight", i), 1, 1000, 1);
        e->max_inflight = e->weight < 0 ? -1
            : fado_api_int(req, ep, "max_inflight",
                           OFIELD("route_override.endpoints[%zu].max_inflight", i), 0, 65535, 0);
        if (e->weight < 0 || e->max_inflight < 0) {
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out[j].address, e->address) == 0
                && strcmp(out[j].cluster, e->cluster) == 0)
            {
                fado_req_error(req, 400, "invalid_field",
                               OFIELD("route_override.endpoints[%zu]", i),
                               "endpoint %s of cluster %s is listed twice", e->address,
                               e->cluster);
                return -1;
            }
        }
    }
    b->override = out;
    b->noverride = json_array_size(eps);
    return 0;
#undef OFIELD
}

static int
fado_api_buckets_put(fado_req_t *req, json_t *obj, const char *name, long version)
{
    fado_bucket_endpoint_t  eps[FRC_MAX_ENDPOINTS];
    fado_bucket_t           b;
    fado_err_t              err;
    json_t                 *placement;
    const char             *policy;
    int                     ok;

    memset(&b, 0, sizeof(b));
    b.name = name ? name : fado_api_str(req, obj, "name", "name", 1);
    if (b.name == NULL) {
        return -1;
    }
    if (!fado_valid_bucket(b.name)) {
        fado_req_error(req, 400, "invalid_field", "name",
                       "bucket names are 3-63 characters of a-z, 0-9, '.', '-' (S3 rules)");
        return -1;
    }
    b.home = fado_api_str(req, obj, "home_cluster", "home_cluster", 1);
    if (b.home == NULL) {
        return -1;
    }
    policy = fado_api_str(req, obj, "policy", "policy", 0);
    if (policy == NULL) {
        if (req->json != NULL) {
            return -1;
        }
        policy = "-";
    }
    if ((b.policy = fado_policy_token(policy)) == NULL) {
        fado_req_error(req, 400, "invalid_field", "policy",
                       "policy must be one of " FADO_POLICY_NAMES);
        return -1;
    }
    placement = json_object_get(obj, "placement");
    if (placement != NULL && !json_is_object(placement)) {
        fado_req_error(req, 400, "invalid_field", "placement", "placement must be an object");
        return -1;
    }
    if (placement == NULL) {
        placement = obj;    /* flat form: allowed_zones, replicas at top level */
    }
    if (fado_api_names(req, placement, "allowed_zones", "placement.allowed_zones", 0,
                       &b.allowed_zones) != 0
        || fado_api_names(req, placement, "pinned_clusters", "placement.pinned_clusters", 0,
                          &b.pinned_clusters) != 0)
    {
        return -1;
    }
    b.replicas = fado_api_int(req, placement, "replicas", "placement.replicas", 1, 64, 1);
    if (b.replicas < 0
        || fado_api_buckets_override(req, obj, &b, eps) != 0
        || fado_api_begin(req) != 0)
    {
        return -1;
    }
    ok = fado_buckets_put(req->conn, &b, version, &err) == 0;
    if (!ok) {
        fado_api_err(req, &err);
    }
    return fado_api_end(req, ok);
}

const fado_api_resource_t  fado_api_buckets = {
    fado_buckets_list, fado_buckets_get, fado_api_buckets_put, fado_buckets_delete
};
