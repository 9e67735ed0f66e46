/*
 * fado_router: which path is served by whom, and who may call it.
 *
 * Order matters: the first match wins. Liveness answers anyone from the
 * head alone; MinIO's webhook has a token of its own; readiness probes come
 * from orchestrators, which hold no token, and learn only whether this
 * controller can serve; everything else needs an API token, and a
 * read-only one may only read.
 */

#include "fado_router.h"
#include "fado_api.h"
#include "fado_events.h"

#include <jansson.h>

static void
fado_router_healthz(fado_req_t *req)
{
    req->status = 200;
    req->json = json_pack("{s:s}", "status", "ok");
}

static int
fado_router_webhook(fado_req_t *req)
{
    const char  *expected = req->app->events_token;

    if (fado_events_authorized(expected, req->authorization)) {
        return 0;
    }
    fado_req_error(req, 401, "unauthorized", "Authorization",
                   expected == NULL
                   ? "the webhook is disabled: the controller has no FADO_EVENTS_TOKEN"
                   : "the events bearer token is required");
    return -1;
}

const fado_route_t  fado_router_routes[] = {
    { NULL,   "/healthz",           FADO_ACCESS_PUBLIC, NULL, fado_router_healthz, NULL },
    { NULL,   "/v1/minio/events/*", FADO_ACCESS_OWN,    fado_router_webhook, fado_api_handle,
      NULL },
    { NULL,   "/readyz",            FADO_ACCESS_PROBE,  NULL, fado_api_handle, NULL },
    /* Buckets and their objects: object requests stream on the object
     * threads, the rest is the JSON API. */
    { "GET",  "/v1/buckets/*",      FADO_ACCESS_READ,   NULL, fado_api_handle,
      &fado_api_objects_stream },
    { "HEAD", "/v1/buckets/*",      FADO_ACCESS_READ,   NULL, fado_api_handle,
      &fado_api_objects_stream },
    { NULL,   "/v1/buckets/*",      FADO_ACCESS_ADMIN,  NULL, fado_api_handle,
      &fado_api_objects_stream },
    { "GET",  "*",                  FADO_ACCESS_READ,   NULL, fado_api_handle, NULL },
    { "HEAD", "*",                  FADO_ACCESS_READ,   NULL, fado_api_handle, NULL },
    { NULL,   "*",                  FADO_ACCESS_ADMIN,  NULL, fado_api_handle, NULL },
    { NULL,   NULL,                 FADO_ACCESS_PUBLIC, NULL, NULL, NULL }
};
