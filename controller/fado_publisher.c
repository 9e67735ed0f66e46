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

int
fado_route_body(char *buf, size_t size, const char *policy,
    const fado_route_endpoint_t *eps, size_t n)
{
    size_t  len = strlen(buf);
    int     r;

    r = snprintf(buf + len, size - len, "%s", policy);
    if (r < 0 || (size_t) r >= size - len) {
        return -1;
    }
    len += (size_t) r;
    for (size_t i = 0; i < n; i++) {
        r = snprintf(buf + len, size - len, " %s,%s,%s,%d,%d", eps[i].address,
                     eps[i].cluster, eps[i].zone, eps[i].weight, eps[i].max_inflight);
        if (r < 0 || (size_t) r >= size - len) {
            return -1;
        }
        len += (size_t) r;
    }
    return 0;
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

typedef struct {
    char  *bucket;
    char  *body;
} fado_route_t;

typedef struct {
    fado_route_t  *items;
    size_t         n;
    size_t         cap;
} fado_routes_t;

static int
fado_route_cmp(const void *a, const void *b)
{
    return strcmp(((const fado_route_t *) a)->bucket, ((const fado_route_t *) b)->bucket);
}

static void
fado_routes_free(fado_routes_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->items[i].bucket);
        free(rs->items[i].body);
    }
    free(rs->items);
    memset(rs, 0, sizeof(*rs));
}

static int
fado_routes_push(fado_routes_t *rs, const char *bucket, char *body)
{
    if (rs->n == rs->cap) {
        size_t         cap = rs->cap ? rs->cap * 2 : 1024;
        fado_route_t  *p = realloc(rs->items, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        rs->items = p;
        rs->cap = cap;
    }
    rs->items[rs->n].bucket = strdup(bucket);
    rs->items[rs->n].body = body;
    if (rs->items[rs->n].bucket == NULL) {
        return -1;
    }
    rs->n++;
    return 0;
}

/*
 * Rows (bucket, policy, address, cluster, zone, weight, max_inflight) sorted
 * by bucket become one body per bucket. The default route is bucket "".
 */
static int
fado_publisher_desired(PGconn *conn, fado_routes_t *out, char *err, size_t err_len)
{
    PGresult   *res;
    fado_buf_t  body = { 0 };
    const char *current = NULL;

    res = fado_db_query(conn,
        "SELECT * FROM ("
        " SELECT b.name AS bucket, CASE WHEN b.policy <> '-' THEN b.policy ELSE"
        "        COALESCE((SELECT value FROM settings WHERE key = 'default_policy'), '-') END,"
        "        e.address AS address, c.name AS cluster, c.zone, e.weight, e.max_inflight"
        "   FROM buckets b"
        "   LEFT JOIN replicas r ON r.bucket = b.name AND r.state = 'ready'"
        "   LEFT JOIN clusters c ON c.name = r.cluster AND c.healthy"
        "   LEFT JOIN endpoints e ON e.cluster = c.name"
        " UNION ALL"
        " SELECT '', '-', e.address, c.name, c.zone, e.weight, e.max_inflight"
        "   FROM endpoints e JOIN clusters c ON c.name = e.cluster WHERE c.healthy"
        ") u ORDER BY bucket COLLATE \"C\", cluster COLLATE \"C\", address COLLATE \"C\"",
        0, NULL, err, err_len, NULL);
    if (res == NULL) {
        return -1;
    }

    for (int i = 0; i <= PQntuples(res); i++) {
        const char  *bucket = i < PQntuples(res) ? PQgetvalue(res, i, 0) : NULL;

        if (current != NULL && (bucket == NULL || strcmp(bucket, current) != 0)) {
            if (body.failed || fado_routes_push(out, current, body.data) != 0) {
                free(body.data);
                goto nomem;
            }
            memset(&body, 0, sizeof(body));
        }
        if (bucket == NULL) {
            break;
        }
        if (current == NULL || strcmp(bucket, current) != 0) {
            current = bucket;
            fado_buf_str(&body, PQgetvalue(res, i, 1));
        }
        if (!PQgetisnull(res, i, 2)) {
            fado_buf_str(&body, " ");
            fado_buf_str(&body, PQgetvalue(res, i, 2));
            for (int col = 3; col <= 6; col++) {
                fado_buf_str(&body, ",");
                fado_buf_str(&body, PQgetvalue(res, i, col));
            }
        }
    }
    PQclear(res);
    return 0;

nomem:
    PQclear(res);
    snprintf(err, err_len, "out of memory building routes");
    return -1;
}

static int
fado_publisher_published(PGconn *conn, fado_routes_t *out, char *err, size_t err_len)
{
    PGresult  *res = fado_db_query(conn,
        "SELECT bucket, body FROM published_routes ORDER BY bucket COLLATE \"C\"",
        0, NULL, err, err_len, NULL);

    if (res == NULL) {
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char  *body = strdup(PQgetvalue(res, i, 1));
        if (body == NULL || fado_routes_push(out, PQgetvalue(res, i, 0), body) != 0) {
            free(body);
            PQclear(res);
            snprintf(err, err_len, "out of memory reading published routes");
            return -1;
        }
    }
    PQclear(res);
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

static int
fado_publisher_record(PGconn *conn, fado_buf_t *set_b, fado_buf_t *set_v,
    fado_buf_t *del_b, long long version, int full, const char *epoch_key,
    const char *epoch, char *err, size_t err_len)
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
    if (full) {
        res = fado_db_query(conn, "DELETE FROM published_routes", 0, NULL, err, err_len, NULL);
    } else {
        p3[0] = del_b->data;
        res = fado_db_query(conn, "DELETE FROM published_routes WHERE bucket = ANY ($1::text[])",
                            1, p3, err, err_len, NULL);
    }
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
    if (full) {
        p3[0] = epoch_key;
        p3[1] = epoch;
        res = fado_db_query(conn,
            "INSERT INTO controller_state (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            2, p3, err, err_len, NULL);
        if (res == NULL) {
            goto rollback;
        }
        PQclear(res);
    }
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
    fado_routes_t  want = { 0 }, have = { 0 };
    fado_batch_t   batch = { 0 };
    fado_buf_t     set_b = { 0 }, set_v = { 0 }, del_b = { 0 };
    redisReply    *hkeys = NULL;
    char           epoch_key[128], redis_epoch[128], new_epoch[33];
    int            full = 0, rc = -1;
    size_t         i = 0, j = 0;

    memset(stats, 0, sizeof(*stats));
    if (fado_publisher_connect(pub, err, err_len) != 0) {
        return -1;
    }
    snprintf(epoch_key, sizeof(epoch_key), "redis_epoch:%s", pub->prefix);
    if (fado_publisher_epoch(pub, conn, epoch_key, redis_epoch, sizeof(redis_epoch),
                             &full, err, err_len) != 0
        || fado_publisher_desired(conn, &want, err, err_len) != 0
        || (!full && fado_publisher_published(conn, &have, err, err_len) != 0)
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

    /* Merge the two sorted lists: set what differs, delete what went. */
    while (i < want.n || j < have.n) {
        int  cmp = i == want.n ? 1 : j == have.n ? -1
                 : strcmp(want.items[i].bucket, have.items[j].bucket);

        if (cmp > 0) {
            const char  *b = have.items[j++].bucket;
            if (fado_batch_add(&batch, pub, b[0] ? "del" : "nodefault", b, "",
                               &stats->version, err, err_len) != 0)
            {
                goto done;
            }
            fado_buf_pg_elem(&del_b, b);
            stats->deleted++;
            continue;
        }
        if (cmp == 0 && strcmp(want.items[i].body, have.items[j].body) == 0) {
            i++;
            j++;
            continue;
        }
        {
            fado_route_t  *r = &want.items[i++];
            if (cmp == 0) {
                j++;
            }
            if (fado_batch_add(&batch, pub, r->bucket[0] ? "set" : "default",
                               r->bucket, r->body, &stats->version, err, err_len) != 0)
            {
                goto done;
            }
            fado_buf_pg_elem(&set_b, r->bucket);
            fado_buf_pg_elem(&set_v, r->body);
            stats->set++;
        }
    }

    if (full) {
        /* Remove from Redis what no bucket of ours claims, then announce. */
        int  had_default = 0;

        for (size_t k = 0; hkeys != NULL && k < hkeys->elements; k++) {
            fado_route_t  key = { hkeys->element[k]->str, NULL };

            /* want is sorted by byte order (COLLATE "C"), like strcmp. */
            if (bsearch(&key, want.items, want.n, sizeof(fado_route_t),
                        fado_route_cmp) == NULL)
            {
                const char  *b = key.bucket;
                if (fado_batch_add(&batch, pub, "del", b, "", &stats->version,
                                   err, err_len) != 0)
                {
                    goto done;
                }
                stats->deleted++;
            }
        }
        for (size_t w = 0; w < want.n; w++) {
            had_default |= want.items[w].bucket[0] == '\0';
        }
        if (!had_default && fado_batch_add(&batch, pub, "nodefault", "", "",
                                           &stats->version, err, err_len) != 0)
        {
            goto done;
        }
        {
            unsigned char  raw[16];
            if (RAND_bytes(raw, sizeof(raw)) != 1) {
                snprintf(err, err_len, "no randomness for the epoch");
                goto done;
            }
            for (int k = 0; k < 16; k++) {
                snprintf(new_epoch + 2 * k, 3, "%02x", raw[k]);
            }
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
    if ((stats->set || stats->deleted || full)
        && fado_publisher_record(conn, &set_b, &set_v, &del_b, stats->version, full,
                                 epoch_key, full ? new_epoch : redis_epoch,
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
    if (hkeys != NULL) {
        freeReplyObject(hkeys);
    }
    fado_routes_free(&want);
    fado_routes_free(&have);
    free(batch.argv);
    free(batch.lens);
    free(set_b.data);
    free(set_v.data);
    free(del_b.data);
    return rc;
}
