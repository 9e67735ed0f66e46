/*
 * fado-async: options, roles, signals. See fado_async.h and docs/async.md.
 */

#include "fado_async.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fado_log.h"


fado_async_conf_t        fado_async_conf;
volatile sig_atomic_t    fado_async_stop;


static void
fado_async_on_signal(int sig)
{
    (void) sig;
    fado_async_stop = 1;
}


static void
fado_async_usage(FILE *out)
{
    fprintf(out,
        "usage: fado-async --role front|worker|all --redis HOST:PORT [options]\n"
        "  Redis password from FADO_ASYNC_REDIS_PASSWORD (environment only)\n"
        "  --prefix P              key prefix (fado:async:)\n"
        "  --state-ttl S           seconds a call's state is kept (86400)\n"
        " front:\n"
        "  --listen IP:PORT        where nginx proxies /async-function/ to\n"
        "  --threads N             HTTP threads (4)\n"
        "  --max-body BYTES        largest request body queued (1048576)\n"
        "  --max-queued N          calls queued or running before 503 (10000)\n"
        "  --require-callback      refuse calls without X-Callback-Url\n"
        " worker:\n"
        "  --gateway URL           the fado gateway, e.g. http://127.0.0.1:8080\n"
        "  --consumer NAME         consumer name prefix (host-pid)\n"
        "  --workers N             calls in progress at once (4)\n"
        "  --max-attempts N        invocations per call (5)\n"
        "  --backoff-ms MS         first retry delay (200), doubled each time\n"
        "  --backoff-cap-ms MS     longest retry delay (5000)\n"
        "  --invoke-timeout-ms MS  one invocation (30000)\n"
        "  --min-idle-ms MS        a consumer silent this long is presumed dead (60000)\n"
        "  --callback-attempts N   (5)\n"
        "  --result-max BYTES      result bytes kept and posted (65536)\n"
        "  --log-level L           error|warn|info|debug (info)\n");
}


static int
fado_async_long(const char *opt, const char *s, long min, long max, long *out)
{
    char  *end;
    long   v;

    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "fado-async: --%s wants an integer from %ld to %ld, not \"%s\"\n",
                opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}


static int
fado_async_options(int argc, char **argv)
{
    static const struct option  opts[] = {
        { "role", required_argument, NULL, 'r' },
        { "redis", required_argument, NULL, 'R' },
        { "prefix", required_argument, NULL, 'p' },
        { "state-ttl", required_argument, NULL, 'T' },
        { "listen", required_argument, NULL, 'l' },
        { "threads", required_argument, NULL, 't' },
        { "max-body", required_argument, NULL, 'b' },
        { "max-queued", required_argument, NULL, 'q' },
        { "require-callback", no_argument, NULL, 'c' },
        { "gateway", required_argument, NULL, 'g' },
        { "consumer", required_argument, NULL, 'C' },
        { "workers", required_argument, NULL, 'w' },
        { "max-attempts", required_argument, NULL, 'a' },
        { "backoff-ms", required_argument, NULL, 'B' },
        { "backoff-cap-ms", required_argument, NULL, 'P' },
        { "invoke-timeout-ms", required_argument, NULL, 'I' },
        { "min-idle-ms", required_argument, NULL, 'm' },
        { "callback-attempts", required_argument, NULL, 'k' },
        { "result-max", required_argument, NULL, 'x' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    static char   consumer[128], host[256];
    const char   *role = NULL, *redis = NULL, *colon;
    long          v;
    int           ch, rc = 0;

    fado_async_conf.prefix = "fado:async:";
    fado_async_conf.state_ttl_s = 86400;
    fado_async_conf.front_threads = 4;
    fado_async_conf.max_body = 1048576;
    fado_async_conf.max_queued = 10000;
    fado_async_conf.workers = 4;
    fado_async_conf.max_attempts = 5;
    fado_async_conf.backoff_ms = 200;
    fado_async_conf.backoff_cap_ms = 5000;
    fado_async_conf.invoke_timeout_ms = 30000;
    fado_async_conf.min_idle_ms = 60000;
    fado_async_conf.callback_attempts = 5;
    fado_async_conf.result_max = 65536;

    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': role = optarg; break;
        case 'R': redis = optarg; break;
        case 'p': fado_async_conf.prefix = optarg; break;
        case 'l': fado_async_conf.listen = optarg; break;
        case 'g': fado_async_conf.gateway = optarg; break;
        case 'C': fado_async_conf.consumer = optarg; break;
        case 'c': fado_async_conf.require_callback = 1; break;
        case 'T': rc |= fado_async_long("state-ttl", optarg, 1, 365L * 86400, &v);
                  fado_async_conf.state_ttl_s = v; break;
        case 't': rc |= fado_async_long("threads", optarg, 1, 64, &v);
                  fado_async_conf.front_threads = (int) v; break;
        case 'b': rc |= fado_async_long("max-body", optarg, 1, 64L << 20, &v);
                  fado_async_conf.max_body = (size_t) v; break;
        case 'q': rc |= fado_async_long("max-queued", optarg, 1, 100000000L, &v);
                  fado_async_conf.max_queued = v; break;
        case 'w': rc |= fado_async_long("workers", optarg, 1, 256, &v);
                  fado_async_conf.workers = (int) v; break;
        case 'a': rc |= fado_async_long("max-attempts", optarg, 1, 100, &v);
                  fado_async_conf.max_attempts = (int) v; break;
        case 'B': rc |= fado_async_long("backoff-ms", optarg, 1, 600000, &v);
                  fado_async_conf.backoff_ms = v; break;
        case 'P': rc |= fado_async_long("backoff-cap-ms", optarg, 1, 3600000, &v);
                  fado_async_conf.backoff_cap_ms = v; break;
        case 'I': rc |= fado_async_long("invoke-timeout-ms", optarg, 10, 3600000, &v);
                  fado_async_conf.invoke_timeout_ms = v; break;
        case 'm': rc |= fado_async_long("min-idle-ms", optarg, 100, 86400000L, &v);
                  fado_async_conf.min_idle_ms = v; break;
        case 'k': rc |= fado_async_long("callback-attempts", optarg, 1, 100, &v);
                  fado_async_conf.callback_attempts = (int) v; break;
        case 'x': rc |= fado_async_long("result-max", optarg, 0, 16L << 20, &v);
                  fado_async_conf.result_max = (size_t) v; break;
        case 'L':
            if (fado_log_parse_level(optarg, &fado_log_level) != 0) {
                fprintf(stderr, "fado-async: --log-level wants error|warn|info|debug\n");
                rc = -1;
            }
            break;
        case 'h': fado_async_usage(stdout); exit(0);
        default: fado_async_usage(stderr); return -1;
        }
    }
    if (rc != 0) {
        return -1;
    }
    if (role == NULL || redis == NULL) {
        fado_async_usage(stderr);
        return -1;
    }
    fado_async_conf.front = strcmp(role, "front") == 0 || strcmp(role, "all") == 0;
    fado_async_conf.worker = strcmp(role, "worker") == 0 || strcmp(role, "all") == 0;
    if (!fado_async_conf.front && !fado_async_conf.worker) {
        fprintf(stderr, "fado-async: --role wants front, worker or all, not \"%s\"\n", role);
        return -1;
    }
    colon = strrchr(redis, ':');
    if (colon == NULL || (size_t) (colon - redis) >= sizeof(host)
        || fado_async_long("redis port", colon + 1, 1, 65535, &v) != 0)
    {
        fprintf(stderr, "fado-async: --redis wants HOST:PORT, not \"%s\"\n", redis);
        return -1;
    }
    memcpy(host, redis, (size_t) (colon - redis));
    host[colon - redis] = '\0';
    fado_async_conf.redis_host = host;
    fado_async_conf.redis_port = (int) v;
    fado_async_conf.redis_password = getenv("FADO_ASYNC_REDIS_PASSWORD");

    if (fado_async_conf.front && fado_async_conf.listen == NULL) {
        fprintf(stderr, "fado-async: the front needs --listen IP:PORT\n");
        return -1;
    }
    if (fado_async_conf.worker) {
        if (fado_async_conf.gateway == NULL
            || (strncmp(fado_async_conf.gateway, "http://", 7) != 0
                && strncmp(fado_async_conf.gateway, "https://", 8) != 0))
        {
            fprintf(stderr, "fado-async: the worker needs --gateway http://HOST:PORT\n");
            return -1;
        }
        /* an entry idle this long is taken from its consumer: a live worker
         * inside one invocation must never look that idle */
        if (fado_async_conf.min_idle_ms <= fado_async_conf.invoke_timeout_ms + 1000
            || fado_async_conf.min_idle_ms <= 10000L + 1000)
        {
            fprintf(stderr, "fado-async: --min-idle-ms (%ld) must exceed the invoke timeout "
                    "(%ld ms) and the callback timeout (10000 ms) by a second at least\n",
                    fado_async_conf.min_idle_ms, fado_async_conf.invoke_timeout_ms);
            return -1;
        }
        if (fado_async_conf.backoff_cap_ms < fado_async_conf.backoff_ms) {
            fprintf(stderr, "fado-async: --backoff-cap-ms is below --backoff-ms\n");
            return -1;
        }
        if (fado_async_conf.consumer == NULL) {
            char  hn[64];
            if (gethostname(hn, sizeof(hn)) != 0) {
                snprintf(hn, sizeof(hn), "host");
            }
            hn[sizeof(hn) - 1] = '\0';
            snprintf(consumer, sizeof(consumer), "%s-%ld", hn, (long) getpid());
            fado_async_conf.consumer = consumer;
        }
    }
    return 0;
}


int
main(int argc, char **argv)
{
    struct sigaction  sa;
    char              err[256];
    redisContext     *rc;
    sigset_t          set;

    if (fado_async_options(argc, argv) != 0) {
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fado-async: libcurl initialisation failed\n");
        return 1;
    }

    /* Redis must answer before anything is offered: the front would
     * otherwise answer 503 to every call without saying why at start */
    rc = fado_async_queue_connect(err, sizeof(err));
    if (rc == NULL || fado_async_queue_ensure_group(rc, err, sizeof(err)) != 0) {
        fado_log(FADO_LOG_ERROR, "msg=%s", FADO_LOG_Q(err));
        if (rc) {
            redisFree(rc);
        }
        curl_global_cleanup();
        return 1;
    }
    redisFree(rc);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fado_async_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    /* the threads inherit a mask with TERM and INT blocked, so the signal
     * reaches the main thread, which waits for it without a race */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (fado_async_conf.front && fado_async_front_start(err, sizeof(err)) != 0) {
        fado_log(FADO_LOG_ERROR, "msg=%s", FADO_LOG_Q(err));
        curl_global_cleanup();
        return 1;
    }
    if (fado_async_conf.worker && fado_async_worker_start(err, sizeof(err)) != 0) {
        fado_log(FADO_LOG_ERROR, "msg=%s", FADO_LOG_Q(err));
        fado_async_stop = 1;
        fado_async_worker_join();
        fado_async_front_stop();
        curl_global_cleanup();
        return 1;
    }
    fado_log(FADO_LOG_INFO, "msg=started front=%s worker=%s listen=%s gateway=%s consumer=%s "
             "workers=%d prefix=%s", fado_async_conf.front ? "yes" : "no",
             fado_async_conf.worker ? "yes" : "no",
             FADO_LOG_Q(fado_async_conf.listen ? fado_async_conf.listen : ""),
             FADO_LOG_Q(fado_async_conf.gateway ? fado_async_conf.gateway : ""),
             FADO_LOG_Q(fado_async_conf.consumer ? fado_async_conf.consumer : ""),
             fado_async_conf.workers, FADO_LOG_Q(fado_async_conf.prefix));

    sigemptyset(&set);
    while (!fado_async_stop) {
        sigsuspend(&set);
    }
    fado_log(FADO_LOG_INFO, "msg=\"stopping: calls in progress finish or stay pending\"");
    fado_async_worker_join();
    fado_async_front_stop();
    curl_global_cleanup();
    return 0;
}
