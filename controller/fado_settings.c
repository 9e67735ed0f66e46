/*
 * fado_settings: the settings table (see fado_settings.h).
 */

#include "fado_settings.h"
#include "fado_db.h"

json_t *
fado_settings_get(PGconn *conn, fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, "SELECT key, value FROM settings ORDER BY key",
                                      0, NULL);
    json_t    *j;

    if (res == NULL) {
        return NULL;
    }
    j = json_object();
    for (int i = 0; j != NULL && i < PQntuples(res); i++) {
        if (json_object_set_new(j, PQgetvalue(res, i, 0),
                                json_string(PQgetvalue(res, i, 1))) != 0)
        {
            json_decref(j);
            j = NULL;
        }
    }
    PQclear(res);
    if (j == NULL) {
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
    }
    return j;
}

static int
fado_settings_set(PGconn *conn, const char *key, const char *value, fado_err_t *err)
{
    const char  *p[2] = { key, value };
    PGresult    *res = fado_db_exec_err(conn, err, "UPDATE settings SET value = $2 WHERE key = $1",
                                        2, p);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

int
fado_settings_put(PGconn *conn, const char *policy, const char *header, fado_err_t *err)
{
    if (policy != NULL && fado_settings_set(conn, "default_policy", policy, err) != 0) {
        return -1;
    }
    if (header != NULL && fado_settings_set(conn, "bucket_header", header, err) != 0) {
        return -1;
    }
    return 0;
}
