/*
 * fado_api_page: keyset paging, written once for every list the API
 * serves. A page is fetched with LIMIT limit+1 after the cursor (the first
 * column of the last row of the previous page): the extra row tells
 * whether another page exists and is not returned.
 */

#include "fado_api.h"

#include <stdio.h>
#include <stdlib.h>

int
fado_api_page_limit(fado_req_t *req, int def, int max, fado_api_page_t *pg)
{
    long  n = def;

    if (req->query_limit != NULL) {
        char  *end;

        n = strtol(req->query_limit, &end, 10);
        if (*end != '\0' || n < 1 || n > max) {
            fado_req_error(req, 400, "invalid_field", "limit",
                           "limit must be an integer from 1 to %d", max);
            return -1;
        }
    }
    pg->limit = (int) n;
    snprintf(pg->fetch, sizeof(pg->fetch), "%ld", n + 1);
    return 0;
}

json_t *
fado_api_page_json(fado_req_t *req, PGresult *res, const fado_api_page_t *pg,
    fado_api_page_row_fn row, void *arg)
{
    int      rows = PQntuples(res);
    json_t  *items = json_array(), *next;

    if (items == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    for (int i = 0; i < rows && i < pg->limit; i++) {
        json_t  *item = row(req, res, i, arg);

        if (item == NULL) {                 /* the row function answered */
            json_decref(items);
            return NULL;
        }
        if (json_array_append_new(items, item) != 0) {
            json_decref(items);
            fado_req_error(req, 500, "internal", NULL, "out of memory");
            return NULL;
        }
    }
    next = rows > pg->limit ? json_string(PQgetvalue(res, pg->limit - 1, 0)) : json_null();
    return json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
}
