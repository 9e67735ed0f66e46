/*
 * fado_settings: the settings table (see fado_settings.h).
 */

#include "fado_settings.h"
#include "fado_db.h"

json_t *
fado_settings_get(PGconn *conn, fado_err_t *err)
{
    return fado_db_object(conn, "SELECT key, value FROM settings ORDER BY key", err);
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
