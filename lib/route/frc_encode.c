/*
 * Encoder of the fado route records (see frc_encode.h). The SQL that
 * publishes them (controller/fado_publisher.c, sql/006_endpoint_names.sql)
 * writes the same bytes; t/218-route-golden.t holds the two together.
 */

#include <stdio.h>
#include <string.h>

#include "frc_encode.h"
#include "frc_text.h"


/* Where a record is written: the end is never passed, a cut is noted. */
typedef struct {
    char    *p;
    char    *end;
    int      full;
} frc_encode_out_t;


static void
frc_encode_err(char *err, const char *what, const char *s, size_t len)
{
    unsigned char  *e, q[4 * 24 + 4];

    /* the same quoting as the decoder's: short, escaped */
    e = frc_text_log(q, (const unsigned char *) s, len, 24);
    snprintf(err, FRC_ERR_LEN, "%s \"%.*s\"", what, (int) (e - q), q);
}


/* A record goes into buf, with room kept for its terminating NUL. */
static int
frc_encode_start(frc_encode_out_t *o, char *buf, size_t size, char *err)
{
    if (size == 0) {
        snprintf(err, FRC_ERR_LEN, "no room for a record");
        return -1;
    }

    o->p = buf;
    o->end = buf + size - 1;
    o->full = 0;
    return 0;
}


static void
frc_encode_put(frc_encode_out_t *o, const char *s, size_t len)
{
    if (o->full || (size_t) (o->end - o->p) < len) {
        o->full = 1;
        return;
    }

    memcpy(o->p, s, len);
    o->p += len;
}


static void
frc_encode_str(frc_encode_out_t *o, const char *s)
{
    frc_encode_put(o, s, strlen(s));
}


static void
frc_encode_uint(frc_encode_out_t *o, uint64_t v)
{
    char  d[24];
    int   n;

    n = snprintf(d, sizeof(d), "%llu", (unsigned long long) v);
    frc_encode_put(o, d, (size_t) n);
}


/* "TAG version policy": the head every bucket record starts with. */
static void
frc_encode_head(frc_encode_out_t *o, const char *tag, uint64_t version,
    const char *middle)
{
    frc_encode_str(o, tag);
    frc_encode_put(o, " ", 1);
    frc_encode_uint(o, version);
    frc_encode_put(o, " ", 1);
    frc_encode_str(o, middle);
}


/*
 * One endpoint token: "addr,cluster,zone,weight,max_inflight" (F1, place
 * set) or "addr,weight,max_inflight" (C2), then ",scheme,host,prefix" when
 * the origin says anything: the SQL writes none for plain http with no
 * name and no prefix, and neither does this.
 */
static int
frc_encode_endpoint(frc_encode_out_t *o, const frc_record_endpoint_t *ep,
    int place, char *err)
{
    frc_record_endpoint_t  scratch;

    if (ep->addr == NULL || frc_record_addr(ep->addr, ep->addr_len, &scratch)
                            != 0)
    {
        frc_encode_err(err, "invalid endpoint address", ep->addr,
                       ep->addr ? ep->addr_len : 0);
        return -1;
    }

    if (place) {
        if (ep->cluster == NULL
            || !frc_record_label_valid(ep->cluster, ep->cluster_len))
        {
            frc_encode_err(err, "invalid cluster", ep->cluster,
                           ep->cluster ? ep->cluster_len : 0);
            return -1;
        }

        if (ep->zone == NULL || !frc_record_zones_valid(ep->zone, ep->zone_len)) {
            frc_encode_err(err, "invalid zone", ep->zone,
                           ep->zone ? ep->zone_len : 0);
            return -1;
        }
    }

    if (ep->weight < 1 || ep->weight > 1000) {
        snprintf(err, FRC_ERR_LEN, "invalid weight %u (1..1000)", ep->weight);
        return -1;
    }

    if (ep->max_inflight > 65535) {
        snprintf(err, FRC_ERR_LEN, "invalid max_inflight %u (0..65535)",
                 ep->max_inflight);
        return -1;
    }

    if (ep->host != NULL && !frc_record_host_valid(ep->host, ep->host_len)) {
        frc_encode_err(err, "invalid endpoint host", ep->host, ep->host_len);
        return -1;
    }

    if (ep->prefix != NULL
        && !frc_record_prefix_valid(ep->prefix, ep->prefix_len))
    {
        frc_encode_err(err, "invalid endpoint prefix", ep->prefix,
                       ep->prefix_len);
        return -1;
    }

    frc_encode_put(o, " ", 1);
    frc_encode_put(o, ep->addr, ep->addr_len);

    if (place) {
        frc_encode_put(o, ",", 1);
        frc_encode_put(o, ep->cluster, ep->cluster_len);
        frc_encode_put(o, ",", 1);
        frc_encode_put(o, ep->zone, ep->zone_len);
    }

    frc_encode_put(o, ",", 1);
    frc_encode_uint(o, ep->weight);
    frc_encode_put(o, ",", 1);
    frc_encode_uint(o, ep->max_inflight);

    if (ep->https || ep->host != NULL || ep->prefix != NULL) {
        frc_encode_str(o, ep->https ? ",https," : ",http,");

        if (ep->host != NULL) {
            frc_encode_put(o, ep->host, ep->host_len);
        } else {
            frc_encode_put(o, "-", 1);
        }

        frc_encode_put(o, ",", 1);

        if (ep->prefix != NULL) {
            frc_encode_put(o, ep->prefix, ep->prefix_len);
        } else {
            frc_encode_put(o, "-", 1);
        }
    }

    return 0;
}


/* Ends the record: NUL terminated, within buf and within the contract. */
static int
frc_encode_end(frc_encode_out_t *o, char *buf, size_t *len, char *err)
{
    size_t  n;

    n = (size_t) (o->p - buf);

    if (o->full) {
        snprintf(err, FRC_ERR_LEN, "record does not fit in the buffer");
        return -1;
    }

    if (n > FRC_RECORD_MAX) {
        snprintf(err, FRC_ERR_LEN,
                 "record of %zu bytes exceeds the %d bytes limit",
                 n, FRC_RECORD_MAX);
        return -1;
    }

    /* the writer kept one byte back for this */
    *o->p = '\0';
    *len = n;

    return 0;
}


int
frc_encode_bucket(const frc_bucket_t *b, char *buf, size_t size,
    size_t *len, char *err)
{
    size_t            i, j;
    frc_encode_out_t  o;

    if (frc_encode_start(&o, buf, size, err) != 0) {
        return -1;
    }

    if (b->policy < 0 || b->policy > FRC_POLICY_LAST) {
        snprintf(err, FRC_ERR_LEN, "invalid policy %d", b->policy);
        return -1;
    }

    if (b->contract == 1) {
        if (b->n > FRC_MAX_ENDPOINTS) {
            snprintf(err, FRC_ERR_LEN, "more than %d endpoints in record",
                     FRC_MAX_ENDPOINTS);
            return -1;
        }

        frc_encode_head(&o, "F1", b->version, frc_record_policy_name(b->policy));

        for (i = 0; i < b->n; i++) {
            if (frc_encode_endpoint(&o, &b->endpoints[i], 1, err) != 0) {
                return -1;
            }
        }

        return frc_encode_end(&o, buf, len, err);
    }

    if (b->contract != 2) {
        snprintf(err, FRC_ERR_LEN, "invalid contract %d (1 or 2)",
                 b->contract);
        return -1;
    }

    if (b->n > FRC_MAX_CLUSTERS) {
        snprintf(err, FRC_ERR_LEN, "more than %d clusters in record",
                 FRC_MAX_CLUSTERS);
        return -1;
    }

    frc_encode_head(&o, "F2", b->version, frc_record_policy_name(b->policy));

    for (i = 0; i < b->n; i++) {
        if (b->clusters[i].name == NULL
            || !frc_record_label_valid(b->clusters[i].name,
                                       b->clusters[i].len))
        {
            frc_encode_err(err, "invalid cluster", b->clusters[i].name,
                           b->clusters[i].name ? b->clusters[i].len : 0);
            return -1;
        }

        /* the decoder refuses a cluster named twice: never write one */
        for (j = 0; j < i; j++) {
            if (b->clusters[j].len == b->clusters[i].len
                && memcmp(b->clusters[j].name, b->clusters[i].name,
                          b->clusters[i].len) == 0)
            {
                frc_encode_err(err, "cluster listed twice",
                               b->clusters[i].name, b->clusters[i].len);
                return -1;
            }
        }

        frc_encode_put(&o, " ", 1);
        frc_encode_put(&o, b->clusters[i].name, b->clusters[i].len);
    }

    return frc_encode_end(&o, buf, len, err);
}


int
frc_encode_cluster(const frc_cluster_t *c, char *buf, size_t size,
    size_t *len, char *err)
{
    size_t            i;
    frc_encode_out_t  o;

    if (frc_encode_start(&o, buf, size, err) != 0) {
        return -1;
    }

    if (c->zones == NULL || !frc_record_zones_valid(c->zones, c->zones_len)) {
        frc_encode_err(err, "invalid zone", c->zones,
                       c->zones ? c->zones_len : 0);
        return -1;
    }

    if (c->n > FRC_MAX_ENDPOINTS) {
        snprintf(err, FRC_ERR_LEN, "more than %d endpoints in record",
                 FRC_MAX_ENDPOINTS);
        return -1;
    }

    frc_encode_head(&o, "C2", c->version, "");
    frc_encode_put(&o, c->zones, c->zones_len);
    frc_encode_str(&o, c->up ? " up" : " down");

    for (i = 0; i < c->n; i++) {
        if (frc_encode_endpoint(&o, &c->endpoints[i], 0, err) != 0) {
            return -1;
        }
    }

    return frc_encode_end(&o, buf, len, err);
}
