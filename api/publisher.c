#include "publisher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "wc_log.h"
#include "wc_publish.h"
#include "wc_time.h"
#include "wc_topology.h"

/* A block notice counts this long after the last one, unless a publish
 * succeeds before (an alarm that cleared with no publish since would
 * otherwise be reported for ever). */
#define BLOCKED_REPORT_MS 10000

/* When any publisher of this process last met a blocked connection; 0 when
 * a publish has succeeded since. One value for the process: the alarm is the
 * broker's, not a connection's. */
static _Atomic int64_t last_blocked_ms;

/* Notes what the broker said about a publish for api_publisher_blocked(). */
static void note_outcome(wc_broker_status_t status)
{
    if (status == WC_BROKER_BLOCKED) {
        atomic_store(&last_blocked_ms, wc_time_monotonic_ms());
    } else if (status == WC_BROKER_OK) {
        atomic_store(&last_blocked_ms, 0);
    }
}

bool api_publisher_blocked(void)
{
    int64_t at = atomic_load(&last_blocked_ms);
    return at != 0 && wc_time_monotonic_ms() - at < BLOCKED_REPORT_MS;
}

/* Bounds of the pause between attempts to reach an unreachable broker. */
#define OPEN_BACKOFF_MIN_MS 250
#define OPEN_BACKOFF_MAX_MS 5000

struct api_publisher {
    pthread_mutex_t lock;
    wc_broker_t *broker;
    int backoff_ms;      /* 0 while the broker is reachable */
    int64_t retry_at_ms; /* monotonic; no connection attempt before */
    int bound_ms;        /* WAVECOM_PUBLISH_TIMEOUT_SECONDS: one publish call, whole */
};

api_publisher_t *api_publisher_new(const wc_config_t *cfg, const char *name)
{
    api_publisher_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    const wc_broker_options_t opts = {
        .url = cfg->amqp_url,
        .queue_type = cfg->queue_type,
        .quorum_group_size = cfg->quorum_group_size,
        .name = name,
        .confirms = true,
        .heartbeat_seconds = 0, /* only used under the lock; a dead peer shows as a timeout */
        .timeout_ms = cfg->publish_timeout_seconds * 1000,
    };
    p->broker = wc_broker_new(&opts);
    if (p->broker == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
        wc_broker_free(p->broker);
        free(p);
        return NULL;
    }
    p->bound_ms = opts.timeout_ms;
    return p;
}

void api_publisher_free(api_publisher_t *p)
{
    if (p == NULL) {
        return;
    }
    wc_broker_free(p->broker);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Called with the lock held. While the broker is unreachable, attempts are
 * spaced out (doubling up to OPEN_BACKOFF_MAX_MS) and calls in between fail
 * at once: a request then hears 503 without first waiting for a connect
 * timeout, and the broker is not hammered by every request as it restarts. */
static bool open_locked(api_publisher_t *p)
{
    if (wc_broker_is_open(p->broker)) {
        return true;
    }
    int64_t now = wc_time_monotonic_ms();
    if (now < p->retry_at_ms) {
        return false;
    }
    char err[256];
    if (wc_broker_ensure_open(p->broker, err, sizeof(err)) != 0) {
        p->backoff_ms = p->backoff_ms == 0 ? OPEN_BACKOFF_MIN_MS : p->backoff_ms * 2;
        if (p->backoff_ms > OPEN_BACKOFF_MAX_MS) {
            p->backoff_ms = OPEN_BACKOFF_MAX_MS;
        }
        p->retry_at_ms = wc_time_monotonic_ms() + p->backoff_ms;
        wc_log_warn("RabbitMQ unavailable (next attempt in %d ms): %s", p->backoff_ms, err);
        return false;
    }
    if (p->backoff_ms != 0) {
        wc_log_info("RabbitMQ connection restored");
    }
    p->backoff_ms = 0;
    p->retry_at_ms = 0;
    return true;
}

bool api_publisher_ready(api_publisher_t *p)
{
    if (api_publisher_blocked()) {
        return false;
    }
    pthread_mutex_lock(&p->lock);
    bool ready = wc_broker_is_open(p->broker) || wc_time_monotonic_ms() >= p->retry_at_ms;
    pthread_mutex_unlock(&p->lock);
    return ready;
}

wc_broker_status_t api_publisher_publish(api_publisher_t *p, const wc_broker_message_t *msg)
{
    pthread_mutex_lock(&p->lock);
    /* Both attempts, and the reconnect between them, within one bound: the
     * one the documentation promises a client. */
    wc_broker_set_deadline(p->broker, wc_time_monotonic_ms() + p->bound_ms);
    wc_broker_status_t status = WC_BROKER_ERROR;
    for (int attempt = 0; attempt < 2 && status == WC_BROKER_ERROR; attempt++) {
        if (!open_locked(p)) {
            break;
        }
        status = wc_broker_publish(p->broker, msg);
    }
    wc_broker_set_deadline(p->broker, 0);
    pthread_mutex_unlock(&p->lock);
    note_outcome(status);
    return status;
}

wc_broker_status_t api_publisher_publish_batch(api_publisher_t *p, const wc_broker_message_t *msgs,
                                               size_t n, wc_broker_status_t *statuses)
{
    for (size_t i = 0; i < n; i++) {
        statuses[i] = WC_BROKER_ERROR;
    }
    if (n == 0) {
        return WC_BROKER_OK;
    }
    wc_broker_message_t *again = malloc(n * sizeof(*again));
    size_t *where = malloc(n * sizeof(*where));
    wc_broker_status_t *again_status = malloc(n * sizeof(*again_status));
    if (again == NULL || where == NULL || again_status == NULL) {
        free(again);
        free(where);
        free(again_status);
        return WC_BROKER_ERROR;
    }
    pthread_mutex_lock(&p->lock);
    /* Both attempts, and the reconnect between them, within one bound. */
    int64_t deadline = wc_time_monotonic_ms() + p->bound_ms;
    wc_broker_set_deadline(p->broker, deadline);
    if (open_locked(p)) {
        wc_broker_publish_batch(p->broker, msgs, n, statuses);
        /* Those whose fate is unknown, or that the broker refused on a
         * connection it then lost the use of, go once more on a fresh one. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (statuses[i] == WC_BROKER_ERROR || statuses[i] == WC_BROKER_NACKED) {
                again[m] = msgs[i];
                where[m++] = i;
            }
        }
        if (m > 0 && wc_time_monotonic_ms() < deadline && open_locked(p)) {
            /* A lost connection moved the broker to the next node of a
             * cluster: the unconfirmed go there. */
            wc_log_warn("republishing %zu unconfirmed or nacked publishes to RabbitMQ node %s", m,
                        wc_broker_peer(p->broker));
            wc_broker_publish_batch(p->broker, again, m, again_status);
            for (size_t k = 0; k < m; k++) {
                statuses[where[k]] = again_status[k];
            }
        }
    }
    wc_broker_set_deadline(p->broker, 0);
    pthread_mutex_unlock(&p->lock);
    free(again);
    free(where);
    free(again_status);
    wc_broker_status_t result = WC_BROKER_OK;
    for (size_t i = 0; i < n && result == WC_BROKER_OK; i++) {
        result = statuses[i];
    }
    note_outcome(result);
    return result;
}

bool api_publisher_probe(api_publisher_t *p)
{
    pthread_mutex_lock(&p->lock);
    bool ok = open_locked(p) && wc_broker_queue_depth(p->broker, WC_QUEUE_HIGH) >= 0;
    pthread_mutex_unlock(&p->lock);
    return ok;
}

bool api_publisher_queue_depths(api_publisher_t *p, api_queue_depths_t *out)
{
    out->high_priority = out->standard = out->retry = out->dlq = -1;
    pthread_mutex_lock(&p->lock);
    bool ok = open_locked(p);
    if (ok) {
        out->high_priority = wc_broker_queue_depth(p->broker, WC_QUEUE_HIGH);
        /* A failed passive declare closes the connection; reopen for the next. */
        ok = open_locked(p);
    }
    if (ok) {
        out->standard = wc_broker_queue_depth(p->broker, WC_QUEUE_STANDARD);
        ok = open_locked(p);
    }
    if (ok) {
        out->dlq = wc_broker_queue_depth(p->broker, WC_QUEUE_DLQ);
        ok = open_locked(p);
    }
    long retry = 0;
    for (size_t i = 0; ok && i < wc_retry_tier_count; i++) {
        long depth = wc_broker_queue_depth(p->broker, wc_retry_tiers[i].queue);
        if (depth < 0) {
            retry = -1;
            ok = open_locked(p);
        } else if (retry >= 0) {
            retry += depth;
        }
    }
    if (ok) {
        out->retry = retry;
    }
    pthread_mutex_unlock(&p->lock);
    return out->high_priority >= 0;
}

static wc_broker_status_t publish_through(void *publisher, const wc_broker_message_t *msg)
{
    return api_publisher_publish(publisher, msg);
}

wc_broker_status_t api_publisher_publish_document(api_publisher_t *publisher, const bson_t *doc)
{
    return wc_publish_document(doc, publish_through, publisher);
}
