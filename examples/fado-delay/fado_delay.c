/*
 * fado-delay: a user-space WAN emulator. A TCP proxy that forwards
 * 127.0.0.1:LISTEN to 127.0.0.1:TARGET and holds every chunk of bytes for a
 * fixed one-way delay in each direction, so a client across it pays the
 * round trip it would pay between regions (no kernel netem on this machine).
 *
 *   fado-delay --listen 127.0.0.1:P --target 127.0.0.1:T --delay 10ms
 *              [--rate BYTES_PER_SECOND]
 *
 * One thread, epoll, non-blocking sockets. Each direction keeps a queue of
 * chunks stamped with the time they may leave; the loop sleeps until the
 * earliest stamp. Reading stops while a direction holds FADO_DELAY_QUEUE_MAX
 * bytes, so a slow peer slows the sender instead of growing memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FADO_DELAY_CHUNK      65536
#define FADO_DELAY_QUEUE_MAX  (4u << 20)

typedef struct fado_delay_chunk_s fado_delay_chunk_t;
struct fado_delay_chunk_s {
    fado_delay_chunk_t *next;
    uint64_t            due_ns;
    size_t              len;     /* 0 marks the sender's end of stream */
    size_t              off;
    unsigned char       data[];
};

typedef struct {
    fado_delay_chunk_t *head, *tail;
    size_t              bytes;
    int                 eof_read;   /* source said EOF; marker queued */
    int                 shut;       /* destination write side shut down */
    uint64_t            rate_next_ns;
} fado_delay_dir_t;

typedef struct fado_delay_conn_s fado_delay_conn_t;

typedef struct {
    fado_delay_conn_t *conn;
    int                side;        /* 0 client, 1 target */
    int                fd;
    uint32_t           mask;
} fado_delay_end_t;

struct fado_delay_conn_s {
    fado_delay_conn_t *next, *prev;
    fado_delay_end_t   end[2];
    fado_delay_dir_t   dir[2];      /* dir[s]: bytes read from side s */
    int                connected;
    int                dead;
};

static uint64_t           fado_delay_ns;
static uint64_t           fado_delay_rate;   /* bytes/s per direction, 0 = none */
static struct sockaddr_in fado_delay_target;
static int                fado_delay_ep;
static fado_delay_conn_t *fado_delay_conns;

/* Stopping drops queued bytes on purpose: an emulated link that goes away. */
static void
fado_delay_on_term(int sig)
{
    (void) sig;
    _exit(0);
}

static uint64_t
fado_delay_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("fado-delay: clock_gettime");
        exit(1);
    }
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
fado_delay_parse_addr(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    char *end;
    long port;

    if (colon == NULL || (size_t) (colon - s) >= sizeof(host)) {
        return -1;
    }
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t) port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* "10ms", "250us", "1s" or a bare number of milliseconds. */
static int
fado_delay_parse_duration(const char *s, uint64_t *ns)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || v < 0) {
        return -1;
    }
    if (*end == '\0' || strcmp(end, "ms") == 0) {
        *ns = (uint64_t) (v * 1e6);
    } else if (strcmp(end, "us") == 0) {
        *ns = (uint64_t) (v * 1e3);
    } else if (strcmp(end, "s") == 0) {
        *ns = (uint64_t) (v * 1e9);
    } else {
        return -1;
    }
    return 0;
}

static void
fado_delay_watch(fado_delay_end_t *e, uint32_t mask)
{
    struct epoll_event ev;

    if (e->fd < 0 || e->mask == mask) {
        return;
    }
    ev.events = mask;
    ev.data.ptr = e;
    if (epoll_ctl(fado_delay_ep, EPOLL_CTL_MOD, e->fd, &ev) != 0) {
        perror("fado-delay: epoll_ctl");
        e->conn->dead = 1;
        return;
    }
    e->mask = mask;
}

static void
fado_delay_free(fado_delay_conn_t *c)
{
    for (int s = 0; s < 2; s++) {
        fado_delay_chunk_t *ch = c->dir[s].head, *nx;
        for (; ch != NULL; ch = nx) {
            nx = ch->next;
            free(ch);
        }
        if (c->end[s].fd >= 0) {
            close(c->end[s].fd);   /* close also drops it from epoll */
        }
    }
    if (c->prev) c->prev->next = c->next; else fado_delay_conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
}

static void
fado_delay_read(fado_delay_conn_t *c, int s)
{
    fado_delay_dir_t *d = &c->dir[s];

    while (!d->eof_read && d->bytes < FADO_DELAY_QUEUE_MAX) {
        fado_delay_chunk_t *ch = malloc(sizeof(*ch) + FADO_DELAY_CHUNK);
        ssize_t n;

        if (ch == NULL) {
            fprintf(stderr, "fado-delay: out of memory\n");
            c->dead = 1;
            return;
        }
        n = read(c->end[s].fd, ch->data, FADO_DELAY_CHUNK);
        if (n < 0) {
            free(ch);
            if (errno != EAGAIN && errno != EINTR) {
                c->dead = 1;
            }
            return;
        }
        ch->next = NULL;
        ch->len = (size_t) n;
        ch->off = 0;
        ch->due_ns = fado_delay_now() + fado_delay_ns;
        if (fado_delay_rate > 0 && n > 0) {
            /* A bandwidth limit serialises chunks: each leaves no earlier
             * than the previous one plus its own transmission time. */
            uint64_t tx = (uint64_t) n * 1000000000u / fado_delay_rate;
            if (d->rate_next_ns > ch->due_ns) ch->due_ns = d->rate_next_ns;
            ch->due_ns += tx;
            d->rate_next_ns = ch->due_ns;
        }
        if (d->tail) d->tail->next = ch; else d->head = ch;
        d->tail = ch;
        d->bytes += (size_t) n;
        if (n == 0) {
            d->eof_read = 1;
        }
    }
}

/* Writes what is due from dir[s] to the other side; returns 1 if it blocked. */
static int
fado_delay_flush(fado_delay_conn_t *c, int s, uint64_t now)
{
    fado_delay_dir_t *d = &c->dir[s];
    fado_delay_end_t *dst = &c->end[!s];

    if (!c->connected) {
        return 0;
    }
    while (d->head != NULL && d->head->due_ns <= now) {
        fado_delay_chunk_t *ch = d->head;
        if (ch->len == 0) {
            if (shutdown(dst->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
                c->dead = 1;
            }
            d->shut = 1;
        } else {
            ssize_t n = write(dst->fd, ch->data + ch->off, ch->len - ch->off);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    return 1;
                }
                c->dead = 1;
                return 0;
            }
            ch->off += (size_t) n;
            if (ch->off < ch->len) {
                continue;
            }
            d->bytes -= ch->len;
        }
        d->head = ch->next;
        if (d->head == NULL) d->tail = NULL;
        free(ch);
    }
    return 0;
}

static void
fado_delay_accept(int lfd)
{
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int tfd, one = 1;
        fado_delay_conn_t *c;
        struct epoll_event ev;

        if (cfd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                perror("fado-delay: accept");
            }
            return;
        }
        tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (tfd < 0) {
            perror("fado-delay: socket");
            close(cfd);
            continue;
        }
        if (connect(tfd, (struct sockaddr *) &fado_delay_target,
                    sizeof(fado_delay_target)) != 0 && errno != EINPROGRESS) {
            perror("fado-delay: connect to target");
            close(tfd);
            close(cfd);
            continue;
        }
        /* Delay is ours to add: Nagle must not add more. */
        (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            fprintf(stderr, "fado-delay: out of memory\n");
            close(tfd);
            close(cfd);
            continue;
        }
        for (int s = 0; s < 2; s++) {
            c->end[s].conn = c;
            c->end[s].side = s;
            c->end[s].fd = s == 0 ? cfd : tfd;
            c->end[s].mask = s == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT;
            ev.events = c->end[s].mask;
            ev.data.ptr = &c->end[s];
            if (epoll_ctl(fado_delay_ep, EPOLL_CTL_ADD, c->end[s].fd, &ev) != 0) {
                perror("fado-delay: epoll_ctl add");
                c->dead = 1;
            }
        }
        c->next = fado_delay_conns;
        if (c->next) c->next->prev = c;
        fado_delay_conns = c;
    }
}

static void
fado_delay_usage(void)
{
    fprintf(stderr, "usage: fado-delay --listen 127.0.0.1:PORT --target 127.0.0.1:PORT"
                    " --delay DURATION [--rate BYTES_PER_SECOND]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in la;
    const char *listen_s = NULL, *target_s = NULL, *delay_s = "0";
    int lfd, one = 1;
    struct epoll_event ev, evs[256];
    fado_delay_end_t lend = { 0 };

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) fado_delay_usage();
        if (strcmp(argv[i], "--listen") == 0) listen_s = argv[++i];
        else if (strcmp(argv[i], "--target") == 0) target_s = argv[++i];
        else if (strcmp(argv[i], "--delay") == 0) delay_s = argv[++i];
        else if (strcmp(argv[i], "--rate") == 0) {
            char *end;
            fado_delay_rate = strtoull(argv[++i], &end, 10);
            if (*end != '\0' || argv[i][0] == '-') {
                fprintf(stderr, "fado-delay: invalid --rate \"%s\" (bytes per second)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "fado-delay: unknown option \"%s\"\n", argv[i]);
            fado_delay_usage();
        }
    }
    if (listen_s == NULL || target_s == NULL) fado_delay_usage();
    if (fado_delay_parse_addr(listen_s, &la) != 0) {
        fprintf(stderr, "fado-delay: invalid --listen \"%s\" (want IPv4:PORT)\n", listen_s);
        return 2;
    }
    if (fado_delay_parse_addr(target_s, &fado_delay_target) != 0) {
        fprintf(stderr, "fado-delay: invalid --target \"%s\" (want IPv4:PORT)\n", target_s);
        return 2;
    }
    if (fado_delay_parse_duration(delay_s, &fado_delay_ns) != 0) {
        fprintf(stderr, "fado-delay: invalid --delay \"%s\" (e.g. 10ms, 500us, 1s)\n", delay_s);
        return 2;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR
        || signal(SIGTERM, fado_delay_on_term) == SIG_ERR
        || signal(SIGINT, fado_delay_on_term) == SIG_ERR) {
        perror("fado-delay: signal");
        return 1;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0
        || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || bind(lfd, (struct sockaddr *) &la, sizeof(la)) != 0
        || listen(lfd, 512) != 0) {
        fprintf(stderr, "fado-delay: cannot listen on %s: %s\n", listen_s, strerror(errno));
        return 1;
    }
    fado_delay_ep = epoll_create1(EPOLL_CLOEXEC);
    if (fado_delay_ep < 0) {
        perror("fado-delay: epoll_create1");
        return 1;
    }
    lend.fd = lfd;
    lend.side = -1;
    ev.events = EPOLLIN;
    ev.data.ptr = &lend;
    if (epoll_ctl(fado_delay_ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("fado-delay: epoll_ctl");
        return 1;
    }
    fprintf(stderr, "fado-delay: %s -> %s, one-way delay %s, rate %llu B/s\n",
            listen_s, target_s, delay_s, (unsigned long long) fado_delay_rate);

    for (;;) {
        uint64_t now = fado_delay_now(), next = UINT64_MAX;
        int timeout, n;
        fado_delay_conn_t *c, *nx;

        for (c = fado_delay_conns; c != NULL; c = nx) {
            nx = c->next;
            for (int s = 0; s < 2 && !c->dead; s++) {
                int blocked = fado_delay_flush(c, s, now);
                fado_delay_dir_t *d = &c->dir[s];
                uint32_t in = (!d->eof_read && d->bytes < FADO_DELAY_QUEUE_MAX) ? EPOLLIN : 0;
                uint32_t out = c->dir[!s].head && (c->dir[!s].head->due_ns <= now) ? EPOLLOUT : 0;
                (void) blocked;
                if (s == 1 && !c->connected) out = EPOLLOUT;
                fado_delay_watch(&c->end[s], in | out);
                if (d->head && d->head->due_ns > now && d->head->due_ns < next) {
                    next = d->head->due_ns;
                }
            }
            if (c->dead || (c->dir[0].shut && c->dir[1].shut)) {
                fado_delay_free(c);
            }
        }
        timeout = next == UINT64_MAX ? -1 : (int) ((next - now + 999999) / 1000000);
        n = epoll_wait(fado_delay_ep, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("fado-delay: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            fado_delay_end_t *e = evs[i].data.ptr;
            if (e->side < 0) {
                fado_delay_accept(lfd);
                continue;
            }
            c = e->conn;
            if (c->dead) continue;
            if (e->side == 1 && !c->connected && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                    fprintf(stderr, "fado-delay: target %s: %s\n", target_s,
                            strerror(err ? err : errno));
                    c->dead = 1;
                    continue;
                }
                c->connected = 1;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                fado_delay_read(c, e->side);
            }
        }
    }
}
