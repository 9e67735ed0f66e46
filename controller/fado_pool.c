/*
 * fado_pool: worker threads over a bounded FIFO of jobs.
 */

#include "fado_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct fado_pool_job_s  fado_pool_job_t;

struct fado_pool_job_s {
    fado_pool_fn      fn;
    void             *arg;
    fado_pool_job_t  *next;
};

struct fado_pool_s {
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    pthread_t        *threads;
    int               nthreads;
    int               max_queued;
    int               queued;
    int               running;
    int               stopping;
    fado_pool_job_t  *head;
    fado_pool_job_t  *tail;
};

static void *
fado_pool_main(void *arg)
{
    fado_pool_t      *pool = arg;
    fado_pool_job_t  *job;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->head == NULL && !pool->stopping) {
            pthread_cond_wait(&pool->cond, &pool->lock);
        }
        if (pool->head == NULL) {
            break;
        }
        job = pool->head;
        pool->head = job->next;
        if (pool->head == NULL) {
            pool->tail = NULL;
        }
        pool->queued--;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);
        job->fn(job->arg);
        free(job);
        pthread_mutex_lock(&pool->lock);
        pool->running--;
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

fado_pool_t *
fado_pool_start(int threads, int max_queued)
{
    fado_pool_t  *pool = calloc(1, sizeof(*pool));

    if (pool == NULL) {
        return NULL;
    }
    pool->threads = calloc((size_t) threads, sizeof(pthread_t));
    if (pool->threads == NULL || pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool->threads);
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->cond, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool->threads);
        free(pool);
        return NULL;
    }
    pool->max_queued = max_queued;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, fado_pool_main, pool) != 0) {
            fado_pool_stop(pool);
            fado_pool_free(pool);
            return NULL;
        }
        pool->nthreads++;
    }
    return pool;
}

int
fado_pool_submit(fado_pool_t *pool, fado_pool_fn fn, void *arg)
{
    fado_pool_job_t  *job = malloc(sizeof(*job));

    if (job == NULL) {
        return -1;
    }
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping || pool->queued >= pool->max_queued) {
        pthread_mutex_unlock(&pool->lock);
        free(job);
        return -1;
    }
    if (pool->tail != NULL) {
        pool->tail->next = job;
    } else {
        pool->head = job;
    }
    pool->tail = job;
    pool->queued++;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

int
fado_pool_pending(fado_pool_t *pool)
{
    int  n;

    pthread_mutex_lock(&pool->lock);
    n = pool->queued + pool->running;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void
fado_pool_stop(fado_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++) {
        pthread_join(pool->threads[i], NULL);
    }
    pool->nthreads = 0;
}

void
fado_pool_free(fado_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}
