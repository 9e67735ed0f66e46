/*
 * fado_zones: zones in PostgreSQL, as domain functions (the handler is
 * fado_api_zones.c). A zone is a name and a version; clusters and bucket
 * placements refer to it, so one in use is not deleted.
 */

#ifndef FADO_ZONES_H
#define FADO_ZONES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"

/* Creates a zone and returns it as {"name", "version"}, or NULL with err:
 * conflict (name taken), unavailable, internal. */
json_t *fado_zones_create(PGconn *conn, const char *name, fado_err_t *err);

/* A zone, or NULL with err: not_found, unavailable, internal. */
json_t *fado_zones_get(PGconn *conn, const char *name, fado_err_t *err);

/* A page of (name, JSON text) rows after cursor; NULL with err. */
PGresult *fado_zones_list(PGconn *conn, const char *cursor, const char *fetch,
    fado_err_t *err);

/* 0, or -1 with err: not_found, conflict in_use, unavailable. */
int fado_zones_delete(PGconn *conn, const char *name, fado_err_t *err);

#endif /* FADO_ZONES_H */
