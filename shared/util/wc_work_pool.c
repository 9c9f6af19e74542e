#include "wc_work_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "wc_log.h"

struct wc_work_pool {
    wc_work_pool_options_t opts;

    pthread_mutex_t lock;
    pthread_cond_t work_waits; /* signalled when a work is queued, or on stop */
    /* One queue: the urgent works first, `last_urgent` the newest of them. */
    wc_work_t *head, *tail, *last_urgent;
    wc_work_t *done_head, *done_tail; /* finished, waiting for the loop */
    wc_work_pool_stats_t stats;
    bool stopping;

    int event_fd; /* readable while done_head is (or was) non-empty */
    struct thread_slot *slots; /* one per thread */
    int started;
    bool joined;
};

/* A pool thread and what it is started with: its pool and its number. */
typedef struct thread_slot {
    wc_work_pool_t *pool;
    int index;
    pthread_t thread;
} thread_slot_t;

/* Locking or signalling a valid mutex or condition fails only when memory is
 * corrupt, after which nothing here can be trusted: stop loudly rather than
 * carry on unsynchronised. */
static void must(int rc, const char *call)
{
    if (rc != 0) {
        wc_log_error("work pool: %s: %s", call, strerror(rc));
        abort();
    }
}

static size_t weight_of(const wc_work_t *work) { return work->weight > 0 ? work->weight : 1; }

/* Under the lock. */
static void enqueue(wc_work_pool_t *pool, wc_work_t *work)
{
    wc_work_t **link = &pool->head;
    if (work->urgent) {
        /* After the urgent works already waiting, before everything else. */
        if (pool->last_urgent != NULL) {
            link = &pool->last_urgent->next;
        }
        pool->last_urgent = work;
    } else if (pool->tail != NULL) {
        link = &pool->tail->next;
    }
    work->next = *link;
    *link = work;
    if (work->next == NULL) {
        pool->tail = work;
    }
}

/* The next batch: the works at the head of the queue up to batch_max of
 * weight, always at least one. Stores its weight in `*weight`. Under the
 * lock, with the queue not empty. */
static wc_work_t *take_batch(wc_work_pool_t *pool, size_t *weight)
{
    wc_work_t *first = pool->head;
    wc_work_t *last = first;
    size_t sum = weight_of(first);
    while (last->next != NULL && sum + weight_of(last->next) <= pool->opts.batch_max) {
        last = last->next;
        sum += weight_of(last);
    }
    pool->head = last->next;
    if (pool->head == NULL) {
        pool->tail = NULL;
    }
    /* The urgent works are a prefix of the queue: none is left when the new
     * head is not one. */
    if (pool->head == NULL || !pool->head->urgent) {
        pool->last_urgent = NULL;
    }
    last->next = NULL;
    pool->stats.waiting -= sum;
    pool->stats.batches++;
    pool->stats.taken += sum;
    *weight = sum;
    return first;
}

/* Counts a batch of `weight` as finished and, when the pool hands back, puts
 * it on the done list and wakes the loop's poll. Without hand_back `run` may
 * have freed the batch already: it is not touched then. */
static void finish_batch(wc_work_pool_t *pool, wc_work_t *batch, size_t weight)
{
    wc_work_t *last = NULL;
    if (pool->opts.hand_back) {
        last = batch;
        while (last->next != NULL) {
            last = last->next;
        }
    }
    must(pthread_mutex_lock(&pool->lock), "lock");
    if (last != NULL) {
        if (pool->done_tail != NULL) {
            pool->done_tail->next = batch;
        } else {
            pool->done_head = batch;
        }
        pool->done_tail = last;
    }
    pool->stats.unfinished -= weight;
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    if (last == NULL) {
        return;
    }
    const uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the descriptor is readable
     * already. No EINTR: pool threads block the signals. */
    if (write(pool->event_fd, &one, sizeof(one)) != (ssize_t)sizeof(one) && errno != EAGAIN) {
        wc_log_error("%s: write to eventfd: %s", pool->opts.name, strerror(errno));
    }
}

static void *thread_main(void *arg)
{
    thread_slot_t *slot = arg;
    wc_work_pool_t *pool = slot->pool;
    for (;;) {
        must(pthread_mutex_lock(&pool->lock), "lock");
        while (pool->head == NULL && !pool->stopping) {
            must(pthread_cond_wait(&pool->work_waits, &pool->lock), "wait");
        }
        if (pool->head == NULL) { /* stopping, and nothing left */
            must(pthread_mutex_unlock(&pool->lock), "unlock");
            break;
        }
        size_t weight;
        wc_work_t *batch = take_batch(pool, &weight);
        must(pthread_mutex_unlock(&pool->lock), "unlock");

        pool->opts.run(pool->opts.arg, slot->index, batch);
        finish_batch(pool, batch, weight);
    }
    return NULL;
}

/* Starts the threads with the asynchronous signals blocked; the faults stay
 * deliverable. Returns 0, or -1 after logging why (the threads started are
 * counted in pool->started). */
static int start_threads(wc_work_pool_t *pool)
{
    sigset_t all, old;
    sigfillset(&all);
    const int faults[] = {SIGILL, SIGFPE, SIGSEGV, SIGBUS};
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        sigdelset(&all, faults[i]);
    }
    int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (rc != 0) {
        wc_log_error("%s: pthread_sigmask: %s", pool->opts.name, strerror(rc));
        return -1;
    }
    for (int i = 0; i < pool->opts.threads; i++) {
        thread_slot_t *slot = &pool->slots[i];
        *slot = (thread_slot_t){.pool = pool, .index = i};
        rc = pthread_create(&slot->thread, NULL, thread_main, slot);
        if (rc != 0) {
            wc_log_error("%s: cannot start thread %d: %s", pool->opts.name, i, strerror(rc));
            break;
        }
        pool->started++;
    }
    int restored = pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (restored != 0) {
        wc_log_error("%s: pthread_sigmask: %s", pool->opts.name, strerror(restored));
    }
    return rc == 0 && restored == 0 ? 0 : -1;
}

wc_work_pool_t *wc_work_pool_start(const wc_work_pool_options_t *opts)
{
    const char *name = opts->name != NULL ? opts->name : "work pool";
    if (opts->threads < 1 || opts->batch_max < 1 || opts->run == NULL) {
        wc_log_error("%s: invalid options (threads %d, batch %zu)", name, opts->threads,
                     opts->batch_max);
        return NULL;
    }
    wc_work_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL || (pool->slots = calloc((size_t)opts->threads, sizeof(*pool->slots))) == NULL) {
        wc_log_error("%s: out of memory", name);
        free(pool);
        return NULL;
    }
    pool->opts = *opts;
    pool->opts.name = name;
    pool->event_fd = -1;
    int rc = pthread_mutex_init(&pool->lock, NULL);
    if (rc != 0) {
        wc_log_error("%s: pthread_mutex_init: %s", name, strerror(rc));
        goto fail_lock;
    }
    rc = pthread_cond_init(&pool->work_waits, NULL);
    if (rc != 0) {
        wc_log_error("%s: pthread_cond_init: %s", name, strerror(rc));
        goto fail_cond;
    }
    if (opts->hand_back) {
        pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (pool->event_fd < 0) {
            wc_log_error("%s: eventfd: %s", name, strerror(errno));
            goto fail_fd;
        }
    }
    if (start_threads(pool) != 0) {
        wc_work_pool_free(pool);
        return NULL;
    }
    return pool;

fail_fd:
    must(pthread_cond_destroy(&pool->work_waits), "cond destroy");
fail_cond:
    must(pthread_mutex_destroy(&pool->lock), "mutex destroy");
fail_lock:
    free(pool->slots);
    free(pool);
    return NULL;
}

wc_work_submit_t wc_work_pool_submit(wc_work_pool_t *pool, wc_work_t *work)
{
    size_t weight = weight_of(work);
    must(pthread_mutex_lock(&pool->lock), "lock");
    wc_work_submit_t result = WC_WORK_QUEUED;
    if (pool->stopping) {
        result = WC_WORK_STOPPING;
    } else if (pool->opts.queue_limit > 0 && pool->stats.waiting > 0 &&
               pool->stats.waiting + weight > pool->opts.queue_limit) {
        result = WC_WORK_FULL;
    }
    if (result == WC_WORK_QUEUED) {
        enqueue(pool, work);
        pool->stats.waiting += weight;
        pool->stats.unfinished += weight;
        must(pthread_cond_signal(&pool->work_waits), "signal");
    } else {
        pool->stats.refused++;
    }
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    return result;
}

int wc_work_pool_fd(const wc_work_pool_t *pool) { return pool->event_fd; }

wc_work_t *wc_work_pool_take_done(wc_work_pool_t *pool)
{
    if (pool->event_fd < 0) {
        return NULL;
    }
    /* Reset the descriptor before taking the list: a batch finished in
     * between then leaves it readable, and the next poll comes back here. */
    uint64_t count;
    if (read(pool->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN && errno != EINTR) {
        wc_log_error("%s: read from eventfd: %s", pool->opts.name, strerror(errno));
    }
    must(pthread_mutex_lock(&pool->lock), "lock");
    wc_work_t *done = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    return done;
}

void wc_work_pool_stats(wc_work_pool_t *pool, wc_work_pool_stats_t *out)
{
    must(pthread_mutex_lock(&pool->lock), "lock");
    *out = pool->stats;
    must(pthread_mutex_unlock(&pool->lock), "unlock");
}

void wc_work_pool_stop(wc_work_pool_t *pool)
{
    if (pool == NULL || pool->joined) {
        return;
    }
    must(pthread_mutex_lock(&pool->lock), "lock");
    pool->stopping = true;
    must(pthread_cond_broadcast(&pool->work_waits), "broadcast");
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    for (int i = 0; i < pool->started; i++) {
        int rc = pthread_join(pool->slots[i].thread, NULL);
        if (rc != 0) {
            wc_log_error("%s: pthread_join: %s", pool->opts.name, strerror(rc));
        }
    }
    pool->joined = true;
}

void wc_work_pool_free(wc_work_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    wc_work_pool_stop(pool);
    if (pool->event_fd >= 0 && close(pool->event_fd) != 0) {
        wc_log_error("%s: close eventfd: %s", pool->opts.name, strerror(errno));
    }
    must(pthread_cond_destroy(&pool->work_waits), "cond destroy");
    must(pthread_mutex_destroy(&pool->lock), "mutex destroy");
    free(pool->slots);
    free(pool);
}
