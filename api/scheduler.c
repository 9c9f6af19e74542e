#include "scheduler.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_time.h"
#include "wc_topology.h"

/* Notifications taken per round and step; a backlog drains over rounds
 * without starving the other steps. */
#define ROUND_MAX 500

/* How often old idempotency records are deleted. */
#define PURGE_INTERVAL_MS (10 * 60 * 1000)

struct api_scheduler {
    api_context_t *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static bool stopping(api_scheduler_t *s)
{
    pthread_mutex_lock(&s->lock);
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

typedef struct {
    bson_t *docs[ROUND_MAX];
    char *bodies[ROUND_MAX];
    char ids[ROUND_MAX][25];
    wc_broker_message_t msgs[ROUND_MAX];
    wc_broker_status_t statuses[ROUND_MAX];
    bson_oid_t confirmed[ROUND_MAX];
    size_t n;
} round_t;

static void round_clear(round_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        bson_destroy(r->docs[i]);
        free(r->bodies[i]);
    }
    r->n = 0;
}

/* Adds a taken document's queue message to the round; false if unusable. */
static bool round_add(round_t *r, bson_t *doc)
{
    wc_queue_message_t qmsg;
    size_t len = 0;
    char *body = NULL;
    if (wc_queue_message_from_document(doc, &qmsg) != 0 ||
        (body = wc_queue_message_encode(&qmsg, &len)) == NULL) {
        wc_log_error("notification without a usable type/priority/tenant; not published");
        bson_destroy(doc);
        return false;
    }
    size_t i = r->n++;
    r->docs[i] = doc;
    r->bodies[i] = body;
    memcpy(r->ids[i], qmsg.notification_id, sizeof(r->ids[i]));
    r->msgs[i] = (wc_broker_message_t){
        .exchange = WC_EXCHANGE,
        .routing_key = wc_priority_routing_key(qmsg.priority),
        .body = body,
        .body_len = len,
        .message_id = r->ids[i],
        .correlation_id = wc_doc_string(doc, "correlationId"),
    };
    return true;
}

/* Publishes the round and, for notifications that were PENDING
 * (`mark_queued`), records QUEUED for what the broker confirmed; the rest is
 * left for the next round of the sweeper. */
static void round_publish(api_context_t *ctx, round_t *r, const char *actor, bool mark_queued)
{
    if (r->n == 0) {
        return;
    }
    api_publisher_publish_batch(ctx->publisher, r->msgs, r->n, r->statuses);
    size_t confirmed = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->statuses[i] == WC_BROKER_OK) {
            bson_oid_init_from_string(&r->confirmed[confirmed++], r->ids[i]);
        }
    }
    if (confirmed < r->n) {
        wc_log_warn("%s: %zu of %zu publishes not confirmed; the sweeper tries again", actor,
                    r->n - confirmed, r->n);
    }
    if (mark_queued) {
        wc_store_mark_queued_many(ctx->store, r->confirmed, confirmed, actor, wc_time_now_ms());
    }
}

/* Releases due SCHEDULED notifications. Returns how many. Each take is one
 * round trip; a stop request is honoured between them. */
static size_t release_due(api_scheduler_t *s, round_t *r)
{
    api_context_t *ctx = s->ctx;
    while (r->n < ROUND_MAX && !stopping(s)) {
        bson_t *doc = NULL;
        if (wc_store_release_due(ctx->store, wc_time_now_ms(), &doc) != WC_STORE_OK) {
            break; /* none due, or the database failed (logged) */
        }
        round_add(r, doc);
    }
    size_t n = r->n;
    if (n > 0) {
        wc_log_info("scheduler: releasing %zu due notifications", n);
    }
    round_publish(ctx, r, "api:scheduler", true);
    round_clear(r);
    return n;
}

static size_t republish_stale(api_scheduler_t *s, round_t *r)
{
    api_context_t *ctx = s->ctx;
    int64_t now = wc_time_now_ms();
    int64_t stale_before = now - ctx->cfg->pending_republish_seconds * 1000LL;
    while (r->n < ROUND_MAX && !stopping(s)) {
        bson_t *doc = NULL;
        if (wc_store_take_stale_pending(ctx->store, stale_before, now, &doc) != WC_STORE_OK) {
            break;
        }
        round_add(r, doc);
    }
    size_t n = r->n;
    if (n > 0) {
        wc_log_warn("sweeper: republishing %zu notifications left PENDING", n);
    }
    round_publish(ctx, r, "api:sweeper", true);
    round_clear(r);
    return n;
}

/* Queues again the RETRYING and PROCESSING notifications whose message
 * looks lost (DESIGN §11: dead-lettering out of a retry tier is at most once).
 * A copy of a message that was not lost after all is harmless: the claim
 * lets one delivery through. Returns how many. */
static size_t requeue_overdue(api_scheduler_t *s, round_t *r)
{
    api_context_t *ctx = s->ctx;
    static const wc_status_t swept[] = {WC_STATUS_RETRYING, WC_STATUS_PROCESSING};
    size_t total = 0;
    for (size_t k = 0; k < sizeof(swept) / sizeof(swept[0]); k++) {
        int64_t now = wc_time_now_ms();
        int64_t overdue_before = now - ctx->cfg->sweep_overdue_seconds * 1000LL;
        while (r->n < ROUND_MAX && !stopping(s)) {
            bson_t *doc = NULL;
            if (wc_store_take_overdue(ctx->store, swept[k], overdue_before, now, &doc) !=
                WC_STORE_OK) {
                break;
            }
            round_add(r, doc);
        }
        if (r->n > 0) {
            wc_log_warn("sweeper: queueing again %zu %s notifications whose message is overdue",
                        r->n, wc_status_name(swept[k]));
        }
        total += r->n;
        round_publish(ctx, r, "api:sweeper", false);
        round_clear(r);
    }
    return total;
}

static void *scheduler_main(void *arg)
{
    api_scheduler_t *s = arg;
    api_context_t *ctx = s->ctx;
    round_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        wc_log_error("scheduler: out of memory; scheduled notifications will not be released");
        return NULL;
    }
    int64_t next_purge = 0;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        size_t released = release_due(s, r);
        size_t republished = stopping(s) ? 0 : republish_stale(s, r);
        size_t requeued = stopping(s) ? 0 : requeue_overdue(s, r);
        int64_t now = wc_time_now_ms();
        if (now >= next_purge && !stopping(s)) {
            int64_t deleted = 0;
            if (wc_store_idempotency_purge(ctx->store, now - WC_IDEMPOTENCY_TTL_MS, &deleted) ==
                    WC_STORE_OK &&
                deleted > 0) {
                wc_log_info("deleted %lld idempotency keys older than 24 hours",
                            (long long)deleted);
            }
            next_purge = now + PURGE_INTERVAL_MS;
        }
        pthread_mutex_lock(&s->lock);
        /* A full round means more are waiting: go again at once. */
        if (!s->stopping && released < ROUND_MAX && republished < ROUND_MAX &&
            requeued < ROUND_MAX) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t ns = until.tv_nsec + (int64_t)ctx->cfg->scheduler_interval_ms * 1000000LL;
            until.tv_sec += (time_t)(ns / 1000000000LL);
            until.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&s->wake, &s->lock, &until);
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(r);
    return NULL;
}

api_scheduler_t *api_scheduler_start(api_context_t *ctx)
{
    api_scheduler_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->ctx = ctx;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        wc_log_error("cannot start the scheduler thread");
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

void api_scheduler_stop(api_scheduler_t *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
