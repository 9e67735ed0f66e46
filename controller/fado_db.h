/*
 * fado_db: a small pool of PostgreSQL connections shared by the API threads
 * and the reconciler. A connection found broken is reset on the next
 * acquire, so the controller recovers by itself when PostgreSQL returns.
 */

#ifndef FADO_DB_H
#define FADO_DB_H

#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"

typedef struct fado_db_s  fado_db_t;

fado_db_t *fado_db_open(const char *url, int size);
void fado_db_close(fado_db_t *db);

/* A working connection, or NULL when PostgreSQL cannot be reached. */
PGconn *fado_db_acquire(fado_db_t *db);
/* A connection outside the pool (NULL name: the URL's), with the settings
 * every controller connection has. */
PGconn *fado_db_connect(const char *url, const char *application_name);
void fado_db_release(fado_db_t *db, PGconn *conn);

/*
 * What a failed statement means to its caller. The SQLSTATE is read here
 * and nowhere else; the API maps these to HTTP answers, the events
 * endpoint to "refuse" or "retry", the workers to a log line.
 */
typedef enum {
    FADO_DB_OK = 0,
    FADO_DB_EXISTS,         /* 23505: a unique key is taken */
    FADO_DB_IN_USE,         /* 23503: another row refers to it */
    FADO_DB_INVALID,        /* 23514, 22P02: a value the schema refuses */
    FADO_DB_DATA,           /* any other class 22 or 23: fails on every retry */
    FADO_DB_UNAVAILABLE,    /* connection lost, server shutting down, no database */
    FADO_DB_FAILED          /* anything else: a bug or the operator's problem */
} fado_db_status_e;

typedef struct {
    fado_db_status_e  status;
    char              sqlstate[6];      /* "" when libpq gave none */
    char              message[512];     /* first line of the server's message */
} fado_db_err_t;

/*
 * The one query helper: PQexecParams with text parameters. Returns the
 * result when its status is COMMAND_OK or TUPLES_OK; otherwise clears it
 * and returns NULL with *e filled in, or, when e is NULL, logs the failure
 * (for callers that only log and carry on: reconciler, workers).
 */
PGresult *fado_db_exec(PGconn *conn, fado_db_err_t *e, const char *sql, int nparams,
    const char *const *params);
/* The same for a statement whose rows nobody reads: 0 or -1. */
int fado_db_run(PGconn *conn, fado_db_err_t *e, const char *sql, int nparams,
    const char *const *params);

/*
 * The one transaction helper. fado_db_begin opens a transaction;
 * fado_db_end commits it when ok, or rolls it back. Returns 0 when the
 * commit (or the rollback) went through, -1 with *e (or a log line)
 * otherwise; a failed COMMIT is FADO_DB_UNAVAILABLE unless PostgreSQL said
 * why.
 */
int fado_db_begin(PGconn *conn, fado_db_err_t *e);
int fado_db_end(PGconn *conn, int ok, fado_db_err_t *e);

/*
 * Statements sent together (libpq's pipeline mode): one round trip, and one
 * implicit transaction, so all of them take effect or none. A process
 * that waits for the server once per statement pays the scheduler once per
 * statement as well: on a busy machine that, not the SQL, is the latency.
 */
typedef struct {
    const char         *sql;
    int                 nparams;
    const char *const  *params;
    PGresult           *res;        /* out: the rows (the caller clears it) */
    /* 1: keep the statement prepared on this connection (sql must be a
     * string that lives as long as the program: it names the statement).
     * Planning the publisher's queries costs more than running them. */
    int                 prepare;
} fado_db_stmt_t;

/*
 * Runs n statements in one pipeline. 0 with every res set; -1 with none
 * set and *e (or a log line) naming the first that failed. A connection
 * the pipeline could not be brought back from is closed, so that
 * PQstatus() says so: its owner replaces it (a leader gives up its lock).
 */
int fado_db_pipeline(PGconn *conn, fado_db_err_t *e, fado_db_stmt_t *stmts, size_t n);
/* The same for statements whose rows nobody reads (none: no round trip). */
int fado_db_pipeline_run(PGconn *conn, fado_db_err_t *e, fado_db_stmt_t *stmts, size_t n);

/* The class of a SQLSTATE on conn ("" when libpq gave none). */
fado_db_status_e fado_db_classify(PGconn *conn, const char *sqlstate);

/*
 * fado_db_exec with the error as strings, for callers that keep their own
 * buffers: err receives the message, *sqlstate (if given) the SQLSTATE.
 */
PGresult *fado_db_query(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char *err, size_t err_len, char sqlstate[6]);

/*
 * A failed statement as the domain's error value, for domain code that
 * answers with fado_err_t: exists and in use are conflicts ("conflict"
 * naming name, "in_use"), a refused value is invalid, unavailable stays
 * unavailable, anything else is internal and logged here.
 */
void fado_db_error(const fado_db_err_t *e, fado_err_t *err);

/* fado_db_exec whose failure fills err through fado_db_error. */
PGresult *fado_db_exec_err(PGconn *conn, fado_err_t *err, const char *sql, int nparams,
    const char *const *params);

/* The JSON document PostgreSQL built in a cell, or NULL with err
 * (internal "cannot read a stored document"). */
json_t *fado_db_json_cell(PGresult *res, int row, int col, fado_err_t *err);

/* A query's rows of (key, value) text as one JSON object, or NULL with err. */
json_t *fado_db_object(PGconn *conn, const char *sql, fado_err_t *err);

/*
 * A named row, for the resources that are rows: sql takes the name as $1.
 * get: the JSON document in its second column; delete: a DELETE ...
 * RETURNING statement, 0 or -1. A name with no row is a not_found error,
 * "<kind> \"<name>\" does not exist".
 */
json_t *fado_db_get_named(PGconn *conn, const char *sql, const char *kind, const char *name,
    fado_err_t *err);
int fado_db_delete_named(PGconn *conn, const char *sql, const char *kind, const char *name,
    fado_err_t *err);

/*
 * A text[] from a JSON array of strings passed as a parameter ($n, text):
 * lists go to PostgreSQL as jansson's encoding, never as a hand-built
 * array literal. Order is the array's. To check a list's names against a
 * table, test each element with a correlated lookup, "(SELECT true FROM t
 * WHERE name = v) IS NULL": the planner knows no row count for a jsonb
 * array and would otherwise hash the whole table.
 */
#define FADO_DB_TEXT_ARRAY(param) \
    "ARRAY(SELECT v FROM jsonb_array_elements_text(" param "::jsonb)" \
    " WITH ORDINALITY AS a (v, o) ORDER BY o)"

/* The first column of a query's rows as a JSON array of strings, or NULL
 * with err (SQL failed, or out of memory). */
json_t *fado_db_names(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char *err, size_t err_len);

/* Applies the embedded migrations under an advisory lock. */
int fado_db_migrate(PGconn *conn, char *err, size_t err_len);

#endif /* FADO_DB_H */
