/*
 * fado_import: both import shapes become one platform (zones, clusters,
 * buckets, settings), checked field by field before anything is written,
 * then written set-based (jsonb parameters) in one transaction.
 *
 * FaDO's config.json keeps FaDO's meanings (docs/controller.md, "Migrating
 * from FaDO"): a cluster's zones are all kept; target_replica_count counts
 * the replicas besides the home (so fado's count is one more) and is capped
 * at what the allowed zones give, as FaDO's LIMIT caps it; the allowed
 * zones bound the replicas, not the home; management_url is kept; a second
 * storage deployment in one cluster, a deployment for an unknown cluster,
 * a field fado does not know are refused, naming FaDO's own path. Nothing
 * is dropped silently.
 */

#include "fado_import.h"
#include "fado_db.h"
#include "fado_log.h"
#include "fado_policy.h"
#include "fado_valid.h"
#include "fst_s3_client.h"
#include "frc_record.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FADO_IMPORT_MAX_ZONES     16    /* per cluster (sql/005) */
#define FADO_IMPORT_MAX_REPLICAS  63    /* FaDO's count: fado's 64 less the home */

/* The platform both shapes are converted to, before it is written. */
typedef struct {
    json_t  *zones;        /* names */
    json_t  *clusters;     /* {name, zones, storage_endpoint, access_key, secret_key,
                              management_url|null, endpoints|null, path, zones_field} */
    json_t  *buckets;      /* {name, home, allowed_zones, pinned, replicas, policy, cap,
                              path, f_home, f_zones, f_pins} */
    json_t  *settings;     /* {key: value} */
    json_t  *overrides;    /* {bucket, policy, endpoints: [{address, cluster}]} */
    json_t  *storage;      /* FaDO: {cluster, alias, endpoint, access_key, secret_key, path} */
    int      fado_shape;   /* 1: FaDO's config.json */
} fado_import_doc_t;

static int
fado_import_fail(fado_import_error_t *err, fado_import_status_e status, const char *code,
    const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
fado_import_fail(fado_import_error_t *err, fado_import_status_e status, const char *code,
    const char *field, const char *fmt, ...)
{
    va_list  ap;

    err->status = status;
    snprintf(err->code, sizeof(err->code), "%s", code);
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int
fado_import_nomem(fado_import_error_t *err)
{
    return fado_import_fail(err, FADO_IMPORT_INTERNAL, "internal", NULL, "out of memory");
}

/* ------------------------------------------------------------ field helpers */

/* Every member of obj is one fado reads: FaDO's files carry nothing else. */
static int
fado_import_keys(json_t *obj, const char *const *known, const char *path,
    fado_import_error_t *err)
{
    const char  *key;
    json_t      *v;
    char         f[192];

    json_object_foreach(obj, key, v) {
        int  ok = 0;

        for (size_t i = 0; known[i] != NULL; i++) {
            ok |= strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            snprintf(f, sizeof(f), "%s%s", path, key);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s is not a field fado reads here; it would be"
                                    " dropped, so the document is refused", f);
        }
    }
    return 0;
}

/* A string member; NULL with err set when required and absent, or not a string. */
static const char *
fado_import_str(json_t *obj, const char *key, const char *path, int required,
    fado_import_error_t *err)
{
    json_t  *v = json_object_get(obj, key);
    char     f[192];

    snprintf(f, sizeof(f), "%s%s", path, key);
    if (v == NULL || json_is_null(v)) {
        if (required) {
            fado_import_fail(err, FADO_IMPORT_INVALID, "missing_field", f, "%s is required", f);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f, "%s must be a string", f);
        return NULL;
    }
    return json_string_value(v);
}

/* An integer member in lo..hi (def when absent); -1 with err set otherwise. */
static long
fado_import_int(json_t *obj, const char *key, const char *path, long lo, long hi, long def,
    fado_import_error_t *err)
{
    json_t  *v = json_object_get(obj, key);
    char     f[192];

    if (v == NULL || json_is_null(v)) {
        return def;
    }
    snprintf(f, sizeof(f), "%s%s", path, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                         "%s must be an integer from %ld to %ld", f, lo, hi);
        return -1;
    }
    return (long) json_integer_value(v);
}

/*
 * An array of distinct names (zone or cluster rule, or bucket rule), copied
 * into *out; absent is an empty array. min/max bound its length.
 */
static int
fado_import_names(json_t *obj, const char *key, const char *path, size_t min, size_t max,
    json_t **out, fado_import_error_t *err)
{
    json_t  *arr = json_object_get(obj, key), *v;
    size_t   i, j;
    char     f[192];

    snprintf(f, sizeof(f), "%s%s", path, key);
    *out = NULL;
    if (arr == NULL || json_is_null(arr)) {
        arr = NULL;
    } else if (!json_is_array(arr) || json_array_size(arr) > max) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s must be an array of at most %zu names", f, max);
    }
    if ((arr == NULL ? 0 : json_array_size(arr)) < min) {
        return fado_import_fail(err, FADO_IMPORT_INVALID,
                                arr ? "invalid_field" : "missing_field", f,
                                "%s needs at least %zu name%s", f, min, min == 1 ? "" : "s");
    }
    *out = json_array();
    if (*out == NULL) {
        return fado_import_nomem(err);
    }
    json_array_foreach(arr, i, v) {
        const char  *s = json_string_value(v);

        if (s == NULL || !fado_valid_name(s)) {
            json_decref(*out);
            *out = NULL;
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s[%zu] is not a name (1-63 characters of letters,"
                                    " digits, '.', '_', '-')", f, i);
        }
        for (j = 0; j < i; j++) {
            if (strcmp(s, json_string_value(json_array_get(arr, j))) == 0) {
                json_decref(*out);
                *out = NULL;
                return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                        "%s[%zu] repeats \"%s\"", f, i, s);
            }
        }
        if (json_array_append(*out, v) != 0) {
            json_decref(*out);
            *out = NULL;
            return fado_import_nomem(err);
        }
    }
    return 0;
}

/* Adds a name to a set kept as a JSON array (the sets are small). */
static int
fado_import_add_name(json_t *set, const char *name)
{
    json_t  *v;
    size_t   i;

    json_array_foreach(set, i, v) {
        if (strcmp(json_string_value(v), name) == 0) {
            return 0;
        }
    }
    return json_array_append_new(set, json_string(name));
}

/* The index of the object in arr whose member key equals value, or -1. */
static long
fado_import_find(json_t *arr, const char *key, const char *value)
{
    json_t  *v;
    size_t   i;

    json_array_foreach(arr, i, v) {
        const char  *s = json_string_value(json_object_get(v, key));
        if (s != NULL && strcmp(s, value) == 0) {
            return (long) i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------ addresses */

/*
 * A function endpoint as the API takes it (fado_valid_endpoint): "IPv4:port",
 * "[IPv6]:port" or "http[s]://host[:port][/path]", a host name resolved by
 * the controller. The entry keeps what was written and its parts.
 */
static json_t *
fado_import_endpoint(const char *in, long weight, long max_inflight, char *why, size_t wsize)
{
    fado_endpoint_t  ep;
    const char      *bad = fado_valid_endpoint(in, &ep);

    if (bad != NULL) {
        snprintf(why, wsize, "%s", bad);
        return NULL;
    }
    return json_pack("{s:s, s:I, s:I, s:s, s:s, s:i, s:s, s:b}", "address", in,
                     "weight", (json_int_t) weight, "max_inflight", (json_int_t) max_inflight,
                     "scheme", ep.https ? "https" : "http", "host", ep.host, "port", ep.port,
                     "path", ep.path, "named", ep.named);
}

/*
 * FaDO's storage endpoint "host:port" (MinIO's form) and use_ssl make a URL;
 * a URL is taken as it is. The controller resolves the host (libcurl), so
 * host names are fine here.
 */
static int
fado_import_storage_url(const char *ep, int ssl, char *out, size_t size, char *why,
    size_t wsize)
{
    const char  *p = ep, *scheme = ssl ? "https://" : "http://";
    size_t       n;

    if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
        scheme = "";
    } else if (strstr(p, "://") != NULL) {
        snprintf(why, wsize, "must be host:port or an http(s):// URL");
        return -1;
    }
    n = strlen(p);
    if (n == 0 || n > 255) {
        snprintf(why, wsize, "must be 1-255 characters");
        return -1;
    }
    for (const char *c = p; *c; c++) {
        if ((unsigned char) *c <= ' ' || *c == '"' || *c == '\\' || (unsigned char) *c >= 0x7f) {
            snprintf(why, wsize, "holds a space, a quote or a control character");
            return -1;
        }
    }
    if ((size_t) snprintf(out, size, "%s%s", scheme, p) >= size) {
        snprintf(why, wsize, "is too long");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ policies */

/* The one policy table (fado_policy.c): the API's names, FaDO's aliases. */
static const char *
fado_import_policy(const char *name, const char **why)
{
    return fado_policy_lookup(name, why);
}

/* ------------------------------------------------------------ FaDO's shape */

static int
fado_import_fado_clusters(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "name", "zones", NULL };
    json_t                   *arr = json_object_get(in, "clusters"), *v;
    size_t                    i;
    char                      path[64];

    if (arr == NULL || json_array_size(arr) == 0) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "missing_field", "clusters",
                                "clusters is required: FaDO's configuration defines at"
                                " least one cluster");
    }
    json_array_foreach(arr, i, v) {
        const char  *name;
        json_t      *zones, *c;

        snprintf(path, sizeof(path), "clusters[%zu].", i);
        if (!json_is_object(v)) {
            snprintf(path, sizeof(path), "clusters[%zu]", i);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s must be an object", path);
        }
        if (fado_import_keys(v, keys, path, err) != 0
            || (name = fado_import_str(v, "name", path, 1, err)) == NULL)
        {
            return -1;
        }
        if (!fado_valid_name(name)) {
            snprintf(path, sizeof(path), "clusters[%zu].name", i);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s must be 1-63 characters of letters, digits, '.',"
                                    " '_', '-'", path);
        }
        if (fado_import_find(d->clusters, "name", name) >= 0) {
            snprintf(path, sizeof(path), "clusters[%zu].name", i);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s repeats cluster \"%s\"", path, name);
        }
        /* fado places by zones: a cluster in none could hold nothing. */
        if (fado_import_names(v, "zones", path, 1, FADO_IMPORT_MAX_ZONES, &zones, err) != 0) {
            return -1;
        }
        for (size_t k = 0; k < json_array_size(zones); k++) {
            if (fado_import_add_name(d->zones, json_string_value(json_array_get(zones, k)))
                != 0)
            {
                json_decref(zones);
                return fado_import_nomem(err);
            }
        }
        c = json_pack("{s:s, s:o, s:s, s:s, s:s, s:n, s:[], s:s, s:s}", "name", name,
                      "zones", zones, "storage_endpoint", "", "access_key", "",
                      "secret_key", "", "management_url", "endpoints", "path", path,
                      "zones_field", "zones");
        if (c == NULL || json_array_append_new(d->clusters, c) != 0) {
            return fado_import_nomem(err);
        }
    }
    return 0;
}

static int
fado_import_fado_storage(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "cluster_name", "alias", "endpoint", "access_key",
                                         "secret_key", "use_ssl", "management_url", NULL };
    json_t                   *v;
    size_t                    i;
    char                      path[64], f[96], url[320], why[256];

    json_array_foreach(json_object_get(in, "storage_deployments"), i, v) {
        const char  *cname, *alias, *ep, *ak, *sk, *murl;
        json_t      *ssl, *c, *s;
        long         ci, prev;

        snprintf(path, sizeof(path), "storage_deployments[%zu].", i);
        if (!json_is_object(v)) {
            snprintf(path, sizeof(path), "storage_deployments[%zu]", i);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s must be an object", path);
        }
        if (fado_import_keys(v, keys, path, err) != 0
            || (cname = fado_import_str(v, "cluster_name", path, 1, err)) == NULL
            || (alias = fado_import_str(v, "alias", path, 1, err)) == NULL
            || (ep = fado_import_str(v, "endpoint", path, 1, err)) == NULL
            || (ak = fado_import_str(v, "access_key", path, 1, err)) == NULL
            || (sk = fado_import_str(v, "secret_key", path, 1, err)) == NULL)
        {
            return -1;
        }
        murl = fado_import_str(v, "management_url", path, 0, err);
        if (murl == NULL && err->status != FADO_IMPORT_OK) {
            return -1;
        }
        ssl = json_object_get(v, "use_ssl");
        snprintf(f, sizeof(f), "%suse_ssl", path);
        if (ssl != NULL && !json_is_boolean(ssl) && !json_is_null(ssl)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be true or false", f);
        }
        snprintf(f, sizeof(f), "%scluster_name", path);
        ci = fado_import_find(d->clusters, "name", cname);
        if (ci < 0) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "unknown_reference", f,
                                    "%s names cluster \"%s\", which clusters does not define",
                                    f, cname);
        }
        /* One store per cluster: a second would re-home the first's buckets. */
        prev = fado_import_find(d->storage, "cluster", cname);
        if (prev >= 0) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "cluster \"%s\" already has a storage deployment"
                                    " (storage_deployments[%ld], alias \"%s\"); fado keeps one"
                                    " per cluster: define another cluster for this one", cname,
                                    (long) json_integer_value(json_object_get(
                                        json_array_get(d->storage, (size_t) prev), "index")),
                                    json_string_value(json_object_get(
                                        json_array_get(d->storage, (size_t) prev), "alias")));
        }
        snprintf(f, sizeof(f), "%salias", path);
        if (alias[0] == '\0') {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must not be empty", f);
        }
        if (fado_import_find(d->storage, "alias", alias) >= 0) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s repeats alias \"%s\"", f, alias);
        }
        snprintf(f, sizeof(f), "%sendpoint", path);
        if (fado_import_storage_url(ep, json_is_true(ssl), url, sizeof(url), why,
                                    sizeof(why)) != 0)
        {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f, "%s %s", f, why);
        }
        if (ak[0] == '\0' || sk[0] == '\0') {
            snprintf(f, sizeof(f), "%s%s", path, ak[0] == '\0' ? "access_key" : "secret_key");
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must not be empty", f);
        }
        if (murl != NULL && murl[0] != '\0'
            && ((strncmp(murl, "http://", 7) != 0 && strncmp(murl, "https://", 8) != 0)
                || strlen(murl) > 2048 || !fado_valid_utf8(murl, strlen(murl))))
        {
            snprintf(f, sizeof(f), "%smanagement_url", path);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be an http:// or https:// URL (up to 2048 bytes)",
                                    f);
        }
        c = json_array_get(d->clusters, (size_t) ci);
        if (json_object_set_new(c, "storage_endpoint", json_string(url)) != 0
            || json_object_set_new(c, "access_key", json_string(ak)) != 0
            || json_object_set_new(c, "secret_key", json_string(sk)) != 0
            || json_object_set_new(c, "management_url", json_string(murl ? murl : "")) != 0)
        {
            return fado_import_nomem(err);
        }
        s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "cluster", cname, "alias", alias,
                      "endpoint", url, "access_key", ak, "secret_key", sk, "path", path,
                      "index", (json_int_t) i);
        if (s == NULL || json_array_append_new(d->storage, s) != 0) {
            return fado_import_nomem(err);
        }
    }
    return 0;
}

static int
fado_import_fado_faas(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "cluster_name", "url", NULL };
    json_t                   *v;
    size_t                    i;
    char                      path[64], f[96], why[256];

    json_array_foreach(json_object_get(in, "faas_deployments"), i, v) {
        const char  *cname, *url;
        json_t      *c, *eps, *ep;
        long         ci;

        snprintf(path, sizeof(path), "faas_deployments[%zu].", i);
        if (!json_is_object(v)) {
            snprintf(path, sizeof(path), "faas_deployments[%zu]", i);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s must be an object", path);
        }
        if (fado_import_keys(v, keys, path, err) != 0
            || (cname = fado_import_str(v, "cluster_name", path, 1, err)) == NULL
            || (url = fado_import_str(v, "url", path, 1, err)) == NULL)
        {
            return -1;
        }
        snprintf(f, sizeof(f), "%scluster_name", path);
        ci = fado_import_find(d->clusters, "name", cname);
        if (ci < 0) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "unknown_reference", f,
                                    "%s names cluster \"%s\", which clusters does not define",
                                    f, cname);
        }
        snprintf(f, sizeof(f), "%surl", path);
        ep = fado_import_endpoint(url, 1, 0, why, sizeof(why));
        if (ep == NULL) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be IPv4:port, [IPv6]:port or"
                                    " http[s]://host[:port][/path]: %s", f, why);
        }
        c = json_array_get(d->clusters, (size_t) ci);
        eps = json_object_get(c, "endpoints");
        if (fado_import_find(eps, "address", url) >= 0) {
            json_decref(ep);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s repeats endpoint %s of cluster \"%s\"", f, url, cname);
        }
        if (json_array_append_new(eps, ep) != 0) {
            return fado_import_nomem(err);
        }
    }
    return 0;
}

static int
fado_import_fado_buckets(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "name", "storage_deployment_alias", "allowed_zones",
                                         "target_replica_count", NULL };
    json_t                   *v;
    size_t                    i;
    char                      path[64], f[96], fz[96];

    json_array_foreach(json_object_get(in, "buckets"), i, v) {
        const char  *name, *alias;
        json_t      *zones, *b;
        long         si, count;

        snprintf(path, sizeof(path), "buckets[%zu].", i);
        if (!json_is_object(v)) {
            snprintf(path, sizeof(path), "buckets[%zu]", i);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s must be an object", path);
        }
        if (fado_import_keys(v, keys, path, err) != 0
            || (name = fado_import_str(v, "name", path, 1, err)) == NULL)
        {
            return -1;
        }
        snprintf(f, sizeof(f), "%sname", path);
        if (!fado_valid_bucket(name)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s: bucket names are 3-63 characters of a-z, 0-9, '.', '-'"
                                    " (S3 rules)", f);
        }
        if (fado_import_find(d->buckets, "name", name) >= 0) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s repeats bucket \"%s\"", f, name);
        }
        if ((alias = fado_import_str(v, "storage_deployment_alias", path, 1, err)) == NULL) {
            return -1;
        }
        snprintf(f, sizeof(f), "%sstorage_deployment_alias", path);
        si = fado_import_find(d->storage, "alias", alias);
        if (si < 0) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "unknown_reference", f,
                                    "%s names storage deployment \"%s\", which"
                                    " storage_deployments does not define", f, alias);
        }
        /* FaDO counts the replicas besides the home; 0 (its default) is the home alone. */
        count = fado_import_int(v, "target_replica_count", path, 0, FADO_IMPORT_MAX_REPLICAS, 0,
                                err);
        if (count < 0) {
            return -1;
        }
        if (fado_import_names(v, "allowed_zones", path, 0, 64, &zones, err) != 0) {
            return -1;
        }
        /* A zone no cluster is in is FaDO's way to get no replicas there. */
        for (size_t k = 0; k < json_array_size(zones); k++) {
            if (fado_import_add_name(d->zones, json_string_value(json_array_get(zones, k)))
                != 0)
            {
                json_decref(zones);
                return fado_import_nomem(err);
            }
        }
        snprintf(fz, sizeof(fz), "%sallowed_zones", path);
        b = json_pack("{s:s, s:O, s:o, s:[], s:I, s:s, s:b, s:s, s:s, s:s, s:s}",
                      "name", name,
                      "home", json_object_get(json_array_get(d->storage, (size_t) si), "cluster"),
                      "allowed_zones", zones, "pinned", "replicas", (json_int_t) count + 1,
                      "policy", "-", "cap", 1, "path", path, "f_home", f, "f_zones", fz,
                      "f_pins", fz);
        if (b == NULL || json_array_append_new(d->buckets, b) != 0) {
            return fado_import_nomem(err);
        }
    }
    return 0;
}

/*
 * One of FaDO's route overrides, {"bucket_name", "policy", "upstreams"},
 * as the bucket's route_override (docs/controller.md, "Route overrides").
 * An override endpoint belongs to a cluster: each upstream must be a
 * function endpoint of a cluster in the file, by its literal address (an
 * override is not resolved, so a named endpoint cannot be one).
 */
static int
fado_import_fado_override(fado_import_doc_t *d, const char *bucket, json_t *o,
    fado_import_error_t *err)
{
    static const char *const  keys[] = { "bucket_name", "policy", "upstreams", NULL };
    char                      path[160], f[200];
    const char               *policy = "-", *token, *why = NULL;
    json_t                   *ups, *up, *eps, *ov;
    size_t                    i;

    snprintf(path, sizeof(path), "load_balancer.route_overrides.%s.", bucket);
    snprintf(f, sizeof(f), "load_balancer.route_overrides.%s", bucket);
    if (!json_is_object(o)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s must be an object", f);
    }
    if (fado_import_keys(o, keys, path, err) != 0) {
        return -1;
    }
    if (fado_import_find(d->buckets, "name", bucket) < 0) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s names no bucket of the file", f);
    }
    if (json_object_get(o, "policy") != NULL) {
        policy = fado_import_str(o, "policy", path, 0, err);
        if (policy == NULL) {
            return err->status != FADO_IMPORT_OK ? -1 : 0;
        }
    }
    token = fado_import_policy(policy, &why);
    if (token == NULL) {
        snprintf(f, sizeof(f), "%spolicy", path);
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s \"%s\" has no equivalent: %s", f, policy, why);
    }
    ups = json_object_get(o, "upstreams");
    if (!json_is_array(ups) || json_array_size(ups) == 0
        || json_array_size(ups) > FRC_MAX_ENDPOINTS)
    {
        snprintf(f, sizeof(f), "%supstreams", path);
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s must be an array of 1 to %d addresses", f,
                                FRC_MAX_ENDPOINTS);
    }
    eps = json_array();
    if (eps == NULL) {
        return fado_import_nomem(err);
    }
    json_array_foreach(ups, i, up) {
        fado_endpoint_t  ep;
        const char      *bad, *cluster = NULL;
        char             addr[300];
        json_t          *c, *e;
        size_t           ci, ei;

        snprintf(f, sizeof(f), "%supstreams[%zu]", path, i);
        bad = json_is_string(up) ? fado_valid_endpoint(json_string_value(up), &ep)
                                 : "not a string";
        if (bad == NULL && (ep.named || ep.https || ep.path[0] != '\0')) {
            bad = "an override endpoint is a literal address, plain http, no path";
        }
        if (bad != NULL) {
            json_decref(eps);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be IPv4:port or [IPv6]:port: %s", f, bad);
        }
        json_array_foreach(d->clusters, ci, c) {
            json_array_foreach(json_object_get(c, "endpoints"), ei, e) {
                if (!json_is_true(json_object_get(e, "named"))
                    && json_integer_value(json_object_get(e, "port")) == ep.port
                    && json_string_value(json_object_get(e, "host")) != NULL
                    && strcmp(json_string_value(json_object_get(e, "host")), ep.host) == 0)
                {
                    cluster = json_string_value(json_object_get(c, "name"));
                }
            }
        }
        if (cluster == NULL) {
            json_decref(eps);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s is no function endpoint (by address) of a cluster in"
                                    " the file: an override endpoint belongs to a cluster", f);
        }
        snprintf(addr, sizeof(addr), strchr(ep.host, ':') ? "[%s]:%d" : "%s:%d", ep.host,
                 ep.port);
        for (ei = 0; ei < json_array_size(eps); ei++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(eps, ei), "address")),
                       addr) == 0)
            {
                json_decref(eps);
                return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                        "%s repeats %s", f, addr);
            }
        }
        if (json_array_append_new(eps, json_pack("{s:s, s:s}", "address", addr,
                                                 "cluster", cluster)) != 0)
        {
            json_decref(eps);
            return fado_import_nomem(err);
        }
    }
    ov = json_pack("{s:s, s:s, s:o}", "bucket", bucket, "policy", token, "endpoints", eps);
    if (ov == NULL || json_array_append_new(d->overrides, ov) != 0) {
        return fado_import_nomem(err);
    }
    return 0;
}

/*
 * FaDO's load-balancer settings as its API takes them (PUT
 * /api/load-balancer/settings and /route-overrides): "load_balancer":
 * {"policy", "match_header", "route_overrides"}. Not in its config.json;
 * read when an export carries them.
 */
static int
fado_import_fado_lb(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "policy", "match_header", "route_overrides", NULL };
    json_t                   *lb = json_object_get(in, "load_balancer"), *ro;
    const char               *policy, *header, *token, *why = NULL;

    if (lb == NULL || json_is_null(lb)) {
        return 0;
    }
    if (!json_is_object(lb)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", "load_balancer",
                                "load_balancer must be an object");
    }
    if (fado_import_keys(lb, keys, "load_balancer.", err) != 0) {
        return -1;
    }
    policy = fado_import_str(lb, "policy", "load_balancer.", 0, err);
    if (policy == NULL && err->status != FADO_IMPORT_OK) {
        return -1;
    }
    if (policy != NULL) {
        token = fado_import_policy(policy, &why);
        if (token == NULL) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field",
                                    "load_balancer.policy", "load_balancer.policy \"%s\" has"
                                    " no equivalent: %s", policy, why);
        }
        if (json_object_set_new(d->settings, "default_policy", json_string(token)) != 0) {
            return fado_import_nomem(err);
        }
    }
    header = fado_import_str(lb, "match_header", "load_balancer.", 0, err);
    if (header == NULL && err->status != FADO_IMPORT_OK) {
        return -1;
    }
    /* the gateway's rule for the value it takes (lib/route/frc_record.c) */
    if (header != NULL) {
        if (!frc_record_header_valid(header, strlen(header))) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field",
                                    "load_balancer.match_header", "load_balancer.match_header"
                                    " must be a header name (1-64 letters, digits, '-')");
        }
        if (json_object_set_new(d->settings, "bucket_header", json_string(header)) != 0) {
            return fado_import_nomem(err);
        }
    }
    ro = json_object_get(lb, "route_overrides");
    if (ro != NULL && !json_is_null(ro) && !json_is_object(ro)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field",
                                "load_balancer.route_overrides",
                                "load_balancer.route_overrides must be an object");
    }
    if (ro != NULL && json_is_object(ro)) {
        const char  *bucket;
        json_t      *o;

        json_object_foreach(ro, bucket, o) {
            if (fado_import_fado_override(d, bucket, o, err) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
fado_import_from_fado(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "clusters", "storage_deployments", "faas_deployments",
                                         "buckets", "load_balancer", NULL };
    static const char *const  arrays[] = { "clusters", "storage_deployments",
                                           "faas_deployments", "buckets", NULL };

    if (fado_import_keys(in, keys, "", err) != 0) {
        return -1;
    }
    for (size_t i = 0; arrays[i] != NULL; i++) {
        json_t  *v = json_object_get(in, arrays[i]);

        if (v != NULL && !json_is_array(v)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", arrays[i],
                                    "%s must be an array", arrays[i]);
        }
    }
    if (fado_import_fado_clusters(in, d, err) != 0
        || fado_import_fado_storage(in, d, err) != 0
        || fado_import_fado_faas(in, d, err) != 0
        || fado_import_fado_buckets(in, d, err) != 0
        || fado_import_fado_lb(in, d, err) != 0)
    {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ fado's shape */

static int
fado_import_own_cluster(json_t *v, const char *path, fado_import_doc_t *d,
    fado_import_error_t *err)
{
    const char               *name, *zone, *murl, *ep = "", *ak = NULL, *sk = NULL;
    json_t                   *zones, *fns, *fn, *storage, *eps, *c, *epj;
    size_t                    i;
    char                      f[192], why[256];

    if ((name = fado_import_str(v, "name", path, 1, err)) == NULL) {
        return -1;
    }
    snprintf(f, sizeof(f), "%sname", path);
    if (!fado_valid_name(name)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "name must be 1-63 characters of letters, digits, '.', '_', '-'");
    }
    if (fado_import_find(d->clusters, "name", name) >= 0) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s repeats cluster \"%s\"", f, name);
    }
    /* zones (1..16), or zone as before multi-zone clusters; both if they agree. */
    zone = fado_import_str(v, "zone", path, 0, err);
    if (zone == NULL && err->status != FADO_IMPORT_OK) {
        return -1;
    }
    if (json_object_get(v, "zones") != NULL) {
        if (fado_import_names(v, "zones", path, 1, FADO_IMPORT_MAX_ZONES, &zones, err) != 0) {
            return -1;
        }
        if (zone != NULL && strcmp(zone, json_string_value(json_array_get(zones, 0))) != 0) {
            json_decref(zones);
            snprintf(f, sizeof(f), "%szone", path);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be the first of zones (or be left out)", f);
        }
    } else if (zone != NULL) {
        snprintf(f, sizeof(f), "%szone", path);
        if (!fado_valid_name(zone)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s is not a valid zone name", f);
        }
        zones = json_pack("[s]", zone);
    } else {
        snprintf(f, sizeof(f), "%szones", path);
        return fado_import_fail(err, FADO_IMPORT_INVALID, "missing_field", f,
                                "%s is required (a list of 1 to 16 zone names)", f);
    }
    c = json_pack("{s:s, s:o, s:s, s:s, s:s, s:n, s:n, s:s, s:s}", "name", name,
                  "zones", zones, "storage_endpoint", "", "access_key", "", "secret_key", "",
                  "management_url", "endpoints", "path", path,
                  "zones_field", json_object_get(v, "zones") ? "zones" : "zone");
    if (c == NULL || json_array_append_new(d->clusters, c) != 0) {
        json_decref(c);
        return fado_import_nomem(err);
    }

    fns = json_object_get(v, "functions");
    snprintf(f, sizeof(f), "%sfunctions", path);
    if (fns != NULL && (!json_is_array(fns) || json_array_size(fns) > 64)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "functions must be an array of at most 64 endpoints");
    }
    eps = json_array();
    if (eps == NULL || json_object_set_new(c, "endpoints", eps) != 0) {
        return fado_import_nomem(err);
    }
    json_array_foreach(fns, i, fn) {
        char         sub[160];
        const char  *a;
        long         w, m;

        snprintf(sub, sizeof(sub), "%sfunctions[%zu].", path, i);
        if (!json_is_object(fn)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "functions[%zu] must be an object", i);
        }
        a = json_string_value(json_object_get(fn, "address"));
        if (a == NULL) {
            a = json_string_value(json_object_get(fn, "url"));
        }
        snprintf(f, sizeof(f), "%saddress", sub);
        if (a == NULL) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be IPv4:port, [IPv6]:port or"
                                    " http[s]://host[:port][/path]", f);
        }
        if ((w = fado_import_int(fn, "weight", sub, 1, 1000, 1, err)) < 0
            || (m = fado_import_int(fn, "max_inflight", sub, 0, 65535, 0, err)) < 0)
        {
            return -1;
        }
        epj = fado_import_endpoint(a, w, m, why, sizeof(why));
        if (epj == NULL) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "%s must be IPv4:port, [IPv6]:port or"
                                    " http[s]://host[:port][/path]: %s", f, why);
        }
        if (fado_import_find(eps, "address", a) >= 0) {
            json_decref(epj);
            continue;       /* as before: a repeated endpoint counts once */
        }
        if (json_array_append_new(eps, epj) != 0) {
            return fado_import_nomem(err);
        }
    }

    storage = json_object_get(v, "storage");
    if (storage != NULL && !json_is_null(storage)) {
        char  sp[160];

        snprintf(sp, sizeof(sp), "%sstorage.", path);
        if (!json_is_object(storage)) {
            snprintf(f, sizeof(f), "%sstorage", path);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "storage must be an object");
        }
        if ((ep = fado_import_str(storage, "endpoint", sp, 1, err)) == NULL) {
            return -1;
        }
        if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
            snprintf(f, sizeof(f), "%sendpoint", sp);
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                    "storage.endpoint must be an http:// or https:// URL");
        }
        ak = fado_import_str(storage, "access_key", sp, 0, err);
        sk = err->status == FADO_IMPORT_OK ? fado_import_str(storage, "secret_key", sp, 0, err)
                                           : NULL;
        if (err->status != FADO_IMPORT_OK) {
            return -1;
        }
        if ((ak == NULL) != (sk == NULL)) {
            snprintf(f, sizeof(f), "%s%s", sp, ak ? "secret_key" : "access_key");
            return fado_import_fail(err, FADO_IMPORT_INVALID, "missing_field", f,
                                    "access_key and secret_key go together");
        }
    }
    murl = fado_import_str(v, "management_url", path, 0, err);
    if (err->status != FADO_IMPORT_OK) {
        return -1;
    }
    if (json_object_set_new(c, "storage_endpoint", json_string(ep)) != 0
        || json_object_set_new(c, "access_key", json_string(ak ? ak : "")) != 0
        || json_object_set_new(c, "secret_key", json_string(sk ? sk : "")) != 0
        || (murl != NULL && json_object_set_new(c, "management_url", json_string(murl)) != 0))
    {
        return fado_import_nomem(err);
    }
    return 0;
}

static int
fado_import_own_bucket(json_t *v, const char *path, fado_import_doc_t *d,
    fado_import_error_t *err)
{
    const char  *name, *home, *policy, *why = NULL, *token;
    json_t      *placement, *zones, *pins, *b, *cap;
    long         replicas;
    char         f[192], pp[160], fh[192], fz[192], fp[192];

    if ((name = fado_import_str(v, "name", path, 1, err)) == NULL) {
        return -1;
    }
    snprintf(f, sizeof(f), "%sname", path);
    if (!fado_valid_bucket(name)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "bucket names are 3-63 characters of a-z, 0-9, '.', '-'"
                                " (S3 rules)");
    }
    if (fado_import_find(d->buckets, "name", name) >= 0) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s repeats bucket \"%s\"", f, name);
    }
    if ((home = fado_import_str(v, "home_cluster", path, 1, err)) == NULL) {
        return -1;
    }
    policy = fado_import_str(v, "policy", path, 0, err);
    if (err->status != FADO_IMPORT_OK) {
        return -1;
    }
    token = fado_import_policy(policy ? policy : "-", &why);
    if (token == NULL) {
        snprintf(f, sizeof(f), "%spolicy", path);
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s \"%s\" has no equivalent: %s", f, policy, why);
    }
    placement = json_object_get(v, "placement");
    snprintf(pp, sizeof(pp), "%splacement.", path);
    if (placement != NULL && !json_is_object(placement)) {
        snprintf(f, sizeof(f), "%splacement", path);
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "placement must be an object");
    }
    if (placement == NULL) {
        placement = v;      /* flat form: allowed_zones, replicas at top level */
    }
    if (fado_import_names(placement, "allowed_zones", pp, 0, 64, &zones, err) != 0) {
        return -1;
    }
    if (fado_import_names(placement, "pinned_clusters", pp, 0, 64, &pins, err) != 0) {
        json_decref(zones);
        return -1;
    }
    replicas = fado_import_int(placement, "replicas", pp, 1, 64, 1, err);
    cap = json_object_get(placement, "cap_replicas");
    snprintf(f, sizeof(f), "%scap_replicas", pp);
    if (replicas < 0 || (cap != NULL && !json_is_boolean(cap))) {
        json_decref(zones);
        json_decref(pins);
        return replicas < 0 ? -1
             : fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", f,
                                "%s must be true or false", f);
    }
    snprintf(fh, sizeof(fh), "%shome_cluster", path);
    snprintf(fz, sizeof(fz), "%sallowed_zones", pp);
    snprintf(fp, sizeof(fp), "%spinned_clusters", pp);
    b = json_pack("{s:s, s:s, s:o, s:o, s:I, s:s, s:b, s:s, s:s, s:s, s:s}", "name", name,
                  "home", home, "allowed_zones", zones, "pinned", pins,
                  "replicas", (json_int_t) replicas, "policy", token, "cap", json_is_true(cap),
                  "path", path, "f_home", fh, "f_zones", fz, "f_pins", fp);
    if (b == NULL || json_array_append_new(d->buckets, b) != 0) {
        return fado_import_nomem(err);
    }
    return 0;
}

static int
fado_import_from_own(json_t *in, fado_import_doc_t *d, fado_import_error_t *err)
{
    static const char *const  keys[] = { "zones", "clusters", "buckets", NULL };
    const char               *key;
    json_t                   *v;
    size_t                    i, known = 0;
    char                      path[64];

    if (fado_import_keys(in, keys, "", err) != 0) {
        snprintf(err->message, sizeof(err->message), "\"%s\" is not part of an import"
                 " document (zones, clusters, buckets; or FaDO's clusters,"
                 " storage_deployments, faas_deployments, buckets)", err->field);
        return -1;
    }
    json_object_foreach(in, key, v) {
        if (!json_is_array(v)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", key,
                                    "%s must be an array", key);
        }
        known++;
    }
    if (known == 0) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "missing_field", "zones",
                                "an import document needs zones, clusters or buckets");
    }
    json_array_foreach(json_object_get(in, "zones"), i, v) {
        const char  *name = json_is_string(v) ? json_string_value(v)
                          : json_string_value(json_object_get(v, "name"));

        snprintf(path, sizeof(path), "zones[%zu]", i);
        if (name == NULL || !fado_valid_name(name)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "%s must be a zone name", path);
        }
        if (fado_import_add_name(d->zones, name) != 0) {
            return fado_import_nomem(err);
        }
    }
    json_array_foreach(json_object_get(in, "clusters"), i, v) {
        snprintf(path, sizeof(path), "clusters[%zu].", i);
        if (!json_is_object(v)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "must be an object");
        }
        if (fado_import_own_cluster(v, path, d, err) != 0) {
            return -1;
        }
    }
    json_array_foreach(json_object_get(in, "buckets"), i, v) {
        snprintf(path, sizeof(path), "buckets[%zu].", i);
        if (!json_is_object(v)) {
            return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", path,
                                    "must be an object");
        }
        if (fado_import_own_bucket(v, path, d, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ adoption */

typedef struct {
    json_t  *names;
} fado_import_listing_t;

static int
fado_import_list_one(void *ud, const fst_s3_entry_t *e)
{
    fado_import_listing_t  *l = ud;

    return json_array_append_new(l->names, json_string(e->key)) == 0 ? 0 : -1;
}

/*
 * Lists every storage deployment's buckets, before the transaction (no
 * PostgreSQL transaction waits on a MinIO). Sets "found" on each entry.
 */
static int
fado_import_list_storage(fado_import_doc_t *d, fado_import_error_t *err)
{
    json_t  *s;
    size_t   i;
    char     e[512], f[160];

    json_array_foreach(d->storage, i, s) {
        fado_import_listing_t  l;
        fst_s3_client_t      *c;

        snprintf(f, sizeof(f), "%sendpoint", json_string_value(json_object_get(s, "path")));
        c = fst_s3_client_new(json_string_value(json_object_get(s, "endpoint")),
                               json_string_value(json_object_get(s, "access_key")),
                               json_string_value(json_object_get(s, "secret_key")), NULL,
                               e, sizeof(e));
        if (c == NULL) {
            return fado_import_fail(err, FADO_IMPORT_STORAGE, "storage_unavailable", f,
                                    "cannot list the buckets of %s: %s", f, e);
        }
        l.names = json_array();
        if (l.names == NULL) {
            fst_s3_client_free(c);
            return fado_import_nomem(err);
        }
        if (fst_s3_buckets_list(c, fado_import_list_one, &l, e, sizeof(e)) != 0) {
            fst_s3_client_free(c);
            json_decref(l.names);
            return fado_import_fail(err, FADO_IMPORT_STORAGE, "storage_unavailable", f,
                                    "cannot list the buckets of %s (to adopt them): %s", f, e);
        }
        fst_s3_client_free(c);
        if (json_object_set_new(s, "found", l.names) != 0) {
            return fado_import_nomem(err);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ writing */

static int
fado_import_db_fail(fado_import_error_t *err, const char *what, const char *msg,
    const char *state)
{
    if (strcmp(state, "") == 0 || strncmp(state, "08", 2) == 0) {
        return fado_import_fail(err, FADO_IMPORT_DATABASE, "database_unavailable", NULL,
                                "PostgreSQL connection lost");
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0
        || strcmp(state, "23505") == 0)
    {
        return fado_import_fail(err, FADO_IMPORT_CONFLICT, "conflict", NULL,
                                "a concurrent change conflicted with the import (%s); retry",
                                what);
    }
    fado_log(FADO_LOG_ERROR, "msg=\"import query failed\" step=%s sqlstate=%s error=%s", what,
             FADO_LOG_Q(state), FADO_LOG_Q(msg));
    return fado_import_fail(err, FADO_IMPORT_INTERNAL, "internal", NULL,
                            "the import failed while writing %s", what);
}

/* One statement with jsonb parameters; NULL with err set. */
static PGresult *
fado_import_query(PGconn *conn, const char *what, const char *sql, int n,
    const char *const *params, fado_import_error_t *err)
{
    char       msg[512], state[6];
    PGresult  *res = fado_db_query(conn, sql, n, params, msg, sizeof(msg), state);

    if (res == NULL) {
        fado_import_db_fail(err, what, msg, state);
    }
    return res;
}

static int
fado_import_exec(PGconn *conn, const char *what, const char *sql, int n,
    const char *const *params, fado_import_error_t *err)
{
    PGresult  *res = fado_import_query(conn, what, sql, n, params, err);

    if (res == NULL) {
        return -1;
    }
    PQclear(res);
    return 0;
}

/*
 * A reference check: the query answers (index, kind, name) of the first
 * entry naming something that does not exist, or no row.
 */
static int
fado_import_refs(PGconn *conn, const char *sql, const char *param, json_t *entries,
    fado_import_error_t *err)
{
    const char  *p[1] = { param };
    PGresult    *res = fado_import_query(conn, "references", sql, 1, p, err);
    json_t      *e;
    const char  *kind, *name, *field, *what;

    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    e = json_array_get(entries, (size_t) atol(PQgetvalue(res, 0, 0)));
    kind = PQgetvalue(res, 0, 1);
    name = PQgetvalue(res, 0, 2);
    if (strcmp(kind, "zones") == 0) {
        char  f[192];

        snprintf(f, sizeof(f), "%s%s", json_string_value(json_object_get(e, "path")),
                 json_string_value(json_object_get(e, "zones_field")));
        fado_import_fail(err, FADO_IMPORT_UNKNOWN, "unknown_reference", f,
                         "zone \"%s\" does not exist", name);
    } else {
        field = json_string_value(json_object_get(e, kind));
        what = strcmp(kind, "f_zones") == 0 ? "zone" : "cluster";
        fado_import_fail(err, FADO_IMPORT_UNKNOWN, "unknown_reference", field,
                         "%s \"%s\" does not exist", what, name);
    }
    PQclear(res);
    return -1;
}

/* A home moves only to a cluster that holds a ready replica (as a PUT). */
static int
fado_import_home_moves(PGconn *conn, const char *buckets, json_t *entries,
    fado_import_error_t *err)
{
    const char  *p[1] = { buckets };
    PGresult    *res = fado_import_query(conn, "buckets",
        "SELECT n.i - 1, b.name, n.v->>'home', coalesce(r.state, ''), coalesce(c.healthy, false)"
        "  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS n (v, i)"
        "  JOIN buckets b ON b.name = n.v->>'name'"
        "  LEFT JOIN replicas r ON r.bucket = b.name AND r.cluster = n.v->>'home'"
        "  LEFT JOIN clusters c ON c.name = n.v->>'home'"
        " WHERE b.home_cluster <> n.v->>'home'"
        "   AND (r.state IS DISTINCT FROM 'ready' OR NOT c.healthy)"
        " ORDER BY n.i LIMIT 1 FOR UPDATE OF b", 1, p, err);
    json_t      *e;

    if (res == NULL) {
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    e = json_array_get(entries, (size_t) atol(PQgetvalue(res, 0, 0)));
    fado_import_fail(err, FADO_IMPORT_CONFLICT, "home_not_ready",
                     json_string_value(json_object_get(e, "f_home")),
                     "cluster \"%s\" holds no ready replica of bucket \"%s\" (%s): the home"
                     " moves only to a cluster that already has its data",
                     PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1),
                     PQgetvalue(res, 0, 3)[0] ? PQgetvalue(res, 0, 3) : "no replica");
    PQclear(res);
    return -1;
}

/*
 * Adoption, FaDO's way but never overwriting: a bucket found on a storage
 * deployment that neither fado nor the file knows becomes a bucket homed
 * there (the home alone, as FaDO adopts it with target_replica_count 0). A
 * bucket found on its own home is adopted as it is (its data stays). Any
 * other is reported and left alone: FaDO would make it a replica and mirror
 * the home over it.
 */
static int
fado_import_adopt(PGconn *conn, fado_import_doc_t *d, json_t *summary,
    fado_import_error_t *err)
{
    json_t  *adopted = json_array(), *skipped = json_array(), *fresh = json_array(), *s, *n;
    PGresult  *res = NULL;
    size_t   i, k;
    char    *js = NULL;
    int      rc = -1;

    if (adopted == NULL || skipped == NULL || fresh == NULL) {
        fado_import_nomem(err);
        goto done;
    }
    json_array_foreach(d->storage, i, s) {
        const char  *cluster = json_string_value(json_object_get(s, "cluster"));

        json_array_foreach(json_object_get(s, "found"), k, n) {
            const char  *name = json_string_value(n), *reason = NULL;
            long         b = fado_import_find(d->buckets, "name", name);
            long         seen = fado_import_find(fresh, "bucket", name);
            char         why[256];

            if (b >= 0) {
                const char  *home = json_string_value(json_object_get(
                    json_array_get(d->buckets, (size_t) b), "home"));

                if (strcmp(home, cluster) == 0) {
                    if (json_array_append_new(adopted, json_pack("{s:s, s:s, s:s}",
                            "bucket", name, "cluster", cluster, "as", "the file's bucket"))
                        != 0)
                    {
                        fado_import_nomem(err);
                        goto done;
                    }
                    continue;
                }
                snprintf(why, sizeof(why), "the file homes it on \"%s\"; this copy is left"
                         " alone (as a replica it would be overwritten)", home);
                reason = why;
            } else if (seen >= 0) {
                snprintf(why, sizeof(why), "adopted from \"%s\" first; this copy is left alone"
                         " (as a replica it would be overwritten)",
                         json_string_value(json_object_get(json_array_get(fresh, (size_t) seen),
                                                           "cluster")));
                reason = why;
            } else if (!fado_valid_bucket(name)) {
                reason = "not a name fado accepts for a bucket";
            }
            if (reason != NULL) {
                if (json_array_append_new(skipped, json_pack("{s:s, s:s, s:s}", "bucket", name,
                                                             "cluster", cluster,
                                                             "reason", reason)) != 0)
                {
                    fado_import_nomem(err);
                    goto done;
                }
                continue;
            }
            if (json_array_append_new(fresh, json_pack("{s:s, s:s}", "bucket", name,
                                                       "cluster", cluster)) != 0)
            {
                fado_import_nomem(err);
                goto done;
            }
        }
    }
    js = json_dumps(fresh, JSON_COMPACT);
    if (js == NULL) {
        fado_import_nomem(err);
        goto done;
    }
    {
        /* Buckets fado already has keep everything they have. */
        const char  *p[1] = { js };

        res = fado_import_query(conn, "adopted buckets",
            "WITH a AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS a (bucket text,"
            "                                                             cluster text)),"
            " i AS (INSERT INTO buckets (name, home_cluster, replicas, cap_replicas)"
            "       SELECT bucket, cluster, 1, true FROM a ON CONFLICT (name) DO NOTHING"
            "       RETURNING name)"
            " SELECT a.bucket, a.cluster, b.home_cluster, i.name IS NOT NULL"
            "   FROM a LEFT JOIN i ON i.name = a.bucket"
            "   LEFT JOIN buckets b ON b.name = a.bucket"
            "  ORDER BY a.bucket", 1, p, err);
        if (res == NULL) {
            goto done;
        }
        for (int r = 0; r < PQntuples(res); r++) {
            const char  *name = PQgetvalue(res, r, 0), *cluster = PQgetvalue(res, r, 1);
            int          added = PQgetvalue(res, r, 3)[0] == 't', bad;
            char         why[256];

            if (added) {
                bad = json_array_append_new(adopted, json_pack("{s:s, s:s, s:s}", "bucket", name,
                                            "cluster", cluster, "as", "a new bucket"));
            } else {
                const char  *home = PQgetvalue(res, r, 2);

                if (strcmp(home, cluster) == 0) {
                    snprintf(why, sizeof(why), "fado manages it already, homed here");
                } else {
                    snprintf(why, sizeof(why), "fado homes it on \"%s\"; this copy is left"
                             " alone (as a replica it would be overwritten)", home);
                }
                bad = json_array_append_new(skipped, json_pack("{s:s, s:s, s:s}", "bucket",
                                            name, "cluster", cluster, "reason", why));
            }
            if (bad != 0) {
                fado_import_nomem(err);
                goto done;
            }
        }
    }
    if (json_object_set(summary, "adopted", adopted) != 0
        || json_object_set(summary, "not_adopted", skipped) != 0)
    {
        fado_import_nomem(err);
        goto done;
    }
    rc = 0;

done:
    if (res != NULL) {
        PQclear(res);
    }
    free(js);
    json_decref(adopted);
    json_decref(skipped);
    json_decref(fresh);
    return rc;
}

static int
fado_import_write(PGconn *conn, fado_import_doc_t *d, const fado_import_options_t *opt,
    json_t *summary, fado_import_error_t *err)
{
    char  *zs = json_dumps(d->zones, JSON_COMPACT);
    char  *cs = json_dumps(d->clusters, JSON_COMPACT);
    char  *bs = json_dumps(d->buckets, JSON_COMPACT);
    char  *ss = json_dumps(d->settings, JSON_COMPACT);
    char  *os = json_dumps(d->overrides, JSON_COMPACT);
    int    rc = -1;

    if (zs == NULL || cs == NULL || bs == NULL || ss == NULL || os == NULL) {
        fado_import_nomem(err);
        goto done;
    }
    {
        const char  *pz[1] = { zs }, *pc[1] = { cs }, *pb[1] = { bs }, *ps[1] = { ss };
        const char  *po[1] = { os };

        if (fado_import_exec(conn, "zones",
                "INSERT INTO zones (name) SELECT jsonb_array_elements_text($1::jsonb)"
                " ON CONFLICT DO NOTHING", 1, pz, err) != 0
            || fado_import_refs(conn,
                "SELECT c.i - 1, 'zones', z"
                "  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS c (v, i),"
                "       jsonb_array_elements_text(c.v->'zones') AS z"
                " WHERE NOT EXISTS (SELECT 1 FROM zones WHERE name = z)"
                " ORDER BY c.i LIMIT 1", cs, d->clusters, err) != 0)
        {
            goto done;
        }
        /* Credentials and management URL absent from the file are kept. A
         * cluster that is the same is not written (a repeated import
         * changes nothing, its version included). */
        if (fado_import_exec(conn, "clusters",
                "INSERT INTO clusters (name, zone, zones, storage_endpoint, storage_access_key,"
                "                      storage_secret_key, management_url)"
                " SELECT n.name, n.zones[1], n.zones, n.storage_endpoint,"
                "        coalesce(nullif(n.access_key, ''), c.storage_access_key, ''),"
                "        coalesce(nullif(n.secret_key, ''), c.storage_secret_key, ''),"
                "        coalesce(n.management_url, c.management_url, '')"
                "   FROM jsonb_to_recordset($1::jsonb) AS n (name text, zones text[],"
                "        storage_endpoint text, access_key text, secret_key text,"
                "        management_url text)"
                "   LEFT JOIN clusters c ON c.name = n.name"
                " ON CONFLICT (name) DO UPDATE SET zone = EXCLUDED.zone, zones = EXCLUDED.zones,"
                "   storage_endpoint = EXCLUDED.storage_endpoint,"
                "   storage_access_key = EXCLUDED.storage_access_key,"
                "   storage_secret_key = EXCLUDED.storage_secret_key,"
                "   management_url = EXCLUDED.management_url, version = clusters.version + 1"
                " WHERE (clusters.zones, clusters.storage_endpoint, clusters.storage_access_key,"
                "        clusters.storage_secret_key, clusters.management_url)"
                "   IS DISTINCT FROM (EXCLUDED.zones, EXCLUDED.storage_endpoint,"
                "        EXCLUDED.storage_access_key, EXCLUDED.storage_secret_key,"
                "        EXCLUDED.management_url)", 1, pc, err) != 0
            /* The file's endpoints replace the cluster's; the same ones stay put. */
            || fado_import_exec(conn, "endpoints",
                "DELETE FROM endpoints e USING jsonb_to_recordset($1::jsonb)"
                "       AS n (name text, endpoints jsonb)"
                " WHERE e.cluster = n.name AND n.endpoints IS NOT NULL"
                "   AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(n.endpoints) ep"
                "                    WHERE ep->>'address' = e.address)", 1, pc, err) != 0
            || fado_import_exec(conn, "endpoints",
                "INSERT INTO endpoints (cluster, address, weight, max_inflight, scheme, host,"
                "                       port, path, named)"
                " SELECT n.name, ep.address, ep.weight, ep.max_inflight, ep.scheme, ep.host,"
                "        ep.port, ep.path, ep.named"
                "   FROM jsonb_to_recordset($1::jsonb) AS n (name text, endpoints jsonb),"
                "        jsonb_to_recordset(coalesce(n.endpoints, '[]')) AS ep (address text,"
                "        weight int, max_inflight int, scheme text, host text, port int,"
                "        path text, named boolean)"
                " ON CONFLICT (cluster, address) DO UPDATE SET weight = EXCLUDED.weight,"
                "   max_inflight = EXCLUDED.max_inflight"
                " WHERE (endpoints.weight, endpoints.max_inflight)"
                "   IS DISTINCT FROM (EXCLUDED.weight, EXCLUDED.max_inflight)", 1, pc, err) != 0)
        {
            goto done;
        }
        if (fado_import_refs(conn,
                "SELECT i - 1, kind, name FROM ("
                "  SELECT b.i, 1 AS o, 'f_home' AS kind, b.v->>'home' AS name"
                "    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b (v, i)"
                "   WHERE NOT EXISTS (SELECT 1 FROM clusters WHERE name = b.v->>'home')"
                "  UNION ALL"
                "  SELECT b.i, 2, 'f_zones', z"
                "    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b (v, i),"
                "         jsonb_array_elements_text(b.v->'allowed_zones') AS z"
                "   WHERE NOT EXISTS (SELECT 1 FROM zones WHERE name = z)"
                "  UNION ALL"
                "  SELECT b.i, 3, 'f_pins', c"
                "    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b (v, i),"
                "         jsonb_array_elements_text(b.v->'pinned') AS c"
                "   WHERE NOT EXISTS (SELECT 1 FROM clusters WHERE name = c)) r"
                " ORDER BY i, o LIMIT 1", bs, d->buckets, err) != 0
            || fado_import_home_moves(conn, bs, d->buckets, err) != 0
            || fado_import_exec(conn, "buckets",
                "INSERT INTO buckets (name, home_cluster, allowed_zones, replicas,"
                "                     pinned_clusters, policy, cap_replicas)"
                " SELECT name, home, allowed_zones, replicas, pinned, policy, cap"
                "   FROM jsonb_to_recordset($1::jsonb) AS n (name text, home text,"
                "        allowed_zones text[], replicas int, pinned text[], policy text,"
                "        cap boolean)"
                " ON CONFLICT (name) DO UPDATE SET home_cluster = EXCLUDED.home_cluster,"
                "   allowed_zones = EXCLUDED.allowed_zones, replicas = EXCLUDED.replicas,"
                "   pinned_clusters = EXCLUDED.pinned_clusters, policy = EXCLUDED.policy,"
                "   cap_replicas = EXCLUDED.cap_replicas, version = buckets.version + 1"
                " WHERE (buckets.home_cluster, buckets.allowed_zones, buckets.replicas,"
                "        buckets.pinned_clusters, buckets.policy, buckets.cap_replicas)"
                "   IS DISTINCT FROM (EXCLUDED.home_cluster, EXCLUDED.allowed_zones,"
                "        EXCLUDED.replicas, EXCLUDED.pinned_clusters, EXCLUDED.policy,"
                "        EXCLUDED.cap_replicas)", 1, pb, err) != 0
            || fado_import_exec(conn, "settings",
                "UPDATE settings s SET value = n.value"
                "  FROM jsonb_each_text($1::jsonb) AS n (key, value)"
                " WHERE s.key = n.key AND s.value <> n.value", 1, ps, err) != 0)
        {
            goto done;
        }
        /* FaDO's route overrides: the buckets' route_override, in order. */
        if (json_array_size(d->overrides) > 0
            && (fado_import_exec(conn, "route_overrides",
                    "INSERT INTO route_overrides (bucket, policy)"
                    " SELECT o->>'bucket', o->>'policy' FROM jsonb_array_elements($1::jsonb) o"
                    " ON CONFLICT (bucket) DO UPDATE SET policy = EXCLUDED.policy,"
                    "   updated_at = now()"
                    " WHERE route_overrides.policy IS DISTINCT FROM EXCLUDED.policy",
                    1, po, err) != 0
                || fado_import_exec(conn, "route_overrides",
                    "DELETE FROM route_override_endpoints WHERE bucket IN"
                    " (SELECT o->>'bucket' FROM jsonb_array_elements($1::jsonb) o)",
                    1, po, err) != 0
                || fado_import_exec(conn, "route_overrides",
                    "INSERT INTO route_override_endpoints (bucket, position, address, cluster)"
                    " SELECT o->>'bucket', (e.i - 1)::int, e.v->>'address', e.v->>'cluster'"
                    "   FROM jsonb_array_elements($1::jsonb) o,"
                    "        jsonb_array_elements(o->'endpoints') WITH ORDINALITY AS e (v, i)",
                    1, po, err) != 0))
        {
            goto done;
        }
    }
    if (opt->adopt && fado_import_adopt(conn, d, summary, err) != 0) {
        goto done;
    }
    rc = 0;

done:
    free(zs);
    free(cs);
    free(bs);
    free(ss);
    free(os);
    return rc;
}

/* ------------------------------------------------------------ entry */

/*
 * FaDO's configuration names its deployments, and its buckets name a
 * storage deployment; fado's own shape has neither.
 */
static int
fado_import_is_fado(json_t *doc)
{
    json_t  *v;
    size_t   i;

    if (json_object_get(doc, "storage_deployments") != NULL
        || json_object_get(doc, "faas_deployments") != NULL
        || json_object_get(doc, "load_balancer") != NULL)
    {
        return 1;
    }
    json_array_foreach(json_object_get(doc, "buckets"), i, v) {
        if (json_object_get(v, "storage_deployment_alias") != NULL
            || json_object_get(v, "target_replica_count") != NULL)
        {
            return 1;
        }
    }
    return 0;
}

int
fado_import(PGconn *conn, json_t *doc, const fado_import_options_t *opt, json_t **summary,
    fado_import_error_t *err)
{
    fado_import_doc_t  d;
    json_t            *sum = NULL;
    int                rc = -1;

    memset(err, 0, sizeof(*err));
    *summary = NULL;
    if (!json_is_object(doc)) {
        return fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_json", NULL,
                                "an import document is a JSON object");
    }
    memset(&d, 0, sizeof(d));
    d.zones = json_array();
    d.clusters = json_array();
    d.buckets = json_array();
    d.settings = json_object();
    d.overrides = json_array();
    d.storage = json_array();
    d.fado_shape = fado_import_is_fado(doc);
    if (d.zones == NULL || d.clusters == NULL || d.buckets == NULL || d.settings == NULL
        || d.overrides == NULL
        || d.storage == NULL)
    {
        fado_import_nomem(err);
        goto done;
    }
    if ((d.fado_shape ? fado_import_from_fado(doc, &d, err)
                      : fado_import_from_own(doc, &d, err)) != 0)
    {
        goto done;
    }
    if (opt->adopt && !d.fado_shape) {
        fado_import_fail(err, FADO_IMPORT_INVALID, "invalid_field", "adopt",
                         "adopt applies to FaDO's storage_deployments; this document has none");
        goto done;
    }
    if (opt->adopt && fado_import_list_storage(&d, err) != 0) {
        goto done;
    }
    sum = d.fado_shape
        ? json_pack("{s:s, s:I, s:I, s:I}", "format", "FaDO",
                    "zones", (json_int_t) json_array_size(d.zones),
                    "clusters", (json_int_t) json_array_size(d.clusters),
                    "buckets", (json_int_t) json_array_size(d.buckets))
        : json_pack("{s:I, s:I, s:I}", "zones", (json_int_t) json_array_size(d.zones),
                    "clusters", (json_int_t) json_array_size(d.clusters),
                    "buckets", (json_int_t) json_array_size(d.buckets));
    if (sum == NULL) {
        fado_import_nomem(err);
        goto done;
    }
    if (fado_import_exec(conn, "the transaction", "BEGIN", 0, NULL, err) != 0) {
        goto done;
    }
    if (fado_import_write(conn, &d, opt, sum, err) != 0) {
        char       msg[256], state[6];
        PGresult  *res = fado_db_query(conn, "ROLLBACK", 0, NULL, msg, sizeof(msg), state);

        if (res != NULL) {
            PQclear(res);
        }
        goto done;
    }
    if (fado_import_exec(conn, "the transaction", "COMMIT", 0, NULL, err) != 0) {
        goto done;
    }
    *summary = sum;
    sum = NULL;
    rc = 0;

done:
    json_decref(sum);
    json_decref(d.zones);
    json_decref(d.clusters);
    json_decref(d.buckets);
    json_decref(d.settings);
    json_decref(d.overrides);
    json_decref(d.storage);
    return rc;
}
