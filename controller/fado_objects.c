/*
 * fado_objects: the unified object API over the clusters' MinIO, as
 * domain calls (fado_objects.h); fado_api_objects.c answers for them.
 */

#include "fado_objects.h"
#include "fado_log.h"
#include "fado_valid.h"
#include "fst_replication.h"
#include "fst_s3_client.h"
#include "fst_stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cluster's object store, with its strings owned. */
typedef struct {
    char                 name[64];
    char                 zone[64];
    char                 endpoint[512];
    char                 access_key[256];
    char                 secret_key[256];
    int                  is_home;
    fst_site_t           site;
} fado_obj_site_t;

struct fado_obj_upload_s {
    fst_stream_t           *stream;
    fado_obj_site_t         home;
    char                    bucket[64];
    char                   *key;
    char                    content_type[128];
    int                     failed;
};

struct fado_obj_download_s {
    fst_stream_t           *stream;     /* NULL for HEAD */
    fst_s3_object_info_t    info;
    char                    cluster[64];
};

/* ------------------------------------------------------------ helpers */

int
fado_objects_valid(const char *bucket, const char *key, fado_err_t *err)
{
    const char  *why;

    if (!fado_valid_bucket(bucket)) {
        fado_err_set(err, FADO_ERR_INVALID, "invalid_field", "bucket",
                     "bucket names are 3-63 characters of a-z, 0-9, '.', '-' (S3 rules)");
        return -1;
    }
    if (key != NULL && key[0] != '\0' && (why = fado_valid_key(key)) != NULL) {
        fado_err_set(err, FADO_ERR_INVALID, "invalid_key", "key", "%s", why);
        return -1;
    }
    return 0;
}

static void
fado_obj_err_init(fado_obj_err_t *e)
{
    memset(e, 0, sizeof(*e));
}

/* A connection for the SQL of one call: PostgreSQL is never held while
 * MinIO is asked (a stuck MinIO must not hold the connections the JSON
 * API needs), so each call takes one from the pool and gives it back. */
static PGconn *
fado_obj_acquire(fado_db_t *db, fado_obj_err_t *e)
{
    PGconn  *conn = fado_db_acquire(db);

    if (conn == NULL) {
        fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "database_unavailable", NULL,
                     "PostgreSQL is unreachable; routes already published keep working");
    }
    return conn;
}

/* curl's texts for its timeouts, when the failure came from a stream's own
 * thread (fst_s3_timed_out() answers for the calling thread only). */
static int
fado_obj_timeout_text(const char *err)
{
    return strstr(err, "timed out") != NULL || strstr(err, "too slow") != NULL;
}

/* A stuck MinIO, named. */
static void
fado_obj_timeout(fado_obj_err_t *e, const char *cluster, const char *err)
{
    e->store = FADO_OBJ_STORE_TIMEOUT;
    fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "storage_timeout", NULL,
                 "cluster \"%s\" did not answer in time: %s", cluster, err);
}

static void
fado_obj_site_fill(fado_obj_site_t *s, PGresult *res, int row)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, row, 0));
    snprintf(s->zone, sizeof(s->zone), "%s", PQgetvalue(res, row, 1));
    snprintf(s->endpoint, sizeof(s->endpoint), "%s", PQgetvalue(res, row, 2));
    snprintf(s->access_key, sizeof(s->access_key), "%s", PQgetvalue(res, row, 3));
    snprintf(s->secret_key, sizeof(s->secret_key), "%s", PQgetvalue(res, row, 4));
    s->is_home = PQgetvalue(res, row, 5)[0] == 't';
    s->site.cluster = s->name;
    s->site.endpoint = s->endpoint;
    s->site.access_key = s->access_key;
    s->site.secret_key = s->secret_key;
}

static PGresult *
fado_obj_query(PGconn *conn, const char *sql, int n, const char *const *p, fado_obj_err_t *e)
{
    PGresult  *res = fado_db_exec(conn, NULL, sql, n, p);      /* logs a failure */

    if (res == NULL) {
        fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "database_unavailable", NULL,
                     "PostgreSQL query failed");
    }
    return res;
}

/*
 * The sites of a bucket an operation may use, best first: ready replicas on
 * healthy clusters, those in the preferred zone first, then the home, then
 * by name, and a home marked down last (its store may still answer when
 * only its functions are down); want_home: only the home (writes). Returns
 * how many, or -1 with e (not_found for an unknown bucket, bucket_not_ready).
 */
static int
fado_obj_sites(PGconn *conn, const char *bucket, const char *zone, int want_home,
    fado_obj_site_t *sites, int max, fado_obj_err_t *e)
{
    const char  *p[3] = { bucket, zone ? zone : "", want_home ? "t" : "f" };
    PGresult    *res;
    int          n;

    res = fado_obj_query(conn,
        "SELECT c.name, c.zone, c.storage_endpoint, c.storage_access_key,"
        "       c.storage_secret_key, c.name = b.home_cluster"
        "  FROM buckets b JOIN replicas r ON r.bucket = b.name"
        "  JOIN clusters c ON c.name = r.cluster"
        " WHERE b.name = $1 AND r.state = 'ready' AND c.storage_endpoint <> ''"
        "   AND (c.healthy OR c.name = b.home_cluster)"
        "   AND (NOT $3::boolean OR c.name = b.home_cluster)"
        " ORDER BY c.healthy DESC, $2 = ANY (c.zones) DESC, c.name = b.home_cluster DESC, c.name",
        3, p, e);
    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res) < max ? PQntuples(res) : max;
    for (int i = 0; i < n; i++) {
        fado_obj_site_fill(&sites[i], res, i);
    }
    PQclear(res);
    if (n > 0) {
        return n;
    }
    res = fado_obj_query(conn, "SELECT 1 FROM buckets WHERE name = $1", 1, p, e);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        fado_err_set(&e->err, FADO_ERR_NOT_FOUND, "not_found", "bucket",
                     "bucket \"%s\" does not exist", bucket);
    } else {
        fado_err_set(&e->err, FADO_ERR_CONFLICT, "bucket_not_ready", "bucket",
                     "bucket \"%s\" has no ready replica yet%s", bucket,
                     want_home ? " on its home cluster" : "");
    }
    PQclear(res);
    return -1;
}

/* A store's failure in the terms S3 gives it (fst_s3_error_http_status):
 * a missing key, a store away, a store failing, or a refusal that keeps
 * its status. */
static void
fado_obj_storage_error(fado_obj_err_t *e, long status, const char *code, const char *cluster,
    const char *err)
{
    int  s3 = fst_s3_error_http_status(status, code);

    if (s3 == 404) {
        fado_err_set(&e->err, FADO_ERR_NOT_FOUND, "not_found", "key", "cluster \"%s\": %s",
                     cluster, err);
    } else if (s3 == 503) {
        fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "storage_unavailable", NULL,
                     "cluster \"%s\": %s", cluster, err);
    } else if (s3 == 502) {
        e->store = FADO_OBJ_STORE_FAILED;
        fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "storage_error", NULL,
                     "cluster \"%s\": %s", cluster, err);
    } else {
        e->store = FADO_OBJ_STORE_REFUSED;
        e->s3_status = s3;
        fado_err_set(&e->err, s3 == 409 ? FADO_ERR_CONFLICT : FADO_ERR_INVALID,
                     "storage_refused", NULL, "cluster \"%s\": %s", cluster, err);
    }
}

/* Records the version the home now holds as the key's latest. */
static void
fado_obj_index_put(PGconn *conn, const char *bucket, const char *key,
    const fst_s3_object_info_t *info, const char *home)
{
    char         size[24];
    const char  *p[7] = { bucket, key, info->version_id, size, info->etag,
                          info->content_type, home };
    PGresult    *res;
    char         err[256];

    snprintf(size, sizeof(size), "%" PRId64, info->size < 0 ? (int64_t) 0 : info->size);
    res = fado_db_query(conn,
        "INSERT INTO objects AS o (bucket, key, version_id, size, etag, content_type,"
        "                          last_modified, locations)"
        " VALUES ($1, $2, $3, $4::bigint, $5, $6, now(), ARRAY[$7])"
        " ON CONFLICT (bucket, key) DO UPDATE SET"
        "   version_id = EXCLUDED.version_id, size = EXCLUDED.size, etag = EXCLUDED.etag,"
        "   content_type = EXCLUDED.content_type, last_modified = EXCLUDED.last_modified,"
        "   locations = CASE WHEN o.version_id = EXCLUDED.version_id"
        "               THEN o.locations ELSE EXCLUDED.locations END,"
        "   updated_at = clock_timestamp()", 7, p, err, sizeof(err), NULL);
    if (res == NULL) {
        /* The object is stored; the index catches up from events or a scan. */
        fado_log(FADO_LOG_WARN, "msg=\"object index not updated\" bucket=%s error=%s",
                 FADO_LOG_Q(bucket), FADO_LOG_Q(err));
        return;
    }
    PQclear(res);
}

/* ------------------------------------------------------------ home down */

static void
fado_obj_home_error(fado_obj_err_t *e, const char *bucket, const char *home, const char *why)
{
    fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "home_unavailable", "home_cluster",
                 "home cluster \"%s\" of bucket \"%s\" is unavailable (%s): writes resume"
                 " when it is back; reads are served by the other ready replicas",
                 home, bucket, why);
}

/*
 * Writes go to the home only. While the home is marked down they are
 * refused at once naming it (not tried and timed out); an unknown bucket
 * is left to fado_obj_sites. Returns 1 with e set when refused.
 */
static int
fado_obj_home_down(PGconn *conn, const char *bucket, fado_obj_err_t *e)
{
    const char  *p[1] = { bucket };
    PGresult    *res;
    int          down = 0;

    res = fado_obj_query(conn,
        "SELECT b.home_cluster, c.healthy FROM buckets b"
        "  JOIN clusters c ON c.name = b.home_cluster WHERE b.name = $1", 1, p, e);
    if (res == NULL) {
        return 1;
    }
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] != 't') {
        fado_obj_home_error(e, bucket, PQgetvalue(res, 0, 0), "the cluster is down");
        down = 1;
    }
    PQclear(res);
    return down;
}

/* The home of a write (upload, delete), or -1 with e: the home down, the
 * bucket unknown or not ready there. */
static int
fado_obj_write_home(PGconn *conn, const char *bucket, fado_obj_site_t *home,
    fado_obj_err_t *e)
{
    if (fado_obj_home_down(conn, bucket, e)
        || fado_obj_sites(conn, bucket, NULL, 1, home, 1, e) != 1)
    {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ upload */

fado_obj_upload_t *
fado_objects_upload_begin(fado_db_t *db, const char *bucket, const char *key,
    const char *content_type, int64_t length, fado_obj_err_t *e)
{
    fado_obj_upload_t  *u;
    PGconn             *conn;
    char                err[512];
    int                 rc;

    fado_obj_err_init(e);
    if (fado_objects_valid(bucket, key, &e->err) != 0) {
        return NULL;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL || (u->key = strdup(key)) == NULL) {
        free(u);
        fado_err_set(&e->err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
        return NULL;
    }
    conn = fado_obj_acquire(db, e);
    rc = conn != NULL ? fado_obj_write_home(conn, bucket, &u->home, e) : -1;
    fado_db_release(db, conn);
    if (rc != 0) {
        free(u->key);
        free(u);
        return NULL;
    }
    snprintf(u->bucket, sizeof(u->bucket), "%s", bucket);
    snprintf(u->content_type, sizeof(u->content_type), "%s",
             content_type && content_type[0] ? content_type : "application/octet-stream");
    u->stream = fst_stream_upload_start(&u->home.site, bucket, key, u->content_type,
                                        length, err, sizeof(err));
    if (u->stream == NULL) {
        fado_err_set(&e->err, FADO_ERR_INVALID, "invalid_field", "key", "%s", err);
        free(u->key);
        free(u);
        return NULL;
    }
    return u;
}

int
fado_objects_upload_data(fado_obj_upload_t *u, const char *data, size_t len)
{
    if (u->failed || fst_stream_upload_write(u->stream, data, len) != 0) {
        u->failed = 1;      /* the rest of the body is read and dropped */
        return -1;
    }
    return 0;
}

int
fado_objects_upload_end(fado_db_t *db, fado_obj_upload_t *u, fado_obj_stored_t *stored,
    fado_obj_err_t *e)
{
    fst_s3_object_info_t  info;
    char                  err[768];
    PGconn               *conn;
    int                   rc = -1;

    fado_obj_err_init(e);
    memset(&info, 0, sizeof(info));
    if (fst_stream_upload_finish(u->stream, &info, err, sizeof(err)) != 0) {
        /* The stream's error names MinIO's status and code in its text;
         * a broken transfer to MinIO is the store's failure, not the caller's.
         * A stalled store is a timeout naming it; a home whose store does
         * not answer at all is unavailable. */
        if (fado_obj_timeout_text(err)) {
            fado_obj_timeout(e, u->home.name, err);
        } else if (!fst_replication_reachable(&u->home.site, u->bucket)) {
            fado_obj_home_error(e, u->bucket, u->home.name, err);
        } else {
            e->store = FADO_OBJ_STORE_FAILED;
            fado_err_set(&e->err, FADO_ERR_UNAVAILABLE, "storage_error", NULL,
                         "cluster \"%s\": %s", u->home.name, err);
        }
    } else {
        /* PostgreSQL only now that MinIO has answered (none: the index
         * catches up from events or a scan). */
        conn = fado_db_acquire(db);
        if (conn != NULL) {
            fado_obj_index_put(conn, u->bucket, u->key, &info, u->home.name);
            fado_db_release(db, conn);
        }
        memset(stored, 0, sizeof(*stored));
        snprintf(stored->version_id, sizeof(stored->version_id), "%s", info.version_id);
        snprintf(stored->etag, sizeof(stored->etag), "%s", info.etag);
        snprintf(stored->content_type, sizeof(stored->content_type), "%s", u->content_type);
        snprintf(stored->cluster, sizeof(stored->cluster), "%s", u->home.name);
        stored->size = info.size;
        fado_log(FADO_LOG_DEBUG, "msg=\"object stored\" bucket=%s size=%" PRId64 " cluster=%s",
                 FADO_LOG_Q(u->bucket), info.size, FADO_LOG_Q(u->home.name));
        rc = 0;
    }
    free(u->key);
    free(u);
    return rc;
}

void
fado_objects_upload_abort(fado_obj_upload_t *u)
{
    if (u == NULL) {
        return;
    }
    fst_stream_upload_abort(u->stream);
    free(u->key);
    free(u);
}

/* ------------------------------------------------------------ download */

/* One site: 1 when d holds an open download (or HEAD answer), else 0 with
 * *status (0: unreachable) and err. */
static int
fado_obj_try_site(fado_obj_download_t *d, const fado_obj_site_t *s, const char *bucket,
    const char *key, const char *version, int head, long *status, char *code,
    size_t code_len, char *err, size_t err_len)
{
    memset(&d->info, 0, sizeof(d->info));
    code[0] = '\0';
    if (head) {
        fst_s3_client_t  *c = fst_s3_client_new(s->endpoint, s->access_key,
                                                  s->secret_key, NULL, err, err_len);
        int                rc = -1;

        *status = 0;
        if (c != NULL) {
            rc = fst_s3_object_head(c, bucket, key, version, &d->info, err, err_len);
            *status = fst_s3_last_status(c);
            snprintf(code, code_len, "%s", fst_s3_last_code(c));
            fst_s3_client_free(c);
        }
        if (rc != 0) {
            return 0;
        }
    } else {
        d->stream = fst_stream_download_start(&s->site, bucket, key, version, &d->info,
                                                status, err, err_len);
        if (d->stream == NULL) {
            return 0;
        }
    }
    snprintf(d->cluster, sizeof(d->cluster), "%.63s", s->name);
    return 1;
}

/*
 * The index knows the key's latest version and where it is: read that
 * version from a site holding it (replicas behind by a few writes would
 * otherwise serve an older one). Without an index entry, the latest of
 * each site in order, a 404 on a replica falling through to the next.
 * When the home does not answer, the replicas the index said lack the
 * version are asked for it too (the index's locations lag replication by
 * MinIO's event delay); if none has it, the home is unavailable, never an
 * older version passed off as the latest.
 */
fado_obj_download_t *
fado_objects_download_begin(fado_db_t *db, const char *bucket, const char *key,
    const char *zone, const char *version, int head, fado_obj_err_t *e)
{
    fado_obj_site_t       sites[FADO_OBJ_MAX_SITES];
    int                   skipped[FADO_OBJ_MAX_SITES];
    fado_obj_download_t  *d;
    const char           *p[2] = { bucket, key };
    char                  latest[128] = "", locations[1024] = "";
    char                  err[768] = "", home[64] = "";
    char                  timed_out[64] = "";   /* a cluster that did not answer */
    long                  status = 0;
    char                  code[64] = "";
    int                   n, nskipped = 0, home_down = 0;
    PGconn               *conn;
    PGresult             *res;

    fado_obj_err_init(e);
    if (fado_objects_valid(bucket, key, &e->err) != 0) {
        return NULL;
    }
    if (zone != NULL && !fado_valid_name(zone)) {
        fado_err_set(&e->err, FADO_ERR_INVALID, "invalid_field", "zone",
                     "zone is not a zone name");
        return NULL;
    }
    if (version != NULL && !fado_valid_cursor(version)) {
        fado_err_set(&e->err, FADO_ERR_INVALID, "invalid_field", "version_id",
                     "version_id is not a version");
        return NULL;
    }
    conn = fado_obj_acquire(db, e);
    if (conn == NULL) {
        return NULL;
    }
    n = fado_obj_sites(conn, bucket, zone, 0, sites, FADO_OBJ_MAX_SITES, e);
    if (n >= 0 && (version == NULL || version[0] == '\0')) {
        res = fado_obj_query(conn,
            "SELECT version_id, ',' || array_to_string(locations, ',') || ','"
            "  FROM objects WHERE bucket = $1 AND key = $2", 2, p, e);
        if (res == NULL) {
            n = -1;
        } else {
            if (PQntuples(res) == 1) {
                snprintf(latest, sizeof(latest), "%s", PQgetvalue(res, 0, 0));
                snprintf(locations, sizeof(locations), "%s", PQgetvalue(res, 0, 1));
            }
            PQclear(res);
            version = latest[0] ? latest : NULL;
        }
    }
    /* The transfer needs no connection. */
    fado_db_release(db, conn);
    if (n < 0) {
        return NULL;
    }

    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        fado_err_set(&e->err, FADO_ERR_INTERNAL, "internal", NULL, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const fado_obj_site_t  *s = &sites[i];
        char                    needle[70];

        snprintf(needle, sizeof(needle), ",%.63s,", s->name);
        if (latest[0] && !s->is_home && strstr(locations, needle) == NULL) {
            skipped[nskipped++] = i;    /* the index says this replica lacks the version */
            continue;
        }
        if (fado_obj_try_site(d, s, bucket, key, version, head, &status, code, sizeof(code),
                              err, sizeof(err)))
        {
            return d;
        }
        if (s->is_home && (status == 0 || status >= 500)) {
            home_down = 1;
            snprintf(home, sizeof(home), "%.63s", s->name);
        }
        /* Not there yet (replication in flight) or unreachable: next site.
         * The home is in the list, so a missing object ends with its 404. */
        if (fst_s3_timed_out()) {
            snprintf(timed_out, sizeof(timed_out), "%.63s", s->name);
        }
        /* The home is the authority on the latest version: its 404 is
         * final (a replica may still hold what was just deleted). */
        if ((status != 404 && status != 0 && status < 500) || (status == 404 && s->is_home)) {
            break;
        }
    }
    if (nskipped > 0 && (home_down || status == 0)) {
        for (int k = 0; k < nskipped; k++) {
            if (fado_obj_try_site(d, &sites[skipped[k]], bucket, key, version, head, &status,
                                  code, sizeof(code), err, sizeof(err)))
            {
                return d;
            }
        }
        if (home_down) {
            free(d);
            fado_obj_home_error(e, bucket, home, "the latest version of this key is not on"
                                " any other ready replica yet");
            return NULL;
        }
    }
    free(d);
    if (status == 0 && timed_out[0] != '\0') {
        fado_obj_timeout(e, timed_out, err);
    } else if (status == 404) {
        fado_err_set(&e->err, FADO_ERR_NOT_FOUND, "not_found", "key",
                     "object \"%s\" not found in bucket \"%s\"%s", key, bucket,
                     version && version != latest ? " at that version" : "");
    } else {
        fado_obj_storage_error(e, status, code, "?", err);
    }
    return NULL;
}

int64_t
fado_objects_download_size(const fado_obj_download_t *d)
{
    return d->info.size;
}

const char *
fado_objects_download_content_type(const fado_obj_download_t *d)
{
    return d->info.content_type[0] ? d->info.content_type : "application/octet-stream";
}

const char *
fado_objects_download_etag(const fado_obj_download_t *d)
{
    return d->info.etag;
}

const char *
fado_objects_download_last_modified(const fado_obj_download_t *d)
{
    return d->info.last_modified;
}

const char *
fado_objects_download_version(const fado_obj_download_t *d)
{
    return d->info.version_id;
}

const char *
fado_objects_download_cluster(const fado_obj_download_t *d)
{
    return d->cluster;
}

ssize_t
fado_objects_download_read(fado_obj_download_t *d, char *buf, size_t len)
{
    ssize_t  n;

    if (d->stream == NULL) {
        return 0;
    }
    n = fst_stream_download_read(d->stream, buf, len);
    if (n < 0) {
        fado_log(FADO_LOG_WARN, "msg=\"download broken\" cluster=%s error=%s",
                 FADO_LOG_Q(d->cluster), FADO_LOG_Q(fst_stream_error(d->stream)));
    }
    return n;
}

void
fado_objects_download_close(fado_obj_download_t *d)
{
    if (d == NULL) {
        return;
    }
    if (d->stream != NULL) {
        fst_stream_download_close(d->stream);
    }
    free(d);
}

/* ------------------------------------------------------------ index, metadata, delete */

PGresult *
fado_objects_list(PGconn *conn, const char *bucket, const char *prefix, const char *cursor,
    const char *fetch, fado_err_t *err)
{
    const char  *p[4] = { bucket, prefix, cursor, fetch };
    PGresult    *res;

    res = fado_db_exec(conn, NULL, "SELECT 1 FROM buckets WHERE name = $1", 1, p);
    if (res == NULL) {
        goto unavailable;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        fado_err_set(err, FADO_ERR_NOT_FOUND, "not_found", "bucket",
                     "bucket \"%s\" does not exist", bucket);
        return NULL;
    }
    PQclear(res);
    /* A version's replication is complete when every replica that is not
     * leaving holds it. */
    res = fado_db_exec(conn, NULL,
        "WITH t AS (SELECT coalesce(array_agg(r.cluster ORDER BY r.cluster)"
        "                  FILTER (WHERE r.cluster <> b.home_cluster"
        "                          AND r.state <> 'removing'), '{}') AS targets"
        "             FROM buckets b LEFT JOIN replicas r ON r.bucket = b.name"
        "            WHERE b.name = $1 GROUP BY b.name)"
        " SELECT o.key, json_build_object('key', o.key, 'size', o.size, 'etag', o.etag,"
        "        'version_id', o.version_id, 'content_type', o.content_type,"
        "        'last_modified', to_char(o.last_modified AT TIME ZONE 'UTC',"
        "                                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        /* sorted: events and scans append clusters in arrival order */
        "        'locations', (SELECT coalesce(array_agg(l ORDER BY l), '{}')"
        "                        FROM unnest(o.locations) l),"
        "        'replication_status', CASE WHEN cardinality(t.targets) = 0 THEN 'NONE'"
        "             WHEN o.locations @> t.targets THEN 'COMPLETED' ELSE 'PENDING' END)::text"
        "   FROM objects o, t"
        "  WHERE o.bucket = $1 AND starts_with(o.key, $2) AND o.key COLLATE \"C\" > $3"
        "  ORDER BY o.key COLLATE \"C\" LIMIT $4::int", 4, p);
    if (res != NULL) {
        return res;
    }
unavailable:
    fado_err_set(err, FADO_ERR_UNAVAILABLE, "database_unavailable", NULL,
                 "PostgreSQL query failed");
    return NULL;
}

/* Metadata from the home (the authority on the latest version and its
 * replication status) and where that version is, asked of each replica. */
int
fado_objects_metadata(fado_db_t *db, const char *bucket, const char *key, const char *version,
    fado_obj_meta_t *meta, fado_obj_err_t *e)
{
    const char             *p[1] = { bucket };
    PGconn                 *conn;
    PGresult               *res;
    fado_obj_site_t         sites[FADO_OBJ_MAX_SITES];
    fst_s3_object_info_t    info;
    char                    err[768];
    int                     n;

    fado_obj_err_init(e);
    memset(meta, 0, sizeof(*meta));
    conn = fado_obj_acquire(db, e);
    if (conn == NULL) {
        return -1;
    }
    res = fado_obj_query(conn,
        "SELECT c.name, c.zone, c.storage_endpoint, c.storage_access_key,"
        "       c.storage_secret_key, c.name = b.home_cluster, r.state"
        "  FROM buckets b JOIN replicas r ON r.bucket = b.name"
        "  JOIN clusters c ON c.name = r.cluster"
        " WHERE b.name = $1 AND c.storage_endpoint <> ''"
        " ORDER BY c.name = b.home_cluster DESC, c.name", 1, p, e);
    if (res == NULL) {
        fado_db_release(db, conn);
        return -1;
    }
    n = PQntuples(res) < FADO_OBJ_MAX_SITES ? PQntuples(res) : FADO_OBJ_MAX_SITES;
    if (n == 0 || PQgetvalue(res, 0, 5)[0] != 't') {
        /* No store on the home: an unknown bucket or a home not ready. */
        PQclear(res);
        if (fado_obj_sites(conn, bucket, NULL, 1, sites, 1, e) >= 0) {
            fado_err_set(&e->err, FADO_ERR_CONFLICT, "bucket_not_ready", "bucket",
                         "bucket \"%s\" has no store on its home cluster", bucket);
        }
        fado_db_release(db, conn);
        return -1;
    }
    fado_db_release(db, conn);     /* the rows are read; MinIO is asked next */
    if (version != NULL && !fado_valid_cursor(version)) {
        PQclear(res);
        fado_err_set(&e->err, FADO_ERR_INVALID, "invalid_field", "version_id",
                     "version_id is not a version");
        return -1;
    }
    memset(&info, 0, sizeof(info));
    for (int i = 0; i < n; i++) {
        fst_s3_client_t         *c;
        fst_s3_object_info_t     ri;
        fado_obj_location_t     *l = &meta->locations[meta->nlocations];
        int                      present = 0;

        fado_obj_site_fill(&sites[i], res, i);
        c = fst_s3_client_new(sites[i].endpoint, sites[i].access_key, sites[i].secret_key,
                              NULL, err, sizeof(err));
        if (c == NULL) {
            if (i == 0) {
                PQclear(res);
                fado_err_set(&e->err, FADO_ERR_INTERNAL, "internal", NULL, "%s", err);
                return -1;
            }
            break;      /* the locations known so far */
        }
        memset(&ri, 0, sizeof(ri));
        if (fst_s3_object_head(c, bucket, key, i == 0 ? version : info.version_id, &ri,
                               err, sizeof(err)) == 0)
        {
            present = 1;
        } else if (i == 0) {
            long  st = fst_s3_last_status(c);
            char  code[64];

            snprintf(code, sizeof(code), "%s", fst_s3_last_code(c));
            fst_s3_client_free(c);
            PQclear(res);
            if (st == 404) {
                fado_err_set(&e->err, FADO_ERR_NOT_FOUND, "not_found", "key",
                             "object \"%s\" not found in bucket \"%s\"", key, bucket);
            } else if (fst_s3_timed_out()) {
                fado_obj_timeout(e, sites[0].name, err);
            } else {
                fado_obj_storage_error(e, st, code, sites[0].name, err);
            }
            return -1;
        }
        fst_s3_client_free(c);
        if (i == 0) {
            info = ri;
        }
        snprintf(l->cluster, sizeof(l->cluster), "%.63s", sites[i].name);
        snprintf(l->zone, sizeof(l->zone), "%.63s", sites[i].zone);
        snprintf(l->replica_state, sizeof(l->replica_state), "%s", PQgetvalue(res, i, 6));
        l->home = sites[i].is_home;
        l->present = present;
        meta->nlocations++;
    }
    PQclear(res);
    snprintf(meta->version_id, sizeof(meta->version_id), "%s", info.version_id);
    snprintf(meta->etag, sizeof(meta->etag), "%s", info.etag);
    snprintf(meta->content_type, sizeof(meta->content_type), "%s", info.content_type);
    snprintf(meta->last_modified, sizeof(meta->last_modified), "%s", info.last_modified);
    snprintf(meta->replication_status, sizeof(meta->replication_status), "%s",
             info.replication_status);
    meta->size = info.size;
    return 0;
}

/* Deletes on the home, then in the index (which events and scans would
 * also bring up to date: a failure there is logged, not answered). */
int
fado_objects_delete(fado_db_t *db, const char *bucket, const char *key, const char *version,
    fado_obj_err_t *e)
{
    fado_obj_site_t    home;
    fst_s3_client_t   *c;
    PGconn            *conn;
    char               err[768], code[64];
    long               status;
    int                rc;

    fado_obj_err_init(e);
    conn = fado_obj_acquire(db, e);
    rc = conn != NULL ? fado_obj_write_home(conn, bucket, &home, e) : -1;
    fado_db_release(db, conn);
    if (rc != 0) {
        return -1;
    }
    if (version != NULL && !fado_valid_cursor(version)) {
        fado_err_set(&e->err, FADO_ERR_INVALID, "invalid_field", "version_id",
                     "version_id is not a version");
        return -1;
    }
    c = fst_s3_client_new(home.endpoint, home.access_key, home.secret_key, NULL, err,
                          sizeof(err));
    if (c == NULL) {
        fado_err_set(&e->err, FADO_ERR_INTERNAL, "internal", NULL, "%s", err);
        return -1;
    }
    if (fst_s3_object_delete(c, bucket, key, version && version[0] ? version : NULL,
                             err, sizeof(err)) != 0)
    {
        status = fst_s3_last_status(c);
        snprintf(code, sizeof(code), "%s", fst_s3_last_code(c));
        fst_s3_client_free(c);
        if (fst_s3_timed_out()) {
            fado_obj_timeout(e, home.name, err);
        } else if (status == 0) {
            fado_obj_home_error(e, bucket, home.name, err);
        } else {
            fado_obj_storage_error(e, status, code, home.name, err);
        }
        return -1;
    }
    fst_s3_client_free(c);
    conn = fado_db_acquire(db);
    if (conn == NULL) {
        return 0;       /* deleted on the home; the index follows from events or a scan */
    }
    {
        const char  *q[3] = { bucket, key, version ? version : "" };
        PGresult    *res = fado_db_exec(conn, NULL,        /* logs a failure */
            "DELETE FROM objects WHERE bucket = $1 AND key = $2"
            " AND ($3 = '' OR version_id = $3)", 3, q);

        if (res != NULL) {
            PQclear(res);
        }
        if (version != NULL && version[0] != '\0') {
            /* An older version may be the latest again: rescan soon. */
            res = fado_db_exec(conn, NULL,
                "INSERT INTO jobs (kind, bucket) VALUES ('scan', $1)"
                " ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now()"
                " WHERE jobs.state = 'queued'", 1, q);
            if (res != NULL) {
                PQclear(res);
            }
        }
    }
    fado_db_release(db, conn);
    return 0;
}
