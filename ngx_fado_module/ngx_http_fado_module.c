/*
 * ngx_http_fado_module: directives, variables and the bucket lookup that
 * runs in the preaccess phase, so an unknown bucket or a bucket no endpoint
 * can serve gets its configured status before proxying starts.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_fado_module.h"


static ngx_int_t ngx_http_fado_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_fado_init(ngx_conf_t *cf);
static void *ngx_http_fado_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_fado_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_fado_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_fado_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fado_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_fado_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fado_shm_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fado_bucket(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fado_unknown_bucket(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fado_no_route_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_fado_handler(ngx_http_request_t *r);
static void ngx_http_fado_cleanup(void *data);
static ngx_int_t ngx_http_fado_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fado_init_process(ngx_cycle_t *cycle);
static void ngx_http_fado_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_fado_commands[] = {

    { ngx_string("fado_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_fado_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fado_shm_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_fado_shm_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fado"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_fado_upstream,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fado_bucket"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fado_bucket,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fado_unknown_bucket"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fado_unknown_bucket,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fado_no_route_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fado_no_route_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fado_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fado_status,
      0,
      0,
      NULL },

    { ngx_string("fado_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fado_metrics,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fado_module_ctx = {
    ngx_http_fado_add_variables,           /* preconfiguration */
    ngx_http_fado_init,                    /* postconfiguration */

    ngx_http_fado_create_main_conf,        /* create main configuration */
    ngx_http_fado_init_main_conf,          /* init main configuration */

    ngx_http_fado_create_srv_conf,         /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fado_create_loc_conf,         /* create location configuration */
    ngx_http_fado_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_fado_module = {
    NGX_MODULE_V1,
    &ngx_http_fado_module_ctx,             /* module context */
    ngx_http_fado_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fado_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fado_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


enum {
    NGX_HTTP_FADO_VAR_BUCKET = 0,
    NGX_HTTP_FADO_VAR_CLUSTER,
    NGX_HTTP_FADO_VAR_ZONE,
    NGX_HTTP_FADO_VAR_ENDPOINT,
    NGX_HTTP_FADO_VAR_LOCALITY,
    NGX_HTTP_FADO_VAR_TABLE_VERSION
};


static ngx_http_variable_t  ngx_http_fado_vars[] = {

    { ngx_string("fado_bucket"), NULL, ngx_http_fado_variable,
      NGX_HTTP_FADO_VAR_BUCKET, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fado_cluster"), NULL, ngx_http_fado_variable,
      NGX_HTTP_FADO_VAR_CLUSTER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fado_zone"), NULL, ngx_http_fado_variable,
      NGX_HTTP_FADO_VAR_ZONE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fado_endpoint"), NULL, ngx_http_fado_variable,
      NGX_HTTP_FADO_VAR_ENDPOINT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fado_locality"), NULL, ngx_http_fado_variable,
      NGX_HTTP_FADO_VAR_LOCALITY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fado_table_version"), NULL, ngx_http_fado_variable,
      NGX_HTTP_FADO_VAR_TABLE_VERSION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_fado_localities[] = {
    ngx_string("none"),
    ngx_string("local"),
    ngx_string("fallback")
};


/* set by directives that need the routing table, checked after parsing */
static ngx_uint_t  ngx_http_fado_table_needed;
static u_char     *ngx_http_fado_table_needed_by;


void
ngx_http_fado_need_table(char *directive)
{
    ngx_http_fado_table_needed = 1;
    ngx_http_fado_table_needed_by = (u_char *) directive;
}


ngx_http_fado_table_t *
ngx_http_fado_table(ngx_http_fado_main_conf_t *fmcf)
{
    if (fmcf == NULL || fmcf->shm_zone == NULL) {
        return NULL;
    }

    return fmcf->shm_zone->data;
}


static ngx_int_t
ngx_http_fado_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    ngx_http_fado_table_needed = 0;
    ngx_http_fado_table_needed_by = NULL;

    for (v = ngx_http_fado_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_fado_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_fado_main_conf_t   *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fado_module);

    if (ngx_http_fado_table_needed && fmcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" needs a \"fado_shm_zone\" in the http block",
                      ngx_http_fado_table_needed_by);
        return NGX_ERROR;
    }

    if (fmcf->redis_set && fmcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fado_redis\" needs a \"fado_shm_zone\" to fill");
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fado_handler;

    return ngx_http_fado_queue_postconf(cf);
}


static void *
ngx_http_fado_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fado_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fado_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     fmcf->shm_zone = NULL;
     *     fmcf->password = { 0, NULL };
     *     fmcf->prefix = { 0, NULL };
     *     fmcf->redis_set = 0;
     */

    fmcf->db = NGX_CONF_UNSET;
    fmcf->connect_timeout = NGX_CONF_UNSET_MSEC;
    fmcf->read_timeout = NGX_CONF_UNSET_MSEC;
    fmcf->resync_interval = NGX_CONF_UNSET_MSEC;
    fmcf->batch = NGX_CONF_UNSET_UINT;

    return fmcf;
}


static ngx_int_t
ngx_http_fado_key(ngx_conf_t *cf, ngx_str_t *prefix, const char *name,
    ngx_str_t *key)
{
    size_t  len;

    len = ngx_strlen(name);

    key->data = ngx_pnalloc(cf->pool, prefix->len + len + 1);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = prefix->len + len;
    ngx_memcpy(ngx_cpymem(key->data, prefix->data, prefix->len), name, len);
    key->data[key->len] = '\0';

    return NGX_OK;
}


static char *
ngx_http_fado_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_fado_main_conf_t  *fmcf = conf;

    ngx_conf_init_value(fmcf->db, 0);
    ngx_conf_init_msec_value(fmcf->connect_timeout, 1000);
    ngx_conf_init_msec_value(fmcf->read_timeout, 2000);
    ngx_conf_init_msec_value(fmcf->resync_interval, 0);
    ngx_conf_init_uint_value(fmcf->batch, 5000);

    if (fmcf->prefix.data == NULL) {
        ngx_str_set(&fmcf->prefix, "fado:");
    }

    if (ngx_http_fado_key(cf, &fmcf->prefix, "routes", &fmcf->key_routes)
        != NGX_OK
        || ngx_http_fado_key(cf, &fmcf->prefix, "version", &fmcf->key_version)
           != NGX_OK
        || ngx_http_fado_key(cf, &fmcf->prefix, "feed", &fmcf->key_feed)
           != NGX_OK
        || ngx_http_fado_key(cf, &fmcf->prefix, "default", &fmcf->key_default)
           != NGX_OK
        || ngx_http_fado_key(cf, &fmcf->prefix, "epoch", &fmcf->key_epoch)
           != NGX_OK
        || ngx_http_fado_key(cf, &fmcf->prefix, "clusters",
                             &fmcf->key_clusters)
           != NGX_OK
        || ngx_http_fado_key(cf, &fmcf->prefix, "settings",
                             &fmcf->key_settings)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_fado_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_fado_srv_conf_t  *fscf;

    fscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fado_srv_conf_t));
    if (fscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     fscf->hash_key = NULL;
     *     fscf->enabled = 0;
     */

    fscf->policy = FRC_POLICY_RR;
    fscf->bounded_load = 125;
    fscf->max_fails = 1;
    fscf->fail_timeout = 10000;

    return fscf;
}


static void *
ngx_http_fado_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fado_loc_conf_t  *flcf;

    flcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fado_loc_conf_t));
    if (flcf == NULL) {
        return NULL;
    }

    flcf->bucket = NGX_CONF_UNSET_PTR;
    flcf->unknown_status = NGX_CONF_UNSET;
    flcf->no_route_status = NGX_CONF_UNSET;

    return flcf;
}


static char *
ngx_http_fado_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fado_loc_conf_t  *prev = parent;
    ngx_http_fado_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->bucket, prev->bucket, NULL);
    ngx_conf_merge_value(conf->unknown_status, prev->unknown_status, 0);
    ngx_conf_merge_value(conf->no_route_status, prev->no_route_status,
                         NGX_HTTP_SERVICE_UNAVAILABLE);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fado_param(ngx_str_t *arg, const char *name, ngx_str_t *value)
{
    size_t  len;

    len = ngx_strlen(name);

    if (arg->len > len && ngx_strncmp(arg->data, name, len) == 0
        && arg->data[len] == '=')
    {
        value->data = arg->data + len + 1;
        value->len = arg->len - len - 1;
        return 1;
    }

    return 0;
}


/* An IP literal with an optional port: no blocking DNS lookup in a worker. */
static ngx_int_t
ngx_http_fado_redis_addr(ngx_str_t *value, ngx_http_fado_redis_server_t *rs)
{
    u_char           *p;
    ngx_str_t         host;
    ngx_int_t         port;
    struct in6_addr   a6;

    rs->name = *value;
    host = *value;
    port = 6379;

    if (host.len && host.data[0] == '[') {
        p = ngx_strlchr(host.data, host.data + host.len, ']');
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (p + 1 < host.data + host.len) {
            if (p[1] != ':') {
                return NGX_ERROR;
            }

            port = ngx_atoi(p + 2, host.data + host.len - p - 2);
        }

        host.len = p - host.data - 1;
        host.data++;

    } else {
        p = ngx_strlchr(host.data, host.data + host.len, ':');
        if (p) {
            port = ngx_atoi(p + 1, host.data + host.len - p - 1);
            host.len = p - host.data;
        }
    }

    if (port < 1 || port > 65535 || host.len == 0
        || host.len > NGX_INET6_ADDRSTRLEN)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(rs->host, host.data, host.len);
    rs->host[host.len] = '\0';

    if (ngx_inet_addr(rs->host, host.len) == INADDR_NONE
        && ngx_inet6_addr(rs->host, host.len, a6.s6_addr) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rs->port = port;

    return NGX_OK;
}


/* The time parameters of fado_redis, told apart by their whole name. */
static const struct {
    const char  *name;
    size_t       offset;        /* in ngx_http_fado_main_conf_t */
    ngx_uint_t   zero_ok;       /* 0 means "off" rather than "never wait" */
} ngx_http_fado_redis_times[] = {
    { "connect_timeout",
      offsetof(ngx_http_fado_main_conf_t, connect_timeout), 0 },
    { "read_timeout",
      offsetof(ngx_http_fado_main_conf_t, read_timeout), 0 },
    { "resync_interval",
      offsetof(ngx_http_fado_main_conf_t, resync_interval), 1 },
};


static char *
ngx_http_fado_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fado_main_conf_t  *fmcf = conf;

    u_char       *p;
    size_t        t;
    ngx_str_t    *value, v;
    ngx_int_t     n;
    ngx_msec_t    ms;
    ngx_uint_t    i, first;

    if (fmcf->redis_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* the servers come first, in order of preference; then parameters */
    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')) {
            break;
        }

        if (fmcf->nservers == NGX_HTTP_FADO_REDIS_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "more than %d Redis servers",
                               NGX_HTTP_FADO_REDIS_MAX);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_fado_redis_addr(&value[i],
                                     &fmcf->servers[fmcf->nservers])
            != NGX_OK)
        {
            goto bad_addr;
        }

        fmcf->nservers++;
    }

    if (fmcf->nservers == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no Redis server before \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    first = i;

    for (i = first; i < cf->args->nelts; i++) {

        if (ngx_http_fado_param(&value[i], "password", &v)) {
            if (v.len == 0) {
                return "has an empty \"password=\"";
            }

            fmcf->password.data = ngx_pnalloc(cf->pool, v.len + 1);
            if (fmcf->password.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(fmcf->password.data, v.data, v.len);
            fmcf->password.data[v.len] = '\0';
            fmcf->password.len = v.len;
            continue;
        }

        if (ngx_http_fado_param(&value[i], "db", &v)) {
            n = ngx_atoi(v.data, v.len);
            if (n == NGX_ERROR || n > 65535) {
                goto invalid;
            }

            fmcf->db = n;
            continue;
        }

        if (ngx_http_fado_param(&value[i], "prefix", &v)) {
            for (p = v.data; p < v.data + v.len; p++) {
                if (*p <= ' ' || *p >= 0x7f) {
                    goto invalid;
                }
            }

            if (v.len == 0 || v.len > 128) {
                goto invalid;
            }

            fmcf->prefix = v;
            continue;
        }

        if (ngx_http_fado_param(&value[i], "batch", &v)) {
            n = ngx_atoi(v.data, v.len);
            if (n < 1 || n > 100000) {
                goto invalid;
            }

            fmcf->batch = n;
            continue;
        }

        for (t = 0; t < sizeof(ngx_http_fado_redis_times)
                        / sizeof(ngx_http_fado_redis_times[0]); t++)
        {
            if (ngx_http_fado_param(&value[i], ngx_http_fado_redis_times[t].name,
                                    &v))
            {
                break;
            }
        }

        if (t < sizeof(ngx_http_fado_redis_times)
                / sizeof(ngx_http_fado_redis_times[0]))
        {
            ms = ngx_parse_time(&v, 0);
            if (ms == (ngx_msec_t) NGX_ERROR
                || (ms == 0 && !ngx_http_fado_redis_times[t].zero_ok))
            {
                goto invalid;
            }

            *(ngx_msec_t *) ((u_char *) fmcf
                             + ngx_http_fado_redis_times[t].offset) = ms;
            continue;
        }

        goto invalid;
    }

    fmcf->redis_set = 1;

    return NGX_CONF_OK;

bad_addr:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid Redis address \"%V\" (an IP literal with an "
                       "optional port is expected)", &value[i]);
    return NGX_CONF_ERROR;

invalid:

    /* never quote a password back */
    if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid password parameter");
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_fado_shm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fado_main_conf_t  *fmcf = conf;

    u_char                 *p;
    ssize_t                 size;
    ngx_str_t              *value;
    ngx_http_fado_table_t  *t;

    if (fmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone name \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR || size < (ssize_t) (64 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" (at least %uzk)",
                           &value[2], 64 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    t = ngx_pcalloc(cf->pool, sizeof(ngx_http_fado_table_t));
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        if (value[3].len <= 6 || ngx_strncmp(value[3].data, "state=", 6) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        t->state.data = value[3].data + 6;
        t->state.len = value[3].len - 6;

        if (ngx_conf_full_name(cf->cycle, &t->state, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /* both NUL terminated, for open() and rename() */
        t->state_tmp.len = t->state.len + sizeof(".tmp") - 1;
        t->state_tmp.data = ngx_pnalloc(cf->pool, t->state_tmp.len + 1);
        p = ngx_pnalloc(cf->pool, t->state.len + 1);
        if (t->state_tmp.data == NULL || p == NULL) {
            return NGX_CONF_ERROR;
        }

        *ngx_cpymem(p, t->state.data, t->state.len) = '\0';
        t->state.data = p;
        ngx_sprintf(t->state_tmp.data, "%V.tmp%Z", &t->state);
    }

    fmcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_fado_module);
    if (fmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    t->shm_zone = fmcf->shm_zone;
    fmcf->shm_zone->init = ngx_http_fado_table_init_zone;
    fmcf->shm_zone->data = t;

    return NGX_CONF_OK;
}


ngx_http_complex_value_t  ngx_http_fado_bucket_off;


static char *
ngx_http_fado_bucket(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fado_loc_conf_t  *flcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (flcf->bucket != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid bucket key \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* off: no lookup here, whatever an enclosing level says */
    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        flcf->bucket = NGX_HTTP_FADO_BUCKET_OFF;
        return NGX_CONF_OK;
    }

    flcf->bucket = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (flcf->bucket == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = flcf->bucket;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_http_fado_need_table("fado_bucket");

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fado_parse_status(ngx_str_t *value)
{
    ngx_int_t  status;

    status = ngx_atoi(value->data, value->len);

    if (status < 200 || status > 599 || value->len != 3) {
        return NGX_ERROR;
    }

    return status;
}


static char *
ngx_http_fado_unknown_bucket(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fado_loc_conf_t  *flcf = conf;

    ngx_str_t  *value;

    if (flcf->unknown_status != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 7 && ngx_strncmp(value[1].data, "default", 7) == 0) {
        flcf->unknown_status = 0;
        return NGX_CONF_OK;
    }

    flcf->unknown_status = ngx_http_fado_parse_status(&value[1]);

    if (flcf->unknown_status == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" (\"default\" or a status "
                           "code from 200 to 599 is expected)", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_fado_no_route_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fado_loc_conf_t  *flcf = conf;

    ngx_str_t  *value;

    if (flcf->no_route_status != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    flcf->no_route_status = ngx_http_fado_parse_status(&value[1]);

    if (flcf->no_route_status == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid status \"%V\" (a code from 200 to 599 is "
                           "expected)", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The value of the request header the controller published as
 * bucket_header, for a location without fado_bucket. NGX_DECLINED when
 * nothing is published or the request has no such header: then fado stays
 * out of the request, as it did before the setting existed.
 */
static ngx_int_t
ngx_http_fado_header_bucket(ngx_http_request_t *r, ngx_http_fado_table_t *t,
    ngx_str_t *bucket)
{
    u_char            name[FRC_HEADER_MAX];
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (t == NULL) {
        return NGX_DECLINED;
    }

    ngx_rwlock_rlock(&t->sh->lock);
    len = t->sh->bucket_header_len;
    ngx_memcpy(name, t->sh->bucket_header, len);
    ngx_rwlock_unlock(&t->sh->lock);

    if (len == 0) {
        return NGX_DECLINED;
    }

    part = &r->headers_in.headers.part;
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

        if (h[i].hash != 0 && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, name, len) == 0)
        {
            *bucket = h[i].value;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_fado_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   bucket;
    ngx_pool_cleanup_t         *cln;
    ngx_http_fado_ctx_t        *ctx;
    ngx_http_fado_shm_t        *sh;
    ngx_http_fado_route_t      *route;
    ngx_http_fado_table_t      *t;
    ngx_http_fado_loc_conf_t   *flcf;
    ngx_http_fado_main_conf_t  *fmcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fado_module);

    if (flcf->bucket == NGX_HTTP_FADO_BUCKET_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_fado_module);
    if (ctx && ctx->looked_up) {
        return NGX_DECLINED;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fado_module);
    t = ngx_http_fado_table(fmcf);

    /* nginx.conf wins: the published header only where it names nothing */
    if (flcf->bucket == NULL) {
        if (flcf->own_handler
            || ngx_http_fado_header_bucket(r, t, &bucket) != NGX_OK)
        {
            return NGX_DECLINED;
        }

    } else if (ngx_http_complex_value(r, flcf->bucket, &bucket) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fado_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_fado_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->bucket = bucket;
    ctx->looked_up = 1;
    ngx_http_set_ctx(r, ctx, ngx_http_fado_module);

    sh = t->sh;
    route = NULL;

    /* the whole request-path critical section: a hash probe and a ref */
    ngx_rwlock_rlock(&sh->lock);

    if (bucket.len && bucket.len <= FRC_NAME_MAX) {
        route = ngx_http_fado_table_lookup(sh, bucket.data, bucket.len);
    }

    if (route) {
        ctx->locality = NGX_HTTP_FADO_LOCALITY_LOCAL;

    } else if (flcf->unknown_status == 0 && sh->def) {
        route = sh->def;
        ctx->locality = NGX_HTTP_FADO_LOCALITY_FALLBACK;
    }

    if (route) {
        ctx->set = ngx_http_fado_route_set(route);
        ctx->policy = route->policy;
        ctx->contract = route->group ? 2 : 1;
        ngx_http_fado_table_hold(ctx->set);
    }

    ctx->version = sh->version;

    ngx_rwlock_unlock(&sh->lock);

    if (route == NULL) {
        if (flcf->unknown_status) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "fado: bucket \"%V\" unknown, answering %i",
                           ngx_http_fado_log_bucket(ctx),
                           flcf->unknown_status);
            return flcf->unknown_status;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fado: no route for bucket \"%V\" and no default "
                      "route, answering %i", ngx_http_fado_log_bucket(ctx),
                      flcf->no_route_status);
        return flcf->no_route_status;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fado: bucket \"%V\" %V, %uD endpoints, policy %s",
                   ngx_http_fado_log_bucket(ctx),
                   &ngx_http_fado_localities[ctx->locality],
                   ctx->set->n, frc_record_policy_name(ctx->policy));

    if (ctx->set->n == 0) {
        /* known, but nothing can serve it: neither local nor fallback */
        ctx->locality = NGX_HTTP_FADO_LOCALITY_NONE;

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fado: no endpoint can serve bucket \"%V\" (%s), "
                      "answering %i", ngx_http_fado_log_bucket(ctx),
                      ctx->contract == 2
                      ? "none of its clusters has an endpoint up"
                      : "its route lists none",
                      flcf->no_route_status);
        return flcf->no_route_status;
    }

    ctx->tried = ngx_pcalloc(r->pool, ctx->set->n);
    if (ctx->tried == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the saturated edge: an upstream with queue= waits for a slot */
    rc = ngx_http_fado_queue_admit(r, ctx);

    if (rc == NGX_OK) {
        return NGX_DECLINED;
    }

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_fado_balancer_available(ctx->set, NULL) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fado: all %uD endpoints of bucket \"%V\" are "
                      "saturated, answering %i",
                      ctx->set->n, ngx_http_fado_log_bucket(ctx),
                      flcf->no_route_status);
        return flcf->no_route_status;
    }

    return NGX_DECLINED;
}


/* The request's bucket for a log line: escaped once, when first needed. */
ngx_str_t *
ngx_http_fado_log_bucket(ngx_http_fado_ctx_t *ctx)
{
    u_char  *p;

    static ngx_str_t  unknown = ngx_string("(out of memory)");

    if (ctx->bucket_log.data) {
        return &ctx->bucket_log;
    }

    p = ngx_pnalloc(ctx->request->pool, FRC_TEXT_LOG_SIZE);
    if (p == NULL) {
        return &unknown;
    }

    ctx->bucket_log.data = p;
    ctx->bucket_log.len = frc_text_log(p, ctx->bucket.data,
                                       ctx->bucket.len,
                                       FRC_TEXT_LOG_MAX)
                          - p;

    return &ctx->bucket_log;
}


static void
ngx_http_fado_cleanup(void *data)
{
    ngx_http_fado_ctx_t  *ctx = data;

    /* first: a queued request's place references the set */
    ngx_http_fado_queue_cleanup(ctx);

    if (ctx->held) {
        ctx->held = 0;
        ngx_http_fado_queue_unhold(ctx, ctx->member->ep, 0);
    }

    if (ctx->set) {
        ngx_http_fado_table_release(ctx->set);
        ctx->set = NULL;
        ctx->member = NULL;
    }
}


static ngx_int_t
ngx_http_fado_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                     *p;
    ngx_str_t                  *s;
    ngx_http_fado_ctx_t        *ctx;
    ngx_http_fado_table_t      *t;
    ngx_http_fado_main_conf_t  *fmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fado_module);

    s = NULL;

    switch (data) {

    case NGX_HTTP_FADO_VAR_BUCKET:
        s = ctx ? &ctx->bucket : NULL;
        break;

    case NGX_HTTP_FADO_VAR_CLUSTER:
        s = (ctx && ctx->member) ? &ctx->member->ep->cluster : NULL;
        break;

    case NGX_HTTP_FADO_VAR_ZONE:
        s = (ctx && ctx->member) ? &ctx->member->ep->zone : NULL;
        break;

    case NGX_HTTP_FADO_VAR_ENDPOINT:
        s = (ctx && ctx->member) ? &ctx->member->ep->name : NULL;
        break;

    case NGX_HTTP_FADO_VAR_LOCALITY:
        s = &ngx_http_fado_localities[ctx ? ctx->locality : 0];
        break;

    case NGX_HTTP_FADO_VAR_TABLE_VERSION:
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ctx) {
            v->len = ngx_sprintf(p, "%uL", ctx->version) - p;

        } else {
            fmcf = ngx_http_get_module_main_conf(r, ngx_http_fado_module);
            t = ngx_http_fado_table(fmcf);
            if (t == NULL) {
                v->not_found = 1;
                return NGX_OK;
            }

            v->len = ngx_sprintf(p, "%uL", t->sh->version) - p;
        }

        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
        v->data = p;
        return NGX_OK;
    }

    if (s == NULL || s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fado_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fado_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fado_module);

    if (fmcf && fmcf->shm_zone
        && (ngx_process == NGX_PROCESS_WORKER
            || ngx_process == NGX_PROCESS_SINGLE))
    {
        ngx_http_fado_table_slot_claim(fmcf->shm_zone->data, cycle->log);
    }

    if (ngx_http_fado_queue_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_fado_owner_init_process(cycle);
}


static void
ngx_http_fado_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fado_main_conf_t  *fmcf;

    ngx_http_fado_owner_exit_process(cycle);
    ngx_http_fado_queue_exit_process(cycle);

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fado_module);

    if (fmcf && fmcf->shm_zone) {
        ngx_http_fado_table_slot_release(fmcf->shm_zone->data, cycle->log);
    }
}
