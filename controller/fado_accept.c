/*
 * fado_accept: accept, cap, wait for a complete and valid request head,
 * hand over (see fado_accept.h).
 *
 * One thread runs an epoll loop over the listening socket and the waiting
 * connections (edge-triggered: a peeked byte stays readable, so level
 * triggering would spin). Waiting connections sit in a list in accept
 * order; with one timeout for all, the first is always the next to expire.
 * Refused ones linger a moment after the answer (shut for writing, input
 * drained) so that closing with unread input does not reset the
 * connection before the client has read why.
 */

#include "fado_accept.h"
#include "fado_clock.h"
#include "fado_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define FADO_ACCEPT_IP_BUCKETS  1024
#define FADO_ACCEPT_LINGER_MS   1000
#define FADO_ACCEPT_MAX_LINGER  256

typedef struct fado_accept_conn_s  fado_accept_conn_t;

struct fado_accept_conn_s {
    int                      fd;
    int                      lingering;
    long long                deadline;      /* ms, monotonic */
    struct sockaddr_storage  addr;
    socklen_t                addrlen;
    fado_accept_conn_t      *prev, *next;
};

typedef struct {
    fado_accept_conn_t  *head, *tail;
    int                  count;
} fado_accept_list_t;

/* Connections per client address, waiting here or served. */
typedef struct fado_accept_ip_s  fado_accept_ip_t;

struct fado_accept_ip_s {
    unsigned char      key[16];
    int                count;
    fado_accept_ip_t  *next;
};

struct fado_accept_s {
    fado_accept_conf_t       conf;
    int                      listen_fd;
    int                      epoll_fd;
    int                      wake_fd;
    pthread_t                thread;
    atomic_int               stop;
    char                    *peek;          /* max_head + 1 bytes, loop thread only */
    fado_accept_handoff_fn   handoff;
    void                    *ud;
    fado_accept_list_t       waiting;
    fado_accept_list_t       linger;
    pthread_mutex_t          lock;          /* what follows */
    int                      total;
    fado_accept_ip_t        *ips[FADO_ACCEPT_IP_BUCKETS];
    atomic_ulong             refused, timed_out, malformed;
};

/* ------------------------------------------------------------ counts */

static void
fado_accept_ip_key(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *) sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
    }
}

static fado_accept_ip_t **
fado_accept_ip_slot(fado_accept_t *a, const unsigned char key[16])
{
    uint32_t             h = 2166136261u;
    fado_accept_ip_t   **pp;

    for (int i = 0; i < 16; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    for (pp = &a->ips[h % FADO_ACCEPT_IP_BUCKETS]; *pp; pp = &(*pp)->next) {
        if (memcmp((*pp)->key, key, 16) == 0) {
            break;
        }
    }
    return pp;
}

/* Counts a connection from sa in: 0, or an HTTP status refusing it. */
static int
fado_accept_count_in(fado_accept_t *a, const struct sockaddr *sa, int force)
{
    unsigned char       key[16];
    fado_accept_ip_t  **pp, *e;
    int                 status = 0;

    fado_accept_ip_key(sa, key);
    pthread_mutex_lock(&a->lock);
    pp = fado_accept_ip_slot(a, key);
    if (!force && a->total >= a->conf.max_conns) {
        status = 503;
    } else if (!force && *pp != NULL && (*pp)->count >= a->conf.max_per_ip) {
        status = 429;
    } else if (*pp == NULL && (e = calloc(1, sizeof(*e))) == NULL) {
        status = 503;
    } else {
        if (*pp == NULL) {
            memcpy(e->key, key, 16);
            *pp = e;
        }
        (*pp)->count++;
        a->total++;
    }
    pthread_mutex_unlock(&a->lock);
    return status;
}

static void
fado_accept_count_out(fado_accept_t *a, const struct sockaddr *sa)
{
    unsigned char       key[16];
    fado_accept_ip_t  **pp, *e;

    fado_accept_ip_key(sa, key);
    pthread_mutex_lock(&a->lock);
    pp = fado_accept_ip_slot(a, key);
    if (*pp != NULL) {
        a->total--;
        if (--(*pp)->count == 0) {
            e = *pp;
            *pp = e->next;
            free(e);
        }
    }
    pthread_mutex_unlock(&a->lock);
}

void
fado_accept_served(fado_accept_t *a, const struct sockaddr *addr, int started)
{
    if (started) {
        /* Admitted already: it only has to be counted. */
        (void) fado_accept_count_in(a, addr, 1);
    } else {
        fado_accept_count_out(a, addr);
    }
}

void
fado_accept_counters(fado_accept_t *a, unsigned long *refused, unsigned long *timed_out,
    unsigned long *malformed)
{
    *refused = atomic_load(&a->refused);
    *timed_out = atomic_load(&a->timed_out);
    *malformed = atomic_load(&a->malformed);
}

/* ------------------------------------------------------------ lists */

static void
fado_accept_list_add(fado_accept_list_t *l, fado_accept_conn_t *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = c;
    } else {
        l->head = c;
    }
    l->tail = c;
    l->count++;
}

static void
fado_accept_list_del(fado_accept_list_t *l, fado_accept_conn_t *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        l->head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        l->tail = c->prev;
    }
    l->count--;
}

/* Ends a connection we still own. */
static void
fado_accept_close(fado_accept_t *a, fado_accept_conn_t *c)
{
    fado_accept_list_del(c->lingering ? &a->linger : &a->waiting, c);
    close(c->fd);   /* also leaves the epoll set */
    if (!c->lingering) {
        fado_accept_count_out(a, (struct sockaddr *) &c->addr);
    }
    free(c);
}

/* ------------------------------------------------------------ answers */

static void
fado_accept_send_error(int fd, int status, const char *code, const char *field,
    const char *message)
{
    char         body[512], out[1024];
    int          blen, n;
    const char  *reason = status == 400 ? "Bad Request" : status == 408 ? "Request Timeout"
                        : status == 411 ? "Length Required" : status == 429 ? "Too Many Requests"
                        : status == 431 ? "Request Header Fields Too Large"
                        : status == 505 ? "HTTP Version Not Supported" : "Service Unavailable";

    blen = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"%s%s%s}}\n",
                    code, message, field ? ",\"field\":\"" : "", field ? field : "",
                    field ? "\"" : "");
    if (blen < 0 || (size_t) blen >= sizeof(body)) {
        return;
    }
    n = snprintf(out, sizeof(out), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n%s", status, reason, blen, body);
    if (n > 0 && (size_t) n < sizeof(out)) {
        /* Best effort: a client that does not read does not get it. */
        (void) send(fd, out, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}

/* Answers, then lingers (or closes when too many linger already). */
static void
fado_accept_refuse(fado_accept_t *a, fado_accept_conn_t *c, int status, const char *code,
    const char *field, const char *message)
{
    fado_accept_send_error(c->fd, status, code, field, message);
    (void) shutdown(c->fd, SHUT_WR);
    if (a->linger.count >= FADO_ACCEPT_MAX_LINGER) {
        fado_accept_close(a, c);
        return;
    }
    fado_accept_list_del(&a->waiting, c);
    fado_accept_count_out(a, (struct sockaddr *) &c->addr);
    c->lingering = 1;
    c->deadline = fado_clock_ms() + FADO_ACCEPT_LINGER_MS;
    fado_accept_list_add(&a->linger, c);
}

/* ------------------------------------------------------------ the head */

static int
fado_accept_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
           || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

typedef struct {
    int          status;
    const char  *code;
    const char  *field;
    const char  *message;
} fado_accept_verdict_t;

#define FADO_ACCEPT_BAD(v, st, c, f, m) \
    ((v)->status = (st), (v)->code = (c), (v)->field = (f), (v)->message = (m), -1)

/*
 * Checks the head [p, p+n) (ends with the empty line): 0 if libmicrohttpd
 * may have it, else -1 with the answer in *v.
 */
static int
fado_accept_check_head(const char *p, size_t n, fado_accept_verdict_t *v)
{
    const char  *end = p + n, *line, *eol, *sp1, *sp2;
    int          http11, host = 0, have_len = 0;
    char         len_seen[24] = "";

    eol = memchr(p, '\n', n);
    if (eol == NULL) {
        return FADO_ACCEPT_BAD(v, 400, "bad_request", "request-line", "the request line is malformed");
    }
    line = p;
    if (eol > line && eol[-1] == '\r') {
        eol--;
    }
    for (sp1 = line; sp1 < eol && fado_accept_tchar((unsigned char) *sp1); sp1++) {
    }
    if (sp1 == line || sp1 == eol || *sp1 != ' ' || sp1 - line > 16) {
        return FADO_ACCEPT_BAD(v, 400, "bad_request", "request-line",
                               "the request line must be: METHOD /path HTTP/1.x");
    }
    for (sp2 = sp1 + 1; sp2 < eol && *sp2 != ' '; sp2++) {
        if ((unsigned char) *sp2 <= 0x20 || *sp2 == 0x7f) {
            return FADO_ACCEPT_BAD(v, 400, "bad_request", "request-line",
                                   "the request target holds a control character");
        }
    }
    if (sp2 == eol || sp1[1] != '/' || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0
        || (sp2[8] != '0' && sp2[8] != '1'))
    {
        if (sp2 < eol && eol - sp2 == 9 && memcmp(sp2 + 1, "HTTP/", 5) == 0) {
            return FADO_ACCEPT_BAD(v, 505, "http_version_not_supported", "request-line",
                                   "only HTTP/1.0 and HTTP/1.1 are served");
        }
        return FADO_ACCEPT_BAD(v, 400, "bad_request", "request-line",
                               "the request line must be: METHOD /path HTTP/1.x");
    }
    http11 = sp2[8] == '1';
    /* libmicrohttpd decodes %00 into a NUL that ends the path or value
     * early ("abc%00def" would name "abc"): refused while it is visible. */
    for (const char *q = sp1 + 1; q + 2 < sp2; q++) {
        if (q[0] == '%' && q[1] == '0' && q[2] == '0') {
            const char  *query = memchr(sp1 + 1, '?', (size_t) (sp2 - sp1 - 1));
            int          in_query = query != NULL && q > query;
            int          in_key = !in_query && (size_t) (sp2 - sp1) > 12
                                  && memcmp(sp1 + 1, "/v1/buckets/", 12) == 0
                                  && memmem(sp1 + 1, (size_t) (q - sp1 - 1), "/objects/", 9);

            return in_key ? FADO_ACCEPT_BAD(v, 400, "invalid_key", "key",
                                            "an object key must not hold NUL (%00)")
                 : FADO_ACCEPT_BAD(v, 400, "invalid_field", in_query ? "query" : "path",
                                   "the request target must not hold NUL (%00)");
        }
    }

    for (line = memchr(p, '\n', n) + 1; line < end; line = eol + 1) {
        const char  *colon, *val, *vend;

        eol = memchr(line, '\n', (size_t) (end - line));
        if (eol == NULL) {
            break;
        }
        vend = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        if (vend == line) {
            break;                  /* the empty line: end of the head */
        }
        for (colon = line; colon < vend && fado_accept_tchar((unsigned char) *colon); colon++) {
        }
        if (colon == line || colon == vend || *colon != ':') {
            return FADO_ACCEPT_BAD(v, 400, "bad_request", "headers",
                                   "a header line is not \\\"Name: value\\\"");
        }
        for (val = colon + 1; val < vend && (*val == ' ' || *val == '\t'); val++) {
        }
        while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t')) {
            vend--;
        }
        for (const char *q = val; q < vend; q++) {
            if (((unsigned char) *q < 0x20 && *q != '\t') || *q == 0x7f) {
                return FADO_ACCEPT_BAD(v, 400, "bad_request", "headers",
                                       "a header value holds a control character");
            }
        }
        if ((size_t) (colon - line) == 4 && strncasecmp(line, "Host", 4) == 0) {
            host++;
        } else if ((size_t) (colon - line) == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            return FADO_ACCEPT_BAD(v, 411, "length_required", "Transfer-Encoding",
                                   "request bodies are sent with a Content-Length;"
                                   " Transfer-Encoding is not accepted");
        } else if ((size_t) (colon - line) == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            size_t  len = (size_t) (vend - val);

            if (len == 0 || len > 18) {
                return FADO_ACCEPT_BAD(v, 400, "invalid_field", "Content-Length",
                                       "Content-Length must be a decimal number of bytes");
            }
            for (const char *q = val; q < vend; q++) {
                if (*q < '0' || *q > '9') {
                    return FADO_ACCEPT_BAD(v, 400, "invalid_field", "Content-Length",
                                           "Content-Length must be a decimal number of bytes");
                }
            }
            if (have_len && (strlen(len_seen) != len || memcmp(len_seen, val, len) != 0)) {
                return FADO_ACCEPT_BAD(v, 400, "invalid_field", "Content-Length",
                                       "Content-Length is given twice with different values");
            }
            memcpy(len_seen, val, len);
            len_seen[len] = '\0';
            have_len = 1;
        }
    }
    if (http11 && host != 1) {
        return FADO_ACCEPT_BAD(v, 400, "bad_request", "Host",
                               "an HTTP/1.1 request needs exactly one Host header");
    }
    return 0;
}

/* Length of the head in [p, p+n) including its empty line, 0 if incomplete. */
static size_t
fado_accept_head_len(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\n' && (p[i + 1] == '\n'
                             || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')))
        {
            return i + (p[i + 1] == '\n' ? 2 : 3);
        }
    }
    return 0;
}

/* New input on a waiting connection. */
static void
fado_accept_readable(fado_accept_t *a, fado_accept_conn_t *c)
{
    ssize_t                 n;
    size_t                  head;
    fado_accept_verdict_t   v;

    if (c->lingering) {
        char  sink[4096];
        while ((n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) {
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            fado_accept_close(a, c);
        }
        return;
    }
    n = recv(c->fd, a->peek, a->conf.max_head + 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        fado_accept_close(a, c);        /* gone before finishing its head */
        return;
    }
    head = fado_accept_head_len(a->peek, (size_t) n);
    if (head == 0 || head > a->conf.max_head) {
        if ((size_t) n > a->conf.max_head) {
            atomic_fetch_add(&a->malformed, 1);
            fado_accept_refuse(a, c, 431, "head_too_large", "headers",
                               "the request line and headers are over the size limit");
        }
        return;                         /* wait for more */
    }
    if (fado_accept_check_head(a->peek, head, &v) != 0) {
        atomic_fetch_add(&a->malformed, 1);
        fado_accept_refuse(a, c, v.status, v.code, v.field, v.message);
        return;
    }

    /* Complete and well-formed: libmicrohttpd reads it again from the
     * socket and counts the connection from now on (fado_accept_served). */
    fado_accept_list_del(&a->waiting, c);
    (void) epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    fado_accept_count_out(a, (struct sockaddr *) &c->addr);
    (void) a->handoff(a->ud, c->fd, (struct sockaddr *) &c->addr, c->addrlen);
    free(c);
}

static void
fado_accept_new(fado_accept_t *a)
{
    for (;;) {
        struct sockaddr_storage  ss;
        socklen_t                len = sizeof(ss);
        fado_accept_conn_t      *c;
        struct epoll_event       ev;
        int                      fd, status;

        fd = accept4(a->listen_fd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                fado_log(FADO_LOG_WARN, "msg=\"out of file descriptors, not accepting\"");
            }
            return;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        memcpy(&c->addr, &ss, len);
        c->addrlen = len;
        c->deadline = fado_clock_ms() + a->conf.head_timeout_ms;
        status = fado_accept_count_in(a, (struct sockaddr *) &ss, 0);
        if (status != 0) {
            atomic_fetch_add(&a->refused, 1);
            c->lingering = 1;
            fado_accept_send_error(fd, status, status == 429 ? "too_many_connections" : "busy",
                                   NULL, status == 429
                                   ? "too many connections from this address"
                                   : "the controller is at its connection limit");
            (void) shutdown(fd, SHUT_WR);
            if (a->linger.count >= FADO_ACCEPT_MAX_LINGER) {
                close(fd);
                free(c);
                continue;
            }
            c->deadline = fado_clock_ms() + FADO_ACCEPT_LINGER_MS;
            fado_accept_list_add(&a->linger, c);
        } else {
            fado_accept_list_add(&a->waiting, c);
        }
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            fado_accept_close(a, c);
            continue;
        }
        /* Bytes may have come with the handshake: edge triggering will not
         * say so again. */
        fado_accept_readable(a, c);
    }
}

static void
fado_accept_expire(fado_accept_t *a, long long now)
{
    while (a->waiting.head != NULL && a->waiting.head->deadline <= now) {
        atomic_fetch_add(&a->timed_out, 1);
        fado_accept_refuse(a, a->waiting.head, 408, "request_timeout", "headers",
                           "the request head did not arrive in time");
    }
    while (a->linger.head != NULL && a->linger.head->deadline <= now) {
        fado_accept_close(a, a->linger.head);
    }
}

static void *
fado_accept_main(void *arg)
{
    fado_accept_t       *a = arg;
    struct epoll_event   evs[64];

    while (!a->stop) {
        long long  now = fado_clock_ms(), next = now + 1000;
        int        n;

        if (a->waiting.head != NULL && a->waiting.head->deadline < next) {
            next = a->waiting.head->deadline;
        }
        if (a->linger.head != NULL && a->linger.head->deadline < next) {
            next = a->linger.head->deadline;
        }
        n = epoll_wait(a->epoll_fd, evs, 64, next > now ? (int) (next - now) : 0);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                fado_accept_new(a);
            } else if (evs[i].data.ptr != (void *) a) {
                fado_accept_readable(a, evs[i].data.ptr);
            }
        }
        fado_accept_expire(a, fado_clock_ms());
    }
    return NULL;
}

fado_accept_t *
fado_accept_start(const struct sockaddr_in *addr, const fado_accept_conf_t *conf,
    fado_accept_handoff_fn handoff, void *ud, char *err, size_t err_len)
{
    fado_accept_t       *a = calloc(1, sizeof(*a));
    struct epoll_event   ev;
    int                  one = 1;

    if (a == NULL || (a->peek = malloc(conf->max_head + 1)) == NULL) {
        free(a);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    a->conf = *conf;
    a->handoff = handoff;
    a->ud = ud;
    a->epoll_fd = -1;
    a->wake_fd = -1;
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        snprintf(err, err_len, "cannot initialise a mutex");
        free(a->peek);
        free(a);
        return NULL;
    }
    a->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->listen_fd < 0
        || setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || bind(a->listen_fd, (const struct sockaddr *) addr, sizeof(*addr)) != 0
        || listen(a->listen_fd, 1024) != 0)
    {
        snprintf(err, err_len, "cannot listen: %s", strerror(errno));
        goto fail;
    }
    a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->epoll_fd < 0 || a->wake_fd < 0) {
        snprintf(err, err_len, "epoll: %s", strerror(errno));
        goto fail;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->listen_fd, &ev) != 0) {
        snprintf(err, err_len, "epoll: %s", strerror(errno));
        goto fail;
    }
    ev.data.ptr = a;
    if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->wake_fd, &ev) != 0
        || pthread_create(&a->thread, NULL, fado_accept_main, a) != 0)
    {
        snprintf(err, err_len, "cannot start the accept thread");
        goto fail;
    }
    return a;

fail:
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
    }
    if (a->epoll_fd >= 0) {
        close(a->epoll_fd);
    }
    if (a->wake_fd >= 0) {
        close(a->wake_fd);
    }
    pthread_mutex_destroy(&a->lock);
    free(a->peek);
    free(a);
    return NULL;
}

void
fado_accept_stop(fado_accept_t *a)
{
    uint64_t  one = 1;

    if (a == NULL) {
        return;
    }
    a->stop = 1;
    if (write(a->wake_fd, &one, sizeof(one)) < 0) {
        /* the loop wakes within a second anyway */
    }
    pthread_join(a->thread, NULL);
    while (a->waiting.head != NULL) {
        fado_accept_close(a, a->waiting.head);
    }
    while (a->linger.head != NULL) {
        fado_accept_close(a, a->linger.head);
    }
    close(a->listen_fd);
    close(a->epoll_fd);
    close(a->wake_fd);
    a->listen_fd = a->epoll_fd = a->wake_fd = -1;
}

void
fado_accept_free(fado_accept_t *a)
{
    if (a == NULL) {
        return;
    }
    for (int i = 0; i < FADO_ACCEPT_IP_BUCKETS; i++) {
        while (a->ips[i] != NULL) {
            fado_accept_ip_t  *e = a->ips[i];
            a->ips[i] = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&a->lock);
    free(a->peek);
    free(a);
}
