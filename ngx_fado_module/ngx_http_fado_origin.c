/*
 * Endpoint origins: https, Host and path prefix per picked endpoint (see
 * ngx_http_fado_origin.h).
 *
 * The proxy module writes the request head (request line and headers)
 * once, before the balancer picks, and sends that same head on every
 * retry. So for an endpoint with a name or a prefix the head is rebuilt
 * here, from the proxy's original, each time such an endpoint is picked;
 * an endpoint without either gets the original back. TLS is decided per
 * endpoint the same way: the upstream's ssl flag is read only after the
 * pick, when nginx connects.
 */

#include "ngx_http_fado_origin.h"


static ngx_int_t ngx_http_fado_origin_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_fado_origin_save_session(ngx_peer_connection_t *pc,
    void *data);
static ngx_int_t ngx_http_fado_origin_head(ngx_http_fado_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_http_fado_member_t *m);


void
ngx_http_fado_origin_member(ngx_http_fado_member_t *m,
    frc_record_endpoint_t *re, const char *key, u_char *copy)
{
    ngx_memzero(&m->origin, sizeof(ngx_http_fado_origin_t));

    if (re->origin_len == 0) {
        return;
    }

    m->origin.https = re->https ? 1 : 0;

    if (re->host) {
        m->origin.host.data = copy + (re->host - key);
        m->origin.host.len = re->host_len;
    }

    if (re->prefix) {
        m->origin.prefix.data = copy + (re->prefix - key);
        m->origin.prefix.len = re->prefix_len;
    }
}


ngx_int_t
ngx_http_fado_origin_apply(ngx_http_fado_ctx_t *ctx,
    ngx_peer_connection_t *pc, ngx_http_fado_member_t *m)
{
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = ctx->request;
    u = r->upstream;

#if (NGX_HTTP_SSL)

    if (m->origin.https) {
        if (u->conf->ssl == NULL) {
            ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                          "fado: endpoint %V (cluster %V) is https but this "
                          "location has no TLS context: use "
                          "\"proxy_pass https://...\"",
                          &m->ep->name, &m->ep->cluster);
            return NGX_ERROR;
        }

        u->ssl = 1;
        ngx_str_set(&u->schema, "https://");

        /* the name for SNI and proxy_ssl_verify, unless proxy_ssl_name */
        if (m->origin.host.len) {
            u->ssl_name.data = ngx_pstrdup(r->pool, &m->origin.host);
            if (u->ssl_name.data == NULL) {
                return NGX_ERROR;
            }

            u->ssl_name.len = m->origin.host.len;
        }

        /* no session cache of our own: every handshake is a full one */
        pc->set_session = ngx_http_fado_origin_set_session;
        pc->save_session = ngx_http_fado_origin_save_session;

    } else {
        u->ssl = 0;
        ngx_str_set(&u->schema, "http://");
    }

#else

    if (m->origin.https) {
        ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                      "fado: endpoint %V (cluster %V) is https but nginx is "
                      "built without SSL", &m->ep->name, &m->ep->cluster);
        return NGX_ERROR;
    }

#endif

    return ngx_http_fado_origin_head(ctx, pc, m);
}


static ngx_int_t
ngx_http_fado_origin_set_session(ngx_peer_connection_t *pc, void *data)
{
    return NGX_OK;
}


static void
ngx_http_fado_origin_save_session(ngx_peer_connection_t *pc, void *data)
{
}


/*
 * Rebuilds the head: "METHOD SP prefix URI ..." and, when the proxy sent
 * its default Host (the upstream's name, $proxy_host), the endpoint's name
 * and port instead. A Host set with proxy_set_header is left as it is.
 */
static ngx_int_t
ngx_http_fado_origin_head(ngx_http_fado_ctx_t *ctx, ngx_peer_connection_t *pc,
    ngx_http_fado_member_t *m)
{
    u_char               *start, *last, *sp, *line, *hdrs, *hend, *val, *eol, *p;
    u_char                hostbuf[FRC_HOST_MAX + sizeof(":65535")];
    size_t                len;
    in_port_t             port;
    ngx_str_t             host, upstream;
    ngx_buf_t            *orig, *b;
    ngx_http_upstream_t  *u;

    u = ctx->request->upstream;

    if (u->request_bufs == NULL) {
        return NGX_OK;
    }

    if (ctx->origin_head == NULL) {
        if (m->origin.prefix.len == 0 && m->origin.host.len == 0) {
            return NGX_OK;          /* the head as the proxy made it */
        }

        ctx->origin_head = u->request_bufs->buf;
        ctx->origin_uri = u->uri;
    }

    orig = ctx->origin_head;

    if (m->origin.prefix.len == 0 && m->origin.host.len == 0) {
        u->request_bufs->buf = orig;
        u->uri = ctx->origin_uri;
        return NGX_OK;
    }

    start = orig->start;
    last = orig->last;

    /* an HTTP/1 request line, as the proxy module writes it */
    line = ngx_strlchr(start, last, LF);
    sp = ngx_strlchr(start, last, ' ');

    if (line == NULL || sp == NULL || sp > line
        || ngx_strlcasestrn(start, line, (u_char *) " HTTP/1.", 8 - 1) == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                      "fado: endpoint %V has a name or a prefix, which only "
                      "proxy_pass can send", &m->ep->name);
        return NGX_ERROR;
    }

    /* the Host header to replace, if it is the proxy's default */
    val = NULL;
    eol = NULL;
    host.len = 0;
    host.data = hostbuf;

    if (m->origin.host.len) {
        /* in the headers only, not in a body proxy_set_body put after them */
        hend = ngx_strlcasestrn(line - 1, last, (u_char *) "\r\n\r\n", 4 - 1);
        hdrs = hend ? ngx_strlcasestrn(line, hend + 2, (u_char *) "\nHost: ", 7 - 1)
                    : NULL;

        if (hdrs) {
            val = hdrs + 7;
            eol = ngx_strlchr(val, last, CR);

            upstream = u->upstream ? u->upstream->host : (ngx_str_t) ngx_null_string;

            for (p = val; eol && p < eol && *p != ':'; p++) { /* void */ }

            if (eol == NULL || upstream.len == 0
                || (size_t) (p - val) != upstream.len
                || ngx_strncasecmp(val, upstream.data, upstream.len) != 0)
            {
                val = NULL;         /* set by the user: keep it */
            }
        }

        if (val) {
            port = ngx_inet_get_port(pc->sockaddr);
            p = ngx_cpymem(hostbuf, m->origin.host.data, m->origin.host.len);

            if (port != (m->origin.https ? 443 : 80)) {
                p = ngx_sprintf(p, ":%d", (int) port);
            }

            host.len = p - hostbuf;
        }
    }

    len = (last - start) + m->origin.prefix.len
          + (val ? host.len - (size_t) (eol - val) : 0);

    b = ngx_alloc_buf(ctx->request->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(b, orig, sizeof(ngx_buf_t));

    b->start = ngx_pnalloc(ctx->request->pool, len);
    if (b->start == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->start, start, sp + 1 - start);
    p = ngx_cpymem(p, m->origin.prefix.data, m->origin.prefix.len);

    if (val) {
        p = ngx_cpymem(p, sp + 1, val - (sp + 1));
        p = ngx_cpymem(p, host.data, host.len);
        p = ngx_cpymem(p, eol, last - eol);

    } else {
        p = ngx_cpymem(p, sp + 1, last - (sp + 1));
    }

    b->pos = b->start;
    b->last = p;
    b->end = p;

    /* what nginx logs as the upstream URI ("upstream: ...") */
    if (ctx->origin_uri.len) {
        u->uri.data = b->start + (sp + 1 - start);
        u->uri.len = m->origin.prefix.len + ctx->origin_uri.len;
    }

    u->request_bufs->buf = b;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "fado: endpoint %V: prefix \"%V\", host \"%V\"",
                   &m->ep->name, &m->origin.prefix, &host);

    return NGX_OK;
}
