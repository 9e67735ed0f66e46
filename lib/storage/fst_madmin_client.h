/*
 * fado madmin client: the few MinIO admin API calls fado needs, over the S3
 * client's transport and signer (/minio/admin/v3/...). Bodies that carry
 * credentials are encrypted with fst_madmin_crypt.c under the admin secret key.
 */

#ifndef FST_MADMIN_CLIENT_H
#define FST_MADMIN_CLIENT_H

#include <stddef.h>

#include "fst_s3_client.h"

typedef struct {
    char  arn[256];
    char  endpoint[256];        /* host:port of the target */
    char  target_bucket[64];
    char  reset_id[128];        /* set once a resync was started */
    int   online;
} fst_madmin_target_t;

/* Deployment id of the MinIO deployment behind c (server info). */
int fst_madmin_deployment_id(fst_s3_client_t *c, char *id, size_t id_len,
    char *err, size_t err_len);

/*
 * Remote replication targets of bucket. *targets is malloc'd (free it),
 * *n their count.
 */
int fst_madmin_targets_list(fst_s3_client_t *c, const char *bucket,
    fst_madmin_target_t **targets, size_t *n, char *err, size_t err_len);

/*
 * Add a replication target: bucket on c replicates to target_bucket on the
 * deployment at target_endpoint (a URL) with the given credentials. The
 * ARN MinIO assigns is written to arn.
 */
int fst_madmin_target_set(fst_s3_client_t *c, const char *bucket,
    const char *target_endpoint, const char *target_access_key,
    const char *target_secret_key, const char *target_bucket,
    const char *region, char *arn, size_t arn_len, char *err, size_t err_len);

int fst_madmin_target_remove(fst_s3_client_t *c, const char *bucket,
    const char *arn, char *err, size_t err_len);

/*
 * Start resyncing existing objects of bucket to the target arn (MinIO's
 * replication reset; PUT /bucket?replication-reset). reset_id names it.
 */
int fst_madmin_resync_start(fst_s3_client_t *c, const char *bucket,
    const char *arn, const char *reset_id, char *err, size_t err_len);

/*
 * State of the latest resync of bucket towards arn (GET
 * /bucket?replication-reset-status): "Pending", "Started", "Completed",
 * "Failed", "Canceled", or "" when there was none.
 */
int fst_madmin_resync_status(fst_s3_client_t *c, const char *bucket,
    const char *arn, char *status, size_t status_len, char *err,
    size_t err_len);

#endif /* FST_MADMIN_CLIENT_H */
