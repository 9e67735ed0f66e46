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
 * PQexecParams with text parameters. Returns the result when its status is
 * COMMAND_OK or TUPLES_OK; otherwise clears it, copies the error to err and
 * returns NULL. *sqlstate (if given) receives the SQLSTATE ("" if none).
 */
PGresult *fado_db_query(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char *err, size_t err_len, char sqlstate[6]);

/* The first column of a query's rows as a JSON array of strings, or NULL
 * with err (SQL failed, or out of memory). */
json_t *fado_db_names(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char *err, size_t err_len);

/* Applies the embedded migrations under an advisory lock. */
int fado_db_migrate(PGconn *conn, char *err, size_t err_len);

#endif /* FADO_DB_H */
