/*
 * fado_import: a platform description written into PostgreSQL in one
 * transaction, as POST /v1/import and `fado-controller --import FILE` take
 * it. Two shapes: fado's own (zones, clusters, buckets) and FaDO's
 * config.json (clusters, storage_deployments, faas_deployments, buckets),
 * converted with FaDO's meanings (docs/controller.md, "Migrating from
 * FaDO").
 *
 * A domain function: it takes a connection and the parsed document and
 * returns an error value naming the field of the document the user wrote
 * ("buckets[2].storage_deployment_alias"); it knows nothing of HTTP. A
 * rejected document changes nothing.
 */

#ifndef FADO_IMPORT_H
#define FADO_IMPORT_H

#include <jansson.h>
#include <libpq-fe.h>

typedef enum {
    FADO_IMPORT_OK = 0,
    FADO_IMPORT_INVALID,      /* the document is wrong: the field says where */
    FADO_IMPORT_UNKNOWN,      /* names a zone or cluster that does not exist */
    FADO_IMPORT_CONFLICT,     /* contradicts what the database holds */
    FADO_IMPORT_STORAGE,      /* a storage deployment could not be listed */
    FADO_IMPORT_DATABASE,     /* PostgreSQL failed or went away */
    FADO_IMPORT_INTERNAL
} fado_import_status_e;

typedef struct {
    fado_import_status_e  status;
    char                  code[32];       /* "invalid_field", "missing_field", ... */
    char                  field[192];     /* path in the document, "" for none */
    char                  message[512];
} fado_import_error_t;

typedef struct {
    /*
     * FaDO adopts the buckets it finds on a storage deployment it is given:
     * a bucket fado does not know becomes a bucket homed there. Explicit,
     * because it makes buckets the file does not name. It never overwrites:
     * a bucket fado or the file already has stays as it is.
     */
    int  adopt;
} fado_import_options_t;

/*
 * Imports doc (a JSON object). On success returns 0 and *summary (owned by
 * the caller): counts, the shape detected and, with adopt, what was adopted
 * and what was not (with the reason). On failure returns -1 with *err set
 * and nothing changed.
 */
int fado_import(PGconn *conn, json_t *doc, const fado_import_options_t *opt,
    json_t **summary, fado_import_error_t *err);

#endif /* FADO_IMPORT_H */
