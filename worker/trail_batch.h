/*
 * The worker child's group commit of audit trail entries
 * (docs/ARCHITECTURE.md §3.2).
 *
 * A delivery changes its notification's status twice (the claim, the
 * outcome), each with one findAndModify that also sets the document's `last`
 * entry; the entries themselves go to the insert-only trail. Written one
 * delivery at a time they would cost a command each; here every entry
 * waiting while a write is in flight goes into the next one, so the number of
 * trail commands per second stays small however many deliveries there are.
 * A job's message is settled only once its entries are written (or the
 * writes gave up after a bounded time: the document's `last` still shows the
 * outcome), so a worker that dies leaves the message to be redelivered.
 *
 * Everything here runs on the child's loop thread except the write itself,
 * which runs on a store pool thread.
 */
#ifndef WORKER_TRAIL_BATCH_H
#define WORKER_TRAIL_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

#include "store_pool.h"
#include "wc_store.h"

typedef struct trail_batch trail_batch_t;

/* A batch writing through `pool`. NULL when out of memory. */
trail_batch_t *trail_batch_new(store_pool_t *pool);

/* Queues copies of entries[0..n); `done(arg, written)` runs on the loop
 * thread once they are written (`written` true) or the write gave up. Returns
 * 0, or -1 (nothing queued, `done` never runs) when out of memory or the pool
 * is stopping. */
int trail_batch_add(trail_batch_t *batch, const wc_trail_entry_t *entries, size_t n,
                    void (*done)(void *arg, bool written), void *arg);

/* Queues a copy of system event `event` (wc_store_system_events.h) for the
 * next write, before the entries added after it: a job that adds its event
 * and then its entries is settled once both are written. Returns 0, or -1
 * when out of memory or the pool is stopping. */
int trail_batch_add_event(trail_batch_t *batch, const bson_t *event);

/* Entries queued or being written. */
size_t trail_batch_pending(const trail_batch_t *batch);

/* Frees the batch; call after store_pool_free. Waiters not yet called are
 * dropped: their messages go back to the broker with the channel. */
void trail_batch_free(trail_batch_t *batch);

#endif
