#include "wc_backoff.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wc_topology.h"

/* The schedule the WaveCom specification asks for: 5 s, then ×5 up to
 * 125 s (docs/ARCHITECTURE.md §6). */
#define BACKOFF_BASE_SECONDS 5.0
#define BACKOFF_FACTOR 5.0

size_t wc_backoff_tier(int attempt, double unit)
{
    double cap = wc_retry_tiers[wc_retry_tier_count - 1].seconds;
    double ceiling = BACKOFF_BASE_SECONDS;
    for (int i = 0; i < attempt && ceiling < cap; i++) {
        ceiling *= BACKOFF_FACTOR;
    }
    if (ceiling > cap) {
        ceiling = cap;
    }
    double delay = unit * ceiling;
    for (size_t i = 0; i < wc_retry_tier_count; i++) {
        if (delay <= wc_retry_tiers[i].seconds) {
            return i;
        }
    }
    return wc_retry_tier_count - 1;
}

double wc_backoff_random_unit(void)
{
    /* Jitter needs spread, not secrecy: rand_r seeded per process is enough. */
    static unsigned seed;
    static pid_t seeded_for;
    if (seeded_for != getpid()) { /* reseed in each forked child */
        seeded_for = getpid();
        seed = (unsigned)seeded_for ^ (unsigned)time(NULL);
    }
    return (double)rand_r(&seed) / ((double)RAND_MAX + 1.0);
}
