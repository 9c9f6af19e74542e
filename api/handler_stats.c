/*
 * GET /api/notifications/stats/system: the tenant's notifications by status,
 * type and priority, the depth of each queue, the average processing time
 * and the success rate. The counts are the tenant's counter document (one
 * read by _id, or none while the list's version read is fresh:
 * tenant_versions.h); the average is over the deliveries of
 * the last hour, from the throughput counters (recent_minutes.h: the two
 * newest minutes by _id, the rest once a minute): no read grows with the
 * collection. The answer is still kept
 * WAVECOM_API_STATS_CACHE_SECONDS, since dashboards poll every 5 s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "handlers.h"
#include "list_cache.h"
#include "recent_minutes.h"
#include "response.h"
#include "wc_store_counters.h"
#include "wc_time.h"
#include "wc_topology.h"

static json_object *depth_json(long depth)
{
    return depth >= 0 ? json_object_new_int64(depth) : NULL;
}

/* Builds the statistics of `tenant_id`; NULL when the database failed. */
static json_object *compute_stats(api_context_t *ctx, const char *tenant_id, int64_t now)
{
    wc_store_counts_t counts;
    wc_duration_histogram_t times = {0};
    int64_t version = 0;
    if (api_tenant_version(ctx, tenant_id, &version, &counts) != WC_STORE_OK ||
        api_recent_minutes_read(ctx->recent_minutes, tenant_id, now, NULL, NULL, &times) !=
            WC_STORE_OK) {
        return NULL;
    }
    int64_t by_status[WC_STATUS_COUNT] = {0};
    int64_t by_type[WC_CHANNEL_COUNT] = {0};
    int64_t by_priority[WC_PRIORITY_COUNT] = {0};
    for (int s = 0; s < WC_STATUS_COUNT; s++) {
        for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
            for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                int64_t n = counts.counts[s][t][p];
                by_status[s] += n;
                by_type[t] += n;
                by_priority[p] += n;
            }
        }
    }
    json_object *status = json_object_new_object();
    for (int s = 0; s < WC_STATUS_COUNT; s++) {
        json_object_object_add(status, wc_status_name((wc_status_t)s),
                               json_object_new_int64(by_status[s]));
    }
    json_object *type = json_object_new_object();
    for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
        json_object_object_add(type, wc_channel_name((wc_channel_t)t),
                               json_object_new_int64(by_type[t]));
    }
    json_object *priority = json_object_new_object();
    for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
        json_object_object_add(priority, wc_priority_name((wc_priority_t)p),
                               json_object_new_int64(by_priority[p]));
    }
    api_queue_depths_t depths;
    api_publisher_queue_depths(ctx->publisher, &depths);
    json_object *queues = json_object_new_object();
    json_object_object_add(queues, WC_QUEUE_STANDARD, depth_json(depths.standard));
    json_object_object_add(queues, WC_QUEUE_HIGH, depth_json(depths.high_priority));
    json_object_object_add(queues, "retry", depth_json(depths.retry));
    json_object_object_add(queues, WC_QUEUE_DLQ, depth_json(depths.dlq));

    int64_t sent = by_status[WC_STATUS_SENT];
    int64_t failed = by_status[WC_STATUS_FAILED];
    char ts[WC_ISO8601_LEN];
    wc_time_format_iso8601(wc_time_now_ms(), ts, sizeof(ts));
    json_object *data = json_object_new_object();
    json_object_object_add(data, "total", json_object_new_int64(counts.total));
    json_object_object_add(data, "byStatus", status);
    json_object_object_add(data, "byType", type);
    json_object_object_add(data, "byPriority", priority);
    json_object_object_add(data, "queueDepth", queues);
    /* Milliseconds, rounded; null when nothing was delivered in the last hour. */
    int64_t average = wc_duration_histogram_average(&times);
    json_object_object_add(data, "averageProcessingTime",
                           average >= 0 ? json_object_new_int64(average) : NULL);
    /* Percent of finished deliveries that succeeded, one decimal. */
    json_object_object_add(
        data, "successRate",
        sent + failed > 0 ? json_object_new_double(round(1000.0 * (double)sent /
                                                         (double)(sent + failed)) / 10.0)
                          : NULL);
    /* The time the queries ended. */
    json_object_object_add(data, "generatedAt", json_object_new_string(ts));
    return data;
}


api_response_t api_cached_statistics(api_context_t *ctx, const api_request_t *req,
                                     const char *kind, const char *tenant_id,
                                     api_statistics_fn compute)
{
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    char key[64];
    snprintf(key, sizeof(key), "%s:%s", kind, tenant_id);
    int64_t now = wc_time_now_ms();
    char *cached = api_cache_get(ctx->stats_cache, key, now);
    if (cached != NULL) {
        json_object *data = json_tokener_parse(cached);
        free(cached);
        if (data != NULL) {
            return api_with_stats_max_age(ctx->cfg, api_ok(200, data, NULL));
        }
    }
    json_object *data = compute(ctx, tenant_id, now);
    if (data == NULL) {
        return api_unavailable("the database");
    }
    if (ctx->cfg->api_stats_cache_seconds > 0) {
        api_cache_put(ctx->stats_cache, key,
                      json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN),
                      now + ctx->cfg->api_stats_cache_seconds * 1000LL);
    }
    return api_with_stats_max_age(ctx->cfg, api_ok(200, data, NULL));
}

api_response_t api_handle_stats(api_context_t *ctx, const api_request_t *req,
                                const wc_principal_t *principal, const char *param)
{
    (void)param;
    return api_cached_statistics(ctx, req, "stats", principal->tenant_id, compute_stats);
}
