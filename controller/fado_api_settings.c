/*
 * fado_api_settings: /v1/settings: GET, and PUT of default_policy and
 * bucket_header (each optional), answered with every setting.
 */

#include "fado_api.h"
#include "fado_policy.h"
#include "fado_settings.h"
#include "frc_record.h"

#include <string.h>

/* The new values, checked: 0 (absent ones NULL), or -1 with a 400. */
static int
fado_api_settings_body(fado_req_t *req, json_t *body, const char **policy,
    const char **header)
{
    *policy = fado_api_str(req, body, "default_policy", "default_policy", 0);
    if (req->json != NULL) {
        return -1;
    }
    *header = fado_api_str(req, body, "bucket_header", "bucket_header", 0);
    if (req->json != NULL) {
        return -1;
    }
    if (*policy != NULL && (*policy = fado_policy_token(*policy)) == NULL) {
        fado_req_error(req, 400, "invalid_field", "default_policy",
                       "default_policy must be one of " FADO_POLICY_NAMES);
        return -1;
    }
    /* the gateway's rule (lib/route/frc_record.c), so it takes what we publish */
    if (*header != NULL && !frc_record_header_valid(*header, strlen(*header))) {
        fado_req_error(req, 400, "invalid_field", "bucket_header",
                       "bucket_header must be a header name of 1-64 letters, digits and '-'");
        return -1;
    }
    return 0;
}

void
fado_api_settings(fado_req_t *req)
{
    fado_err_t  err;

    if (strcmp(req->method, "PUT") == 0) {
        json_t      *body = fado_api_body(req);
        const char  *policy, *header;
        int          rc;

        if (body == NULL) {
            return;
        }
        rc = fado_api_settings_body(req, body, &policy, &header);
        if (rc == 0 && (rc = fado_settings_put(req->conn, policy, header, &err)) != 0) {
            fado_api_err(req, &err);
        }
        json_decref(body);
        if (rc != 0) {
            return;
        }
        fado_api_changed(req);
    } else if (strcmp(req->method, "GET") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here",
                       req->method);
        return;
    }
    if ((req->json = fado_settings_get(req->conn, &err)) == NULL) {
        fado_api_err(req, &err);
        return;
    }
    req->status = 200;
}
