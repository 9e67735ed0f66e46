/*
 * route_decode: reads route records, one per line, and prints what the
 * gateway's decoder (ngx_http_fado_record.c) makes of each, one line per
 * record, for the golden test t/218-route-golden.t (what the controller's
 * SQL encoder publishes must decode to what the API was told):
 *
 *   F1 <version> <policy> <addr>/<cluster>/<zone>/<weight>/<max_inflight> ...
 *   F2 <version> <policy> <cluster> ...
 *   C2 <version> <zone> up|down <addr>/<weight>/<max_inflight> ...
 *   error <message>
 *
 * Not a unit test (no test_ prefix): a tool the suite runs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_fado_record.h"

static ngx_http_fado_record_endpoint_t  route_decode_eps[NGX_HTTP_FADO_MAX_ENDPOINTS];
static ngx_http_fado_record_name_t      route_decode_names[NGX_HTTP_FADO_MAX_CLUSTERS];

static void
route_decode_endpoint(const ngx_http_fado_record_endpoint_t *ep, int with_place)
{
    printf(" %.*s", (int) ep->addr_len, ep->addr);
    if (with_place) {
        printf("/%.*s/%.*s", (int) ep->cluster_len, ep->cluster, (int) ep->zone_len, ep->zone);
    }
    printf("/%u/%u", ep->weight, ep->max_inflight);
}

static void
route_decode_line(const char *s, size_t len)
{
    ngx_http_fado_record_head_t     h;
    ngx_http_fado_record_cluster_t  c;
    char                            err[NGX_HTTP_FADO_ERR_LEN];
    size_t                          n, i;

    if (len >= 2 && s[0] == 'C') {
        if (ngx_http_fado_record_cluster(s, len, &c, err) != 0
            || ngx_http_fado_record_endpoints2(c.endpoints, c.endpoints_len, route_decode_eps,
                                               NGX_HTTP_FADO_MAX_ENDPOINTS, &n, err) != 0)
        {
            printf("error %s\n", err);
            return;
        }
        printf("C2 %llu %.*s %s", (unsigned long long) c.version, (int) c.zone_len, c.zone,
               c.up ? "up" : "down");
        for (i = 0; i < n; i++) {
            route_decode_endpoint(&route_decode_eps[i], 0);
        }
        printf("\n");
        return;
    }
    if (ngx_http_fado_record_head(s, len, &h, err) != 0) {
        printf("error %s\n", err);
        return;
    }
    printf("F%d %llu %s", h.contract, (unsigned long long) h.version,
           ngx_http_fado_record_policy_name(h.policy));
    if (h.contract == 1) {
        if (ngx_http_fado_record_endpoints(h.endpoints, h.endpoints_len, route_decode_eps,
                                           NGX_HTTP_FADO_MAX_ENDPOINTS, &n, err) != 0)
        {
            printf("\nerror %s\n", err);
            return;
        }
        for (i = 0; i < n; i++) {
            route_decode_endpoint(&route_decode_eps[i], 1);
        }
    } else {
        if (ngx_http_fado_record_clusters(h.endpoints, h.endpoints_len, route_decode_names,
                                          NGX_HTTP_FADO_MAX_CLUSTERS, &n, err) != 0)
        {
            printf("\nerror %s\n", err);
            return;
        }
        for (i = 0; i < n; i++) {
            printf(" %.*s", (int) route_decode_names[i].len, route_decode_names[i].name);
        }
    }
    printf("\n");
}

int
main(void)
{
    static char  line[NGX_HTTP_FADO_RECORD_MAX + 2];

    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t  len = strlen(line);

        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        route_decode_line(line, len);
    }
    return ferror(stdin) ? 1 : 0;
}
