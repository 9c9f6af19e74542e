#include "delivery.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery_policy.h"
#include "endpoint_batch.h"
#include "endpoint_pace.h"
#include "wc_backoff.h"
#include "wc_log.h"
#include "wc_publish.h"
#include "wc_notification.h"
#include "wc_store_suppressions.h"
#include "wc_store_system_events.h"
#include "wc_suppression.h"
#include "trail_batch.h"
#include "wc_time.h"
#include "wc_topology.h"

/* The first and the longest wait between attempts to record the outcomes
 * waiting for the database. */
#define PROBE_BACKOFF_FIRST_MS 1000
#define PROBE_BACKOFF_MAX_MS 10000
/* A claim that meets database errors is tried again on this child, with the
 * same token and its message held, 1 s doubling to 5 s apart, for this long;
 * a claim applied whose reply was lost is then found as ours at once, where a
 * redelivered copy taken by another child would wait out the lease. */
#define CLAIM_RETRY_MS 60000
#define CLAIM_BACKOFF_MAX_MS 5000
/* After a dependency failed, new messages wait this long. */
#define PAUSE_AFTER_FAILURE_MS 1000

/* What a job does once its outcome is recorded (or the write gave up). */
typedef enum {
    SETTLE_ACK_IF_RECORDED, /* ack; requeue when the database kept failing */
    SETTLE_ACK,             /* ack whatever the write did: a confirmed message covers it */
} settle_t;

struct delivery_job {
    provider_job_t provider_job; /* first: what the provider sees and reports through */
    delivery_context_t *ctx;
    uint64_t tag;
    unsigned generation;
    bson_oid_t oid;
    wc_queue_message_t msg;
    bson_t *doc; /* the claimed document */
    int64_t started_ms;
    int breaker; /* slot in ctx->breakers, -1 for none */
    const char *channel;
    int provider_kind;           /* PROVIDER_*, -1 before routing */
    /* The providers that may take this attempt, in failover order, and the
     * next of them to try; what the ones before said, for the trail. */
    int candidates[PROVIDER_COUNT];
    int candidate_n, candidate_next;
    char failover_note[300];
    int64_t provider_started_ms; /* monotonic; 0 until the provider is called */
    size_t retry_tier;           /* index in wc_retry_tiers of a scheduled retry */
    /* Sent as a member of a batch (endpoint_batch.h): the batch's request
     * fed the breaker and the provider metrics once for all its members. */
    bool batched;

    /* The database step in flight (store_pool.h): the claim, then the
     * outcome. The loop leaves these alone until the step is done. */
    store_op_t op;
    wc_claim_result_t claim;
    wc_claim_t claimed;
    bool redelivered; /* the broker says an earlier consumer had this message */
    /* What the store says of the claimed document's recipient, read with the
     * claim (docs/ARCHITECTURE.md §16), and whether that read worked. */
    wc_suppression_facts_t facts;
    wc_store_status_t facts_read;
    /* A permanent answer that lists the recipient (delivery_result_t), and
     * the provider that gave it: written with the FAILED outcome. */
    wc_suppress_reason_t suppress;
    const char *suppress_source;
    wc_transition_t transition;
    /* The trail entries of the claim and the outcome, written through the
     * child's trail batch before the message is settled. */
    wc_trail_entry_t trail[2 * WC_TRANSITION_ENTRIES_MAX];
    size_t trail_n;
    bson_t *set;
    char audit_message[700];
    wc_store_status_t recorded;
    settle_t settle;

    /* This attempt's lease token (wc_store_new_token): the claim and the
     * outcome write carry it, so that either, its reply lost, is known as
     * ours when tried again. */
    char token[WC_LEASE_TOKEN_LEN];
    /* Set while the outcome waits for the database (monotonic, since when). */
    int64_t waiting_since_ms;
    bool probe;                /* this job's write is the probe (ctx->probe_in_flight) */
    delivery_job_t *next_waiting;
    /* A claim held after database errors (ctx->claim_retry_head). */
    int64_t claim_failing_since_ms; /* monotonic; 0 before the first error */
    int64_t claim_retry_at_ms;
    int claim_backoff_ms;
    delivery_job_t *next_claim_retry;
    /* The send slot of a paced endpoint's delivery (endpoint_pace.h), and
     * while it waits in the child, when (monotonic) it is due. */
    wc_store_status_t paced;
    int64_t slot_ms;
    int64_t slot_due_ms;
    delivery_job_t *next_paced;
};

/* A log line about a job's notification, with the fields that tie it to the
 * API's request (wc_log_notification_fields). */
__attribute__((format(printf, 3, 4))) static void log_job(wc_log_level_t level,
                                                          const delivery_job_t *job,
                                                          const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wc_log_fields(level, msg,
                  wc_log_notification_fields(job->msg.notification_id, job->msg.tenant_id,
                                             job->msg.correlation_id));
}

/* Settling a delivery on a channel that has since been replaced would ack
 * someone else's message: the broker requeued the old ones already. */
static void ack(delivery_context_t *ctx, uint64_t tag, unsigned generation)
{
    if (generation == ctx->consumer_generation) {
        wc_broker_ack(ctx->consumer, tag);
    }
}

/* Gives the message back and takes no new ones for a moment, so a failing
 * dependency does not turn into a hot redelivery loop. */
static void requeue_later(delivery_context_t *ctx, uint64_t tag, unsigned generation)
{
    ctx->paused_until_ms = wc_time_monotonic_ms() + PAUSE_AFTER_FAILURE_MS;
    if (generation == ctx->consumer_generation) {
        wc_broker_reject(ctx->consumer, tag, true);
    }
}

static wc_broker_status_t publish_with_reopen(delivery_context_t *ctx, const wc_broker_message_t *m)
{
    wc_broker_status_t status = WC_BROKER_ERROR;
    for (int attempt = 0; attempt < 2 && status == WC_BROKER_ERROR; attempt++) {
        char err[256];
        if (wc_broker_ensure_open(ctx->publisher, err, sizeof(err)) != 0) {
            wc_log_warn("RabbitMQ publisher unavailable: %s", err);
            return WC_BROKER_ERROR;
        }
        status = wc_broker_publish(ctx->publisher, m);
    }
    return status;
}

static wc_broker_status_t publish_through_context(void *ctx, const wc_broker_message_t *m)
{
    return publish_with_reopen(ctx, m);
}

/* Publishes `msg` (retry count and all) to `exchange` under `routing_key`
 * (NULL: its priority class). */
static wc_broker_status_t publish_queue_message(delivery_context_t *ctx, const char *exchange,
                                                const char *routing_key,
                                                const wc_queue_message_t *msg,
                                                const wc_broker_header_t *headers, size_t n)
{
    return wc_publish_queue_message(msg, exchange, routing_key, headers, n,
                                    publish_through_context, ctx);
}

/* Applies the job's transition to the notification this worker holds, once,
 * and adds its trail entries to the job's; on a store pool thread. The write
 * is filtered on the claim's token, not on the lease's expiry: while nobody
 * else claimed the notification, the outcome stands. When it matches nothing,
 * an earlier attempt of this very write may have been applied with its reply
 * lost: the document then shows `to` under our token, and that is success.
 * WC_STORE_OK, WC_STORE_NOT_FOUND (another worker claimed it since) or
 * WC_STORE_ERROR (the database failed; the loop tries again later). */
static wc_store_status_t record(wc_store_t *store, delivery_job_t *job)
{
    if (job->suppress != WC_SUPPRESS_NONE && job->doc != NULL) {
        /* Only a permanent failure gets here, so the happy path never pays
         * for it; the upsert is keyed by the recipient, so a retried write
         * or two workers recording one bounce store one entry. */
        const char *recipient = wc_doc_string(job->doc, "recipient");
        wc_channel_t channel = job->msg.type;
        if (recipient != NULL &&
            wc_store_suppression_put(store, job->msg.tenant_id, channel, recipient, job->suppress,
                                     job->suppress_source, wc_time_now_ms(),
                                     NULL) != WC_STORE_OK) {
            log_job(WC_LOG_WARN, job, "notification %s: its recipient could not be listed as %s",
                    job->msg.notification_id, wc_suppress_reason_name(job->suppress));
        }
    }
    bson_t *filter = wc_store_lease_filter(&job->oid, job->token);
    bson_t *before = NULL;
    wc_trail_entry_t entries[WC_TRANSITION_ENTRIES_MAX];
    size_t n = 0;
    wc_store_status_t status = wc_store_transition_deferred(
        store, filter, &job->transition, wc_time_now_ms(), &before, entries, &n);
    bson_destroy(before);
    bson_destroy(filter);
    if (status == WC_STORE_NOT_FOUND) {
        bson_t *doc = NULL;
        status = wc_store_find_own_change(store, &job->oid, job->transition.to, job->token, &doc,
                                          entries, &n);
        bson_destroy(doc);
    }
    for (size_t k = 0; k < n && job->trail_n < sizeof(job->trail) / sizeof(job->trail[0]); k++) {
        job->trail[job->trail_n++] = entries[k];
    }
    return status;
}

static void job_free(delivery_job_t *job)
{
    bson_destroy(job->doc);
    bson_destroy(job->set);
    free(job);
}

/* The job is over: its message is settled one way or the other. */
static void job_finish(delivery_job_t *job)
{
    job->ctx->in_flight--;
    worker_metrics_set_in_flight(job->ctx->metrics, job->ctx->slot, job->ctx->in_flight);
    job_free(job);
}

/* Counts an outcome once its status write is acknowledged, so that a write
 * that failed, and the redelivery after it, is not counted twice. */
static void count_outcome(const delivery_job_t *job)
{
    worker_metrics_t *m = job->ctx->metrics;
    switch (job->transition.to) {
    case WC_STATUS_SENT:
        worker_metrics_count_sent(m, job->msg.type);
        break;
    case WC_STATUS_FAILED:
        worker_metrics_count_failed(m, job->msg.type);
        break;
    case WC_STATUS_RETRYING:
        worker_metrics_count_retry(m, job->retry_tier);
        break;
    case WC_STATUS_SUPPRESSED:
        worker_metrics_count_suppressed(m, job->msg.type);
        return; /* nothing was processed */
    default:
        return;
    }
    worker_metrics_observe_processing(m, wc_time_now_ms() - job->started_ms);
}

static void run_record(store_op_t *op, wc_store_t *store)
{
    delivery_job_t *job = op->arg;
    job->recorded = record(store, job);
}

static void record_done(store_op_t *op);

/* Settles the message once the job's trail entries are written. */
static void settle(void *arg, bool trail_written)
{
    delivery_job_t *job = arg;
    delivery_context_t *ctx = job->ctx;
    (void)trail_written; /* the document's `last` shows the outcome either way */
    if (job->recorded == WC_STORE_ERROR && job->settle == SETTLE_ACK_IF_RECORDED) {
        /* The outcome is not durable: leave the message to the broker. The
         * lease decides who delivers it next. */
        requeue_later(ctx, job->tag, job->generation);
    } else {
        ack(ctx, job->tag, job->generation);
    }
    job_finish(job);
}

/* Writes the job's trail entries (with other jobs'), then settles. */
static void settle_after_trail(delivery_job_t *job)
{
    if (job->trail_n == 0 ||
        trail_batch_add(job->ctx->trail, job->trail, job->trail_n, settle, job) != 0) {
        settle(job, false);
    }
}

static void update_waiting_gauge(delivery_context_t *ctx)
{
    worker_metrics_set_outcomes_waiting(ctx->metrics, ctx->slot,
                                        ctx->waiting_n + (ctx->probe_in_flight ? 1 : 0));
}

/* Submits the job's outcome write (again). */
static void submit_record(delivery_job_t *job)
{
    job->op = (store_op_t){.run = run_record, .done = record_done, .arg = job,
                           .urgent = job->msg.priority >= WC_PRIORITY_HIGH};
    if (store_pool_submit(job->ctx->store_pool, &job->op) != 0) {
        /* The pool is stopping: only the broker can keep the message now. */
        requeue_later(job->ctx, job->tag, job->generation);
        job_finish(job);
    }
}

/* The job's outcome could not be written: keeps it (and its unacked message)
 * on the waiting list for the next probe, unless it has waited
 * WAVECOM_OUTCOME_RETRY_SECONDS already. Returns true when it was kept. */
static bool keep_waiting(delivery_job_t *job)
{
    delivery_context_t *ctx = job->ctx;
    int64_t now = wc_time_monotonic_ms();
    if (job->waiting_since_ms == 0) {
        job->waiting_since_ms = now;
        log_job(WC_LOG_WARN, job,
                "notification %s: outcome %s is known but the database cannot record it; "
                "holding the message and trying again for up to %d s",
                job->msg.notification_id, wc_status_name(job->transition.to),
                ctx->cfg->outcome_retry_seconds);
    } else if (now - job->waiting_since_ms >= ctx->cfg->outcome_retry_seconds * 1000LL) {
        log_job(WC_LOG_ERROR, job,
                "notification %s: outcome %s still not recorded after %d s; giving the message "
                "back before the broker's consumer_timeout takes it",
                job->msg.notification_id, wc_status_name(job->transition.to),
                ctx->cfg->outcome_retry_seconds);
        return false;
    }
    job->next_waiting = NULL;
    if (ctx->waiting_tail != NULL) {
        ctx->waiting_tail->next_waiting = job;
    } else {
        ctx->waiting_head = job;
    }
    ctx->waiting_tail = job;
    ctx->waiting_n++;
    if (!ctx->probe_in_flight && ctx->probe_at_ms == 0) {
        ctx->probe_backoff_ms = PROBE_BACKOFF_FIRST_MS;
        ctx->probe_at_ms = now + ctx->probe_backoff_ms;
    }
    update_waiting_gauge(ctx);
    return true;
}

static delivery_job_t *take_waiting(delivery_context_t *ctx)
{
    delivery_job_t *job = ctx->waiting_head;
    if (job != NULL) {
        ctx->waiting_head = job->next_waiting;
        if (ctx->waiting_head == NULL) {
            ctx->waiting_tail = NULL;
        }
        job->next_waiting = NULL;
        ctx->waiting_n--;
    }
    return job;
}

/* The probe's write was answered: the database is back, and every waiting
 * outcome is written now; or it failed again, and the next probe waits
 * longer. */
static void probe_answered(delivery_job_t *job)
{
    delivery_context_t *ctx = job->ctx;
    job->probe = false;
    ctx->probe_in_flight = false;
    if (job->recorded == WC_STORE_ERROR) {
        ctx->probe_backoff_ms = ctx->probe_backoff_ms * 2 < PROBE_BACKOFF_MAX_MS
                                    ? ctx->probe_backoff_ms * 2
                                    : PROBE_BACKOFF_MAX_MS;
        ctx->probe_at_ms = wc_time_monotonic_ms() + ctx->probe_backoff_ms;
        return;
    }
    ctx->probe_at_ms = 0;
    if (ctx->waiting_n > 0) {
        wc_log_info("the database answers again: recording %d waiting outcomes", ctx->waiting_n);
    }
    delivery_job_t *next = NULL;
    while ((next = take_waiting(ctx)) != NULL) {
        submit_record(next);
    }
    update_waiting_gauge(ctx);
}

/* Gives back the messages of waiting jobs that reached
 * WAVECOM_OUTCOME_RETRY_SECONDS: only the probe's job is tried each round, so
 * the others' age is checked here. */
static void give_up_expired(delivery_context_t *ctx, int64_t now)
{
    int64_t bound = ctx->cfg->outcome_retry_seconds * 1000LL;
    delivery_job_t *keep_head = NULL, *keep_tail = NULL, *expired = NULL;
    int kept = 0;
    delivery_job_t *job = NULL;
    while ((job = take_waiting(ctx)) != NULL) {
        if (now - job->waiting_since_ms >= bound) {
            job->next_waiting = expired;
            expired = job;
            continue;
        }
        if (keep_tail != NULL) {
            keep_tail->next_waiting = job;
        } else {
            keep_head = job;
        }
        keep_tail = job;
        kept++;
    }
    ctx->waiting_head = keep_head;
    ctx->waiting_tail = keep_tail;
    ctx->waiting_n = kept;
    update_waiting_gauge(ctx);
    while (expired != NULL) {
        job = expired;
        expired = job->next_waiting;
        job->next_waiting = NULL;
        log_job(WC_LOG_ERROR, job,
                "notification %s: outcome %s still not recorded after %d s; giving the message "
                "back before the broker's consumer_timeout takes it",
                job->msg.notification_id, wc_status_name(job->transition.to),
                ctx->cfg->outcome_retry_seconds);
        settle_after_trail(job); /* recorded is ERROR: the message is requeued */
    }
}

static void claim_done(store_op_t *op);
static void send_due_batches(delivery_context_t *ctx, int64_t now);
static void remember_failed_claim(delivery_context_t *ctx, const delivery_job_t *job);
static void run_claim(store_op_t *op, wc_store_t *store);

/* Queues the claim of the job's notification on the store pool. CRITICAL and
 * HIGH steps go before the standard queue's there (store_pool.h): the claim
 * and the outcome write alike. */
static void submit_claim(delivery_job_t *job)
{
    job->msg.send_at_ms = 0; /* its slot, if it had one, has come */
    job->op = (store_op_t){.run = run_claim, .done = claim_done, .arg = job,
                           .urgent = job->msg.priority >= WC_PRIORITY_HIGH};
    if (store_pool_submit(job->ctx->store_pool, &job->op) != 0) {
        requeue_later(job->ctx, job->tag, job->generation);
        job_finish(job);
    }
}

/* Claims the held paced jobs whose slot has come; on drain, gives their
 * messages back instead (the next copy reserves a new slot). */
static void release_paced(delivery_context_t *ctx, int64_t now)
{
    delivery_job_t **link = &ctx->paced_head;
    while (*link != NULL) {
        delivery_job_t *job = *link;
        if (!ctx->draining && now < job->slot_due_ms) {
            link = &job->next_paced;
            continue;
        }
        *link = job->next_paced;
        job->next_paced = NULL;
        if (ctx->draining) {
            requeue_later(ctx, job->tag, job->generation);
            job_finish(job);
        } else {
            submit_claim(job);
        }
    }
}

int delivery_next_due_ms(const delivery_context_t *ctx, int64_t now, int limit_ms)
{
    for (const delivery_job_t *job = ctx->paced_head; job != NULL; job = job->next_paced) {
        int64_t wait = job->slot_due_ms > now ? job->slot_due_ms - now : 0;
        if (wait < limit_ms) {
            limit_ms = (int)wait;
        }
    }
    return endpoint_batches_next_due_ms(&ctx->batches, now, limit_ms);
}

/* Claims again the held jobs whose time has come; on drain, gives their
 * messages back instead. */
static void retry_held_claims(delivery_context_t *ctx, int64_t now)
{
    delivery_job_t **link = &ctx->claim_retry_head;
    while (*link != NULL) {
        delivery_job_t *job = *link;
        if (!ctx->draining && now < job->claim_retry_at_ms) {
            link = &job->next_claim_retry;
            continue;
        }
        *link = job->next_claim_retry;
        job->next_claim_retry = NULL;
        if (ctx->draining) {
            remember_failed_claim(ctx, job);
            requeue_later(ctx, job->tag, job->generation);
            job_finish(job);
            continue;
        }
        submit_claim(job);
    }
}

void delivery_tick(delivery_context_t *ctx)
{
    int64_t now = wc_time_monotonic_ms();
    retry_held_claims(ctx, now);
    release_paced(ctx, now);
    send_due_batches(ctx, now);
    if (ctx->waiting_n == 0 || ctx->probe_in_flight || now < ctx->probe_at_ms) {
        return;
    }
    give_up_expired(ctx, now);
    if (ctx->waiting_n == 0) {
        return;
    }
    delivery_job_t *job = take_waiting(ctx);
    job->probe = true;
    ctx->probe_in_flight = true;
    update_waiting_gauge(ctx);
    submit_record(job);
}

int delivery_outcomes_waiting(const delivery_context_t *ctx)
{
    return ctx->waiting_n + (ctx->probe_in_flight ? 1 : 0);
}

/* A SENT or FAILED outcome as a notification.* event, for a tenant that
 * subscribes to it (wc_store_system_events.h): written with the job's trail
 * entries, before its message is settled. */
static void queue_system_event(delivery_job_t *job)
{
    wc_status_t to = job->transition.to;
    if ((to != WC_STATUS_SENT && to != WC_STATUS_FAILED) || job->doc == NULL) {
        return;
    }
    bson_t *event = wc_system_event_for_notification(
        job->doc, wc_status_name(to), wc_time_now_ms(),
        to == WC_STATUS_FAILED ? job->audit_message : NULL,
        to == WC_STATUS_SENT && job->provider_kind >= 0 ? worker_providers[job->provider_kind].name
                                                        : NULL);
    if (event != NULL && trail_batch_add_event(job->ctx->trail, event) != 0) {
        log_job(WC_LOG_WARN, job, "notification %s: its %s event could not be queued",
                job->msg.notification_id, wc_status_name(to));
    }
    if (event != NULL) {
        bson_destroy(event);
    }
}

static void record_done(store_op_t *op)
{
    delivery_job_t *job = op->arg;
    if (job->probe) {
        probe_answered(job);
    }
    /* A known outcome (SENT, FAILED) must be durable before its message is
     * settled: nothing may deliver it again. A RETRYING write that fails is
     * covered by its confirmed retry message. */
    if (job->recorded == WC_STORE_ERROR && job->settle == SETTLE_ACK_IF_RECORDED &&
        keep_waiting(job)) {
        return;
    }
    update_waiting_gauge(job->ctx);
    if (job->recorded == WC_STORE_OK) {
        count_outcome(job);
        queue_system_event(job);
    }
    if (job->recorded == WC_STORE_NOT_FOUND && job->transition.to == WC_STATUS_SENT) {
        log_job(WC_LOG_WARN, job,
                "notification %s was sent but its lease had passed to another worker",
                job->msg.notification_id);
    }
    settle_after_trail(job);
}

/* Records `to` with `set` (taken) and the audit message already written into
 * job->audit_message, off the loop thread; the message is settled when the
 * write is done. */
static void record_then_settle(delivery_job_t *job, wc_status_t to, bson_t *set, bool inc_retry,
                               settle_t settle)
{
    if (set == NULL) {
        set = bson_new();
    }
    /* Marks the change as this attempt's (wc_store_find_own_change). */
    BSON_APPEND_UTF8(set, "lastToken", job->token);
    job->set = set;
    job->settle = settle;
    job->transition = (wc_transition_t){
        .to = to,
        .audit = {.actor = job->ctx->owner, .message = job->audit_message},
        .set = set,
        .unset_lease = true,
        .inc_retry = inc_retry,
    };
    submit_record(job);
}

static void record_sent(delivery_job_t *job, const delivery_result_t *result)
{
    int64_t now = wc_time_now_ms();
    bson_t *set = BCON_NEW("sentAt", BCON_DATE_TIME(now), "processingTimeMs",
                           BCON_INT64(now - job->started_ms), "providerMessageId",
                           BCON_UTF8(result->provider_message_id));
    const char *provider = worker_providers[job->provider_kind].name;
    BSON_APPEND_UTF8(set, "providerName", provider);
    snprintf(job->audit_message, sizeof(job->audit_message),
             "Successfully sent via %s provider %s: %.380s%.250s", job->channel, provider, result->detail,
             job->failover_note);
    record_then_settle(job, WC_STATUS_SENT, set, false, SETTLE_ACK_IF_RECORDED);
}

/* Schedules another attempt as `decision` says (delivery_policy.h). Returns
 * -1 when the retry could not be published (the job is untouched). */
static int retry_later(delivery_job_t *job, const delivery_result_t *result,
                       const delivery_decision_t *decision)
{
    delivery_context_t *ctx = job->ctx;
    wc_queue_message_t msg = job->msg;
    msg.retry_count = decision->retry_count;
    const wc_delay_tier_t *tier = &wc_retry_tiers[decision->tier];
    job->retry_tier = decision->tier;
    /* The retry is safe in the broker before the status says so. */
    if (publish_queue_message(ctx, tier->exchange, NULL, &msg, NULL, 0) != WC_BROKER_OK) {
        return -1;
    }
    int64_t now = wc_time_now_ms();
    bson_t *set = BCON_NEW("error", BCON_UTF8(result->detail), "nextAttemptAt",
                           BCON_DATE_TIME(now + tier->seconds * 1000LL));
    if (result->not_attempted) {
        snprintf(job->audit_message, sizeof(job->audit_message),
                 "Not attempted (%s); retry in %d s, attempt not counted", result->detail,
                 tier->seconds);
    } else {
        snprintf(job->audit_message, sizeof(job->audit_message),
                 "Attempt failed, retry %d in %d s: %s", msg.retry_count, tier->seconds,
                 result->detail);
    }
    /* Even if this write fails the retry message is confirmed: it will claim
     * the notification once the lease runs out. */
    record_then_settle(job, WC_STATUS_RETRYING, set, !result->not_attempted, SETTLE_ACK);
    return 0;
}

/* Publishes to the DLQ and records FAILED; -1 when the publish failed (the
 * job is untouched). */
static int dead_letter(delivery_job_t *job, const char *reason)
{
    delivery_context_t *ctx = job->ctx;
    wc_queue_message_t msg = job->msg;
    msg.retry_count = (int)wc_doc_int(job->doc, "retryCount", 0);
    char attempts[16];
    char failed_at[WC_ISO8601_LEN];
    int64_t now = wc_time_now_ms();
    snprintf(attempts, sizeof(attempts), "%d", msg.retry_count + 1);
    wc_time_format_iso8601(now, failed_at, sizeof(failed_at));
    const wc_broker_header_t headers[] = {
        {"x-wavecom-reason", reason},
        {"x-wavecom-attempts", attempts},
        {"x-wavecom-failed-at", failed_at},
        {"x-wavecom-tenant", msg.tenant_id},
    };
    if (publish_queue_message(ctx, WC_EXCHANGE, WC_QUEUE_DLQ, &msg, headers,
                              sizeof(headers) / sizeof(headers[0])) != WC_BROKER_OK) {
        return -1;
    }
    bson_t *set = BCON_NEW("failedAt", BCON_DATE_TIME(now), "error", BCON_UTF8(reason));
    snprintf(job->audit_message, sizeof(job->audit_message),
             "Failed after %s attempt(s), moved to the dead-letter queue: %.500s%s%s%s", attempts,
             reason, job->suppress != WC_SUPPRESS_NONE ? "; recipient added to the suppression list (" : "",
             wc_suppress_reason_name(job->suppress), job->suppress != WC_SUPPRESS_NONE ? ")" : "");
    record_then_settle(job, WC_STATUS_FAILED, set, false, SETTLE_ACK_IF_RECORDED);
    return 0;
}

static worker_provider_outcome_t provider_answer(delivery_outcome_t outcome)
{
    switch (outcome) {
    case DELIVERY_OK:
        return WORKER_PROVIDER_OK;
    case DELIVERY_TRANSIENT:
        return WORKER_PROVIDER_TRANSIENT;
    case DELIVERY_PERMANENT:
        break;
    }
    return WORKER_PROVIDER_PERMANENT;
}

static bool start_next_provider(delivery_job_t *job);

/* Carries out the provider's report (or a local refusal): metrics, breaker,
 * then the policy's decision. */
static void job_complete(delivery_job_t *job, const delivery_result_t *result)
{
    delivery_context_t *ctx = job->ctx;
    int64_t now = wc_time_monotonic_ms();
    if (job->provider_started_ms != 0 && !result->not_attempted && !job->batched) {
        worker_metrics_observe_provider(ctx->metrics, job->provider_kind,
                                        provider_answer(result->outcome),
                                        now - job->provider_started_ms);
    }
    const char *endpoint = job->msg.endpoint_id;
    if (endpoint[0] != '\0' && !result->not_attempted) {
        /* The endpoint's health counts every attempt, the guard's refusals too. */
        (void)endpoint_health_note(
            &ctx->endpoint_health, endpoint, job->msg.tenant_id,
            result->outcome == DELIVERY_OK,
            job->provider_started_ms != 0 && !result->destination_refused
                ? now - job->provider_started_ms
                : -1,
            result->detail, wc_time_now_ms());
    }
    if (job->breaker >= 0 && !result->not_attempted && !result->destination_refused &&
        !job->batched) {
        /* A permanent refusal is a healthy provider answering. */
        wc_breaker_record(&ctx->breakers->slots[job->breaker], &ctx->breaker_policy,
                          result->outcome != DELIVERY_TRANSIENT, now);
    }
    /* Failover: a transient failure moves this attempt to the channel's next
     * provider whose breaker is closed, at once, instead of to a retry tier
     * (only the last provider's answer goes to the policy). */
    if (result->outcome == DELIVERY_TRANSIENT && !result->not_attempted &&
        !result->destination_refused && job->candidate_next < job->candidate_n &&
        job->provider_kind >= 0) {
        size_t used = strlen(job->failover_note);
        snprintf(job->failover_note + used, sizeof(job->failover_note) - used,
                 " (after %s: %.120s)", worker_providers[job->provider_kind].name,
                 result->detail);
        if (start_next_provider(job)) {
            return;
        }
    }

    const char *id = job->msg.notification_id;
    int retry_count = (int)wc_doc_int(job->doc, "retryCount", 0);
    int max_retries = (int)wc_doc_int(job->doc, "maxRetries", ctx->cfg->max_retries);
    delivery_decision_t decision =
        delivery_policy_decide(result, retry_count, max_retries, wc_backoff_random_unit());
    int rc = 0;
    switch (decision.action) {
    case DELIVERY_SEND_RECORD:
        log_job(WC_LOG_INFO, job, "notification %s sent via %s in %lld ms", id, job->channel,
                (long long)(wc_time_now_ms() - job->started_ms));
        record_sent(job, result);
        break;
    case DELIVERY_RETRY:
        log_job(WC_LOG_WARN, job, "notification %s: %s failure, will retry: %s", id,
                result->not_attempted ? "local" : "transient", result->detail);
        rc = retry_later(job, result, &decision);
        break;
    case DELIVERY_EXHAUSTED:
    case DELIVERY_PERMANENT_FAIL:
        log_job(WC_LOG_WARN, job, "notification %s failed for good: %s", id, result->detail);
        if (decision.action == DELIVERY_PERMANENT_FAIL && result->suppress != WC_SUPPRESS_NONE &&
            job->provider_kind >= 0) {
            job->suppress = result->suppress;
            job->suppress_source = worker_providers[job->provider_kind].name;
        }
        rc = dead_letter(job, result->detail);
        break;
    }
    if (rc != 0) {
        /* Nothing durable happened but the claim: leave the message to the
         * broker once the claim's trail entries are written. The lease
         * decides who delivers it next. */
        job->recorded = WC_STORE_ERROR;
        job->settle = SETTLE_ACK_IF_RECORDED;
        settle_after_trail(job);
    }
}

/* A message that cannot be understood goes to the DLQ as it came, with why. */
static void dead_letter_poison(delivery_context_t *ctx, const amqp_envelope_t *env, const char *why)
{
    wc_log_error("undecodable message on %.*s: %s", (int)env->routing_key.len,
                 (const char *)env->routing_key.bytes, why);
    const wc_broker_header_t headers[] = {{"x-wavecom-reason", why}};
    const wc_broker_message_t m = {
        .exchange = WC_EXCHANGE,
        .routing_key = WC_QUEUE_DLQ,
        .body = env->message.body.bytes,
        .body_len = env->message.body.len,
        .headers = headers,
        .header_count = 1,
    };
    if (publish_with_reopen(ctx, &m) != WC_BROKER_OK) {
        requeue_later(ctx, env->delivery_tag, ctx->consumer_generation);
        return;
    }
    ack(ctx, env->delivery_tag, ctx->consumer_generation);
}

/* A decoded message whose notification does not exist goes to the DLQ as it
 * came, with why; nothing is recorded (there is no document to record on). */
static void dead_letter_unclaimable(delivery_job_t *job, const char *why)
{
    delivery_context_t *ctx = job->ctx;
    log_job(WC_LOG_ERROR, job, "notification %s: %s; dead-lettering its message",
            job->msg.notification_id, why);
    char failed_at[WC_ISO8601_LEN];
    wc_time_format_iso8601(wc_time_now_ms(), failed_at, sizeof(failed_at));
    const wc_broker_header_t headers[] = {
        {"x-wavecom-reason", why},
        {"x-wavecom-failed-at", failed_at},
        {"x-wavecom-tenant", job->msg.tenant_id},
    };
    if (publish_queue_message(ctx, WC_EXCHANGE, WC_QUEUE_DLQ, &job->msg, headers,
                              sizeof(headers) / sizeof(headers[0])) != WC_BROKER_OK) {
        requeue_later(ctx, job->tag, job->generation);
        return;
    }
    ack(ctx, job->tag, job->generation);
}

/* Another worker holds a live lease (it may have died): look again after the
 * shortest retry tier instead of dropping the only copy of the message. */
static void defer(delivery_context_t *ctx, const wc_queue_message_t *msg, uint64_t tag,
                  unsigned generation)
{
    if (publish_queue_message(ctx, wc_retry_tiers[0].exchange, NULL, msg, NULL, 0) !=
        WC_BROKER_OK) {
        requeue_later(ctx, tag, generation);
        return;
    }
    ack(ctx, tag, generation);
}

/* The breaker slot of provider `kind` for this job's document. */
static int breaker_slot(const delivery_job_t *job, int kind)
{
    if (!worker_providers[kind].breaker_per_host) {
        return kind;
    }
    const char *url = wc_doc_string(job->doc, "recipient");
    return worker_breaker_for_webhook(url != NULL ? url : "");
}

/* The providers that may deliver a claimed document, in failover order,
 * into job->candidates, only those configured on this worker. False when
 * there is none. */
static bool route(delivery_context_t *ctx, delivery_job_t *job)
{
    wc_channel_t type;
    const char *type_name = wc_doc_string(job->doc, "type");
    int kind = type_name != NULL && wc_channel_parse(type_name, &type) == 0
                   ? worker_provider_route(type, wc_doc_string(job->doc, "platform"))
                   : -1;
    job->candidate_n = 0;
    job->candidate_next = 0;
    job->failover_note[0] = '\0';
    job->provider_kind = kind;
    if (kind < 0) {
        return false;
    }
    job->channel = worker_providers[kind].channel;
    job->breaker = breaker_slot(job, kind);
    const int *order = &kind;
    int order_n = 1;
    if (type == WC_CHANNEL_SMS) {
        order = ctx->sms_order;
        order_n = ctx->sms_order_n;
    } else if (type == WC_CHANNEL_EMAIL) {
        order = ctx->email_order;
        order_n = ctx->email_order_n;
    }
    for (int i = 0; i < order_n; i++) {
        if (ctx->providers[order[i]] != NULL) {
            job->candidates[job->candidate_n++] = order[i];
        }
    }
    return job->candidate_n > 0;
}

static void on_provider_report(provider_job_t *provider_job, const delivery_result_t *result);

/* Starts the next candidate whose breaker lets a request through. False
 * when none is left; job->breaker then names the first refusing breaker
 * met, or stays the last provider's. */
static bool start_next_provider(delivery_job_t *job)
{
    delivery_context_t *ctx = job->ctx;
    int64_t now = wc_time_monotonic_ms();
    bool refused = false;
    while (job->candidate_next < job->candidate_n) {
        int kind = job->candidates[job->candidate_next++];
        int slot = breaker_slot(job, kind);
        if (!wc_breaker_allow(&ctx->breakers->slots[slot], &ctx->breaker_policy, now)) {
            if (!refused) {
                job->breaker = slot;
                job->provider_kind = kind;
                refused = true;
            }
            continue;
        }
        job->provider_kind = kind;
        job->breaker = slot;
        job->provider_job = (provider_job_t){
            .doc = job->doc,
            .id = job->msg.notification_id,
            .complete = on_provider_report,
        };
        job->provider_started_ms = wc_time_monotonic_ms();
        ctx->providers[kind]->start(ctx->providers[kind], &job->provider_job);
        return true;
    }
    return false;
}

/* provider_job_t.complete: the provider's job is the first member of ours. */
static void on_provider_report(provider_job_t *provider_job, const delivery_result_t *result)
{
    job_complete((delivery_job_t *)provider_job, result);
}

/* Reports that no provider of the job's channel would take a request now. */
static void complete_not_attempted(delivery_job_t *job)
{
    delivery_context_t *ctx = job->ctx;
    delivery_result_t result;
    memset(&result, 0, sizeof(result));
    int64_t now = wc_time_monotonic_ms();
    wc_breaker_t *breaker = &ctx->breakers->slots[job->breaker];
    result.not_attempted = true;
    result.retry_after_ms = wc_breaker_retry_after_ms(breaker, &ctx->breaker_policy, now);
    provider_fail(&result, DELIVERY_TRANSIENT, "%s circuit breaker open", job->channel);
    job->provider_started_ms = 0;
    job_complete(job, &result);
}

/* One batch's request (endpoint_batch.h): what the webhook provider sees,
 * and the members its answer goes to. */
typedef struct {
    provider_job_t provider_job; /* first: the provider reports through it */
    delivery_context_t *ctx;
    endpoint_batch_t *batch;
    bson_t *doc;
    char id[ENDPOINT_BATCH_ID_LEN];
    int breaker;
    int64_t started_ms; /* monotonic */
} batch_request_t;

static delivery_job_t *batch_member(const endpoint_batch_t *batch, size_t i)
{
    return batch->members[i];
}

/* The batch's answer, once for the breaker and the metrics, then to every
 * member as its own, which records its own outcome (docs/ARCHITECTURE.md §14). */
static void on_batch_report(provider_job_t *provider_job, const delivery_result_t *result)
{
    batch_request_t *request = (batch_request_t *)provider_job;
    delivery_context_t *ctx = request->ctx;
    endpoint_batch_t *batch = request->batch;
    int64_t now = wc_time_monotonic_ms();
    if (!result->not_attempted) {
        worker_metrics_observe_provider(ctx->metrics, PROVIDER_WEBHOOK,
                                        provider_answer(result->outcome), now - request->started_ms);
        if (!result->destination_refused) {
            wc_breaker_record(&ctx->breakers->slots[request->breaker], &ctx->breaker_policy,
                              result->outcome != DELIVERY_TRANSIENT, now);
        }
    }
    for (size_t i = 0; i < batch->n; i++) {
        delivery_job_t *job = batch_member(batch, i);
        delivery_result_t own = *result;
        snprintf(own.detail, sizeof(own.detail), "in %s (%zu of %zu): %.440s", request->id, i + 1,
                 batch->n, result->detail);
        job_complete(job, &own);
    }
    bson_destroy(request->doc);
    endpoint_batch_free(batch);
    free(request);
}

/* Sends an endpoint's batch as one request, or, when its breaker refuses or
 * memory runs out, reports that to each member as a local refusal. */
static void send_batch(delivery_context_t *ctx, endpoint_batch_t *batch)
{
    const char *ids[WC_ENDPOINT_BATCH_EVENTS_MAX];
    for (size_t i = 0; i < batch->n; i++) {
        ids[i] = batch_member(batch, i)->msg.notification_id;
    }
    delivery_job_t *first = batch_member(batch, 0);
    batch_request_t *request = calloc(1, sizeof(*request));
    if (request != NULL) {
        request->doc = endpoint_batch_document(batch, ids);
    }
    if (request == NULL || request->doc == NULL ||
        !wc_breaker_allow(&ctx->breakers->slots[first->breaker], &ctx->breaker_policy,
                          wc_time_monotonic_ms())) {
        if (request != NULL) {
            bson_destroy(request->doc);
            free(request);
        }
        for (size_t i = 0; i < batch->n; i++) {
            complete_not_attempted(batch_member(batch, i));
        }
        endpoint_batch_free(batch);
        return;
    }
    request->ctx = ctx;
    request->batch = batch;
    request->breaker = first->breaker;
    request->started_ms = wc_time_monotonic_ms();
    endpoint_batch_id(ids, batch->n, request->id);
    for (size_t i = 0; i < batch->n; i++) {
        delivery_job_t *job = batch_member(batch, i);
        job->batched = true;
        job->provider_started_ms = request->started_ms;
        job->candidate_next = job->candidate_n; /* no failover: the batch went as one */
    }
    request->provider_job = (provider_job_t){
        .doc = request->doc,
        .id = request->id,
        .complete = on_batch_report,
    };
    ctx->providers[PROVIDER_WEBHOOK]->start(ctx->providers[PROVIDER_WEBHOOK],
                                            &request->provider_job);
}

/* Sends the open batches that are due, all of them when draining: their
 * members are claimed, and a drain ends with nothing held. */
static void send_due_batches(delivery_context_t *ctx, int64_t now)
{
    endpoint_batch_t *batch;
    while ((batch = endpoint_batches_take_due(&ctx->batches, now, ctx->draining)) != NULL) {
        send_batch(ctx, batch);
    }
}

/* Adds a claimed delivery of a batching endpoint to its open batch. False
 * when it is to be sent alone (not batched, draining, no room). */
static bool join_batch(delivery_job_t *job)
{
    delivery_context_t *ctx = job->ctx;
    size_t max_events = 0;
    int wait_ms = 0;
    if (ctx->draining || job->provider_kind != PROVIDER_WEBHOOK ||
        ctx->providers[PROVIDER_WEBHOOK] == NULL ||
        !wc_endpoint_batch_settings(job->doc, &max_events, &wait_ms)) {
        return false;
    }
    /* A child holds at most its prefetch of one queue's messages: a larger
     * batch could fill only by waiting out maxWaitMs. */
    if (max_events > (size_t)ctx->cfg->worker_prefetch) {
        max_events = (size_t)ctx->cfg->worker_prefetch;
    }
    endpoint_batch_t *full = NULL;
    int rc = endpoint_batches_add(&ctx->batches, job, job->doc, max_events, wait_ms,
                                  wc_time_monotonic_ms(), &full);
    if (rc < 0) {
        return false;
    }
    if (full != NULL) {
        send_batch(ctx, full);
    }
    return true;
}

static void start_job(delivery_job_t *job)
{
    if (!route(job->ctx, job)) {
        delivery_result_t result;
        memset(&result, 0, sizeof(result));
        provider_fail(&result, DELIVERY_PERMANENT, "%s delivery is not configured on this worker",
                      job->channel);
        job_complete(job, &result);
        return;
    }
    if (join_batch(job)) {
        return;
    }
    if (!start_next_provider(job)) {
        complete_not_attempted(job);
    }
}

/* A claim that failed may have been applied: the message's next copy here
 * claims with the same token (delivery_accept). */
static void remember_failed_claim(delivery_context_t *ctx, const delivery_job_t *job)
{
    size_t i = ctx->failed_claims_next++ % DELIVERY_FAILED_CLAIMS;
    bson_oid_copy(&job->oid, &ctx->failed_claims[i].oid);
    snprintf(ctx->failed_claims[i].token, sizeof(ctx->failed_claims[i].token), "%s", job->token);
}

/* The token for a new claim of `oid`: a failed claim's, taken once, or a new one. */
static void claim_token(delivery_context_t *ctx, const bson_oid_t *oid,
                        char token[WC_LEASE_TOKEN_LEN])
{
    for (size_t i = 0; i < DELIVERY_FAILED_CLAIMS; i++) {
        if (ctx->failed_claims[i].token[0] != '\0' &&
            bson_oid_equal(&ctx->failed_claims[i].oid, oid)) {
            snprintf(token, WC_LEASE_TOKEN_LEN, "%s", ctx->failed_claims[i].token);
            ctx->failed_claims[i].token[0] = '\0';
            return;
        }
    }
    wc_store_new_token(token);
}

/* Keeps a job whose claim failed, to claim again later with the same token.
 * False when it has tried for CLAIM_RETRY_MS, or the child is draining. */
static bool hold_claim(delivery_job_t *job)
{
    delivery_context_t *ctx = job->ctx;
    int64_t now = wc_time_monotonic_ms();
    if (ctx->draining) {
        return false;
    }
    if (job->claim_failing_since_ms == 0) {
        job->claim_failing_since_ms = now;
    } else if (now - job->claim_failing_since_ms >= CLAIM_RETRY_MS) {
        return false;
    }
    job->claim_backoff_ms = job->claim_backoff_ms == 0 ? 1000 : job->claim_backoff_ms * 2;
    if (job->claim_backoff_ms > CLAIM_BACKOFF_MAX_MS) {
        job->claim_backoff_ms = CLAIM_BACKOFF_MAX_MS;
    }
    job->claim_retry_at_ms = now + job->claim_backoff_ms;
    job->next_claim_retry = ctx->claim_retry_head;
    ctx->claim_retry_head = job;
    /* The database is failing: take no new messages for a moment. */
    ctx->paused_until_ms = now + PAUSE_AFTER_FAILURE_MS;
    return true;
}

static void run_claim(store_op_t *op, wc_store_t *store)
{
    delivery_job_t *job = op->arg;
    const delivery_context_t *ctx = job->ctx;
    job->claim = wc_store_claim(store, &job->oid, ctx->owner, job->token,
                                ctx->cfg->lease_seconds * 1000LL, wc_time_now_ms(),
                                job->redelivered, &job->claimed);
    if (job->claim == WC_CLAIM_OK && job->claimed.doc != NULL) {
        /* On the same store thread as the claim, so the check adds reads by
         * _id and no round trip through the loop (docs/ARCHITECTURE.md §16). */
        job->facts_read = wc_store_suppression_facts(store, job->claimed.doc, &job->facts);
    }
}

/* Ends a claimed notification SUPPRESSED, never handed to a provider. */
static void record_suppressed(delivery_job_t *job, wc_suppression_verdict_t verdict)
{
    const char *user = wc_doc_string(job->doc, "userId");
    const char *category = wc_doc_string(job->doc, "category");
    const char *reason = "";
    switch (verdict) {
    case WC_VERDICT_SUPPRESSED:
        reason = wc_suppress_reason_name(job->facts.listed);
        snprintf(job->audit_message, sizeof(job->audit_message),
                 "Suppressed, not sent: the recipient is on the suppression list (%s)", reason);
        break;
    case WC_VERDICT_OPTED_OUT_CHANNEL:
        reason = "opted_out_channel";
        snprintf(job->audit_message, sizeof(job->audit_message),
                 "Suppressed, not sent: user %.200s opted out of %s", user != NULL ? user : "",
                 wc_channel_name(job->msg.type));
        break;
    case WC_VERDICT_OPTED_OUT_CATEGORY:
    case WC_VERDICT_SEND:
        reason = "opted_out_category";
        snprintf(job->audit_message, sizeof(job->audit_message),
                 "Suppressed, not sent: user %.200s opted out of category %.80s",
                 user != NULL ? user : "", category != NULL ? category : "");
        break;
    }
    log_job(WC_LOG_INFO, job, "notification %s suppressed (%s)", job->msg.notification_id, reason);
    bson_t *set = BCON_NEW("suppressedAt", BCON_DATE_TIME(wc_time_now_ms()), "suppressionReason",
                           BCON_UTF8(reason));
    record_then_settle(job, WC_STATUS_SUPPRESSED, set, false, SETTLE_ACK_IF_RECORDED);
}

/* Starts the claimed job unless its recipient must not be sent to. A check
 * that could not read the store is not a reason to send: the attempt goes to
 * the shortest retry tier, not counted. */
static void check_then_start(delivery_job_t *job)
{
    if (job->facts_read != WC_STORE_OK) {
        delivery_result_t result;
        memset(&result, 0, sizeof(result));
        result.not_attempted = true;
        provider_fail(&result, DELIVERY_TRANSIENT, "the suppression list could not be read");
        job_complete(job, &result);
        return;
    }
    wc_suppression_verdict_t verdict = wc_suppression_decide(&job->facts);
    if (verdict != WC_VERDICT_SEND) {
        record_suppressed(job, verdict);
        return;
    }
    start_job(job);
}

static void claim_done(store_op_t *op)
{
    delivery_job_t *job = op->arg;
    delivery_context_t *ctx = job->ctx;
    job->doc = job->claimed.doc;
    job->claimed.doc = NULL;
    memcpy(job->trail, job->claimed.trail, job->claimed.trail_n * sizeof(job->trail[0]));
    job->trail_n = job->claimed.trail_n;
    switch (job->claim) {
    case WC_CLAIM_OK:
        job->started_ms = wc_time_now_ms();
        check_then_start(job);
        return;
    case WC_CLAIM_GONE:
        log_job(WC_LOG_DEBUG, job, "notification %s needs nothing more; dropping this copy",
                job->msg.notification_id);
        ack(ctx, job->tag, job->generation);
        break;
    case WC_CLAIM_MISSING:
        /* Redelivering it would find nothing again: a loop. The DLQ keeps it
         * for an operator, with why. */
        dead_letter_unclaimable(job, "notification document not found in the database");
        break;
    case WC_CLAIM_BUSY:
        defer(ctx, &job->msg, job->tag, job->generation);
        break;
    case WC_CLAIM_ERROR:
        if (hold_claim(job)) {
            return;
        }
        remember_failed_claim(ctx, job);
        requeue_later(ctx, job->tag, job->generation);
        break;
    }
    job_finish(job);
}

/* Lets the job wait for its send slot `slot_ms` (Unix ms): claimed now when
 * it has come, held here when it is under the shortest delay queue away,
 * else handed to the longest delay queue that does not pass it, the slot in
 * its message. */
static void wait_for_slot(delivery_job_t *job, int64_t slot_ms)
{
    delivery_context_t *ctx = job->ctx;
    int64_t remaining = slot_ms - wc_time_now_ms();
    if (remaining <= 0) {
        submit_claim(job);
        return;
    }
    int hop = endpoint_pace_hop(remaining);
    if (hop < 0) {
        job->slot_due_ms = wc_time_monotonic_ms() + remaining;
        job->next_paced = ctx->paced_head;
        ctx->paced_head = job;
        return;
    }
    job->msg.send_at_ms = slot_ms;
    if (publish_queue_message(ctx, wc_delay_tiers[hop].exchange, NULL, &job->msg, NULL, 0) ==
        WC_BROKER_OK) {
        ack(ctx, job->tag, job->generation);
    } else {
        requeue_later(ctx, job->tag, job->generation);
    }
    job_finish(job);
}

static void run_pace(store_op_t *op, wc_store_t *store)
{
    delivery_job_t *job = op->arg;
    job->paced = endpoint_pace_reserve(job->ctx->pace, store, job->msg.endpoint_id,
                                       wc_time_now_ms(), &job->slot_ms);
}

static void pace_done(store_op_t *op)
{
    delivery_job_t *job = op->arg;
    if (job->paced != WC_STORE_OK) {
        /* No slot without the database; nor would the claim get far. */
        requeue_later(job->ctx, job->tag, job->generation);
        job_finish(job);
        return;
    }
    wait_for_slot(job, job->slot_ms);
}

void delivery_accept(delivery_context_t *ctx, const amqp_envelope_t *env)
{
    wc_queue_message_t msg;
    const char *why = NULL;
    if (wc_queue_message_decode(env->message.body.bytes, env->message.body.len, &msg, &why) != 0) {
        dead_letter_poison(ctx, env, why);
        return;
    }
    delivery_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        requeue_later(ctx, env->delivery_tag, ctx->consumer_generation);
        return;
    }
    *job = (delivery_job_t){
        .ctx = ctx,
        .tag = env->delivery_tag,
        .generation = ctx->consumer_generation,
        .msg = msg,
        .redelivered = env->redelivered != 0,
        .breaker = -1,
        .channel = "unknown",
        .provider_kind = -1,
    };
    bson_oid_init_from_string(&job->oid, msg.notification_id);
    claim_token(ctx, &job->oid, job->token);
    ctx->in_flight++;
    worker_metrics_set_in_flight(ctx->metrics, ctx->slot, ctx->in_flight);
    if (msg.send_at_ms > 0) {
        wait_for_slot(job, msg.send_at_ms); /* back from a delay queue with its slot */
    } else if (msg.endpoint_id[0] != '\0' && ctx->pace != NULL) {
        /* An event's delivery: its endpoint's rate limit first. */
        job->op = (store_op_t){.run = run_pace, .done = pace_done, .arg = job,
                               .urgent = job->msg.priority >= WC_PRIORITY_HIGH};
        if (store_pool_submit(ctx->store_pool, &job->op) != 0) {
            requeue_later(ctx, job->tag, job->generation);
            job_finish(job);
        }
    } else {
        submit_claim(job);
    }
}
