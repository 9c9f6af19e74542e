/*
 * Counter buckets a list walk read (wc_counter_reader_t), kept in memory under
 * the version of their parent: the tenant's data version (tenant_versions.h)
 * for its days, the day's for its hours, the hour's for its minutes.
 *
 * Every counted change advances the version of the tenant and of each bucket
 * it lands in, so what was read under version V is what the database holds
 * while V stays. A walk then reads from the database only the levels that
 * changed and the minutes that hold the page: for a tenant nobody writes to,
 * none; for a busy one, the present day, hour and minute, while its older
 * days and hours (a sparse filter walks one per item it finds, about 85
 * counter documents at 0.44 ms of FerretDB CPU each) come from memory. A
 * range such as "the last 24 hours" changes with every request and no answer
 * cache serves it; its counters are served here (docs/READS.md, "The list
 * walk").
 *
 * The notifications of a list leaf (a minute, a second of a busy one, or the
 * few of a day that a sparse filter matches, with the query's filters; at
 * most 400) are kept the same way, under the version of the minute or day
 * they were created in: every status change of one of them advances both,
 * and nothing else changes what a list shows of a notification.
 */
#ifndef API_BUCKET_CACHE_H
#define API_BUCKET_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "wc_store_counters.h"

typedef struct api_bucket_cache api_bucket_cache_t;

/* A cache of at most `max_bytes` of buckets, each kept at most `keep_ms`:
 * a reconciliation's repair that leaves a parent's version as it was shows
 * after that at the latest. NULL when out of memory. */
api_bucket_cache_t *api_bucket_cache_new(size_t max_bytes, int64_t keep_ms);
void api_bucket_cache_free(api_bucket_cache_t *cache);

/* One walk's reader: what `source` answered before under the same parent
 * version comes from `cache` (when not NULL), the rest from `source`, and is
 * kept. A negative parent version is never kept. */
typedef struct {
    wc_counter_reader_t reader; /* pass &walk->reader to the walk */
    api_bucket_cache_t *cache;
    const wc_counter_reader_t *source;
} api_bucket_walk_t;

void api_bucket_walk_init(api_bucket_walk_t *walk, api_bucket_cache_t *cache,
                          const wc_counter_reader_t *source);

/* What the cache holds: entries and bytes (for tests and metrics). */
void api_bucket_cache_usage(api_bucket_cache_t *cache, size_t *entries, size_t *bytes);

#endif
