/*
 * POST /api/notifications/:id/replay: a FAILED notification of the caller's
 * tenant goes back to its priority queue, attempts reset, the way a new
 * notification goes in (DESIGN §4 invariant 1):
 *   1. FAILED -> PENDING in one findAndModify with its audit entry;
 *   2. the message published to its own priority queue, confirmed;
 *   3. PENDING -> QUEUED.
 * If the publish fails, the notification stays PENDING and the scheduler's
 * sweep publishes it again (WAVECOM_PENDING_REPUBLISH_SECONDS): nothing is
 * lost, and the answer says so. Its stale copy stays in the dead-letter
 * queue until an operator's next `wavecomctl dlq replay` or `purge` finds
 * it settled and acks it.
 * Another tenant's id, or none, is 404; any other status is 409.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "response.h"
#include "wc_log.h"
#include "wc_time.h"
#include "wc_topology.h"

static bool publish_again(api_context_t *ctx, const bson_t *doc)
{
    wc_queue_message_t qmsg;
    size_t len = 0;
    char *body = NULL;
    if (wc_queue_message_from_document(doc, &qmsg) != 0 ||
        (body = wc_queue_message_encode(&qmsg, &len)) == NULL) {
        return false;
    }
    const wc_broker_message_t msg = {
        .exchange = WC_EXCHANGE,
        .routing_key = wc_priority_routing_key(qmsg.priority),
        .body = body,
        .body_len = len,
        .message_id = qmsg.notification_id,
        .correlation_id = qmsg.correlation_id,
    };
    wc_broker_status_t published = api_publisher_publish(ctx->publisher, &msg);
    free(body);
    return published == WC_BROKER_OK;
}

API_HANDLER(api_handle_replay_notification)
{
    api_response_t res;
    bson_oid_t id;
    if (!api_parse_id(param, &id, &res) || !api_no_query(req, &res)) {
        return res;
    }
    if (req->body_len > 0) {
        return api_field_error("body", "empty", "replay takes no body");
    }
    int64_t now = wc_time_now_ms();
    char actor[128];
    api_actor(principal, actor, sizeof(actor));
    bson_t *set = BCON_NEW("replayedAt", BCON_DATE_TIME(now), "retryCount", BCON_INT32(0));
    const wc_transition_t t = {
        .to = WC_STATUS_PENDING,
        .audit = {.actor = actor, .message = "Replayed via API (attempts reset)"},
        .set = set,
        .unset_lease = true,
    };
    bson_t *filter = BCON_NEW("_id", BCON_OID(&id), "tenantId", BCON_UTF8(principal->tenant_id),
                              "status", BCON_UTF8("FAILED"));
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_transition(ctx->store, filter, &t, now, &doc);
    bson_destroy(filter);
    bson_destroy(set);
    if (status == WC_STORE_ERROR) {
        return api_unavailable("the database");
    }
    if (status == WC_STORE_OK) {
        api_audit(ctx, principal, "notification.replay", param, NULL);
        const char *message = "Notification replayed";
        bson_t *queued = NULL;
        if (!publish_again(ctx, doc)) {
            wc_log_warn("replayed %s stays PENDING: its publish failed; the sweep publishes it",
                        param);
            message = "Notification replayed; it is queued once the broker confirms it";
        } else {
            (void)wc_store_mark_queued(ctx->store, &id, wc_time_now_ms(), &queued);
            if (queued != NULL) { /* as it now stands, QUEUED or taken by a worker already */
                bson_destroy(doc);
                doc = queued;
            }
        }
        res = api_ok(200, wc_notification_to_api_json(doc), message);
        bson_destroy(doc);
        return res;
    }
    switch (wc_store_get_notification(ctx->store, principal->tenant_id, &id, &doc)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_ERROR:
        return api_unavailable("the database");
    default:
        return api_error(404, "notification not found");
    }
    const char *current = wc_doc_string(doc, "status");
    char text[128];
    snprintf(text, sizeof(text), "the notification is %s; only FAILED ones can be replayed",
             current != NULL ? current : "in an unknown state");
    bson_destroy(doc);
    return api_error(409, text);
}
