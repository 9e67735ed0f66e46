/*
 * fado_events: MinIO bucket notifications (webhook target) into the
 * object index and the replica jobs. See fado_events.c and docs/storage.md.
 */

#ifndef FADO_EVENTS_H
#define FADO_EVENTS_H

#include "fado_http.h"

/* 1 if authorization is "Bearer <expected>" (expected NULL: never). */
int fado_events_authorized(const char *expected, const char *authorization);

/* POST /v1/minio/events[/{cluster}]; path_cluster "" when absent. */
void fado_events_handle(fado_req_t *req, const char *path_cluster);

/* Requests received and rejected as malformed, for /metrics. */
void fado_events_counters(unsigned long *received, unsigned long *rejected);

#endif /* FADO_EVENTS_H */
