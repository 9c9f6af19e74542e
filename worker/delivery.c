#include "delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wc_backoff.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_time.h"
#include "wc_topology.h"

/* How long an outcome write is retried while the database is away. */
#define RECORD_RETRY_SECONDS 30

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Gives the message back to the broker after a pause, so a failing
 * dependency does not turn into a hot redelivery loop. */
static int requeue_later(delivery_context_t *ctx, uint64_t tag)
{
    sleep_ms(1000);
    return wc_broker_reject(ctx->consumer, tag, true);
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

/* Publishes `msg` (retry count and all) to `exchange` under `routing_key`. */
static wc_broker_status_t publish_queue_message(delivery_context_t *ctx, const char *exchange,
                                                const char *routing_key,
                                                const wc_queue_message_t *msg,
                                                const wc_broker_header_t *headers, size_t n)
{
    size_t len = 0;
    char *body = wc_queue_message_encode(msg, &len);
    if (body == NULL) {
        return WC_BROKER_ERROR;
    }
    const wc_broker_message_t m = {
        .exchange = exchange,
        .routing_key = routing_key,
        .body = body,
        .body_len = len,
        .message_id = msg->notification_id,
        .correlation_id = msg->correlation_id,
        .headers = headers,
        .header_count = n,
    };
    wc_broker_status_t status = publish_with_reopen(ctx, &m);
    free(body);
    return status;
}

/* Applies a transition to a notification this worker holds, retrying while
 * the database is unreachable. Returns WC_STORE_OK, WC_STORE_NOT_FOUND (the
 * lease was lost to another worker) or WC_STORE_ERROR. */
static wc_store_status_t record(delivery_context_t *ctx, const bson_oid_t *id,
                                const wc_transition_t *t)
{
    bson_t *filter = wc_store_lease_filter(id, ctx->owner);
    wc_store_status_t status = WC_STORE_ERROR;
    for (int i = 0; i < RECORD_RETRY_SECONDS; i++) {
        status = wc_store_transition(ctx->store, filter, t, wc_time_now_ms(), NULL);
        if (status != WC_STORE_ERROR) {
            break;
        }
        sleep_ms(1000);
    }
    bson_destroy(filter);
    return status;
}

static int record_sent(delivery_context_t *ctx, const bson_oid_t *id, const char *hex,
                       const delivery_result_t *result, int64_t started_ms)
{
    int64_t now = wc_time_now_ms();
    bson_t *set = BCON_NEW("sentAt", BCON_DATE_TIME(now), "processingTimeMs",
                           BCON_INT64(now - started_ms), "providerMessageId",
                           BCON_UTF8(result->provider_message_id));
    char message[640];
    snprintf(message, sizeof(message), "Successfully sent via email provider: %s", result->detail);
    const wc_transition_t t = {
        .to = WC_STATUS_SENT,
        .audit = {.actor = ctx->owner, .message = message},
        .set = set,
        .unset_lease = true,
    };
    wc_store_status_t status = record(ctx, id, &t);
    bson_destroy(set);
    if (status == WC_STORE_NOT_FOUND) {
        wc_log_warn("notification %s was sent but its lease had passed to another worker", hex);
    } else if (status == WC_STORE_ERROR) {
        return -1;
    }
    return 0;
}

static int retry_later(delivery_context_t *ctx, const bson_oid_t *id, const bson_t *doc,
                       const delivery_result_t *result)
{
    wc_queue_message_t msg;
    if (wc_queue_message_from_document(doc, &msg) != 0) {
        return -1;
    }
    const wc_retry_tier_t *tier = &wc_retry_tiers[wc_backoff_tier(msg.retry_count,
                                                                  wc_backoff_random_unit())];
    msg.retry_count += 1;
    /* The retry is safe in the broker before the status says so. */
    if (publish_queue_message(ctx, tier->exchange, wc_priority_routing_key(msg.priority),
                              &msg, NULL, 0) != WC_BROKER_OK) {
        return -1;
    }
    int64_t now = wc_time_now_ms();
    bson_t *set = BCON_NEW("error", BCON_UTF8(result->detail), "nextAttemptAt",
                           BCON_DATE_TIME(now + tier->seconds * 1000LL));
    char message[640];
    snprintf(message, sizeof(message), "Attempt failed, retry %d in %d s: %s", msg.retry_count,
             tier->seconds, result->detail);
    const wc_transition_t t = {
        .to = WC_STATUS_RETRYING,
        .audit = {.actor = ctx->owner, .message = message},
        .set = set,
        .unset_lease = true,
        .inc_retry = true,
    };
    /* Even if this write fails the retry message is confirmed: it will claim
     * the notification once the lease runs out. */
    record(ctx, id, &t);
    bson_destroy(set);
    return 0;
}

static int dead_letter(delivery_context_t *ctx, const bson_oid_t *id, const bson_t *doc,
                       const char *reason)
{
    wc_queue_message_t msg;
    if (wc_queue_message_from_document(doc, &msg) != 0) {
        return -1;
    }
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
    char message[640];
    snprintf(message, sizeof(message), "Failed after %s attempt(s), moved to the dead-letter queue: %s",
             attempts, reason);
    const wc_transition_t t = {
        .to = WC_STATUS_FAILED,
        .audit = {.actor = ctx->owner, .message = message},
        .set = set,
        .unset_lease = true,
    };
    wc_store_status_t status = record(ctx, id, &t);
    bson_destroy(set);
    return status == WC_STORE_ERROR ? -1 : 0;
}

/* A message that cannot be understood goes to the DLQ as it came, with why. */
static int dead_letter_poison(delivery_context_t *ctx, const amqp_envelope_t *env, const char *why)
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
        return requeue_later(ctx, env->delivery_tag);
    }
    return wc_broker_ack(ctx->consumer, env->delivery_tag);
}

/* Another worker holds a live lease (it may have died): look again after the
 * shortest retry tier instead of dropping the only copy of the message. */
static int defer(delivery_context_t *ctx, const wc_queue_message_t *msg, uint64_t tag)
{
    if (publish_queue_message(ctx, wc_retry_tiers[0].exchange,
                              wc_priority_routing_key(msg->priority), msg, NULL, 0) != WC_BROKER_OK) {
        return requeue_later(ctx, tag);
    }
    return wc_broker_ack(ctx->consumer, tag);
}

static int deliver_claimed(delivery_context_t *ctx, const bson_oid_t *id, const char *hex,
                           const bson_t *doc, uint64_t tag)
{
    int64_t started = wc_time_now_ms();
    delivery_result_t result;
    ctx->email->send(ctx->email, doc, &result);

    int rc;
    int retry_count = (int)wc_doc_int(doc, "retryCount", 0);
    int max_retries = (int)wc_doc_int(doc, "maxRetries", ctx->cfg->max_retries);
    switch (result.outcome) {
    case DELIVERY_OK:
        rc = record_sent(ctx, id, hex, &result, started);
        wc_log_info("notification %s sent in %lld ms (%s)", hex,
                    (long long)(wc_time_now_ms() - started), result.provider_message_id);
        break;
    case DELIVERY_TRANSIENT:
        if (retry_count < max_retries) {
            wc_log_warn("notification %s: transient failure, will retry: %s", hex, result.detail);
            rc = retry_later(ctx, id, doc, &result);
            break;
        }
        /* Attempts exhausted: on to the dead-letter queue. */
        __attribute__((fallthrough));
    case DELIVERY_PERMANENT:
    default:
        wc_log_warn("notification %s failed for good: %s", hex, result.detail);
        rc = dead_letter(ctx, id, doc, result.detail);
        break;
    }
    if (rc != 0) {
        /* The outcome is not durable: leave the message to the broker. The
         * lease decides who delivers it next. */
        return requeue_later(ctx, tag);
    }
    return wc_broker_ack(ctx->consumer, tag);
}

int delivery_handle(delivery_context_t *ctx, const amqp_envelope_t *env)
{
    wc_queue_message_t msg;
    const char *why = NULL;
    if (wc_queue_message_decode(env->message.body.bytes, env->message.body.len, &msg, &why) != 0) {
        return dead_letter_poison(ctx, env, why);
    }
    bson_oid_t id;
    bson_oid_init_from_string(&id, msg.notification_id);

    bson_t *doc = NULL;
    int rc = 0;
    switch (wc_store_claim(ctx->store, &id, ctx->owner, ctx->cfg->lease_seconds * 1000LL,
                           wc_time_now_ms(), &doc)) {
    case WC_CLAIM_OK:
        rc = deliver_claimed(ctx, &id, msg.notification_id, doc, env->delivery_tag);
        break;
    case WC_CLAIM_GONE:
        wc_log_debug("notification %s needs nothing more; dropping this copy", msg.notification_id);
        rc = wc_broker_ack(ctx->consumer, env->delivery_tag);
        break;
    case WC_CLAIM_BUSY:
        rc = defer(ctx, &msg, env->delivery_tag);
        break;
    case WC_CLAIM_ERROR:
        rc = requeue_later(ctx, env->delivery_tag);
        break;
    }
    bson_destroy(doc);
    return rc;
}
