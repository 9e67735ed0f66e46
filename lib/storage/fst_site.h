/*
 * fado storage: a site, the one object store (a MinIO deployment) of a
 * cluster, as every call that makes its own clients takes it: replication
 * (fst_replication.h) and the streams (fst_stream.h).
 */

#ifndef FST_SITE_H
#define FST_SITE_H

typedef struct {
    const char  *cluster;       /* cluster name, e.g. "eu-1" */
    const char  *endpoint;      /* MinIO URL, e.g. "http://127.0.0.1:18010" */
    const char  *access_key;
    const char  *secret_key;
    const char  *region;        /* NULL: "us-east-1" */
    const char  *peer_endpoint; /* how the other MinIO deployments reach
                                   this one, if not by endpoint; NULL:
                                   endpoint (e.g. "http://minio-eu:9000") */
} fst_site_t;

#endif /* FST_SITE_H */
