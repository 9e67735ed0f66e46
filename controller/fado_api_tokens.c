/*
 * fado_api_tokens: /v1/tokens, API tokens. A secret is shown once, when the
 * token is created; only its hash is stored (fado_auth.c).
 */

#include "fado_api.h"
#include "fado_auth.h"
#include "fado_valid.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
fado_api_tokens_item(fado_req_t *req, PGresult *res, int i, void *arg)
{
    json_t  *j = json_pack("{s:I, s:s, s:s, s:s, s:b}",
        "id", (json_int_t) atoll(PQgetvalue(res, i, 0)), "name", PQgetvalue(res, i, 1),
        "role", PQgetvalue(res, i, 2), "created_at", PQgetvalue(res, i, 3),
        "revoked", PQgetvalue(res, i, 4)[0] == 't');

    (void) arg;
    if (j == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
    }
    return j;
}

void
fado_api_tokens(fado_req_t *req, const char *id)
{
    PGresult  *res;

    if (req->role != FADO_ROLE_ADMIN) {
        fado_req_error(req, 403, "forbidden", NULL, "tokens are managed by admin tokens only");
        return;
    }
    if (strcmp(req->method, "GET") == 0 && id[0] == '\0') {
        /* Paged by id; the cursor is the last id of the previous page. */
        fado_api_page_t  pg;
        const char      *p[2] = { req->query_cursor ? req->query_cursor : "0", pg.fetch };
        int64_t          after;

        if (fado_api_page_limit(req, FADO_LIST_DEFAULT, FADO_LIST_MAX, &pg) != 0) {
            return;
        }
        if (!fado_valid_int64(p[0], 0, INT64_MAX, &after)) {
            fado_req_error(req, 400, "invalid_field", "cursor", "cursor must be a token id");
            return;
        }
        res = fado_api_query(req, "SELECT id, name, role, created_at, revoked_at IS NOT NULL"
                             " FROM api_tokens WHERE id > $1::bigint ORDER BY id"
                             " LIMIT $2::int", 2, p);
        if (res == NULL) {
            return;
        }
        req->json = fado_api_page_json(req, res, &pg, fado_api_tokens_item, NULL);
        if (req->json != NULL) {
            req->status = 200;
        }
        PQclear(res);
        return;
    }
    if (strcmp(req->method, "POST") == 0 && id[0] == '\0') {
        json_t      *body = fado_api_body(req);
        const char  *name, *role;
        char         secret[80], hex[65], lit[70];

        if (body == NULL) {
            return;
        }
        name = fado_api_str(req, body, "name", "name", 1);
        role = name ? fado_api_str(req, body, "role", "role", 1) : NULL;
        if (name != NULL && (name[0] == '\0' || strlen(name) > 100)) {
            fado_req_error(req, 400, "invalid_field", "name", "name must be 1-100 characters");
        } else if (role != NULL && strcmp(role, "admin") != 0 && strcmp(role, "read-only") != 0) {
            fado_req_error(req, 400, "invalid_field", "role", "role must be admin or read-only");
        } else if (name != NULL && role != NULL) {
            if (fado_auth_new_secret(secret, sizeof(secret)) != 0) {
                fado_req_error(req, 500, "internal", NULL, "no randomness for a token");
            } else {
                const char  *p[3] = { name, role, lit };
                fado_auth_hash(secret, hex);
                snprintf(lit, sizeof(lit), "\\x%s", hex);
                res = fado_api_query(req, "INSERT INTO api_tokens (name, role, secret_hash)"
                                     " VALUES ($1, $2, $3::bytea) RETURNING id", 3, p);
                if (res != NULL) {
                    /* The only time the secret is shown. */
                    req->json = json_pack("{s:I, s:s, s:s, s:s}",
                        "id", (json_int_t) atoll(PQgetvalue(res, 0, 0)), "name", name,
                        "role", role, "token", secret);
                    req->status = 201;
                    PQclear(res);
                }
            }
        }
        json_decref(body);
        return;
    }
    if (strcmp(req->method, "DELETE") == 0 && id[0] != '\0') {
        const char  *p[1] = { id };
        int64_t      tid;

        if (!fado_valid_int64(id, 1, INT64_MAX, &tid)) {
            fado_req_error(req, 400, "invalid_field", "id",
                           "a token id is an integer from 1 to 9223372036854775807");
            return;
        }
        res = fado_api_query(req, "UPDATE api_tokens SET revoked_at = now()"
                             " WHERE id = $1::bigint AND revoked_at IS NULL RETURNING id", 1, p);
        if (res == NULL) {
            return;
        }
        if (PQntuples(res) == 0) {
            fado_req_error(req, 404, "not_found", NULL, "token %s does not exist or is revoked", id);
        } else {
            fado_auth_invalidate();
            req->status = 204;
        }
        PQclear(res);
        return;
    }
    fado_req_error(req, 405, "method_not_allowed", NULL, "%s is not supported here", req->method);
}
