#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "response.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_time.h"
#include "wc_topology.h"

static bool is_json_content_type(const char *value)
{
    if (value == NULL) {
        return false;
    }
    size_t n = strlen("application/json");
    return strncasecmp(value, "application/json", n) == 0 && (value[n] == '\0' || value[n] == ';');
}

/* Persist (PENDING), publish and wait for the confirm, then record QUEUED:
 * the client hears 201 only when both the database and the broker hold the
 * notification (DESIGN §4 invariant 1). */
api_response_t api_handle_create_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param)
{
    if (!is_json_content_type(api_request_header(req, "Content-Type"))) {
        return api_error(415, "Content-Type must be application/json");
    }
    const char *why = NULL;
    json_object *body = wc_json_parse_strict(req->body, req->body_len, &why);
    if (body == NULL) {
        wc_field_errors_t errs = {0};
        wc_field_errors_add(&errs, "body", "json", "malformed JSON: %s", why);
        api_response_t res = api_validation_error(&errs);
        json_object_object_add(res.body, "message", json_object_new_string("Malformed JSON"));
        return res;
    }

    api_response_t res;
    bson_t *doc = NULL;
    bson_t *stored = NULL;
    char *message = NULL;
    wc_field_errors_t errs = {0};
    wc_notification_request_t nreq;
    if (!wc_notification_validate(body, &nreq, &errs)) {
        res = api_validation_error(&errs);
        goto out;
    }

    int64_t now = wc_time_now_ms();
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    doc = wc_notification_new_document(&nreq, &id, principal->tenant_id, ctx->cfg->max_retries,
                                       req->request_id, now);
    if (doc == NULL) {
        wc_field_errors_add(&errs, "metadata", "storable", "metadata cannot be stored");
        res = api_validation_error(&errs);
        goto out;
    }
    if (wc_store_insert_notification(ctx->store, doc) != WC_STORE_OK) {
        res = api_unavailable("the database");
        goto out;
    }

    wc_queue_message_t qmsg;
    size_t message_len = 0;
    if (wc_queue_message_from_document(doc, &qmsg) != 0 ||
        (message = wc_queue_message_encode(&qmsg, &message_len)) == NULL) {
        res = api_error(500, "internal error building the queue message");
        goto out;
    }
    const wc_broker_message_t bmsg = {
        .exchange = WC_EXCHANGE,
        .routing_key = wc_priority_routing_key(nreq.priority),
        .body = message,
        .body_len = message_len,
        .message_id = qmsg.notification_id,
        .correlation_id = req->request_id,
    };
    wc_broker_status_t published = api_publisher_publish(ctx->publisher, &bmsg);
    if (published != WC_BROKER_OK) {
        /* The document stays PENDING; the sweeper republishes stale PENDING
         * ones, and the client is told to retry. */
        wc_log_warn("publish of %s failed (%d); left PENDING", qmsg.notification_id, published);
        res = api_unavailable("the message broker");
        goto out;
    }

    if (wc_store_mark_queued(ctx->store, &id, wc_time_now_ms(), &stored) != WC_STORE_OK) {
        /* Persisted and queued: the promise holds even though the QUEUED
         * record failed; the worker records its own progress. */
        wc_log_warn("recording QUEUED for %s failed; it is queued nonetheless",
                    qmsg.notification_id);
    }
    res = api_ok(201, wc_notification_to_api_json(stored != NULL ? stored : doc),
                 "Notification created and queued successfully");
    char location[64];
    snprintf(location, sizeof(location), "/api/notifications/%s", qmsg.notification_id);
    api_response_header(&res, "Location", location);

out:
    free(message);
    bson_destroy(stored);
    bson_destroy(doc);
    json_object_put(body);
    return res;
}

api_response_t api_handle_get_notification(api_context_t *ctx, const api_request_t *req,
                                           const wc_principal_t *principal, const char *param)
{
    if (param == NULL || strlen(param) != 24 || !bson_oid_is_valid(param, 24)) {
        wc_field_errors_t errs = {0};
        wc_field_errors_add(&errs, "id", "objectid", "id must be 24 hexadecimal characters");
        return api_validation_error(&errs);
    }
    bson_oid_t id;
    bson_oid_init_from_string(&id, param);
    bson_t *doc = NULL;
    switch (wc_store_get_notification(ctx->store, principal->tenant_id, &id, &doc)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
    case WC_STORE_CONFLICT:
        return api_error(404, "notification not found");
    case WC_STORE_ERROR:
        return api_unavailable("the database");
    }
    json_object *data = json_object_new_object();
    json_object_object_add(data, "notification", wc_notification_to_api_json(doc));
    json_object_object_add(data, "logs", wc_notification_logs_to_api_json(doc));
    bson_destroy(doc);
    return api_ok(200, data, NULL);
}
