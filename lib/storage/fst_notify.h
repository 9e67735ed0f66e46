/*
 * fado bucket notifications: have MinIO send a bucket's object events
 * (created, removed, replication) to the controller's webhook.
 *
 * The webhook target itself is server configuration of each MinIO
 * deployment (MINIO_NOTIFY_WEBHOOK_ENABLE_<ID>=on, ..._ENDPOINT_<ID>,
 * ..._AUTH_TOKEN_<ID>), whose ARN is arn:minio:sqs::<ID>:webhook; this file
 * only points buckets at it. See docs/storage.md.
 */

#ifndef FST_NOTIFY_H
#define FST_NOTIFY_H

#include <stddef.h>

#include "fst_s3_client.h"

#define FST_NOTIFY_ID  "fado"

/* The events fado asks for, in the order written. */
extern const char *const fst_notify_events[];

/*
 * Put fado's queue configuration (Id "fado", towards arn) into existing
 * (NULL or ""), keeping every other configuration as it was. *changed is
 * 0 when an equivalent one is already there.
 */
int fst_notify_merge(const char *existing, const char *arn,
    char **out, int *changed, char *err, size_t err_len);

/* Remove fado's configuration; *out is the rest (always a document). */
int fst_notify_remove(const char *existing, char **out,
    int *changed, char *err, size_t err_len);

/* Apply on a bucket: read, merge, write when changed. */
int fst_notify_set(fst_s3_client_t *c, const char *bucket,
    const char *arn, char *err, size_t err_len);
int fst_notify_clear(fst_s3_client_t *c, const char *bucket,
    char *err, size_t err_len);

#endif /* FST_NOTIFY_H */
