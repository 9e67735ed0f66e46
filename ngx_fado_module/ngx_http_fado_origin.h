/*
 * Endpoint origins (contract 2.1, docs/routing-contract.md): an endpoint
 * may be https, have a DNS name (sent as Host and as the TLS server name)
 * and a path prefix (prepended to the request URI). The balancer applies
 * them to the request for each endpoint it picks, retries included; see
 * docs/nginx-module.md, "https endpoints, names and path prefixes", for
 * what the location needs.
 */

#ifndef NGX_HTTP_FADO_ORIGIN_H
#define NGX_HTTP_FADO_ORIGIN_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_fado_module.h"


/*
 * Sets m->origin from a decoded endpoint whose text starts at key, pointing
 * into copy, the set's own copy of that text (write lock held).
 */
void ngx_http_fado_origin_member(ngx_http_fado_member_t *m,
    frc_record_endpoint_t *re, const char *key, u_char *copy);

/*
 * For the member just picked for r: TLS on or off, the TLS server name,
 * and the request head with the prefix and the Host the endpoint needs
 * (rebuilt from the head the proxy module made, so a retry on another
 * endpoint gets its own). NGX_OK, or NGX_ERROR (logged) when the endpoint
 * cannot be reached from this location (https without a TLS context).
 */
ngx_int_t ngx_http_fado_origin_apply(ngx_http_fado_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_http_fado_member_t *m);

#endif /* NGX_HTTP_FADO_ORIGIN_H */
