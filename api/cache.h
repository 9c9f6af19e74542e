/*
 * A small time-bounded cache of strings by key, shared by the HTTP threads:
 * statistics per tenant and the database-derived metrics (both cost a full
 * aggregation), and looked-up API keys. When full, the entry closest to
 * expiry gives way.
 */
#ifndef API_CACHE_H
#define API_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* A cache of at most `capacity` entries. */
api_cache_t *api_cache_new(size_t capacity);
void api_cache_free(api_cache_t *cache);

/* A copy of the value of `key` if it has not expired by `now_ms` (the caller
 * frees it), or NULL. */
char *api_cache_get(api_cache_t *cache, const char *key, int64_t now_ms);

/* Stores a copy of `value` under `key` until `expires_ms`. */
void api_cache_put(api_cache_t *cache, const char *key, const char *value, int64_t expires_ms);

#endif
