/*
 * POST /api/notifications/:id/cancel, with an optional body {"reason": ".."}.
 *
 * A notification that no worker has claimed yet (SCHEDULED, PENDING, QUEUED,
 * RETRYING) turns CANCELLED in one atomic update with its audit entry. The
 * queue may still hold its message; a worker's claim only takes QUEUED,
 * RETRYING, PENDING or an expired PROCESSING, so it acks and drops that copy
 * and the notification is never sent. Once PROCESSING, SENT or FAILED it is
 * too late: 409. Cancelling a cancelled notification answers 200 again.
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "response.h"
#include "wc_lifecycle.h"
#include "wc_json.h"
#include "wc_store_system_events.h"
#include "wc_time.h"

#define REASON_MAX_CHARS 200

/* Reads the optional reason; false with the 4xx in *res. */
static bool cancel_reason(const api_request_t *req, char *reason, size_t len, api_response_t *res)
{
    reason[0] = '\0';
    if (req->body_len == 0) {
        return true;
    }
    json_object *body = NULL;
    if (!api_parse_json_body(req, &body, res)) {
        return false;
    }
    wc_field_errors_t errs = {0};
    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(&errs, "body", "type", "the body must be an object {\"reason\": ..}");
    } else {
        json_object_object_foreach(body, key, value)
        {
            if (strcmp(key, "reason") != 0) {
                wc_field_errors_add(&errs, key, "unknown", "unknown field \"%.40s\"", key);
                continue;
            }
            const char *s = json_object_get_string(value);
            size_t n = json_object_is_type(value, json_type_string)
                           ? (size_t)json_object_get_string_len(value)
                           : 0;
            size_t chars = 0;
            bool control = false;
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                chars += (c & 0xC0) != 0x80;
                control = control || c < 0x20 || c == 0x7f;
            }
            if (!json_object_is_type(value, json_type_string)) {
                wc_field_errors_add(&errs, "reason", "type", "reason must be a string");
            } else if (chars == 0 || chars > REASON_MAX_CHARS || n >= len) {
                wc_field_errors_add(&errs, "reason", "length", "reason must be 1 to %d characters",
                                    REASON_MAX_CHARS);
            } else if (control || strlen(s) != n) {
                wc_field_errors_add(&errs, "reason", "control",
                                    "reason must not contain control characters");
            } else {
                memcpy(reason, s, n + 1);
            }
        }
    }
    json_object_put(body);
    if (errs.count > 0) {
        *res = api_validation_error(&errs);
        return false;
    }
    return true;
}

static api_response_t cancelled(bson_t *doc, const char *message)
{
    api_response_t res = api_ok(200, wc_notification_to_api_json(doc), message);
    bson_destroy(doc);
    return res;
}

api_response_t api_handle_cancel_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    char reason[REASON_MAX_CHARS * 4 + 1];
    if (!api_parse_id(req, param, &id, &res) ||
        !cancel_reason(req, reason, sizeof(reason), &res)) {
        return res;
    }
    int64_t now = wc_time_now_ms();
    char actor[128];
    api_actor(principal, actor, sizeof(actor));
    char message[sizeof(reason) + 32];
    snprintf(message, sizeof(message), "Cancelled via API%s%s", reason[0] != '\0' ? ": " : "",
             reason);
    bson_t *set = BCON_NEW("cancelledAt", BCON_DATE_TIME(now));
    const wc_transition_t t = {
        .to = WC_STATUS_CANCELLED,
        .audit = {.actor = actor, .message = message},
        .set = set,
    };
    bson_t *filter = BCON_NEW("_id", BCON_OID(&id), "tenantId", BCON_UTF8(principal->tenant_id));
    bson_t *doc = NULL;
    wc_store_status_t status = wc_status_append_sources(filter, "status", WC_STATUS_CANCELLED)
                                   ? wc_store_transition(ctx->store, filter, &t, now, &doc)
                                   : WC_STORE_ERROR;
    bson_destroy(filter);
    bson_destroy(set);
    if (status == WC_STORE_OK) {
        api_audit(ctx, principal, "notification.cancel", param, reason[0] != '\0' ? reason : NULL);
        wc_store_system_event_note(ctx->store, doc, "CANCELLED");
        return cancelled(doc, "Notification cancelled");
    }
    if (status == WC_STORE_ERROR) {
        return api_unavailable("the database");
    }
    /* Not cancellable: missing, another tenant's, or past the point. */
    switch (wc_store_get_notification(ctx->store, principal->tenant_id, &id, &doc)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_ERROR:
        return api_unavailable("the database");
    default:
        return api_error(404, "notification not found");
    }
    const char *current = wc_doc_string(doc, "status");
    if (current != NULL && strcmp(current, "CANCELLED") == 0) {
        return cancelled(doc, "Notification was already cancelled");
    }
    char text[128];
    snprintf(text, sizeof(text), "the notification is %s and can no longer be cancelled",
             current != NULL ? current : "in an unknown state");
    bson_destroy(doc);
    return api_error(409, text);
}
