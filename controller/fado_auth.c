/*
 * fado_auth: API tokens. A token is a random secret shown once; only its
 * SHA-256 is stored, so a database dump reveals no usable token.
 */

#include "fado_http.h"
#include "fado_log.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * Verified tokens are remembered for a short while so that a read costs one
 * query, not two. A revocation through this controller clears the cache at
 * once; one made through another controller takes effect within the TTL.
 */
#define FADO_AUTH_CACHE_SIZE  64
#define FADO_AUTH_CACHE_TTL   2000     /* ms */

typedef struct {
    char         hash[65];
    fado_role_e  role;
    long long    expires;
} fado_auth_entry_t;

static fado_auth_entry_t  fado_auth_cache[FADO_AUTH_CACHE_SIZE];
static pthread_mutex_t    fado_auth_lock = PTHREAD_MUTEX_INITIALIZER;

static long long
fado_auth_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static size_t
fado_auth_slot(const char *hex)
{
    return (size_t) strtoul((char[9]) { hex[0], hex[1], hex[2], hex[3], hex[4], hex[5],
                                        hex[6], hex[7], '\0' }, NULL, 16)
           % FADO_AUTH_CACHE_SIZE;
}

void
fado_auth_invalidate(void)
{
    pthread_mutex_lock(&fado_auth_lock);
    memset(fado_auth_cache, 0, sizeof(fado_auth_cache));
    pthread_mutex_unlock(&fado_auth_lock);
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
    for (unsigned int i = 0; i < n; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
}

int
fado_auth_new_secret(char *out, size_t size)
{
    unsigned char  raw[24];

    if (size < 6 + 2 * sizeof(raw) + 1 || RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }
    memcpy(out, "fado_", 5);
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(out + 5 + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

fado_role_e
fado_auth_check(PGconn *conn, const char *authorization)
{
    char         hex[65], err[256], hashlit[70];
    const char  *p[1] = { hashlit };
    PGresult    *res;
    fado_role_e  role = FADO_ROLE_NONE;

    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0) {
        return FADO_ROLE_NONE;
    }
    fado_auth_hash(authorization + 7, hex);
    if (hex[0] == '\0') {
        return FADO_ROLE_NONE;
    }
    {
        fado_auth_entry_t  *e = &fado_auth_cache[fado_auth_slot(hex)];

        pthread_mutex_lock(&fado_auth_lock);
        if (strcmp(e->hash, hex) == 0 && e->expires > fado_auth_now_ms()) {
            role = e->role;
        }
        pthread_mutex_unlock(&fado_auth_lock);
        if (role != FADO_ROLE_NONE) {
            return role;
        }
    }
    snprintf(hashlit, sizeof(hashlit), "\\x%s", hex);
    res = fado_db_query(conn, "SELECT role FROM api_tokens WHERE secret_hash = $1::bytea"
                        " AND revoked_at IS NULL", 1, p, err, sizeof(err), NULL);
    if (res == NULL) {
        return PQstatus(conn) == CONNECTION_OK ? FADO_ROLE_NONE : FADO_ROLE_DB_ERROR;
    }
    if (PQntuples(res) == 1) {
        role = strcmp(PQgetvalue(res, 0, 0), "admin") == 0 ? FADO_ROLE_ADMIN
                                                           : FADO_ROLE_READ_ONLY;
        pthread_mutex_lock(&fado_auth_lock);
        {
            fado_auth_entry_t  *e = &fado_auth_cache[fado_auth_slot(hex)];
            memcpy(e->hash, hex, sizeof(e->hash));
            e->role = role;
            e->expires = fado_auth_now_ms() + FADO_AUTH_CACHE_TTL;
        }
        pthread_mutex_unlock(&fado_auth_lock);
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
    return 0;
}
