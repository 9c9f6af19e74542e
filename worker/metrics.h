/*
 * The worker pool's Prometheus series, counted in memory the master maps
 * shared before it forks (like the breakers), so that every child adds to
 * the same totals and a child that dies and is restarted resets nothing.
 * Children update them with C11 atomics and no lock; the master renders
 * them for its metrics endpoint (metrics_server.h) and counts restarts.
 *
 * Counts are of outcomes made durable: a notification is counted SENT,
 * FAILED or retried once its status write was acknowledged, so a write that
 * failed (and a redelivery that follows) does not count twice.
 */
#ifndef WORKER_METRICS_H
#define WORKER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "breakers.h"
#include "wc_notification.h"
#include "wc_store.h"

/* Upper bounds (seconds) of both duration histograms. */
#define WORKER_METRICS_BUCKETS 13
/* Retry tiers and worker slots the layout has room for; more are not
 * counted (checked where they are used). */
#define WORKER_METRICS_MAX_TIERS 8
#define WORKER_METRICS_MAX_SLOTS 256

/* Provider labels of provider_request_duration_seconds: one per row of
 * provider_table.h, indexed by its PROVIDER_* kind. */
#define WORKER_METRICS_PROVIDERS PROVIDER_COUNT

/* How a provider answered one attempt, for provider_requests_total. */
typedef enum {
    WORKER_PROVIDER_OK,
    WORKER_PROVIDER_TRANSIENT,
    WORKER_PROVIDER_PERMANENT,
    WORKER_PROVIDER_OUTCOMES,
} worker_provider_outcome_t;

typedef struct {
    /* Per bucket, not cumulative: the renderer adds them up, so the +Inf
     * bucket and _count always agree even while children write. */
    _Atomic uint64_t buckets[WORKER_METRICS_BUCKETS + 1];
    _Atomic uint64_t sum_us;
} worker_histogram_t;

typedef struct {
    _Atomic uint64_t sent[WC_CHANNEL_COUNT];
    _Atomic uint64_t failed[WC_CHANNEL_COUNT];
    _Atomic uint64_t suppressed[WC_CHANNEL_COUNT];
    _Atomic uint64_t retries[WORKER_METRICS_MAX_TIERS];
    worker_histogram_t processing;
    worker_histogram_t provider[WORKER_METRICS_PROVIDERS];
    _Atomic uint64_t provider_outcomes[WORKER_METRICS_PROVIDERS][WORKER_PROVIDER_OUTCOMES];
    /* Each child writes its own slot; the master zeroes a slot whose child
     * died, so a killed child's jobs do not stay "in flight" for ever. */
    _Atomic int64_t in_flight[WORKER_METRICS_MAX_SLOTS];
    /* Of those, outcomes known (the provider answered) whose status write
     * waits for the database to come back; zeroed with in_flight. */
    _Atomic int64_t outcomes_waiting[WORKER_METRICS_MAX_SLOTS];
    /* Each child's database connection pool, counted by its store itself
     * (wc_store_count_pool_into); zeroed with in_flight when a child dies. */
    _Atomic int64_t db_pool_in_use[WORKER_METRICS_MAX_SLOTS];
    _Atomic int64_t db_pool_max[WORKER_METRICS_MAX_SLOTS];
    _Atomic uint64_t db_pool_waits;
    _Atomic uint64_t child_restarts;
} worker_metrics_t;

/* Maps zeroed shared memory for the series. NULL on failure (errno set). */
worker_metrics_t *worker_metrics_map(void);
void worker_metrics_unmap(worker_metrics_t *metrics);

/* A child's outcomes. `tier` indexes wc_retry_tiers; `provider` is one of
 * delivery.h's PROVIDER_* kinds. Out-of-range indexes are ignored. */
void worker_metrics_count_sent(worker_metrics_t *m, wc_channel_t type);
void worker_metrics_count_failed(worker_metrics_t *m, wc_channel_t type);
void worker_metrics_count_suppressed(worker_metrics_t *m, wc_channel_t type);
void worker_metrics_count_retry(worker_metrics_t *m, size_t tier);
void worker_metrics_observe_processing(worker_metrics_t *m, int64_t ms);
/* One attempt that reached a provider: its duration and how it answered. */
void worker_metrics_observe_provider(worker_metrics_t *m, int provider,
                                     worker_provider_outcome_t outcome, int64_t ms);
void worker_metrics_set_in_flight(worker_metrics_t *m, int slot, int64_t jobs);
void worker_metrics_set_outcomes_waiting(worker_metrics_t *m, int slot, int64_t jobs);

/* A child: from now on `store` counts its pool's checkouts into `slot`. */
void worker_metrics_track_store_pool(worker_metrics_t *m, int slot, wc_store_t *store);

/* The master: the child of `slot` is gone, and with it what it held. */
void worker_metrics_clear_slot(worker_metrics_t *m, int slot);

/* The master: a child died unasked and is to be restarted. */
void worker_metrics_count_restart(worker_metrics_t *m);

/* Writes the whole exposition (text format 0.0.4) to `out`, breakers
 * included. Returns 0, or -1 if a write to `out` failed. */
int worker_metrics_render(const worker_metrics_t *m, const worker_breakers_t *breakers, FILE *out);

/* Writes `value` to `out` escaped as a label value (backslash, double quote
 * and newline). Returns 0, or -1 if a write failed. */
int worker_metrics_write_label(FILE *out, const char *value);

#endif
