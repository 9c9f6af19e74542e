/*
 * An endpoint's rate limit, kept by the worker before the claim
 * (docs/ARCHITECTURE.md §14). Every delivery of an event to an endpoint with
 * a `rateLimit` of R reserves a send slot in the database, 1/R s after the
 * one before it, shared by every child on every host; it then waits for the
 * slot: under a second in the child's memory, longer in the broker's delay
 * queues, carrying the slot in its message so that it reserves once. The
 * limit read from the endpoint is cached for ENDPOINT_PACE_CACHE_MS, so a
 * change of it applies within that time.
 */
#ifndef WORKER_ENDPOINT_PACE_H
#define WORKER_ENDPOINT_PACE_H

#include <stdint.h>

#include "wc_store.h"

#define ENDPOINT_PACE_CACHE_MS 5000

typedef struct endpoint_pace endpoint_pace_t;

/* NULL when out of memory. */
endpoint_pace_t *endpoint_pace_new(void);
void endpoint_pace_free(endpoint_pace_t *pace);

/* On a store thread: the slot of one delivery to `endpoint_id` at `now_ms`
 * (Unix ms) into *slot_ms, or 0 when the endpoint has no limit or is gone
 * (the provider then finds out what it needs). ERROR when the database
 * failed. */
wc_store_status_t endpoint_pace_reserve(endpoint_pace_t *pace, wc_store_t *store,
                                        const char *endpoint_id, int64_t now_ms,
                                        int64_t *slot_ms);

/* How a delivery waits `remaining_ms` more for its slot: -1 to hold it in the
 * child (less than the shortest delay queue), else the index in
 * wc_delay_tiers of the longest delay that does not pass the slot. */
int endpoint_pace_hop(int64_t remaining_ms);

#endif
