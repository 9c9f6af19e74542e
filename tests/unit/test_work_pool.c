/* shared/util/wc_work_pool.c: which works a thread takes together, in what order,
 * what the queue refuses, and what stopping runs. A "gate" work holds the
 * pool's only thread until the test opens it, so the others queue up behind
 * it in a known state; every work records the batch it ran in. */
#include "unit_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>

#include "wc_work_pool.h"

#define MAX_RECORDS 64
#define BATCH_END (-1)

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool gate_open;
    bool gate_reached;
    int record[MAX_RECORDS]; /* ids in the order they ran, BATCH_END after each batch */
    int records;
    int ran;
    int threads_seen_max; /* highest thread number `run` was given */
} recorder_t;

typedef struct {
    wc_work_t work;
    int id;
    bool gate;
} job_t;

static recorder_t rec;

static void reset_recorder(void)
{
    rec = (recorder_t){.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
}

static void run_batch(void *arg, int thread, wc_work_t *batch)
{
    (void)arg;
    pthread_mutex_lock(&rec.lock);
    if (thread > rec.threads_seen_max) {
        rec.threads_seen_max = thread;
    }
    for (wc_work_t *w = batch; w != NULL; w = w->next) {
        job_t *job = WC_WORK_OWNER(w, job_t, work);
        if (job->gate) {
            rec.gate_reached = true;
            pthread_cond_broadcast(&rec.changed);
            while (!rec.gate_open) {
                pthread_cond_wait(&rec.changed, &rec.lock);
            }
        }
        rec.record[rec.records++] = job->id;
        rec.ran++;
    }
    rec.record[rec.records++] = BATCH_END;
    pthread_cond_broadcast(&rec.changed);
    pthread_mutex_unlock(&rec.lock);
}

static job_t job(int id, size_t weight, bool urgent)
{
    return (job_t){.id = id, .work = {.weight = weight, .urgent = urgent}};
}

/* Submits a gate work and waits until the pool's thread holds it. */
static void hold_the_thread(wc_work_pool_t *pool, job_t *gate)
{
    *gate = (job_t){.id = 0, .gate = true};
    assert_int_equal(wc_work_pool_submit(pool, &gate->work), WC_WORK_QUEUED);
    pthread_mutex_lock(&rec.lock);
    while (!rec.gate_reached) {
        pthread_cond_wait(&rec.changed, &rec.lock);
    }
    pthread_mutex_unlock(&rec.lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&rec.lock);
    rec.gate_open = true;
    pthread_cond_broadcast(&rec.changed);
    pthread_mutex_unlock(&rec.lock);
}

static void wait_until_ran(int want)
{
    pthread_mutex_lock(&rec.lock);
    while (rec.ran < want) {
        pthread_cond_wait(&rec.changed, &rec.lock);
    }
    pthread_mutex_unlock(&rec.lock);
}

static void assert_record(const int *expected, int n)
{
    assert_int_equal(rec.records, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(rec.record[i], expected[i]);
    }
}

static wc_work_pool_options_t options(int threads, size_t batch_max, size_t queue_limit,
                                      bool hand_back)
{
    return (wc_work_pool_options_t){.name = "test pool",
                                    .threads = threads,
                                    .batch_max = batch_max,
                                    .queue_limit = queue_limit,
                                    .hand_back = hand_back,
                                    .run = run_batch};
}

/* Clears the recorder and starts a pool with these options; the test frees it. */
static wc_work_pool_t *started_pool(int threads, size_t batch_max, size_t queue_limit,
                                    bool hand_back)
{
    reset_recorder();
    wc_work_pool_options_t opts = options(threads, batch_max, queue_limit, hand_back);
    wc_work_pool_t *pool = wc_work_pool_start(&opts);
    assert_non_null(pool);
    return pool;
}

/* Urgent works go first; a batch is filled up to batch_max of weight in
 * queue order and never split a work; a work heavier than batch_max runs
 * alone. */
static void batches_take_urgent_works_first_up_to_their_weight(void **state)
{
    (void)state;
    wc_work_pool_t *pool = started_pool(1, 4, 0, false);
    assert_int_equal(wc_work_pool_fd(pool), -1);

    job_t gate;
    hold_the_thread(pool, &gate);
    job_t jobs[] = {job(1, 1, false), job(2, 2, false), job(3, 3, false), job(4, 1, true),
                    job(5, 5, false), job(6, 0, true)};
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        assert_int_equal(wc_work_pool_submit(pool, &jobs[i].work), WC_WORK_QUEUED);
    }
    wc_work_pool_stats_t stats;
    wc_work_pool_stats(pool, &stats);
    assert_int_equal(stats.waiting, 1 + 2 + 3 + 1 + 5 + 1); /* weight 0 counts as 1 */
    assert_int_equal(stats.unfinished, stats.waiting + 1);  /* and the gate, running */

    open_gate();
    wait_until_ran(7);
    /* Queue: 4 and 6 (urgent, in submission order), then 1, 2, 3, 5. The
     * first batch stops before 2, which would make it weigh 5. */
    const int expected[] = {0, BATCH_END, 4, 6, 1, BATCH_END, 2, BATCH_END,
                            3, BATCH_END, 5, BATCH_END};
    wc_work_pool_stop(pool);
    assert_record(expected, (int)(sizeof(expected) / sizeof(expected[0])));
    wc_work_pool_stats(pool, &stats);
    assert_int_equal(stats.batches, 5);
    assert_int_equal(stats.taken, 1 + 13);
    assert_int_equal(stats.waiting, 0);
    assert_int_equal(stats.unfinished, 0);
    wc_work_pool_free(pool);
}

/* The queue limit counts waiting weight; a work always gets in when nothing
 * waits, however heavy. */
static void a_full_queue_refuses_but_an_empty_one_takes_anything(void **state)
{
    (void)state;
    wc_work_pool_t *pool = started_pool(1, 1, 3, false);

    job_t gate;
    hold_the_thread(pool, &gate);
    job_t heavy = job(1, 5, false);
    job_t light = job(2, 1, false);
    assert_int_equal(wc_work_pool_submit(pool, &heavy.work), WC_WORK_QUEUED);
    assert_int_equal(wc_work_pool_submit(pool, &light.work), WC_WORK_FULL);
    wc_work_pool_stats_t stats;
    wc_work_pool_stats(pool, &stats);
    assert_int_equal(stats.refused, 1);
    assert_int_equal(stats.waiting, 5);

    open_gate();
    wait_until_ran(2);
    assert_int_equal(wc_work_pool_submit(pool, &light.work), WC_WORK_QUEUED);
    wait_until_ran(3);
    wc_work_pool_free(pool);
    const int expected[] = {0, BATCH_END, 1, BATCH_END, 2, BATCH_END};
    assert_record(expected, 6);
}

/* Stopping runs every work already queued, then refuses new ones. */
static void stop_runs_what_is_queued_then_refuses(void **state)
{
    (void)state;
    wc_work_pool_t *pool = started_pool(1, 1, 0, false);

    job_t gate;
    hold_the_thread(pool, &gate);
    job_t jobs[] = {job(1, 1, false), job(2, 1, false), job(3, 1, false)};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(wc_work_pool_submit(pool, &jobs[i].work), WC_WORK_QUEUED);
    }
    open_gate();
    wc_work_pool_stop(pool);
    assert_int_equal(rec.ran, 4);
    job_t late = job(4, 1, false);
    assert_int_equal(wc_work_pool_submit(pool, &late.work), WC_WORK_STOPPING);
    wc_work_pool_stop(pool); /* a second stop does nothing */
    wc_work_pool_stats_t stats;
    wc_work_pool_stats(pool, &stats);
    assert_int_equal(stats.refused, 1);
    wc_work_pool_free(pool);
}

/* A pool that hands back: finished works come back through the descriptor,
 * every one exactly once, from every thread. */
static void finished_works_come_back_through_the_descriptor(void **state)
{
    (void)state;
    enum { THREADS = 3, JOBS = 40 };
    wc_work_pool_t *pool = started_pool(THREADS, 2, 0, true);
    assert_true(wc_work_pool_fd(pool) >= 0);
    assert_null(wc_work_pool_take_done(pool));

    job_t jobs[JOBS];
    bool back[JOBS] = {false};
    for (int i = 0; i < JOBS; i++) {
        jobs[i] = job(i + 1, 1, i % 3 == 0);
        assert_int_equal(wc_work_pool_submit(pool, &jobs[i].work), WC_WORK_QUEUED);
    }
    int returned = 0;
    for (int turns = 0; returned < JOBS && turns < 1000; turns++) {
        struct pollfd pfd = {.fd = wc_work_pool_fd(pool), .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        for (wc_work_t *w = wc_work_pool_take_done(pool); w != NULL; w = w->next) {
            job_t *j = WC_WORK_OWNER(w, job_t, work);
            assert_false(back[j->id - 1]);
            back[j->id - 1] = true;
            returned++;
        }
    }
    assert_int_equal(returned, JOBS);
    wc_work_pool_stats_t stats;
    wc_work_pool_stats(pool, &stats);
    assert_int_equal(stats.taken, JOBS);
    assert_int_equal(stats.unfinished, 0);
    assert_true(rec.threads_seen_max < THREADS);
    wc_work_pool_free(pool);
}

static void invalid_options_start_nothing(void **state)
{
    (void)state;
    wc_work_pool_options_t opts = options(0, 1, 0, false);
    assert_null(wc_work_pool_start(&opts));
    opts = options(1, 0, 0, false);
    assert_null(wc_work_pool_start(&opts));
    opts = options(1, 1, 0, false);
    opts.run = NULL;
    assert_null(wc_work_pool_start(&opts));
}

UNIT_TEST_MAIN(cmocka_unit_test(batches_take_urgent_works_first_up_to_their_weight),
               cmocka_unit_test(a_full_queue_refuses_but_an_empty_one_takes_anything),
               cmocka_unit_test(stop_runs_what_is_queued_then_refuses),
               cmocka_unit_test(finished_works_come_back_through_the_descriptor),
               cmocka_unit_test(invalid_options_start_nothing))
