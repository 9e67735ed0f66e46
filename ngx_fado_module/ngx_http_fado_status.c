/*
 * fado_status (JSON) and fado_metrics (Prometheus text): what the table
 * holds, how sync goes, and the shared per-endpoint counters. Both read
 * the table under the read lock and build the whole answer in one buffer.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_fado_module.h"


/* generous upper bound of one endpoint's text in either format */
#define NGX_HTTP_FADO_EP_TEXT   1024
#define NGX_HTTP_FADO_HEAD_TEXT (4096 + 6 * FRC_HEADER_MAX + 32)
#define NGX_HTTP_FADO_CLUSTER_TEXT 512


static ngx_int_t ngx_http_fado_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fado_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fado_status_route(ngx_http_request_t *r,
    ngx_http_fado_table_t *t, ngx_str_t *bucket);


char *
ngx_http_fado_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_fado_loc_conf_t  *flcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fado_status_handler;

    /* never a bucket lookup here, whatever header a request carries */
    flcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_fado_module);
    flcf->own_handler = 1;

    ngx_http_fado_need_table("fado_status");

    return NGX_CONF_OK;
}


char *
ngx_http_fado_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_fado_loc_conf_t  *flcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fado_metrics_handler;

    /* never a bucket lookup here, whatever header a request carries */
    flcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_fado_module);
    flcf->own_handler = 1;

    ngx_http_fado_need_table("fado_metrics");

    return NGX_CONF_OK;
}




static u_char *
ngx_http_fado_json_str(u_char *p, u_char *s, size_t len)
{
    /* valid UTF-8 whatever Redis or a request gave (6 bytes per byte) */
    *p++ = '"';
    p = frc_text_json(p, s, len);
    *p++ = '"';
    return p;
}


static ngx_int_t
ngx_http_fado_send(ngx_http_request_t *r, ngx_buf_t *b, char *type,
    size_t type_len)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type.len = type_len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type_len = type_len;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_buf_t *
ngx_http_fado_status_buf(ngx_http_request_t *r, ngx_http_fado_shm_t *sh)
{
    size_t                    size, zones;
    ngx_uint_t                i;
    ngx_http_fado_cluster_t  *c;

    /*
     * Called under the read lock: the counts cannot change meanwhile. A
     * cluster's zone list can be long (16 zones): each endpoint and cluster
     * line may repeat the longest one present, up to 4 times.
     */
    zones = 0;

    for (i = 0; i < sh->ncluster_slots; i++) {
        for (c = sh->cluster_slots[i]; c; c = c->next) {
            zones = ngx_max(zones, (size_t) c->zone_len);
        }
    }

    size = NGX_HTTP_FADO_HEAD_TEXT
           + sh->nendpoints * (NGX_HTTP_FADO_EP_TEXT + 4 * zones)
           + sh->nclusters * (NGX_HTTP_FADO_CLUSTER_TEXT + 2 * zones)
           + ngx_http_fado_queue_text_size(
                 ngx_http_get_module_main_conf(r, ngx_http_fado_module));

    return ngx_create_temp_buf(r->pool, size);
}


static ngx_int_t
ngx_http_fado_status_handler(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      used, total;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, first;
    ngx_str_t                   bucket;
    ngx_http_fado_shm_t        *sh;
    ngx_http_fado_table_t      *t;
    ngx_http_fado_cluster_t    *c;
    ngx_http_fado_endpoint_t   *ep;
    ngx_http_fado_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fado_module);
    t = ngx_http_fado_table(fmcf);
    sh = t->sh;

    if (ngx_http_arg(r, (u_char *) "bucket", sizeof("bucket") - 1, &bucket)
        == NGX_OK)
    {
        return ngx_http_fado_status_route(r, t, &bucket);
    }

    ngx_rwlock_rlock(&sh->lock);

    b = ngx_http_fado_status_buf(r, sh);
    if (b == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_shmtx_lock(&t->shpool->mutex);
    used = ngx_http_fado_table_used(t);
    ngx_shmtx_unlock(&t->shpool->mutex);
    total = (size_t) (t->shpool->end - t->shpool->start);

    p = b->last;

    p = ngx_sprintf(p, "{\"ready\":%s,", sh->ready ? "true" : "false");

    p = ngx_sprintf(p, "\"table_version\":%uL,\"routes\":%ui,"
                    "\"default_route\":%s,\"endpoint_sets\":%ui,"
                    "\"endpoints_count\":%ui,\"zombie_sets\":%ui,",
                    sh->version, sh->nroutes, sh->def ? "true" : "false",
                    sh->nsets, sh->nendpoints, sh->nzombies);

    p = ngx_sprintf(p, "\"clusters_count\":%ui,\"cluster_groups\":%ui,"
                    "\"clusters\":[", sh->nclusters, sh->ngroups);

    first = 1;

    for (i = 0; i < sh->ncluster_slots; i++) {
        for (c = sh->cluster_slots[i]; c; c = c->next) {
            if (!first) {
                *p++ = ',';
            }

            first = 0;

            p = ngx_sprintf(p, "{\"name\":");
            p = ngx_http_fado_json_str(p, c->name, c->len);
            p = ngx_sprintf(p, ",\"zone\":");
            p = ngx_http_fado_json_str(p, c->zone, c->zone_len);
            p = ngx_sprintf(p, ",\"state\":\"%s\",\"version\":%uL,"
                            "\"endpoints\":%uD}",
                            c->up ? "up" : "down", c->version, c->n);
        }
    }

    p = ngx_sprintf(p, "],");

    p = ngx_sprintf(p, "\"sync\":{\"state\":\"%s\",\"owner_pid\":%uA,",
                    ngx_http_fado_sync_state_name(sh->state), sh->owner);

    if (fmcf->nservers) {
        p = ngx_sprintf(p, "\"redis\":");
        p = ngx_http_fado_json_str(p,
                fmcf->servers[sh->redis_server % fmcf->nservers].name.data,
                fmcf->servers[sh->redis_server % fmcf->nservers].name.len);
        p = ngx_sprintf(p, ",\"redis_servers\":%ui,", fmcf->nservers);
    }

    p = ngx_sprintf(p, "\"epoch\":");
    p = ngx_http_fado_json_str(p, sh->epoch, sh->epoch_len);

    p = ngx_sprintf(p, ",\"bucket_header\":");
    p = ngx_http_fado_json_str(p, sh->bucket_header, sh->bucket_header_len);

    p = ngx_sprintf(p, ",\"resyncs\":%ui,\"last_resync_ms\":%M,"
                    "\"last_resync_at\":%T,\"updates\":%ui,"
                    "\"rejected_records\":%ui,\"alloc_failures\":%ui,"
                    "\"inflight_reclaimed\":%ui,\"last_error\":",
                    sh->resyncs, sh->last_resync_ms, sh->last_resync_at,
                    sh->updates, sh->rejected, sh->alloc_failures,
                    sh->reclaimed);
    p = ngx_http_fado_json_str(p, sh->last_error, sh->last_error_len);

    p = ngx_sprintf(p, ",\"last_error_at\":%T},", sh->last_error_at);

    p = ngx_sprintf(p, "\"state_file\":{\"configured\":%s,"
                    "\"loaded_version\":%uL,\"written_version\":%uL,"
                    "\"writes\":%ui,\"errors\":%ui,\"written_at\":%T,"
                    "\"write_ms\":%M},",
                    t->state.len ? "true" : "false", sh->state_loaded_version,
                    sh->state_version, sh->state_writes, sh->state_errors,
                    sh->state_written_at, sh->state_write_ms);

    p = ngx_sprintf(p, "\"shm\":{\"size\":%uz,\"used\":%uz,"
                    "\"bytes_per_route\":%uz,\"hash_slots\":%ui},",
                    total, used, sh->nroutes ? used / sh->nroutes : 0,
                    sh->nslots);

    p = ngx_sprintf(p, "\"endpoints\":[");

    first = 1;

    for (i = 0; i < sh->nep_slots; i++) {
        for (ep = sh->ep_slots[i]; ep; ep = ep->next) {
            if (!first) {
                *p++ = ',';
            }

            first = 0;

            p = ngx_sprintf(p, "{\"addr\":");
            p = ngx_http_fado_json_str(p, ep->name.data, ep->name.len);
            p = ngx_sprintf(p, ",\"cluster\":");
            p = ngx_http_fado_json_str(p, ep->cluster.data, ep->cluster.len);
            p = ngx_sprintf(p, ",\"zone\":");
            p = ngx_http_fado_json_str(p, ep->zone.data, ep->zone.len);
            p = ngx_sprintf(p, ",\"inflight\":%uA,\"requests\":%uA,"
                            "\"fails\":%uA,\"failures\":%uA,"
                            "\"ewma_us\":%uA}",
                            ep->inflight, ep->requests, ep->fails,
                            ep->failures, ep->ewma_us);
        }
    }

    ngx_rwlock_unlock(&sh->lock);

    p = ngx_sprintf(p, "]");
    p = ngx_http_fado_queue_status(p, fmcf);
    p = ngx_sprintf(p, "}\n");
    b->last = p;

    return ngx_http_fado_send(r, b, "application/json",
                              sizeof("application/json") - 1);
}


/*
 * fado_status?bucket=<name>: the route a request for the bucket follows now,
 * its clusters (contract 2) and the endpoints they join to.
 */
static ngx_int_t
ngx_http_fado_status_route(ngx_http_request_t *r, ngx_http_fado_table_t *t,
    ngx_str_t *arg)
{
    u_char                 *p, *last, *k, *kend, *tok;
    size_t                  size;
    uint32_t                i;
    ngx_str_t               bucket;
    ngx_buf_t              *b;
    ngx_http_fado_shm_t    *sh;
    ngx_http_fado_set_t    *set;
    ngx_http_fado_route_t  *route;

    sh = t->sh;

    bucket.data = ngx_pnalloc(r->pool, arg->len);
    if (bucket.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = arg->data;
    last = bucket.data;
    ngx_unescape_uri(&last, &p, arg->len, 0);
    bucket.len = last - bucket.data;

    ngx_rwlock_rlock(&sh->lock);

    route = NULL;

    if (bucket.len && bucket.len <= FRC_NAME_MAX) {
        route = ngx_http_fado_table_lookup(sh, bucket.data, bucket.len);
    }

    set = route ? ngx_http_fado_route_set(route) : NULL;

    size = NGX_HTTP_FADO_HEAD_TEXT + 6 * bucket.len
           + (route && route->group ? 2 * route->group->key_len : 0)
           + (set ? set->n * (NGX_HTTP_FADO_EP_TEXT / 4) : 0);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"bucket\":");
    p = ngx_http_fado_json_str(p, bucket.data, bucket.len);

    if (route == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        p = ngx_sprintf(p, ",\"known\":false}\n");
        b->last = p;
        return ngx_http_fado_send(r, b, "application/json",
                                  sizeof("application/json") - 1);
    }

    p = ngx_sprintf(p, ",\"known\":true,\"contract\":%d,\"version\":%uL,"
                    "\"policy\":\"%s\"",
                    route->group ? 2 : 1, route->version,
                    frc_record_policy_name(route->policy));

    if (route->group) {
        p = ngx_sprintf(p, ",\"clusters\":[");

        k = route->group->key;
        kend = k + route->group->key_len;

        while (k < kend) {
            tok = k;

            while (k < kend && *k != ' ') {
                k++;
            }

            if (tok != route->group->key) {
                *p++ = ',';
            }

            p = ngx_http_fado_json_str(p, tok, k - tok);
            k++;
        }

        *p++ = ']';
    }

    p = ngx_sprintf(p, ",\"endpoints\":[");

    for (i = 0; i < set->n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "{\"addr\":");
        p = ngx_http_fado_json_str(p, set->m[i].ep->name.data,
                                   set->m[i].ep->name.len);
        p = ngx_sprintf(p, ",\"cluster\":");
        p = ngx_http_fado_json_str(p, set->m[i].ep->cluster.data,
                                   set->m[i].ep->cluster.len);
        p = ngx_sprintf(p, ",\"weight\":%uD,\"max_inflight\":%uD}",
                        set->m[i].weight, set->m[i].max_inflight);
    }

    ngx_rwlock_unlock(&sh->lock);

    p = ngx_sprintf(p, "]}\n");
    b->last = p;

    return ngx_http_fado_send(r, b, "application/json",
                              sizeof("application/json") - 1);
}


static ngx_int_t
ngx_http_fado_metrics_handler(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      used;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, pass;
    ngx_http_fado_shm_t        *sh;
    ngx_http_fado_table_t      *t;
    ngx_http_fado_cluster_t    *c;
    ngx_http_fado_endpoint_t   *ep;
    ngx_http_fado_main_conf_t  *fmcf;

    static const char  *names[] = {
        "fado_endpoint_inflight", "fado_endpoint_requests_total",
        "fado_endpoint_failures_total", "fado_endpoint_ewma_seconds"
    };
    static const char  *types[] = { "gauge", "counter", "counter", "gauge" };

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fado_module);
    t = ngx_http_fado_table(fmcf);
    sh = t->sh;

    ngx_rwlock_rlock(&sh->lock);

    b = ngx_http_fado_status_buf(r, sh);
    if (b == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_shmtx_lock(&t->shpool->mutex);
    used = ngx_http_fado_table_used(t);
    ngx_shmtx_unlock(&t->shpool->mutex);

    p = b->last;

    p = ngx_sprintf(p,
            "# TYPE fado_table_version gauge\nfado_table_version %uL\n"
            "# TYPE fado_routes gauge\nfado_routes %ui\n"
            "# TYPE fado_shm_used_bytes gauge\nfado_shm_used_bytes %uz\n"
            "# TYPE fado_resyncs_total counter\nfado_resyncs_total %ui\n"
            "# TYPE fado_last_resync_seconds gauge\n"
            "fado_last_resync_seconds %M.%03M\n"
            "# TYPE fado_updates_total counter\nfado_updates_total %ui\n"
            "# TYPE fado_rejected_records_total counter\n"
            "fado_rejected_records_total %ui\n"
            "# TYPE fado_sync_up gauge\nfado_sync_up %d\n",
            sh->version, sh->nroutes, used, sh->resyncs,
            sh->last_resync_ms / 1000, sh->last_resync_ms % 1000,
            sh->updates, sh->rejected,
            sh->state == NGX_HTTP_FADO_SYNC_FOLLOWING ? 1 : 0);

    p = ngx_sprintf(p, "# TYPE fado_clusters gauge\nfado_clusters %ui\n"
                    "# TYPE fado_cluster_up gauge\n", sh->nclusters);

    for (i = 0; i < sh->ncluster_slots; i++) {
        for (c = sh->cluster_slots[i]; c; c = c->next) {
            p = ngx_sprintf(p, "fado_cluster_up{cluster=\"%*s\",zone=\"%*s\"} "
                            "%d\n", (size_t) c->len, c->name,
                            (size_t) c->zone_len, c->zone, c->up ? 1 : 0);
        }
    }

    p = ngx_sprintf(p, "# TYPE fado_cluster_endpoints gauge\n");

    for (i = 0; i < sh->ncluster_slots; i++) {
        for (c = sh->cluster_slots[i]; c; c = c->next) {
            p = ngx_sprintf(p, "fado_cluster_endpoints{cluster=\"%*s\","
                            "zone=\"%*s\"} %uD\n", (size_t) c->len, c->name,
                            (size_t) c->zone_len, c->zone, c->n);
        }
    }

    /* one family at a time, as the exposition format wants */
    for (pass = 0; pass < 4; pass++) {
        p = ngx_sprintf(p, "# TYPE %s %s\n", names[pass], types[pass]);

        for (i = 0; i < sh->nep_slots; i++) {
            for (ep = sh->ep_slots[i]; ep; ep = ep->next) {
                p = ngx_sprintf(p, "%s{endpoint=\"%V\",cluster=\"%V\","
                                "zone=\"%V\"} ", names[pass], &ep->name,
                                &ep->cluster, &ep->zone);

                switch (pass) {
                case 0:
                    p = ngx_sprintf(p, "%uA\n", ep->inflight);
                    break;
                case 1:
                    p = ngx_sprintf(p, "%uA\n", ep->requests);
                    break;
                case 2:
                    p = ngx_sprintf(p, "%uA\n", ep->failures);
                    break;
                default:
                    p = ngx_sprintf(p, "%uA.%06uA\n", ep->ewma_us / 1000000,
                                    ep->ewma_us % 1000000);
                }
            }
        }
    }

    ngx_rwlock_unlock(&sh->lock);

    p = ngx_http_fado_queue_metrics(p, fmcf);

    b->last = p;

    return ngx_http_fado_send(r, b, "text/plain; version=0.0.4",
                              sizeof("text/plain; version=0.0.4") - 1);
}
