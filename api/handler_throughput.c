/*
 * GET /api/notifications/stats/throughput: what the dashboard's chart and
 * latency figures show. Per minute over the last hour: how many of the
 * tenant's notifications were created, sent and failed, from the throughput
 * counters (at most three reads by scope, wc_store_counters.h); and the
 * processing time of the newest SENT notifications as average, p50, p95 and
 * p99 (milliseconds, wc_store_recent_processing_times). Kept in the
 * statistics cache for WAVECOM_API_STATS_CACHE_SECONDS, like GET
 * .../stats/system.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dashboard.h"
#include "handlers.h"
#include "response.h"
#include "wc_store_counters.h"
#include "wc_time.h"

#define WINDOW_MINUTES 60
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

static void add_minute(int64_t minute_ms, int64_t created, int64_t sent, int64_t failed,
                       void *arg)
{
    buckets_t *b = arg;
    count_in(b->created, b, minute_ms, created);
    count_in(b->sent, b, minute_ms, sent);
    count_in(b->failed, b, minute_ms, failed);
}

/* Processing times as (ms, count) pairs, kept to find percentiles. */
typedef struct {
    struct {
        int64_t ms;
        int64_t count;
    } *pairs;
    size_t n;
    size_t cap;
    int64_t total;
    int64_t sum_ms;
    bool failed;
} times_t;

static void add_time(int64_t ms, int64_t count, void *arg)
{
    times_t *t = arg;
    if (t->failed) {
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap == 0 ? 256 : t->cap * 2;
        void *grown = realloc(t->pairs, cap * sizeof(*t->pairs));
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->pairs = grown;
        t->cap = cap;
    }
    t->pairs[t->n].ms = ms;
    t->pairs[t->n].count = count;
    t->n++;
    t->total += count;
    t->sum_ms += ms * count;
}

static int by_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The smallest time at or below which `pct` percent of the notifications
 * were processed (nearest rank); null when none has been. */
static json_object *percentile(const times_t *t, int pct)
{
    if (t->total == 0) {
        return NULL;
    }
    int64_t rank = (t->total * pct + 99) / 100;
    int64_t seen = 0;
    for (size_t i = 0; i < t->n; i++) {
        seen += t->pairs[i].count;
        if (seen >= rank) {
            return json_object_new_int64(t->pairs[i].ms);
        }
    }
    return json_object_new_int64(t->pairs[t->n - 1].ms);
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
    times_t times = {0};
    json_object *data = NULL;
    if (b == NULL) {
        return NULL;
    }
    /* The current, partial minute is the last bucket. */
    b->start_ms = (now / BUCKET_MS + 1 - WINDOW_MINUTES) * BUCKET_MS;
    if (wc_store_counters_throughput(ctx->store, tenant_id, b->start_ms,
                                     b->start_ms + WINDOW_MINUTES * BUCKET_MS, add_minute,
                                     b) != WC_STORE_OK ||
        wc_store_recent_processing_times(ctx->store, tenant_id, add_time, &times) !=
            WC_STORE_OK ||
        times.failed) {
        goto out;
    }
    if (times.n > 0) {
        qsort(times.pairs, times.n, sizeof(*times.pairs), by_ms);
    }
    char start[WC_ISO8601_LEN];
    wc_time_format_iso8601(b->start_ms, start, sizeof(start));
    json_object *processing = json_object_new_object();
    json_object_object_add(processing, "count", json_object_new_int64(times.total));
    json_object_object_add(processing, "averageMs",
                           times.total > 0 ? json_object_new_int64(
                                                 (times.sum_ms + times.total / 2) / times.total)
                                           : NULL);
    json_object_object_add(processing, "p50Ms", percentile(&times, 50));
    json_object_object_add(processing, "p95Ms", percentile(&times, 95));
    json_object_object_add(processing, "p99Ms", percentile(&times, 99));
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
    free(times.pairs);
    free(b);
    return data;
}


api_response_t api_handle_throughput(api_context_t *ctx, const api_request_t *req,
                                     const wc_principal_t *principal, const char *param)
{
    (void)param;
    return api_cached_statistics(ctx, req, "throughput", principal->tenant_id, compute);
}
