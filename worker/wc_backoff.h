/*
 * Retry delays: exponential backoff with full jitter (a delay drawn uniformly
 * from zero to base·factor^attempt, capped), rounded up onto the retry tiers
 * so that a retry never comes sooner than the delay drawn.
 */
#ifndef WC_BACKOFF_H
#define WC_BACKOFF_H

#include <stddef.h>

/* Index into wc_retry_tiers for retry number `attempt` (0 for the first
 * retry). `unit` is a uniform random number in [0, 1). */
size_t wc_backoff_tier(int attempt, double unit);

/* A uniform random number in [0, 1) from the process's own generator. */
double wc_backoff_random_unit(void);

#endif
