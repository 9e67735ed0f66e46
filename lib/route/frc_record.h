/*
 * The one decoder of the fado route records (docs/routing-contract.md,
 * contract versions 1 and 2: bucket records F1 and F2, cluster records C2),
 * with the contract's policy tokens and name rules. Part of the route
 * contract unit in lib/route/ (frc_encode.h writes what this reads): libc
 * only, so that the nginx module and fado-controller compile the same code
 * and it is unit tested alone. The module calls it from the sync worker,
 * never from the request path.
 */

#ifndef FRC_RECORD_H
#define FRC_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>


#define FRC_RECORD_MAX        65536
#define FRC_NAME_MAX          63
/* a cluster's zone list, zone *("+" zone): 1..16 zones (contract item 1) */
#define FRC_ZONES_N           16
#define FRC_ZONES_MAX                                               \
    (FRC_ZONES_N * (FRC_NAME_MAX + 1) - 1)
/* A module limit, not a grammar one: keeps per-request state bounded. */
#define FRC_MAX_ENDPOINTS     1024
#define FRC_MAX_CLUSTERS      256
#define FRC_ERR_LEN           160
#define FRC_HOST_MAX          253
#define FRC_PREFIX_MAX        512
/* The bucket_header setting (docs/routing-contract.md, "Settings"). */
#define FRC_HEADER_MAX        64

/*
 * The policy tokens, the one list: the enum, the decoder's table and the
 * text an API error lists are all made from it, so adding a policy here
 * adds it everywhere the contract is compiled (docs/architecture.md, "A
 * new routing policy").
 */
#define FRC_POLICIES(X)                                                       \
    X(DEFAULT, "-")             /* the upstream's policy */                   \
    X(RR, "rr")                                                               \
    X(LC, "lc")                                                               \
    X(P2C, "p2c")                                                             \
    X(EWMA, "ewma")                                                           \
    X(CHASH, "chash")                                                         \
    X(RANDOM, "random")                                                       \
    X(FIRST, "first")

#define FRC_POLICY_ENUM(name, token)  FRC_POLICY_##name,
#define FRC_POLICY_TEXT(name, token)  token ", "

enum {
    FRC_POLICIES(FRC_POLICY_ENUM)
    FRC_POLICY_N
};

/* The last policy, for loops over the table and range checks. */
#define FRC_POLICY_LAST       (FRC_POLICY_N - 1)

/* "-, rr, lc, p2c, ewma, chash, random, first, " for messages. */
#define FRC_POLICY_LIST       FRC_POLICIES(FRC_POLICY_TEXT)


typedef struct {
    const char            *addr;        /* "ip:port" or "[ip6]:port" */
    size_t                 addr_len;
    const char            *cluster;
    size_t                 cluster_len;
    const char            *zone;
    size_t                 zone_len;
    unsigned               weight;      /* 1..1000 */
    unsigned               max_inflight; /* 0 = unlimited */
    union {
        struct sockaddr      sa;
        struct sockaddr_in   sin;
        struct sockaddr_in6  sin6;
    } sockaddr;
    socklen_t              socklen;
    /* contract 2.1 origin ("scheme,host,prefix"); absent: http, none */
    unsigned               https;
    const char            *host;        /* NULL: no name */
    size_t                 host_len;
    const char            *prefix;      /* NULL: no prefix */
    size_t                 prefix_len;
    const char            *origin;      /* the whole "scheme,host,prefix" */
    size_t                 origin_len;  /* 0: absent */
} frc_record_endpoint_t;


typedef struct {
    uint64_t               version;
    int                    policy;
    int                    contract;    /* 1 (F1) or 2 (F2) */
    const char            *endpoints;   /* text after the policy token: */
    size_t                 endpoints_len; /* endpoints (F1), clusters (F2) */
} frc_record_head_t;


typedef struct {
    const char            *name;
    size_t                 len;
} frc_record_name_t;


/* A cluster record, C2 (contract version 2). */
typedef struct {
    uint64_t               version;
    const char            *zone;
    size_t                 zone_len;
    int                    up;          /* state "up" (1) or "down" (0) */
    const char            *endpoints;   /* "addr,weight,max_inflight" list */
    size_t                 endpoints_len;
    size_t                 n;           /* how many endpoints */
} frc_record_cluster_t;


/*
 * Decodes "F1 <version> <policy>" or "F2 <version> <policy>" and locates
 * the endpoint list (F1) or the cluster list (F2). Returns 0,
 * or -1 with a message in err (NUL terminated, at most
 * FRC_ERR_LEN bytes).
 */
int frc_record_head(const char *s, size_t len,
    frc_record_head_t *head, char *err);

/*
 * Decodes the endpoint list of a record (possibly empty) into out[0..*n).
 * Pointers in out refer to s. Returns 0, or -1 with a message in err.
 */
int frc_record_endpoints(const char *s, size_t len,
    frc_record_endpoint_t *out, size_t cap, size_t *n, char *err);

/*
 * Decodes the cluster list of an F2 record (possibly empty) into
 * out[0..*n): valid cluster names, each at most once. Returns 0, or -1 with
 * a message in err.
 */
int frc_record_clusters(const char *s, size_t len,
    frc_record_name_t *out, size_t cap, size_t *n, char *err);

/*
 * Decodes a whole cluster record "C2 <version> <zone> <state> *(endpoint2)",
 * its endpoints included (so a record that passes is valid throughout).
 * Returns 0, or -1 with a message in err.
 */
int frc_record_cluster(const char *s, size_t len,
    frc_record_cluster_t *c, char *err);

/*
 * Decodes a list of "addr,weight,max_inflight" (a C2 record's endpoints)
 * into out[0..*n); cluster and zone are left empty. Returns 0 or -1.
 */
int frc_record_endpoints2(const char *s, size_t len,
    frc_record_endpoint_t *out, size_t cap, size_t *n, char *err);

/*
 * Parses an endpoint address, "ip:port" or "[ip6]:port" (no name: the
 * gateway does no DNS), into ep->sockaddr and ep->socklen. Returns 0 or -1.
 */
int frc_record_addr(const char *s, size_t len, frc_record_endpoint_t *ep);

/* An origin's host (contract 2.1): a DNS name, 1..253 of labels. */
int frc_record_host_valid(const char *s, size_t len);
/* An origin's prefix: a path, "/" first, no "/" last, no ','. */
int frc_record_prefix_valid(const char *s, size_t len);

/* cluster and zone names: 1..63 of A-Z a-z 0-9 - _ . */
int frc_record_label_valid(const char *s, size_t len);
/* A zone list: 1..16 labels joined by "+" (a cluster in several zones). */
int frc_record_zones_valid(const char *s, size_t len);

/* S3 bucket name rules: 3..63 characters of a-z 0-9 . -, a letter or digit
 * first and last, no ".." (the controller's API uses this one too) */
int frc_record_bucket_valid(const char *s, size_t len);

/* A bucket_header value: 1..64 characters of A-Z a-z 0-9 - */
int frc_record_header_valid(const char *s, size_t len);

const char *frc_record_policy_name(int policy);

/* Returns the policy for a token ("rr", "lc", ...), or -1. */
int frc_record_policy(const char *s, size_t len);

#endif /* FRC_RECORD_H */
