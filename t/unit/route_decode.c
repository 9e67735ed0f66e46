/*
 * route_decode: reads route records, one per line, and prints what the
 * route contract's decoder (lib/route/frc_record.c) makes of each, one line
 * per record, for the golden test t/218-route-golden.t (what the
 * controller's SQL encoder publishes must decode to what the API was told):
 *
 *   F1 <version> <policy> <addr>/<cluster>/<zone>/<weight>/<max_inflight>[/<origin>] ...
 *   F2 <version> <policy> <cluster> ...
 *   C2 <version> <zones> up|down <addr>/<weight>/<max_inflight>[/<origin>] ...
 *   error <message>
 *
 * where <origin> is "scheme,host,prefix" as decoded (host and prefix "-"
 * when none), shown for an endpoint whose record carries one. With -e it
 * prints instead the record the encoder (lib/route/frc_encode.c) writes
 * from that reading, so the suite can hold the SQL's bytes and the C
 * encoder's together.
 *
 * Not a unit test (no test_ prefix): a tool the suite runs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frc_encode.h"
#include "frc_record.h"

static frc_record_endpoint_t  route_decode_eps[FRC_MAX_ENDPOINTS];
static frc_record_name_t      route_decode_names[FRC_MAX_CLUSTERS];
static char                   route_decode_enc[FRC_RECORD_MAX + 1];

static void
route_decode_endpoint(const frc_record_endpoint_t *ep, int with_place)
{
    printf(" %.*s", (int) ep->addr_len, ep->addr);
    if (with_place) {
        printf("/%.*s/%.*s", (int) ep->cluster_len, ep->cluster, (int) ep->zone_len, ep->zone);
    }
    printf("/%u/%u", ep->weight, ep->max_inflight);
    if (ep->origin_len > 0) {
        printf("/%s,%.*s,%.*s", ep->https ? "https" : "http",
               ep->host ? (int) ep->host_len : 1, ep->host ? ep->host : "-",
               ep->prefix ? (int) ep->prefix_len : 1, ep->prefix ? ep->prefix : "-");
    }
}

/* -e: the encoder's record for what was decoded, or "error <message>". */
static void
route_decode_encoded(int rc, size_t len, const char *err)
{
    if (rc != 0) {
        printf("error %s\n", err);
        return;
    }
    printf("%.*s\n", (int) len, route_decode_enc);
}

static void
route_decode_line(const char *s, size_t len, int encode)
{
    frc_record_head_t     h;
    frc_record_cluster_t  c;
    frc_bucket_t          b;
    frc_cluster_t         cl;
    char                  err[FRC_ERR_LEN];
    size_t                n, i, elen;
    int                   rc;

    if (len >= 2 && s[0] == 'C') {
        if (frc_record_cluster(s, len, &c, err) != 0
            || frc_record_endpoints2(c.endpoints, c.endpoints_len, route_decode_eps,
                                     FRC_MAX_ENDPOINTS, &n, err) != 0)
        {
            printf("error %s\n", err);
            return;
        }
        if (encode) {
            cl.version = c.version;
            cl.zones = c.zone;
            cl.zones_len = c.zone_len;
            cl.up = c.up;
            cl.endpoints = route_decode_eps;
            cl.n = n;
            rc = frc_encode_cluster(&cl, route_decode_enc, sizeof(route_decode_enc), &elen, err);
            route_decode_encoded(rc, elen, err);
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
    if (frc_record_head(s, len, &h, err) != 0) {
        printf("error %s\n", err);
        return;
    }
    if (h.contract == 1) {
        rc = frc_record_endpoints(h.endpoints, h.endpoints_len, route_decode_eps,
                                  FRC_MAX_ENDPOINTS, &n, err);
    } else {
        rc = frc_record_clusters(h.endpoints, h.endpoints_len, route_decode_names,
                                 FRC_MAX_CLUSTERS, &n, err);
    }
    if (rc != 0) {
        printf("error %s\n", err);
        return;
    }
    if (encode) {
        b.contract = h.contract;
        b.version = h.version;
        b.policy = h.policy;
        b.endpoints = route_decode_eps;
        b.clusters = route_decode_names;
        b.n = n;
        rc = frc_encode_bucket(&b, route_decode_enc, sizeof(route_decode_enc), &elen, err);
        route_decode_encoded(rc, elen, err);
        return;
    }
    printf("F%d %llu %s", h.contract, (unsigned long long) h.version,
           frc_record_policy_name(h.policy));
    for (i = 0; i < n; i++) {
        if (h.contract == 1) {
            route_decode_endpoint(&route_decode_eps[i], 1);
        } else {
            printf(" %.*s", (int) route_decode_names[i].len, route_decode_names[i].name);
        }
    }
    printf("\n");
}

int
main(int argc, char **argv)
{
    static char  line[FRC_RECORD_MAX + 2];
    int          encode;

    encode = argc == 2 && strcmp(argv[1], "-e") == 0;
    if (argc > 2 || (argc == 2 && !encode)) {
        fprintf(stderr, "usage: route_decode [-e] < records\n");
        return 2;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t  len = strlen(line);

        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        route_decode_line(line, len, encode);
    }
    return ferror(stdin) ? 1 : 0;
}
