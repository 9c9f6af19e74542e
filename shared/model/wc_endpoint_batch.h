/*
 * An endpoint's batching settings (docs/ARCHITECTURE.md §14): the bounds the
 * API checks at registration, and their reading from a delivery document, on
 * which the fan-out stamps the endpoint's `batch` as it was at publish time.
 */
#ifndef WC_ENDPOINT_BATCH_H
#define WC_ENDPOINT_BATCH_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#define WC_ENDPOINT_BATCH_EVENTS_MIN 2
#define WC_ENDPOINT_BATCH_EVENTS_MAX 100
#define WC_ENDPOINT_BATCH_WAIT_MIN_MS 10
#define WC_ENDPOINT_BATCH_WAIT_MAX_MS 30000

/* A delivery document's batch settings: false when it is not batched (no
 * `batch`, no `endpointId`, or settings outside the bounds above). */
bool wc_endpoint_batch_settings(const bson_t *doc, size_t *max_events, int *wait_ms);

#endif
