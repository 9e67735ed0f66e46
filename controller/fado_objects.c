/*
 * fado_objects: the unified object API over the clusters' MinIO.
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

#define FADO_OBJ_MAX_SITES     16

/* A cluster's object store, with its strings owned. */
typedef struct {
    char                 name[64];
    char                 zone[64];
    char                 endpoint[512];
    char                 access_key[256];
    char                 secret_key[256];
    int                  is_home;
    fst_site_t  site;
} fado_obj_site_t;

struct fado_obj_upload_s {
    fst_stream_t  *stream;
    fado_obj_site_t         home;
    char                    bucket[64];
    char                   *key;
    char                    content_type[128];
    int                     failed;
};

struct fado_obj_download_s {
    fst_stream_t  *stream;     /* NULL for HEAD */
    fst_s3_object_info_t   info;
    char                    cluster[64];
};

/* ------------------------------------------------------------ helpers */

int
fado_objects_path(const char *path, char *bucket, size_t bsize, const char **key)
{
    const char  *p, *slash;

    if (strncmp(path, "/v1/buckets/", 12) != 0) {
        return 0;
    }
    p = path + 12;
    slash = strchr(p, '/');
    if (slash == NULL || (size_t) (slash - p) >= bsize || slash == p) {
        return 0;
    }
    if (strncmp(slash, "/objects", 8) != 0 || (slash[8] != '\0' && slash[8] != '/')) {
        return 0;
    }
    memcpy(bucket, p, (size_t) (slash - p));
    bucket[slash - p] = '\0';
    *key = slash[8] == '/' ? slash + 9 : "";
    return 1;
}

int
fado_objects_streamed(const char *method, const char *path, int metadata)
{
    char         bucket[64];
    const char  *key;

    if (!fado_objects_path(path, bucket, sizeof(bucket), &key) || key[0] == '\0') {
        return 0;
    }
    return strcmp(method, "PUT") == 0 || strcmp(method, "HEAD") == 0
           || (strcmp(method, "GET") == 0 && !metadata);
}

int
fado_objects_valid(fado_req_t *req, const char *bucket, const char *key)
{
    const char  *why;

    if (!fado_valid_bucket(bucket)) {
        fado_req_error(req, 400, "invalid_field", "bucket",
                       "bucket names are 3-63 characters of a-z, 0-9, '.', '-' (S3 rules)");
        return 0;
    }
    if (key != NULL && key[0] != '\0' && (why = fado_valid_key(key)) != NULL) {
        fado_req_error(req, 400, "invalid_key", "key", "%s", why);
        return 0;
    }
    return 1;
}

/* PostgreSQL is not held while MinIO is asked: a stuck MinIO must not
 * hold the connections the JSON API needs. */
static void
fado_obj_db_release(fado_req_t *req)
{
    if (req->conn != NULL) {
        fado_db_release(req->app->db, req->conn);
        req->conn = NULL;
    }
}

static int
fado_obj_db_acquire(fado_req_t *req)
{
    if (req->conn == NULL) {
        req->conn = fado_db_acquire(req->app->db);
    }
    return req->conn != NULL;
}

/* curl's texts for its timeouts, when the failure came from a stream's own
 * thread (fst_s3_timed_out() answers for the calling thread only). */
static int
fado_obj_timeout_text(const char *err)
{
    return strstr(err, "timed out") != NULL || strstr(err, "too slow") != NULL;
}

/* A stuck MinIO: 504 naming the cluster. */
static void
fado_obj_timeout(fado_req_t *req, const char *cluster, const char *err)
{
    fado_req_error(req, 504, "storage_timeout", NULL,
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
fado_obj_query(fado_req_t *req, const char *sql, int n, const char *const *p)
{
    PGresult  *res = fado_db_exec(req->conn, NULL, sql, n, p);      /* logs a failure */

    if (res == NULL) {
        fado_req_error(req, 503, "database_unavailable", NULL, "PostgreSQL query failed");
    }
    return res;
}

/*
 * The sites of a bucket an operation may use, best first: ready replicas on
 * healthy clusters, those in the preferred zone first, then the home, then
 * by name, and a home marked down last (its store may still answer when
 * only its functions are down); want_home: only the home (writes). Returns how many, or -1 with
 * the error answered (404 for an unknown bucket).
 */
static int
fado_obj_sites(fado_req_t *req, const char *bucket, const char *zone, int want_home,
    fado_obj_site_t *sites, int max)
{
    const char  *p[3] = { bucket, zone ? zone : "", want_home ? "t" : "f" };
    PGresult    *res;
    int          n;

    res = fado_obj_query(req,
        "SELECT c.name, c.zone, c.storage_endpoint, c.storage_access_key,"
        "       c.storage_secret_key, c.name = b.home_cluster"
        "  FROM buckets b JOIN replicas r ON r.bucket = b.name"
        "  JOIN clusters c ON c.name = r.cluster"
        " WHERE b.name = $1 AND r.state = 'ready' AND c.storage_endpoint <> ''"
        "   AND (c.healthy OR c.name = b.home_cluster)"
        "   AND (NOT $3::boolean OR c.name = b.home_cluster)"
        " ORDER BY c.healthy DESC, $2 = ANY (c.zones) DESC, c.name = b.home_cluster DESC, c.name",
        3, p);
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
    res = fado_obj_query(req, "SELECT 1 FROM buckets WHERE name = $1", 1, p);
    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        fado_req_error(req, 404, "not_found", "bucket", "bucket \"%s\" does not exist", bucket);
    } else {
        fado_req_error(req, 409, "bucket_not_ready", "bucket",
                       "bucket \"%s\" has no ready replica yet%s", bucket,
                       want_home ? " on its home cluster" : "");
    }
    PQclear(res);
    return -1;
}

/* Answers a storage failure with the status it maps to. */
static void
fado_obj_storage_error(fado_req_t *req, long status, const char *code, const char *cluster,
    const char *err)
{
    unsigned int  http = (unsigned int) fst_s3_error_http_status(status, code);
    const char   *name = http == 404 ? "not_found" : http == 503 ? "storage_unavailable"
                       : http == 502 ? "storage_error" : "storage_refused";

    fado_req_error(req, http, name, http == 404 ? "key" : NULL, "cluster \"%s\": %s",
                   cluster, err);
}

/* Records the version the home now holds as the key's latest. */
static void
fado_obj_index_put(fado_req_t *req, const char *bucket, const char *key,
    const fst_s3_object_info_t *info, const char *home)
{
    char         size[24];
    const char  *p[7] = { bucket, key, info->version_id, size, info->etag,
                          info->content_type, home };
    PGresult    *res;
    char         err[256];

    snprintf(size, sizeof(size), "%" PRId64, info->size < 0 ? (int64_t) 0 : info->size);
    res = fado_db_query(req->conn,
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
fado_obj_home_error(fado_req_t *req, const char *bucket, const char *home, const char *why)
{
    fado_req_error(req, 503, "home_unavailable", "home_cluster",
                   "home cluster \"%s\" of bucket \"%s\" is unavailable (%s): writes resume"
                   " when it is back; reads are served by the other ready replicas",
                   home, bucket, why);
}

/*
 * Writes go to the home only. While the home is marked down they are
 * refused at once with 503 naming it (not tried and timed out); a 404 is
 * left to fado_obj_sites. Returns 1 when it answered.
 */
static int
fado_obj_home_down(fado_req_t *req, const char *bucket)
{
    const char  *p[1] = { bucket };
    PGresult    *res;
    int          down = 0;

    res = fado_obj_query(req,
        "SELECT b.home_cluster, c.healthy FROM buckets b"
        "  JOIN clusters c ON c.name = b.home_cluster WHERE b.name = $1", 1, p);
    if (res == NULL) {
        return 1;
    }
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] != 't') {
        fado_obj_home_error(req, bucket, PQgetvalue(res, 0, 0), "the cluster is down");
        down = 1;
    }
    PQclear(res);
    return down;
}

/* ------------------------------------------------------------ upload */

fado_obj_upload_t *
fado_objects_upload_begin(fado_req_t *req, const char *bucket, const char *key,
    const char *content_type, int64_t length)
{
    fado_obj_upload_t  *u;
    char                err[512];

    if (!fado_objects_valid(req, bucket, key)) {
        return NULL;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL || (u->key = strdup(key)) == NULL) {
        free(u);
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    if (fado_obj_home_down(req, bucket)
        || fado_obj_sites(req, bucket, NULL, 1, &u->home, 1) != 1)
    {
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
        fado_req_error(req, 400, "invalid_field", "key", "%s", err);
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

void
fado_objects_upload_end(fado_req_t *req, fado_obj_upload_t *u)
{
    fst_s3_object_info_t  info;
    char                   err[768];

    memset(&info, 0, sizeof(info));
    if (fst_stream_upload_finish(u->stream, &info, err, sizeof(err)) != 0) {
        /* The stream's error names MinIO's status and code in its text;
         * a broken transfer to MinIO is the store's failure, not the caller's.
         * A stalled store answers 504 naming it; a home whose store does
         * not answer at all is unavailable: 503. */
        if (fado_obj_timeout_text(err)) {
            fado_obj_timeout(req, u->home.name, err);
        } else if (!fst_replication_reachable(&u->home.site, u->bucket)) {
            fado_obj_home_error(req, u->bucket, u->home.name, err);
        } else {
            fado_req_error(req, 502, "storage_error", NULL, "cluster \"%s\": %s",
                           u->home.name, err);
        }
    } else {
        /* PostgreSQL only now that MinIO has answered (NULL: the index
         * catches up from events or a scan). */
        if (fado_obj_db_acquire(req)) {
            fado_obj_index_put(req, u->bucket, u->key, &info, u->home.name);
        }
        req->status = 201;
        json_decref(req->json);
        req->json = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
                              "bucket", u->bucket, "key", u->key,
                              "version_id", info.version_id, "etag", info.etag,
                              "size", (json_int_t) info.size, "content_type", u->content_type,
                              "cluster", u->home.name);
        fado_log(FADO_LOG_DEBUG, "msg=\"object stored\" bucket=%s size=%" PRId64 " cluster=%s",
                 FADO_LOG_Q(u->bucket), info.size, FADO_LOG_Q(u->home.name));
    }
    free(u->key);
    free(u);
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
 * MinIO's event delay); if none has it, that is a 503 naming the home,
 * never an older version passed off as the latest.
 */
fado_obj_download_t *
fado_objects_download_begin(fado_req_t *req, const char *bucket, const char *key, int head)
{
    fado_obj_site_t       sites[FADO_OBJ_MAX_SITES];
    int                   skipped[FADO_OBJ_MAX_SITES];
    fado_obj_download_t  *d;
    const char           *zone = fado_req_arg(req, "zone");
    const char           *version = fado_req_arg(req, "version_id");
    const char           *p[2] = { bucket, key };
    char                  latest[128] = "", locations[1024] = "";
    char                  err[768] = "", home[64] = "";
    char                  timed_out[64] = "";   /* a cluster that did not answer */
    long                  status = 0;
    char                  code[64] = "";
    int                   n, nskipped = 0, home_down = 0;
    PGresult             *res;

    if (zone == NULL) {
        zone = fado_req_header(req, "X-Fado-Zone");
    }
    if (!fado_objects_valid(req, bucket, key)) {
        return NULL;
    }
    if (zone != NULL && !fado_valid_name(zone)) {
        fado_req_error(req, 400, "invalid_field", "zone", "zone is not a zone name");
        return NULL;
    }
    if (version != NULL && !fado_valid_cursor(version)) {
        fado_req_error(req, 400, "invalid_field", "version_id", "version_id is not a version");
        return NULL;
    }
    n = fado_obj_sites(req, bucket, zone, 0, sites, FADO_OBJ_MAX_SITES);
    if (n < 0) {
        return NULL;
    }
    if (version == NULL || version[0] == '\0') {
        res = fado_obj_query(req,
            "SELECT version_id, ',' || array_to_string(locations, ',') || ','"
            "  FROM objects WHERE bucket = $1 AND key = $2", 2, p);
        if (res == NULL) {
            return NULL;
        }
        if (PQntuples(res) == 1) {
            snprintf(latest, sizeof(latest), "%s", PQgetvalue(res, 0, 0));
            snprintf(locations, sizeof(locations), "%s", PQgetvalue(res, 0, 1));
        }
        PQclear(res);
        version = latest[0] ? latest : NULL;
    }

    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    /* Release PostgreSQL before talking to MinIO: the connection is not
     * needed for the transfer. (fado_http re-checks req->conn.) */
    fado_obj_db_release(req);
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
            fado_obj_home_error(req, bucket, home, "the latest version of this key is not on"
                                " any other ready replica yet");
            return NULL;
        }
    }
    free(d);
    if (status == 0 && timed_out[0] != '\0') {
        fado_obj_timeout(req, timed_out, err);
    } else if (status == 404) {
        fado_req_error(req, 404, "not_found", "key", "object \"%s\" not found in bucket \"%s\"%s",
                       key, bucket, version && version != latest ? " at that version" : "");
    } else {
        fado_obj_storage_error(req, status, code, "?", err);
    }
    return NULL;
}

int64_t
fado_objects_download_size(const fado_obj_download_t *d)
{
    return d->info.size;
}

const char *
fado_objects_download_header(const fado_obj_download_t *d, const char *name)
{
    if (strcmp(name, "Content-Type") == 0) {
        return d->info.content_type[0] ? d->info.content_type : "application/octet-stream";
    }
    if (strcmp(name, "ETag") == 0) {
        return d->info.etag;
    }
    if (strcmp(name, "Last-Modified") == 0) {
        return d->info.last_modified;
    }
    if (strcmp(name, "X-Fado-Version-Id") == 0) {
        return d->info.version_id;
    }
    if (strcmp(name, "X-Fado-Cluster") == 0) {
        return d->cluster;
    }
    return NULL;
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

/* ------------------------------------------------------------ JSON routes */

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
void
fado_objects_metadata(fado_req_t *req, const char *bucket, const char *key)
{
    const char             *p[1] = { bucket };
    const char             *version = fado_req_arg(req, "version_id");
    PGresult               *res;
    fado_obj_site_t         sites[FADO_OBJ_MAX_SITES];
    fst_s3_object_info_t   info;
    json_t                 *locations;
    char                    err[768];
    int                     n;

    res = fado_obj_query(req,
        "SELECT c.name, c.zone, c.storage_endpoint, c.storage_access_key,"
        "       c.storage_secret_key, c.name = b.home_cluster, r.state"
        "  FROM buckets b JOIN replicas r ON r.bucket = b.name"
        "  JOIN clusters c ON c.name = r.cluster"
        " WHERE b.name = $1 AND c.storage_endpoint <> ''"
        " ORDER BY c.name = b.home_cluster DESC, c.name", 1, p);
    if (res == NULL) {
        return;
    }
    n = PQntuples(res) < FADO_OBJ_MAX_SITES ? PQntuples(res) : FADO_OBJ_MAX_SITES;
    if (n == 0 || PQgetvalue(res, 0, 5)[0] != 't') {
        PQclear(res);
        (void) fado_obj_sites(req, bucket, NULL, 1, sites, 1);  /* answers 404 / 409 */
        return;
    }
    if (version != NULL && !fado_valid_cursor(version)) {
        PQclear(res);
        fado_req_error(req, 400, "invalid_field", "version_id", "version_id is not a version");
        return;
    }
    fado_obj_db_release(req);
    locations = json_array();
    for (int i = 0; i < n && locations != NULL; i++) {
        fst_s3_client_t       *c;
        fst_s3_object_info_t   ri;
        int                     present = 0;

        fado_obj_site_fill(&sites[i], res, i);
        c = fst_s3_client_new(sites[i].endpoint, sites[i].access_key, sites[i].secret_key,
                               NULL, err, sizeof(err));
        if (c == NULL) {
            break;
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
            json_decref(locations);
            PQclear(res);
            if (st == 404) {
                fado_req_error(req, 404, "not_found", "key",
                               "object \"%s\" not found in bucket \"%s\"", key, bucket);
            } else if (fst_s3_timed_out()) {
                fado_obj_timeout(req, sites[0].name, err);
            } else {
                fado_obj_storage_error(req, st, code, sites[0].name, err);
            }
            return;
        }
        fst_s3_client_free(c);
        if (i == 0) {
            info = ri;
        }
        json_array_append_new(locations, json_pack("{s:s, s:s, s:b, s:b, s:s}",
                              "cluster", sites[i].name, "zone", sites[i].zone,
                              "home", sites[i].is_home, "present", present,
                              "replica_state", PQgetvalue(res, i, 6)));
    }
    PQclear(res);
    if (locations == NULL || n == 0) {
        json_decref(locations);
        fado_req_error(req, 500, "internal", NULL, "out of memory");
        return;
    }
    req->status = 200;
    req->json = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o}",
                          "bucket", bucket, "key", key, "version_id", info.version_id,
                          "size", (json_int_t) info.size, "etag", info.etag,
                          "content_type", info.content_type,
                          "last_modified", info.last_modified,
                          "replication_status", info.replication_status[0]
                                                ? info.replication_status : "NONE",
                          "locations", locations);
}

void
fado_objects_delete(fado_req_t *req, const char *bucket, const char *key)
{
    fado_obj_site_t    home;
    fst_s3_client_t  *c;
    const char        *version = fado_req_arg(req, "version_id");
    char               err[768], code[64];
    long               status;

    if (fado_obj_home_down(req, bucket) || fado_obj_sites(req, bucket, NULL, 1, &home, 1) != 1) {
        return;
    }
    c = fst_s3_client_new(home.endpoint, home.access_key, home.secret_key, NULL, err,
                           sizeof(err));
    if (c == NULL) {
        fado_req_error(req, 500, "internal", NULL, "%s", err);
        return;
    }
    if (version != NULL && !fado_valid_cursor(version)) {
        fst_s3_client_free(c);
        fado_req_error(req, 400, "invalid_field", "version_id", "version_id is not a version");
        return;
    }
    fado_obj_db_release(req);
    if (fst_s3_object_delete(c, bucket, key, version && version[0] ? version : NULL,
                              err, sizeof(err)) != 0)
    {
        status = fst_s3_last_status(c);
        snprintf(code, sizeof(code), "%s", fst_s3_last_code(c));
        fst_s3_client_free(c);
        if (fst_s3_timed_out()) {
            fado_obj_timeout(req, home.name, err);
        } else if (status == 0) {
            fado_obj_home_error(req, bucket, home.name, err);
        } else {
            fado_obj_storage_error(req, status, code, home.name, err);
        }
        return;
    }
    fst_s3_client_free(c);
    if (!fado_obj_db_acquire(req)) {
        /* Deleted on the home; the index follows from events or a scan. */
        req->status = 204;
        json_decref(req->json);
        req->json = NULL;
        return;
    }
    {
        const char  *p[3] = { bucket, key, version ? version : "" };
        PGresult    *res = fado_db_query(req->conn,
            "DELETE FROM objects WHERE bucket = $1 AND key = $2"
            " AND ($3 = '' OR version_id = $3)", 3, p, err, sizeof(err), NULL);

        if (res != NULL) {
            PQclear(res);
        }
        if (version != NULL && version[0] != '\0') {
            /* An older version may be the latest again: rescan soon. */
            res = fado_db_query(req->conn,
                "INSERT INTO jobs (kind, bucket) VALUES ('scan', $1)"
                " ON CONFLICT (kind, bucket, cluster) DO UPDATE SET run_after = now()"
                " WHERE jobs.state = 'queued'", 1, p, err, sizeof(err), NULL);
            if (res != NULL) {
                PQclear(res);
            }
        }
    }
    req->status = 204;
    json_decref(req->json);
    req->json = NULL;
}
