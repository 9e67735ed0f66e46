/*
 * fado_api_events: the HTTP side of MinIO's webhook. The router has
 * checked the events token; fado_events.c applies the records.
 */

#include "fado_api.h"
#include "fado_events.h"
#include "fado_jobs.h"
#include "fado_reconcile.h"

#include <string.h>

void
fado_api_events(fado_req_t *req, const char *path_cluster)
{
    fado_events_result_t  r;
    fado_err_t            err;

    if (strcmp(req->method, "POST") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "events are POSTed");
        return;
    }
    if (fado_events_ingest(req->conn, req->body, req->body_len, path_cluster, &r, &err) != 0) {
        /* MinIO does not retry a 4xx: only what can never apply gets one. */
        fado_api_err(req, &err);
        return;
    }
    req->status = 200;
    json_decref(req->json);
    req->json = json_pack("{s:I, s:I}", "applied", (json_int_t) r.applied,
                          "ignored", (json_int_t) r.ignored);
    if (r.hurried) {
        fado_jobs_wake(fado_reconciler_jobs(req->app->rec));
    }
}
