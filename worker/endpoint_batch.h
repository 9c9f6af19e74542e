/*
 * Per-endpoint batching (docs/ARCHITECTURE.md §14). An endpoint created with
 * `batch: {maxEvents, maxWaitMs}` stamps those settings on every delivery the
 * fan-out makes for it; a child that has claimed such a delivery does not
 * send it alone but adds it to the open batch of its endpoint (and the
 * endpoint's revision, so that deliveries made before and after an edit of
 * the URL, headers or secret are never mixed). A batch is sent as one signed
 * POST when it holds maxEvents deliveries, when maxWaitMs has passed since it
 * was opened, or when the child drains; each delivery then records its own
 * outcome from the one answer.
 *
 * This file keeps the open batches and builds the request's document; the
 * sending and the outcomes are delivery.c's. Members are the caller's (opaque
 * here) and so are their documents.
 */
#ifndef WORKER_ENDPOINT_BATCH_H
#define WORKER_ENDPOINT_BATCH_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_endpoint_batch.h"

/* Batches open at once in one child; a delivery that finds no room is sent
 * alone rather than waiting. */
#define ENDPOINT_BATCH_OPEN_MAX 64
/* "batch_" and 24 hex digits. */
#define ENDPOINT_BATCH_ID_LEN 31

typedef struct {
    char endpoint_id[25];
    int64_t rev;
    size_t max_events;
    int64_t due_ms; /* the loop's clock: opened + maxWaitMs */
    size_t n;
    void *members[WC_ENDPOINT_BATCH_EVENTS_MAX];
    const bson_t *docs[WC_ENDPOINT_BATCH_EVENTS_MAX]; /* the members' claimed documents */
} endpoint_batch_t;

typedef struct {
    endpoint_batch_t *open[ENDPOINT_BATCH_OPEN_MAX];
    size_t n;
} endpoint_batches_t;

/* Adds `member`, whose claimed document is `doc`, to the open batch of its
 * endpoint and revision, opening one due `wait_ms` after `now_ms` when there
 * is none; `max_events` caps the batch (the caller bounds it by what its
 * prefetch lets it hold). Returns 1 with *full set when the batch is now full
 * (taken out of the set: the caller sends it and frees it), 0 when the member
 * waits, -1 when the child cannot hold it (no room, out of memory): the
 * caller sends it alone. */
int endpoint_batches_add(endpoint_batches_t *set, void *member, const bson_t *doc,
                         size_t max_events, int wait_ms, int64_t now_ms,
                         endpoint_batch_t **full);

/* Takes out one batch due at `now_ms` (every batch when `all`), or NULL. */
endpoint_batch_t *endpoint_batches_take_due(endpoint_batches_t *set, int64_t now_ms, bool all);

/* `limit_ms`, or less when a batch falls due sooner. */
int endpoint_batches_next_due_ms(const endpoint_batches_t *set, int64_t now_ms, int limit_ms);

void endpoint_batch_free(endpoint_batch_t *batch);

/* The batch's webhook-id, "batch_" and the first 24 hex digits of SHA-256 of
 * its members' ids in order: the same members in the same order, sent again,
 * carry the same id. `ids` are the members' notification ids. */
void endpoint_batch_id(const char *const ids[], size_t n, char out[ENDPOINT_BATCH_ID_LEN]);

/* The document the webhook provider sends for the batch: the first member's
 * recipient, tenant, endpoint, revision and headers, and as `payload` an
 * array of {"id": <member id, its webhook-id when sent alone>, "data": <the
 * body it would have carried alone>} in the batch's order. NULL when out of
 * memory. The caller destroys it. */
bson_t *endpoint_batch_document(const endpoint_batch_t *batch, const char *const ids[]);

#endif
