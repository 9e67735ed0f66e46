/*
 * libFuzzer target: MinIO's webhook payload, through the real ingestion
 * (controller/fado_events.c). PostgreSQL is replaced by a stub that fails
 * every query as a lost connection: what is fuzzed is the parsing and
 * validation that runs before any record is applied, and the error paths.
 * The outcome must be one of ingestion's: invalid with a code, or
 * unavailable (which the API answers 400 and 503).
 */

#include "fado_events.h"
#include "fado_jobs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- stubs for what fado_events.c calls outside itself ---- */

PGresult *
fado_db_exec(PGconn *conn, fado_db_err_t *e, const char *sql, int nparams,
    const char *const *params)
{
    (void) conn;
    (void) sql;
    for (int i = 0; i < nparams; i++) {
        if (params[i] == NULL) {
            abort();    /* every parameter the handler sends is set */
        }
        (void) strlen(params[i]);
    }
    if (e != NULL) {
        e->status = FADO_DB_UNAVAILABLE;
        memcpy(e->sqlstate, "08006", 6);
        snprintf(e->message, sizeof(e->message), "stub: connection lost");
    }
    return NULL;
}

int
fado_db_begin(PGconn *conn, fado_db_err_t *e)
{
    return fado_db_exec(conn, e, "BEGIN", 0, NULL) != NULL ? 0 : -1;
}

int
fado_db_end(PGconn *conn, int ok, fado_db_err_t *e)
{
    return fado_db_exec(conn, e, ok ? "COMMIT" : "ROLLBACK", 0, NULL) != NULL ? 0 : -1;
}

int
fado_jobs_hurry(PGconn *conn, const char *bucket, const char *cluster)
{
    (void) conn;
    (void) bucket;
    (void) cluster;
    return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fado_events_result_t  r;
    fado_err_t            err;
    char                  cluster[8];

    if (size > 1024 * 1024) {
        return 0;
    }
    memset(&err, 0, sizeof(err));
    /* The first byte picks the path's cluster: none, a name, or garbage. */
    snprintf(cluster, sizeof(cluster), "%s", size && data[0] % 3 == 1 ? "eu-1"
                                             : size && data[0] % 3 == 2 ? "e\xffu" : "");
    if (fado_events_ingest(NULL, (const char *) data, size, cluster, &r, &err) == 0) {
        abort();            /* every query fails: nothing can be applied */
    }
    if (err.kind != FADO_ERR_INVALID && err.kind != FADO_ERR_UNAVAILABLE) {
        abort();
    }
    if (err.kind == FADO_ERR_INVALID && err.code == NULL) {
        abort();
    }
    return 0;
}
