/*
 * fado-storage: the storage library from the command line, for operators
 * and the t/3xx suites.
 *
 * Credentials come from the environment, never from argv (which ps shows):
 * a site NAME means FADO_<NAME>_ENDPOINT, FADO_<NAME>_ACCESS_KEY and
 * FADO_<NAME>_SECRET_KEY (NAME uppercased), e.g. -s minio0, and optionally
 * FADO_<NAME>_PEER_ENDPOINT (how the other deployments reach it).
 */

#include "fst_madmin_client.h"
#include "fst_replication.h"
#include "fst_s3_client.h"
#include "fst_notify.h"
#include "fst_stream.h"

#include <ctype.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char                 name[64];
    char                 endpoint[256];
    char                 access_key[256];
    char                 secret_key[256];
    char                 peer_endpoint[256];
    fst_site_t           site;
} fst_cli_site_t;

static int  fst_cli_stats;
static int  fst_cli_push;    /* put/get through fst_stream.h */

static void
fst_cli_usage(void)
{
    fprintf(stderr,
"usage: fado-storage [-s SITE] [--stats] [--part-size MIB] [--push] COMMAND ARGS\n"
"  --push: put/get through the push/pull stream bridge the controller uses\n"
"  SITE names env vars FADO_<SITE>_{ENDPOINT,ACCESS_KEY,SECRET_KEY} (default minio0)\n"
"commands:\n"
"  buckets                       list the buckets of SITE\n"
"  mb BUCKET                     create or adopt BUCKET, versioning on\n"
"  ls BUCKET [PREFIX]            list objects: key size etag\n"
"  lsv BUCKET [PREFIX]           list versions: key version-id size latest|- delete-marker|-\n"
"  head BUCKET KEY               size, etag, version, replication status\n"
"  put BUCKET KEY FILE|-         streamed upload (multipart above the threshold)\n"
"  get BUCKET KEY FILE|-         streamed download\n"
"  rm BUCKET KEY [VERSION]       delete an object (a delete marker without VERSION)\n"
"  info                          deployment id of SITE (admin API)\n"
"  targets BUCKET                remote targets of BUCKET: arn endpoint bucket reset-id online\n"
"  notify BUCKET ARN             send BUCKET's object events to the webhook target ARN\n"
"  unnotify BUCKET               stop sending them (other configurations are kept)\n"
"  ensure-home BUCKET            fst_replication.h: bucket + versioning on SITE\n"
"  converge BUCKET REPLICA PRIO  fst_replication.h: one convergence step, prints the state\n"
"  wait BUCKET SECONDS REPLICA... converge each replica (priority 1, 2...) until all ready\n"
"  progress BUCKET REPLICA       versions on SITE and how many REPLICA lacks\n"
"  stop BUCKET REPLICA           fst_replication.h: stop replicating to REPLICA, keep its data\n"
"  release BUCKET [HOME]         SITE's copy stops replicating out (after draining to HOME)\n"
"  reachable BUCKET              exit 0 if SITE's store answers, 1 if not\n"
"  purge BUCKET --yes-delete-all-data   delete BUCKET and all its versions on SITE\n");
}

static int
fst_cli_site(const char *name, fst_cli_site_t *s)
{
    static const char  *what[] = { "ENDPOINT", "ACCESS_KEY", "SECRET_KEY" };
    char                up[64], var[128], *dst[3];
    size_t              i, sz[3];
    const char         *v;

    memset(s, 0, sizeof(*s));
    if (strlen(name) >= sizeof(up)) {
        fprintf(stderr, "fado-storage: site name \"%s\" is too long\n", name);
        return -1;
    }
    for (i = 0; name[i]; i++) {
        up[i] = (char) toupper((unsigned char) name[i]);
    }
    up[i] = '\0';
    dst[0] = s->endpoint;
    dst[1] = s->access_key;
    dst[2] = s->secret_key;
    sz[0] = sizeof(s->endpoint);
    sz[1] = sizeof(s->access_key);
    sz[2] = sizeof(s->secret_key);
    for (i = 0; i < 3; i++) {
        snprintf(var, sizeof(var), "FADO_%s_%s", up, what[i]);
        v = getenv(var);
        if (v == NULL || *v == '\0' || strlen(v) >= sz[i]) {
            fprintf(stderr, "fado-storage: site \"%s\": %s is %s\n", name,
                    var, v && *v ? "too long" : "not set");
            return -1;
        }
        snprintf(dst[i], sz[i], "%s", v);
    }
    /* optional: how the other deployments reach this one */
    snprintf(var, sizeof(var), "FADO_%s_PEER_ENDPOINT", up);
    v = getenv(var);
    if (v && *v) {
        if (strlen(v) >= sizeof(s->peer_endpoint)) {
            fprintf(stderr, "fado-storage: site \"%s\": %s is too long\n",
                    name, var);
            return -1;
        }
        snprintf(s->peer_endpoint, sizeof(s->peer_endpoint), "%s", v);
        s->site.peer_endpoint = s->peer_endpoint;
    }
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->site.cluster = s->name;
    s->site.endpoint = s->endpoint;
    s->site.access_key = s->access_key;
    s->site.secret_key = s->secret_key;
    s->site.region = NULL;
    return 0;
}

static double
fst_cli_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
fst_cli_report(const char *op, int64_t bytes, double t0)
{
    struct rusage  ru;
    uint64_t       sent, received;

    if (!fst_cli_stats) {
        return;
    }
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        ru.ru_maxrss = -1;
    }
    fst_s3_traffic(&sent, &received);
    fprintf(stderr, "stats: op=%s bytes=%" PRId64 " seconds=%.3f "
            "maxrss_kib=%ld http_sent=%" PRIu64 " http_received=%" PRIu64
            "\n", op, bytes, fst_cli_now() - t0, ru.ru_maxrss, sent,
            received);
}

typedef struct {
    int      fd;
    int64_t  bytes;
} fst_cli_fd_t;

static ssize_t
fst_cli_read(void *ud, char *buf, size_t len)
{
    fst_cli_fd_t   *f = ud;
    ssize_t         n;

    do {
        n = read(f->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        f->bytes += n;
    }
    return n;
}

static int
fst_cli_write(void *ud, const char *buf, size_t len)
{
    fst_cli_fd_t   *f = ud;
    ssize_t         n;

    while (len) {
        n = write(f->fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t) n;
        f->bytes += n;
    }
    return 0;
}

/* As a push-style server would: read a piece, hand it over. */
static int
fst_cli_put_push(fst_cli_site_t *site, const char *bucket, const char *key,
    fst_cli_fd_t *f, int64_t len, fst_s3_object_info_t *info, char *err,
    size_t err_len)
{
    fst_stream_t           *s;
    char                    buf[64 * 1024];
    ssize_t                 n;

    s = fst_stream_upload_start(&site->site, bucket, key, NULL, len, err,
                                  err_len);
    if (s == NULL) {
        return -1;
    }
    while ((n = fst_cli_read(f, buf, sizeof(buf))) > 0) {
        if (fst_stream_upload_write(s, buf, (size_t) n) != 0) {
            break;
        }
    }
    if (n < 0) {
        fst_stream_upload_abort(s);
        snprintf(err, err_len, "reading the input failed");
        return -1;
    }
    return fst_stream_upload_finish(s, info, err, err_len);
}

/* As a pull-style server would: ask for pieces until the end. */
static int
fst_cli_get_pull(fst_cli_site_t *site, const char *bucket, const char *key,
    fst_cli_fd_t *f, char *err, size_t err_len)
{
    fst_stream_t           *s;
    fst_s3_object_info_t    info;
    char                    buf[64 * 1024];
    ssize_t                 n;
    long                    status;
    int                     rc = 0;

    s = fst_stream_download_start(&site->site, bucket, key, NULL, &info,
                                    &status, err, err_len);
    if (s == NULL) {
        return -1;
    }
    while ((n = fst_stream_download_read(s, buf, sizeof(buf))) > 0) {
        if (fst_cli_write(f, buf, (size_t) n) != 0) {
            snprintf(err, err_len, "writing the output failed");
            rc = -1;
            break;
        }
    }
    if (n < 0) {
        snprintf(err, err_len, "%s", fst_stream_error(s));
        rc = -1;
    }
    if (rc == 0 && info.size >= 0 && f->bytes != info.size) {
        snprintf(err, err_len, "%s/%s: got %lld bytes of %lld", bucket, key,
                 (long long) f->bytes, (long long) info.size);
        rc = -1;
    }
    fst_stream_download_close(s);
    return rc;
}

static int
fst_cli_print_bucket(void *ud, const fst_s3_entry_t *e)
{
    (void) ud;
    printf("%s\t%s\n", e->key, e->last_modified);
    return 0;
}

static int
fst_cli_print_entry(void *ud, const fst_s3_entry_t *e)
{
    int  versions = *(int *) ud;

    if (versions) {
        printf("%s\t%s\t%" PRId64 "\t%s\t%s\n", e->key, e->version_id,
               e->size, e->is_latest ? "latest" : "-",
               e->delete_marker ? "delete-marker" : "-");
    } else {
        printf("%s\t%" PRId64 "\t%s\n", e->key, e->size, e->etag);
    }
    return 0;
}

static int
fst_cli_s3(fst_cli_site_t *site, size_t part_mib, int argc, char **argv)
{
    fst_s3_client_t        *c;
    fst_s3_object_info_t    info;
    fst_cli_fd_t            f = { -1, 0 };
    struct stat             st;
    const char             *cmd = argv[0];
    char                    err[1024];
    double                  t0 = fst_cli_now();
    int                     rc = -1, versions, created;

    c = fst_s3_client_new(site->endpoint, site->access_key,
                           site->secret_key, NULL, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "fado-storage: %s\n", err);
        return 1;
    }
    if (part_mib) {
        fst_s3_client_set_multipart(c, (int64_t) part_mib << 20,
                                     part_mib << 20);
    }
    if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "lsv") == 0) {
        if (argc < 2) {
            goto usage;
        }
        versions = strcmp(cmd, "lsv") == 0;
        rc = versions
             ? fst_s3_list_versions(c, argv[1], argc > 2 ? argv[2] : NULL,
                                     fst_cli_print_entry, &versions, err,
                                     sizeof(err))
             : fst_s3_list_objects(c, argv[1], argc > 2 ? argv[2] : NULL,
                                    fst_cli_print_entry, &versions, err,
                                    sizeof(err));
    } else if (strcmp(cmd, "buckets") == 0) {
        versions = 0;
        rc = fst_s3_buckets_list(c, fst_cli_print_bucket, &versions, err,
                                  sizeof(err));
    } else if (strcmp(cmd, "info") == 0) {
        char  id[128];

        rc = fst_madmin_deployment_id(c, id, sizeof(id), err, sizeof(err));
        if (rc == 0) {
            printf("deployment_id=%s\n", id);
        }
    } else if (strcmp(cmd, "targets") == 0) {
        fst_madmin_target_t   *t;
        size_t                 n, k;

        if (argc != 2) {
            goto usage;
        }
        rc = fst_madmin_targets_list(c, argv[1], &t, &n, err, sizeof(err));
        if (rc == 0) {
            for (k = 0; k < n; k++) {
                printf("%s\t%s\t%s\t%s\t%s\n", t[k].arn, t[k].endpoint,
                       t[k].target_bucket, t[k].reset_id[0] ? t[k].reset_id
                       : "-", t[k].online ? "online" : "offline");
            }
            free(t);
        }
    } else if (strcmp(cmd, "notify") == 0 || strcmp(cmd, "unnotify") == 0) {
        if (argc != (strcmp(cmd, "notify") == 0 ? 3 : 2)) {
            goto usage;
        }
        rc = argc == 3
             ? fst_notify_set(c, argv[1], argv[2], err, sizeof(err))
             : fst_notify_clear(c, argv[1], err, sizeof(err));
    } else if (strcmp(cmd, "mb") == 0) {
        if (argc != 2) {
            goto usage;
        }
        rc = fst_s3_bucket_create(c, argv[1], &created, err, sizeof(err));
        if (rc == 0) {
            rc = fst_s3_bucket_versioning_set(c, argv[1], 1, err,
                                               sizeof(err));
        }
        if (rc == 0) {
            printf("%s %s\n", argv[1], created ? "created" : "adopted");
        }
    } else if (strcmp(cmd, "head") == 0) {
        if (argc != 3) {
            goto usage;
        }
        rc = fst_s3_object_head(c, argv[1], argv[2], NULL, &info, err,
                                 sizeof(err));
        if (rc == 0) {
            printf("size=%" PRId64 " etag=%s version=%s type=%s "
                   "replication=%s\n", info.size, info.etag, info.version_id,
                   info.content_type, info.replication_status[0]
                   ? info.replication_status : "-");
        }
    } else if (strcmp(cmd, "put") == 0) {
        int64_t  len = -1;

        if (argc != 4) {
            goto usage;
        }
        f.fd = strcmp(argv[3], "-") == 0 ? 0 : open(argv[3], O_RDONLY);
        if (f.fd < 0) {
            fprintf(stderr, "fado-storage: %s: %s\n", argv[3],
                    strerror(errno));
            goto out;
        }
        if (fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode)) {
            len = st.st_size;
        }
        rc = fst_cli_push
             ? fst_cli_put_push(site, argv[1], argv[2], &f, len, &info, err,
                                 sizeof(err))
             : fst_s3_object_put(c, argv[1], argv[2], NULL, fst_cli_read,
                                  &f, len, &info, err, sizeof(err));
        if (rc == 0) {
            printf("etag=%s version=%s\n", info.etag, info.version_id);
            fst_cli_report("put", f.bytes, t0);
        }
    } else if (strcmp(cmd, "get") == 0) {
        if (argc != 4) {
            goto usage;
        }
        f.fd = strcmp(argv[3], "-") == 0
               ? 1 : open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (f.fd < 0) {
            fprintf(stderr, "fado-storage: %s: %s\n", argv[3],
                    strerror(errno));
            goto out;
        }
        rc = fst_cli_push
             ? fst_cli_get_pull(site, argv[1], argv[2], &f, err, sizeof(err))
             : fst_s3_object_get(c, argv[1], argv[2], NULL, fst_cli_write,
                                  &f, &info, err, sizeof(err));
        if (rc == 0) {
            fst_cli_report("get", f.bytes, t0);
        }
    } else if (strcmp(cmd, "rm") == 0) {
        if (argc != 3 && argc != 4) {
            goto usage;
        }
        rc = fst_s3_object_delete(c, argv[1], argv[2],
                                   argc == 4 ? argv[3] : NULL, err,
                                   sizeof(err));
    } else {
        fprintf(stderr, "fado-storage: unknown command \"%s\"\n", cmd);
        goto usage;
    }
    if (rc != 0) {
        fprintf(stderr, "fado-storage: %s\n", err);
        if (getenv("FADO_STORAGE_API_STATUS")) {
            /* what the controller's API would answer: for the suites */
            fprintf(stderr, "api_status=%d\n", fst_s3_error_http_status(
                        fst_s3_last_status(c), fst_s3_last_code(c)));
        }
    }
    goto out;
usage:
    fst_cli_usage();
    rc = -2;
out:
    if (f.fd > 2) {
        close(f.fd);
    }
    fst_s3_client_free(c);
    return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}

static int
fst_cli_replication(fst_cli_site_t *home, int argc, char **argv)
{
    fst_cli_site_t         replica;
    fst_replica_state_e    state;
    char                   err[1024];
    const char            *cmd = argv[0];

    if (strcmp(cmd, "ensure-home") == 0 && argc == 2) {
        if (fst_replication_ensure_home(&home->site, argv[1], err,
                                         sizeof(err)) != 0)
        {
            fprintf(stderr, "fado-storage: %s\n", err);
            return 1;
        }
        printf("%s ready on %s\n", argv[1], home->name);
        return 0;
    }
    if (strcmp(cmd, "converge") == 0 && argc == 4) {
        if (fst_cli_site(argv[2], &replica) != 0) {
            return 1;
        }
        if (fst_replication_converge(&home->site, &replica.site, argv[1],
                                      atoi(argv[3]), &state, err,
                                      sizeof(err)) != 0)
        {
            fprintf(stderr, "fado-storage: %s\n", err);
            printf("%s\n", fst_replica_state_name(FST_REPLICA_FAILED));
            return 1;
        }
        printf("%s\n", fst_replica_state_name(state));
        return 0;
    }
    if (strcmp(cmd, "wait") == 0 && argc >= 4) {
        double  t0 = fst_cli_now(), deadline = t0 + atof(argv[2]);
        int     i, ready;

        for (;;) {
            ready = 0;
            for (i = 3; i < argc; i++) {
                if (fst_cli_site(argv[i], &replica) != 0) {
                    return 1;
                }
                if (fst_replication_converge(&home->site, &replica.site,
                                              argv[1], i - 2, &state, err,
                                              sizeof(err)) != 0)
                {
                    fprintf(stderr, "fado-storage: %s: %s (retrying)\n",
                            argv[i], err);
                    continue;
                }
                ready += state == FST_REPLICA_READY;
            }
            if (ready == argc - 3) {
                printf("ready\n");
                fst_cli_report("wait", 0, t0);
                return 0;
            }
            if (fst_cli_now() > deadline) {
                printf("%s\n", fst_replica_state_name(FST_REPLICA_SYNCING));
                fprintf(stderr, "fado-storage: %s: not caught up after %s s\n",
                        argv[1], argv[2]);
                return 1;
            }
            usleep(250 * 1000);
        }
    }
    if (strcmp(cmd, "purge") == 0 && argc == 3
        && strcmp(argv[2], "--yes-delete-all-data") == 0)
    {
        size_t  n;

        if (fst_replication_purge(&home->site, argv[1], &n, err,
                                   sizeof(err)) != 0)
        {
            fprintf(stderr, "fado-storage: %s\n", err);
            return 1;
        }
        printf("purged %zu versions\n", n);
        return 0;
    }
    if (strcmp(cmd, "progress") == 0 && argc == 3) {
        fst_replica_progress_t  p;

        if (fst_cli_site(argv[2], &replica) != 0) {
            return 1;
        }
        if (fst_replication_progress(&home->site, &replica.site, argv[1],
                                      &p, err, sizeof(err)) != 0)
        {
            fprintf(stderr, "fado-storage: %s\n", err);
            return 1;
        }
        printf("versions=%zu missing=%zu\n", p.versions, p.missing);
        return 0;
    }
    if (strcmp(cmd, "stop") == 0 && argc == 3) {
        if (fst_cli_site(argv[2], &replica) != 0) {
            return 1;
        }
        if (fst_replication_stop(&home->site, &replica.site, argv[1], err,
                                  sizeof(err)) != 0)
        {
            fprintf(stderr, "fado-storage: %s\n", err);
            return 1;
        }
        printf("stopped\n");
        return 0;
    }
    if (strcmp(cmd, "release") == 0 && (argc == 2 || argc == 3)) {
        int     draining;
        size_t  removed;

        if (argc == 3 && fst_cli_site(argv[2], &replica) != 0) {
            return 1;
        }
        if (fst_replication_release(&home->site, argc == 3 ? &replica.site : NULL,
                                     argv[1], &draining, &removed, err, sizeof(err)) != 0)
        {
            fprintf(stderr, "fado-storage: %s\n", err);
            return 1;
        }
        if (draining) {
            printf("draining\n");
        } else {
            printf("released %zu\n", removed);
        }
        return 0;
    }
    if (strcmp(cmd, "reachable") == 0 && argc == 2) {
        int  up = fst_replication_reachable(&home->site, argv[1]);

        printf("%s\n", up ? "reachable" : "unreachable");
        return up ? 0 : 1;
    }
    fst_cli_usage();
    return 2;
}

int
main(int argc, char **argv)
{
    fst_cli_site_t    home;
    const char       *site = "minio0";
    size_t            part_mib = 0;
    int               i = 1;

    /* a closed stdout (| head) is an error to report, not a death */
    signal(SIGPIPE, SIG_IGN);
    while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            site = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--push") == 0) {
            fst_cli_push = 1;
            i++;
        } else if (strcmp(argv[i], "--stats") == 0) {
            fst_cli_stats = 1;
            i++;
        } else if (strcmp(argv[i], "--part-size") == 0 && i + 1 < argc) {
            part_mib = strtoul(argv[i + 1], NULL, 10);
            if (part_mib < 5 || part_mib > 5120) {
                fprintf(stderr, "fado-storage: --part-size \"%s\": expected "
                        "5..5120 (MiB)\n", argv[i + 1]);
                return 2;
            }
            i += 2;
        } else {
            fprintf(stderr, "fado-storage: unknown option \"%s\"\n", argv[i]);
            fst_cli_usage();
            return 2;
        }
    }
    if (i >= argc) {
        fst_cli_usage();
        return 2;
    }
    if (fst_cli_site(site, &home) != 0) {
        return 1;
    }
    argc -= i;
    argv += i;
    if (strcmp(argv[0], "ensure-home") == 0 || strcmp(argv[0], "converge") == 0
        || strcmp(argv[0], "wait") == 0 || strcmp(argv[0], "stop") == 0
        || strcmp(argv[0], "purge") == 0 || strcmp(argv[0], "progress") == 0
        || strcmp(argv[0], "release") == 0 || strcmp(argv[0], "reachable") == 0)
    {
        return fst_cli_replication(&home, argc, argv);
    }
    return fst_cli_s3(&home, part_mib, argc, argv);
}
