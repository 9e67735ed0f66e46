/*
 * fado_api_valid: reading a request's JSON body and path against the
 * schema's rules, so that bad input is a 400 naming the field before any
 * SQL runs. The rules themselves (names, keys, cursors) are fado_valid.c's.
 */

#include "fado_api.h"
#include "fado_valid.h"

#include <stdio.h>
#include <string.h>

json_t *
fado_api_body(fado_req_t *req)
{
    json_error_t  e;
    json_t       *j = json_loadb(req->body, req->body_len, 0, &e);

    if (j == NULL) {
        fado_req_error(req, 400, "invalid_json", NULL, "request body is not JSON: %s (line %d)",
                       e.text, e.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        fado_req_error(req, 400, "invalid_json", NULL, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* A string member; NULL (with the error set when required) if absent/wrong. */
const char *
fado_api_str(fado_req_t *req, json_t *obj, const char *key, const char *field, int required)
{
    json_t  *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        if (required) {
            fado_req_error(req, 400, "missing_field", field, "%s is required", field);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        fado_req_error(req, 400, "invalid_field", field, "%s must be a string", field);
        return NULL;
    }
    return json_string_value(v);
}

/* An integer member in [lo, hi]; def when absent; -1 on error (set). */
long
fado_api_int(fado_req_t *req, json_t *obj, const char *key, const char *field, long lo,
    long hi, long def)
{
    json_t  *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        return def;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        fado_req_error(req, 400, "invalid_field", field, "%s must be an integer from %ld to %ld",
                       field, lo, hi);
        return -1;
    }
    return (long) json_integer_value(v);
}

/*
 * A JSON array of names, checked: *out is the array itself (the caller
 * passes it on as a jsonb parameter) or NULL when absent or null.
 */
int
fado_api_names(fado_req_t *req, json_t *obj, const char *key, const char *field,
    int bucket_rule, json_t **out)
{
    json_t  *arr = json_object_get(obj, key), *v;
    size_t   i;

    *out = NULL;
    if (arr == NULL || json_is_null(arr)) {
        return 0;
    }
    if (!json_is_array(arr) || json_array_size(arr) > 64) {
        fado_req_error(req, 400, "invalid_field", field, "%s must be an array of names", field);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        const char  *s = json_string_value(v);

        if (s == NULL || !(bucket_rule ? fado_valid_bucket(s) : fado_valid_name(s))) {
            fado_req_error(req, 400, "invalid_field", field,
                           "%s[%zu] is not a valid name", field, i);
            return -1;
        }
    }
    *out = arr;
    return 0;
}

/*
 * Path names and cursors obey the schema's rules before they reach SQL: a
 * value PostgreSQL would refuse (bytes that are not UTF-8: SQLSTATE 22021)
 * is a 400 naming the field, not a database error. Token ids and cursors
 * are checked by the tokens handler.
 */
int
fado_api_valid_input(fado_req_t *req, const char *res, const char *id)
{
    if (strcmp(res, "tokens") != 0 && req->query_cursor != NULL
        && !fado_valid_cursor(req->query_cursor))
    {
        fado_req_error(req, 400, "invalid_field", "cursor",
                       "cursor must be the next_cursor of a previous page (UTF-8, no"
                       " control characters, at most 1024 bytes)");
        return -1;
    }
    if (id[0] == '\0') {
        return 0;
    }
    if ((strcmp(res, "zones") == 0 || strcmp(res, "clusters") == 0) && !fado_valid_name(id)) {
        fado_req_error(req, 400, "invalid_field", "name",
                       "a %s name is 1-63 characters of letters, digits, '.', '_', '-'",
                       res[0] == 'z' ? "zone" : "cluster");
        return -1;
    }
    if ((strcmp(res, "buckets") == 0 || (strcmp(res, "routes") == 0
                                         && strcmp(id, "_default") != 0))
        && !fado_valid_bucket(id))
    {
        fado_req_error(req, 400, "invalid_field", "name",
                       "bucket names are 3-63 characters of a-z, 0-9, '.', '-' (S3 rules)");
        return -1;
    }
    return 0;
}
