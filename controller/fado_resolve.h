/*
 * fado_resolve: function endpoints named by DNS (docs/controller.md,
 * "Function endpoints").
 *
 * The gateway does no DNS, so the leading controller resolves every name
 * its endpoints use, on a thread of its own (a slow or dead DNS server
 * delays nothing but the next lookup), and stores the answer in
 * endpoint_names (sql/006_endpoint_names.sql). A changed answer marks the
 * clusters using the name, whose records the reconcile loop publishes
 * like any other change. Names are looked up again every
 * FADO_RESOLVE_INTERVAL seconds, and sooner after a failed health probe of
 * one of their addresses. A failed lookup keeps the last good answer (a
 * transient DNS error never empties a route); it is retried with back-off
 * and shown in the API and the metrics.
 */

#ifndef FADO_RESOLVE_H
#define FADO_RESOLVE_H

#include "fado_db.h"
#include "fado_reconcile.h"

#include <stddef.h>

typedef struct fado_resolver_s  fado_resolver_t;

typedef struct {
    int   interval_s;         /* FADO_RESOLVE_INTERVAL, default 30 */
    int   timeout_s;          /* FADO_RESOLVE_TIMEOUT: per DNS try with
                                 FADO_RESOLVER, default 2 */
    /* FADO_RESOLVER: "ip[:port],..." (IPv4, at most 3): the DNS servers
     * asked instead of resolv.conf's, whose search domains still apply.
     * Empty: the system's resolver as it is configured (getaddrinfo). */
    char  servers[128];
} fado_resolve_config_t;

/* Reads the FADO_RESOLVE_* environment. 0, or -1 with a message in err. */
int fado_resolve_config(fado_resolve_config_t *conf, char *err, size_t err_len);

/* Starts the resolver thread; it works only while rec leads. */
fado_resolver_t *fado_resolver_start(fado_db_t *db, fado_reconciler_t *rec,
    const fado_resolve_config_t *conf);

void fado_resolver_stop(fado_resolver_t *r);

/*
 * The health checker's probe of a cluster's function endpoints: each
 * published address, by URL with the endpoint's scheme, name (Host header
 * and TLS server name) and prefix, until one answers HTTP. A failed probe
 * of a named endpoint makes its name due for a lookup now. Returns 1 if
 * one answered, 0 if none did, -1 if the cluster has none to probe (or
 * they could not be read: no verdict).
 */
int fado_resolve_probe_cluster(PGconn *conn, const char *cluster, const char *health_path);

/* Appends the resolver's metrics (Prometheus text) to buf. */
void fado_resolve_metrics(char *buf, size_t size);

#endif /* FADO_RESOLVE_H */
