/*
 * hiredis async on nginx's event loop: the adapter hiredis expects from an
 * event library (like the adapters shipped with hiredis), written for nginx events. The
 * socket stays hiredis's; nginx only watches it.
 */

#ifndef NGX_HTTP_FADO_REDIS_H
#define NGX_HTTP_FADO_REDIS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


ngx_int_t ngx_http_fado_redis_attach(redisAsyncContext *ac, ngx_log_t *log);

#endif /* NGX_HTTP_FADO_REDIS_H */
