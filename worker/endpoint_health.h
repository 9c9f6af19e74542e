/*
 * What a child saw of its event endpoints' delivery attempts, counted on the
 * loop thread and handed once a second to a store thread, which writes them
 * (wc_store_endpoint_health.h, docs/ARCHITECTURE.md §14).
 */
#ifndef WORKER_ENDPOINT_HEALTH_H
#define WORKER_ENDPOINT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_store_endpoint_health.h"

typedef struct {
    wc_endpoint_health_t *entries; /* one per endpoint attempted since the last take */
    size_t n, cap;
} endpoint_health_t;

/* Counts one attempt; false when out of memory (the attempt is not counted). */
bool endpoint_health_note(endpoint_health_t *t, const char *endpoint_id, const char *tenant_id,
                          bool delivered, int64_t duration_ms, const char *error, int64_t at_ms);

/* Moves everything counted into `out` (emptied first), leaving `t` empty. */
void endpoint_health_take(endpoint_health_t *t, endpoint_health_t *out);

void endpoint_health_free(endpoint_health_t *t);

#endif
