/*
 * libFuzzer target: MinIO's webhook payload, through the real handler
 * (controller/fado_events.c). PostgreSQL is replaced by a stub that fails
 * every query as a lost connection: what is fuzzed is the parsing and
 * validation that runs before any record is applied, and the error paths.
 * The answer must be one of the handler's: 400 with a field, or 503.
 */

#include "fado_events.h"
#include "fado_jobs.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- stubs for what fado_events.c calls outside itself ---- */

void
fado_req_error(fado_req_t *req, unsigned int status, const char *code,
    const char *field, const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(req->json);
    req->json = json_pack("{s:{s:s, s:s?}}", "error", "code", code, "field", field);
    req->status = status;
}

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

void
fado_jobs_wake(fado_jobs_t *jobs)
{
    (void) jobs;
}

fado_jobs_t *
fado_reconciler_jobs(fado_reconciler_t *rec)
{
    (void) rec;
    return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fado_req_t  req;
    char        cluster[8];

    if (size > 1024 * 1024) {
        return 0;
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.path = "/v1/minio/events";
    req.body = (const char *) data;
    req.body_len = size;
    req.status = 0;
    /* The first byte picks the path's cluster: none, a name, or garbage. */
    snprintf(cluster, sizeof(cluster), "%s", size && data[0] % 3 == 1 ? "eu-1"
                                             : size && data[0] % 3 == 2 ? "e\xffu" : "");
    fado_events_handle(&req, cluster);
    if (req.status != 400 && req.status != 503) {
        abort();
    }
    if (req.status == 400
        && json_object_get(json_object_get(req.json, "error"), "code") == NULL)
    {
        abort();
    }
    json_decref(req.json);
    return 0;
}
