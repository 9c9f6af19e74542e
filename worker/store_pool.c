/* The worker's database steps on a generic work pool (shared/util/wc_work_pool.h):
 * one step a batch, urgent steps first, each `done` run on the loop thread. */
#include "store_pool.h"

#include <stdlib.h>

#include "wc_log.h"

struct store_pool {
    wc_store_t *store;
    wc_work_pool_t *work;
};

/* On a pool thread; a batch is one step (batch_max 1). */
static void run_step(void *arg, int thread, wc_work_t *batch)
{
    (void)thread;
    store_pool_t *pool = arg;
    store_op_t *op = WC_WORK_OWNER(batch, store_op_t, work);
    op->run(op, pool->store);
}

store_pool_t *store_pool_start(wc_store_t *store, int threads)
{
    store_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        wc_log_error("store pool: out of memory");
        return NULL;
    }
    pool->store = store;
    const wc_work_pool_options_t opts = {
        .name = "store pool",
        .threads = threads,
        .batch_max = 1,
        .hand_back = true,
        .run = run_step,
        .arg = pool,
    };
    pool->work = wc_work_pool_start(&opts);
    if (pool->work == NULL) {
        free(pool);
        return NULL;
    }
    return pool;
}

int store_pool_submit(store_pool_t *pool, store_op_t *op)
{
    op->work = (wc_work_t){.urgent = op->urgent};
    return wc_work_pool_submit(pool->work, &op->work) == WC_WORK_QUEUED ? 0 : -1;
}

int store_pool_fd(const store_pool_t *pool) { return wc_work_pool_fd(pool->work); }

size_t store_pool_pending(const store_pool_t *pool)
{
    wc_work_pool_stats_t stats;
    wc_work_pool_stats(pool->work, &stats);
    return stats.unfinished;
}

size_t store_pool_dispatch(store_pool_t *pool)
{
    wc_work_t *work = wc_work_pool_take_done(pool->work);
    size_t n = 0;
    while (work != NULL) {
        wc_work_t *next = work->next; /* done may free the op */
        store_op_t *op = WC_WORK_OWNER(work, store_op_t, work);
        op->done(op);
        work = next;
        n++;
    }
    return n;
}

void store_pool_free(store_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    wc_work_pool_free(pool->work);
    free(pool);
}
