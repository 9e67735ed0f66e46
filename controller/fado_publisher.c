/*
 * fado_publisher: route bodies from PostgreSQL to Redis, differences only.
 */

#include "fado_publisher.h"
#include "fado_db.h"
#include "fado_log.h"
#include "fado_sql.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FADO_PUBLISH_BATCH   1000        /* triples per script call */
#define FADO_FEED_MAXLEN     "100000"

struct fado_publisher_s {
    char           host[256];
    int            port;
    int            db;
    char           password[256];
    char           prefix[64];
    char           sha[41];
    redisContext  *redis;
};

/* A growable string; every append checks its allocation. */
typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      failed;
} fado_buf_t;

static void
fado_buf_add(fado_buf_t *b, const char *s, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t  cap = b->cap ? b->cap * 2 : 256;
        char   *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void
fado_buf_str(fado_buf_t *b, const char *s)
{
    fado_buf_add(b, s, strlen(s));
}

/* Appends s as an element of a PostgreSQL text[] literal. */
static void
fado_buf_pg_elem(fado_buf_t *b, const char *s)
{
    fado_buf_add(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fado_buf_add(b, "\\", 1);
        }
        fado_buf_add(b, s, 1);
    }
    fado_buf_add(b, "\"", 1);
}

static int
fado_publisher_parse_url(fado_publisher_t *pub, const char *url, char *err, size_t err_len)
{
    const char  *p, *at, *slash, *colon;
    size_t       hostlen;

    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, err_len, "redis url must start with redis://");
        return -1;
    }
    p = url + 8;
    pub->port = 6379;
    at = strchr(p, '@');
    if (at != NULL) {
        const char  *pw = memchr(p, ':', (size_t) (at - p));
        if (pw != NULL) {
            size_t  n = (size_t) (at - pw - 1);
            if (n >= sizeof(pub->password)) {
                snprintf(err, err_len, "redis password too long");
                return -1;
            }
            memcpy(pub->password, pw + 1, n);
            pub->password[n] = '\0';
        }
        p = at + 1;
    }
    slash = strchr(p, '/');
    colon = strchr(p, ':');
    if (colon != NULL && (slash == NULL || colon < slash)) {
        hostlen = (size_t) (colon - p);
        pub->port = atoi(colon + 1);
    } else {
        hostlen = slash ? (size_t) (slash - p) : strlen(p);
    }
    if (hostlen == 0 || hostlen >= sizeof(pub->host) || pub->port <= 0 || pub->port > 65535) {
        snprintf(err, err_len, "invalid redis url host or port");
        return -1;
    }
    memcpy(pub->host, p, hostlen);
    pub->host[hostlen] = '\0';
    pub->db = slash ? atoi(slash + 1) : 0;
    return 0;
}

fado_publisher_t *
fado_publisher_new(const char *url, const char *prefix, char *err, size_t err_len)
{
    fado_publisher_t  *pub = calloc(1, sizeof(*pub));

    if (pub == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (fado_publisher_parse_url(pub, url, err, err_len) != 0) {
        free(pub);
        return NULL;
    }
    if (strlen(prefix) >= sizeof(pub->prefix)) {
        snprintf(err, err_len, "redis prefix too long");
        free(pub);
        return NULL;
    }
    snprintf(pub->prefix, sizeof(pub->prefix), "%s", prefix);
    return pub;
}

void
fado_publisher_free(fado_publisher_t *pub)
{
    if (pub == NULL) {
        return;
    }
    if (pub->redis != NULL) {
        redisFree(pub->redis);
    }
    memset(pub->password, 0, sizeof(pub->password));
    free(pub);
}

static void
fado_publisher_drop(fado_publisher_t *pub)
{
    if (pub->redis != NULL) {
        redisFree(pub->redis);
        pub->redis = NULL;
    }
}

/* A reply of the expected type, or NULL with err set (connection dropped). */
static redisReply *
fado_publisher_cmd(fado_publisher_t *pub, int argc, const char **argv,
    const size_t *argvlen, char *err, size_t err_len)
{
    redisReply  *r = redisCommandArgv(pub->redis, argc, argv, argvlen);

    if (r == NULL) {
        snprintf(err, err_len, "redis: %s", pub->redis->errstr);
        fado_publisher_drop(pub);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, err_len, "redis %s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int
fado_publisher_connect(fado_publisher_t *pub, char *err, size_t err_len)
{
    struct timeval  tv = { 2, 0 };
    redisReply     *r;
    char            dbs[16];

    if (pub->redis != NULL && pub->redis->err == 0) {
        return 0;
    }
    fado_publisher_drop(pub);
    pub->redis = redisConnectWithTimeout(pub->host, pub->port, tv);
    if (pub->redis == NULL || pub->redis->err) {
        snprintf(err, err_len, "redis connect %s:%d: %s", pub->host, pub->port,
                 pub->redis ? pub->redis->errstr : "out of memory");
        fado_publisher_drop(pub);
        return -1;
    }
    if (redisSetTimeout(pub->redis, tv) != REDIS_OK) {
        snprintf(err, err_len, "redis: cannot set timeout");
        fado_publisher_drop(pub);
        return -1;
    }
    if (pub->password[0]) {
        const char  *argv[] = { "AUTH", pub->password };
        r = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
        if (r == NULL) {
            fado_publisher_drop(pub);
            return -1;
        }
        freeReplyObject(r);
    }
    snprintf(dbs, sizeof(dbs), "%d", pub->db);
    {
        const char  *argv[] = { "SELECT", dbs };
        r = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
        if (r == NULL) {
            fado_publisher_drop(pub);
            return -1;
        }
        freeReplyObject(r);
    }
    {
        const char  *argv[] = { "SCRIPT", "LOAD", fado_publish_lua };
        r = fado_publisher_cmd(pub, 3, argv, NULL, err, err_len);
        if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
            if (r != NULL) {
                snprintf(err, err_len, "redis SCRIPT LOAD: unexpected reply");
                freeReplyObject(r);
            }
            fado_publisher_drop(pub);
            return -1;
        }
        memcpy(pub->sha, r->str, 40);
        pub->sha[40] = '\0';
        freeReplyObject(r);
    }
    return 0;
}

/* ------------------------------------------------------------ operations */

typedef struct {
    const char  **argv;
    size_t       *lens;
    int           argc;
    int           cap;
    size_t        triples;
    char          keys[5][96];
} fado_batch_t;

static int
fado_batch_reset(fado_batch_t *b, const fado_publisher_t *pub)
{
    static const char *const  names[5] = { "routes", "version", "feed", "default", "epoch" };

    if (b->argv == NULL) {
        b->cap = 8 + 3 * FADO_PUBLISH_BATCH;
        b->argv = calloc((size_t) b->cap, sizeof(char *));
        b->lens = calloc((size_t) b->cap, sizeof(size_t));
        if (b->argv == NULL || b->lens == NULL) {
            return -1;
        }
    }
    for (int i = 0; i < 5; i++) {
        snprintf(b->keys[i], sizeof(b->keys[i]), "%s%s", pub->prefix, names[i]);
    }
    b->argc = 0;
    b->triples = 0;
    b->argv[b->argc++] = "EVALSHA";
    b->argv[b->argc++] = pub->sha;
    b->argv[b->argc++] = "5";
    for (int i = 0; i < 5; i++) {
        b->argv[b->argc++] = b->keys[i];
    }
    b->argv[b->argc++] = FADO_FEED_MAXLEN;
    return 0;
}

static int
fado_batch_flush(fado_batch_t *b, fado_publisher_t *pub, long long *version,
    char *err, size_t err_len)
{
    redisReply  *r;

    if (b->triples == 0) {
        return 0;
    }
    for (int i = 0; i < b->argc; i++) {
        b->lens[i] = strlen(b->argv[i]);
    }
    r = redisCommandArgv(pub->redis, b->argc, b->argv, b->lens);
    if (r == NULL) {
        snprintf(err, err_len, "redis: %s", pub->redis->errstr);
        fado_publisher_drop(pub);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        /* Redis restarted and lost its script cache: reconnect loads it. */
        freeReplyObject(r);
        fado_publisher_drop(pub);
        snprintf(err, err_len, "redis lost the publish script; retrying");
        return -1;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
        snprintf(err, err_len, "redis publish script: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    *version = r->integer;
    freeReplyObject(r);
    return fado_batch_reset(b, pub);
}

static int
fado_batch_add(fado_batch_t *b, fado_publisher_t *pub, const char *op,
    const char *bucket, const char *body, long long *version, char *err, size_t err_len)
{
    b->argv[b->argc++] = op;
    b->argv[b->argc++] = bucket;
    b->argv[b->argc++] = body;
    b->triples++;
    if (b->triples == FADO_PUBLISH_BATCH) {
        return fado_batch_flush(b, pub, version, err, err_len);
    }
    return 0;
}

/* ------------------------------------------------------------ desired state */

/*
 * The route bodies, built by PostgreSQL: for each bucket its policy and the
 * endpoints of healthy clusters holding a ready replica, in byte order so
 * the body of an unchanged route is byte for byte the same; the default
 * route under the empty name (absent when no endpoint is healthy).
 */
#define FADO_DESIRED_SQL \
    "WITH pol AS (SELECT COALESCE((SELECT value FROM settings" \
    "                              WHERE key = 'default_policy'), '-') AS p)," \
    " desired AS (" \
    "  SELECT b.name AS bucket," \
    "         CASE WHEN b.policy <> '-' THEN b.policy ELSE (SELECT p FROM pol) END" \
    "         || COALESCE(' ' || string_agg(e.address || ',' || c.name || ',' || c.zone" \
    "              || ',' || e.weight || ',' || e.max_inflight, ' '" \
    "              ORDER BY c.name COLLATE \"C\", e.address COLLATE \"C\"), '') AS body" \
    "    FROM buckets b" \
    "    LEFT JOIN replicas r ON r.bucket = b.name AND r.state = 'ready'" \
    "    LEFT JOIN clusters c ON c.name = r.cluster AND c.healthy" \
    "    LEFT JOIN endpoints e ON e.cluster = c.name" \
    "   GROUP BY b.name, b.policy" \
    "  UNION ALL" \
    "  SELECT '', '- ' || string_agg(e.address || ',' || c.name || ',' || c.zone" \
    "              || ',' || e.weight || ',' || e.max_inflight, ' '" \
    "              ORDER BY c.name COLLATE \"C\", e.address COLLATE \"C\")" \
    "    FROM endpoints e JOIN clusters c ON c.name = e.cluster WHERE c.healthy" \
    "  HAVING count(*) > 0)"

/*
 * Rows (bucket, body): everything for a full republish, sorted by bucket;
 * otherwise only what differs from published_routes (body NULL: removed).
 */
static PGresult *
fado_publisher_changes(PGconn *conn, int full, char *err, size_t err_len)
{
    PGresult  *res;

    /* The per-bucket aggregation sorts every replica row: keep it in memory. */
    res = fado_db_query(conn, "SET work_mem = '64MB'", 0, NULL, err, err_len, NULL);
    if (res == NULL) {
        return NULL;
    }
    PQclear(res);
    return fado_db_query(conn, full
        ? FADO_DESIRED_SQL " SELECT bucket, body FROM desired ORDER BY bucket COLLATE \"C\""
        : FADO_DESIRED_SQL " SELECT COALESCE(d.bucket, p.bucket), d.body"
          " FROM desired d FULL JOIN published_routes p ON p.bucket = d.bucket"
          " WHERE d.body IS DISTINCT FROM p.body",
        0, NULL, err, err_len, NULL);
}

/* Whether a bucket is among the sorted rows of a full republish. */
static int
fado_publisher_wanted(PGresult *rows, const char *bucket)
{
    int  lo = 0, hi = PQntuples(rows) - 1;

    while (lo <= hi) {
        int  mid = lo + (hi - lo) / 2;
        int  c = strcmp(PQgetvalue(rows, mid, 0), bucket);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return 0;
}

static int
fado_publisher_epoch(fado_publisher_t *pub, PGconn *conn, char *key, char *redis_epoch,
    size_t size, int *full, char *err, size_t err_len)
{
    char         ekey[96];
    const char  *argv[2] = { "GET", ekey };
    redisReply  *r;
    PGresult    *res;
    const char  *params[1] = { key };

    snprintf(ekey, sizeof(ekey), "%sepoch", pub->prefix);
    r = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
    if (r == NULL) {
        return -1;
    }
    snprintf(redis_epoch, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);

    res = fado_db_query(conn, "SELECT value FROM controller_state WHERE key = $1",
                        1, params, err, err_len, NULL);
    if (res == NULL) {
        return -1;
    }
    *full = redis_epoch[0] == '\0' || PQntuples(res) == 0
            || strcmp(PQgetvalue(res, 0, 0), redis_epoch) != 0;
    PQclear(res);
    return 0;
}

/* Records an incremental publication: what was set and what was removed. */
static int
fado_publisher_record(PGconn *conn, fado_buf_t *set_b, fado_buf_t *set_v,
    fado_buf_t *del_b, long long version, char *err, size_t err_len)
{
    char         vbuf[32];
    const char  *p3[3];
    PGresult    *res;

    snprintf(vbuf, sizeof(vbuf), "%lld", version);
    fado_buf_str(set_b, "}");
    fado_buf_str(set_v, "}");
    fado_buf_str(del_b, "}");
    if (set_b->failed || set_v->failed || del_b->failed) {
        snprintf(err, err_len, "out of memory recording routes");
        return -1;
    }

    res = fado_db_query(conn, "BEGIN", 0, NULL, err, err_len, NULL);
    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    p3[0] = del_b->data;
    res = fado_db_query(conn, "DELETE FROM published_routes WHERE bucket = ANY ($1::text[])",
                        1, p3, err, err_len, NULL);
    if (res == NULL) {
        goto rollback;
    }
    PQclear(res);
    p3[0] = set_b->data;
    p3[1] = set_v->data;
    p3[2] = vbuf;
    res = fado_db_query(conn,
        "INSERT INTO published_routes (bucket, body, version)"
        " SELECT b, v, $3::bigint FROM unnest($1::text[], $2::text[]) AS u (b, v)"
        " ON CONFLICT (bucket) DO UPDATE SET body = EXCLUDED.body,"
        " version = EXCLUDED.version, updated_at = now()",
        3, p3, err, err_len, NULL);
    if (res == NULL) {
        goto rollback;
    }
    PQclear(res);
    res = fado_db_query(conn, "COMMIT", 0, NULL, err, err_len, NULL);
    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;

rollback:
    {
        char  ignored[128];
        res = fado_db_query(conn, "ROLLBACK", 0, NULL, ignored, sizeof(ignored), NULL);
        if (res != NULL) {
            PQclear(res);
        }
    }
    return -1;
}

/* The last version Redis assigned (0 if none). */
static int
fado_publisher_version(fado_publisher_t *pub, long long *v, char *err, size_t err_len)
{
    char         key[96];
    const char  *argv[2] = { "GET", key };
    redisReply  *r;

    snprintf(key, sizeof(key), "%sversion", pub->prefix);
    r = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
    if (r == NULL) {
        return -1;
    }
    *v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    return 0;
}

/*
 * A full republish records the whole table while Redis is being written:
 * the statements go out in libpq's pipeline mode now and their results are
 * read afterwards (fado_publisher_record_finish). Committing before Redis
 * has everything is safe here: until the reset with the new epoch reaches
 * Redis, the epochs differ and the next pass republishes everything again.
 * Route versions are the ones the script assigns in order, from v0 + 1.
 */
static int
fado_publisher_record_start(PGconn *conn, fado_buf_t *set_b, fado_buf_t *set_v,
    long long v0, const char *epoch_key, const char *epoch, char *err, size_t err_len)
{
    char         vbuf[32];
    const char  *ins[3] = { set_b->data, set_v->data, vbuf };
    const char  *st[2] = { epoch_key, epoch };

    snprintf(vbuf, sizeof(vbuf), "%lld", v0);
    if (PQenterPipelineMode(conn) != 1) {
        snprintf(err, err_len, "postgres: cannot enter pipeline mode");
        return -1;
    }
    if (PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1
        || PQsendQueryParams(conn, "DELETE FROM published_routes", 0, NULL, NULL, NULL,
                             NULL, 0) != 1
        || PQsendQueryParams(conn,
               "INSERT INTO published_routes (bucket, body, version)"
               " SELECT b, v, $3::bigint + n FROM unnest($1::text[], $2::text[])"
               " WITH ORDINALITY AS u (b, v, n)", 3, NULL, ins, NULL, NULL, 0) != 1
        || PQsendQueryParams(conn,
               "INSERT INTO controller_state (key, value) VALUES ($1, $2)"
               " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
               2, NULL, st, NULL, NULL, 0) != 1
        || PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1
        || PQpipelineSync(conn) != 1)
    {
        snprintf(err, err_len, "postgres: %s", PQerrorMessage(conn));
        return -1;
    }
    return 0;
}

/* Reads every result of the pipeline; 0 if all statements succeeded. */
static int
fado_publisher_record_finish(PGconn *conn, char *err, size_t err_len)
{
    int        rc = 0, done = 0;
    PGresult  *res;

    while (!done) {
        res = PQgetResult(conn);
        if (res == NULL) {
            continue;       /* end of one statement's results */
        }
        switch (PQresultStatus(res)) {
        case PGRES_PIPELINE_SYNC:
            done = 1;
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            break;
        default:
            if (rc == 0) {
                snprintf(err, err_len, "postgres: %s", PQresultErrorMessage(res));
                err[strcspn(err, "\n")] = '\0';
            }
            rc = -1;
            break;
        }
        PQclear(res);
        if (PQstatus(conn) != CONNECTION_OK) {
            snprintf(err, err_len, "postgres: connection lost");
            return -1;
        }
    }
    if (PQexitPipelineMode(conn) != 1) {
        snprintf(err, err_len, "postgres: cannot leave pipeline mode");
        return -1;
    }
    return rc;
}

/* Buckets present in the Redis hash (for a full republish). */
static int
fado_publisher_redis_buckets(fado_publisher_t *pub, redisReply **out, char *err,
    size_t err_len)
{
    char         key[96];
    const char  *argv[2] = { "HKEYS", key };

    snprintf(key, sizeof(key), "%sroutes", pub->prefix);
    *out = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
    return *out == NULL ? -1 : 0;
}

int
fado_publisher_run(fado_publisher_t *pub, PGconn *conn, fado_publish_stats_t *stats,
    char *err, size_t err_len)
{
    PGresult      *rows = NULL;
    fado_batch_t   batch = { 0 };
    fado_buf_t     set_b = { 0 }, set_v = { 0 }, del_b = { 0 };
    redisReply    *hkeys = NULL;
    char           epoch_key[128], redis_epoch[128], new_epoch[33];
    int            full = 0, rc = -1, recording = 0;

    memset(stats, 0, sizeof(*stats));
    if (fado_publisher_connect(pub, err, err_len) != 0) {
        return -1;
    }
    snprintf(epoch_key, sizeof(epoch_key), "redis_epoch:%s", pub->prefix);
    if (fado_publisher_epoch(pub, conn, epoch_key, redis_epoch, sizeof(redis_epoch),
                             &full, err, err_len) != 0
        || (rows = fado_publisher_changes(conn, full, err, err_len)) == NULL
        || fado_batch_reset(&batch, pub) != 0)
    {
        goto done;
    }
    if (full && fado_publisher_redis_buckets(pub, &hkeys, err, err_len) != 0) {
        goto done;
    }

    fado_buf_str(&set_b, "{");
    fado_buf_str(&set_v, "{");
    fado_buf_str(&del_b, "{");

    if (full) {
        unsigned char  raw[16];
        long long      v0;

        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            snprintf(err, err_len, "no randomness for the epoch");
            goto done;
        }
        for (int k = 0; k < 16; k++) {
            snprintf(new_epoch + 2 * k, 3, "%02x", raw[k]);
        }
        /* Every row of a full republish is a set, in this order. */
        for (int i = 0; i < PQntuples(rows); i++) {
            fado_buf_pg_elem(&set_b, PQgetvalue(rows, i, 0));
            fado_buf_pg_elem(&set_v, PQgetvalue(rows, i, 1));
        }
        fado_buf_str(&set_b, "}");
        fado_buf_str(&set_v, "}");
        if (set_b.failed || set_v.failed) {
            snprintf(err, err_len, "out of memory recording routes");
            goto done;
        }
        if (fado_publisher_version(pub, &v0, err, err_len) != 0
            || fado_publisher_record_start(conn, &set_b, &set_v, v0, epoch_key, new_epoch,
                                           err, err_len) != 0)
        {
            goto done;
        }
        recording = 1;
    }

    for (int i = 0; i < PQntuples(rows); i++) {
        const char  *b = PQgetvalue(rows, i, 0);

        if (PQgetisnull(rows, i, 1)) {
            if (fado_batch_add(&batch, pub, b[0] ? "del" : "nodefault", b, "",
                               &stats->version, err, err_len) != 0)
            {
                goto done;
            }
            fado_buf_pg_elem(&del_b, b);
            stats->deleted++;
            continue;
        }
        if (fado_batch_add(&batch, pub, b[0] ? "set" : "default", b,
                           PQgetvalue(rows, i, 1), &stats->version, err, err_len) != 0)
        {
            goto done;
        }
        if (!full) {
            fado_buf_pg_elem(&set_b, b);
            fado_buf_pg_elem(&set_v, PQgetvalue(rows, i, 1));
        }
        stats->set++;
    }

    if (full) {
        /* Remove from Redis what no bucket of ours claims, then announce. */
        for (size_t k = 0; hkeys != NULL && k < hkeys->elements; k++) {
            const char  *b = hkeys->element[k]->str;

            if (!fado_publisher_wanted(rows, b)) {
                if (fado_batch_add(&batch, pub, "del", b, "", &stats->version,
                                   err, err_len) != 0)
                {
                    goto done;
                }
                stats->deleted++;
            }
        }
        if (!fado_publisher_wanted(rows, "")
            && fado_batch_add(&batch, pub, "nodefault", "", "", &stats->version,
                              err, err_len) != 0)
        {
            goto done;
        }
        if (fado_batch_add(&batch, pub, "reset", "", new_epoch, &stats->version,
                           err, err_len) != 0)
        {
            goto done;
        }
        stats->full = 1;
    }
    if (fado_batch_flush(&batch, pub, &stats->version, err, err_len) != 0) {
        goto done;
    }
    if (recording) {
        recording = 0;
        if (fado_publisher_record_finish(conn, err, err_len) != 0) {
            goto done;
        }
    } else if ((stats->set || stats->deleted)
               && fado_publisher_record(conn, &set_b, &set_v, &del_b, stats->version,
                                        err, err_len) != 0)
    {
        goto done;
    }
    if (full) {
        fado_log(FADO_LOG_INFO, "msg=\"routes republished\" reason=\"%s\" routes=%zu version=%lld",
                 redis_epoch[0] ? "epoch changed" : "epoch missing", stats->set,
                 stats->version);
    } else if (stats->set || stats->deleted) {
        fado_log(FADO_LOG_INFO, "msg=\"routes published\" set=%zu deleted=%zu version=%lld",
                 stats->set, stats->deleted, stats->version);
    }
    rc = 0;

done:
    if (recording) {
        /* Redis failed mid-way: drain the pipeline; the epochs still differ,
         * so the next pass republishes everything. */
        char  ignored[128];
        (void) fado_publisher_record_finish(conn, ignored, sizeof(ignored));
    }
    if (hkeys != NULL) {
        freeReplyObject(hkeys);
    }
    if (rows != NULL) {
        PQclear(rows);
    }
    free(batch.argv);
    free(batch.lens);
    free(set_b.data);
    free(set_v.data);
    free(del_b.data);
    return rc;
}
