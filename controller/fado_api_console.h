/*
 * fado_api_console: the API endpoints the web console needs beyond the
 * resource API (docs/api.yaml, docs/console.md):
 *
 *   GET  /v1/whoami              the calling token's role
 *   GET  /v1/summary             the platform at a glance, in one SQL query
 *   POST /v1/placement/preview   run the placement for a bucket, write nothing
 *   GET  /v1/gateways            the gateways' /fado/status (FADO_GATEWAYS)
 *
 * They are authenticated like every API call (fado_http.c) before they
 * get here.
 */

#ifndef FADO_API_CONSOLE_H
#define FADO_API_CONSOLE_H

#include "fado_http.h"

/* 1 if req's path is one of these (answered in req), 0 if not. */
int fado_api_console_handle(fado_req_t *req);

#endif /* FADO_API_CONSOLE_H */
