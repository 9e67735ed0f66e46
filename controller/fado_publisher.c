/*
 * fado_publisher: route records from PostgreSQL to Redis, differences only.
 */

#include "fado_publisher.h"
#include "fado_clock.h"
#include "fado_db.h"
#include "fado_log.h"
#include "fado_sql.h"
#include "fst_hex.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FADO_PUBLISH_BATCH   1000        /* triples per script call */
#define FADO_PUBLISH_CHUNK   10000       /* buckets per sync of a republish */
#define FADO_STR2(x)         #x
#define FADO_STR(x)          FADO_STR2(x)
#define FADO_FEED_MAXLEN     "100000"
#define FADO_DRIFT           "!drift"    /* a body no encoder produces */
#define FADO_DRIFT_CHUNK     5000        /* records per step of the drift check */
#define FADO_TAIL_MAX        4           /* caller's statements after a sync */
#define FADO_HEAD_MAX        4           /* caller's statements before it */

struct fado_publisher_s {
    char           host[256];
    int            port;
    int            db;
    char           password[256];
    char           prefix[64];
    char           sha[41];
    redisContext  *redis;
    char           epoch[64];       /* recorded in PostgreSQL, "" until read */
    int            epoch_lost;      /* a script call found another epoch */
};

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

/* ------------------------------------------------------------ batches */

/*
 * Script calls of up to FADO_PUBLISH_BATCH (op, name, body) triples. What a
 * flush wrote is collected for recording in PostgreSQL afterwards, each
 * record with the version the script gave it (consecutive, in order).
 */
/* EVALSHA, sha, numkeys, seven keys, maxlen; then the triples. */
#define FADO_BATCH_HEAD  11

typedef enum {
    FADO_REC_ROUTE,
    FADO_REC_CLUSTER,
    FADO_REC_SETTING,
    FADO_REC_NONE,          /* reset: nothing to record */
    FADO_REC_EXPECT         /* expect: nothing to record, no version */
} fado_rec_kind_e;

typedef struct {
    fado_rec_kind_e   kind;
    int               removed;
} fado_rec_op_t;

typedef struct {
    const char      **argv;
    size_t           *lens;
    fado_rec_op_t    *ops;
    int               argc;
    size_t            triples;
    size_t            head;            /* triples every call starts with */
    const char       *expect;          /* the epoch each call checks, or NULL */
    char              keys[7][96];
    /* what was written, for fado_publisher_record */
    json_t           *routes_set;      /* name -> [body, version] */
    json_t           *routes_del;      /* [name] */
    json_t           *clusters_set;
    json_t           *clusters_del;
    json_t           *settings_set;    /* key -> [value, version] */
    json_t           *seen[2];         /* republish: names queued, by kind */
    int               quiet;           /* republish: no feed entry per record */
    fado_publish_stats_t  *stats;
} fado_batch_t;

static int
fado_batch_init(fado_batch_t *b, const fado_publisher_t *pub, fado_publish_stats_t *stats)
{
    static const char *const  names[7] = { "routes", "version", "feed", "default",
                                           "epoch", "clusters", "settings" };
    size_t                    cap = FADO_BATCH_HEAD + 3 * FADO_PUBLISH_BATCH;

    memset(b, 0, sizeof(*b));
    b->argv = calloc(cap, sizeof(char *));
    b->lens = calloc(cap, sizeof(size_t));
    b->ops = calloc(FADO_PUBLISH_BATCH, sizeof(fado_rec_op_t));
    b->routes_set = json_object();
    b->routes_del = json_array();
    b->clusters_set = json_object();
    b->clusters_del = json_array();
    b->settings_set = json_object();
    b->stats = stats;
    if (b->argv == NULL || b->lens == NULL || b->ops == NULL || b->routes_set == NULL
        || b->routes_del == NULL || b->clusters_set == NULL || b->clusters_del == NULL
        || b->settings_set == NULL)
    {
        return -1;
    }
    for (int i = 0; i < 7; i++) {
        snprintf(b->keys[i], sizeof(b->keys[i]), "%s%s", pub->prefix, names[i]);
    }
    return 0;
}

static void
fado_batch_free(fado_batch_t *b)
{
    free(b->argv);
    free(b->lens);
    free(b->ops);
    json_decref(b->routes_set);
    json_decref(b->routes_del);
    json_decref(b->clusters_set);
    json_decref(b->clusters_del);
    json_decref(b->settings_set);
}

static void
fado_batch_start(fado_batch_t *b, const fado_publisher_t *pub)
{
    b->argc = 0;
    b->triples = 0;
    b->argv[b->argc++] = "EVALSHA";
    b->argv[b->argc++] = pub->sha;
    b->argv[b->argc++] = "7";
    for (int i = 0; i < 7; i++) {
        b->argv[b->argc++] = b->keys[i];
    }
    b->argv[b->argc++] = FADO_FEED_MAXLEN;
    if (b->expect != NULL) {
        b->ops[b->triples].kind = FADO_REC_EXPECT;
        b->ops[b->triples].removed = 0;
        b->argv[b->argc++] = "expect";
        b->argv[b->argc++] = "";
        b->argv[b->argc++] = b->expect;
        b->triples++;
    }
    b->head = b->triples;
}

/* What the flush wrote: every op but expect took the next version, the
 * last one being last. */
static int
fado_batch_collect(fado_batch_t *b, long long last)
{
    long long  v = last + 1;

    for (size_t i = b->triples; i-- > 0; ) {
        const fado_rec_op_t  *op = &b->ops[i];
        const char           *name = b->argv[FADO_BATCH_HEAD + 3 * i + 1];
        const char           *body = b->argv[FADO_BATCH_HEAD + 3 * i + 2];
        int                   rc = 0;

        if (op->kind == FADO_REC_EXPECT) {
            continue;
        }
        v--;
        if (op->kind == FADO_REC_NONE) {
            continue;
        }
        if (op->removed) {
            rc = json_array_append_new(op->kind == FADO_REC_ROUTE ? b->routes_del
                                                                  : b->clusters_del,
                                       json_string(name));
            b->stats->deleted++;
        } else {
            rc = json_object_set_new(op->kind == FADO_REC_ROUTE ? b->routes_set
                                     : op->kind == FADO_REC_SETTING ? b->settings_set
                                     : b->clusters_set,
                                     name, json_pack("[s, I]", body, (json_int_t) v));
            b->stats->set++;
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int
fado_batch_flush(fado_batch_t *b, fado_publisher_t *pub, char *err, size_t err_len)
{
    redisReply  *r;

    if (b->triples == b->head) {
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
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "FADOEPOCH", 9) == 0) {
        /* Redis lost the table (a restart, a flush): nothing was written. */
        freeReplyObject(r);
        pub->epoch_lost = 1;
        snprintf(err, err_len, "redis no longer holds the published table");
        return -1;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
        snprintf(err, err_len, "redis publish script: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    b->stats->version = r->integer;
    freeReplyObject(r);
    if (fado_batch_collect(b, b->stats->version) != 0) {
        snprintf(err, err_len, "out of memory recording routes");
        return -1;
    }
    fado_batch_start(b, pub);
    return 0;
}

/* name and body must outlive the flush (they point into a PGresult). */
static int
fado_batch_add(fado_batch_t *b, fado_publisher_t *pub, const char *op, const char *name,
    const char *body, fado_rec_kind_e kind, int removed, char *err, size_t err_len)
{
    b->ops[b->triples].kind = kind;
    b->ops[b->triples].removed = removed;
    b->argv[b->argc++] = op;
    b->argv[b->argc++] = name;
    b->argv[b->argc++] = body;
    b->triples++;
    if (b->triples == FADO_PUBLISH_BATCH) {
        return fado_batch_flush(b, pub, err, err_len);
    }
    return 0;
}

/* ------------------------------------------------------------ records */

/*
 * The one encoder of bucket records, as SQL (docs/routing-contract.md): for
 * each named bucket, its policy and the clusters holding a ready replica in
 * byte order (F2), so an unchanged route is byte for byte the same; a bucket
 * with a route override gets its explicit endpoint list instead, in the
 * override's order (F1, "addr,cluster,zone,weight,max_inflight"). The empty
 * name is the default route (every cluster with endpoints). A bucket that
 * does not exist gives NULL: its record is removed. Only rows that differ
 * from what was published are returned: name, body, tag (F1 or F2).
 */
#define FADO_ROUTES_SQL_FOR(names, compare) \
    "WITH names AS (" names ")," \
    " pol AS (SELECT COALESCE((SELECT value FROM settings" \
    "                          WHERE key = 'default_policy'), '-') AS p)" \
    " SELECT name, body, tag FROM (" \
    "  SELECT n.name," \
    "    CASE WHEN n.name = '' THEN" \
    "      (SELECT '- ' || string_agg(c.name, ' ' ORDER BY c.name COLLATE \"C\")" \
    "         FROM clusters c WHERE EXISTS (SELECT 1 FROM endpoints e" \
    "                                        WHERE e.cluster = c.name))" \
    "    WHEN b.name IS NULL THEN NULL" \
    "    WHEN o.bucket IS NOT NULL THEN" \
    "      (CASE WHEN o.policy <> '-' THEN o.policy WHEN b.policy <> '-' THEN b.policy" \
    "            ELSE (SELECT p FROM pol) END)" \
    "      || COALESCE((SELECT ' ' || string_agg(e.address || ',' || e.cluster || ','" \
    "                                            || c.zone || ',' || e.weight || ','" \
    "                                            || e.max_inflight, ' ' ORDER BY e.position)" \
    "                     FROM route_override_endpoints e" \
    "                     JOIN clusters c ON c.name = e.cluster" \
    "                    WHERE e.bucket = b.name), '')" \
    "    ELSE (CASE WHEN b.policy <> '-' THEN b.policy ELSE (SELECT p FROM pol) END)" \
    "      || COALESCE((SELECT ' ' || string_agg(r.cluster, ' '" \
    "                                            ORDER BY r.cluster COLLATE \"C\")" \
    "                     FROM replicas r WHERE r.bucket = b.name AND r.state = 'ready'), '')" \
    "    END AS body," \
    "    CASE WHEN o.bucket IS NOT NULL THEN 'F1' ELSE 'F2' END AS tag" \
    compare

/* The named buckets (a JSON array), where they differ from what was
 * published. */
#define FADO_ROUTES_SQL \
    FADO_ROUTES_SQL_FOR("SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS name", \
        ", p.body AS published" \
        "   FROM names n" \
        "   LEFT JOIN buckets b ON b.name = n.name" \
        "   LEFT JOIN route_overrides o ON o.bucket = b.name" \
        "   LEFT JOIN published_routes p ON p.bucket = n.name) s" \
        " WHERE body IS DISTINCT FROM published")

/* A republish: the next FADO_PUBLISH_CHUNK buckets after $1 by the bucket
 * index, all of them (nothing is published then), in name order. A range
 * rather than a list of names, so the planner knows how many rows come. */
#define FADO_ROUTES_RANGE_SQL \
    FADO_ROUTES_SQL_FOR("SELECT name FROM buckets WHERE name > $1 ORDER BY name" \
                        " LIMIT " FADO_STR(FADO_PUBLISH_CHUNK), \
        "   FROM names n" \
        "   JOIN buckets b ON b.name = n.name" \
        "   LEFT JOIN route_overrides o ON o.bucket = b.name) s" \
        " ORDER BY name")

/*
 * Settings the gateways read (docs/routing-contract.md, "Settings"): only
 * bucket_header. Rows that differ from what was published: key, value.
 */
#define FADO_SETTINGS_SQL \
    "SELECT s.key, s.value FROM settings s" \
    "  LEFT JOIN published_settings p ON p.key = s.key" \
    " WHERE s.key = 'bucket_header' AND s.value IS DISTINCT FROM p.value"

/* Cluster records: zones (joined by "+"), up or down, endpoints in byte
 * order of their address (fado_cluster_endpoints, sql/006_endpoint_names.sql:
 * one per address a name resolves to, with its scheme, name and prefix). */
#define FADO_CLUSTERS_SQL \
    "WITH names AS (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS name)" \
    " SELECT name, body FROM (" \
    "  SELECT n.name," \
    "    CASE WHEN c.name IS NULL THEN NULL" \
    "    ELSE array_to_string(c.zones, '+') || CASE WHEN c.healthy THEN ' up' ELSE ' down' END" \
    "      || COALESCE(' ' || fado_cluster_endpoints(c.name), '')" \
    "    END AS body," \
    "    p.body AS published" \
    "   FROM names n" \
    "   LEFT JOIN clusters c ON c.name = n.name" \
    "   LEFT JOIN published_clusters p ON p.cluster = n.name) s" \
    " WHERE body IS DISTINCT FROM published"

/*
 * Records what a sync wrote in one statement, and runs the caller's tail
 * statements (its bookkeeping of what it asked for) in the same pipeline:
 * one round trip, and all of it or nothing.
 */
static int
fado_publisher_record(PGconn *conn, fado_batch_t *b, fado_db_stmt_t *tail, size_t ntail,
    char *err, size_t err_len)
{
    char            *js[5] = { NULL, NULL, NULL, NULL, NULL };
    const char      *p[5];
    fado_db_stmt_t   st[1 + FADO_TAIL_MAX];
    fado_db_err_t    e;
    size_t           n = 0;
    int              rc = -1;

    if (ntail > FADO_TAIL_MAX) {
        snprintf(err, err_len, "too many statements after a sync");
        return -1;
    }
    if (b->stats->set == 0 && b->stats->deleted == 0) {
        goto tail;
    }

    js[0] = json_dumps(b->routes_del, JSON_COMPACT);
    js[1] = json_dumps(b->routes_set, JSON_COMPACT);
    js[2] = json_dumps(b->clusters_del, JSON_COMPACT);
    js[3] = json_dumps(b->clusters_set, JSON_COMPACT);
    js[4] = json_dumps(b->settings_set, JSON_COMPACT);
    if (js[0] == NULL || js[1] == NULL || js[2] == NULL || js[3] == NULL || js[4] == NULL) {
        snprintf(err, err_len, "out of memory recording routes");
        goto done;
    }
    for (int i = 0; i < 5; i++) {
        p[i] = js[i];
    }
    st[n++] = (fado_db_stmt_t) {
        "WITH d1 AS (DELETE FROM published_routes"
        "             WHERE bucket IN (SELECT jsonb_array_elements_text($1::jsonb))),"
        " i1 AS (INSERT INTO published_routes (bucket, body, version)"
        "        SELECT key, value->>0, (value->>1)::bigint FROM jsonb_each($2::jsonb)"
        "        ON CONFLICT (bucket) DO UPDATE SET body = EXCLUDED.body,"
        "           version = EXCLUDED.version, updated_at = now()),"
        " d2 AS (DELETE FROM published_clusters"
        "         WHERE cluster IN (SELECT jsonb_array_elements_text($3::jsonb))),"
        " i2 AS (INSERT INTO published_clusters (cluster, body, version)"
        "        SELECT key, value->>0, (value->>1)::bigint FROM jsonb_each($4::jsonb)"
        "        ON CONFLICT (cluster) DO UPDATE SET body = EXCLUDED.body,"
        "           version = EXCLUDED.version, updated_at = now()),"
        " i3 AS (INSERT INTO published_settings (key, value, version)"
        "        SELECT key, value->>0, (value->>1)::bigint FROM jsonb_each($5::jsonb)"
        "        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
        "           version = EXCLUDED.version, updated_at = now())"
        " SELECT 1", 5, p, NULL, 1 };

tail:
    for (size_t i = 0; i < ntail; i++) {
        st[n++] = tail[i];
    }
    if (fado_db_pipeline_run(conn, &e, st, n) != 0) {
        snprintf(err, err_len, "%s", e.message);
        goto done;
    }
    rc = 0;

done:
    for (int i = 0; i < 5; i++) {
        free(js[i]);
    }
    return rc;
}

/* Queues the changed rows (name, body or NULL) of one kind. */
static int
fado_publisher_queue(fado_publisher_t *pub, fado_batch_t *b, PGresult *rows,
    fado_rec_kind_e kind, char *err, size_t err_len)
{
    for (int i = 0; i < PQntuples(rows); i++) {
        const char  *name = PQgetvalue(rows, i, 0);
        int          removed = PQgetisnull(rows, i, 1);
        const char  *op;

        if (kind == FADO_REC_SETTING) {
            op = "setting";
        } else if (kind == FADO_REC_CLUSTER) {
            /* a republish writes quietly: its closing reset tells gateways */
            op = removed ? "cdel" : b->quiet ? "rcset" : "cset";
        } else if (name[0] == '\0') {
            op = removed ? "nodefault" : "default2";
        } else if (removed) {
            op = "del";
        } else {
            /* a route override is an F1 record (its endpoints, listed) */
            op = strcmp(PQgetvalue(rows, i, 2), "F1") == 0 ? (b->quiet ? "rset" : "set")
                                                           : (b->quiet ? "rset2" : "set2");
        }
        if (kind != FADO_REC_SETTING && b->seen[kind] != NULL
            && json_object_set_new(b->seen[kind], name, json_true()) != 0)
        {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        if (fado_batch_add(b, pub, op, name, removed ? "" : PQgetvalue(rows, i, 1), kind,
                           removed, err, err_len) != 0)
        {
            return -1;
        }
    }
    return 0;
}

/*
 * What one write publishes: the named clusters and buckets where they differ
 * from what was published, or (republish) every bucket of the next chunk
 * after `after`, and optionally a reset. `seen` collects what was queued.
 */
typedef struct {
    json_t       *buckets;
    json_t       *clusters;
    const char   *after;        /* non-NULL: a chunk of the bucket index */
    char          last[64];     /* out: the chunk's last name */
    size_t        rows;         /* out: the chunk's size */
    const char   *reset_epoch;  /* non-NULL: end with a reset */
    const char   *expect;       /* non-NULL: write only if Redis has this epoch */
    fado_db_stmt_t  *head;      /* the caller's, run with the reads */
    size_t        nhead;
    fado_db_stmt_t  *tail;      /* the caller's, run with the recording */
    size_t        ntail;
    json_t       *seen[2];
} fado_write_t;

/*
 * The reads of a write go in one round trip: clusters (with the default
 * route), buckets, settings. Clusters are queued first: a bucket record
 * that names a new cluster finds its endpoints already there.
 */
static int
fado_publisher_write(fado_publisher_t *pub, PGconn *conn, fado_write_t *w,
    fado_publish_stats_t *stats, char *err, size_t err_len)
{
    fado_db_stmt_t   st[FADO_HEAD_MAX + 3];
    fado_db_err_t    e;
    fado_batch_t     b;
    json_t          *buckets = w->buckets, *with_default = NULL;
    char            *js[2] = { NULL, NULL };
    const char      *pc[1], *pb[1];
    int              ci = -1, bi = -1, si, n = 0, rc = -1;
    double           t0, t1 = 0;

    memset(stats, 0, sizeof(*stats));
    memset(st, 0, sizeof(st));
    if (w->nhead > FADO_HEAD_MAX) {
        snprintf(err, err_len, "too many statements before a sync");
        return -1;
    }
    /* The caller's writes first, in the same transaction as the reads
     * that see them. */
    for (size_t i = 0; i < w->nhead; i++) {
        st[n++] = w->head[i];
    }
    if (fado_batch_init(&b, pub, stats) != 0) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    b.seen[FADO_REC_ROUTE] = w->seen[FADO_REC_ROUTE];
    b.seen[FADO_REC_CLUSTER] = w->seen[FADO_REC_CLUSTER];
    b.quiet = w->seen[FADO_REC_ROUTE] != NULL;
    b.expect = w->expect;
    fado_batch_start(&b, pub);

    if (w->clusters != NULL && json_array_size(w->clusters) > 0) {
        /* The default route lists clusters: redo it with them. */
        with_default = buckets != NULL ? json_copy(buckets) : json_array();
        js[0] = json_dumps(w->clusters, JSON_COMPACT);
        if (with_default == NULL || js[0] == NULL
            || json_array_append_new(with_default, json_string("")) != 0)
        {
            snprintf(err, err_len, "out of memory");
            goto done;
        }
        buckets = with_default;
        pc[0] = js[0];
        ci = n;
        st[n++] = (fado_db_stmt_t) { FADO_CLUSTERS_SQL, 1, pc, NULL, 1 };
    }
    if (w->after != NULL) {
        pb[0] = w->after;
        bi = n;
        st[n++] = (fado_db_stmt_t) { FADO_ROUTES_RANGE_SQL, 1, pb, NULL, 1 };
    } else if (buckets != NULL && json_array_size(buckets) > 0) {
        js[1] = json_dumps(buckets, JSON_COMPACT);
        if (js[1] == NULL) {
            snprintf(err, err_len, "out of memory");
            goto done;
        }
        pb[0] = js[1];
        bi = n;
        st[n++] = (fado_db_stmt_t) { FADO_ROUTES_SQL, 1, pb, NULL, 1 };
    }
    /* One row at most, and usually none: cheap enough for every sync. */
    si = n;
    st[n++] = (fado_db_stmt_t) { FADO_SETTINGS_SQL, 0, NULL, NULL, 1 };
    t0 = fado_clock_fms();
    if (fado_db_pipeline(conn, &e, st, (size_t) n) != 0) {
        snprintf(err, err_len, "%s", e.message);
        goto done;
    }
    t1 = fado_clock_fms();
    stats->read_ms = t1 - t0;

    if (ci >= 0 && fado_publisher_queue(pub, &b, st[ci].res, FADO_REC_CLUSTER, err, err_len) != 0)
    {
        goto done;
    }
    if (bi >= 0) {
        if (fado_publisher_queue(pub, &b, st[bi].res, FADO_REC_ROUTE, err, err_len) != 0) {
            goto done;
        }
        if (w->after != NULL) {
            w->rows = (size_t) PQntuples(st[bi].res);
            if (w->rows > 0) {
                snprintf(w->last, sizeof(w->last), "%s",
                         PQgetvalue(st[bi].res, PQntuples(st[bi].res) - 1, 0));
            }
        }
    }
    if (fado_publisher_queue(pub, &b, st[si].res, FADO_REC_SETTING, err, err_len) != 0) {
        goto done;
    }
    if (w->reset_epoch != NULL
        && fado_batch_add(&b, pub, "reset", "", w->reset_epoch, FADO_REC_NONE, 0,
                          err, err_len) != 0)
    {
        goto done;
    }
    if (fado_batch_flush(&b, pub, err, err_len) != 0) {
        goto done;
    }
    t0 = fado_clock_fms();
    stats->redis_ms = t0 - t1;
    if (fado_publisher_record(conn, &b, w->tail, w->ntail, err, err_len) != 0) {
        goto done;
    }
    stats->record_ms = fado_clock_fms() - t0;
    rc = 0;

done:
    fado_batch_free(&b);
    json_decref(with_default);
    free(js[0]);
    free(js[1]);
    for (int i = 0; i < n; i++) {
        if (st[i].res != NULL) {
            PQclear(st[i].res);
        }
    }
    return rc;
}

/*
 * With the recorded epoch known, each script call checks it (expect): no
 * separate round trip to Redis, and no gap between the check and the write.
 */
int
fado_publisher_sync(fado_publisher_t *pub, PGconn *conn, json_t *buckets,
    json_t *clusters, fado_db_stmt_t *head, size_t nhead, fado_db_stmt_t *tail,
    size_t ntail, fado_publish_stats_t *stats, char *err, size_t err_len)
{
    fado_write_t  w;
    int           rc;

    memset(stats, 0, sizeof(*stats));
    if (fado_publisher_connect(pub, err, err_len) != 0) {
        return -1;
    }
    if (pub->epoch[0] == '\0') {
        rc = fado_publisher_epoch_ok(pub, conn, err, err_len);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            /* the republish that follows must see the caller's writes */
            if (fado_db_pipeline_run(conn, NULL, head, nhead) != 0) {
                snprintf(err, err_len, "the writes before a republish failed");
                return -1;
            }
            return 1;
        }
    }
    memset(&w, 0, sizeof(w));
    w.buckets = buckets;
    w.clusters = clusters;
    w.head = head;
    w.nhead = nhead;
    w.tail = tail;
    w.ntail = ntail;
    w.expect = pub->epoch;
    pub->epoch_lost = 0;
    rc = fado_publisher_write(pub, conn, &w, stats, err, err_len);
    if (rc != 0 && pub->epoch_lost) {
        fado_log(FADO_LOG_INFO, "msg=\"routes need a full republish\" reason=%s",
                 FADO_LOG_Q("epoch changed"));
        return 1;
    }
    return rc;
}

/* ------------------------------------------------------------ epoch */

static void
fado_publisher_epoch_key(const fado_publisher_t *pub, char *key, size_t size)
{
    snprintf(key, size, "redis_epoch:%s", pub->prefix);
}

void
fado_publisher_forget_epoch(fado_publisher_t *pub)
{
    pub->epoch[0] = '\0';
}

int
fado_publisher_epoch_ok(fado_publisher_t *pub, PGconn *conn, char *err, size_t err_len)
{
    char         ekey[96], skey[128], redis_epoch[128];
    const char  *argv[2] = { "GET", ekey };
    const char  *params[1] = { skey };
    redisReply  *r;
    int          ok;

    if (fado_publisher_connect(pub, err, err_len) != 0) {
        return -1;
    }
    snprintf(ekey, sizeof(ekey), "%sepoch", pub->prefix);
    r = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
    if (r == NULL) {
        return -1;
    }
    snprintf(redis_epoch, sizeof(redis_epoch), "%s",
             r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);

    /* Only the leader records the epoch: read once per leadership. */
    if (pub->epoch[0] == '\0') {
        PGresult  *res;

        fado_publisher_epoch_key(pub, skey, sizeof(skey));
        res = fado_db_query(conn, "SELECT value FROM controller_state WHERE key = $1",
                            1, params, err, err_len, NULL);
        if (res == NULL) {
            return -1;
        }
        if (PQntuples(res) > 0) {
            snprintf(pub->epoch, sizeof(pub->epoch), "%s", PQgetvalue(res, 0, 0));
        }
        PQclear(res);
    }
    ok = redis_epoch[0] != '\0' && strcmp(pub->epoch, redis_epoch) == 0;
    if (!ok) {
        fado_log(FADO_LOG_INFO, "msg=\"routes need a full republish\" reason=%s",
                 FADO_LOG_Q(redis_epoch[0] ? "epoch changed" : "epoch missing"));
    }
    return ok;
}

/* ------------------------------------------------------------ drift */

/* The body of a record of ours ("F1|F2 <v> body" / "C2 <v> body"), or a
 * value that matches no published body. */
static const char *
fado_publisher_body(const char *rec, fado_rec_kind_e kind)
{
    const char  *p;

    if (rec == NULL) {
        return NULL;
    }
    if (kind == FADO_REC_CLUSTER ? strncmp(rec, "C2 ", 3) != 0
                                 : strncmp(rec, "F1 ", 3) != 0 && strncmp(rec, "F2 ", 3) != 0)
    {
        return FADO_DRIFT "-foreign";
    }
    p = rec + 3;
    if (*p < '0' || *p > '9') {
        return FADO_DRIFT "-foreign";
    }
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    return *p == ' ' ? p + 1 : FADO_DRIFT "-foreign";
}

/*
 * Marks the names (a JSON array) drifted and dirty, or with unpublished set
 * only those nothing published (strays in Redis); adds how many to *found.
 */
static int
fado_drift_mark(PGconn *conn, json_t *names, int unpublished, size_t *found, char *err,
    size_t err_len)
{
    char        *js;
    const char  *p[2];
    PGresult    *res;

    if (json_array_size(names) == 0) {
        return 0;
    }
    js = json_dumps(names, JSON_COMPACT);
    if (js == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    p[0] = js;
    p[1] = unpublished ? "t" : "f";
    res = fado_db_query(conn,
        "WITH n AS (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS name),"
        " s AS (SELECT name FROM n WHERE NOT $2::boolean OR NOT EXISTS"
        "       (SELECT 1 FROM published_routes p WHERE p.bucket = n.name)),"
        " u AS (INSERT INTO published_routes (bucket, body, version)"
        "       SELECT name, '" FADO_DRIFT "', 0 FROM s"
        "       ON CONFLICT (bucket) DO UPDATE SET body = EXCLUDED.body)"
        " SELECT fado_mark_buckets(ARRAY(SELECT name FROM s), false),"
        "        (SELECT count(*) FROM s)", 2, p, err, err_len, NULL);
    free(js);
    if (res == NULL) {
        return -1;
    }
    *found += (size_t) atoll(PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/* Step 1: the cluster records (few) and the default route, whole. */
static int
fado_drift_clusters(fado_publisher_t *pub, PGconn *conn, size_t *found, char *err,
    size_t err_len)
{
    char          ckey[96], dkey[96];
    const char   *hv[2] = { "HGETALL", ckey }, *gv[2] = { "GET", dkey };
    redisReply   *h = NULL, *d = NULL;
    json_t       *clusters = json_object();
    char         *js = NULL;
    const char   *p[2];
    PGresult     *res = NULL;
    int           rc = -1;

    snprintf(ckey, sizeof(ckey), "%sclusters", pub->prefix);
    snprintf(dkey, sizeof(dkey), "%sdefault", pub->prefix);
    if (clusters == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    h = fado_publisher_cmd(pub, 2, hv, NULL, err, err_len);
    d = h ? fado_publisher_cmd(pub, 2, gv, NULL, err, err_len) : NULL;
    if (h == NULL || d == NULL) {
        goto done;
    }
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        if (json_object_set_new(clusters, h->element[i]->str,
                                json_string(fado_publisher_body(h->element[i + 1]->str,
                                                                FADO_REC_CLUSTER))) != 0)
        {
            /* not UTF-8: no cluster of ours has that name */
            snprintf(err, err_len, "redis holds a cluster record whose name is not UTF-8");
            goto done;
        }
    }
    js = json_dumps(clusters, JSON_COMPACT);
    if (js == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    p[0] = js;
    p[1] = d->type == REDIS_REPLY_STRING ? fado_publisher_body(d->str, FADO_REC_ROUTE) : NULL;
    /* What differs gets a body no encoder produces, so the next sync of
     * those names rewrites (or removes) each record. */
    res = fado_db_query(conn,
        "WITH rc AS (SELECT key, value FROM jsonb_each_text($1::jsonb)),"
        " bc AS (SELECT COALESCE(rc.key, p.cluster) AS name FROM rc"
        "        FULL JOIN published_clusters p ON p.cluster = rc.key"
        "        WHERE rc.value IS DISTINCT FROM p.body),"
        " uc AS (INSERT INTO published_clusters (cluster, body, version)"
        "        SELECT name, '" FADO_DRIFT "', 0 FROM bc"
        "        ON CONFLICT (cluster) DO UPDATE SET body = EXCLUDED.body),"
        " dr AS (SELECT ''::text AS name WHERE $2::text IS DISTINCT FROM"
        "        (SELECT body FROM published_routes WHERE bucket = '')),"
        " ur AS (INSERT INTO published_routes (bucket, body, version)"
        "        SELECT name, '" FADO_DRIFT "', 0 FROM dr"
        "        ON CONFLICT (bucket) DO UPDATE SET body = EXCLUDED.body)"
        " SELECT fado_mark_clusters(ARRAY(SELECT name FROM bc))"
        "        + fado_mark_buckets(ARRAY(SELECT name FROM dr), false),"
        "        (SELECT count(*) FROM bc) + (SELECT count(*) FROM dr)",
        2, p, err, err_len, NULL);
    if (res == NULL) {
        goto done;
    }
    *found += (size_t) atoll(PQgetvalue(res, 0, 1));
    rc = 0;

done:
    if (res != NULL) {
        PQclear(res);
    }
    if (h != NULL) {
        freeReplyObject(h);
    }
    if (d != NULL) {
        freeReplyObject(d);
    }
    json_decref(clusters);
    free(js);
    return rc;
}

/* Step 2, by chunks of the published routes: each against Redis (HMGET). */
static int
fado_drift_known(fado_publisher_t *pub, PGconn *conn, fado_drift_cursor_t *cur,
    size_t *found, char *err, size_t err_len)
{
    const char   *p[1] = { cur->after };
    const char  **argv = NULL;
    char          rkey[96];
    PGresult     *rows;
    redisReply   *r = NULL;
    json_t       *drifted = json_array();
    int           n, rc = -1;

    rows = fado_db_query(conn,
        "SELECT bucket, body FROM published_routes WHERE bucket > $1"
        " ORDER BY bucket LIMIT " FADO_STR(FADO_DRIFT_CHUNK), 1, p, err, err_len, NULL);
    if (rows == NULL) {
        json_decref(drifted);
        return -1;
    }
    n = PQntuples(rows);
    if (n == 0) {
        cur->phase++;
        rc = 0;
        goto done;
    }
    argv = calloc((size_t) n + 2, sizeof(char *));
    if (argv == NULL || drifted == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    snprintf(rkey, sizeof(rkey), "%sroutes", pub->prefix);
    argv[0] = "HMGET";
    argv[1] = rkey;
    for (int i = 0; i < n; i++) {
        argv[i + 2] = PQgetvalue(rows, i, 0);
    }
    r = fado_publisher_cmd(pub, n + 2, argv, NULL, err, err_len);
    if (r == NULL) {
        goto done;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t) n) {
        snprintf(err, err_len, "redis: unexpected HMGET reply");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const char  *have = r->element[i]->type == REDIS_REPLY_STRING
                            ? fado_publisher_body(r->element[i]->str, FADO_REC_ROUTE) : NULL;

        if ((have == NULL || strcmp(have, PQgetvalue(rows, i, 1)) != 0)
            && json_array_append_new(drifted, json_string(PQgetvalue(rows, i, 0))) != 0)
        {
            snprintf(err, err_len, "out of memory");
            goto done;
        }
    }
    if (fado_drift_mark(conn, drifted, 0, found, err, err_len) != 0) {
        goto done;
    }
    cur->known_drifted += json_array_size(drifted);
    snprintf(cur->after, sizeof(cur->after), "%s", PQgetvalue(rows, n - 1, 0));
    if (n < FADO_DRIFT_CHUNK) {
        cur->phase++;
    }
    rc = 0;

done:
    if (r != NULL) {
        freeReplyObject(r);
    }
    free(argv);
    json_decref(drifted);
    PQclear(rows);
    return rc;
}

/*
 * Whether Redis can hold a route nothing published. Every published route
 * was found in Redis as published (step 2 found none different or
 * missing): then Redis holds at least those names, and if it holds no more
 * of them than there are, it holds nothing else. Only the leader writes
 * both, so between its steps they move together; anyone else's write
 * changes the count. Saves scanning 100k names when nothing is wrong.
 */
static int
fado_drift_need_strays(fado_publisher_t *pub, PGconn *conn, const fado_drift_cursor_t *cur,
    int *need, char *err, size_t err_len)
{
    char          rkey[96];
    const char   *argv[2] = { "HLEN", rkey };
    PGresult     *res;
    redisReply   *r;
    long long     published;

    *need = 1;
    if (cur->known_drifted > 0) {
        return 0;
    }
    res = fado_db_query(conn, "SELECT count(*) FROM published_routes WHERE bucket <> ''",
                        0, NULL, err, err_len, NULL);
    if (res == NULL) {
        return -1;
    }
    published = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(rkey, sizeof(rkey), "%sroutes", pub->prefix);
    r = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
    if (r == NULL) {
        return -1;
    }
    *need = r->type != REDIS_REPLY_INTEGER || r->integer != published;
    fado_log(FADO_LOG_DEBUG, "msg=\"drift: stray scan\" needed=%d published=%lld redis=%lld",
             *need, published, r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL);
    freeReplyObject(r);
    return 0;
}

/* Step 3, by HSCAN of Redis's routes: names nothing published (strays). */
static int
fado_drift_strays(fado_publisher_t *pub, PGconn *conn, fado_drift_cursor_t *cur,
    size_t *found, char *err, size_t err_len)
{
    char          rkey[96], scan[32];
    const char   *argv[6] = { "HSCAN", rkey, scan, "COUNT", FADO_STR(FADO_DRIFT_CHUNK), NULL };
    redisReply   *r, *keys;
    json_t       *names = json_array();
    int           rc = -1;

    snprintf(rkey, sizeof(rkey), "%sroutes", pub->prefix);
    snprintf(scan, sizeof(scan), "%llu", cur->scan);
    r = fado_publisher_cmd(pub, 5, argv, NULL, err, err_len);
    if (r == NULL || names == NULL) {
        json_decref(names);
        if (r != NULL) {
            freeReplyObject(r);
        }
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_ARRAY)
    {
        snprintf(err, err_len, "redis: unexpected HSCAN reply");
        goto done;
    }
    cur->scan = strtoull(r->element[0]->str, NULL, 10);
    keys = r->element[1];
    for (size_t i = 0; i + 1 < keys->elements; i += 2) {
        json_t  *name = json_string(keys->element[i]->str);

        /* A name that is not UTF-8 is no bucket of ours: it cannot be
         * marked in SQL, so it is left to the next republish. */
        if (name != NULL && json_array_append_new(names, name) != 0) {
            snprintf(err, err_len, "out of memory");
            goto done;
        }
    }
    if (fado_drift_mark(conn, names, 1, found, err, err_len) != 0) {
        goto done;
    }
    if (cur->scan == 0) {
        cur->phase++;
    }
    rc = 0;

done:
    json_decref(names);
    freeReplyObject(r);
    return rc;
}

int
fado_publisher_drift_step(fado_publisher_t *pub, PGconn *conn, fado_drift_cursor_t *cur,
    size_t *found, char *err, size_t err_len)
{
    int  rc;

    if (fado_publisher_connect(pub, err, err_len) != 0) {
        return -1;
    }
    switch (cur->phase) {
    case 0:
        rc = fado_drift_clusters(pub, conn, found, err, err_len);
        cur->phase = 1;
        cur->after[0] = '\0';
        break;
    case 1: {
        int  need = 1;

        rc = fado_drift_known(pub, conn, cur, found, err, err_len);
        cur->scan = 0;
        if (rc == 0 && cur->phase == 2) {
            rc = fado_drift_need_strays(pub, conn, cur, &need, err, err_len);
            if (!need) {
                cur->phase = 3;
            }
        }
        break;
    }
    case 2:
        rc = fado_drift_strays(pub, conn, cur, found, err, err_len);
        break;
    default:
        return 0;
    }
    if (rc != 0) {
        return -1;
    }
    return cur->phase <= 2;
}

int
fado_publisher_drift(fado_publisher_t *pub, PGconn *conn, size_t *found, char *err,
    size_t err_len)
{
    fado_drift_cursor_t  cur;
    int                  rc;

    memset(&cur, 0, sizeof(cur));
    *found = 0;
    while ((rc = fado_publisher_drift_step(pub, conn, &cur, found, err, err_len)) == 1) {
        /* next step */
    }
    return rc;
}

/* ------------------------------------------------------------ republish */

static void
fado_stats_add(fado_publish_stats_t *to, const fado_publish_stats_t *part)
{
    to->set += part->set;
    to->deleted += part->deleted;
    if (part->version != 0) {
        to->version = part->version;
    }
}

/*
 * Removes what Redis holds of one kind that the republish did not write:
 * records of buckets or clusters gone while Redis was away, or written by
 * someone else. Names only (HKEYS), compared with what was queued.
 */
static int
fado_publisher_strays(fado_publisher_t *pub, PGconn *conn, fado_write_t *w,
    fado_publish_stats_t *stats, char *err, size_t err_len)
{
    static const char *const  hashes[2] = { "routes", "clusters" };
    static const char *const  ops[2] = { "del", "cdel" };
    const fado_rec_kind_e     kinds[2] = { FADO_REC_ROUTE, FADO_REC_CLUSTER };
    redisReply               *keys[2] = { NULL, NULL }, *def = NULL;
    fado_publish_stats_t      part;
    fado_batch_t              b;
    char                      key[128];
    int                       rc = -1;

    memset(&part, 0, sizeof(part));
    if (fado_batch_init(&b, pub, &part) != 0) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    fado_batch_start(&b, pub);
    for (int k = 0; k < 2; k++) {
        const char  *argv[2] = { "HKEYS", key };

        snprintf(key, sizeof(key), "%s%s", pub->prefix, hashes[k]);
        keys[k] = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
        if (keys[k] == NULL) {
            goto done;
        }
        for (size_t i = 0; keys[k]->type == REDIS_REPLY_ARRAY && i < keys[k]->elements; i++) {
            const char  *name = keys[k]->element[i]->str;

            if (name != NULL && json_object_get(w->seen[kinds[k]], name) == NULL
                && fado_batch_add(&b, pub, ops[k], name, "", kinds[k], 1, err, err_len) != 0)
            {
                goto done;
            }
        }
    }
    if (json_object_get(w->seen[FADO_REC_ROUTE], "") == NULL) {
        const char  *argv[2] = { "EXISTS", key };

        snprintf(key, sizeof(key), "%sdefault", pub->prefix);
        def = fado_publisher_cmd(pub, 2, argv, NULL, err, err_len);
        if (def == NULL) {
            goto done;
        }
        if (def->type == REDIS_REPLY_INTEGER && def->integer == 1
            && fado_batch_add(&b, pub, "nodefault", "", "", FADO_REC_ROUTE, 1,
                              err, err_len) != 0)
        {
            goto done;
        }
    }
    if (fado_batch_flush(&b, pub, err, err_len) != 0
        || fado_publisher_record(conn, &b, NULL, 0, err, err_len) != 0)
    {
        goto done;
    }
    fado_stats_add(stats, &part);
    rc = 0;

done:
    fado_batch_free(&b);
    for (int k = 0; k < 2; k++) {
        if (keys[k] != NULL) {
            freeReplyObject(keys[k]);
        }
    }
    if (def != NULL) {
        freeReplyObject(def);
    }
    return rc;
}

/*
 * Every record again, then a reset with a new epoch: gateways resync from a
 * table that is complete. What was published is forgotten first, so every
 * record is written; buckets go by their index in chunks; then what Redis
 * holds that nothing wrote is removed. The epoch is recorded last: a
 * republish cut short is started again.
 */
int
fado_publisher_republish(fado_publisher_t *pub, PGconn *conn,
    fado_publish_stats_t *stats, char *err, size_t err_len)
{
    fado_publish_stats_t  part;
    fado_write_t          w;
    unsigned char         raw[16];
    char                  epoch[33], skey[128], after[64] = "";
    const char           *sp[2] = { skey, epoch };
    PGresult             *res;
    int                   rc = -1;

    memset(stats, 0, sizeof(*stats));
    memset(&w, 0, sizeof(w));
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        snprintf(err, err_len, "no randomness for the epoch");
        return -1;
    }
    fst_hex_encode(raw, sizeof(raw), epoch);
    if (fado_publisher_connect(pub, err, err_len) != 0) {
        return -1;
    }
    w.seen[FADO_REC_ROUTE] = json_object();
    w.seen[FADO_REC_CLUSTER] = json_object();
    if (w.seen[FADO_REC_ROUTE] == NULL || w.seen[FADO_REC_CLUSTER] == NULL) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    res = fado_db_query(conn,
        "WITH a AS (DELETE FROM published_routes), s AS (DELETE FROM published_settings)"
        " DELETE FROM published_clusters",
        0, NULL, err, err_len, NULL);
    if (res == NULL) {
        goto done;
    }
    PQclear(res);

    /* Clusters (and the default route) first, then the buckets. */
    w.clusters = fado_db_names(conn, "SELECT name FROM clusters", 0, NULL, err, err_len);
    if (w.clusters == NULL || fado_publisher_write(pub, conn, &w, &part, err, err_len) != 0) {
        goto done;
    }
    fado_stats_add(stats, &part);
    json_decref(w.clusters);
    w.clusters = NULL;
    for (;;) {
        w.after = after;
        if (fado_publisher_write(pub, conn, &w, &part, err, err_len) != 0) {
            goto done;
        }
        fado_stats_add(stats, &part);
        if (w.rows < FADO_PUBLISH_CHUNK) {
            break;
        }
        snprintf(after, sizeof(after), "%s", w.last);
    }
    w.after = NULL;
    if (fado_publisher_strays(pub, conn, &w, stats, err, err_len) != 0) {
        goto done;
    }

    w.reset_epoch = epoch;
    if (fado_publisher_write(pub, conn, &w, &part, err, err_len) != 0) {
        goto done;
    }
    fado_stats_add(stats, &part);
    fado_publisher_epoch_key(pub, skey, sizeof(skey));
    res = fado_db_query(conn,
        "INSERT INTO controller_state (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", 2, sp, err, err_len, NULL);
    if (res == NULL) {
        goto done;
    }
    PQclear(res);
    snprintf(pub->epoch, sizeof(pub->epoch), "%s", epoch);
    stats->full = 1;
    fado_log(FADO_LOG_INFO, "msg=\"routes republished\" set=%zu deleted=%zu version=%lld",
             stats->set, stats->deleted, stats->version);
    rc = 0;

done:
    json_decref(w.clusters);
    json_decref(w.seen[FADO_REC_ROUTE]);
    json_decref(w.seen[FADO_REC_CLUSTER]);
    return rc;
}
