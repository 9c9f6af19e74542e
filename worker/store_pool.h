/*
 * Database work off the worker's loop thread.
 *
 * A claim or a status change takes a round trip to the database, a few
 * milliseconds under load; made on the loop thread, every transfer in flight
 * waited for it, and a child could claim only a few hundred notifications a
 * second whatever its prefetch. The loop hands each such step to a small pool
 * of threads instead and carries on; when a step is done the pool's eventfd
 * wakes the loop, which runs the step's continuation on its own thread.
 */
#ifndef WORKER_STORE_POOL_H
#define WORKER_STORE_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "wc_store.h"
#include "wc_work_pool.h"

typedef struct store_op store_op_t;

/* A step: `run` on a pool thread (it may use `store` and what the op's owner
 * prepared, nothing the loop touches meanwhile), then `done` on the loop
 * thread. The op belongs to its owner; the pool only links it.
 *
 * An `urgent` step (a high-priority notification's) is taken before every
 * waiting step that is not: a flood of standard work keeps up to twice the
 * prefetch of steps queued, and a CRITICAL claim must not wait behind them.
 * Steps of the same kind run in the order they were submitted. */
struct store_op {
    void (*run)(store_op_t *op, wc_store_t *store);
    void (*done)(store_op_t *op);
    void *arg;
    bool urgent;
    wc_work_t work; /* the pool's */
};

typedef struct store_pool store_pool_t;

/* Starts `threads` threads working on `store`. NULL with a reason logged. */
store_pool_t *store_pool_start(wc_store_t *store, int threads);

/* Queues `op`; 0, or -1 when the pool is stopping. */
int store_pool_submit(store_pool_t *pool, store_op_t *op);

/* Readable while finished steps wait for store_pool_dispatch. */
int store_pool_fd(const store_pool_t *pool);

/* Runs `done` of every finished step, in the order they finished; on the loop
 * thread. Returns how many ran. */
size_t store_pool_dispatch(store_pool_t *pool);

/* Steps queued or running. */
size_t store_pool_pending(const store_pool_t *pool);

/* Lets the threads finish every queued step, joins them and frees the pool;
 * the `done` of steps not yet dispatched is not run. */
void store_pool_free(store_pool_t *pool);

#endif
