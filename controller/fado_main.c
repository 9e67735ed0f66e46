/*
 * fado-controller: platform state in PostgreSQL, REST API, placement,
 * replication through MinIO, route publication to Redis.
 */

#include "fado_db.h"
#include "fado_api.h"
#include "fado_auth.h"
#include "fado_http.h"
#include "fado_import.h"
#include "fado_router.h"
#include "fado_log.h"
#include "fado_publisher.h"
#include "fado_reconcile.h"
#include "fado_resolve.h"

#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char  *listen;
    const char  *database_url;
    const char  *redis_url;
    const char  *redis_prefix;
    const char  *platform_file;
    int          import_adopt;
    const char  *log_level;
    const char  *bootstrap_token;
    const char  *health_path;
    int          reconcile_interval_ms;
    int          health_interval_ms;
    int          grace_s;
    int          health_failures;
    int          threads;
    const char  *events_token;
    char         instance[128];
    fado_jobs_config_t  jobs;
} fado_config_t;

static volatile sig_atomic_t  fado_stop;

static void
fado_on_signal(int sig)
{
    (void) sig;
    fado_stop = 1;
}

static void
fado_usage(FILE *out)
{
    fprintf(out,
        "usage: fado-controller [options]\n"
        "\n"
        "  --listen ADDR             API address (FADO_LISTEN, default 127.0.0.1:8750)\n"
        "  --database-url URL        PostgreSQL (FADO_DATABASE_URL, required)\n"
        "  --redis-url URL           redis://[:password@]host:port[/db] (FADO_REDIS_URL, required)\n"
        "  --redis-prefix P          route key prefix (FADO_REDIS_PREFIX, default fado:)\n"
        "  --platform-file FILE      platform description imported at start, fado's shape or\n"
        "  --import FILE             FaDO's config.json (FADO_PLATFORM_FILE)\n"
        "  --import-adopt            with a FaDO file: adopt the buckets its storage\n"
        "                            deployments already hold (never overwriting)\n"
        "  --log-level LEVEL         error, warn, info, debug (FADO_LOG_LEVEL, default info)\n"
        "  --bootstrap-token SECRET  admin token created when none exists (FADO_BOOTSTRAP_TOKEN)\n"
        "  --reconcile-interval MS   between full reconciles, which repair drift; changes are\n"
        "                            handled as they are made (FADO_RECONCILE_INTERVAL, default 300000)\n"
        "  --health-interval MS      between health probes (FADO_HEALTH_INTERVAL, default 2000)\n"
        "  --health-failures N       failed probes that mark a cluster down (default 2)\n"
        "  --grace S                 a cluster down this long may have its replicas replaced\n"
        "                            (FADO_GRACE, default 120)\n"
        "  --health-path PATH        probed on function endpoints (default /healthz)\n"
        "  --threads N               API threads (FADO_THREADS, default 4)\n"
        "  --workers N               job workers: replication, index scans (FADO_WORKERS, default 2)\n"
        "  --help\n"
        "\n"
        "Data plane settings (environment only):\n"
        "  FADO_EVENTS_TOKEN         bearer token MinIO sends to POST /v1/minio/events;\n"
        "                            unset: the webhook refuses every event\n"
        "  FADO_EVENTS_ARN           notification target set on buckets\n"
        "                            (default arn:minio:sqs::FADO:webhook when a token is set)\n"
        "  FADO_JOB_POLL             ms between checks of a syncing replica (default 500)\n"
        "  FADO_VERIFY_INTERVAL      s between checks of a ready replica (default 30)\n"
        "  FADO_READY_LAG            s a ready replica may stay behind before it leaves\n"
        "                            the routes (default 30)\n"
        "  FADO_BACKOFF_MAX          s, cap of the retry back-off of failed jobs (default 60)\n"
        "  FADO_SCAN_INTERVAL        s between object index rebuilds of a bucket (default 300)\n"
        "  FADO_INSTANCE             name shown as owner of running jobs (default host:listen)\n");
}

static const char *
fado_env(const char *name, const char *def)
{
    const char  *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : def;
}

static int
fado_int_arg(const char *name, const char *v, int lo, int hi, int *out)
{
    char  *end;
    long   n = strtol(v, &end, 10);

    if (*end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "fado-controller: invalid %s \"%s\" (%d..%d)\n", name, v, lo, hi);
        return -1;
    }
    *out = (int) n;
    return 0;
}

static int
fado_parse_args(int argc, char **argv, fado_config_t *c)
{
    static const struct option  opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "database-url", required_argument, NULL, 'd' },
        { "redis-url", required_argument, NULL, 'r' },
        { "redis-prefix", required_argument, NULL, 'p' },
        { "platform-file", required_argument, NULL, 'f' },
        { "import", required_argument, NULL, 'f' },
        { "import-adopt", no_argument, NULL, 'A' },
        { "log-level", required_argument, NULL, 'v' },
        { "bootstrap-token", required_argument, NULL, 'b' },
        { "reconcile-interval", required_argument, NULL, 'i' },
        { "health-interval", required_argument, NULL, 'h' },
        { "health-failures", required_argument, NULL, 'n' },
        { "grace", required_argument, NULL, 'g' },
        { "health-path", required_argument, NULL, 'P' },
        { "threads", required_argument, NULL, 't' },
        { "workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, '?' },
        { NULL, 0, NULL, 0 }
    };
    int  ch;

    c->listen = fado_env("FADO_LISTEN", "127.0.0.1:8750");
    c->database_url = fado_env("FADO_DATABASE_URL", NULL);
    c->redis_url = fado_env("FADO_REDIS_URL", NULL);
    c->redis_prefix = fado_env("FADO_REDIS_PREFIX", "fado:");
    c->platform_file = fado_env("FADO_PLATFORM_FILE", NULL);
    c->log_level = fado_env("FADO_LOG_LEVEL", "info");
    c->bootstrap_token = fado_env("FADO_BOOTSTRAP_TOKEN", NULL);
    c->health_path = "/healthz";
    c->health_failures = 2;
    if (fado_int_arg("FADO_RECONCILE_INTERVAL", fado_env("FADO_RECONCILE_INTERVAL", "300000"),
                     10, 3600000, &c->reconcile_interval_ms) != 0
        || fado_int_arg("FADO_HEALTH_INTERVAL", fado_env("FADO_HEALTH_INTERVAL", "2000"),
                        10, 3600000, &c->health_interval_ms) != 0
        || fado_int_arg("FADO_GRACE", fado_env("FADO_GRACE", "120"), 0, 86400 * 7,
                        &c->grace_s) != 0
        || fado_int_arg("FADO_THREADS", fado_env("FADO_THREADS", "4"), 1, 64, &c->threads) != 0
        || fado_int_arg("FADO_WORKERS", fado_env("FADO_WORKERS", "2"), 1, 16,
                        &c->jobs.workers) != 0
        || fado_int_arg("FADO_JOB_POLL", fado_env("FADO_JOB_POLL", "500"), 10, 600000,
                        &c->jobs.poll_ms) != 0
        || fado_int_arg("FADO_VERIFY_INTERVAL", fado_env("FADO_VERIFY_INTERVAL", "30"), 1,
                        86400, &c->jobs.verify_s) != 0
        || fado_int_arg("FADO_READY_LAG", fado_env("FADO_READY_LAG", "30"), 0, 86400,
                        &c->jobs.ready_lag_s) != 0
        || fado_int_arg("FADO_BACKOFF_MAX", fado_env("FADO_BACKOFF_MAX", "60"), 1, 86400,
                        &c->jobs.backoff_max_s) != 0
        || fado_int_arg("FADO_SCAN_INTERVAL", fado_env("FADO_SCAN_INTERVAL", "300"), 1,
                        604800, &c->jobs.scan_s) != 0)
    {
        return -1;
    }
    c->events_token = fado_env("FADO_EVENTS_TOKEN", NULL);
    c->jobs.events_arn = c->events_token == NULL ? NULL
                       : fado_env("FADO_EVENTS_ARN", "arn:minio:sqs::FADO:webhook");

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': c->listen = optarg; break;
        case 'd': c->database_url = optarg; break;
        case 'r': c->redis_url = optarg; break;
        case 'p': c->redis_prefix = optarg; break;
        case 'f': c->platform_file = optarg; break;
        case 'A': c->import_adopt = 1; break;
        case 'v': c->log_level = optarg; break;
        case 'b': c->bootstrap_token = optarg; break;
        case 'P': c->health_path = optarg; break;
        case 'i':
            if (fado_int_arg("--reconcile-interval", optarg, 10, 3600000,
                             &c->reconcile_interval_ms) != 0) return -1;
            break;
        case 'h':
            if (fado_int_arg("--health-interval", optarg, 10, 3600000,
                             &c->health_interval_ms) != 0) return -1;
            break;
        case 'n':
            if (fado_int_arg("--health-failures", optarg, 1, 100, &c->health_failures) != 0)
                return -1;
            break;
        case 'g':
            if (fado_int_arg("--grace", optarg, 0, 86400 * 7, &c->grace_s) != 0) return -1;
            break;
        case 't':
            if (fado_int_arg("--threads", optarg, 1, 64, &c->threads) != 0) return -1;
            break;
        case 'w':
            if (fado_int_arg("--workers", optarg, 1, 16, &c->jobs.workers) != 0) return -1;
            break;
        default:
            fado_usage(ch == '?' && optopt == 0 ? stdout : stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fado-controller: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (fado_log_parse_level(c->log_level, &fado_log_level) != 0) {
        fprintf(stderr, "fado-controller: invalid log level \"%s\"\n", c->log_level);
        return -1;
    }
    if (c->database_url == NULL) {
        fprintf(stderr, "fado-controller: --database-url (FADO_DATABASE_URL) is required\n");
        return -1;
    }
    if (c->redis_url == NULL) {
        fprintf(stderr, "fado-controller: --redis-url (FADO_REDIS_URL) is required\n");
        return -1;
    }
    if (c->events_token != NULL && strlen(c->events_token) < 16) {
        fprintf(stderr, "fado-controller: FADO_EVENTS_TOKEN is shorter than 16 characters\n");
        return -1;
    }
    {
        char  host[64] = "localhost";

        (void) gethostname(host, sizeof(host) - 1);
        snprintf(c->instance, sizeof(c->instance), "%s/%s",
                 fado_env("FADO_INSTANCE", host), c->listen);
    }
    c->jobs.instance = c->instance;
    return 0;
}

/* Imports a platform file (fado's shape or FaDO's config.json) at start. */
static int
fado_import_file(fado_app_t *app, const char *path, int adopt)
{
    fado_import_options_t  opt = { adopt };
    fado_import_error_t    ierr;
    json_error_t           jerr;
    json_t                *doc, *summary = NULL;
    PGconn                *conn;
    int                    rc = -1;

    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"platform file rejected\" path=%s error=%s line=%d",
                 FADO_LOG_Q(path), FADO_LOG_Q(jerr.text), jerr.line);
        return -1;
    }
    conn = fado_db_acquire(app->db);
    if (conn == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"platform file not imported: database unreachable\"");
    } else if (fado_import(conn, doc, &opt, &summary, &ierr) != 0) {
        fado_log(FADO_LOG_ERROR, "msg=\"platform file rejected\" path=%s field=%s error=%s",
                 FADO_LOG_Q(path), FADO_LOG_Q(ierr.field), FADO_LOG_Q(ierr.message));
    } else {
        char  *s = json_dumps(summary, JSON_COMPACT);

        fado_log(FADO_LOG_INFO, "msg=\"platform file imported\" path=%s summary=%s",
                 FADO_LOG_Q(path), FADO_LOG_Q(s ? s : ""));
        free(s);
        fado_reconciler_wake(app->rec);
        rc = 0;
    }
    if (conn != NULL) {
        fado_db_release(app->db, conn);
    }
    json_decref(summary);
    json_decref(doc);
    return rc;
}

int
main(int argc, char **argv)
{
    fado_config_t            conf;
    fado_reconcile_config_t  rconf;
    fado_app_t               app;
    fado_db_t               *db;
    fado_publisher_t        *pub;
    fado_reconciler_t       *rec;
    fado_resolver_t         *resolver;
    fado_resolve_config_t    resconf;
    fado_http_t             *http;
    PGconn                  *conn;
    char                     err[512];
    int                      r;
    struct sigaction         sa;
    sigset_t                 stopmask, waitmask;

    memset(&conf, 0, sizeof(conf));
    r = fado_parse_args(argc, argv, &conf);
    if (r != 0) {
        return r > 0 ? 0 : 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fado-controller: libcurl initialisation failed\n");
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fado_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stopmask);
    sigaddset(&stopmask, SIGTERM);
    sigaddset(&stopmask, SIGINT);
    /* Threads started from here on inherit the mask: the main thread alone
     * takes the stop signals. */
    pthread_sigmask(SIG_BLOCK, &stopmask, &waitmask);

    /* API threads, the reconciler, the resolver, a spare, and one per job worker (held
     * for a job's duration: it carries the bucket's advisory lock). */
    db = fado_db_open(conf.database_url, conf.threads + 3 + conf.jobs.workers);
    if (db == NULL) {
        fprintf(stderr, "fado-controller: out of memory\n");
        return 1;
    }
    /* Migrations first, once; wait for PostgreSQL if it is starting. */
    for (int attempt = 0;; attempt++) {
        conn = fado_db_acquire(db);
        if (conn != NULL || attempt == 30 || fado_stop) {
            break;
        }
        sleep(1);
    }
    if (conn == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"database unreachable at start\"");
        fado_db_close(db);
        return 1;
    }
    if (fado_db_migrate(conn, err, sizeof(err)) != 0
        || (conf.bootstrap_token != NULL
            && fado_auth_bootstrap(conn, conf.bootstrap_token, err, sizeof(err)) != 0))
    {
        fado_log(FADO_LOG_ERROR, "msg=\"start-up failed\" error=%s", FADO_LOG_Q(err));
        fado_db_release(db, conn);
        fado_db_close(db);
        return 1;
    }
    fado_db_release(db, conn);

    pub = fado_publisher_new(conf.redis_url, conf.redis_prefix, err, sizeof(err));
    if (pub == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"invalid redis configuration\" error=%s", FADO_LOG_Q(err));
        fado_db_close(db);
        return 2;
    }

    memset(&app, 0, sizeof(app));
    app.db = db;
    app.redis_prefix = conf.redis_prefix;
    app.events_token = conf.events_token;
    rconf.database_url = conf.database_url;
    rconf.instance = conf.instance;
    rconf.full_interval_ms = conf.reconcile_interval_ms;
    rconf.health_interval_ms = conf.health_interval_ms;
    rconf.grace_s = conf.grace_s;
    rconf.health_failures = conf.health_failures;
    rconf.health_path = conf.health_path;
    rconf.jobs = conf.jobs;

    rec = fado_reconciler_start(db, pub, &rconf);
    if (rec == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"cannot start the reconciler\"");
        fado_publisher_free(pub);
        fado_db_close(db);
        return 1;
    }
    app.rec = rec;
    if (fado_resolve_config(&resconf, err, sizeof(err)) != 0) {
        fprintf(stderr, "fado-controller: %s\n", err);
        fado_reconciler_stop(rec);
        fado_publisher_free(pub);
        fado_db_close(db);
        return 2;
    }
    resolver = fado_resolver_start(db, rec, &resconf);
    if (resolver == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"cannot start the resolver\"");
        fado_reconciler_stop(rec);
        fado_publisher_free(pub);
        fado_db_close(db);
        return 1;
    }
    if (conf.platform_file != NULL
        && fado_import_file(&app, conf.platform_file, conf.import_adopt) != 0)
    {
        fado_resolver_stop(resolver);
        fado_reconciler_stop(rec);
        fado_publisher_free(pub);
        fado_db_close(db);
        return 1;
    }

    http = fado_http_start(db, &app, fado_router_routes, fado_auth_check, conf.listen,
                           conf.threads, err, sizeof(err));
    if (http == NULL) {
        fado_log(FADO_LOG_ERROR, "msg=\"cannot start the API\" error=%s", FADO_LOG_Q(err));
        fado_resolver_stop(resolver);
    fado_reconciler_stop(rec);
        fado_publisher_free(pub);
        fado_db_close(db);
        return 1;
    }
    fado_log(FADO_LOG_INFO, "msg=\"fado-controller started\" listen=%s redis_prefix=%s",
             conf.listen, conf.redis_prefix);

    /* The signals are blocked outside sigsuspend, so one that arrives
     * between the test and the wait is not missed. */
    while (!fado_stop) {
        sigsuspend(&waitmask);
    }

    fado_log(FADO_LOG_INFO, "msg=\"shutting down\"");
    fado_http_stop(http);
    fado_resolver_stop(resolver);
    fado_reconciler_stop(rec);
    fado_publisher_free(pub);
    fado_db_close(db);
    curl_global_cleanup();
    return 0;
}
