/*
 * POST /api/notifications/:id/replay: a FAILED notification of the caller's
 * tenant goes back to its priority queue with its attempts reset (replay.h
 * says how, and what happens when the broker is down). Another tenant's id,
 * or none, is 404; any other status is 409.
 */
#include <stdio.h>

#include "handlers.h"
#include "replay.h"
#include "response.h"

api_response_t api_handle_replay_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    if (!api_parse_id(req, param, &id, &res)) {
        return res;
    }
    if (req->body_len > 0) {
        return api_field_error("body", "empty", "replay takes no body");
    }
    char actor[128];
    api_actor(principal, actor, sizeof(actor));
    bson_t *doc = NULL;
    switch (api_replay_notification(ctx, principal->tenant_id, &id, actor, false, &doc)) {
    case API_REPLAY_QUEUED:
        api_audit(ctx, principal, "notification.replay", param, NULL);
        res = api_ok(200, wc_notification_to_api_json(doc), "Notification replayed");
        break;
    case API_REPLAY_PENDING:
        api_audit(ctx, principal, "notification.replay", param, NULL);
        res = api_ok(200, wc_notification_to_api_json(doc),
                     "Notification replayed; it is queued once the broker confirms it");
        break;
    case API_REPLAY_NOT_FAILED: {
        const char *current = wc_doc_string(doc, "status");
        char text[128];
        snprintf(text, sizeof(text), "the notification is %s; only FAILED ones can be replayed",
                 current != NULL ? current : "in an unknown state");
        res = api_error(409, text);
        break;
    }
    case API_REPLAY_NOT_FOUND:
        res = api_error(404, "notification not found");
        break;
    default:
        res = api_unavailable("the database");
        break;
    }
    if (doc != NULL) {
        bson_destroy(doc);
    }
    return res;
}
