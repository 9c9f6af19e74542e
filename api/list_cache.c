#include "list_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache.h"
#include "tenant_versions.h"
#include "wc_store_counters.h"
#include "wc_time.h"

wc_store_status_t api_tenant_version(api_context_t *ctx, const char *tenant_id, int64_t *version,
                                     wc_store_counts_t *counts)
{
    /* This process's own changes first: their flush forgets what they make stale. */
    (void)wc_store_counters_flush_for(ctx->store, tenant_id);
    return api_tenant_versions_get(ctx->versions, tenant_id, wc_time_now_ms(),
                                   ctx->cfg->api_version_fresh_ms, version, counts);
}

void api_list_key(api_context_t *ctx, const char *kind, const wc_list_query_t *query,
                  api_list_key_t *key)
{
    key->usable = false;
    int64_t version = 0;
    if (ctx->list_cache == NULL || ctx->cfg->api_list_cache_seconds <= 0 ||
        api_tenant_version(ctx, query->tenant_id, &version, &key->counts) != WC_STORE_OK) {
        return;
    }

    char cursor[25];
    bson_oid_to_string(&query->cursor_id, cursor);
    /* Every field of the query that changes the answer, and nothing else. */
    int n = snprintf(key->text, sizeof(key->text),
                     "%s|%s|%" PRId64 "|%d|%d|%d|%" PRId64 "|%" PRId64 "|%" PRId64 "|%" PRId64
                     "|%d|%" PRId64 "|%s|%s",
                     kind, query->tenant_id, version, query->status, query->type,
                     query->priority, query->created_from_ms, query->created_to_ms, query->skip,
                     query->limit, (int)query->mode, query->cursor_ms,
                     query->mode == WC_LIST_PAGE ? "" : cursor,
                     query->key_hint != NULL ? query->key_hint : "");
    key->usable = n > 0 && (size_t)n < sizeof(key->text);
    key->version = version;
}

void api_list_prepare(api_context_t *ctx, api_list_key_t *key, wc_list_query_t *query)
{
    if (!key->usable) {
        return;
    }
    query->tenant_counts = &key->counts;
    key->source = wc_store_counter_reader(ctx->store);
    api_bucket_walk_init(&key->walk, ctx->buckets, &key->source);
    query->counters = &key->walk.reader;
    query->tenant_version = key->version;
}

json_object *api_list_cached(api_context_t *ctx, const api_list_key_t *key)
{
    if (!key->usable) {
        return NULL;
    }
    char *text = api_cache_get(ctx->list_cache, key->text, wc_time_now_ms());
    if (text == NULL) {
        return NULL;
    }
    json_object *data = json_tokener_parse(text);
    free(text);
    return data;
}

void api_list_remember(api_context_t *ctx, const api_list_key_t *key, json_object *data)
{
    if (!key->usable) {
        return;
    }
    api_cache_put(ctx->list_cache, key->text,
                  json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN),
                  wc_time_now_ms() + ctx->cfg->api_list_cache_seconds * 1000LL);
}
