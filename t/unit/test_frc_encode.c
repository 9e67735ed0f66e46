/*
 * Unit test of the route record encoder (lib/route/frc_encode.c): the
 * bytes of each record form (F1 with overrides, IPv6 and zone lists, F2,
 * C2 with contract 2.1 origins and several zones, each policy), round
 * trips encode -> decode -> encode and decode -> encode -> decode, the
 * canonical form the SQL writes, and every field the encoder refuses.
 */

#include <stdio.h>
#include <string.h>

#include "frc_encode.h"
#include "frc_record.h"
#include "tap.h"


static frc_record_endpoint_t  eps[2][16];
static frc_record_name_t      names[2][FRC_MAX_CLUSTERS + 1];
static char                   enc[2][FRC_RECORD_MAX + 1];


/* An endpoint as a caller fills it: text fields and numbers only. */
static frc_record_endpoint_t
ep(const char *addr, const char *cluster, const char *zone, unsigned weight,
    unsigned max_inflight, int https, const char *host, const char *prefix)
{
    frc_record_endpoint_t  e;

    memset(&e, 0, sizeof(e));
    e.addr = addr;
    e.addr_len = strlen(addr);
    e.cluster = cluster;
    e.cluster_len = cluster ? strlen(cluster) : 0;
    e.zone = zone;
    e.zone_len = zone ? strlen(zone) : 0;
    e.weight = weight;
    e.max_inflight = max_inflight;
    e.https = (unsigned) https;
    e.host = host;
    e.host_len = host ? strlen(host) : 0;
    e.prefix = prefix;
    e.prefix_len = prefix ? strlen(prefix) : 0;
    return e;
}


static frc_record_name_t
name(const char *s)
{
    frc_record_name_t  n;

    n.name = s;
    n.len = strlen(s);
    return n;
}


/* Decodes a bucket record into b, its lists into slot k. */
static int
decode_bucket(const char *s, size_t len, int k, frc_bucket_t *b, char *err)
{
    frc_record_head_t  h;

    if (frc_record_head(s, len, &h, err) != 0) {
        return -1;
    }
    b->contract = h.contract;
    b->version = h.version;
    b->policy = h.policy;
    b->endpoints = eps[k];
    b->clusters = names[k];
    if (h.contract == 2) {
        return frc_record_clusters(h.endpoints, h.endpoints_len, names[k], FRC_MAX_CLUSTERS,
                                   &b->n, err);
    }
    return frc_record_endpoints(h.endpoints, h.endpoints_len, eps[k], 16, &b->n, err);
}


static int
decode_cluster(const char *s, size_t len, int k, frc_cluster_t *c, char *err)
{
    frc_record_cluster_t  rc;

    if (frc_record_cluster(s, len, &rc, err) != 0
        || frc_record_endpoints2(rc.endpoints, rc.endpoints_len, eps[k], 16, &c->n, err) != 0)
    {
        return -1;
    }
    c->version = rc.version;
    c->zones = rc.zone;
    c->zones_len = rc.zone_len;
    c->up = rc.up;
    c->endpoints = eps[k];
    return 0;
}


/* A record decoded and encoded again: the encoder's bytes, or the error. */
static const char *
reencode(const char *rec)
{
    frc_bucket_t   b;
    frc_cluster_t  c;
    size_t         len;
    int            rc;
    static char    err[FRC_ERR_LEN + 8];

    if (rec[0] == 'C') {
        rc = decode_cluster(rec, strlen(rec), 0, &c, err) != 0
             || frc_encode_cluster(&c, enc[0], sizeof(enc[0]), &len, err) != 0;
    } else {
        rc = decode_bucket(rec, strlen(rec), 0, &b, err) != 0
             || frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) != 0;
    }
    if (rc) {
        return err;
    }
    return enc[0];
}


static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}


static int
same_endpoint(const frc_record_endpoint_t *a, const frc_record_endpoint_t *b, int place)
{
    return same(a->addr, a->addr_len, b->addr, b->addr_len)
           && (!place || (same(a->cluster, a->cluster_len, b->cluster, b->cluster_len)
                          && same(a->zone, a->zone_len, b->zone, b->zone_len)))
           && a->weight == b->weight && a->max_inflight == b->max_inflight
           && a->https == b->https
           && same(a->host, a->host_len, b->host, b->host_len)
           && same(a->prefix, a->prefix_len, b->prefix, b->prefix_len);
}


static void
test_bucket_bytes(void)
{
    frc_record_endpoint_t  e[2];
    frc_record_name_t      cl[3];
    frc_bucket_t           b;
    size_t                 len;
    char                   err[FRC_ERR_LEN];

    cl[0] = name("eu-1");
    cl[1] = name("us-1");
    b = (frc_bucket_t) { 2, 58, FRC_POLICY_DEFAULT, NULL, cl, 2 };
    ok(frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) == 0, "F2 encodes");
    is_str(enc[0], "F2 58 - eu-1 us-1", "F2: tag, version, policy, clusters as given");
    ok(len == strlen("F2 58 - eu-1 us-1"), "and its length is the record's");

    b = (frc_bucket_t) { 2, 7, FRC_POLICY_P2C, NULL, cl, 0 };
    ok(frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) == 0
       && strcmp(enc[0], "F2 7 p2c") == 0, "F2 with no cluster: no trailing space");

    /* a route override: the operator's order, IPv6, a cluster's zone list */
    e[0] = ep("[::1]:8080", "us-1", "us", 5, 7, 0, NULL, NULL);
    e[1] = ep("127.0.0.1:18031", "eu-1", "global+eu", 1, 0, 0, NULL, NULL);
    b = (frc_bucket_t) { 1, 42, FRC_POLICY_RANDOM, e, NULL, 2 };
    ok(frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) == 0, "F1 encodes");
    is_str(enc[0], "F1 42 random [::1]:8080,us-1,us,5,7 127.0.0.1:18031,eu-1,global+eu,1,0",
           "F1: addr,cluster,zone,weight,max_inflight in the order given");

    b = (frc_bucket_t) { 1, 18446744073709551615ULL, FRC_POLICY_FIRST, e, NULL, 0 };
    ok(frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) == 0
       && strcmp(enc[0], "F1 18446744073709551615 first") == 0,
       "F1 with no endpoint, the largest version");
}


static void
test_cluster_bytes(void)
{
    frc_record_endpoint_t  e[4];
    frc_cluster_t          c;
    size_t                 len;
    char                   err[FRC_ERR_LEN];

    /* the contract's 2.1 example: names, https, a prefix, and a plain one */
    e[0] = ep("10.0.0.7:8080", NULL, NULL, 1, 0, 0, "fn.eu.example", NULL);
    e[1] = ep("10.0.1.5:443", NULL, NULL, 2, 8, 1, "tls.eu.example", NULL);
    e[2] = ep("10.0.2.9:9000", NULL, NULL, 1, 0, 0, NULL, "/api/v1");
    e[3] = ep("[2001:db8::1]:80", NULL, NULL, 1000, 65535, 1, NULL, NULL);
    c = (frc_cluster_t) { 61, "eu", 2, 1, e, 4 };
    ok(frc_encode_cluster(&c, enc[0], sizeof(enc[0]), &len, err) == 0, "C2 encodes");
    is_str(enc[0], "C2 61 eu up 10.0.0.7:8080,1,0,http,fn.eu.example,-"
                   " 10.0.1.5:443,2,8,https,tls.eu.example,- 10.0.2.9:9000,1,0,http,-,/api/v1"
                   " [2001:db8::1]:80,1000,65535,https,-,-",
           "C2: origins written only where they say something, '-' for none");

    e[0] = ep("127.0.0.1:9102", NULL, NULL, 1, 0, 0, NULL, NULL);
    c = (frc_cluster_t) { 58, "global+zone-2", 13, 1, e, 1 };
    ok(frc_encode_cluster(&c, enc[0], sizeof(enc[0]), &len, err) == 0
       && strcmp(enc[0], "C2 58 global+zone-2 up 127.0.0.1:9102,1,0") == 0,
       "C2 of a cluster in two zones: the list as given, no origin for plain http");

    c = (frc_cluster_t) { 3, "asia", 4, 0, e, 0 };
    ok(frc_encode_cluster(&c, enc[0], sizeof(enc[0]), &len, err) == 0
       && strcmp(enc[0], "C2 3 asia down") == 0, "C2 down with no endpoint");
}


static void
test_each_policy(void)
{
    frc_record_name_t  cl[1];
    frc_bucket_t       b, d;
    size_t             len;
    char               err[FRC_ERR_LEN], want[64];
    int                p;

    cl[0] = name("c");
    for (p = 0; p <= FRC_POLICY_LAST; p++) {
        b = (frc_bucket_t) { 2, 1, p, NULL, cl, 1 };
        snprintf(want, sizeof(want), "F2 1 %s c", frc_record_policy_name(p));
        ok(frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) == 0
           && strcmp(enc[0], want) == 0
           && decode_bucket(enc[0], len, 1, &d, err) == 0 && d.policy == p,
           "policy %s encodes to its token and decodes back", frc_record_policy_name(p));
    }
    ok(strcmp(FRC_POLICY_LIST, "-, rr, lc, p2c, ewma, chash, random, first, ") == 0,
       "the message list is made from the same table");
}


/* Records as the controller publishes them come back byte for byte. */
static void
test_decode_encode_identical(void)
{
    static const char  *recs[] = {
        "F1 42 - 127.0.0.1:18031,eu-1,eu,1,4 127.0.0.1:18032,eu-1,eu,1,4 127.0.0.1:18035,us-1,us,2,8",
        "F1 9 random [::1]:18086,us-1,us,5,7 127.0.0.1:18084,eu-1,eu,1,0",
        "F1 10 lc",
        "F2 58 - eu-1 us-1",
        "F2 59 ewma asia-1 eu-1 us-1",
        "F2 60 chash",
        "C2 57 eu up 127.0.0.1:18031,1,4 127.0.0.1:18032,1,4",
        "C2 58 global+zone-2 up 127.0.0.1:9102,1,0",
        "C2 61 eu up 10.0.0.7:8080,1,0,http,fn.eu.example,- 10.0.0.8:8080,1,0,http,fn.eu.example,-"
        " 10.0.1.5:443,2,8,https,tls.eu.example,- 10.0.2.9:9000,1,0,http,-,/api/v1",
        "C2 62 a+b+c down [::1]:1,1,0,https,-,/p",
    };

    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        is_str(reencode(recs[i]), recs[i], "decode -> encode gives the record back (%zu)", i);
    }
}


/* What the decoder also accepts is written in the one form the SQL uses. */
static void
test_canonical_form(void)
{
    is_str(reencode("F2 007 - a"), "F2 7 - a", "leading zeros of a version are dropped");
    is_str(reencode("F1 1 rr 1.2.3.4:80,c,z,0001,00,http,-,-"), "F1 1 rr 1.2.3.4:80,c,z,1,0",
           "an origin saying nothing (http,-,-) is not written; numbers in decimal");
    is_str(reencode("C2 1 z up 1.2.3.4:80,1,0,http,-,-"), "C2 1 z up 1.2.3.4:80,1,0",
           "the same in a cluster record");
    is_str(reencode("C2 1 z up 1.2.3.4:80,1,0,https,-,-"), "C2 1 z up 1.2.3.4:80,1,0,https,-,-",
           "https alone is an origin");
}


/* A struct encoded, decoded and encoded again: the same fields, the same bytes. */
static void
test_encode_decode_encode(void)
{
    frc_record_endpoint_t  e[3];
    frc_record_name_t      cl[3];
    frc_bucket_t           b, d;
    frc_cluster_t          c, dc;
    size_t                 len[2], i;
    char                   err[FRC_ERR_LEN];
    int                    good;

    e[0] = ep("192.0.2.1:65535", "c-1", "z_1", 1000, 65535, 0, NULL, NULL);
    e[1] = ep("[fe80::1]:1", "c.2", "a+b", 1, 0, 1, "x.example", "/p/q");
    e[2] = ep("10.1.1.1:80", "C3", "Z", 7, 3, 0, "y", NULL);
    b = (frc_bucket_t) { 1, 123, FRC_POLICY_EWMA, e, NULL, 3 };
    good = frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len[0], err) == 0
           && decode_bucket(enc[0], len[0], 1, &d, err) == 0
           && d.contract == 1 && d.version == 123 && d.policy == FRC_POLICY_EWMA && d.n == 3;
    for (i = 0; good && i < 3; i++) {
        good = same_endpoint(&e[i], &d.endpoints[i], 1);
    }
    ok(good, "F1: encode -> decode reads every field as given");
    ok(frc_encode_bucket(&d, enc[1], sizeof(enc[1]), &len[1], err) == 0 && len[1] == len[0]
       && memcmp(enc[0], enc[1], len[0]) == 0, "and encodes to the same bytes");

    cl[0] = name("z");
    cl[1] = name("a");
    cl[2] = name("m.m");
    b = (frc_bucket_t) { 2, 5, FRC_POLICY_CHASH, NULL, cl, 3 };
    good = frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len[0], err) == 0
           && decode_bucket(enc[0], len[0], 1, &d, err) == 0 && d.n == 3;
    for (i = 0; good && i < 3; i++) {
        good = same(cl[i].name, cl[i].len, d.clusters[i].name, d.clusters[i].len);
    }
    ok(good, "F2: clusters keep the order given (the SQL gives byte order)");
    ok(frc_encode_bucket(&d, enc[1], sizeof(enc[1]), &len[1], err) == 0 && len[1] == len[0]
       && memcmp(enc[0], enc[1], len[0]) == 0, "and encodes to the same bytes");

    c = (frc_cluster_t) { 99, "global+zone-1", 13, 1, e, 3 };
    good = frc_encode_cluster(&c, enc[0], sizeof(enc[0]), &len[0], err) == 0
           && decode_cluster(enc[0], len[0], 1, &dc, err) == 0
           && dc.version == 99 && dc.up == 1 && dc.n == 3
           && same(dc.zones, dc.zones_len, "global+zone-1", 13);
    for (i = 0; good && i < 3; i++) {
        good = same_endpoint(&e[i], &dc.endpoints[i], 0);
    }
    ok(good, "C2: encode -> decode reads zones, state and endpoints as given");
    ok(frc_encode_cluster(&dc, enc[1], sizeof(enc[1]), &len[1], err) == 0 && len[1] == len[0]
       && memcmp(enc[0], enc[1], len[0]) == 0, "and encodes to the same bytes");
}


/* Refused with a message naming the field; no record is claimed. */
static void
refused_bucket(const frc_bucket_t *b, const char *what, const char *desc)
{
    size_t  len = 12345;
    char    err[FRC_ERR_LEN];

    err[0] = '\0';
    ok(frc_encode_bucket(b, enc[0], sizeof(enc[0]), &len, err) == -1 && len == 12345
       && strstr(err, what) != NULL, "refused: %s (%s)", desc, err);
}


static void
refused_cluster(const frc_cluster_t *c, const char *what, const char *desc)
{
    size_t  len = 12345;
    char    err[FRC_ERR_LEN];

    err[0] = '\0';
    ok(frc_encode_cluster(c, enc[0], sizeof(enc[0]), &len, err) == -1 && len == 12345
       && strstr(err, what) != NULL, "refused: %s (%s)", desc, err);
}


static void
test_refusals(void)
{
    frc_record_endpoint_t  e[1];
    frc_record_name_t      cl[FRC_MAX_CLUSTERS + 1];
    frc_bucket_t           b;
    frc_cluster_t          c;
    size_t                 len, i;
    char                   err[FRC_ERR_LEN], small[8];
    static char            many[FRC_MAX_CLUSTERS + 1][8];

    cl[0] = name("a b");
    b = (frc_bucket_t) { 2, 1, 0, NULL, cl, 1 };
    refused_bucket(&b, "invalid cluster", "a cluster name with a space");
    cl[0] = name("a");
    cl[1] = name("a");
    b.n = 2;
    refused_bucket(&b, "cluster listed twice", "a cluster named twice");
    b.n = 1;
    b.policy = FRC_POLICY_LAST + 1;
    refused_bucket(&b, "invalid policy", "a policy past the table");
    b.policy = -1;
    refused_bucket(&b, "invalid policy", "a negative policy");
    b.policy = 0;
    b.contract = 3;
    refused_bucket(&b, "invalid contract", "contract 3");

    for (i = 0; i <= FRC_MAX_CLUSTERS; i++) {
        snprintf(many[i], sizeof(many[i]), "c%zu", i);
        cl[i] = name(many[i]);
    }
    b = (frc_bucket_t) { 2, 1, 0, NULL, cl, FRC_MAX_CLUSTERS + 1 };
    refused_bucket(&b, "more than", "more clusters than a gateway takes");
    b.n = FRC_MAX_CLUSTERS;
    ok(frc_encode_bucket(&b, enc[0], sizeof(enc[0]), &len, err) == 0,
       "as many clusters as a gateway takes are written");

    b = (frc_bucket_t) { 1, 1, 0, e, NULL, 1 };
    e[0] = ep("fn.example:80", "c", "z", 1, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid endpoint address", "a name where an address goes");
    e[0] = ep("1.2.3.4:80,x", "c", "z", 1, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid endpoint address", "an address carrying a separator");
    e[0] = ep("1.2.3.4:0", "c", "z", 1, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid endpoint address", "port 0");
    e[0] = ep("1.2.3.4:80", "c,d", "z", 1, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid cluster", "a cluster with a comma");
    e[0] = ep("1.2.3.4:80", NULL, "z", 1, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid cluster", "an F1 endpoint without a cluster");
    e[0] = ep("1.2.3.4:80", "c", "a++b", 1, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid zone", "an empty zone in a list");
    e[0] = ep("1.2.3.4:80", "c", "z", 0, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid weight", "weight 0");
    e[0] = ep("1.2.3.4:80", "c", "z", 1001, 0, 0, NULL, NULL);
    refused_bucket(&b, "invalid weight", "weight 1001");
    e[0] = ep("1.2.3.4:80", "c", "z", 1, 65536, 0, NULL, NULL);
    refused_bucket(&b, "invalid max_inflight", "max_inflight 65536");
    e[0] = ep("1.2.3.4:80", "c", "z", 1, 0, 0, "-x.example", NULL);
    refused_bucket(&b, "invalid endpoint host", "a host label starting with '-'");
    e[0] = ep("1.2.3.4:80", "c", "z", 1, 0, 0, "a b", NULL);
    refused_bucket(&b, "invalid endpoint host", "a host with a space");
    e[0] = ep("1.2.3.4:80", "c", "z", 1, 0, 0, NULL, "/a/");
    refused_bucket(&b, "invalid endpoint prefix", "a prefix ending with '/'");
    e[0] = ep("1.2.3.4:80", "c", "z", 1, 0, 0, NULL, "/a,b");
    refused_bucket(&b, "invalid endpoint prefix", "a prefix with the separator");

    e[0] = ep("1.2.3.4:80", NULL, NULL, 1, 0, 0, NULL, NULL);
    c = (frc_cluster_t) { 1, "a b", 3, 1, e, 1 };
    refused_cluster(&c, "invalid zone", "a zone with a space");
    c = (frc_cluster_t) { 1, NULL, 0, 1, e, 1 };
    refused_cluster(&c, "invalid zone", "no zone");
    c = (frc_cluster_t) { 1, "z", 1, 1, e, FRC_MAX_ENDPOINTS + 1 };
    refused_cluster(&c, "more than", "more endpoints than a gateway takes");

    c = (frc_cluster_t) { 1, "z", 1, 1, e, 1 };
    len = 12345;
    ok(frc_encode_cluster(&c, small, sizeof(small), &len, err) == -1 && len == 12345
       && strstr(err, "does not fit") != NULL, "a buffer too small is refused, not overrun");
    ok(frc_encode_cluster(&c, enc[0], strlen("C2 1 z up 1.2.3.4:80,1,0") + 1, &len, err) == 0
       && len == strlen("C2 1 z up 1.2.3.4:80,1,0"), "a buffer of exactly the record and its NUL is enough");
}


int
main(void)
{
    test_bucket_bytes();
    test_cluster_bytes();
    test_each_policy();
    test_decode_encode_identical();
    test_canonical_form();
    test_encode_decode_encode();
    test_refusals();
    return done_testing();
}
