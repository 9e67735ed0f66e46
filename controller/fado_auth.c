/*
 * fado_auth: API tokens. A token is a random secret shown once; only its
 * SHA-256 is stored, so a database dump reveals no usable token.
 */

#include "fado_auth.h"
#include "fado_clock.h"
#include "fado_log.h"
#include "fst_hex.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * Every valid token's hash is kept in memory (the set is small: one row per
 * token), reloaded when older than FADO_AUTH_TTL. A request is authorized
 * from that set without PostgreSQL, so a flood of requests with bad tokens
 * costs no query and PostgreSQL being down never turns a 401 into a 503. A
 * hash not in the set is looked up once in PostgreSQL (a token created a
 * moment ago, possibly through another controller); when PostgreSQL cannot
 * be reached it is unknown, and unknown tokens get 401. A revocation through
 * this controller reloads the set at once; one made through another
 * controller takes effect within the TTL.
 */
#define FADO_AUTH_TTL  2000     /* ms */

typedef struct {
    char         hash[65];
    fado_role_e  role;
} fado_auth_entry_t;

static fado_auth_entry_t  *fado_auth_set;       /* sorted by hash */
static size_t              fado_auth_count;
static long long           fado_auth_loaded;    /* ms; 0: reload */
static int                 fado_auth_loading;
static pthread_mutex_t     fado_auth_lock = PTHREAD_MUTEX_INITIALIZER;

static int
fado_auth_cmp(const void *a, const void *b)
{
    return strcmp(((const fado_auth_entry_t *) a)->hash, ((const fado_auth_entry_t *) b)->hash);
}

void
fado_auth_invalidate(void)
{
    pthread_mutex_lock(&fado_auth_lock);
    fado_auth_loaded = 0;
    pthread_mutex_unlock(&fado_auth_lock);
}

/* Replaces the set with the tokens PostgreSQL holds; -1 if it cannot. */
static int
fado_auth_load(PGconn *conn)
{
    char                err[256];
    PGresult           *res;
    fado_auth_entry_t  *set;
    size_t              n;

    res = fado_db_query(conn, "SELECT encode(secret_hash, 'hex'), role = 'admin'"
                        " FROM api_tokens WHERE revoked_at IS NULL", 0, NULL,
                        err, sizeof(err), NULL);
    if (res == NULL) {
        fado_log(FADO_LOG_WARN, "msg=\"token set not reloaded\" error=%s", FADO_LOG_Q(err));
        return -1;
    }
    n = (size_t) PQntuples(res);
    set = calloc(n ? n : 1, sizeof(*set));
    if (set == NULL) {
        PQclear(res);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(set[i].hash, sizeof(set[i].hash), "%s", PQgetvalue(res, (int) i, 0));
        set[i].role = PQgetvalue(res, (int) i, 1)[0] == 't' ? FADO_ROLE_ADMIN
                                                            : FADO_ROLE_READ_ONLY;
    }
    PQclear(res);
    qsort(set, n, sizeof(*set), fado_auth_cmp);
    pthread_mutex_lock(&fado_auth_lock);
    free(fado_auth_set);
    fado_auth_set = set;
    fado_auth_count = n;
    fado_auth_loaded = fado_clock_ms();
    pthread_mutex_unlock(&fado_auth_lock);
    return 0;
}

/* The role of hex in the set: NONE if absent; *stale whether to reload. */
static fado_role_e
fado_auth_lookup(const char *hex, int *stale)
{
    fado_auth_entry_t   key, *e;
    fado_role_e         role = FADO_ROLE_NONE;
    long long           now = fado_clock_ms();

    snprintf(key.hash, sizeof(key.hash), "%s", hex);
    pthread_mutex_lock(&fado_auth_lock);
    e = fado_auth_count ? bsearch(&key, fado_auth_set, fado_auth_count, sizeof(key),
                                  fado_auth_cmp) : NULL;
    if (e != NULL) {
        role = e->role;
    }
    /* One thread reloads; the others go on with the set they have. */
    *stale = !fado_auth_loading && now - fado_auth_loaded > FADO_AUTH_TTL;
    if (*stale) {
        fado_auth_loading = 1;
    }
    pthread_mutex_unlock(&fado_auth_lock);
    return role;
}

static fado_role_e
fado_auth_find(const char *hex)
{
    fado_auth_entry_t   key, *e;
    fado_role_e         role = FADO_ROLE_NONE;

    snprintf(key.hash, sizeof(key.hash), "%s", hex);
    pthread_mutex_lock(&fado_auth_lock);
    e = fado_auth_count ? bsearch(&key, fado_auth_set, fado_auth_count, sizeof(key),
                                  fado_auth_cmp) : NULL;
    if (e != NULL) {
        role = e->role;
    }
    pthread_mutex_unlock(&fado_auth_lock);
    return role;
}

void
fado_auth_hash(const char *secret, char hex[65])
{
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned int   n = 0;

    hex[0] = '\0';
    if (EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        return;
    }
    fst_hex_encode(md, n, hex);
}

int
fado_auth_new_secret(char *out, size_t size)
{
    unsigned char  raw[24];

    if (size < 6 + 2 * sizeof(raw) + 1 || RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }
    memcpy(out, "fado_", 5);
    fst_hex_encode(raw, sizeof(raw), out + 5);
    return 0;
}

/* A bearer secret worth hashing: printable ASCII, at most 256 bytes. */
static int
fado_auth_plausible(const char *secret)
{
    size_t  n = strlen(secret);

    if (n == 0 || n > 256) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (secret[i] <= 0x20 || secret[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

fado_role_e
fado_auth_check(fado_db_t *db, const char *authorization)
{
    char         hex[65], err[256], hashlit[70];
    const char  *p[1] = { hashlit };
    PGresult    *res;
    PGconn      *conn;
    fado_role_e  role;
    int          stale;

    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0
        || !fado_auth_plausible(authorization + 7))
    {
        return FADO_ROLE_NONE;
    }
    fado_auth_hash(authorization + 7, hex);
    if (hex[0] == '\0') {
        return FADO_ROLE_NONE;
    }
    role = fado_auth_lookup(hex, &stale);
    if (role != FADO_ROLE_NONE && !stale) {
        return role;
    }
    conn = fado_db_acquire(db);
    if (stale) {
        int  loaded = conn != NULL && fado_auth_load(conn) == 0;

        pthread_mutex_lock(&fado_auth_lock);
        fado_auth_loading = 0;
        pthread_mutex_unlock(&fado_auth_lock);
        if (loaded) {
            /* The set is fresh: its answer is final. (PostgreSQL away: the
             * last set is the best knowledge there is.) */
            role = fado_auth_find(hex);
            fado_db_release(db, conn);
            return role;
        }
    }
    if (role != FADO_ROLE_NONE || conn == NULL) {
        fado_db_release(db, conn);
        return role;
    }
    snprintf(hashlit, sizeof(hashlit), "\\x%s", hex);
    res = fado_db_query(conn, "SELECT role FROM api_tokens WHERE secret_hash = $1::bytea"
                        " AND revoked_at IS NULL", 1, p, err, sizeof(err), NULL);
    fado_db_release(db, conn);
    if (res == NULL) {
        return FADO_ROLE_NONE;
    }
    if (PQntuples(res) == 1) {
        role = strcmp(PQgetvalue(res, 0, 0), "admin") == 0 ? FADO_ROLE_ADMIN
                                                           : FADO_ROLE_READ_ONLY;
        fado_auth_invalidate();     /* a new token: take the whole set again */
    }
    PQclear(res);
    return role;
}

/* Creates an admin token with the given secret when no token exists yet. */
int
fado_auth_bootstrap(PGconn *conn, const char *secret, char *err, size_t err_len)
{
    char         hex[65], hashlit[70];
    const char  *p[1] = { hashlit };
    PGresult    *res;

    if (strlen(secret) < 16) {
        snprintf(err, err_len, "bootstrap token must be at least 16 characters");
        return -1;
    }
    fado_auth_hash(secret, hex);
    snprintf(hashlit, sizeof(hashlit), "\\x%s", hex);
    res = fado_db_query(conn,
        "INSERT INTO api_tokens (name, role, secret_hash)"
        " SELECT 'bootstrap', 'admin', $1::bytea"
        " WHERE NOT EXISTS (SELECT 1 FROM api_tokens)",
        1, p, err, err_len, NULL);
    if (res == NULL) {
        return -1;
    }
    if (strcmp(PQcmdTuples(res), "1") == 0) {
        fado_log(FADO_LOG_INFO, "msg=\"bootstrap admin token created\"");
    }
    PQclear(res);
    /* The first set: from now on a token is known without PostgreSQL. */
    (void) fado_auth_load(conn);
    return 0;
}
