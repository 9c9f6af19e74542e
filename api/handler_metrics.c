/*
 * GET /api/metrics: Prometheus text exposition (version 0.0.4), public like
 * /api/health (scrapers carry no tenant key; nothing here names a tenant).
 *
 * Two kinds of series. This process's own, counted as it works:
 * http_requests_total, http_request_duration_seconds,
 * notifications_created_total, and the group commit's counters. And the
 * system's, read from the database and the broker and kept for
 * WAVECOM_API_STATS_CACHE_SECONDS: notifications_sent_total,
 * notifications_failed_total and notifications_suppressed_total by type (every notification ever SENT,
 * FAILED or SUPPRESSED, so every API replica reports the same value: aggregate them with
 * max, not sum), notification_processing_duration_seconds (from each
 * notification's processingTimeMs), notifications_by_status, and queue_depth
 * by queue.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "handlers.h"
#include "intake.h"
#include "metrics.h"
#include "response.h"
#include "wc_store_counters.h"
#include "wc_time.h"
#include "wc_topology.h"

#define METRICS_MAX_BYTES (1024 * 1024)
#define DB_CACHE_KEY "metrics:system"

/* Upper bounds (seconds) of the processing time histogram. */
static const double processing_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define PROCESSING_BUCKETS (sizeof(processing_buckets) / sizeof(processing_buckets[0]))

typedef struct {
    uint64_t buckets[PROCESSING_BUCKETS];
    uint64_t count;
    double sum_seconds;
} processing_histogram_t;

static void add_processing_time(int64_t ms, int64_t count, void *arg)
{
    processing_histogram_t *h = arg;
    double seconds = (double)ms / 1000.0;
    for (size_t b = 0; b < PROCESSING_BUCKETS; b++) {
        h->buckets[b] += seconds <= processing_buckets[b] ? (uint64_t)count : 0;
    }
    h->count += (uint64_t)count;
    h->sum_seconds += seconds * (double)count;
}

static void render_depth(api_text_buf_t *out, const char *queue, long depth)
{
    if (depth >= 0) {
        api_text_printf(out, "queue_depth{queue=\"%s\"} %ld\n", queue, depth);
    }
}

/* The database- and broker-derived series; false when the database failed. */
static bool render_system(api_context_t *ctx, api_text_buf_t *out)
{
    wc_store_counts_t counts;
    processing_histogram_t hist = {0};
    if (wc_store_counters_totals(ctx->store, NULL, &counts) != WC_STORE_OK ||
        wc_store_processing_times(ctx->store, NULL, add_processing_time, &hist) != WC_STORE_OK) {
        return false;
    }
    static const struct {
        const char *name;
        wc_status_t status;
        const char *help;
    } finals[] = {
        {"notifications_sent_total", WC_STATUS_SENT, "Notifications delivered (status SENT)"},
        {"notifications_failed_total", WC_STATUS_FAILED,
         "Notifications that failed for good (status FAILED, in the dead-letter queue)"},
        {"notifications_suppressed_total", WC_STATUS_SUPPRESSED,
         "Notifications never sent because the recipient is suppressed or opted out (status "
         "SUPPRESSED)"},
    };
    for (size_t f = 0; f < sizeof(finals) / sizeof(finals[0]); f++) {
        api_text_printf(out, "# HELP %s %s, by type; from the database.\n# TYPE %s counter\n",
                        finals[f].name, finals[f].help, finals[f].name);
        for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
            int64_t n = 0;
            for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                n += counts.counts[finals[f].status][t][p];
            }
            api_text_printf(out, "%s{type=\"%s\"} %lld\n", finals[f].name,
                            wc_channel_name((wc_channel_t)t), (long long)n);
        }
    }
    api_text_printf(out, "# HELP notifications_by_status Notifications now in each status.\n"
                         "# TYPE notifications_by_status gauge\n");
    for (int s = 0; s < WC_STATUS_COUNT; s++) {
        int64_t n = 0;
        for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
            for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                n += counts.counts[s][t][p];
            }
        }
        api_text_printf(out, "notifications_by_status{status=\"%s\"} %lld\n",
                        wc_status_name((wc_status_t)s), (long long)n);
    }
    api_text_printf(out, "# HELP notification_processing_duration_seconds Time a worker took to "
                         "deliver a notification (processingTimeMs); from the database.\n"
                         "# TYPE notification_processing_duration_seconds histogram\n");
    for (size_t b = 0; b < PROCESSING_BUCKETS; b++) {
        api_text_printf(out, "notification_processing_duration_seconds_bucket{le=\"%g\"} %llu\n",
                        processing_buckets[b], (unsigned long long)hist.buckets[b]);
    }
    api_text_printf(out,
                    "notification_processing_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                    "notification_processing_duration_seconds_sum %.3f\n"
                    "notification_processing_duration_seconds_count %llu\n",
                    (unsigned long long)hist.count, hist.sum_seconds,
                    (unsigned long long)hist.count);

    api_queue_depths_t depths;
    api_publisher_queue_depths(ctx->publisher, &depths);
    api_text_printf(out, "# HELP queue_depth Messages ready in each queue (retry: every retry "
                         "tier together).\n# TYPE queue_depth gauge\n");
    render_depth(out, WC_QUEUE_HIGH, depths.high_priority);
    render_depth(out, WC_QUEUE_STANDARD, depths.standard);
    render_depth(out, "retry", depths.retry);
    render_depth(out, WC_QUEUE_DLQ, depths.dlq);
    return true;
}

/* One unlabelled series with its HELP and TYPE lines. */
static void render_series(api_text_buf_t *out, const char *name, const char *type,
                          const char *help, long long value)
{
    api_text_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,
                    value);
}

static void render_intake(api_context_t *ctx, api_text_buf_t *out)
{
    api_intake_stats_t s;
    api_intake_stats(ctx->intake, &s);
    render_series(out, "wavecom_intake_commits_total", "counter",
                  "Group commits (bulk insert + batch publish) done.", (long long)s.commits);
    render_series(out, "wavecom_intake_items_total", "counter",
                  "Notifications written by group commits.", (long long)s.items);
    render_series(out, "wavecom_intake_refused_total", "counter",
                  "Requests refused with 503 because the intake queue was full or stopping.",
                  (long long)s.refused);
    render_series(out, "wavecom_intake_waiting", "gauge",
                  "Notifications waiting for a group commit.", (long long)s.waiting);
}

static void render_db_pool(api_context_t *ctx, api_text_buf_t *out)
{
    wc_store_pool_stats_t pool;
    wc_store_pool_stats(ctx->store, &pool);
    render_series(out, "wavecom_db_pool_connections_in_use", "gauge",
                  "Database connections checked out now.", (long long)pool.in_use);
    render_series(out, "wavecom_db_pool_connections_max", "gauge",
                  "Database connections the pool may open.", (long long)pool.max);
    render_series(out, "wavecom_db_pool_waits_total", "counter",
                  "Checkouts that found every database connection busy and waited.",
                  (long long)pool.waits);
}

api_response_t api_handle_metrics(api_context_t *ctx, const api_request_t *req,
                                  const wc_principal_t *principal, const char *param)
{
    api_text_buf_t out;
    api_text_buf_init(&out, METRICS_MAX_BYTES);
    api_metrics_render(ctx->metrics, &out);
    render_intake(ctx, &out);
    render_db_pool(ctx, &out);

    int64_t now = wc_time_now_ms();
    char *system = api_cache_get(ctx->stats_cache, DB_CACHE_KEY, now);
    if (system == NULL) {
        api_text_buf_t fresh;
        api_text_buf_init(&fresh, METRICS_MAX_BYTES);
        if (render_system(ctx, &fresh) && !fresh.overflow && fresh.data != NULL) {
            if (ctx->cfg->api_stats_cache_seconds > 0) {
                api_cache_put(ctx->stats_cache, DB_CACHE_KEY, fresh.data,
                              now + ctx->cfg->api_stats_cache_seconds * 1000LL);
            }
            system = fresh.data;
            fresh.data = NULL;
        }
        free(fresh.data);
    }
    if (system != NULL) {
        api_text_printf(&out, "%s", system);
        free(system);
    } else {
        /* The process's own series are still worth a scrape. */
        api_text_printf(&out, "# the database is unavailable: system series omitted\n");
    }
    if (out.overflow || out.data == NULL) {
        free(out.data);
        return api_unavailable("the metrics exposition");
    }
    return api_text(200, out.data, "text/plain; version=0.0.4; charset=utf-8");
}
