/* worker/store_pool.c: steps run off the loop thread, urgent ones first. No
 * database is needed: the steps here only record the order they ran in. */
#include "unit_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>

#include "store_pool.h"

#define MAX_STEPS 16

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool gate_open;   /* the blocking step waits for this */
    bool gate_reached;
    int order[MAX_STEPS];
    int ran;
    int dispatched;
} recorder_t;

typedef struct {
    store_op_t op;
    recorder_t *rec;
    int id;
    bool blocks; /* holds the pool's only thread until the gate opens */
} step_t;

static void run_step(store_op_t *op, wc_store_t *store)
{
    (void)store;
    step_t *step = op->arg;
    recorder_t *rec = step->rec;
    pthread_mutex_lock(&rec->lock);
    if (step->blocks) {
        rec->gate_reached = true;
        pthread_cond_broadcast(&rec->changed);
        while (!rec->gate_open) {
            pthread_cond_wait(&rec->changed, &rec->lock);
        }
    }
    rec->order[rec->ran++] = step->id;
    pthread_mutex_unlock(&rec->lock);
}

static void step_done(store_op_t *op)
{
    step_t *step = op->arg;
    step->rec->dispatched++;
}

static void init_step(step_t *step, recorder_t *rec, int id, bool urgent, bool blocks)
{
    *step = (step_t){.rec = rec, .id = id, .blocks = blocks};
    step->op = (store_op_t){.run = run_step, .done = step_done, .arg = step, .urgent = urgent};
}

/* Dispatches until `want` steps have had their `done` run, waiting on the
 * pool's descriptor as the worker's loop does. */
static void dispatch_all(store_pool_t *pool, recorder_t *rec, int want)
{
    for (int turns = 0; rec->dispatched < want && turns < 500; turns++) {
        struct pollfd pfd = {.fd = store_pool_fd(pool), .events = POLLIN};
        (void)poll(&pfd, 1, 10);
        store_pool_dispatch(pool);
    }
    assert_int_equal(rec->dispatched, want);
}

static void urgent_steps_overtake_waiting_ones(void **state)
{
    (void)state;
    recorder_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    store_pool_t *pool = store_pool_start(NULL, 1);
    assert_non_null(pool);

    /* Step 0 holds the only thread, so the others queue up behind it: two
     * ordinary steps, then two urgent ones, then another ordinary one. */
    step_t steps[6];
    init_step(&steps[0], &rec, 0, false, true);
    assert_int_equal(store_pool_submit(pool, &steps[0].op), 0);
    pthread_mutex_lock(&rec.lock);
    while (!rec.gate_reached) {
        pthread_cond_wait(&rec.changed, &rec.lock);
    }
    pthread_mutex_unlock(&rec.lock);
    init_step(&steps[1], &rec, 1, false, false);
    init_step(&steps[2], &rec, 2, false, false);
    init_step(&steps[3], &rec, 3, true, false);
    init_step(&steps[4], &rec, 4, true, false);
    init_step(&steps[5], &rec, 5, false, false);
    for (int i = 1; i < 6; i++) {
        assert_int_equal(store_pool_submit(pool, &steps[i].op), 0);
    }
    assert_int_equal(store_pool_pending(pool), 6);

    pthread_mutex_lock(&rec.lock);
    rec.gate_open = true;
    pthread_cond_broadcast(&rec.changed);
    pthread_mutex_unlock(&rec.lock);
    dispatch_all(pool, &rec, 6);

    /* The urgent ones first, each kind in submission order. */
    const int expected[6] = {0, 3, 4, 1, 2, 5};
    assert_int_equal(rec.ran, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rec.order[i], expected[i]);
    }
    assert_int_equal(store_pool_pending(pool), 0);
    store_pool_free(pool);
}

static void every_step_runs_when_only_one_kind_is_queued(void **state)
{
    (void)state;
    recorder_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    store_pool_t *pool = store_pool_start(NULL, 3);
    assert_non_null(pool);
    step_t steps[MAX_STEPS];
    for (int i = 0; i < MAX_STEPS; i++) {
        init_step(&steps[i], &rec, i, i % 2 == 0, false);
        assert_int_equal(store_pool_submit(pool, &steps[i].op), 0);
    }
    dispatch_all(pool, &rec, MAX_STEPS);
    assert_int_equal(rec.ran, MAX_STEPS);
    store_pool_free(pool);
}

UNIT_TEST_MAIN(cmocka_unit_test(urgent_steps_overtake_waiting_ones),
               cmocka_unit_test(every_step_runs_when_only_one_kind_is_queued))
