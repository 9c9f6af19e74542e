/* api/periodic.c: the run is called again at once while it asks for no
 * wait, a stop ends the wait it asked for instead of sitting it out, and a
 * run in progress sees the stop. The runs hand their count to the test
 * through a condition variable, so nothing here depends on timing. */
#include "unit_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#include "periodic.h"

/* A wait no test run would sit out: only a stop can end it. */
#define FOREVER_MS (3600 * 1000LL)

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int runs;
    int quick_runs; /* runs that ask for no wait before the next */
    bool saw_stop;  /* a run found api_periodic_stopping true */
    bool block;     /* the next run waits for the stop inside itself */
} counter_t;

static int64_t count_run(api_periodic_t *self, void *arg)
{
    counter_t *c = arg;
    pthread_mutex_lock(&c->lock);
    c->runs++;
    bool quick = c->runs <= c->quick_runs;
    bool block = c->block && !quick;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (block) {
        while (!api_periodic_stopping(self)) {
            sched_yield();
        }
        pthread_mutex_lock(&c->lock);
        c->saw_stop = true;
        pthread_mutex_unlock(&c->lock);
    }
    return quick ? 0 : FOREVER_MS;
}

static void wait_for_runs(counter_t *c, int runs)
{
    pthread_mutex_lock(&c->lock);
    while (c->runs < runs) {
        pthread_cond_wait(&c->changed, &c->lock);
    }
    pthread_mutex_unlock(&c->lock);
}

static void test_runs_again_then_stop_ends_the_wait(void **state)
{
    (void)state;
    counter_t c = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER,
                   .quick_runs = 3};
    api_periodic_t *p = api_periodic_start("test", count_run, &c);
    assert_non_null(p);
    /* Three runs asked for no wait, the fourth for an hour. */
    wait_for_runs(&c, 4);
    api_periodic_stop(p);
    assert_int_equal(c.runs, 4);
    api_periodic_stop(NULL); /* allowed, and does nothing */
}

static void test_a_run_in_progress_sees_the_stop(void **state)
{
    (void)state;
    counter_t c = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER,
                   .block = true};
    api_periodic_t *p = api_periodic_start("test", count_run, &c);
    assert_non_null(p);
    wait_for_runs(&c, 1);
    api_periodic_stop(p);
    assert_true(c.saw_stop);
    assert_int_equal(c.runs, 1);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_runs_again_then_stop_ends_the_wait),
               cmocka_unit_test(test_a_run_in_progress_sees_the_stop))
