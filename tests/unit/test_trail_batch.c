/* worker/trail_batch.c: the worker's group commit of audit trail entries.
 * No database is needed: this file's wc_store_trail_append and
 * wc_store_system_events_add stand in for the store's (the linker takes them
 * before the library's), recording each write. */
#include "unit_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "trail_batch.h"
#include "wc_store_system_events.h"
#include "wc_store_trail.h"

#define MAX_WRITES 8

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool hold_first;    /* the first write waits until released */
    bool first_started;
    bool released;
    int writes;
    size_t sizes[MAX_WRITES];
    int32_t first_seq[MAX_WRITES];
    int event_writes;
    size_t events_written;
    int writes_before_events; /* trail writes done when the events were written */
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

wc_store_status_t wc_store_trail_append(wc_store_t *store, const wc_trail_entry_t *entries,
                                        size_t n)
{
    (void)store;
    pthread_mutex_lock(&fake.lock);
    if (fake.writes == 0 && fake.hold_first) {
        fake.first_started = true;
        pthread_cond_broadcast(&fake.changed);
        while (!fake.released) {
            pthread_cond_wait(&fake.changed, &fake.lock);
        }
    }
    if (fake.writes < MAX_WRITES) {
        fake.sizes[fake.writes] = n;
        fake.first_seq[fake.writes] = n > 0 ? entries[0].seq : -1;
    }
    fake.writes++;
    pthread_mutex_unlock(&fake.lock);
    return WC_STORE_OK;
}

wc_store_status_t wc_store_system_events_add(wc_store_t *store, const bson_t *const *events,
                                             size_t n)
{
    (void)store;
    pthread_mutex_lock(&fake.lock);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(events[i]);
    }
    fake.event_writes++;
    fake.events_written += n;
    fake.writes_before_events = fake.writes;
    pthread_mutex_unlock(&fake.lock);
    return WC_STORE_OK;
}

typedef struct {
    int settled;
    bool written;
} waiter_t;

static void settled(void *arg, bool written)
{
    waiter_t *w = arg;
    w->settled++;
    w->written = written;
}

static wc_trail_entry_t entry(int32_t seq)
{
    wc_trail_entry_t e;
    memset(&e, 0, sizeof(e));
    e.seq = seq;
    return e;
}

/* Runs the loop's side until `n` waiters have settled. */
static void dispatch_until(store_pool_t *pool, waiter_t *w, size_t n)
{
    for (int turns = 0; turns < 500; turns++) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++) {
            done += w[i].settled;
        }
        if (done == n) {
            return;
        }
        struct pollfd pfd = {.fd = store_pool_fd(pool), .events = POLLIN};
        (void)poll(&pfd, 1, 10);
        store_pool_dispatch(pool);
    }
    fail_msg("the waiters did not settle");
}

static void entries_waiting_during_a_write_go_in_the_next_one(void **state)
{
    (void)state;
    fake.hold_first = true;
    store_pool_t *pool = store_pool_start(NULL, 2);
    trail_batch_t *batch = trail_batch_new(pool);
    assert_non_null(batch);

    waiter_t w[4] = {{0}};
    const wc_trail_entry_t first[2] = {entry(3), entry(4)};
    assert_int_equal(trail_batch_add(batch, first, 2, settled, &w[0]), 0);
    pthread_mutex_lock(&fake.lock);
    while (!fake.first_started) {
        pthread_cond_wait(&fake.changed, &fake.lock);
    }
    pthread_mutex_unlock(&fake.lock);

    /* While the first write runs, three jobs' entries gather. */
    const wc_trail_entry_t more[3] = {entry(5), entry(6), entry(7)};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(trail_batch_add(batch, &more[i], 1, settled, &w[1 + i]), 0);
    }
    assert_int_equal(trail_batch_pending(batch), 5);
    assert_int_equal(w[1].settled + w[2].settled + w[3].settled, 0);

    pthread_mutex_lock(&fake.lock);
    fake.released = true;
    pthread_cond_broadcast(&fake.changed);
    pthread_mutex_unlock(&fake.lock);
    dispatch_until(pool, w, 4);

    /* Two writes in all: the first job's, then the three gathered ones'. */
    assert_int_equal(fake.writes, 2);
    assert_int_equal(fake.sizes[0], 2);
    assert_int_equal(fake.first_seq[0], 3);
    assert_int_equal(fake.sizes[1], 3);
    assert_int_equal(fake.first_seq[1], 5);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w[i].settled, 1);
        assert_true(w[i].written);
    }
    assert_int_equal(trail_batch_pending(batch), 0);
    store_pool_free(pool);
    trail_batch_free(batch);
}

/* A job's system event goes in the write that carries its entries, so the
 * job is settled only once both are written. */
static void an_event_is_written_with_the_entries_after_it(void **state)
{
    (void)state;
    fake.hold_first = false;
    fake.writes = 0;
    store_pool_t *pool = store_pool_start(NULL, 1);
    trail_batch_t *batch = trail_batch_new(pool);
    assert_non_null(batch);
    bson_t *event = BCON_NEW("_id", BCON_UTF8("t:notification.sent.x.1"), "tenantId",
                             BCON_UTF8("t"), "type", BCON_UTF8("notification.sent"));
    assert_int_equal(trail_batch_add_event(batch, event), 0);
    bson_destroy(event); /* the batch keeps its own copy */
    assert_int_equal(fake.event_writes, 0);
    waiter_t w = {0};
    const wc_trail_entry_t outcome = entry(9);
    assert_int_equal(trail_batch_add(batch, &outcome, 1, settled, &w), 0);
    dispatch_until(pool, &w, 1);
    assert_true(w.written);
    assert_int_equal(fake.event_writes, 1);
    assert_int_equal(fake.events_written, 1);
    assert_int_equal(fake.writes_before_events, 1); /* the entries first, in the same write */
    store_pool_free(pool);
    trail_batch_free(batch);
}

UNIT_TEST_MAIN(cmocka_unit_test(entries_waiting_during_a_write_go_in_the_next_one),
               cmocka_unit_test(an_event_is_written_with_the_entries_after_it))
