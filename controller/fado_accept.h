/*
 * fado_accept: the API's front door. It accepts connections itself and
 * hands one to libmicrohttpd only once its whole request head has arrived,
 * within a deadline, and is well-formed:
 *
 *   - connection caps: in total and per client address, counting both the
 *     connections waiting here and those libmicrohttpd serves;
 *   - a deadline for the whole request head (not an idle timer that every
 *     byte resets: a client sending one byte a second is cut at the
 *     deadline all the same);
 *   - the head is only peeked at (MSG_PEEK): until it is complete its bytes
 *     stay in the kernel's socket buffer, so a waiting connection costs the
 *     controller a few dozen bytes, whatever the client sends;
 *   - protocol errors (a head too large, a malformed request line or
 *     header, a bad Content-Length, Transfer-Encoding) are answered here as
 *     JSON, before libmicrohttpd could answer them with its HTML pages.
 */

#ifndef FADO_ACCEPT_H
#define FADO_ACCEPT_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct fado_accept_s  fado_accept_t;

typedef struct {
    int      max_conns;         /* waiting here + served */
    int      max_per_ip;
    int      head_timeout_ms;   /* accept to the end of the request head */
    size_t   max_head;          /* bytes of request line and headers */
} fado_accept_conf_t;

/* Takes over a socket whose head is complete; returns 0, or -1 when it
 * could not (the socket is closed either way). */
typedef int (*fado_accept_handoff_fn)(void *ud, int fd, const struct sockaddr *addr,
    socklen_t addrlen);

fado_accept_t *fado_accept_start(const struct sockaddr_in *addr,
    const fado_accept_conf_t *conf, fado_accept_handoff_fn handoff, void *ud,
    char *err, size_t err_len);
/* Stops accepting and closes the connections still waiting; counting what
 * libmicrohttpd serves goes on until fado_accept_free. */
void fado_accept_stop(fado_accept_t *a);
void fado_accept_free(fado_accept_t *a);

/* libmicrohttpd's side: a handed-over connection started / ended. */
void fado_accept_served(fado_accept_t *a, const struct sockaddr *addr, int started);

/* Connections refused (caps), cut (head deadline) and answered with a
 * protocol error since the start. */
void fado_accept_counters(fado_accept_t *a, unsigned long *refused,
    unsigned long *timed_out, unsigned long *malformed);

#endif /* FADO_ACCEPT_H */
