/*
 * fado_db: connection pool and migrations.
 */

#include "fado_db.h"
#include "fado_log.h"
#include "fado_sql.h"

#include <libpq-events.h>

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct fado_db_s {
    pthread_mutex_t   lock;
    pthread_cond_t    free_cond;
    char             *url;
    int               size;
    PGconn          **conns;      /* NULL slot: not connected yet */
    int              *busy;
};

fado_db_t *
fado_db_open(const char *url, int size)
{
    fado_db_t  *db = calloc(1, sizeof(*db));

    if (db == NULL) {
        return NULL;
    }
    db->url = strdup(url);
    db->conns = calloc((size_t) size, sizeof(PGconn *));
    db->busy = calloc((size_t) size, sizeof(int));
    if (db->url == NULL || db->conns == NULL || db->busy == NULL
        || pthread_mutex_init(&db->lock, NULL) != 0
        || pthread_cond_init(&db->free_cond, NULL) != 0)
    {
        free(db->url);
        free(db->conns);
        free(db->busy);
        free(db);
        return NULL;
    }
    db->size = size;
    return db;
}

void
fado_db_close(fado_db_t *db)
{
    if (db == NULL) {
        return;
    }
    for (int i = 0; i < db->size; i++) {
        if (db->conns[i] != NULL) {
            PQfinish(db->conns[i]);
        }
    }
    pthread_mutex_destroy(&db->lock);
    pthread_cond_destroy(&db->free_cond);
    free(db->url);
    free(db->conns);
    free(db->busy);
    free(db);
}

/* Server notices ("already exists, skipping") go to the debug log. */
static void
fado_db_notice(void *arg, const char *message)
{
    (void) arg;
    fado_log(FADO_LOG_DEBUG, "msg=\"postgres notice\" text=%s",
             FADO_LOG_QN(message, strcspn(message, "\n")));
}

/*
 * Every connection of the controller runs with JIT off: its statements are
 * short, and the first plan that crosses jit_above_cost (a batch of a few
 * thousand buckets does) spends 50-100 ms compiling before it runs, a delay
 * the change waiting on it shows end to end. Prepared statements (the
 * leader's, fado_db_pipeline) are planned at every run with the tables as
 * they are then: a generic plan made while published_routes was empty kept
 * scanning it whole once it held 100k rows (20-110 ms a batch, until an
 * ANALYZE); planning costs 0.2-0.4 ms of the 2.5 ms that parsing the
 * publisher's queries again took. Options already in the URL are kept;
 * ours come after them.
 */
PGconn *
fado_db_connect(const char *url, const char *application_name)
{
    PQconninfoOption  *parsed, *o;
    const char        *keys[4], *vals[4];
    char              *errmsg = NULL, options[1024];
    const char        *given = "";
    PGconn            *conn;
    int                n = 0;

    parsed = PQconninfoParse(url, &errmsg);
    if (parsed == NULL) {
        /* libpq says why when it connects: let it. */
        PQfreemem(errmsg);
        return PQconnectdb(url);
    }
    for (o = parsed; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "options") == 0 && o->val != NULL) {
            given = o->val;
        }
    }
    if ((size_t) snprintf(options, sizeof(options),
                          "%s%s-c jit=off -c plan_cache_mode=force_custom_plan", given,
                          given[0] ? " " : "") >= sizeof(options))
    {
        PQconninfoFree(parsed);
        return PQconnectdb(url);
    }
    PQconninfoFree(parsed);
    keys[n] = "dbname";
    vals[n++] = url;
    keys[n] = "options";
    vals[n++] = options;
    if (application_name != NULL) {
        keys[n] = "application_name";
        vals[n++] = application_name;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn != NULL) {
        PQsetNoticeProcessor(conn, fado_db_notice, NULL);
    }
    return conn;
}

static int
fado_db_usable(PGconn *conn)
{
    return conn != NULL && PQstatus(conn) == CONNECTION_OK;
}

/*
 * A pooled connection that the server closed while it sat idle (a restart,
 * pg_terminate_backend) still says CONNECTION_OK: its goodbye is waiting on
 * the socket. Reading it here, without sending anything, lets the request
 * get a fresh connection instead of a 503.
 */
static int
fado_db_alive(PGconn *conn)
{
    struct pollfd  pfd;

    if (!fado_db_usable(conn)) {
        return 0;
    }
    pfd.fd = PQsocket(conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0) {
        return 0;
    }
    if (poll(&pfd, 1, 0) > 0
        && (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK))
    {
        return 0;
    }
    return 1;
}

PGconn *
fado_db_acquire(fado_db_t *db)
{
    int      slot = -1;
    PGconn  *conn;

    if (pthread_mutex_lock(&db->lock) != 0) {
        return NULL;
    }
    for (;;) {
        for (int i = 0; i < db->size; i++) {
            if (!db->busy[i]) {
                slot = i;
                break;
            }
        }
        if (slot >= 0) {
            break;
        }
        if (pthread_cond_wait(&db->free_cond, &db->lock) != 0) {
            pthread_mutex_unlock(&db->lock);
            return NULL;
        }
    }
    db->busy[slot] = 1;
    conn = db->conns[slot];
    pthread_mutex_unlock(&db->lock);

    /* Connect or repair outside the lock: it may take a while. */
    if (!fado_db_alive(conn)) {
        if (conn != NULL) {
            PQreset(conn);
        } else {
            conn = fado_db_connect(db->url, NULL);
        }
        if (!fado_db_usable(conn)) {
            const char  *why = conn != NULL ? PQerrorMessage(conn) : "out of memory";

            fado_log(FADO_LOG_WARN, "msg=\"database unreachable\" error=%s",
                     FADO_LOG_QN(why, strcspn(why, "\n")));
        }
    }

    if (pthread_mutex_lock(&db->lock) != 0) {
        return NULL;
    }
    db->conns[slot] = conn;
    if (!fado_db_usable(conn)) {
        db->busy[slot] = 0;
        pthread_cond_signal(&db->free_cond);
        conn = NULL;
    }
    pthread_mutex_unlock(&db->lock);
    return conn;
}

void
fado_db_release(fado_db_t *db, PGconn *conn)
{
    if (conn == NULL || pthread_mutex_lock(&db->lock) != 0) {
        return;
    }
    for (int i = 0; i < db->size; i++) {
        if (db->conns[i] == conn) {
            db->busy[i] = 0;
            break;
        }
    }
    pthread_cond_signal(&db->free_cond);
    pthread_mutex_unlock(&db->lock);
}

/* A message cut to the caller's buffer; truncation is intended. */
static void
fado_db_copy(char *dst, size_t size, const char *src)
{
    size_t  n = strlen(src);

    if (size == 0) {
        return;
    }
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

fado_db_status_e
fado_db_classify(PGconn *conn, const char *state)
{
    if (strcmp(state, "23505") == 0) {
        return FADO_DB_EXISTS;
    }
    if (strcmp(state, "23503") == 0) {
        return FADO_DB_IN_USE;
    }
    if (strcmp(state, "23514") == 0 || strcmp(state, "22P02") == 0) {
        return FADO_DB_INVALID;
    }
    if (state[0] == '2' && (state[1] == '2' || state[1] == '3')) {
        return FADO_DB_DATA;
    }
    /* Class 08 is the connection; 57P01 an administrator's shutdown; 3D000
     * a database dropped under us: all pass when PostgreSQL is back. */
    if ((state[0] == '0' && state[1] == '8') || strcmp(state, "57P01") == 0
        || strcmp(state, "3D000") == 0 || PQstatus(conn) != CONNECTION_OK)
    {
        return FADO_DB_UNAVAILABLE;
    }
    return FADO_DB_FAILED;
}

PGresult *
fado_db_exec(PGconn *conn, fado_db_err_t *e, const char *sql, int nparams,
    const char *const *params)
{
    fado_db_err_t    local;
    PGresult        *res;
    ExecStatusType   st;
    const char      *state;

    if (e == NULL) {
        e = &local;
    }
    e->status = FADO_DB_OK;
    e->sqlstate[0] = '\0';
    e->message[0] = '\0';
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (res != NULL) {
        st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            return res;
        }
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state != NULL) {
            snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state);
        }
        snprintf(e->message, sizeof(e->message), "%s", PQresultErrorMessage(res));
        PQclear(res);
    } else {
        snprintf(e->message, sizeof(e->message), "%s", PQerrorMessage(conn));
    }
    e->message[strcspn(e->message, "\n")] = '\0';
    e->status = fado_db_classify(conn, e->sqlstate);
    if (e == &local) {
        fado_log(FADO_LOG_WARN, "msg=\"query failed\" sqlstate=%s error=%s",
                 FADO_LOG_Q(e->sqlstate), FADO_LOG_Q(e->message));
    }
    return NULL;
}

int
fado_db_run(PGconn *conn, fado_db_err_t *e, const char *sql, int nparams,
    const char *const *params)
{
    PGresult  *res = fado_db_exec(conn, e, sql, nparams, params);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

void
fado_db_error(const fado_db_err_t *e, fado_err_t *err)
{
    switch (e->status) {
    case FADO_DB_EXISTS:
        fado_err_set(err, FADO_ERR_CONFLICT, "conflict", "name", "it already exists");
        break;
    case FADO_DB_IN_USE:
        fado_err_set(err, FADO_ERR_CONFLICT, "in_use", NULL,
                     "it is referenced by another resource: %s", e->message);
        break;
    case FADO_DB_INVALID:
        fado_err_set(err, FADO_ERR_INVALID, "invalid", NULL, "%s", e->message);
        break;
    case FADO_DB_UNAVAILABLE:
        fado_err_set(err, FADO_ERR_UNAVAILABLE, "database_unavailable", NULL,
                     "PostgreSQL connection lost");
        break;
    default:
        fado_log(FADO_LOG_ERROR, "msg=\"query failed\" sqlstate=%s error=%s",
                 FADO_LOG_Q(e->sqlstate), FADO_LOG_Q(e->message));
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "database error");
        break;
    }
}

PGresult *
fado_db_exec_err(PGconn *conn, fado_err_t *err, const char *sql, int nparams,
    const char *const *params)
{
    fado_db_err_t  e;
    PGresult      *res = fado_db_exec(conn, &e, sql, nparams, params);

    if (res == NULL) {
        fado_db_error(&e, err);
    }
    return res;
}

json_t *
fado_db_json_cell(PGresult *res, int row, int col, fado_err_t *err)
{
    json_t  *j = json_loads(PQgetvalue(res, row, col), 0, NULL);

    if (j == NULL) {
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "cannot read a stored document");
    }
    return j;
}

json_t *
fado_db_object(PGconn *conn, const char *sql, fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, sql, 0, NULL);
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

static void
fado_db_not_found(fado_err_t *err, const char *kind, const char *name)
{
    fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", NULL, "%s \"%s\" does not exist",
                 kind, name);
}

json_t *
fado_db_get_named(PGconn *conn, const char *sql, const char *kind, const char *name,
    fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, sql, 1, &name);
    json_t    *j = NULL;

    if (res == NULL) {
        return NULL;
    }
    if (PQntuples(res) == 0) {
        fado_db_not_found(err, kind, name);
    } else {
        j = fado_db_json_cell(res, 0, 1, err);
    }
    PQclear(res);
    return j;
}

int
fado_db_delete_named(PGconn *conn, const char *sql, const char *kind, const char *name,
    fado_err_t *err)
{
    PGresult  *res = fado_db_exec_err(conn, err, sql, 1, &name);
    int        found;

    if (res == NULL) {
        return -1;
    }
    found = PQntuples(res) > 0;
    PQclear(res);
    if (!found) {
        fado_db_not_found(err, kind, name);
        return -1;
    }
    return 0;
}

/* The error of a failed result (or of the connection, res NULL) into *e. */
static void
fado_db_fail(PGconn *conn, fado_db_err_t *e, const PGresult *res)
{
    const char  *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (state != NULL) {
        snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state);
    }
    snprintf(e->message, sizeof(e->message), "%s",
             res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    e->message[strcspn(e->message, "\n")] = '\0';
    if (e->message[0] == '\0') {
        snprintf(e->message, sizeof(e->message), "pipeline out of step");
    }
    e->status = fado_db_classify(conn, e->sqlstate);
}

/*
 * A pipeline that cannot be drained to its sync leaves libpq refusing
 * every later statement while PQstatus() still says CONNECTION_OK. Cutting
 * the socket and reading the end turns that into CONNECTION_BAD.
 */
static void
fado_db_break(PGconn *conn)
{
    if (PQstatus(conn) == CONNECTION_OK && PQsocket(conn) >= 0) {
        (void) shutdown(PQsocket(conn), SHUT_RDWR);
        (void) PQconsumeInput(conn);
    }
}

/*
 * What a connection has prepared, attached to it with libpq's instance
 * data so that it goes when the connection is reset or closed. Statements
 * are known, and named, by the address of their text. When the list and
 * the server disagree (a statement missing, or one there already), the
 * next pipeline deallocates everything and starts again.
 */
#define FADO_DB_PREPARED_MAX  32

typedef struct {
    const char  *sql[FADO_DB_PREPARED_MAX];
    size_t       n;
    int          lost;
} fado_db_prepared_t;

static int
fado_db_event(PGEventId id, void *info, void *pass)
{
    (void) pass;
    switch (id) {
    case PGEVT_REGISTER: {
        PGEventRegister     *ev = info;
        fado_db_prepared_t  *pr = calloc(1, sizeof(*pr));

        return pr != NULL && PQsetInstanceData(ev->conn, fado_db_event, pr) == 1;
    }
    case PGEVT_CONNRESET: {
        PGEventConnReset    *ev = info;
        fado_db_prepared_t  *pr = PQinstanceData(ev->conn, fado_db_event);

        if (pr != NULL) {
            pr->n = 0;
            pr->lost = 0;
        }
        return 1;
    }
    case PGEVT_CONNDESTROY: {
        PGEventConnDestroy  *ev = info;

        free(PQinstanceData(ev->conn, fado_db_event));
        return 1;
    }
    default:
        return 1;
    }
}

static fado_db_prepared_t *
fado_db_prepared(PGconn *conn)
{
    fado_db_prepared_t  *pr = PQinstanceData(conn, fado_db_event);

    if (pr == NULL && PQregisterEventProc(conn, fado_db_event, "fado_db", NULL) == 1) {
        pr = PQinstanceData(conn, fado_db_event);
    }
    return pr;
}

static int
fado_db_prepared_has(const fado_db_prepared_t *pr, const char *sql)
{
    for (size_t i = 0; pr != NULL && i < pr->n; i++) {
        if (pr->sql[i] == sql) {
            return 1;
        }
    }
    return 0;
}

/* What each result of a pipeline answers: statement i (i >= 0), its
 * preparation (-1 - i), or a DEALLOCATE (FADO_DB_SLOT_RESET). */
#define FADO_DB_PIPE_MAX    32
#define FADO_DB_SLOT_RESET  (-1 - FADO_DB_PIPE_MAX)

int
fado_db_pipeline(PGconn *conn, fado_db_err_t *e, fado_db_stmt_t *stmts, size_t n)
{
    fado_db_err_t        local;
    fado_db_prepared_t  *pr;
    PGresult            *res;
    int                  slot[2 * FADO_DB_PIPE_MAX + 1];
    char                 name[32];
    size_t               sent = 0, nslots = 0, nnew = 0, i;
    int                  failed = 0;

    if (e == NULL) {
        e = &local;
    }
    e->status = FADO_DB_OK;
    e->sqlstate[0] = '\0';
    e->message[0] = '\0';
    for (i = 0; i < n; i++) {
        stmts[i].res = NULL;
    }
    if (n > FADO_DB_PIPE_MAX) {
        snprintf(e->message, sizeof(e->message), "too many statements in one pipeline");
        e->status = FADO_DB_FAILED;
        goto logged;
    }
    pr = fado_db_prepared(conn);
    if (PQenterPipelineMode(conn) != 1) {
        fado_db_fail(conn, e, NULL);
        goto logged;
    }
    if (pr != NULL && pr->lost) {
        if (PQsendQueryParams(conn, "DEALLOCATE ALL", 0, NULL, NULL, NULL, NULL, 0) == 1) {
            slot[nslots++] = FADO_DB_SLOT_RESET;
        }
    }
    for (; sent < n; sent++) {
        const fado_db_stmt_t  *st = &stmts[sent];
        int                    named = 0, ok;

        if (st->prepare && pr != NULL) {
            named = !pr->lost && fado_db_prepared_has(pr, st->sql);
            snprintf(name, sizeof(name), "fado_s%lx", (unsigned long) (uintptr_t) st->sql);
            if (!named && pr->n + nnew < FADO_DB_PREPARED_MAX) {
                if (PQsendPrepare(conn, name, st->sql, st->nparams, NULL) != 1) {
                    break;
                }
                nnew++;
                slot[nslots++] = -1 - (int) sent;
                named = 1;
            }
        }
        if (named) {
            ok = PQsendQueryPrepared(conn, name, st->nparams, st->params, NULL, NULL, 0);
        } else {
            ok = PQsendQueryParams(conn, st->sql, st->nparams, NULL, st->params,
                                   NULL, NULL, 0);
        }
        if (ok != 1) {
            break;
        }
        slot[nslots++] = (int) sent;
    }
    if (PQpipelineSync(conn) != 1) {
        fado_db_fail(conn, e, NULL);
        fado_db_break(conn);
        goto logged;
    }
    if (sent < n) {
        fado_db_fail(conn, e, NULL);
        failed = 1;
    }

    /* Each result, then the NULL that ends it; the first failure aborts
     * the rest (PIPELINE_ABORTED) and the transaction. */
    for (i = 0; i < nslots; i++) {
        ExecStatusType  st;

        res = PQgetResult(conn);
        if (res == NULL) {
            fado_db_fail(conn, e, NULL);
            fado_db_break(conn);
            goto clear;
        }
        st = PQresultStatus(res);
        if (slot[i] == FADO_DB_SLOT_RESET && st == PGRES_COMMAND_OK) {
            pr->n = 0;
            pr->lost = 0;
        } else if (slot[i] < 0 && st == PGRES_COMMAND_OK) {
            /* prepared, whatever happens to the transaction */
            pr->sql[pr->n++] = stmts[-1 - slot[i]].sql;
        }
        if (slot[i] < 0) {
            if (!failed && st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED) {
                fado_db_fail(conn, e, res);
                failed = 1;
            }
            PQclear(res);
        } else if (!failed && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
            stmts[slot[i]].res = res;
        } else {
            if (!failed && st != PGRES_PIPELINE_ABORTED) {
                fado_db_fail(conn, e, res);
                failed = 1;
            }
            PQclear(res);
        }
        res = PQgetResult(conn);
        if (res != NULL) {
            PQclear(res);
            fado_db_fail(conn, e, NULL);
            fado_db_break(conn);
            goto clear;
        }
    }
    res = PQgetResult(conn);
    if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        if (res != NULL) {
            PQclear(res);
        }
        fado_db_fail(conn, e, NULL);
        fado_db_break(conn);
        goto clear;
    }
    PQclear(res);
    if (PQexitPipelineMode(conn) != 1) {
        fado_db_fail(conn, e, NULL);
        fado_db_break(conn);
        goto clear;
    }
    if (!failed) {
        return 0;
    }
    /* 26000: a statement is gone (DISCARD ALL); 42P05: one is there already */
    if (pr != NULL && (strcmp(e->sqlstate, "26000") == 0 || strcmp(e->sqlstate, "42P05") == 0)) {
        pr->lost = 1;
    }

clear:
    for (i = 0; i < n; i++) {
        if (stmts[i].res != NULL) {
            PQclear(stmts[i].res);
            stmts[i].res = NULL;
        }
    }

logged:
    if (e == &local) {
        fado_log(FADO_LOG_WARN, "msg=\"query failed\" sqlstate=%s error=%s",
                 FADO_LOG_Q(e->sqlstate), FADO_LOG_Q(e->message));
    }
    return -1;
}

int
fado_db_pipeline_run(PGconn *conn, fado_db_err_t *e, fado_db_stmt_t *stmts, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (fado_db_pipeline(conn, e, stmts, n) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        PQclear(stmts[i].res);
        stmts[i].res = NULL;
    }
    return 0;
}

int
fado_db_begin(PGconn *conn, fado_db_err_t *e)
{
    return fado_db_run(conn, e, "BEGIN", 0, NULL);
}

int
fado_db_end(PGconn *conn, int ok, fado_db_err_t *e)
{
    fado_db_err_t  local;

    if (fado_db_run(conn, &local, ok ? "COMMIT" : "ROLLBACK", 0, NULL) == 0) {
        return 0;
    }
    if (local.status == FADO_DB_FAILED) {
        local.status = FADO_DB_UNAVAILABLE;
    }
    if (e != NULL) {
        *e = local;
    } else {
        fado_log(FADO_LOG_WARN, "msg=\"%s failed\" sqlstate=%s error=%s",
                 ok ? "commit" : "rollback", FADO_LOG_Q(local.sqlstate),
                 FADO_LOG_Q(local.message));
    }
    return -1;
}

PGresult *
fado_db_query(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char *err, size_t err_len, char sqlstate[6])
{
    fado_db_err_t  e;
    PGresult      *res = fado_db_exec(conn, &e, sql, nparams, params);

    if (sqlstate != NULL) {
        memcpy(sqlstate, e.sqlstate, sizeof(e.sqlstate));
    }
    if (res == NULL) {
        fado_db_copy(err, err_len, e.message);
    }
    return res;
}

json_t *
fado_db_names(PGconn *conn, const char *sql, int nparams, const char *const *params,
    char *err, size_t err_len)
{
    PGresult  *res = fado_db_query(conn, sql, nparams, params, err, err_len, NULL);
    json_t    *names;

    if (res == NULL) {
        return NULL;
    }
    names = json_array();
    for (int i = 0; names != NULL && i < PQntuples(res); i++) {
        if (json_array_append_new(names, json_string(PQgetvalue(res, i, 0))) != 0) {
            json_decref(names);
            names = NULL;
        }
    }
    PQclear(res);
    if (names == NULL) {
        snprintf(err, err_len, "out of memory");
    }
    return names;
}

static int
fado_db_exec_simple(PGconn *conn, const char *sql, char *err, size_t err_len)
{
    PGresult  *res = fado_db_query(conn, sql, 0, NULL, err, err_len, NULL);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

/* A migration file holds many statements: PQexec runs them in one go. */
static int
fado_db_exec_script(PGconn *conn, const char *sql, char *err, size_t err_len)
{
    PGresult  *res = PQexec(conn, sql);

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, err_len, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        err[strcspn(err, "\n")] = '\0';
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/*
 * Two controllers starting at once both reach this point; the advisory lock
 * makes the second wait and then find every migration recorded.
 */
int
fado_db_migrate(PGconn *conn, char *err, size_t err_len)
{
    int  rc = -1;

    if (fado_db_exec_simple(conn, "SELECT pg_advisory_lock(7283001)", err, err_len) != 0) {
        return -1;
    }
    if (fado_db_exec_simple(conn,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            err, err_len) != 0)
    {
        goto unlock;
    }

    for (size_t i = 0; i < fado_sql_count; i++) {
        const char  *name = fado_sql_files[i].name;
        PGresult    *res;
        int          applied;

        res = fado_db_query(conn, "SELECT 1 FROM schema_migrations WHERE name = $1",
                            1, &name, err, err_len, NULL);
        if (res == NULL) {
            goto unlock;
        }
        applied = PQntuples(res) > 0;
        PQclear(res);
        if (applied) {
            continue;
        }

        if (fado_db_exec_simple(conn, "BEGIN", err, err_len) != 0) {
            goto unlock;
        }
        if (fado_db_exec_script(conn, fado_sql_files[i].sql, err, err_len) != 0) {
            (void) fado_db_end(conn, 0, NULL);
            goto unlock;
        }
        res = fado_db_query(conn, "INSERT INTO schema_migrations (name) VALUES ($1)",
                            1, &name, err, err_len, NULL);
        if (res == NULL) {
            (void) fado_db_end(conn, 0, NULL);
            goto unlock;
        }
        PQclear(res);
        {
            fado_db_err_t  e;

            if (fado_db_end(conn, 1, &e) != 0) {
                fado_db_copy(err, err_len, e.message);
                goto unlock;
            }
        }
        fado_log(FADO_LOG_INFO, "msg=\"migration applied\" name=%s", FADO_LOG_Q(name));
    }
    rc = 0;

unlock:
    {
        char  ignored[256];
        (void) fado_db_exec_simple(conn, "SELECT pg_advisory_unlock(7283001)",
                                   ignored, sizeof(ignored));
    }
    return rc;
}
