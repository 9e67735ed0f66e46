/*
 * fado_resolve: DNS names of function endpoints, resolved by the leader
 * (see fado_resolve.h).
 *
 * Lookups use getaddrinfo, so a name resolves as every other program on
 * the host resolves it: /etc/hosts, resolv.conf's search domains (a
 * Kubernetes service's short name), nsswitch. FADO_RESOLVER replaces only
 * the DNS servers, in this thread's resolver state (glibc keeps one per
 * thread and does not reload resolv.conf over a state the program
 * changed), so a deployment or a test can point fado at a DNS server of
 * its own, on any port, without editing /etc/resolv.conf.
 */

#include "fado_resolve.h"
#include "fado_log.h"
#include "fado_valid.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define FADO_RESOLVE_BATCH     64      /* names looked up per round */
#define FADO_RESOLVE_TICK_MS   1000    /* how often due names are looked for */
#define FADO_RESOLVE_MAX_ADDRS 32      /* addresses kept per name */
/* the addresses as a JSON array: quotes and a comma each */
#define FADO_RESOLVE_TEXT      (FADO_RESOLVE_MAX_ADDRS * (INET6_ADDRSTRLEN + 3) + 8)

struct fado_resolver_s {
    fado_db_t              *db;
    fado_reconciler_t      *rec;
    fado_resolve_config_t   conf;
    pthread_t               thread;
    pthread_mutex_t         lock;
    pthread_cond_t          cond;
    atomic_int              stopping;
    time_t                  last_sweep;
};

static atomic_ulong  fado_resolve_lookups;
static atomic_ulong  fado_resolve_failures;
static atomic_ulong  fado_resolve_changes;

/* ------------------------------------------------------------ config */

static int
fado_resolve_env_int(const char *name, int def, int lo, int hi, int *out, char *err,
    size_t err_len)
{
    const char  *v = getenv(name);
    char        *end;
    long         n;

    if (v == NULL || *v == '\0') {
        *out = def;
        return 0;
    }
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi) {
        snprintf(err, err_len, "%s must be an integer from %d to %d", name, lo, hi);
        return -1;
    }
    *out = (int) n;
    return 0;
}

/* "ip[:port]" into sin; 0 or -1. */
static int
fado_resolve_server(const char *s, size_t len, struct sockaddr_in *sin)
{
    char         host[INET_ADDRSTRLEN];
    const char  *colon = memchr(s, ':', len);
    size_t       hl = colon ? (size_t) (colon - s) : len;
    long         port = 53;

    if (hl == 0 || hl >= sizeof(host)) {
        return -1;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (colon != NULL) {
        char  digits[8], *end;
        size_t  pl = len - hl - 1;

        if (pl == 0 || pl >= sizeof(digits)) {
            return -1;
        }
        memcpy(digits, colon + 1, pl);
        digits[pl] = '\0';
        port = strtol(digits, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535) {
            return -1;
        }
    }
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

int
fado_resolve_config(fado_resolve_config_t *conf, char *err, size_t err_len)
{
    const char  *servers = getenv("FADO_RESOLVER");

    memset(conf, 0, sizeof(*conf));
    if (fado_resolve_env_int("FADO_RESOLVE_INTERVAL", 30, 1, 86400, &conf->interval_s, err,
                             err_len) != 0
        || fado_resolve_env_int("FADO_RESOLVE_TIMEOUT", 2, 1, 30, &conf->timeout_s, err,
                                err_len) != 0)
    {
        return -1;
    }
    if (servers != NULL && *servers != '\0') {
        const char  *p = servers;
        int          n = 0;

        if (strlen(servers) >= sizeof(conf->servers)) {
            snprintf(err, err_len, "FADO_RESOLVER is too long");
            return -1;
        }
        while (*p) {
            size_t              len = strcspn(p, ",");
            struct sockaddr_in  sin;

            if (++n > MAXNS || fado_resolve_server(p, len, &sin) != 0) {
                snprintf(err, err_len, "FADO_RESOLVER must be 1 to %d IPv4 addresses with"
                         " an optional port, separated by ','", MAXNS);
                return -1;
            }
            p += len + (p[len] == ',');
        }
        snprintf(conf->servers, sizeof(conf->servers), "%s", servers);
    }
    return 0;
}

/* ------------------------------------------------------------ lookups */

/* This thread's resolver: resolv.conf, with FADO_RESOLVER's servers. */
static void
fado_resolve_setup(const fado_resolve_config_t *conf)
{
    const char  *p = conf->servers;
    int          n = 0;

    /* Without servers of our own the state stays glibc's: it then reloads
     * resolv.conf when the file changes (a state changed here it would not). */
    if (*p == '\0') {
        return;
    }
    if (res_init() != 0) {
        fado_log(FADO_LOG_WARN, "msg=\"res_init failed: FADO_RESOLVER not applied\"");
        return;
    }
    _res.retrans = conf->timeout_s;
    _res.retry = 2;
    while (*p && n < MAXNS) {
        size_t  len = strcspn(p, ",");

        if (fado_resolve_server(p, len, &_res.nsaddr_list[n]) == 0) {
            n++;
        }
        p += len + (p[len] == ',');
    }
    _res.nscount = n;
#ifdef RES_NORELOAD
    _res.options |= RES_NORELOAD;
#endif
}

static int
fado_resolve_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * The addresses of a name as a compact JSON array (jansson's encoding,
 * passed to SQL as jsonb), sorted and without duplicates, in out. 0, or
 * -1 with the reason in err.
 */
static int
fado_resolve_lookup(const char *host, char *out, size_t size, char *err, size_t err_len)
{
    struct addrinfo   hints, *ai, *p;
    char              addrs[FADO_RESOLVE_MAX_ADDRS][INET6_ADDRSTRLEN];
    char             *sorted[FADO_RESOLVE_MAX_ADDRS];
    size_t            n = 0;
    int               rc;
    json_t           *arr;
    char             *js;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_len, "%s", rc == EAI_SYSTEM ? "system error" : gai_strerror(rc));
        return -1;
    }
    for (p = ai; p != NULL && n < FADO_RESOLVE_MAX_ADDRS; p = p->ai_next) {
        const void  *a = p->ai_family == AF_INET
                         ? (const void *) &((struct sockaddr_in *) p->ai_addr)->sin_addr
                         : p->ai_family == AF_INET6
                         ? (const void *) &((struct sockaddr_in6 *) p->ai_addr)->sin6_addr
                         : NULL;

        if (a == NULL || inet_ntop(p->ai_family, a, addrs[n], sizeof(addrs[n])) == NULL) {
            continue;
        }
        sorted[n] = addrs[n];
        n++;
    }
    freeaddrinfo(ai);
    if (n == 0) {
        snprintf(err, err_len, "no IPv4 or IPv6 address");
        return -1;
    }
    qsort(sorted, n, sizeof(sorted[0]), fado_resolve_cmp);
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0) {
            continue;
        }
        if (json_array_append_new(arr, json_string(sorted[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    js = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (js == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (strlen(js) >= size) {
        free(js);
        snprintf(err, err_len, "too many addresses");
        return -1;
    }
    memcpy(out, js, strlen(js) + 1);
    free(js);
    return 0;
}

static PGresult *
fado_resolve_query(PGconn *conn, const char *sql, int n, const char *const *params)
{
    char       err[512];
    PGresult  *res = fado_db_query(conn, sql, n, params, err, sizeof(err), NULL);

    if (res == NULL) {
        fado_log(FADO_LOG_WARN, "msg=\"resolver query failed\" error=%s", FADO_LOG_Q(err));
    }
    return res;
}

/*
 * Every interval: a row for every name in use (an endpoint written while
 * its name's row was being swept gets one here) and none for names no
 * endpoint uses any more.
 */
static void
fado_resolve_sweep(fado_resolver_t *r, PGconn *conn)
{
    PGresult  *res;
    time_t     now = time(NULL);

    if (now - r->last_sweep < r->conf.interval_s) {
        return;
    }
    r->last_sweep = now;
    res = fado_resolve_query(conn,
        "WITH added AS (INSERT INTO endpoint_names (host)"
        "               SELECT DISTINCT host FROM endpoints WHERE named"
        "               ON CONFLICT (host) DO NOTHING RETURNING 1),"
        " gone AS (DELETE FROM endpoint_names n"
        "           WHERE NOT EXISTS (SELECT 1 FROM endpoints e"
        "                              WHERE e.named AND e.host = n.host) RETURNING 1)"
        " SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM gone)", 0, NULL);
    if (res != NULL) {
        PQclear(res);
    }
}

/* Takes the due names (at most a batch), in out[]; returns how many. */
static int
fado_resolve_due(PGconn *conn, char (*out)[FADO_EP_HOST_MAX + 1],
    char (*was)[FADO_RESOLVE_TEXT], int cap)
{
    char         lim[16];
    const char  *p[1] = { lim };
    PGresult    *res;
    int          n = 0;

    snprintf(lim, sizeof(lim), "%d", cap);
    res = fado_resolve_query(conn,
        "SELECT host, array_to_json(addresses)::text FROM endpoint_names WHERE due_at <= now()"
        " ORDER BY due_at LIMIT $1::int", 1, p);
    if (res == NULL) {
        return 0;
    }
    for (int i = 0; i < PQntuples(res) && n < cap; i++) {
        snprintf(out[n], sizeof(out[n]), "%s", PQgetvalue(res, i, 0));
        snprintf(was[n], sizeof(was[n]), "%s", PQgetvalue(res, i, 1));
        n++;
    }
    PQclear(res);
    return n;
}

static void
fado_resolve_store(fado_resolver_t *r, PGconn *conn, const char *host, const char *was,
    const char *addrs, const char *error)
{
    char         iv[16];
    const char  *p[3] = { host, error ? error : addrs, iv };
    PGresult    *res;

    snprintf(iv, sizeof(iv), "%d", r->conf.interval_s);
    if (error == NULL) {
        /* the trigger marks the clusters using the name when it changed */
        res = fado_resolve_query(conn,
            "UPDATE endpoint_names SET addresses = " FADO_DB_TEXT_ARRAY("$2") ","
            " resolved_at = now(), attempted_at = now(), last_error = '', failures = 0,"
            " changed_at = CASE WHEN addresses IS DISTINCT FROM " FADO_DB_TEXT_ARRAY("$2")
            "                   THEN now() ELSE changed_at END,"
            " due_at = now() + make_interval(secs => $3::int)"
            " WHERE host = $1", 3, p);
        if (res != NULL) {
            PQclear(res);
        }
        if (strcmp(was, addrs) != 0) {
            atomic_fetch_add(&fado_resolve_changes, 1);
            fado_log(FADO_LOG_INFO, "msg=\"endpoint name resolved to new addresses\""
                     " host=%s addresses=%s was=%s", FADO_LOG_Q(host), FADO_LOG_Q(addrs),
                     FADO_LOG_Q(was));
        }
        return;
    }

    /* Failed: keep the answer; retry after 1, 2, 4 ... s, at most the interval. */
    atomic_fetch_add(&fado_resolve_failures, 1);
    res = fado_resolve_query(conn,
        "UPDATE endpoint_names SET attempted_at = now(), last_error = $2,"
        " failures = failures + 1,"
        " due_at = now() + make_interval(secs => least($3::int, 2 ^ least(failures, 16)))"
        " WHERE host = $1 RETURNING failures", 3, p);
    fado_log(FADO_LOG_WARN, "msg=\"endpoint name lookup failed, the last good addresses"
             " stay published\" host=%s error=%s addresses=%s failures=%s", FADO_LOG_Q(host),
             FADO_LOG_Q(error), FADO_LOG_Q(was),
             res != NULL && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
    if (res != NULL) {
        PQclear(res);
    }
}

/*
 * One round: take the due names, give the connection back while DNS is
 * asked (lookups may take seconds; the pool serves the API meanwhile),
 * then store the answers.
 */
static void
fado_resolve_round(fado_resolver_t *r)
{
    static char  hosts[FADO_RESOLVE_BATCH][FADO_EP_HOST_MAX + 1];
    static char  was[FADO_RESOLVE_BATCH][FADO_RESOLVE_TEXT];
    static char  addrs[FADO_RESOLVE_BATCH][FADO_RESOLVE_TEXT];
    static char  errs[FADO_RESOLVE_BATCH][256];
    PGconn      *conn;
    int          n;

    conn = fado_db_acquire(r->db);
    if (conn == NULL) {
        return;
    }
    fado_resolve_sweep(r, conn);
    n = fado_resolve_due(conn, hosts, was, FADO_RESOLVE_BATCH);
    fado_db_release(r->db, conn);
    if (n == 0) {
        return;
    }

    for (int i = 0; i < n && !atomic_load(&r->stopping); i++) {
        atomic_fetch_add(&fado_resolve_lookups, 1);
        errs[i][0] = '\0';
        if (fado_resolve_lookup(hosts[i], addrs[i], sizeof(addrs[i]), errs[i],
                                sizeof(errs[i])) != 0 && errs[i][0] == '\0')
        {
            snprintf(errs[i], sizeof(errs[i]), "lookup failed");
        }
    }

    if (!fado_reconciler_leading(r->rec)) {
        return;         /* lost the lead meanwhile: the new leader asks again */
    }
    conn = fado_db_acquire(r->db);
    if (conn == NULL) {
        return;
    }
    for (int i = 0; i < n && !atomic_load(&r->stopping); i++) {
        fado_resolve_store(r, conn, hosts[i], was[i], addrs[i], errs[i][0] ? errs[i] : NULL);
    }
    fado_db_release(r->db, conn);
}

static void *
fado_resolve_main(void *arg)
{
    fado_resolver_t  *r = arg;

    /* the resolver state is per thread: set it up here, once */
    fado_resolve_setup(&r->conf);

    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stopping)) {
        struct timespec  until;

        if (fado_reconciler_leading(r->rec)) {
            pthread_mutex_unlock(&r->lock);
            fado_resolve_round(r);
            pthread_mutex_lock(&r->lock);
        } else {
            r->last_sweep = 0;      /* sweep at once on becoming leader */
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long) FADO_RESOLVE_TICK_MS * 1000000L;
        while (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!atomic_load(&r->stopping)
               && pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0)
        {
            /* woken only to stop */
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

fado_resolver_t *
fado_resolver_start(fado_db_t *db, fado_reconciler_t *rec, const fado_resolve_config_t *conf)
{
    fado_resolver_t  *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->db = db;
    r->rec = rec;
    r->conf = *conf;
    atomic_init(&r->stopping, 0);
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    if (pthread_cond_init(&r->cond, NULL) != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    if (pthread_create(&r->thread, NULL, fado_resolve_main, r) != 0) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    fado_log(FADO_LOG_INFO, "msg=\"resolver started\" interval_s=%d servers=%s",
             conf->interval_s, conf->servers[0] ? conf->servers : "system");
    return r;
}

void
fado_resolver_stop(fado_resolver_t *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stopping, 1);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ------------------------------------------------------------ probes */

static size_t
fado_resolve_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void) ptr;
    (void) userdata;
    return size * nmemb;
}

/*
 * Any HTTP answer from url counts. A named endpoint is asked by name, with
 * curl told the address (so the Host header and the TLS server name are
 * the name's, as the gateway sends them). The certificate is not checked:
 * the probe asks whether the endpoint lives, and sends nothing secret;
 * trust is the gateway's to decide (proxy_ssl_verify).
 */
static int
fado_resolve_probe(const char *url, const char *pin)
{
    CURL               *c = curl_easy_init();
    struct curl_slist  *resolve = NULL;
    long                code = 0;
    int                 ok = 0;

    if (c == NULL) {
        return 0;
    }
    if (pin != NULL && (resolve = curl_slist_append(NULL, pin)) == NULL) {
        curl_easy_cleanup(c);
        return 0;
    }
    if (curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK
        && curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L) == CURLE_OK
        && curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
        && curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK
        && curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK
        && curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        && (resolve == NULL || curl_easy_setopt(c, CURLOPT_RESOLVE, resolve) == CURLE_OK)
        && curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fado_resolve_discard) == CURLE_OK)
    {
        ok = curl_easy_perform(c) == CURLE_OK
             && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code > 0;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(resolve);
    return ok;
}

int
fado_resolve_probe_cluster(PGconn *conn, const char *cluster, const char *health_path)
{
    const char  *p[1] = { cluster };
    PGresult    *res;
    int          any = 0, up = 0;

    /* one row per published address: scheme, host, port, path, named, address */
    res = fado_resolve_query(conn,
        "SELECT e.scheme, e.host, e.port, e.path, e.named, a.addr"
        "  FROM endpoints e, unnest(fado_endpoint_addrs(e)) AS a(addr)"
        " WHERE e.cluster = $1 ORDER BY a.addr COLLATE \"C\", e.address COLLATE \"C\"", 1, p);
    if (res == NULL) {
        return -1;      /* cannot tell: a database error marks no cluster down */
    }
    for (int i = 0; i < PQntuples(res) && !up; i++) {
        const char  *scheme = PQgetvalue(res, i, 0), *host = PQgetvalue(res, i, 1);
        const char  *port = PQgetvalue(res, i, 2), *path = PQgetvalue(res, i, 3);
        const char  *addr = PQgetvalue(res, i, 5);
        int          named = PQgetvalue(res, i, 4)[0] == 't';
        char         url[2048], pin[600];

        any = 1;
        if (named) {
            /* addr is "ip:port" or "[ip6]:port": curl takes "host:port:ip" */
            size_t  al = strlen(addr) - strlen(port) - 1;

            snprintf(url, sizeof(url), "%s://%s:%s%s%s", scheme, host, port, path, health_path);
            snprintf(pin, sizeof(pin), "%s:%s:%.*s", host, port, (int) al, addr);
        } else {
            snprintf(url, sizeof(url), "%s://%s%s%s", scheme, addr, path, health_path);
        }
        if (fado_resolve_probe(url, named ? pin : NULL)) {
            up = 1;
        } else if (named) {
            const char  *q[1] = { host };
            PGresult    *r2;

            /* its address may have moved: ask DNS now (at most every 2 s) */
            r2 = fado_resolve_query(conn,
                "UPDATE endpoint_names SET due_at = now() WHERE host = $1 AND due_at > now()"
                "   AND (attempted_at IS NULL OR attempted_at < now() - interval '2 s')",
                1, q);
            if (r2 != NULL) {
                PQclear(r2);
            }
        }
    }
    PQclear(res);
    return any ? up : -1;
}

/* ------------------------------------------------------------ metrics */

void
fado_resolve_metrics(char *buf, size_t size)
{
    snprintf(buf, size,
        "# TYPE fado_resolve_lookups_total counter\nfado_resolve_lookups_total %lu\n"
        "# TYPE fado_resolve_failures_total counter\nfado_resolve_failures_total %lu\n"
        "# TYPE fado_resolve_changes_total counter\nfado_resolve_changes_total %lu\n",
        atomic_load(&fado_resolve_lookups), atomic_load(&fado_resolve_failures),
        atomic_load(&fado_resolve_changes));
}
