#include "trail_batch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wc_log.h"
#include "wc_store_system_events.h"
#include "wc_store_trail.h"

/* How long a trail write is retried while the database is away, in attempts
 * one second apart; the same bound as an outcome write's. */
#define WRITE_ATTEMPTS 30
/* Entries per write command; more wait for the next one. */
#define WRITE_MAX 1000

typedef struct {
    void (*done)(void *arg, bool written);
    void *arg;
} waiter_t;

/* Entries and the waiters they answer; grown as needed. */
typedef struct {
    wc_trail_entry_t *entries;
    size_t n, cap;
    waiter_t *waiters;
    size_t n_waiters, cap_waiters;
    bson_t **events; /* system events, owned */
    size_t n_events, cap_events;
} queue_t;

struct trail_batch {
    store_pool_t *pool;
    queue_t waiting; /* gathered while a write is in flight */
    queue_t writing; /* the write in flight */
    bool in_flight;
    bool written;
    store_op_t op;
};

static bool grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return true;
    }
    size_t next = *cap > 0 ? *cap * 2 : 64;
    while (next < need) {
        next *= 2;
    }
    void *bigger = realloc(*items, next * size);
    if (bigger == NULL) {
        return false;
    }
    *items = bigger;
    *cap = next;
    return true;
}

static void sleep_second(void)
{
    struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
    nanosleep(&ts, NULL);
}

static void run_write(store_op_t *op, wc_store_t *store)
{
    trail_batch_t *b = op->arg;
    b->written = false;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS && !b->written; attempt++) {
        if (attempt > 0) {
            sleep_second();
        }
        b->written = true;
        for (size_t i = 0; i < b->writing.n && b->written; i += WRITE_MAX) {
            size_t m = b->writing.n - i < WRITE_MAX ? b->writing.n - i : WRITE_MAX;
            b->written = wc_store_trail_append(store, b->writing.entries + i, m) == WC_STORE_OK;
        }
        if (b->written && b->writing.n_events > 0) {
            b->written = wc_store_system_events_add(store, (const bson_t *const *)b->writing.events,
                                                    b->writing.n_events) == WC_STORE_OK;
        }
    }
}

static void drop_events(queue_t *q)
{
    for (size_t i = 0; i < q->n_events; i++) {
        bson_destroy(q->events[i]);
    }
    q->n_events = 0;
}

static void start_write(trail_batch_t *b);

static void write_done(store_op_t *op)
{
    trail_batch_t *b = op->arg;
    if (!b->written) {
        wc_log_error("%zu audit trail entries and %zu system events could not be written; their "
                     "notifications' documents still show their latest status",
                     b->writing.n, b->writing.n_events);
    }
    drop_events(&b->writing);
    /* Waiters may queue more (a job's settle can start another), so the
     * queue is swapped out before they run. */
    b->in_flight = false;
    for (size_t i = 0; i < b->writing.n_waiters; i++) {
        b->writing.waiters[i].done(b->writing.waiters[i].arg, b->written);
    }
    b->writing.n = 0;
    b->writing.n_waiters = 0;
    if (!b->in_flight && b->waiting.n > 0) {
        start_write(b);
    }
}

static void start_write(trail_batch_t *b)
{
    queue_t swap = b->writing;
    b->writing = b->waiting;
    b->waiting = swap;
    b->in_flight = true;
    b->op = (store_op_t){.run = run_write, .done = write_done, .arg = b, .urgent = true};
    if (store_pool_submit(b->pool, &b->op) != 0) {
        /* Stopping: the waiters' messages go back with the channel. */
        b->in_flight = false;
    }
}

trail_batch_t *trail_batch_new(store_pool_t *pool)
{
    trail_batch_t *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->pool = pool;
    }
    return b;
}

int trail_batch_add_event(trail_batch_t *b, const bson_t *event)
{
    queue_t *q = &b->waiting;
    if (!grow((void **)&q->events, &q->cap_events, q->n_events + 1, sizeof(*q->events))) {
        return -1;
    }
    bson_t *copy = bson_copy(event);
    if (copy == NULL) {
        return -1;
    }
    q->events[q->n_events++] = copy;
    return 0;
}

int trail_batch_add(trail_batch_t *b, const wc_trail_entry_t *entries, size_t n,
                    void (*done)(void *arg, bool written), void *arg)
{
    queue_t *q = &b->waiting;
    if (!grow((void **)&q->entries, &q->cap, q->n + n, sizeof(*q->entries)) ||
        !grow((void **)&q->waiters, &q->cap_waiters, q->n_waiters + 1, sizeof(*q->waiters))) {
        return -1;
    }
    memcpy(q->entries + q->n, entries, n * sizeof(*entries));
    q->n += n;
    q->waiters[q->n_waiters++] = (waiter_t){.done = done, .arg = arg};
    if (!b->in_flight) {
        start_write(b);
    }
    return 0;
}

size_t trail_batch_pending(const trail_batch_t *b)
{
    return b->waiting.n + b->writing.n;
}

void trail_batch_free(trail_batch_t *b)
{
    if (b == NULL) {
        return;
    }
    drop_events(&b->waiting);
    drop_events(&b->writing);
    free(b->waiting.entries);
    free(b->waiting.waiters);
    free(b->waiting.events);
    free(b->writing.entries);
    free(b->writing.waiters);
    free(b->writing.events);
    free(b);
}
