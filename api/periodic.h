/*
 * A background thread that runs one function over and over until it is
 * stopped: the scheduler's rounds and the usage writer's flushes. The
 * function says how long to wait before its next run; a stop wakes the wait
 * at once, and a run in progress may ask whether it should end early.
 */
#ifndef API_PERIODIC_H
#define API_PERIODIC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct api_periodic api_periodic_t;

/* One run: does its work and returns how many milliseconds to wait before
 * the next (0 or less: go again at once). `self` is the thread it runs on. */
typedef int64_t (*api_periodic_run_t)(api_periodic_t *self, void *arg);

/* Starts the thread calling `run(self, arg)`; `what` names it in the log.
 * NULL after logging why (nothing was started). */
api_periodic_t *api_periodic_start(const char *what, api_periodic_run_t run, void *arg);

/* True once api_periodic_stop was called: a long run ends early. Any thread. */
bool api_periodic_stopping(api_periodic_t *p);

/* Stops the thread after its current run, waits for it and frees it. NULL is
 * allowed. Call once, from the thread that started it. */
void api_periodic_stop(api_periodic_t *p);

#endif
