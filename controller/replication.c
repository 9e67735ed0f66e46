/*
 * fado replication on MinIO: the reconciler's calls (replication.h) built
 * on the S3 client, the admin API and the replication configuration.
 * See docs/storage.md for the steps and what each guarantees.
 */

#include "replication.h"
#include "s3_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
fado_replica_state_name(fado_replica_state_e state)
{
    switch (state) {
    case FADO_REPLICA_PENDING:  return "pending";
    case FADO_REPLICA_SYNCING:  return "syncing";
    case FADO_REPLICA_READY:    return "ready";
    case FADO_REPLICA_REMOVING: return "removing";
    case FADO_REPLICA_FAILED:   return "failed";
    }
    return "unknown";
}

static fado_s3_client_t *
fado_replication_client(const fado_storage_site_t *site, char *err,
    size_t err_len)
{
    fado_s3_client_t  *c;
    char               e[256];

    if (site == NULL) {
        snprintf(err, err_len, "storage site is missing");
        return NULL;
    }
    c = fado_s3_client_new(site->endpoint, site->access_key,
                           site->secret_key, site->region, e, sizeof(e));
    if (c == NULL) {
        snprintf(err, err_len, "cluster \"%s\": %s",
                 site->cluster ? site->cluster : "?", e);
    }
    return c;
}

/* The bucket exists (created or adopted as it is) with versioning on. */
static int
fado_replication_bucket(fado_s3_client_t *c, const fado_storage_site_t *site,
    const char *bucket, char *err, size_t err_len)
{
    char  e[512], status[32];
    int   created;

    if (fado_s3_bucket_create(c, bucket, &created, e, sizeof(e)) != 0
        || fado_s3_bucket_versioning_get(c, bucket, status, sizeof(status),
                                         e, sizeof(e)) != 0
        || (strcmp(status, "Enabled") != 0
            && fado_s3_bucket_versioning_set(c, bucket, 1, e, sizeof(e))
               != 0))
    {
        snprintf(err, err_len, "cluster \"%s\": %s",
                 site->cluster ? site->cluster : "?", e);
        return -1;
    }
    return 0;
}

int
fado_replication_ensure_home(const fado_storage_site_t *home,
    const char *bucket, char *err, size_t err_len)
{
    fado_s3_client_t  *c = fado_replication_client(home, err, err_len);
    int                rc;

    if (c == NULL) {
        return -1;
    }
    rc = fado_replication_bucket(c, home, bucket, err, err_len);
    fado_s3_client_free(c);
    return rc;
}

int
fado_replication_converge(const fado_storage_site_t *home,
    const fado_storage_site_t *replica, const char *bucket, int priority,
    fado_replica_state_e *state, char *err, size_t err_len)
{
    (void) home;
    (void) replica;
    (void) bucket;
    (void) priority;
    *state = FADO_REPLICA_FAILED;
    snprintf(err, err_len, "replication: converge not implemented yet");
    return -1;
}

int
fado_replication_stop(const fado_storage_site_t *home,
    const fado_storage_site_t *replica, const char *bucket,
    char *err, size_t err_len)
{
    (void) home;
    (void) replica;
    (void) bucket;
    snprintf(err, err_len, "replication: stop not implemented yet");
    return -1;
}
