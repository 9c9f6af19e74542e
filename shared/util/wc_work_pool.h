/*
 * A queue of work and the threads that run it (docs/ARCHITECTURE.md §6).
 *
 * Blocking work (a database round trip, an SMTP session, a group commit)
 * must not run on a thread that serves an event loop or HTTP connections.
 * Its owner submits it here instead; one of a few threads takes everything
 * waiting, up to a batch limit, and runs it. What happens to a finished
 * batch is the pool's one choice:
 *
 *   - handed back (`hand_back`): the batch joins a list of finished work and
 *     an eventfd becomes readable; the loop that polls it takes the list with
 *     wc_work_pool_take_done and runs each work's continuation on its own
 *     thread (the worker's store pool and SMTP senders);
 *   - finished on the pool thread: `run` itself reports each work (the API's
 *     group commit, whose connections are resumed from any thread).
 *
 * Work is intrusive: the owner embeds a wc_work_t in its own structure and
 * finds the structure again with WC_WORK_OWNER. The pool never allocates
 * or frees a work.
 */
#ifndef WC_WORK_POOL_H
#define WC_WORK_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wc_work wc_work_t;

struct wc_work {
    /* The pool's link while the work is queued; in a batch given to `run`
     * and in the list wc_work_pool_take_done returns, the next work. */
    wc_work_t *next;
    /* What the work counts for against batch_max and queue_limit (the
     * notifications of a request, say); 0 counts as 1. */
    size_t weight;
    /* Taken before every waiting work that is not urgent; works of the same
     * kind are taken in the order they were submitted. */
    bool urgent;
};

/* The structure of type `type` whose member `member` is the work `work`. */
#define WC_WORK_OWNER(work, type, member) \
    ((type *)(void *)((char *)(work) - offsetof(type, member)))

typedef struct {
    const char *name; /* in log lines; must outlive the pool */
    int threads;      /* at least 1 */
    /* The most weight one batch carries; a work heavier than that runs
     * alone. 1 runs the works one at a time. */
    size_t batch_max;
    /* 0: no bound. Otherwise a work that would take the weight waiting past
     * this is refused, unless nothing waits (so a heavy work always gets in
     * on its own). */
    size_t queue_limit;
    /* True: finished batches wait for wc_work_pool_take_done behind an
     * eventfd. False: `run` reports each work itself and may free it. */
    bool hand_back;
    /* Runs a batch (linked through `next`, in the order taken) on pool
     * thread number `thread` (0 to threads - 1), with every asynchronous
     * signal blocked. */
    void (*run)(void *arg, int thread, wc_work_t *batch);
    void *arg;
} wc_work_pool_options_t;

typedef struct wc_work_pool wc_work_pool_t;

/* Starts the threads; the options are copied. NULL, after logging why, when
 * the options are invalid or a thread, the lock or the eventfd cannot be
 * made. The threads start with every signal blocked but the faults (SIGSEGV
 * and its kind), so that a drain or reload signal reaches the thread that
 * waits for it and a crash on a pool thread is still reported. */
wc_work_pool_t *wc_work_pool_start(const wc_work_pool_options_t *opts);

typedef enum {
    WC_WORK_QUEUED,   /* the pool has it until it is run (and handed back) */
    WC_WORK_STOPPING, /* refused: wc_work_pool_stop was called */
    WC_WORK_FULL,     /* refused: queue_limit */
} wc_work_submit_t;

/* Queues `work`, from any thread. A refused work is still the caller's and
 * is counted in `refused`. */
wc_work_submit_t wc_work_pool_submit(wc_work_pool_t *pool, wc_work_t *work);

/* Readable while finished works wait for wc_work_pool_take_done; -1 for a
 * pool that does not hand back. */
int wc_work_pool_fd(const wc_work_pool_t *pool);

/* Every finished work, in the order the batches finished, as a list linked
 * through `next` (NULL when none); the works are their owners' again. Call
 * it from the thread that polls wc_work_pool_fd. */
wc_work_t *wc_work_pool_take_done(wc_work_pool_t *pool);

typedef struct {
    uint64_t batches;  /* batches taken by a thread */
    uint64_t taken;    /* weight in them */
    uint64_t refused;  /* works refused by submit */
    size_t waiting;    /* weight queued now */
    size_t unfinished; /* weight queued or running now */
} wc_work_pool_stats_t;

void wc_work_pool_stats(wc_work_pool_t *pool, wc_work_pool_stats_t *out);

/* Refuses new work, lets the threads run every queued work and joins them.
 * Later calls do nothing. Finished works not yet taken stay on the list. */
void wc_work_pool_stop(wc_work_pool_t *pool);

/* Stops the pool if it runs and frees it. Finished works never taken are
 * forgotten: they were always their owners', who must have taken them back
 * (wc_work_pool_take_done) if anything is to become of them. */
void wc_work_pool_free(wc_work_pool_t *pool);

#endif
