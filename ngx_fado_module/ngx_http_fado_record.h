/*
 * The one decoder of the fado route records (docs/routing-contract.md,
 * contract versions 1 and 2: bucket records F1 and F2, cluster records C2). It depends only on libc so that it can be unit tested
 * without nginx; the module calls it from the sync worker, never from the
 * request path.
 */

#ifndef NGX_HTTP_FADO_RECORD_H
#define NGX_HTTP_FADO_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>


#define NGX_HTTP_FADO_RECORD_MAX        65536
#define NGX_HTTP_FADO_NAME_MAX          63
/* a cluster's zone list, zone *("+" zone): 1..16 zones (contract item 1) */
#define NGX_HTTP_FADO_ZONES_N           16
#define NGX_HTTP_FADO_ZONES_MAX                                               \
    (NGX_HTTP_FADO_ZONES_N * (NGX_HTTP_FADO_NAME_MAX + 1) - 1)
/* A module limit, not a grammar one: keeps per-request state bounded. */
#define NGX_HTTP_FADO_MAX_ENDPOINTS     1024
#define NGX_HTTP_FADO_MAX_CLUSTERS      256
#define NGX_HTTP_FADO_ERR_LEN           160
#define NGX_HTTP_FADO_HOST_MAX          253
#define NGX_HTTP_FADO_PREFIX_MAX        512
/* The bucket_header setting (docs/routing-contract.md, "Settings"). */
#define NGX_HTTP_FADO_HEADER_MAX        64

enum {
    NGX_HTTP_FADO_POLICY_DEFAULT = 0,   /* "-": the upstream's policy */
    NGX_HTTP_FADO_POLICY_RR,
    NGX_HTTP_FADO_POLICY_LC,
    NGX_HTTP_FADO_POLICY_P2C,
    NGX_HTTP_FADO_POLICY_EWMA,
    NGX_HTTP_FADO_POLICY_CHASH,
    NGX_HTTP_FADO_POLICY_RANDOM,
    NGX_HTTP_FADO_POLICY_FIRST
};

/* The last policy, for loops over the table and range checks. */
#define NGX_HTTP_FADO_POLICY_LAST       NGX_HTTP_FADO_POLICY_FIRST


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
} ngx_http_fado_record_endpoint_t;


typedef struct {
    uint64_t               version;
    int                    policy;
    int                    contract;    /* 1 (F1) or 2 (F2) */
    const char            *endpoints;   /* text after the policy token: */
    size_t                 endpoints_len; /* endpoints (F1), clusters (F2) */
} ngx_http_fado_record_head_t;


typedef struct {
    const char            *name;
    size_t                 len;
} ngx_http_fado_record_name_t;


/* A cluster record, C2 (contract version 2). */
typedef struct {
    uint64_t               version;
    const char            *zone;
    size_t                 zone_len;
    int                    up;          /* state "up" (1) or "down" (0) */
    const char            *endpoints;   /* "addr,weight,max_inflight" list */
    size_t                 endpoints_len;
    size_t                 n;           /* how many endpoints */
} ngx_http_fado_record_cluster_t;


/*
 * Decodes "F1 <version> <policy>" or "F2 <version> <policy>" and locates
 * the endpoint list (F1) or the cluster list (F2). Returns 0,
 * or -1 with a message in err (NUL terminated, at most
 * NGX_HTTP_FADO_ERR_LEN bytes).
 */
int ngx_http_fado_record_head(const char *s, size_t len,
    ngx_http_fado_record_head_t *head, char *err);

/*
 * Decodes the endpoint list of a record (possibly empty) into out[0..*n).
 * Pointers in out refer to s. Returns 0, or -1 with a message in err.
 */
int ngx_http_fado_record_endpoints(const char *s, size_t len,
    ngx_http_fado_record_endpoint_t *out, size_t cap, size_t *n, char *err);

/*
 * Decodes the cluster list of an F2 record (possibly empty) into
 * out[0..*n): valid cluster names, each at most once. Returns 0, or -1 with
 * a message in err.
 */
int ngx_http_fado_record_clusters(const char *s, size_t len,
    ngx_http_fado_record_name_t *out, size_t cap, size_t *n, char *err);

/*
 * Decodes a whole cluster record "C2 <version> <zone> <state> *(endpoint2)",
 * its endpoints included (so a record that passes is valid throughout).
 * Returns 0, or -1 with a message in err.
 */
int ngx_http_fado_record_cluster(const char *s, size_t len,
    ngx_http_fado_record_cluster_t *c, char *err);

/*
 * Decodes a list of "addr,weight,max_inflight" (a C2 record's endpoints)
 * into out[0..*n); cluster and zone are left empty. Returns 0 or -1.
 */
int ngx_http_fado_record_endpoints2(const char *s, size_t len,
    ngx_http_fado_record_endpoint_t *out, size_t cap, size_t *n, char *err);

/* cluster and zone names: 1..63 of A-Z a-z 0-9 - _ . */
int ngx_http_fado_record_label_valid(const char *s, size_t len);
/* A zone list: 1..16 labels joined by "+" (a cluster in several zones). */
int ngx_http_fado_record_zones_valid(const char *s, size_t len);

/* S3 bucket name rules: 3..63 characters of a-z 0-9 . -, a letter or digit
 * first and last, no ".." (the controller's API uses this one too) */
int ngx_http_fado_record_bucket_valid(const char *s, size_t len);

/* A bucket_header value: 1..64 characters of A-Z a-z 0-9 - */
int ngx_http_fado_record_header_valid(const char *s, size_t len);

const char *ngx_http_fado_record_policy_name(int policy);

/* Returns the policy for a token ("rr", "lc", ...), or -1. */
int ngx_http_fado_record_policy(const char *s, size_t len);

#endif /* NGX_HTTP_FADO_RECORD_H */
