/*
 * Monthly notification quotas of tenants and API keys, held across API
 * instances (docs/ARCHITECTURE.md §13). Each month has a counter per quota in
 * `quota_counters`; an instance reserves from it in chunks of
 * WAVECOM_QUOTA_CHUNK with one atomic $inc, and takes from its reservation
 * in memory. A reservation never goes past the quota (what a chunk would put
 * past it is given back at once), so N instances never send more than the
 * quota; what they may hold unused is at most N x (chunk - 1) per quota, and
 * an instance gives its unused reservations back when it stops.
 */
#ifndef API_QUOTA_H
#define API_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

typedef struct api_quota api_quota_t;

/* NULL when memory runs out. */
api_quota_t *api_quota_new(const wc_config_t *cfg, wc_store_t *store);

/* Gives unused reservations of the current month back, and frees. */
void api_quota_free(api_quota_t *quota);

/* Admits counts[c] notifications of channel c for `p` (critical[c] of them
 * CRITICAL), against the tenant's and the key's quotas, all or none. False
 * with the answer in *res: 429 naming the quota and its reset time with
 * Retry-After, or 503 when the database could not be asked. */
bool api_quota_take(api_quota_t *quota, const wc_principal_t *p,
                    const size_t counts[WC_CHANNEL_COUNT],
                    const size_t critical[WC_CHANNEL_COUNT], api_response_t *res);

/* The clock quotas run on: the wall clock, moved by
 * WAVECOM_TEST_CLOCK_OFFSET_SECONDS, which only a test build (WAVECOM_TEST_HOOKS)
 * accepts, so that a test can roll the month over. */
int64_t api_quota_now_ms(const api_quota_t *quota);

#endif
