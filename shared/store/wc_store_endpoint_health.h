/*
 * An event endpoint's health (docs/ARCHITECTURE.md §14): what the worker saw
 * of its delivery attempts, added up per endpoint and hour in
 * `endpoint_health` (delivered, failed, a histogram of durations) and kept
 * per endpoint in `endpoint_state` (the last success and failure, the last
 * error, and `failingSince`: the first failed attempt after the last
 * success, which the API's automatic disabling reads). The worker counts in
 * memory and writes a flush's counts with one bulk upsert per collection.
 */
#ifndef WC_STORE_ENDPOINT_HEALTH_H
#define WC_STORE_ENDPOINT_HEALTH_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_duration_histogram.h"
#include "wc_store.h"

#define WC_COLL_ENDPOINT_HEALTH "endpoint_health"
#define WC_COLL_ENDPOINT_STATE "endpoint_state"
#define WC_HOUR_MS 3600000LL
#define WC_ENDPOINT_ERROR_LEN 256

/* One endpoint's attempts in one flush (or, read back, in a window). */
typedef struct {
    char endpoint_id[25];
    char tenant_id[64];
    int64_t hour_ms; /* the hour the attempts are counted in */
    int64_t delivered;
    int64_t failed;
    wc_duration_histogram_t durations; /* of the attempts that reached the receiver */
    int64_t last_success_ms; /* 0: none */
    int64_t last_failure_ms;
    char last_error[WC_ENDPOINT_ERROR_LEN];
    /* The first failure after the last success of this flush; 0 when the
     * last attempt succeeded or none failed. */
    int64_t failing_since_ms;
    bool succeeded; /* a success in this flush: failing_since_ms replaces the stored one */
} wc_endpoint_health_t;

/* Adds one attempt at `at_ms` to `h` (endpoint and tenant already set);
 * `duration_ms` < 0 when the request was never sent (the SSRF guard refused
 * the address). */
void wc_endpoint_health_note(wc_endpoint_health_t *h, bool delivered, int64_t duration_ms,
                             const char *error, int64_t at_ms);

/* Writes the counts of `n` endpoints: one unordered bulk upsert of their
 * hours, one of their states. */
wc_store_status_t wc_store_endpoint_health_add(wc_store_t *store, const wc_endpoint_health_t *h,
                                               size_t n);

/* The endpoint's attempts since `since_ms` (its hours from there on) and its
 * state, into *out; an endpoint never attempted reads as zeros. */
wc_store_status_t wc_store_endpoint_health_read(wc_store_t *store, const char *endpoint_id,
                                                int64_t since_ms, wc_endpoint_health_t *out);

/* The ids (24 hex digits each, at most `max`) of the endpoints failing
 * every attempt since before `before_ms`. */
wc_store_status_t wc_store_endpoint_failing(wc_store_t *store, int64_t before_ms, size_t max,
                                            char (*ids)[25], size_t *n);

/* Forgets the failing streak of an endpoint (disabled, or enabled again):
 * automatic disabling counts from its next failure. */
wc_store_status_t wc_store_endpoint_health_forgive(wc_store_t *store, const char *endpoint_id);

/* Deletes the hours before `before_ms`. */
wc_store_status_t wc_store_endpoint_health_purge(wc_store_t *store, int64_t before_ms,
                                                 int64_t *deleted);

#endif
