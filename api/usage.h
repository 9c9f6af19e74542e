/*
 * Per API key usage, counted in memory and written in batches
 * (docs/ARCHITECTURE.md §13): a request adds to a table under one mutex and
 * never waits for the database; a thread adds the table to `api_key_usage`
 * with one bulk write every WAVECOM_USAGE_FLUSH_SECONDS, and deletes days
 * older than WAVECOM_USAGE_RETENTION_DAYS once an hour.
 *
 * A crash loses at most one flush interval of counts; a failed flush keeps
 * its counts for the next one while the table has room. Principals without a
 * key hint (dashboard JWTs) are not counted.
 */
#ifndef API_USAGE_H
#define API_USAGE_H

#include <stddef.h>

#include "wc_config.h"
#include "wc_notification.h"
#include "wc_store.h"
#include "wc_store_usage.h"

typedef struct api_usage api_usage_t;

/* Starts the writer thread. NULL when memory or the thread cannot be had. */
api_usage_t *api_usage_start(const wc_config_t *cfg, wc_store_t *store);

/* Stops the thread after a last flush, and frees. NULL is ignored. */
void api_usage_stop(api_usage_t *usage);

/* An authenticated request of class `c` from `addr` (may be NULL). Any
 * thread; NULL `usage` is ignored. */
void api_usage_count_request(api_usage_t *usage, const wc_principal_t *p, wc_usage_class_t c,
                             const char *addr);

/* A response with `status`; counted when it is a refusal (401/403/429/503). */
void api_usage_count_status(api_usage_t *usage, const wc_principal_t *p, unsigned status);

/* `n` notifications of `channel` accepted (201). */
void api_usage_count_accepted(api_usage_t *usage, const wc_principal_t *p, wc_channel_t channel,
                              size_t n);

/* Writes what is counted now; for tests and shutdown. Returns 0 or -1. */
int api_usage_flush(api_usage_t *usage);

#endif
