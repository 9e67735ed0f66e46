/*
 * fado_pool: a fixed set of threads running queued jobs, for the work of an
 * API request that may block on MinIO (object transfers, object metadata).
 * The HTTP threads never wait on MinIO: they suspend the connection, queue
 * a job here and serve other requests; the job resumes the connection when
 * it is done. The queue is bounded: when it is full a request is refused
 * with 503 at once rather than waiting behind stuck transfers.
 */

#ifndef FADO_POOL_H
#define FADO_POOL_H

typedef struct fado_pool_s  fado_pool_t;
typedef void (*fado_pool_fn)(void *arg);

fado_pool_t *fado_pool_start(int threads, int max_queued);

/* Queues fn(arg); -1 when the queue is full or the pool is stopping. */
int fado_pool_submit(fado_pool_t *pool, fado_pool_fn fn, void *arg);

/* Jobs queued or running now. */
int fado_pool_pending(fado_pool_t *pool);

/* Runs what is queued, then stops the threads; submit fails from then on. */
void fado_pool_stop(fado_pool_t *pool);
void fado_pool_free(fado_pool_t *pool);

#endif /* FADO_POOL_H */
