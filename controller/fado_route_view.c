/*
 * fado_route_view: published route -> API JSON (fado_route_view.h).
 */

#include "fado_route_view.h"
#include "frc_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "<tag> <version> <body>" in a new buffer, the body as the decoder wants. */
static char *
fado_route_record(const char *tag, const char *version, const char *body, size_t *len)
{
    size_t  n = strlen(tag) + strlen(version) + strlen(body) + 3;
    char   *rec = malloc(n);

    if (rec != NULL) {
        *len = (size_t) snprintf(rec, n, "%s %s %s", tag, version, body);
    }
    return rec;
}

static json_t *
fado_route_endpoint(const frc_record_endpoint_t *ep, const char *cluster,
    size_t cluster_len, const char *zone, size_t zone_len)
{
    /* the origin (contract 2.1): scheme, and the name and prefix or null */
    return json_pack("{s:s%, s:s%, s:s%, s:I, s:I, s:s, s:o, s:o}",
                     "address", ep->addr, ep->addr_len,
                     "cluster", cluster, cluster_len,
                     "zone", zone, zone_len,
                     "weight", (json_int_t) ep->weight,
                     "max_inflight", (json_int_t) ep->max_inflight,
                     "scheme", ep->https ? "https" : "http",
                     "host", ep->host_len ? json_stringn(ep->host, ep->host_len) : json_null(),
                     "prefix", ep->prefix_len ? json_stringn(ep->prefix, ep->prefix_len)
                                              : json_null());
}

/* F2: the endpoints of the named clusters that are up, in the record's order. */
static int
fado_route_join(json_t *out, json_t *names, json_t *clusters,
    frc_record_endpoint_t *eps, char *err, size_t err_len)
{
    size_t   i, n, k;
    json_t  *name;

    json_array_foreach(names, i, name) {
        const char                      *cbody = json_string_value(json_object_get(clusters,
                                                     json_string_value(name)));
        frc_record_cluster_t   c;
        char                             derr[FRC_ERR_LEN];
        char                            *rec;
        size_t                           len;

        if (cbody == NULL) {
            continue;           /* not published: contributes nothing */
        }
        rec = fado_route_record("C2", "0", cbody, &len);
        if (rec == NULL) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        if (frc_record_cluster(rec, len, &c, derr) != 0
            || frc_record_endpoints2(c.endpoints, c.endpoints_len, eps,
                                     FRC_MAX_ENDPOINTS, &n, derr) != 0)
        {
            snprintf(err, err_len, "cluster record of %s: %s", json_string_value(name), derr);
            free(rec);
            return -1;
        }
        for (k = 0; c.up && k < n; k++) {
            if (json_array_append_new(out, fado_route_endpoint(&eps[k], json_string_value(name),
                                      json_string_length(name), c.zone, c.zone_len)) != 0)
            {
                free(rec);
                snprintf(err, err_len, "out of memory");
                return -1;
            }
        }
        free(rec);
    }
    return 0;
}

json_t *
fado_route_view(const char *bucket, const char *version, const char *body, json_t *clusters,
    char *err, size_t err_len)
{
    frc_record_head_t       h;
    frc_record_name_t       names[FRC_MAX_CLUSTERS];
    frc_record_endpoint_t  *eps;
    char                              derr[FRC_ERR_LEN], *rec;
    size_t                            len, n;
    json_t                           *view = NULL, *cl, *ep;
    int                               contract = 2;

    eps = malloc(FRC_MAX_ENDPOINTS * sizeof(*eps));
    cl = json_array();
    ep = json_array();
    if (eps == NULL || cl == NULL || ep == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }

    /*
     * The body alone does not say its contract, but it is valid in at most
     * one: F2 lists cluster names, which hold no ',', and every F1
     * endpoint has four. A body with no list is the same route in both.
     */
    rec = fado_route_record("F2", version, body, &len);
    if (rec == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    if (frc_record_head(rec, len, &h, derr) != 0
        || frc_record_clusters(h.endpoints, h.endpoints_len, names,
                               FRC_MAX_CLUSTERS, &n, derr) != 0)
    {
        free(rec);
        contract = 1;
        rec = fado_route_record("F1", version, body, &len);
        if (rec == NULL) {
            snprintf(err, err_len, "out of memory");
            goto done;
        }
        if (frc_record_head(rec, len, &h, derr) != 0
            || frc_record_endpoints(h.endpoints, h.endpoints_len, eps,
                                    FRC_MAX_ENDPOINTS, &n, derr) != 0)
        {
            snprintf(err, err_len, "route of \"%s\" is not a record: %s", bucket, derr);
            free(rec);
            goto done;
        }
    }

    if (contract == 2) {
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(cl, json_stringn(names[i].name, names[i].len));
        }
        if (fado_route_join(ep, cl, clusters, eps, err, err_len) != 0) {
            free(rec);
            goto done;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t  k;

            /* the clusters of an explicit list, each once, in list order */
            for (k = 0; k < i; k++) {
                if (eps[k].cluster_len == eps[i].cluster_len
                    && memcmp(eps[k].cluster, eps[i].cluster, eps[i].cluster_len) == 0)
                {
                    break;
                }
            }
            if (k == i) {
                json_array_append_new(cl, json_stringn(eps[i].cluster, eps[i].cluster_len));
            }
            json_array_append_new(ep, fado_route_endpoint(&eps[i], eps[i].cluster,
                                  eps[i].cluster_len, eps[i].zone, eps[i].zone_len));
        }
    }

    view = json_pack("{s:s, s:I, s:i, s:s, s:s, s:O, s:O}",
                     "bucket", bucket, "version", (json_int_t) strtoll(version, NULL, 10),
                     "contract", contract, "record_body", body,
                     "policy", frc_record_policy_name(h.policy),
                     "clusters", cl, "endpoints", ep);
    free(rec);
    if (view == NULL) {
        snprintf(err, err_len, "out of memory");
    }

done:
    free(eps);
    json_decref(cl);
    json_decref(ep);
    return view;
}
