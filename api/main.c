/*
 * wavecom-api: the HTTP intake. Validates notifications, persists them,
 * publishes them with confirms, and answers reads.
 */
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cache.h"
#include "intake.h"
#include "rate_limits.h"
#include "recent_minutes.h"
#include "tenant_versions.h"
#include "bucket_cache.h"
#include "metrics.h"
#include "scheduler.h"
#include "quota.h"
#include "server.h"
#include "usage.h"
#include "wc_log.h"
#include "wc_signals.h"
#include "wc_store_counters.h"
#include "wc_store_templates.h"
#include "wc_store_usage.h"
#include "wc_time.h"

/* The database may still be starting; indexes are retried this long. */
#define INDEX_RETRY_SECONDS 30

/* Entries of the statistics cache (one per tenant polling) and the key cache. */
#define STATS_CACHE_ENTRIES 256
/* Answers of ~10 KB: at most ~10 MB. */
#define LIST_CACHE_ENTRIES 1024
/* Tenants whose closed throughput minutes are kept (3 KB each). */
#define RECENT_MINUTES_TENANTS 1024
#define AUTH_CACHE_ENTRIES 1024
/* About 20,000 counter buckets (1.6 KB each): every day, hour and minute
 * list of a dozen busy tenants' recent walks. */
#define BUCKET_CACHE_BYTES (32u << 20)

static void usage(FILE *out)
{
    fprintf(out, "Usage: wavecom-api [--help]\n\n"
                 "Serves the WaveCom REST API. Configuration comes from the environment.\n\n");
    wc_config_print_help(out);
}

/* Bounded by wall time, not attempts: one attempt can itself wait for the
 * driver's socket timeout. */
static void ensure_indexes(wc_store_t *store)
{
    int64_t deadline = wc_time_monotonic_ms() + INDEX_RETRY_SECONDS * 1000LL;
    while (wc_time_monotonic_ms() < deadline) {
        if (wc_store_ensure_indexes(store) == WC_STORE_OK &&
            wc_store_ensure_intake_indexes(store) == WC_STORE_OK &&
            wc_store_ensure_audit_indexes(store) == WC_STORE_OK &&
            wc_store_ensure_list_indexes(store) == WC_STORE_OK &&
            wc_store_ensure_usage_indexes(store) == WC_STORE_OK &&
            wc_store_ensure_template_indexes(store) == WC_STORE_OK) {
            return;
        }
        sleep(1);
    }
    wc_log_warn("indexes not ensured; queries work but may be slow until the next start");
}

/* The store as the reader of api_recent_minutes. */
/* The store as the reader of api_tenant_versions. */
static wc_store_status_t read_version(void *store, const char *tenant_id, int64_t *version,
                                      wc_store_counts_t *counts)
{
    return wc_store_counters_version(store, tenant_id, version, counts);
}

/* A flush of this process's counts forgets the versions it makes stale. */
static void forget_version(const char *tenant_id, void *versions)
{
    api_tenant_versions_forget(versions, tenant_id);
}

static wc_store_status_t read_minutes(void *store, const char *tenant_id, int64_t since_ms,
                                      int64_t until_ms,
                                      void (*each)(const wc_throughput_minute_t *minute, void *arg),
                                      void *arg, wc_duration_histogram_t *times)
{
    return wc_store_counters_throughput(store, tenant_id, since_ms, until_ms, each, arg, times);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }

    wc_config_t cfg;
    char err[512];
    if (wc_config_load(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "wavecom-api: configuration error: %s\n", err);
        return 2;
    }
    wc_log_level_t level = WC_LOG_INFO;
    wc_log_level_parse(cfg.log_level, &level);
    wc_log_init("api", level);

    /* Before any thread exists, so that every thread inherits the mask and
     * the stop signals reach only the wait below. */
    const int stop_signals[] = {SIGTERM, SIGINT};
    if (wc_signals_open(stop_signals, sizeof(stop_signals) / sizeof(stop_signals[0])) != 0) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    mongoc_init();
    int rc = 1;
    api_context_t ctx = {.cfg = &cfg, .started_ms = wc_time_now_ms()};
    api_server_t *server = NULL;
    api_scheduler_t *scheduler = NULL;

    ctx.store = wc_store_open(cfg.mongodb_uri, cfg.mongodb_db, "wavecom-api", err, sizeof(err));
    if (ctx.store == NULL) {
        wc_log_error("WAVECOM_MONGODB_URI: %s", err);
        goto out;
    }
    ensure_indexes(ctx.store);
    ctx.publisher = api_publisher_new(&cfg, "wavecom-api");
    ctx.metrics = api_metrics_new();
    ctx.stats_cache = api_cache_new(STATS_CACHE_ENTRIES);
    ctx.auth_cache = api_cache_new(AUTH_CACHE_ENTRIES);
    ctx.list_cache = api_cache_new(LIST_CACHE_ENTRIES);
    ctx.recent_minutes =
        api_recent_minutes_new(RECENT_MINUTES_TENANTS, read_minutes, ctx.store);
    ctx.versions = api_tenant_versions_new(RECENT_MINUTES_TENANTS, read_version, ctx.store);
    ctx.buckets = api_bucket_cache_new(BUCKET_CACHE_BYTES, cfg.api_list_cache_seconds * 1000LL);
    ctx.limits = api_limits_new(&cfg, ctx.store);
    if (ctx.publisher == NULL || ctx.metrics == NULL || ctx.stats_cache == NULL ||
        ctx.auth_cache == NULL || ctx.list_cache == NULL || ctx.limits == NULL ||
        ctx.recent_minutes == NULL || ctx.versions == NULL || ctx.buckets == NULL) {
        wc_log_error("cannot set up the API (out of memory)");
        goto out;
    }
    wc_store_on_counted(ctx.store, forget_version, ctx.versions);
    if (!api_publisher_probe(ctx.publisher)) {
        wc_log_warn("RabbitMQ not reachable yet; publishes will retry the connection");
    }
    ctx.usage = api_usage_start(&cfg, ctx.store);
    ctx.quota = api_quota_new(&cfg, ctx.store);
    if (ctx.usage == NULL || ctx.quota == NULL) {
        wc_log_error("cannot set up usage counting and quotas (out of memory)");
        goto out;
    }
    ctx.intake = api_intake_start(&cfg, ctx.store);
    if (ctx.intake == NULL) {
        goto out;
    }
    server = api_server_start(&ctx);
    if (server == NULL) {
        goto out;
    }
    if (cfg.scheduler_enabled) {
        scheduler = api_scheduler_start(&ctx);
        if (scheduler == NULL) {
            goto out;
        }
    }

    while (!wc_signals_arrived(SIGTERM) && !wc_signals_arrived(SIGINT)) {
        wc_signals_wait(-1);
    }
    wc_log_info("received %s; finishing requests in progress",
                strsignal(wc_signals_arrived(SIGTERM) ? SIGTERM : SIGINT));
    rc = 0;

out:
    /* New connections stop first; the intake then commits what it holds and
     * resumes every waiting request, which the server answers before it
     * stops. */
    api_server_quiesce(server);
    api_scheduler_stop(scheduler);
    api_intake_stop(ctx.intake);
    api_server_stop(server);
    api_usage_stop(ctx.usage); /* after the server: the last answers are counted */
    api_quota_free(ctx.quota);  /* gives unused reservations back */
    api_intake_free(ctx.intake);
    api_cache_free(ctx.auth_cache);
    api_cache_free(ctx.list_cache);
    api_recent_minutes_free(ctx.recent_minutes);
    api_bucket_cache_free(ctx.buckets);
    api_limits_free(ctx.limits);
    api_cache_free(ctx.stats_cache);
    api_metrics_free(ctx.metrics);
    api_publisher_free(ctx.publisher);
    wc_store_close(ctx.store); /* its last flush forgets versions: free them after */
    api_tenant_versions_free(ctx.versions);
    mongoc_cleanup();
    wc_log_info("stopped");
    return rc;
}
