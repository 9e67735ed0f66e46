/*
 * Which worker syncs the routes: one worker (the owner) keeps the shared
 * table equal to Redis (ngx_http_fado_sync.c); the others only read the
 * table. The owner is elected through the shared zone: a worker takes the
 * pid slot when it is free, its holder is dead (a respawned worker finds
 * the pid gone) or a reload brought workers of a newer configuration, whose
 * configuration generation then wins. The owner also sweeps the table
 * every tick (slots of dead workers, zombie sets) and writes the state
 * file a moment after changes.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_fado_sync.h"


static void ngx_http_fado_owner_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_fado_owner_reconfigured(ngx_http_fado_sync_t *s);
static void ngx_http_fado_owner_state(ngx_event_t *ev);


ngx_int_t
ngx_http_fado_owner_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fado_sync_t       *s = &ngx_http_fado_sync;
    ngx_http_fado_main_conf_t  *fmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fado_module);

    if (fmcf == NULL || fmcf->shm_zone == NULL || !fmcf->redis_set) {
        return NGX_OK;
    }

    ngx_memzero(s, sizeof(ngx_http_fado_sync_t));

    s->log = cycle->log;
    s->fmcf = fmcf;
    s->table = fmcf->shm_zone->data;
    s->gen = s->table->sh->conf_gen;

    s->tick.handler = ngx_http_fado_owner_tick;
    s->tick.data = s;
    s->tick.log = cycle->log;
    s->tick.cancelable = 1;

    s->retry.handler = ngx_http_fado_sync_retry;
    s->retry.data = s;
    s->retry.log = cycle->log;
    s->retry.cancelable = 1;

    s->watchdog.handler = ngx_http_fado_sync_watchdog;
    s->watchdog.data = s;
    s->watchdog.log = cycle->log;
    s->watchdog.cancelable = 1;

    s->state.handler = ngx_http_fado_owner_state;
    s->state.data = s;
    s->state.log = cycle->log;
    s->state.cancelable = 1;

    /* soon, so a fresh gateway fills its table at once */
    ngx_add_timer(&s->tick, 1 + ngx_random() % 20);

    return NGX_OK;
}

/* The table changed: write the state file soon, once for many changes. */
void
ngx_http_fado_owner_changed(ngx_http_fado_sync_t *s)
{
    /*
     * A write blocks this worker (0.5 s for a million routes): keep it
     * under a tenth of the worker's time however often the table changes.
     */
    if (s->table->state.len && !s->state.timer_set && !ngx_exiting) {
        ngx_add_timer(&s->state,
                      ngx_max(NGX_HTTP_FADO_STATE_DELAY,
                              10 * s->table->sh->state_write_ms));
    }
}

static void
ngx_http_fado_owner_state(ngx_event_t *ev)
{
    ngx_http_fado_sync_t  *s = ev->data;

    if (s->owner && s->table) {
        (void) ngx_http_fado_state_write(s->table, s->log);
    }
}

/* A pending write is not lost when the worker exits. */
static void
ngx_http_fado_owner_state_now(ngx_http_fado_sync_t *s)
{
    if (!s->state.timer_set) {
        return;
    }

    ngx_del_timer(&s->state);
    ngx_http_fado_owner_state(&s->state);
}

void
ngx_http_fado_owner_release(ngx_http_fado_sync_t *s)
{
    if (!s->owner) {
        return;
    }

    s->owner = 0;
    s->synced = 0;
    (void) ngx_atomic_cmp_set(&s->table->sh->owner, ngx_pid, 0);

    ngx_log_error(NGX_LOG_INFO, s->log, 0, "fado: route sync released");
}

void
ngx_http_fado_owner_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fado_sync_t  *s = &ngx_http_fado_sync;
    redisAsyncContext     *ac;

    if (s->table == NULL) {
        return;
    }

    ngx_http_fado_owner_state_now(s);
    ngx_http_fado_owner_release(s);

    ac = s->ac;
    s->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }

    s->table = NULL;
}

/*
 * Without a master process a reload re-reads the configuration in this very
 * process and no init_process follows: pick up the new configuration here,
 * before the old one is freed.
 */
static ngx_int_t
ngx_http_fado_owner_reconfigured(ngx_http_fado_sync_t *s)
{
    ngx_cycle_t                *cycle;
    ngx_http_fado_main_conf_t  *fmcf;

    cycle = (ngx_cycle_t *) ngx_cycle;
    fmcf = NULL;

    if (cycle->conf_ctx[ngx_http_module.index]) {
        fmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_fado_module);
    }

    if (fmcf == s->fmcf) {
        return NGX_OK;
    }

    ngx_http_fado_sync_drop(s, NULL, 0);
    ngx_http_fado_owner_state_now(s);
    ngx_http_fado_owner_release(s);

    if (s->retry.timer_set) {
        ngx_del_timer(&s->retry);
    }

    s->table = NULL;

    (void) ngx_http_fado_owner_init_process(cycle);

    return NGX_DECLINED;
}

static void
ngx_http_fado_owner_tick(ngx_event_t *ev)
{
    ngx_http_fado_sync_t  *s = ev->data;

    ngx_pid_t             pid;
    ngx_http_fado_shm_t  *sh;

    if (ngx_process == NGX_PROCESS_SINGLE
        && ngx_http_fado_owner_reconfigured(s) != NGX_OK)
    {
        return;
    }

    sh = s->table->sh;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_fado_sync_drop(s, NULL, 0);
        ngx_http_fado_owner_state_now(s);
        ngx_http_fado_owner_release(s);
        return;
    }

    pid = (ngx_pid_t) sh->owner;

    if (s->gen < sh->conf_gen) {
        /* a newer configuration is loaded: its workers sync */
        if (s->owner) {
            ngx_http_fado_sync_drop(s, NULL, 0);
            ngx_http_fado_owner_release(s);
        }

    } else if (s->owner && pid != ngx_pid) {
        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "fado: route sync taken over by pid %P", pid);
        s->owner = 0;
        s->synced = 0;
        ngx_http_fado_sync_drop(s, NULL, 0);

    } else if (!s->owner
               && (pid == 0 || pid == ngx_pid || sh->owner_gen < s->gen
                   || (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH)))
    {
        if (ngx_atomic_cmp_set(&sh->owner, (ngx_atomic_uint_t) pid,
                               (ngx_atomic_uint_t) ngx_pid))
        {
            sh->owner_gen = s->gen;
            s->owner = 1;
            s->synced = 0;
            s->backoff = 0;

            ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                          "fado: route sync owned by this worker "
                          "(previous owner pid %P)", pid);

            ngx_http_fado_sync_connect(s);
        }
    }

    if (s->owner) {
        ngx_rwlock_wlock(&sh->lock);
        (void) ngx_http_fado_table_slot_reclaim(s->table, s->log);
        (void) ngx_http_fado_table_free_zombies(s->table);
        ngx_rwlock_unlock(&sh->lock);

        if (s->fmcf->resync_interval && s->synced
            && ngx_current_msec - s->last_resync >= s->fmcf->resync_interval)
        {
            /* a safety net: reconnect forgetting where we were */
            s->synced = 0;
            ngx_http_fado_sync_drop(s, NULL, 0);
            ngx_http_fado_sync_connect(s);
        }
    }

    ngx_add_timer(&s->tick, NGX_HTTP_FADO_TICK);
}

/* Applies under the write lock, if this worker still owns the table. */
ngx_int_t
ngx_http_fado_owner_wlock(ngx_http_fado_sync_t *s)
{
    ngx_http_fado_shm_t  *sh;

    sh = s->table->sh;

    ngx_rwlock_wlock(&sh->lock);

    if (sh->owner != (ngx_atomic_uint_t) ngx_pid) {
        ngx_rwlock_unlock(&sh->lock);

        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "fado: route sync lost to pid %P",
                      (ngx_pid_t) sh->owner);
        s->owner = 0;
        s->synced = 0;
        ngx_http_fado_sync_drop(s, NULL, 0);
        return NGX_ERROR;
    }

    return NGX_OK;
}
