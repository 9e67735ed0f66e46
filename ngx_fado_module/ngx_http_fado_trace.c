/*
 * ngx_http_fado_trace_module: W3C trace context at the gateway.
 *
 * A module of its own in the same shared object as ngx_http_fado_module
 * (config lists both), so it owns its directive, variables and context and
 * needs nothing from the router: a location can trace without routing.
 *
 * Per request, once, when a variable is first read: the incoming
 * `traceparent` header is accepted when it is valid (W3C Trace Context,
 * level 1), else a new trace is started. The gateway is one hop of the
 * trace: it keeps the trace id and flags and gives the request a span id
 * of its own, which becomes the parent id the function sees.
 *
 *   $fado_traceparent     00-<trace id>-<gateway span id>-<flags>
 *   $fado_trace_id        the 32 hex digits of the trace id
 *   $fado_trace_parent    the caller's span id, empty when started here
 *   $fado_trace_origin    accepted | started | restarted (header invalid)
 *
 *   fado_trace_invalid restart | reject;
 *
 * restart (the default) is what the W3C text asks of a participant: an
 * invalid header is ignored and a new trace begins. reject answers 400 with
 * a JSON error naming the header, for locations where a caller's mistake
 * should be seen at once (the asynchronous path stores the context with the
 * call, where a silent restart would only be noticed much later).
 *
 * Ids come from a per-worker xorshift128+ generator seeded with getrandom()
 * at process start: no system call on the request path, and two workers
 * never share a sequence.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/random.h>


#define NGX_HTTP_FADO_TRACE_HEADER_LEN  55   /* version 00 */

enum {
    NGX_HTTP_FADO_TRACE_RESTART = 0,
    NGX_HTTP_FADO_TRACE_REJECT
};

enum {
    NGX_HTTP_FADO_TRACE_ACCEPTED = 0,
    NGX_HTTP_FADO_TRACE_STARTED,
    NGX_HTTP_FADO_TRACE_RESTARTED
};

enum {
    NGX_HTTP_FADO_TRACE_VAR_TRACEPARENT = 0,
    NGX_HTTP_FADO_TRACE_VAR_TRACE_ID,
    NGX_HTTP_FADO_TRACE_VAR_PARENT,
    NGX_HTTP_FADO_TRACE_VAR_ORIGIN
};


typedef struct {
    ngx_uint_t                 invalid;    /* restart | reject */
} ngx_http_fado_trace_loc_conf_t;


typedef struct {
    u_char                     header[NGX_HTTP_FADO_TRACE_HEADER_LEN];
    u_char                     parent[16];
    ngx_uint_t                 origin;
    unsigned                   has_parent:1;
    const char                *why;        /* why the header was invalid */
} ngx_http_fado_trace_ctx_t;


static ngx_http_fado_trace_ctx_t *ngx_http_fado_trace_get(ngx_http_request_t *r);
static const char *ngx_http_fado_trace_parse(ngx_str_t *h, u_char *trace,
    u_char *parent, u_char *flags);
static ngx_int_t ngx_http_fado_trace_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fado_trace_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fado_trace_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_fado_trace_init(ngx_conf_t *cf);
static void *ngx_http_fado_trace_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fado_trace_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_fado_trace_init_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_fado_trace_invalid_values[] = {
    { ngx_string("restart"), NGX_HTTP_FADO_TRACE_RESTART },
    { ngx_string("reject"), NGX_HTTP_FADO_TRACE_REJECT },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_fado_trace_commands[] = {

    { ngx_string("fado_trace_invalid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fado_trace_loc_conf_t, invalid),
      &ngx_http_fado_trace_invalid_values },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fado_trace_module_ctx = {
    ngx_http_fado_trace_add_variables,     /* preconfiguration */
    ngx_http_fado_trace_init,              /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fado_trace_create_loc_conf,   /* create location configuration */
    ngx_http_fado_trace_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_fado_trace_module = {
    NGX_MODULE_V1,
    &ngx_http_fado_trace_module_ctx,       /* module context */
    ngx_http_fado_trace_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fado_trace_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_fado_trace_vars[] = {

    { ngx_string("fado_traceparent"), NULL, ngx_http_fado_trace_variable,
      NGX_HTTP_FADO_TRACE_VAR_TRACEPARENT, 0, 0 },

    { ngx_string("fado_trace_id"), NULL, ngx_http_fado_trace_variable,
      NGX_HTTP_FADO_TRACE_VAR_TRACE_ID, 0, 0 },

    { ngx_string("fado_trace_parent"), NULL, ngx_http_fado_trace_variable,
      NGX_HTTP_FADO_TRACE_VAR_PARENT, 0, 0 },

    { ngx_string("fado_trace_origin"), NULL, ngx_http_fado_trace_variable,
      NGX_HTTP_FADO_TRACE_VAR_ORIGIN, 0, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_fado_trace_origins[] = {
    ngx_string("accepted"),
    ngx_string("started"),
    ngx_string("restarted")
};


static uint64_t  ngx_http_fado_trace_rng[2];


/* xorshift128+: fast, and good enough for identifiers that must not collide */
static uint64_t
ngx_http_fado_trace_random(void)
{
    uint64_t  s1, s0;

    s1 = ngx_http_fado_trace_rng[0];
    s0 = ngx_http_fado_trace_rng[1];
    ngx_http_fado_trace_rng[0] = s0;
    s1 ^= s1 << 23;
    ngx_http_fado_trace_rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);

    return ngx_http_fado_trace_rng[1] + s0;
}


/* n random lowercase hex digits, never all zero (an invalid id) */
static void
ngx_http_fado_trace_hex(u_char *p, size_t n)
{
    size_t     i;
    uint64_t   x;
    ngx_uint_t zero;

    static u_char  hex[] = "0123456789abcdef";

    do {
        zero = 1;
        x = 0;

        for (i = 0; i < n; i++) {
            if (i % 16 == 0) {
                x = ngx_http_fado_trace_random();
            }

            p[i] = hex[x & 0xf];
            x >>= 4;

            if (p[i] != '0') {
                zero = 0;
            }
        }

    } while (zero);
}


static ngx_uint_t
ngx_http_fado_trace_is_hex(u_char *p, size_t n, ngx_uint_t *zero)
{
    size_t  i;

    *zero = 1;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }

        if (p[i] != '0') {
            *zero = 0;
        }
    }

    return 1;
}


/*
 * Parses a traceparent value; NULL when valid (trace, parent and flags
 * copied out), else why not, for the error answer and the debug log.
 * Versions above 00 are read as 00 with whatever follows ignored, as the
 * W3C text asks of a participant that knows only 00.
 */
static const char *
ngx_http_fado_trace_parse(ngx_str_t *h, u_char *trace, u_char *parent,
    u_char *flags)
{
    u_char     *p;
    ngx_uint_t  zero;

    p = h->data;

    if (h->len < NGX_HTTP_FADO_TRACE_HEADER_LEN) {
        return "is shorter than 55 characters";
    }

    if (!ngx_http_fado_trace_is_hex(p, 2, &zero) || p[2] != '-') {
        return "does not start with a two-digit lowercase hex version";
    }

    if (p[0] == 'f' && p[1] == 'f') {
        return "has the forbidden version ff";
    }

    if (p[0] == '0' && p[1] == '0') {
        if (h->len != NGX_HTTP_FADO_TRACE_HEADER_LEN) {
            return "is longer than 55 characters for version 00";
        }

    } else if (h->len > NGX_HTTP_FADO_TRACE_HEADER_LEN
               && p[NGX_HTTP_FADO_TRACE_HEADER_LEN] != '-')
    {
        return "has a malformed field after the flags";
    }

    if (!ngx_http_fado_trace_is_hex(p + 3, 32, &zero) || p[35] != '-') {
        return "has a trace id that is not 32 lowercase hex digits";
    }

    if (zero) {
        return "has an all-zero trace id";
    }

    if (!ngx_http_fado_trace_is_hex(p + 36, 16, &zero) || p[52] != '-') {
        return "has a parent id that is not 16 lowercase hex digits";
    }

    if (zero) {
        return "has an all-zero parent id";
    }

    if (!ngx_http_fado_trace_is_hex(p + 53, 2, &zero)) {
        return "has flags that are not 2 lowercase hex digits";
    }

    ngx_memcpy(trace, p + 3, 32);
    ngx_memcpy(parent, p + 36, 16);
    ngx_memcpy(flags, p + 53, 2);

    return NULL;
}


/* The request's trace context, decided once. */
static ngx_http_fado_trace_ctx_t *
ngx_http_fado_trace_get(ngx_http_request_t *r)
{
    u_char                      trace[32], flags[2], *p;
    ngx_str_t                  *found;
    ngx_uint_t                  i, n;
    ngx_list_part_t            *part;
    ngx_table_elt_t            *h;
    ngx_http_fado_trace_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_fado_trace_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->main->pool, sizeof(ngx_http_fado_trace_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /* a repeated header is invalid: the spec leaves no way to merge two */
    found = NULL;
    n = 0;
    part = &r->main->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("traceparent") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "traceparent",
                               sizeof("traceparent") - 1) == 0)
        {
            found = &h[i].value;
            n++;
        }
    }

    ctx->origin = NGX_HTTP_FADO_TRACE_STARTED;
    ngx_memcpy(flags, "01", 2);

    if (n > 1) {
        ctx->why = "is repeated";
        ctx->origin = NGX_HTTP_FADO_TRACE_RESTARTED;

    } else if (n == 1) {
        ctx->why = ngx_http_fado_trace_parse(found, trace, ctx->parent, flags);

        if (ctx->why == NULL) {
            ctx->origin = NGX_HTTP_FADO_TRACE_ACCEPTED;
            ctx->has_parent = 1;

        } else {
            ctx->origin = NGX_HTTP_FADO_TRACE_RESTARTED;
            ngx_memcpy(flags, "01", 2);
        }
    }

    if (ctx->origin != NGX_HTTP_FADO_TRACE_ACCEPTED) {
        ngx_http_fado_trace_hex(trace, 32);
    }

    p = ngx_cpymem(ctx->header, "00-", 3);
    p = ngx_cpymem(p, trace, 32);
    *p++ = '-';
    ngx_http_fado_trace_hex(p, 16);
    p += 16;
    *p++ = '-';
    ngx_memcpy(p, flags, 2);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fado trace: %V, traceparent %*s",
                   &ngx_http_fado_trace_origins[ctx->origin],
                   (size_t) NGX_HTTP_FADO_TRACE_HEADER_LEN, ctx->header);

    ngx_http_set_ctx(r->main, ctx, ngx_http_fado_trace_module);

    return ctx;
}


static ngx_int_t
ngx_http_fado_trace_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_fado_trace_ctx_t  *ctx;

    ctx = ngx_http_fado_trace_get(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    switch (data) {

    case NGX_HTTP_FADO_TRACE_VAR_TRACEPARENT:
        v->data = ctx->header;
        v->len = NGX_HTTP_FADO_TRACE_HEADER_LEN;
        break;

    case NGX_HTTP_FADO_TRACE_VAR_TRACE_ID:
        v->data = ctx->header + 3;
        v->len = 32;
        break;

    case NGX_HTTP_FADO_TRACE_VAR_PARENT:
        v->data = ctx->parent;
        v->len = ctx->has_parent ? 16 : 0;
        break;

    default: /* NGX_HTTP_FADO_TRACE_VAR_ORIGIN */
        v->data = ngx_http_fado_trace_origins[ctx->origin].data;
        v->len = ngx_http_fado_trace_origins[ctx->origin].len;
        break;
    }

    return NGX_OK;
}


/* fado_trace_invalid reject: a 400 whose JSON names the header. */
static ngx_int_t
ngx_http_fado_trace_handler(ngx_http_request_t *r)
{
    size_t                           len;
    ngx_buf_t                       *b;
    ngx_int_t                        rc;
    ngx_chain_t                      out;
    ngx_http_fado_trace_ctx_t       *ctx;
    ngx_http_fado_trace_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_fado_trace_module);

    if (tlcf->invalid != NGX_HTTP_FADO_TRACE_REJECT || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_fado_trace_get(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->origin != NGX_HTTP_FADO_TRACE_RESTARTED) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fado trace: traceparent header %s, answering 400",
                  ctx->why);

    len = sizeof("{\"error\":{\"code\":\"invalid_header\","
                 "\"field\":\"traceparent\",\"message\":\"the traceparent "
                 "header \"}}\n") - 1 + ngx_strlen(ctx->why)
          + sizeof(" (W3C Trace Context: 00-<32 hex>-<16 hex>-<2 hex>)") - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"error\":{\"code\":\"invalid_header\","
                          "\"field\":\"traceparent\",\"message\":\"the "
                          "traceparent header %s (W3C Trace Context: "
                          "00-<32 hex>-<16 hex>-<2 hex>)\"}}\n", ctx->why);
    b->last_buf = 1;
    b->last_in_chain = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_BAD_REQUEST;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    /* the answer is complete here: finalize, and stop the phases */
    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        out.buf = b;
        out.next = NULL;
        rc = ngx_http_output_filter(r, &out);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_fado_trace_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_fado_trace_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* The rejecting check runs in the access phase: after rewrites chose the
 * location, before any content handler or proxying starts. */
static ngx_int_t
ngx_http_fado_trace_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fado_trace_handler;

    return NGX_OK;
}


static void *
ngx_http_fado_trace_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fado_trace_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fado_trace_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    tlcf->invalid = NGX_CONF_UNSET_UINT;

    return tlcf;
}


static char *
ngx_http_fado_trace_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fado_trace_loc_conf_t  *prev = parent;
    ngx_http_fado_trace_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->invalid, prev->invalid,
                              NGX_HTTP_FADO_TRACE_RESTART);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fado_trace_init_process(ngx_cycle_t *cycle)
{
    ssize_t  n;

    n = getrandom(ngx_http_fado_trace_rng, sizeof(ngx_http_fado_trace_rng), 0);

    if (n != (ssize_t) sizeof(ngx_http_fado_trace_rng)) {
        /* not fatal: ids stay unique per worker, only less unpredictable */
        ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                      "fado trace: getrandom() failed, seeding from time "
                      "and pid");
        ngx_http_fado_trace_rng[0] = (uint64_t) ngx_time() << 20 ^ ngx_pid;
        ngx_http_fado_trace_rng[1] = (uint64_t) ngx_pid << 32
                                     ^ (uint64_t) ngx_current_msec;
    }

    if ((ngx_http_fado_trace_rng[0] | ngx_http_fado_trace_rng[1]) == 0) {
        ngx_http_fado_trace_rng[0] = 0x9e3779b97f4a7c15ULL;
    }

    return NGX_OK;
}
