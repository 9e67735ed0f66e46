/*
 * The nginx event adapter for hiredis async contexts. Level-triggered
 * events, because hiredis reads what is there and asks again; the hooks are
 * idempotent as hiredis requires.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_fado_redis.h"


static void
ngx_http_fado_redis_read(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    /* hiredis may free the context, and this connection, in here */
    redisAsyncHandleRead(c->data);
}


static void
ngx_http_fado_redis_write(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleWrite(c->data);
}


static void
ngx_http_fado_redis_add(ngx_event_t *ev, ngx_int_t event)
{
    ngx_connection_t  *c = ev->data;

    if (ev->active) {
        return;
    }

    if (ngx_add_event(ev, event, 0) != NGX_OK) {
        /* hiredis has no way to hear of it: the watchdog timer will */
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "fado: cannot watch the Redis socket");
    }
}


static void
ngx_http_fado_redis_del(ngx_event_t *ev, ngx_int_t event)
{
    ngx_connection_t  *c = ev->data;

    if (!ev->active) {
        return;
    }

    if (ngx_del_event(ev, event, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "fado: cannot stop watching the Redis socket");
    }
}


static void
ngx_http_fado_redis_add_read(void *data)
{
    ngx_connection_t  *c = data;

    ngx_http_fado_redis_add(c->read, NGX_READ_EVENT);
}


static void
ngx_http_fado_redis_del_read(void *data)
{
    ngx_connection_t  *c = data;

    ngx_http_fado_redis_del(c->read, NGX_READ_EVENT);
}


static void
ngx_http_fado_redis_add_write(void *data)
{
    ngx_connection_t  *c = data;

    ngx_http_fado_redis_add(c->write, NGX_WRITE_EVENT);
}


static void
ngx_http_fado_redis_del_write(void *data)
{
    ngx_connection_t  *c = data;

    ngx_http_fado_redis_del(c->write, NGX_WRITE_EVENT);
}


static void
ngx_http_fado_redis_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    ngx_http_fado_redis_del(c->read, NGX_READ_EVENT);
    ngx_http_fado_redis_del(c->write, NGX_WRITE_EVENT);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* hiredis closes the socket itself after this hook returns */
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


ngx_int_t
ngx_http_fado_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    if (ac->ev.data != NULL) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_fado_redis_read;
    c->write->handler = ngx_http_fado_redis_write;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_fado_redis_add_read;
    ac->ev.delRead = ngx_http_fado_redis_del_read;
    ac->ev.addWrite = ngx_http_fado_redis_add_write;
    ac->ev.delWrite = ngx_http_fado_redis_del_write;
    ac->ev.cleanup = ngx_http_fado_redis_cleanup;

    return NGX_OK;
}
