/*
 * fado_zones: the zones table (see fado_zones.h).
 */

#include "fado_zones.h"
#include "fado_db.h"

#define FADO_ZONES_JSON  "json_build_object('name', name, 'version', version)::text"

/* The one row of res as a zone, or NULL with err (not_found when none). */
static json_t *
fado_zones_one(PGresult *res, const char *name, fado_err_t *err)
{
    json_t  *j = NULL;

    if (PQntuples(res) == 0) {
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", NULL,
                     "zone \"%s\" does not exist", name);
    } else {
        j = fado_db_json_cell(res, 0, 1, err);
    }
    PQclear(res);
    return j;
}

json_t *
fado_zones_create(PGconn *conn, const char *name, fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, "INSERT INTO zones (name) VALUES ($1)"
                                      " RETURNING name, " FADO_ZONES_JSON, 1, &name);

    return res != NULL ? fado_zones_one(res, name, err) : NULL;
}

json_t *
fado_zones_get(PGconn *conn, const char *name, fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, "SELECT name, " FADO_ZONES_JSON
                                      " FROM zones WHERE name = $1", 1, &name);

    return res != NULL ? fado_zones_one(res, name, err) : NULL;
}

PGresult *
fado_zones_list(PGconn *conn, const char *cursor, const char *fetch, fado_err_t *err)
{
    const char  *p[2] = { cursor, fetch };

    return fado_db_exec_err(conn, err, "SELECT name, " FADO_ZONES_JSON " FROM zones"
                            " WHERE name > $1 ORDER BY name LIMIT $2::int", 2, p);
}

int
fado_zones_delete(PGconn *conn, const char *name, fado_err_t *err)
{
    return fado_db_delete_named(conn, "DELETE FROM zones WHERE name = $1 RETURNING name", "zone",
                                name, err);
}
