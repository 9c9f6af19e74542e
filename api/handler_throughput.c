/*
 * GET /api/notifications/stats/throughput: what the dashboard's chart and
 * latency figures show. Per minute over the last hour: how many of the
 * tenant's notifications were created, sent and failed; and the processing
 * time of that hour's deliveries as average, p50, p95 and p99 (milliseconds;
 * the average exact, the percentiles within 9 %, wc_duration_histogram.h).
 * All of it from the throughput counters (recent_minutes.h: the two newest
 * minutes by _id, the closed ones once a minute per tenant). Kept in the statistics cache for
 * WAVECOM_API_STATS_CACHE_SECONDS, like GET .../stats/system.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dashboard.h"
#include "handlers.h"
#include "recent_minutes.h"
#include "response.h"
#include "wc_store_counters.h"
#include "wc_time.h"

#define WINDOW_MINUTES API_RECENT_MINUTES
#define BUCKET_MS 60000LL

typedef struct {
    int64_t start_ms; /* the first bucket's start, a whole minute */
    int64_t created[WINDOW_MINUTES];
    int64_t sent[WINDOW_MINUTES];
    int64_t failed[WINDOW_MINUTES];
} buckets_t;

static void count_in(int64_t *series, const buckets_t *b, int64_t ms, int64_t n)
{
    if (ms < b->start_ms) {
        return;
    }
    int64_t i = (ms - b->start_ms) / BUCKET_MS;
    if (i < WINDOW_MINUTES) {
        series[i] += n;
    }
}

static void add_minute(const wc_throughput_minute_t *m, void *arg)
{
    buckets_t *b = arg;
    count_in(b->created, b, m->start_ms, m->created);
    count_in(b->sent, b, m->start_ms, m->sent);
    count_in(b->failed, b, m->start_ms, m->failed);
}

/* A percentile of `times` in milliseconds; null when nothing was delivered. */
static json_object *percentile(const wc_duration_histogram_t *times, int pct)
{
    int64_t ms = wc_duration_histogram_percentile(times, pct);
    return ms >= 0 ? json_object_new_int64(ms) : NULL;
}

static json_object *series_json(const int64_t *series)
{
    json_object *a = json_object_new_array_ext(WINDOW_MINUTES);
    for (int i = 0; i < WINDOW_MINUTES; i++) {
        json_object_array_add(a, json_object_new_int64(series[i]));
    }
    return a;
}

/* NULL when the database failed. */
static json_object *compute(api_context_t *ctx, const char *tenant_id, int64_t now)
{
    buckets_t *b = calloc(1, sizeof(*b));
    wc_duration_histogram_t *times = calloc(1, sizeof(*times));
    json_object *data = NULL;
    int64_t end;
    if (b == NULL || times == NULL) {
        goto out;
    }
    api_recent_window(now, &b->start_ms, &end);
    if (api_recent_minutes_read(ctx->recent_minutes, tenant_id, now, add_minute, b, times) !=
        WC_STORE_OK) {
        goto out;
    }
    char start[WC_ISO8601_LEN];
    wc_time_format_iso8601(b->start_ms, start, sizeof(start));
    json_object *processing = json_object_new_object();
    int64_t average = wc_duration_histogram_average(times);
    json_object_object_add(processing, "count", json_object_new_int64(times->n));
    json_object_object_add(processing, "averageMs",
                           average >= 0 ? json_object_new_int64(average) : NULL);
    json_object_object_add(processing, "p50Ms", percentile(times, 50));
    json_object_object_add(processing, "p95Ms", percentile(times, 95));
    json_object_object_add(processing, "p99Ms", percentile(times, 99));
    data = json_object_new_object();
    json_object_object_add(data, "start", json_object_new_string(start));
    json_object_object_add(data, "bucketSeconds", json_object_new_int64(BUCKET_MS / 1000));
    json_object_object_add(data, "created", series_json(b->created));
    json_object_object_add(data, "sent", series_json(b->sent));
    json_object_object_add(data, "failed", series_json(b->failed));
    /* Counters are never cut short; kept for clients of the earlier form. */
    json_object_object_add(data, "truncated", json_object_new_boolean(false));
    json_object_object_add(data, "processingTime", processing);
out:
    free(times);
    free(b);
    return data;
}


api_response_t api_handle_throughput(api_context_t *ctx, const api_request_t *req,
                                     const wc_principal_t *principal, const char *param)
{
    (void)param;
    return api_cached_statistics(ctx, req, "throughput", principal->tenant_id, compute);
}
