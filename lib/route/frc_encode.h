/*
 * The encoder of the fado route records (docs/routing-contract.md): bucket
 * records F1 and F2 and cluster records C2 from the structs the decoder
 * (frc_record.h) fills, so decode -> encode gives the record back. What it
 * writes is the canonical form, byte for byte what the controller's SQL
 * publishes: an endpoint's origin ("scheme,host,prefix", contract 2.1)
 * only when it says something (https, a host or a prefix), and every
 * token checked against the decoder's rules first, so nothing it writes is
 * refused by a gateway. Settings are not records (a setting's value is
 * published as it is, checked by frc_record_header_valid), so there is no
 * encoder for them. libc only, like the rest of lib/route/.
 */

#ifndef FRC_ENCODE_H
#define FRC_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "frc_record.h"


/* A bucket record, or the default route. */
typedef struct {
    int                            contract;  /* 1 (F1) or 2 (F2) */
    uint64_t                       version;
    int                            policy;    /* FRC_POLICY_* */
    /* F1: addr, cluster, zone, weight, max_inflight, origin of each */
    const frc_record_endpoint_t   *endpoints;
    /* F2: the clusters, each at most once, in the order given */
    const frc_record_name_t       *clusters;
    size_t                         n;         /* endpoints or clusters */
} frc_bucket_t;


/* A cluster record, C2. */
typedef struct {
    uint64_t                       version;
    const char                    *zones;     /* "eu", "global+zone-1" */
    size_t                         zones_len;
    int                            up;        /* "up" (1) or "down" (0) */
    /* addr, weight, max_inflight, origin of each (cluster, zone unused) */
    const frc_record_endpoint_t   *endpoints;
    size_t                         n;
} frc_cluster_t;


/*
 * Write the record into buf (size bytes, NUL terminated) and its length
 * (without the NUL) into *len. Return 0, or -1 with a message in err
 * (FRC_ERR_LEN bytes) when a field is off the contract's rules or the
 * record does not fit in buf or in FRC_RECORD_MAX; then buf holds no
 * record.
 */
int frc_encode_bucket(const frc_bucket_t *b, char *buf, size_t size,
    size_t *len, char *err);

int frc_encode_cluster(const frc_cluster_t *c, char *buf, size_t size,
    size_t *len, char *err);

#endif /* FRC_ENCODE_H */
