/*
 * libFuzzer target: the route record decoder the nginx module runs on what
 * it reads from Redis (lib/route/frc_record.c, compiled in as it is):
 * bucket records of contract 1 (F1, endpoints) and 2 (F2, cluster names),
 * and cluster records (C2). Every record the decoder accepts also goes
 * through the encoder (lib/route/frc_encode.c): decode -> encode -> decode
 * must read the same, and encoding that again must give the same bytes
 * (the encoder's form is canonical: what the controller publishes).
 */

#include "frc_encode.h"
#include "frc_record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static frc_record_endpoint_t  fuzz_eps[2][FRC_MAX_ENDPOINTS];
static frc_record_name_t      fuzz_names[2][FRC_MAX_CLUSTERS];
static char                   fuzz_enc[2][FRC_RECORD_MAX + 1];


static int
fuzz_same(const char *a, size_t alen, const char *b, size_t blen)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}


/* What the gateway keeps of an endpoint is the same in both readings. */
static void
fuzz_same_endpoints(const frc_record_endpoint_t *a,
    const frc_record_endpoint_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fuzz_same(a[i].addr, a[i].addr_len, b[i].addr, b[i].addr_len)
            || !fuzz_same(a[i].cluster, a[i].cluster_len, b[i].cluster, b[i].cluster_len)
            || !fuzz_same(a[i].zone, a[i].zone_len, b[i].zone, b[i].zone_len)
            || a[i].weight != b[i].weight || a[i].max_inflight != b[i].max_inflight
            || a[i].https != b[i].https
            || !fuzz_same(a[i].host, a[i].host_len, b[i].host, b[i].host_len)
            || !fuzz_same(a[i].prefix, a[i].prefix_len, b[i].prefix, b[i].prefix_len)
            || a[i].socklen != b[i].socklen
            || memcmp(&a[i].sockaddr, &b[i].sockaddr, a[i].socklen) != 0)
        {
            abort();
        }
    }
}


/* Decodes a bucket record fully into slot k; -1 when refused. */
static int
fuzz_bucket_decode(const char *s, size_t len, int k, frc_bucket_t *b)
{
    frc_record_head_t  head;
    char               err[FRC_ERR_LEN];

    if (frc_record_head(s, len, &head, err) != 0) {
        return -1;
    }
    b->contract = head.contract;
    b->version = head.version;
    b->policy = head.policy;
    b->endpoints = fuzz_eps[k];
    b->clusters = fuzz_names[k];
    if (head.contract == 2) {
        return frc_record_clusters(head.endpoints, head.endpoints_len, fuzz_names[k],
                                   FRC_MAX_CLUSTERS, &b->n, err);
    }
    return frc_record_endpoints(head.endpoints, head.endpoints_len, fuzz_eps[k],
                                FRC_MAX_ENDPOINTS, &b->n, err);
}


static void
fuzz_bucket(const char *s, size_t size)
{
    frc_bucket_t  b[2];
    size_t        len[2];
    char          err[FRC_ERR_LEN];

    if (fuzz_bucket_decode(s, size, 0, &b[0]) != 0) {
        return;
    }
    for (size_t i = 0; i < b[0].n; i++) {
        if (b[0].contract == 2
            ? !frc_record_label_valid(fuzz_names[0][i].name, fuzz_names[0][i].len)
            : (fuzz_eps[0][i].addr_len == 0 || fuzz_eps[0][i].weight < 1
               || fuzz_eps[0][i].weight > 1000))
        {
            abort();    /* the decoder promised a usable entry */
        }
    }
    (void) frc_record_policy_name(b[0].policy);

    /* what the decoder accepts, the encoder writes, and it reads the same */
    if (frc_encode_bucket(&b[0], fuzz_enc[0], sizeof(fuzz_enc[0]), &len[0], err) != 0
        || fuzz_bucket_decode(fuzz_enc[0], len[0], 1, &b[1]) != 0
        || b[1].contract != b[0].contract || b[1].version != b[0].version
        || b[1].policy != b[0].policy || b[1].n != b[0].n)
    {
        abort();
    }
    if (b[0].contract == 2) {
        for (size_t i = 0; i < b[0].n; i++) {
            if (!fuzz_same(fuzz_names[0][i].name, fuzz_names[0][i].len,
                           fuzz_names[1][i].name, fuzz_names[1][i].len))
            {
                abort();
            }
        }
    } else {
        fuzz_same_endpoints(fuzz_eps[0], fuzz_eps[1], b[0].n);
    }
    if (frc_encode_bucket(&b[1], fuzz_enc[1], sizeof(fuzz_enc[1]), &len[1], err) != 0
        || len[1] != len[0] || memcmp(fuzz_enc[0], fuzz_enc[1], len[0]) != 0)
    {
        abort();    /* the encoder's form is a fixed point */
    }
}


static int
fuzz_cluster_decode(const char *s, size_t len, int k, frc_cluster_t *c)
{
    frc_record_cluster_t  rc;
    char                  err[FRC_ERR_LEN];

    if (frc_record_cluster(s, len, &rc, err) != 0) {
        return -1;
    }
    if (frc_record_endpoints2(rc.endpoints, rc.endpoints_len, fuzz_eps[k],
                              FRC_MAX_ENDPOINTS, &c->n, err) != 0
        || c->n != rc.n)
    {
        abort();    /* the record's count and its list must agree */
    }
    c->version = rc.version;
    c->zones = rc.zone;
    c->zones_len = rc.zone_len;
    c->up = rc.up;
    c->endpoints = fuzz_eps[k];
    return 0;
}


static void
fuzz_cluster(const char *s, size_t size)
{
    frc_cluster_t  c[2];
    size_t         len[2];
    char           err[FRC_ERR_LEN];

    if (fuzz_cluster_decode(s, size, 0, &c[0]) != 0) {
        return;
    }
    if (frc_encode_cluster(&c[0], fuzz_enc[0], sizeof(fuzz_enc[0]), &len[0], err) != 0
        || fuzz_cluster_decode(fuzz_enc[0], len[0], 1, &c[1]) != 0
        || c[1].version != c[0].version || c[1].up != c[0].up || c[1].n != c[0].n
        || !fuzz_same(c[0].zones, c[0].zones_len, c[1].zones, c[1].zones_len))
    {
        abort();
    }
    fuzz_same_endpoints(fuzz_eps[0], fuzz_eps[1], c[0].n);
    if (frc_encode_cluster(&c[1], fuzz_enc[1], sizeof(fuzz_enc[1]), &len[1], err) != 0
        || len[1] != len[0] || memcmp(fuzz_enc[0], fuzz_enc[1], len[0]) != 0)
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *copy;

    if (size > FRC_RECORD_MAX) {
        return 0;
    }
    /* An exact-size heap copy: ASan sees any read past the record. */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    fuzz_bucket(copy, size);
    fuzz_cluster(copy, size);
    (void) frc_record_bucket_valid(copy, size);
    (void) frc_record_policy(copy, size);
    free(copy);
    return 0;
}
