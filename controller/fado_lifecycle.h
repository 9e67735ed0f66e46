/*
 * fado_lifecycle: the API side of a replica's life that is not placement.
 *
 *   GET    /v1/buckets/{b}/copies                    copies kept on clusters that left
 *   GET    /v1/buckets/{b}/copies/{cluster}          one of them
 *   DELETE /v1/buckets/{b}/copies/{cluster}?confirm={b}
 *          delete that copy's data (202; a job does it, then the record goes)
 *
 * and the rule for moving a bucket's home (a PUT changing home_cluster):
 * the new home must already hold a ready replica, else 409 naming
 * home_cluster. The jobs (fado_jobs.c) do the MinIO side; docs/storage.md
 * describes both operations.
 */

#ifndef FADO_LIFECYCLE_H
#define FADO_LIFECYCLE_H

#include <stddef.h>

#include "fado_http.h"

/* Splits "/v1/buckets/{b}/copies[/{cluster}]": 1 if it is one (cluster ""
 * for the list), 0 if not such a path. */
int fado_lifecycle_copies_path(const char *path, char *bucket, size_t bsize,
    char *cluster, size_t csize);

void fado_lifecycle_copies(fado_req_t *req, const char *bucket, const char *cluster);

/*
 * Inside a bucket write's transaction, before the row changes: when the
 * bucket exists and home moves to another cluster, that cluster must hold
 * a ready replica and be up. Returns 0, or -1 with the 409 (or a database
 * error) answered in req. field: the name to report (with an import's
 * path prefix).
 */
int fado_lifecycle_home_move(fado_req_t *req, const char *bucket, const char *home,
    const char *field);

#endif /* FADO_LIFECYCLE_H */
