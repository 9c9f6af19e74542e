#include "child.h"

#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "delivery.h"
#include "host_report.h"
#include "http_client.h"
#include "wc_log.h"
#include "wc_signals.h"
#include "wc_store_counters.h"
#include "wc_time.h"
#include "wc_topology.h"

/* SIGTERM (from the master, or PR_SET_PDEATHSIG when it dies) or SIGINT asks
 * for a drain; it stays asked. */
static bool stop_requested(void)
{
    return wc_signals_arrived(SIGTERM) || wc_signals_arrived(SIGINT);
}

/* The child starts clean: default dispositions, only its own signals blocked
 * (they wait on its own wake-up descriptor, never the master's), and it dies
 * with the master. Blocked signals never interrupt the SMTP or database
 * exchange in progress. */
static int reset_process_state(pid_t master)
{
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    const int stop_signals[] = {SIGTERM, SIGINT};
    if (wc_signals_open(stop_signals, sizeof(stop_signals) / sizeof(stop_signals[0])) != 0) {
        return -1;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        return -1;
    }
    /* The master may have died before prctl took effect. */
    return getppid() == master ? 0 : -1;
}

/* Opens the consumer connection and subscribes to the priority queues. Each
 * queue has its own consumer and prefetch, so a flood of standard work never
 * holds back high-priority messages. */
static int start_consuming(wc_broker_t *consumer, const wc_config_t *cfg)
{
    char err[256];
    if (wc_broker_ensure_open(consumer, err, sizeof(err)) != 0 ||
        wc_broker_consume(consumer, WC_QUEUE_HIGH, cfg->worker_prefetch, err, sizeof(err)) != 0 ||
        (!cfg->worker_high_only &&
         wc_broker_consume(consumer, WC_QUEUE_STANDARD, cfg->worker_prefetch, err, sizeof(err)) != 0)) {
        wc_log_warn("cannot consume from RabbitMQ: %s", err);
        wc_broker_close(consumer);
        return -1;
    }
    return 0;
}

/* Deliveries taken per turn of the loop before the transfers get attention. */
#define ACCEPT_BATCH 64

static void create_providers(delivery_context_t *ctx, const provider_env_t *env)
{
#define CONSTRUCT(kind, name, channel, type, platform, breakers, required, constructor)        \
    ctx->providers[PROVIDER_##kind] = constructor(env);
    WORKER_PROVIDERS(CONSTRUCT)
#undef CONSTRUCT
}

/* False when a provider the table marks required is not configured. */
static bool required_providers_present(const delivery_context_t *ctx)
{
    for (int kind = 0; kind < PROVIDER_COUNT; kind++) {
        if (worker_providers[kind].required && ctx->providers[kind] == NULL) {
            return false;
        }
    }
    return true;
}

/* Waits up to `timeout_ms` for the transfers, the broker (`broker_fd`, -1
 * for none), the database steps, a signal or a provider's own descriptor,
 * then collects the signals and runs
 * what the database steps and the providers that work on threads of their
 * own finished, on this thread. */
static void run_io(delivery_context_t *ctx, http_client_t *http, int timeout_ms, int broker_fd)
{
    _Static_assert(3 + PROVIDER_COUNT <= HTTP_CLIENT_MAX_EXTRA_FDS, "too many descriptors to poll");
    int fds[3 + PROVIDER_COUNT];
    size_t n = 0;
    fds[n++] = broker_fd;
    fds[n++] = store_pool_fd(ctx->store_pool);
    fds[n++] = wc_signals_fd(); /* a drain request ends the wait at once */
    for (int i = 0; i < PROVIDER_COUNT; i++) {
        provider_t *p = ctx->providers[i];
        if (p != NULL && p->ready_fd != NULL) {
            fds[n++] = p->ready_fd(p);
        }
    }
    http_client_run(http, timeout_ms, fds, n);
    wc_signals_collect();
    store_pool_dispatch(ctx->store_pool);
    for (int i = 0; i < PROVIDER_COUNT; i++) {
        provider_t *p = ctx->providers[i];
        if (p != NULL && p->on_ready != NULL) {
            p->on_ready(p);
        }
    }
}

/* The stats counters' changes wait in the store up to a second
 * (wc_store_trail_count); while deliveries go on, the trail writes flush
 * them, and this writes the last ones once the child falls quiet. One at a
 * time, on a store thread. */
typedef struct {
    store_op_t op;
    bool in_flight;
    int64_t next_ms;
    endpoint_health_t endpoints; /* the endpoints' attempts this flush writes */
} counting_flush_t;

static void run_counting_flush(store_op_t *op, wc_store_t *store)
{
    counting_flush_t *f = op->arg;
    (void)wc_store_counters_flush(store, false);
    /* Health counts lost to a database error are not tried again: the next
     * flush brings newer ones, and the streak only needs one failure. */
    (void)wc_store_endpoint_health_add(store, f->endpoints.entries, f->endpoints.n);
}

static void counting_flush_done(store_op_t *op)
{
    ((counting_flush_t *)op->arg)->in_flight = false;
}

static void counting_flush_tick(counting_flush_t *f, delivery_context_t *ctx, int64_t now_ms)
{
    if (f->in_flight || now_ms < f->next_ms) {
        return;
    }
    store_pool_t *pool = ctx->store_pool;
    endpoint_health_take(&ctx->endpoint_health, &f->endpoints);
    f->next_ms = now_ms + 1000;
    f->op = (store_op_t){.run = run_counting_flush, .done = counting_flush_done, .arg = f};
    f->in_flight = store_pool_submit(pool, &f->op) == 0;
}

static void destroy_providers(delivery_context_t *ctx)
{
    for (int i = 0; i < PROVIDER_COUNT; i++) {
        provider_free(ctx->providers[i]);
    }
}

int worker_child_run(const wc_config_t *cfg, int slot, worker_breakers_t *breakers,
                     worker_metrics_t *metrics)
{
    pid_t master = getppid();
    wc_log_level_t level = WC_LOG_INFO;
    wc_log_level_parse(cfg->log_level, &level);
    wc_log_init("worker", level);
    if (reset_process_state(master) != 0) {
        return 1;
    }

    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    counting_flush_t counting = {0};
    delivery_context_t ctx = {
        .cfg = cfg,
        .breakers = breakers,
        .metrics = metrics,
        .slot = slot,
        .breaker_policy = {.threshold = cfg->breaker_threshold,
                           .open_ms = cfg->breaker_open_seconds * 1000LL},
    };
    snprintf(ctx.owner, sizeof(ctx.owner), "worker:%s:%d", host, (int)getpid());

    mongoc_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 0;
    char err[512];
    host_report_t *report = NULL;
    const http_client_options_t http_opts = {
        .ca_file = cfg->provider_ca_file,
        .timeout_ms = cfg->provider_timeout_ms,
        .connect_timeout_ms = cfg->provider_timeout_ms < 5000 ? cfg->provider_timeout_ms : 5000,
    };
    http_client_t *http = http_client_new(&http_opts);
    ctx.store = wc_store_open(cfg->mongodb_uri, cfg->mongodb_db, "wavecom-worker", err, sizeof(err));
    if (ctx.store != NULL) {
        (void)wc_store_set_secrets_key(ctx.store, cfg->secrets_key); /* checked by the config */
    }
    provider_env_t env = {.cfg = cfg, .http = http, .store = ctx.store};
    if (ctx.store == NULL || http == NULL) {
        wc_log_error("cannot start: %s", ctx.store == NULL ? err : "no HTTP client");
        rc = CHILD_EXIT_FATAL;
        goto out;
    }
    worker_metrics_track_store_pool(ctx.metrics, ctx.slot, ctx.store);
    create_providers(&ctx, &env);
    ctx.sms_order_n =
        worker_provider_order_parse(WC_CHANNEL_SMS, cfg->sms_providers, ctx.sms_order, err,
                                    sizeof(err));
    if (ctx.sms_order_n < 0) {
        wc_log_error("cannot start: WAVECOM_SMS_PROVIDERS: %s", err);
        rc = CHILD_EXIT_FATAL;
        goto out;
    }
    ctx.email_order_n = worker_provider_order_parse(WC_CHANNEL_EMAIL, cfg->email_providers,
                                                    ctx.email_order, err, sizeof(err));
    if (ctx.email_order_n < 0) {
        wc_log_error("cannot start: WAVECOM_EMAIL_PROVIDERS: %s", err);
        rc = CHILD_EXIT_FATAL;
        goto out;
    }
    if (!required_providers_present(&ctx)) {
        rc = CHILD_EXIT_FATAL;
        goto out;
    }
    ctx.store_pool = store_pool_start(ctx.store, cfg->worker_store_threads);
    ctx.trail = ctx.store_pool != NULL ? trail_batch_new(ctx.store_pool) : NULL;
    ctx.pace = endpoint_pace_new();
    if (ctx.trail == NULL || ctx.pace == NULL) {
        rc = 1;
        goto out;
    }
    /* The breakers are the host's, not the child's: one child reports them. */
    if (slot == 0) {
        report = host_report_new(cfg, breakers);
        if (report == NULL) {
            rc = 1;
            goto out;
        }
    }
    const wc_broker_options_t consumer_opts = {
        .url = cfg->amqp_url, .queue_type = cfg->queue_type,
        .quorum_group_size = cfg->quorum_group_size, .name = ctx.owner,
        .confirms = false, .heartbeat_seconds = 60, .timeout_ms = 10000,
    };
    char publisher_name[160];
    snprintf(publisher_name, sizeof(publisher_name), "%s:publisher", ctx.owner);
    const wc_broker_options_t publisher_opts = {
        .url = cfg->amqp_url, .queue_type = cfg->queue_type,
        .quorum_group_size = cfg->quorum_group_size, .name = publisher_name,
        .confirms = true, .heartbeat_seconds = 0, .timeout_ms = 10000,
    };
    ctx.consumer = wc_broker_new(&consumer_opts);
    ctx.publisher = wc_broker_new(&publisher_opts);
    if (ctx.consumer == NULL || ctx.publisher == NULL) {
        rc = 1;
        goto out;
    }
    wc_log_info("worker %d started as %s", slot, ctx.owner);

    /* Jobs in flight are bounded by what the broker lets us hold. */
    const int max_in_flight = cfg->worker_prefetch * 2;
    int backoff_ms = 500;
    bool draining_logged = false;
    while (!stop_requested() || ctx.in_flight > 0) {
        if (stop_requested() && !draining_logged) {
            wc_log_info("draining: %d deliveries in flight", ctx.in_flight);
            draining_logged = true;
        }
        if (report != NULL) {
            host_report_tick(report, ctx.store_pool, wc_time_monotonic_ms());
        }
        counting_flush_tick(&counting, &ctx, wc_time_monotonic_ms());
        ctx.draining = stop_requested();
        delivery_tick(&ctx);
        if (!stop_requested() && !wc_broker_is_open(ctx.consumer)) {
            if (start_consuming(ctx.consumer, cfg) != 0) {
                run_io(&ctx, http, 0, -1);
                wc_signals_wait(backoff_ms); /* ended early by a drain request */
                backoff_ms = backoff_ms < 8000 ? backoff_ms * 2 : 8000;
                continue;
            }
            ctx.consumer_generation++;
            backoff_ms = 500;
        }
        bool may_take = !stop_requested() && wc_broker_is_open(ctx.consumer) &&
                        wc_time_monotonic_ms() >= ctx.paused_until_ms &&
                        ctx.in_flight < max_in_flight;
        for (int i = 0; may_take && i < ACCEPT_BATCH && ctx.in_flight < max_in_flight; i++) {
            amqp_envelope_t envelope;
            int got = wc_broker_next(ctx.consumer, 0, &envelope);
            if (got != 1) {
                break; /* nothing waiting, or the connection failed (reopened above) */
            }
            delivery_accept(&ctx, &envelope);
            amqp_destroy_envelope(&envelope);
        }
        /* Sleep until a transfer or the broker has something, unless data
         * already waits in rabbitmq-c's buffer. */
        bool ready = may_take && wc_broker_has_buffered(ctx.consumer);
        run_io(&ctx, http, ready ? 0 : delivery_next_due_ms(&ctx, wc_time_monotonic_ms(), 100),
               may_take ? wc_broker_fd(ctx.consumer) : -1);
    }
    /* Drained: every job in flight has been recorded and acked. Closing the
     * channel returns the prefetched, unacked messages to their queues. */
    wc_log_info("stopping: in-flight work finished, returning unacked deliveries");

out:
    store_pool_free(ctx.store_pool);
    if (ctx.store != NULL && ctx.endpoint_health.n > 0) {
        /* The attempts since the last flush, with nothing else left to run. */
        (void)wc_store_endpoint_health_add(ctx.store, ctx.endpoint_health.entries,
                                           ctx.endpoint_health.n);
    }
    endpoint_health_free(&ctx.endpoint_health);
    endpoint_health_free(&counting.endpoints); /* after the pool, whose last flush used it */
    trail_batch_free(ctx.trail); /* after the pool, whose last write may use it */
    endpoint_pace_free(ctx.pace); /* after the pool, whose threads read it */
    host_report_free(report); /* after the pool, which may have held it */
    wc_broker_free(ctx.consumer);
    wc_broker_free(ctx.publisher);
    destroy_providers(&ctx);
    http_client_free(http);
    wc_store_close(ctx.store);
    curl_global_cleanup();
    mongoc_cleanup();
    return rc;
}
