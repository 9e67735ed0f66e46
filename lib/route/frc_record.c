/*
 * Decoder of the fado route records, contract versions 1 and 2
 * (docs/routing-contract.md). Strict: any token off the grammar rejects the
 * whole record, so a gateway never routes on half-understood data.
 */

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "frc_record.h"
#include "frc_text.h"


#define FRC_POLICY_TOKEN(name, token)  token,

/* The policy tokens of the grammar, indexed by FRC_POLICY_*. */
static const char  *frc_record_policies[] = {
    FRC_POLICIES(FRC_POLICY_TOKEN)
};


static void
frc_record_err(char *err, const char *what, const char *s,
    size_t len)
{
    unsigned char  *e, q[4 * 24 + 4];

    /*
     * Quote at most 24 bytes of the offending token, escaped: enough to
     * find it, and what came from Redis cannot forge a log line.
     */
    e = frc_text_log(q, (const unsigned char *) s, len, 24);
    snprintf(err, FRC_ERR_LEN, "%s \"%.*s\"", what,
             (int) (e - q), q);
}


/* Parses 1..maxdigits decimal digits, no sign, into *v. */
static int
frc_record_uint(const char *s, size_t len, size_t maxdigits,
    uint64_t *v)
{
    size_t    i;
    uint64_t  n;

    if (len == 0 || len > maxdigits) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        if (n > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10) {
            return -1;
        }

        n = n * 10 + (uint64_t) (s[i] - '0');
    }

    *v = n;
    return 0;
}


int
frc_record_label_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > FRC_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A cluster in several zones publishes them all, "global+zone-1"; the
 * endpoints it contributes carry the same list as their zone.
 */
int
frc_record_zones_valid(const char *s, size_t len)
{
    size_t  i, start, n;

    if (len == 0 || len > FRC_ZONES_MAX) {
        return 0;
    }

    start = 0;
    n = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '+') {
            continue;
        }

        if (++n > FRC_ZONES_N
            || !frc_record_label_valid(s + start, i - start))
        {
            return 0;
        }

        start = i + 1;
    }

    return 1;
}


/*
 * S3's rules, the one copy (the controller's API checks names with it too):
 * 3..63 of a-z 0-9 . -, a letter or digit first and last, no "..".
 */
int
frc_record_bucket_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len < 3 || len > FRC_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            continue;
        }

        if ((c != '-' && c != '.') || i == 0 || i == len - 1
            || (c == '.' && s[i - 1] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


int
frc_record_header_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > FRC_HEADER_MAX) {
        return 0;
    }

    /* a header name nginx matches as it is: no '_', which it may drop */
    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


const char *
frc_record_policy_name(int policy)
{
    if (policy < 0 || policy > FRC_POLICY_LAST) {
        return "?";
    }

    return frc_record_policies[policy];
}


int
frc_record_policy(const char *s, size_t len)
{
    int  i;

    for (i = 0; i <= FRC_POLICY_LAST; i++) {
        if (strlen(frc_record_policies[i]) == len
            && memcmp(frc_record_policies[i], s, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


/* Returns the length of the token at s (up to a space or the end). */
static size_t
frc_record_token(const char *s, const char *end)
{
    const char  *p;

    for (p = s; p < end && *p != ' '; p++) { /* void */ }

    return (size_t) (p - s);
}


/*
 * What follows a record's tag in both kinds: " <version> ". *pp is just
 * past the tag, and moves past the space after the version.
 */
static int
frc_record_version(const char **pp, const char *end, uint64_t *version, char *err)
{
    const char  *p = *pp;
    size_t       tl;

    if (p == end || *p++ != ' ') {
        snprintf(err, FRC_ERR_LEN, "record ends after its tag");
        return -1;
    }

    tl = frc_record_token(p, end);
    if (frc_record_uint(p, tl, 20, version) != 0) {
        frc_record_err(err, "invalid version", p, tl);
        return -1;
    }

    p += tl;
    if (p == end || *p++ != ' ') {
        snprintf(err, FRC_ERR_LEN, "record ends after its version");
        return -1;
    }

    *pp = p;
    return 0;
}


int
frc_record_head(const char *s, size_t len,
    frc_record_head_t *head, char *err)
{
    size_t       tl;
    const char  *p, *end;

    if (len > FRC_RECORD_MAX) {
        snprintf(err, FRC_ERR_LEN,
                 "record of %zu bytes exceeds the %d bytes limit",
                 len, FRC_RECORD_MAX);
        return -1;
    }

    p = s;
    end = s + len;

    tl = frc_record_token(p, end);
    if (tl != 2 || p[0] != 'F' || (p[1] != '1' && p[1] != '2')) {
        frc_record_err(err, "unknown record tag", p, tl);
        return -1;
    }

    head->contract = p[1] - '0';

    p += tl;
    if (frc_record_version(&p, end, &head->version, err) != 0) {
        return -1;
    }

    tl = frc_record_token(p, end);
    head->policy = frc_record_policy(p, tl);
    if (head->policy < 0) {
        frc_record_err(err, "invalid policy", p, tl);
        return -1;
    }

    p += tl;

    if (p < end) {
        /* a separator must be followed by an endpoint */
        p++;
        if (p == end) {
            snprintf(err, FRC_ERR_LEN, "trailing space in record");
            return -1;
        }
    }

    head->endpoints = p;
    head->endpoints_len = (size_t) (end - p);

    return 0;
}


int
frc_record_addr(const char *s, size_t len, frc_record_endpoint_t *ep)
{
    char         host[64];
    size_t       hl;
    uint64_t     port;
    const char  *colon, *ps;

    /* the port follows the last ':' (IPv6 hosts are bracketed) */
    colon = NULL;
    for (ps = s + len; ps > s; ps--) {
        if (ps[-1] == ':') {
            colon = ps - 1;
            break;
        }
    }

    if (colon == NULL) {
        return -1;
    }

    if (frc_record_uint(colon + 1, (size_t) (s + len - colon - 1),
                        5, &port) != 0
        || port == 0 || port > 65535)
    {
        return -1;
    }

    memset(&ep->sockaddr, 0, sizeof(ep->sockaddr));

    if (s[0] == '[') {
        if (colon - s < 3 || colon[-1] != ']') {
            return -1;
        }

        hl = (size_t) (colon - s - 2);
        if (hl >= sizeof(host)) {
            return -1;
        }

        memcpy(host, s + 1, hl);
        host[hl] = '\0';

        if (inet_pton(AF_INET6, host, &ep->sockaddr.sin6.sin6_addr) != 1) {
            return -1;
        }

        ep->sockaddr.sin6.sin6_family = AF_INET6;
        ep->sockaddr.sin6.sin6_port = htons((uint16_t) port);
        ep->socklen = sizeof(struct sockaddr_in6);
        return 0;
    }

    hl = (size_t) (colon - s);
    if (hl == 0 || hl > 15) {
        return -1;
    }

    memcpy(host, s, hl);
    host[hl] = '\0';

    if (inet_pton(AF_INET, host, &ep->sockaddr.sin.sin_addr) != 1) {
        return -1;
    }

    ep->sockaddr.sin.sin_family = AF_INET;
    ep->sockaddr.sin.sin_port = htons((uint16_t) port);
    ep->socklen = sizeof(struct sockaddr_in);

    return 0;
}


static int frc_record_origin(const char *s, size_t len,
    frc_record_endpoint_t *ep, char *err);


/*
 * One endpoint: "addr,cluster,zone,weight,max_inflight" (F1, nfields 5) or
 * "addr,weight,max_inflight" (C2, nfields 3).
 */
static int
frc_record_endpoint(const char *s, size_t len, int nfields,
    frc_record_endpoint_t *ep, char *err)
{
    size_t       fl[5];
    uint64_t     v;
    const char  *f[5], *p, *end;
    int          i, w;

    end = s + len;
    p = s;

    for (i = 0; i < nfields; i++) {
        f[i] = p;
        while (p < end && *p != ',') {
            p++;
        }

        fl[i] = (size_t) (p - f[i]);

        if (i < nfields - 1) {
            if (p == end) {
                frc_record_err(err, nfields == 5
                    ? "endpoint needs addr,cluster,zone,weight,max_inflight:"
                    : "endpoint needs addr,weight,max_inflight:", s, len);
                return -1;
            }

            p++;

        } else if (p != end) {
            /* contract 2.1: ",scheme,host,prefix" after max_inflight */
            if (frc_record_origin(p + 1, (size_t) (end - p - 1), ep,
                                  err)
                != 0)
            {
                return -1;
            }

            break;
        }
    }

    if (p == end) {
        ep->https = 0;
        ep->host = NULL;
        ep->host_len = 0;
        ep->prefix = NULL;
        ep->prefix_len = 0;
        ep->origin_len = 0;
    }

    ep->addr = f[0];
    ep->addr_len = fl[0];

    if (frc_record_addr(f[0], fl[0], ep) != 0) {
        frc_record_err(err, "invalid endpoint address", f[0], fl[0]);
        return -1;
    }

    ep->cluster = NULL;
    ep->cluster_len = 0;
    ep->zone = NULL;
    ep->zone_len = 0;
    w = 1;

    if (nfields == 5) {
        if (!frc_record_label_valid(f[1], fl[1])) {
            frc_record_err(err, "invalid cluster", f[1], fl[1]);
            return -1;
        }

        ep->cluster = f[1];
        ep->cluster_len = fl[1];

        /* a C2 cluster's zone list arrives here through the join */
        if (!frc_record_zones_valid(f[2], fl[2])) {
            frc_record_err(err, "invalid zone", f[2], fl[2]);
            return -1;
        }

        ep->zone = f[2];
        ep->zone_len = fl[2];
        w = 3;
    }

    if (frc_record_uint(f[w], fl[w], 4, &v) != 0
        || v < 1 || v > 1000)
    {
        frc_record_err(err, "invalid weight", f[w], fl[w]);
        return -1;
    }

    ep->weight = (unsigned) v;

    if (frc_record_uint(f[w + 1], fl[w + 1], 5, &v) != 0
        || v > 65535)
    {
        frc_record_err(err, "invalid max_inflight", f[w + 1],
                       fl[w + 1]);
        return -1;
    }

    ep->max_inflight = (unsigned) v;

    return 0;
}


/*
 * Walks a list of space separated tokens: no empty token, no trailing
 * space. Returns the number of tokens, or -1 with a message in err.
 */
typedef int (*frc_record_token_pt)(const char *s, size_t len,
    size_t i, void *data, char *err);

static int
frc_record_list(const char *s, size_t len, size_t cap,
    const char *what, frc_record_token_pt fn, void *data,
    size_t *n, char *err)
{
    size_t       tl, count;
    const char  *p, *end;

    p = s;
    end = s + len;
    count = 0;

    while (p < end) {
        tl = frc_record_token(p, end);

        if (tl == 0) {
            snprintf(err, FRC_ERR_LEN,
                     "empty token (double space) in record");
            return -1;
        }

        if (count == cap) {
            snprintf(err, FRC_ERR_LEN,
                     "more than %zu %s in record", cap, what);
            return -1;
        }

        if (fn(p, tl, count, data, err) != 0) {
            return -1;
        }

        count++;
        p += tl;

        if (p < end) {
            p++;
            if (p == end) {
                snprintf(err, FRC_ERR_LEN,
                         "trailing space in record");
                return -1;
            }
        }
    }

    *n = count;
    return 0;
}


static int
frc_record_endpoint5(const char *s, size_t len, size_t i,
    void *data, char *err)
{
    frc_record_endpoint_t  *out = data;

    return frc_record_endpoint(s, len, 5, &out[i], err);
}


static int
frc_record_endpoint3(const char *s, size_t len, size_t i,
    void *data, char *err)
{
    frc_record_endpoint_t  *out = data;

    return frc_record_endpoint(s, len, 3, &out[i], err);
}


int
frc_record_endpoints(const char *s, size_t len,
    frc_record_endpoint_t *out, size_t cap, size_t *n, char *err)
{
    return frc_record_list(s, len, cap, "endpoints",
                           frc_record_endpoint5, out,
                           n, err);
}


int
frc_record_endpoints2(const char *s, size_t len,
    frc_record_endpoint_t *out, size_t cap, size_t *n, char *err)
{
    return frc_record_list(s, len, cap, "endpoints",
                           frc_record_endpoint3, out,
                           n, err);
}


/* Checks one "addr,weight,max_inflight" without keeping it. */
static int
frc_record_endpoint3_check(const char *s, size_t len, size_t i,
    void *data, char *err)
{
    frc_record_endpoint_t  ep;

    (void) i;
    (void) data;

    return frc_record_endpoint(s, len, 3, &ep, err);
}


static int
frc_record_cluster_name(const char *s, size_t len, size_t i,
    void *data, char *err)
{
    size_t                        j;
    frc_record_name_t  *out = data;

    if (!frc_record_label_valid(s, len)) {
        frc_record_err(err, "invalid cluster", s, len);
        return -1;
    }

    /* a cluster named twice would weigh its endpoints twice */
    for (j = 0; j < i; j++) {
        if (out[j].len == len && memcmp(out[j].name, s, len) == 0) {
            frc_record_err(err, "cluster listed twice", s, len);
            return -1;
        }
    }

    out[i].name = s;
    out[i].len = len;

    return 0;
}


int
frc_record_clusters(const char *s, size_t len,
    frc_record_name_t *out, size_t cap, size_t *n, char *err)
{
    return frc_record_list(s, len, cap, "clusters",
                           frc_record_cluster_name, out,
                           n, err);
}


int
frc_record_cluster(const char *s, size_t len,
    frc_record_cluster_t *c, char *err)
{
    size_t       tl;
    const char  *p, *end;

    if (len > FRC_RECORD_MAX) {
        snprintf(err, FRC_ERR_LEN,
                 "record of %zu bytes exceeds the %d bytes limit",
                 len, FRC_RECORD_MAX);
        return -1;
    }

    p = s;
    end = s + len;

    tl = frc_record_token(p, end);
    if (tl != 2 || p[0] != 'C' || p[1] != '2') {
        frc_record_err(err, "unknown cluster record tag", p, tl);
        return -1;
    }

    p += tl;
    if (frc_record_version(&p, end, &c->version, err) != 0) {
        return -1;
    }

    tl = frc_record_token(p, end);
    if (!frc_record_zones_valid(p, tl)) {
        frc_record_err(err, "invalid zone", p, tl);
        return -1;
    }

    c->zone = p;
    c->zone_len = tl;

    p += tl;
    if (p == end || *p++ != ' ') {
        snprintf(err, FRC_ERR_LEN, "record ends after its zone");
        return -1;
    }

    tl = frc_record_token(p, end);
    if (tl == 2 && memcmp(p, "up", 2) == 0) {
        c->up = 1;

    } else if (tl == 4 && memcmp(p, "down", 4) == 0) {
        c->up = 0;

    } else {
        frc_record_err(err, "invalid state (up or down)", p, tl);
        return -1;
    }

    p += tl;

    if (p < end) {
        p++;
        if (p == end) {
            snprintf(err, FRC_ERR_LEN, "trailing space in record");
            return -1;
        }
    }

    c->endpoints = p;
    c->endpoints_len = (size_t) (end - p);

    /* nothing kept, nothing static: the controller decodes from threads */
    return frc_record_list(c->endpoints, c->endpoints_len,
                           FRC_MAX_ENDPOINTS, "endpoints",
                           frc_record_endpoint3_check,
                           NULL, &c->n, err);
}


/*
 * The origin of an endpoint, contract 2.1 (docs/routing-contract.md):
 * "scheme,host,prefix" after max_inflight, where scheme is http or https,
 * host "-" or the DNS name the gateway sends as Host and TLS server name,
 * prefix "-" or a path prepended to the request URI. Without it an
 * endpoint is plain http, with no name and no prefix.
 */
static int
frc_record_origin(const char *s, size_t len,
    frc_record_endpoint_t *ep, char *err)
{
    size_t       i, fl[3];
    const char  *f[3], *p, *end;

    end = s + len;
    p = s;

    for (i = 0; i < 3; i++) {
        f[i] = p;

        while (p < end && *p != ',') {
            p++;
        }

        fl[i] = (size_t) (p - f[i]);

        if (i < 2) {
            if (p == end) {
                frc_record_err(err, "too many fields in endpoint"
                               " (after max_inflight come scheme,"
                               "host,prefix):", s, len);
                return -1;
            }

            p++;

        } else if (p != end) {
            frc_record_err(err, "too many fields in endpoint",
                           s, len);
            return -1;
        }
    }

    if (fl[0] == 4 && memcmp(f[0], "http", 4) == 0) {
        ep->https = 0;

    } else if (fl[0] == 5 && memcmp(f[0], "https", 5) == 0) {
        ep->https = 1;

    } else {
        frc_record_err(err, "invalid scheme (http or https)", f[0],
                       fl[0]);
        return -1;
    }

    ep->host = NULL;
    ep->host_len = 0;

    if (!(fl[1] == 1 && f[1][0] == '-')) {
        if (!frc_record_host_valid(f[1], fl[1])) {
            frc_record_err(err, "invalid endpoint host", f[1], fl[1]);
            return -1;
        }

        ep->host = f[1];
        ep->host_len = fl[1];
    }

    ep->prefix = NULL;
    ep->prefix_len = 0;

    if (!(fl[2] == 1 && f[2][0] == '-')) {
        if (!frc_record_prefix_valid(f[2], fl[2])) {
            frc_record_err(err, "invalid endpoint prefix", f[2], fl[2]);
            return -1;
        }

        ep->prefix = f[2];
        ep->prefix_len = fl[2];
    }

    ep->origin = s;
    ep->origin_len = len;

    return 0;
}


/* 1..253 of labels of 1..63 A-Z a-z 0-9 -, no '-' first or last in one */
int
frc_record_host_valid(const char *s, size_t len)
{
    char    c;
    size_t  i, label;

    if (len == 0 || len > FRC_HOST_MAX) {
        return 0;
    }

    label = 0;

    for (i = 0; i <= len; i++) {
        c = i < len ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }

            label = 0;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || (c == '-' && label > 0)))
        {
            return 0;
        }

        label++;
    }

    return 1;
}


/* a path: starts with '/', does not end with one, 2..512 bytes */
int
frc_record_prefix_valid(const char *s, size_t len)
{
    char    c;
    size_t  i;

    if (len < 2 || len > FRC_PREFIX_MAX || s[0] != '/' || s[len - 1] == '/') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        /* RFC 3986 pchar and '/', without ',' (our separator) */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || strchr("-._~!$&'()*+;=:@/%", c) != NULL)
            || c == '\0')
        {
            return 0;
        }
    }

    return 1;
}
