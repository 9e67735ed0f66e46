/*
 * fado_events: MinIO bucket notifications (webhook target) into the
 * object index and the replica jobs. See fado_events.c and docs/storage.md.
 */

#ifndef FADO_EVENTS_H
#define FADO_EVENTS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "fado_err.h"

/* 1 if authorization is "Bearer <expected>" (expected NULL: never). */
int fado_events_authorized(const char *expected, const char *authorization);

typedef struct {
    size_t  applied;        /* records that changed the index or hurried a job */
    size_t  ignored;        /* records about no fado bucket on their cluster */
    int     hurried;        /* a job was hurried: wake the workers */
} fado_events_result_t;

/*
 * Applies a MinIO notification body seen on path_cluster ("": each
 * record's origin endpoint names its cluster), all records or none.
 * Returns 0, or -1 with err: FADO_ERR_INVALID for a payload that can never
 * be applied (field names the record and member), FADO_ERR_UNAVAILABLE
 * when PostgreSQL is away and MinIO should retry, FADO_ERR_INTERNAL.
 */
int fado_events_ingest(PGconn *conn, const char *body, size_t len, const char *path_cluster,
    fado_events_result_t *out, fado_err_t *err);

/* Requests received and rejected as malformed, for /metrics. */
void fado_events_counters(unsigned long *received, unsigned long *rejected);

#endif /* FADO_EVENTS_H */
