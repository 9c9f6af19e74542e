/*
 * Answers of list requests kept in memory under the tenant's data version
 * (wc_store_counters_version): a dashboard that polls a list nobody changed
 * costs no read of the page's buckets (docs/READS.md), and, since the version
 * itself is kept in memory for up to WAVECOM_API_VERSION_FRESH_MS, mostly no
 * read at all. A key is usable only when the version could be read.
 */
#ifndef API_LIST_CACHE_H
#define API_LIST_CACHE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "api.h"
#include "bucket_cache.h"
#include "wc_store.h"

typedef struct {
    char text[256];
    bool usable;
    int64_t version; /* the tenant's, when `usable` */
    /* The tenant's counts, read with the version when `usable`: the list
     * takes its total from them instead of reading them again
     * (wc_list_query_t.tenant_counts). */
    wc_store_counts_t counts;
    /* The walk's counter reader at `version` (api_list_prepare). */
    wc_counter_reader_t source;
    api_bucket_walk_t walk;
} api_list_key_t;

/* The tenant's data version and counts (tenant_versions.h), after this
 * process's own counts are written. */
wc_store_status_t api_tenant_version(api_context_t *ctx, const char *tenant_id, int64_t *version,
                                     wc_store_counts_t *counts);

/* The key of a `kind` of list answer ("list", "dlq") to `query` at the
 * tenant's current version. */
void api_list_key(api_context_t *ctx, const char *kind, const wc_list_query_t *query,
                  api_list_key_t *key);

/* Lets the walk of `query` use what `key` read: the tenant's counts, and the
 * counter buckets kept at its version (bucket_cache.h). `key` must outlive
 * the walk. */
void api_list_prepare(api_context_t *ctx, api_list_key_t *key, wc_list_query_t *query);

/* The remembered answer (new reference), or NULL. */
json_object *api_list_cached(api_context_t *ctx, const api_list_key_t *key);

/* Remembers `data` under `key` for WAVECOM_API_LIST_CACHE_SECONDS. */
void api_list_remember(api_context_t *ctx, const api_list_key_t *key, json_object *data);

#endif
