/*
 * fado_events: the webhook MinIO sends bucket notifications to.
 *
 *   POST /v1/minio/events[/{cluster}]   Authorization: Bearer <FADO_EVENTS_TOKEN>
 *
 * The cluster is the path's last segment or, without one, the cluster whose
 * storage endpoint is the event's x-minio-origin-endpoint. Every record is
 * validated before anything is applied, and all of a request's records are
 * applied in one transaction: a malformed payload is refused (400) and
 * changes nothing. Events are hints: they keep the object index current and
 * make readiness checks happen at once; the workers' listings remain the
 * truth. This file is the domain side; fado_api_events.c answers HTTP.
 */

#include "fado_events.h"
#include "fado_jobs.h"
#include "fado_log.h"
#include "fado_valid.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FADO_EVENTS_MAX_RECORDS  1000

typedef enum {
    FADO_EV_CREATED,
    FADO_EV_REMOVED,            /* a version deleted (or an unversioned delete) */
    FADO_EV_DELETE_MARKER,      /* the latest version is now a delete marker */
    FADO_EV_REPLICATION,        /* s3:Replication:* on the source */
    FADO_EV_OTHER
} fado_event_kind_e;

typedef struct {
    fado_event_kind_e   kind;
    const char         *name;
    const char         *bucket;
    char               *key;            /* decoded, owned */
    const char         *version_id;
    const char         *etag;
    const char         *content_type;
    const char         *event_time;
    const char         *replication;    /* X-Amz-Replication-Status, or "" */
    json_int_t          size;
} fado_event_t;

static atomic_ulong  fado_events_received;
static atomic_ulong  fado_events_rejected;

void
fado_events_counters(unsigned long *received, unsigned long *rejected)
{
    *received = atomic_load(&fado_events_received);
    *rejected = atomic_load(&fado_events_rejected);
}

int
fado_events_authorized(const char *expected, const char *authorization)
{
    size_t          n, m;
    unsigned char   diff = 0;

    if (expected == NULL || authorization == NULL
        || strncmp(authorization, "Bearer ", 7) != 0)
    {
        return 0;
    }
    authorization += 7;
    n = strlen(expected);
    m = strlen(authorization);
    /* Constant time in the secret's content. */
    for (size_t i = 0; i < n; i++) {
        diff |= (unsigned char) expected[i] ^ (unsigned char) (i < m ? authorization[i] : 0);
    }
    return diff == 0 && n == m;
}

/* url.QueryEscape's inverse: %XX and '+' for space. -1 on a bad escape. */
static int
fado_events_unescape(const char *in, char **out)
{
    size_t  len = strlen(in);
    char   *o = malloc(len + 1), *p = o;

    if (o == NULL) {
        return -1;
    }
    for (const char *s = in; *s; s++) {
        if (*s == '+') {
            *p++ = ' ';
        } else if (*s == '%') {
            if (!isxdigit((unsigned char) s[1]) || !isxdigit((unsigned char) s[2])) {
                free(o);
                return -1;
            }
            char  hex[3] = { s[1], s[2], '\0' };
            *p++ = (char) strtol(hex, NULL, 16);
            s += 2;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    if (strlen(o) != (size_t) (p - o) || p == o) {
        free(o);            /* an encoded NUL, or an empty key */
        return -1;
    }
    *out = o;
    return 0;
}

static const char *
fado_events_opt_str(json_t *obj, const char *key, int *bad)
{
    json_t  *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        return "";
    }
    if (!json_is_string(v)) {
        *bad = 1;
        return "";
    }
    return json_string_value(v);
}

/* Parse record i; on error, err names the field. */
static int
fado_events_parse(json_t *rec, size_t i, fado_event_t *ev, fado_err_t *err)
{
    json_t      *s3, *bucket, *object, *v;
    const char  *key;
    int          bad = 0;

    memset(ev, 0, sizeof(*ev));
#define FADO_EV_FAIL(field, what)                                                 \
    do {                                                                          \
        char  f[96];                                                              \
        snprintf(f, sizeof(f), "Records[%zu].%s", i, field);                      \
        fado_err_set(err, FADO_ERR_INVALID, "invalid_event", f, "%s: %s", f, what); \
        return -1;                                                                \
    } while (0)

    if (!json_is_object(rec)) {
        FADO_EV_FAIL("", "must be an object");
    }
    v = json_object_get(rec, "eventName");
    if (!json_is_string(v)) {
        FADO_EV_FAIL("eventName", "must be a string");
    }
    ev->name = json_string_value(v);
    s3 = json_object_get(rec, "s3");
    if (!json_is_object(s3)) {
        FADO_EV_FAIL("s3", "must be an object");
    }
    bucket = json_object_get(s3, "bucket");
    v = json_is_object(bucket) ? json_object_get(bucket, "name") : NULL;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        FADO_EV_FAIL("s3.bucket.name", "must be a non-empty string");
    }
    ev->bucket = json_string_value(v);
    object = json_object_get(s3, "object");
    if (!json_is_object(object)) {
        FADO_EV_FAIL("s3.object", "must be an object");
    }
    v = json_object_get(object, "key");
    if (!json_is_string(v)) {
        FADO_EV_FAIL("s3.object.key", "must be a string");
    }
    key = json_string_value(v);
    v = json_object_get(object, "size");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            FADO_EV_FAIL("s3.object.size", "must be a non-negative integer");
        }
        ev->size = json_integer_value(v);
    }
    ev->version_id = fado_events_opt_str(object, "versionId", &bad);
    if (bad) {
        FADO_EV_FAIL("s3.object.versionId", "must be a string");
    }
    ev->etag = fado_events_opt_str(object, "eTag", &bad);
    if (bad) {
        FADO_EV_FAIL("s3.object.eTag", "must be a string");
    }
    ev->content_type = fado_events_opt_str(object, "contentType", &bad);
    if (bad) {
        FADO_EV_FAIL("s3.object.contentType", "must be a string");
    }
    v = json_object_get(object, "userMetadata");
    ev->replication = json_is_object(v)
                      ? fado_events_opt_str(v, "X-Amz-Replication-Status", &bad) : "";
    if (bad) {
        FADO_EV_FAIL("s3.object.userMetadata.X-Amz-Replication-Status", "must be a string");
    }
    ev->event_time = fado_events_opt_str(rec, "eventTime", &bad);
    if (bad) {
        FADO_EV_FAIL("eventTime", "must be a string");
    }
    /* A time PostgreSQL would refuse makes the record fail on every
     * delivery: refused here, MinIO drops it instead of retrying for ever. */
    if (ev->event_time[0] != '\0' && !fado_valid_rfc3339(ev->event_time)) {
        FADO_EV_FAIL("eventTime", "must be an RFC 3339 time with fields in range");
    }
    if (strlen(key) > 4096 || fado_events_unescape(key, &ev->key) != 0) {
        FADO_EV_FAIL("s3.object.key", "must be a URL-encoded, non-empty key");
    }
    if (!fado_valid_utf8(ev->key, strlen(ev->key))) {
        FADO_EV_FAIL("s3.object.key", "must decode to UTF-8");
    }
#undef FADO_EV_FAIL

    if (strncmp(ev->name, "s3:ObjectCreated:", 17) == 0) {
        ev->kind = FADO_EV_CREATED;
    } else if (strcmp(ev->name, "s3:ObjectRemoved:DeleteMarkerCreated") == 0) {
        ev->kind = FADO_EV_DELETE_MARKER;
    } else if (strncmp(ev->name, "s3:ObjectRemoved:", 17) == 0) {
        ev->kind = FADO_EV_REMOVED;
    } else if (strncmp(ev->name, "s3:Replication:", 15) == 0) {
        ev->kind = FADO_EV_REPLICATION;
    } else {
        ev->kind = FADO_EV_OTHER;
    }
    return 0;
}

static void
fado_events_retry(fado_err_t *err)
{
    fado_err_set(err, FADO_ERR_UNAVAILABLE, "database_unavailable", NULL,
                 "events could not be recorded; MinIO will retry");
}

static int
fado_events_sql(PGconn *conn, fado_err_t *err, const char *sql, int n, const char *const *p,
    PGresult **out)
{
    fado_db_err_t  e;
    PGresult      *res = fado_db_exec(conn, &e, sql, n, p);

    if (res == NULL) {
        fado_log(FADO_LOG_WARN, "msg=\"event not applied\" sqlstate=%s error=%s",
                 FADO_LOG_Q(e.sqlstate), FADO_LOG_Q(e.message));
        if (e.status != FADO_DB_UNAVAILABLE && e.status != FADO_DB_FAILED) {
            /* A data or constraint error fails again on every retry: the
             * batch is refused (MinIO does not retry a 4xx). */
            fado_err_set(err, FADO_ERR_INVALID, "invalid_event", "Records",
                         "a record can never be applied: %s", e.message);
        } else {
            fado_events_retry(err);
        }
        return -1;
    }
    if (out != NULL) {
        *out = res;
    } else {
        PQclear(res);
    }
    return 0;
}

/* Apply one event seen on cluster; *applied is 1 if it changed the index or
 * hurried a job, 0 if it was not about a fado bucket on that cluster. */
static int
fado_events_apply(PGconn *conn, const char *cluster, const fado_event_t *ev,
    int *applied, int *hurried, fado_err_t *err)
{
    const char  *p[2] = { ev->bucket, cluster };
    PGresult    *res;
    int          is_home;

    *applied = 0;
    if (fado_events_sql(conn, err,
            "SELECT b.home_cluster = $2 FROM buckets b JOIN replicas r"
            "    ON r.bucket = b.name AND r.cluster = $2 WHERE b.name = $1", 2, p, &res) != 0)
    {
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;                   /* not a bucket fado places there */
    }
    is_home = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    if (ev->kind == FADO_EV_CREATED && is_home) {
        const char  *q[8] = { ev->bucket, ev->key, ev->version_id, NULL, ev->etag,
                              ev->content_type, ev->event_time[0] ? ev->event_time : NULL,
                              cluster };
        char         size[24];

        snprintf(size, sizeof(size), "%lld", (long long) ev->size);
        q[3] = size;
        /* A late event for an older version does not replace a newer one. */
        if (fado_events_sql(conn, err,
                "INSERT INTO objects AS o (bucket, key, version_id, size, etag, content_type,"
                "                          last_modified, locations)"
                " VALUES ($1, $2, $3, $4::bigint, $5, $6, coalesce($7::timestamptz, now()),"
                "         ARRAY[$8])"
                " ON CONFLICT (bucket, key) DO UPDATE SET"
                "   version_id = EXCLUDED.version_id, size = EXCLUDED.size,"
                "   etag = EXCLUDED.etag, content_type = EXCLUDED.content_type,"
                "   last_modified = EXCLUDED.last_modified,"
                "   locations = CASE WHEN o.version_id = EXCLUDED.version_id"
                "               THEN o.locations ELSE EXCLUDED.locations END,"
                "   updated_at = clock_timestamp()"
                " WHERE o.last_modified IS NULL OR o.last_modified <= EXCLUDED.last_modified",
                8, q, NULL) != 0)
        {
            return -1;
        }
        *applied = 1;
        return 0;
    }
    if (ev->kind == FADO_EV_CREATED) {
        const char  *q[4] = { ev->bucket, ev->key, ev->version_id, cluster };

        /* Replication wrote the version here: one more location, and the
         * replica's readiness is worth checking now. */
        if (fado_events_sql(conn, err,
                "UPDATE objects SET locations = array_append(locations, $4),"
                " updated_at = clock_timestamp()"
                " WHERE bucket = $1 AND key = $2 AND version_id = $3"
                "   AND NOT ($4 = ANY (locations))", 4, q, NULL) != 0
            )
        {
            return -1;
        }
        if (fado_jobs_hurry(conn, ev->bucket, cluster) != 0) {
            fado_events_retry(err);
            return -1;
        }
        *applied = 1;
        *hurried = 1;
        return 0;
    }
    if ((ev->kind == FADO_EV_REMOVED || ev->kind == FADO_EV_DELETE_MARKER) && is_home) {
        const char  *q[3] = { ev->bucket, ev->key, ev->version_id };

        /* The latest version is gone: the row goes. When a specific version
         * was deleted, an older one may be the latest again; a scan finds it. */
        if (fado_events_sql(conn, err,
                "DELETE FROM objects WHERE bucket = $1 AND key = $2"
                " AND ($3 = '' OR version_id = $3 OR version_id = '')", 3, q, NULL) != 0)
        {
            return -1;
        }
        if (ev->kind == FADO_EV_REMOVED && ev->version_id[0] != '\0'
            && fado_events_sql(conn, err,
                "INSERT INTO jobs (kind, bucket) VALUES ('scan', $1)"
                " ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now()"
                " WHERE jobs.state = 'queued'", 1, q, NULL) != 0)
        {
            return -1;
        }
        *applied = 1;
        *hurried = 1;
        return 0;
    }
    if (ev->kind == FADO_EV_REMOVED) {
        const char  *q[4] = { ev->bucket, ev->key, ev->version_id, cluster };

        if (fado_events_sql(conn, err,
                "UPDATE objects SET locations = array_remove(locations, $4),"
                " updated_at = clock_timestamp()"
                " WHERE bucket = $1 AND key = $2 AND ($3 = '' OR version_id = $3)", 4, q,
                NULL) != 0)
        {
            return -1;
        }
        *applied = 1;
        return 0;
    }
    if (ev->kind == FADO_EV_REPLICATION && is_home) {
        const char  *q[3] = { ev->bucket, ev->key, ev->version_id };

        /* MinIO sends one completion per version, when every target holds
         * it (the aggregate status is COMPLETED): the version is then on
         * each replica replication runs towards. */
        if (strcmp(ev->replication, "COMPLETED") == 0
            && fado_events_sql(conn, err,
                "UPDATE objects o SET updated_at = clock_timestamp(),"
                " locations = ARRAY(SELECT DISTINCT c FROM unnest(o.locations || ARRAY("
                "     SELECT r.cluster FROM replicas r WHERE r.bucket = $1"
                "        AND r.state IN ('ready', 'syncing'))) AS c ORDER BY c)"
                " WHERE o.bucket = $1 AND o.key = $2 AND o.version_id = $3", 3, q, NULL) != 0)
        {
            return -1;
        }
        if (fado_jobs_hurry(conn, ev->bucket, NULL) != 0) {
            fado_events_retry(err);
            return -1;
        }
        *applied = 1;
        *hurried = 1;
    }
    return 0;
}

/* The cluster an event came from, by its origin endpoint. */
static int
fado_events_origin(PGconn *conn, json_t *rec, char *cluster, size_t size, fado_err_t *err)
{
    json_t      *resp = json_object_get(rec, "responseElements");
    json_t      *v = json_is_object(resp)
                     ? json_object_get(resp, "x-minio-origin-endpoint") : NULL;
    const char  *p[1];
    PGresult    *res;

    cluster[0] = '\0';
    if (!json_is_string(v)) {
        return 0;
    }
    p[0] = json_string_value(v);
    if (fado_events_sql(conn, err,
            "SELECT name FROM clusters WHERE rtrim(storage_endpoint, '/') = rtrim($1, '/')"
            " ORDER BY name LIMIT 1", 1, p, &res) != 0)
    {
        return -1;
    }
    if (PQntuples(res) > 0) {
        snprintf(cluster, size, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return 0;
}

int
fado_events_ingest(PGconn *conn, const char *body, size_t len, const char *path_cluster,
    fado_events_result_t *out, fado_err_t *err)
{
    json_error_t   e;
    json_t        *doc, *records;
    fado_event_t  *events = NULL;
    size_t         n = 0;
    int            rc = -1;
    char           cluster[64];

    memset(out, 0, sizeof(*out));
    atomic_fetch_add(&fado_events_received, 1);
    doc = json_loadb(body, len, 0, &e);
    if (doc == NULL || !json_is_object(doc)) {
        fado_err_set(err, FADO_ERR_INVALID, "invalid_json", NULL,
                     "event body is not a JSON object%s%s",
                     doc == NULL ? ": " : "", doc == NULL ? e.text : "");
        goto rejected;
    }
    records = json_object_get(doc, "Records");
    if (!json_is_array(records) || json_array_size(records) == 0
        || json_array_size(records) > FADO_EVENTS_MAX_RECORDS)
    {
        fado_err_set(err, FADO_ERR_INVALID, "invalid_event", "Records",
                     "Records must be an array of 1 to %d events", FADO_EVENTS_MAX_RECORDS);
        goto rejected;
    }
    n = json_array_size(records);
    events = calloc(n, sizeof(*events));
    if (events == NULL) {
        fado_err_set(err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (fado_events_parse(json_array_get(records, i), i, &events[i], err) != 0) {
            goto rejected;
        }
    }

    if (path_cluster[0] != '\0' && !fado_valid_name(path_cluster)) {
        fado_err_set(err, FADO_ERR_INVALID, "invalid_field", "cluster",
                     "the path's cluster is not a cluster name");
        goto rejected;
    }
    if (path_cluster[0] != '\0') {
        const char  *p[1] = { path_cluster };
        PGresult    *res;

        if (fado_events_sql(conn, err, "SELECT 1 FROM clusters WHERE name = $1", 1, p,
                            &res) != 0)
        {
            goto done;
        }
        if (PQntuples(res) == 0) {
            /* MinIO would retry a 4xx forever; the event is just not ours. */
            fado_log(FADO_LOG_WARN, "msg=\"events for an unknown cluster\" cluster=%s",
                     FADO_LOG_Q(path_cluster));
        }
        PQclear(res);
    }

    if (fado_db_begin(conn, NULL) != 0) {
        fado_events_retry(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int  one = 0;

        if (path_cluster[0] != '\0') {
            snprintf(cluster, sizeof(cluster), "%s", path_cluster);
        } else if (fado_events_origin(conn, json_array_get(records, i), cluster,
                                      sizeof(cluster), err) != 0)
        {
            goto rollback;
        }
        if (cluster[0] != '\0'
            && fado_events_apply(conn, cluster, &events[i], &one, &out->hurried, err) != 0)
        {
            goto rollback;
        }
        fado_log(FADO_LOG_DEBUG, "msg=event name=%s bucket=%s cluster=%s applied=%d",
                 FADO_LOG_Q(events[i].name), FADO_LOG_Q(events[i].bucket),
                 FADO_LOG_Q(cluster[0] ? cluster : "-"), one);
        out->applied += (size_t) one;
        out->ignored += (size_t) !one;
    }
    if (fado_db_end(conn, 1, NULL) != 0) {
        fado_events_retry(err);
        goto done;
    }
    rc = 0;
    goto done;

rollback:
    (void) fado_db_end(conn, 0, NULL);
    if (err->kind != FADO_ERR_INVALID) {
        goto done;
    }
rejected:
    atomic_fetch_add(&fado_events_rejected, 1);
    fado_log(FADO_LOG_WARN, "msg=\"event rejected\" status=400 field=%s",
             FADO_LOG_Q(err->field[0] ? err->field : NULL));
done:
    for (size_t i = 0; i < n && events != NULL; i++) {
        free(events[i].key);
    }
    free(events);
    json_decref(doc);
    return rc;
}
