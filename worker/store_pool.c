#include "store_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "wc_log.h"

struct store_pool {
    wc_store_t *store;
    pthread_mutex_t lock;
    pthread_cond_t work;
    store_op_t *urgent_head, *urgent_tail; /* urgent steps waiting for a thread */
    store_op_t *queue_head, *queue_tail;   /* the other steps waiting for a thread */
    store_op_t *done_head, *done_tail;     /* waiting for the loop */
    size_t pending;                        /* queued or running; under lock */
    bool stopping;
    int event_fd;
    int thread_count;
    pthread_t *threads;
};

/* The next step for a thread, urgent ones first; NULL when none waits. Under
 * the lock. */
static store_op_t *take_next(store_pool_t *pool)
{
    store_op_t **head = pool->urgent_head != NULL ? &pool->urgent_head : &pool->queue_head;
    store_op_t **tail = pool->urgent_head != NULL ? &pool->urgent_tail : &pool->queue_tail;
    store_op_t *op = *head;
    if (op != NULL) {
        *head = op->next;
        if (*head == NULL) {
            *tail = NULL;
        }
    }
    return op;
}

/* A failing mutex or condition call means memory is corrupt: stop there. */
static void must(int rc, const char *call)
{
    if (rc != 0) {
        wc_log_error("store pool: %s: %s", call, strerror(rc));
        abort();
    }
}

static void append(store_op_t **head, store_op_t **tail, store_op_t *op)
{
    op->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = op;
    } else {
        *head = op;
    }
    *tail = op;
}

static void *thread_main(void *arg)
{
    store_pool_t *pool = arg;
    for (;;) {
        must(pthread_mutex_lock(&pool->lock), "lock");
        while (pool->urgent_head == NULL && pool->queue_head == NULL && !pool->stopping) {
            must(pthread_cond_wait(&pool->work, &pool->lock), "wait");
        }
        store_op_t *op = take_next(pool);
        if (op == NULL) { /* stopping, and nothing left */
            must(pthread_mutex_unlock(&pool->lock), "unlock");
            return NULL;
        }
        must(pthread_mutex_unlock(&pool->lock), "unlock");

        op->run(op, pool->store);

        must(pthread_mutex_lock(&pool->lock), "lock");
        append(&pool->done_head, &pool->done_tail, op);
        pool->pending--;
        must(pthread_mutex_unlock(&pool->lock), "unlock");
        uint64_t one = 1;
        if (write(pool->event_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
            /* The counter cannot overflow at our rates; the loop also
             * dispatches after every wait, so nothing is stranded. */
            wc_log_error("store pool: write to eventfd: %s", strerror(errno));
        }
    }
}

static void stop_threads(store_pool_t *pool, int started)
{
    must(pthread_mutex_lock(&pool->lock), "lock");
    pool->stopping = true;
    must(pthread_cond_broadcast(&pool->work), "broadcast");
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    for (int i = 0; i < started; i++) {
        int rc = pthread_join(pool->threads[i], NULL);
        if (rc != 0) {
            wc_log_error("store pool: join: %s", strerror(rc));
        }
    }
}

store_pool_t *store_pool_start(wc_store_t *store, int threads)
{
    store_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL || threads < 1 ||
        (pool->threads = calloc((size_t)threads, sizeof(pthread_t))) == NULL) {
        wc_log_error("store pool: out of memory");
        free(pool);
        return NULL;
    }
    pool->store = store;
    pool->event_fd = -1;
    must(pthread_mutex_init(&pool->lock, NULL), "mutex init");
    must(pthread_cond_init(&pool->work, NULL), "cond init");
    pool->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->event_fd < 0) {
        wc_log_error("store pool: eventfd: %s", strerror(errno));
        store_pool_free(pool);
        return NULL;
    }
    /* Signals belong to the loop thread: a drain request must reach it. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int started = 0;
    for (; started < threads; started++) {
        int rc = pthread_create(&pool->threads[started], NULL, thread_main, pool);
        if (rc != 0) {
            wc_log_error("store pool: cannot start a thread: %s", strerror(rc));
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (started < threads) {
        stop_threads(pool, started);
        store_pool_free(pool);
        return NULL;
    }
    pool->thread_count = threads;
    return pool;
}

int store_pool_submit(store_pool_t *pool, store_op_t *op)
{
    must(pthread_mutex_lock(&pool->lock), "lock");
    bool accepted = !pool->stopping;
    if (accepted) {
        if (op->urgent) {
            append(&pool->urgent_head, &pool->urgent_tail, op);
        } else {
            append(&pool->queue_head, &pool->queue_tail, op);
        }
        pool->pending++;
        must(pthread_cond_signal(&pool->work), "signal");
    }
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    return accepted ? 0 : -1;
}

int store_pool_fd(const store_pool_t *pool) { return pool->event_fd; }

size_t store_pool_pending(const store_pool_t *pool)
{
    store_pool_t *p = (store_pool_t *)pool;
    must(pthread_mutex_lock(&p->lock), "lock");
    size_t n = p->pending;
    must(pthread_mutex_unlock(&p->lock), "unlock");
    return n;
}

size_t store_pool_dispatch(store_pool_t *pool)
{
    uint64_t count;
    if (read(pool->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        wc_log_error("store pool: read from eventfd: %s", strerror(errno));
    }
    must(pthread_mutex_lock(&pool->lock), "lock");
    store_op_t *op = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    must(pthread_mutex_unlock(&pool->lock), "unlock");
    size_t n = 0;
    while (op != NULL) {
        store_op_t *next = op->next; /* done may free the op */
        op->done(op);
        op = next;
        n++;
    }
    return n;
}

void store_pool_free(store_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    if (pool->thread_count > 0) {
        stop_threads(pool, pool->thread_count);
    }
    if (pool->event_fd >= 0 && close(pool->event_fd) != 0) {
        wc_log_error("store pool: close eventfd: %s", strerror(errno));
    }
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}
