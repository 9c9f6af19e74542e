#include "child.h"

#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "wc_log.h"
#include "wc_topology.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The child starts clean: default dispositions, nothing blocked, then its own
 * handlers, and it dies with the master. */
static int reset_process_state(pid_t master)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    /* Restart interrupted calls: a drain signal must not fail the SMTP or
     * database exchange in progress. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        return -1;
    }
    /* The master may have died before prctl took effect. */
    return getppid() == master ? 0 : -1;
}

static void sleep_while_running(int ms)
{
    for (int waited = 0; waited < ms && !stop_requested; waited += 100) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Opens the consumer connection and subscribes to both priority queues. */
static int start_consuming(wc_broker_t *consumer, int prefetch)
{
    char err[256];
    if (wc_broker_ensure_open(consumer, err, sizeof(err)) != 0 ||
        wc_broker_consume(consumer, WC_QUEUE_HIGH, prefetch, err, sizeof(err)) != 0 ||
        wc_broker_consume(consumer, WC_QUEUE_STANDARD, prefetch, err, sizeof(err)) != 0) {
        wc_log_warn("cannot consume from RabbitMQ: %s", err);
        wc_broker_close(consumer);
        return -1;
    }
    return 0;
}

int worker_child_run(const wc_config_t *cfg, int slot)
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
    delivery_context_t ctx = {.cfg = cfg};
    snprintf(ctx.owner, sizeof(ctx.owner), "worker:%s:%d", host, (int)getpid());

    mongoc_init();
    int rc = 0;
    char err[512];
    ctx.store = wc_store_open(cfg->mongodb_uri, cfg->mongodb_db, "wavecom-worker", err, sizeof(err));
    ctx.email = provider_smtp_new(cfg);
    if (ctx.store == NULL || ctx.email == NULL) {
        if (ctx.store == NULL) {
            wc_log_error("WAVECOM_MONGODB_URI: %s", err);
        }
        rc = CHILD_EXIT_FATAL;
        goto out;
    }
    const wc_broker_options_t consumer_opts = {
        .url = cfg->amqp_url, .queue_type = cfg->queue_type, .name = ctx.owner,
        .confirms = false, .heartbeat_seconds = 60, .timeout_ms = 10000,
    };
    char publisher_name[160];
    snprintf(publisher_name, sizeof(publisher_name), "%s:publisher", ctx.owner);
    const wc_broker_options_t publisher_opts = {
        .url = cfg->amqp_url, .queue_type = cfg->queue_type, .name = publisher_name,
        .confirms = true, .heartbeat_seconds = 0, .timeout_ms = 10000,
    };
    ctx.consumer = wc_broker_new(&consumer_opts);
    ctx.publisher = wc_broker_new(&publisher_opts);
    if (ctx.consumer == NULL || ctx.publisher == NULL) {
        rc = 1;
        goto out;
    }
    wc_log_info("worker %d started as %s", slot, ctx.owner);

    int backoff_ms = 500;
    while (!stop_requested) {
        if (!wc_broker_is_open(ctx.consumer)) {
            if (start_consuming(ctx.consumer, cfg->worker_prefetch) != 0) {
                sleep_while_running(backoff_ms);
                backoff_ms = backoff_ms < 8000 ? backoff_ms * 2 : 8000;
                continue;
            }
            backoff_ms = 500;
        }
        amqp_envelope_t env;
        int got = wc_broker_next(ctx.consumer, 250, &env);
        if (got == 1) {
            delivery_handle(&ctx, &env);
            amqp_destroy_envelope(&env);
        }
        /* got == -1: the connection is closed; the loop reopens it. */
    }
    /* Draining: the message in hand was finished above. Closing the channel
     * returns the prefetched, unacked ones to their queues. */
    wc_log_info("stopping: in-flight work finished, returning unacked deliveries");

out:
    wc_broker_free(ctx.consumer);
    wc_broker_free(ctx.publisher);
    if (ctx.email != NULL) {
        ctx.email->destroy(ctx.email);
    }
    wc_store_close(ctx.store);
    mongoc_cleanup();
    return rc;
}
