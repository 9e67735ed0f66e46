/*
 * fado_api_import: POST /v1/import[?adopt=true]. The import itself is the
 * domain's (fado_import.c, which main's --platform-file also calls); here
 * only the query, the body and the mapping of its status to HTTP.
 */

#include "fado_api.h"
#include "fado_import.h"

#include <string.h>

void
fado_api_import(fado_req_t *req)
{
    static const unsigned int  status[] = {
        [FADO_IMPORT_OK] = 200, [FADO_IMPORT_INVALID] = 400, [FADO_IMPORT_UNKNOWN] = 422,
        [FADO_IMPORT_CONFLICT] = 409, [FADO_IMPORT_STORAGE] = 502,
        [FADO_IMPORT_DATABASE] = 503, [FADO_IMPORT_INTERNAL] = 500
    };
    fado_import_options_t      opt = { 0 };
    fado_import_error_t        err;
    const char                *adopt = fado_req_arg(req, "adopt");
    json_t                    *body, *summary;

    if (strcmp(req->method, "POST") != 0) {
        fado_req_error(req, 405, "method_not_allowed", NULL, "import is POST");
        return;
    }
    if (adopt != NULL) {
        if (strcmp(adopt, "true") != 0 && strcmp(adopt, "false") != 0) {
            fado_req_error(req, 400, "invalid_field", "adopt", "adopt must be true or false");
            return;
        }
        opt.adopt = adopt[0] == 't';
    }
    if ((body = fado_api_body(req)) == NULL) {
        return;
    }
    if (fado_import(req->conn, body, &opt, &summary, &err) != 0) {
        fado_req_error(req, status[err.status], err.code, err.field[0] ? err.field : NULL,
                       "%s", err.message);
    } else {
        req->json = summary;
        req->status = 200;
        fado_api_changed(req);
    }
    json_decref(body);
}
