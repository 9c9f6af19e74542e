/*
 * POST /api/events, POST /api/events/batch and GET /api/events/:eventId. An
 * event is stored once and fanned out into one WEBHOOK delivery per matching
 * endpoint (fanout.h, docs/ARCHITECTURE.md §14). The answer comes once the
 * deliveries are stored and queued; `fanout: "pending"` in it means the
 * sweeper finishes the job (the event itself is stored, so nothing is lost).
 *
 * An event's id is the client's `eventId`, or its Idempotency-Key, or a new
 * "evt_<ObjectId>"; the same id with the same body answers 200 with the event
 * stored first, with a different body 409.
 */
#include <stdio.h>
#include <string.h>

#include "fanout.h"
#include "handlers.h"
#include "idempotency.h"
#include "response.h"
#include "wc_event_type.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_store_endpoints.h"
#include "wc_store_trail.h"
#include "wc_time.h"

#define EVENT_ID_MAX 128
#define EVENTS_PER_BATCH_MAX 100

/* An event id: 1 to 128 of letters, digits and _ . : - (it becomes part of
 * a key and of every delivery). */
static bool event_id_valid(const char *id)
{
    size_t len = strlen(id);
    return len > 0 && len <= EVENT_ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == len;
}

/* Checks one event of a request; `prefix` names it in errors ("" or
 * "events[3]."). */
static void check_event(json_object *event, const char *prefix, wc_field_errors_t *errs)
{
    char field[64];
    if (!json_object_is_type(event, json_type_object)) {
        wc_field_errors_add(errs, prefix[0] != '\0' ? prefix : "body", "type",
                            "an event is a JSON object");
        return;
    }
    json_object_object_foreach(event, key, value)
    {
        (void)value;
        if (strcmp(key, "type") != 0 && strcmp(key, "payload") != 0 &&
            strcmp(key, "eventId") != 0) {
            snprintf(field, sizeof(field), "%s%.40s", prefix, key);
            wc_field_errors_add(errs, field, "unknown",
                                "unknown field; an event has type, payload and eventId");
        }
    }
    json_object *v = NULL;
    snprintf(field, sizeof(field), "%stype", prefix);
    if (!json_object_object_get_ex(event, "type", &v)) {
        wc_field_errors_add(errs, field, "required", "type is required: the event's type name");
    } else if (!json_object_is_type(v, json_type_string) ||
               !wc_event_type_valid(json_object_get_string(v))) {
        wc_field_errors_add(errs, field, "format",
                            "type is names of letters, digits, _ and - joined by dots, at most "
                            "128 characters");
    }
    snprintf(field, sizeof(field), "%spayload", prefix);
    if (!json_object_object_get_ex(event, "payload", &v)) {
        wc_field_errors_add(errs, field, "required", "payload is required: a JSON object");
    } else if (!json_object_is_type(v, json_type_object)) {
        wc_field_errors_add(errs, field, "type", "payload must be a JSON object");
    } else {
        size_t len = 0;
        json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
        if (len > WC_WEBHOOK_PAYLOAD_MAX_BYTES) {
            wc_field_errors_add(errs, field, "size", "payload must be at most %d bytes of JSON",
                                WC_WEBHOOK_PAYLOAD_MAX_BYTES);
        } else {
            /* A notification's payload rule: the database refuses empty, dotted or '$' keys,
             * and a refusal at the write would reach the client as 503. */
            (void)wc_json_tree_storable(v, field, errs);
        }
    }
    snprintf(field, sizeof(field), "%seventId", prefix);
    if (json_object_object_get_ex(event, "eventId", &v) &&
        (!json_object_is_type(v, json_type_string) ||
         !event_id_valid(json_object_get_string(v)))) {
        wc_field_errors_add(errs, field, "format",
                            "eventId is 1 to 128 letters, digits, _ . : or -");
    }
}

static json_object *event_json(const bson_t *doc)
{
    json_object *all = wc_json_from_bson(doc);
    json_object *out = json_object_new_object();
    static const char *const shown[] = {"eventId", "type", "payload", "createdAt", "endpoints",
                                        "fanout"};
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        json_object *v = NULL;
        json_object_object_get_ex(all, shown[i], &v);
        json_object_object_add(out, shown[i], json_object_get(v));
    }
    json_object_put(all);
    return out;
}

api_event_result_t api_event_publish(api_context_t *ctx, const char *tenant_id,
                                     json_object *event, const char *event_id_given)
{
    api_event_result_t r = {.code = 503, .message = "the database is unavailable; retry later"};
    char hash[65];
    if (api_idempotency_hash(event, hash) != 0) {
        return r;
    }
    json_object *v = NULL;
    json_object_object_get_ex(event, "type", &v);
    const char *type = json_object_get_string(v);
    json_object *payload = NULL;
    json_object_object_get_ex(event, "payload", &payload);
    char event_id[EVENT_ID_MAX + 8];
    if (event_id_given != NULL) {
        snprintf(event_id, sizeof(event_id), "%s", event_id_given);
    } else {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        char hex[25];
        bson_oid_to_string(&oid, hex);
        snprintf(event_id, sizeof(event_id), "evt_%s", hex);
    }
    char key[256];
    snprintf(key, sizeof(key), "%s:%s", tenant_id, event_id);

    bson_t **endpoints = NULL;
    size_t n = 0;
    if (wc_store_endpoint_list(ctx->store, tenant_id, &endpoints, &n) != WC_STORE_OK) {
        return r;
    }
    int64_t now = wc_time_now_ms();
    bson_t *doc = bson_new();
    bson_t list;
    BSON_APPEND_UTF8(doc, "_id", key);
    BSON_APPEND_UTF8(doc, "tenantId", tenant_id);
    BSON_APPEND_UTF8(doc, "eventId", event_id);
    BSON_APPEND_UTF8(doc, "type", type);
    bool ok = wc_json_append_to_bson(doc, "payload", -1, payload);
    BSON_APPEND_UTF8(doc, "requestHash", hash);
    BSON_APPEND_DATE_TIME(doc, "createdAt", now);
    BSON_APPEND_ARRAY_BEGIN(doc, "endpoints", &list);
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        bson_iter_t it;
        if (api_endpoint_receives(endpoints[i], type, payload) &&
            bson_iter_init_find(&it, endpoints[i], "_id") && BSON_ITER_HOLDS_OID(&it)) {
            char hex[25], index[16];
            bson_oid_to_string(bson_iter_oid(&it), hex);
            snprintf(index, sizeof(index), "%zu", matched++);
            BSON_APPEND_UTF8(&list, index, hex);
        }
    }
    bson_append_array_end(doc, &list);
    wc_store_docs_free(endpoints, n);
    /* The mark that makes the sweeper finish a fan-out this request does not. */
    BSON_APPEND_UTF8(doc, "fanout", matched > 0 ? "pending" : "done");
    if (matched > 0) {
        BSON_APPEND_DATE_TIME(doc, "fanoutSince", now);
    }
    if (!ok) { /* check_event tried the same conversion */
        bson_destroy(doc);
        return r;
    }
    bson_t *existing = NULL;
    switch (wc_store_event_insert(ctx->store, doc, &existing)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_CONFLICT: {
        const char *stored_hash = wc_doc_string(existing, "requestHash");
        if (stored_hash != NULL && strcmp(stored_hash, hash) == 0) {
            r.code = 200;
            r.event = event_json(existing);
            r.message = "Event already published with this id";
        } else {
            r.code = 409;
            r.message = "this eventId was already used for a different event";
        }
        bson_destroy(existing);
        bson_destroy(doc);
        return r;
    }
    default:
        bson_destroy(doc);
        return r;
    }
    size_t deliveries = 0;
    bool complete = matched == 0 || api_fanout_run(ctx, doc, &deliveries);
    r.code = 201;
    r.message = complete ? "Event published" : "Event stored; its fan-out finishes in the background";
    r.event = event_json(doc);
    json_object_object_add(r.event, "fanout", json_object_new_string(complete ? "done" : "pending"));
    json_object_object_add(r.event, "deliveries", json_object_new_int64((int64_t)deliveries));
    bson_destroy(doc);
    return r;
}

api_response_t api_handle_create_event(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    json_object *body = NULL;
    if (!api_no_query(req, &res) || !api_parse_json_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    check_event(body, "", &errs);
    const char *key = api_request_header(req, "Idempotency-Key");
    json_object *given = NULL;
    json_object_object_get_ex(body, "eventId", &given);
    if (key != NULL && !api_idempotency_key_valid(key)) {
        wc_field_errors_add(&errs, "Idempotency-Key", "format",
                            "Idempotency-Key must be 1 to 255 characters of visible ASCII");
    } else if (key != NULL && given == NULL && !event_id_valid(key)) {
        wc_field_errors_add(&errs, "Idempotency-Key", "format",
                            "an Idempotency-Key names the event: 1 to 128 letters, digits, "
                            "_ . : or -");
    } else if (key != NULL && given != NULL &&
               strcmp(key, json_object_get_string(given)) != 0) {
        wc_field_errors_add(&errs, "Idempotency-Key", "match",
                            "when both are given, Idempotency-Key and eventId must be equal");
    }
    if (errs.count > 0) {
        json_object_put(body);
        return api_validation_error(&errs);
    }
    api_event_result_t r = api_event_publish(ctx, principal->tenant_id, body,
                                     given != NULL ? json_object_get_string(given) : key);
    json_object_put(body);
    if (r.code == 200 || r.code == 201) {
        res = api_ok(r.code, r.event, r.message);
        if (r.code == 200) {
            api_response_header(&res, "Idempotent-Replayed", "true");
        }
        return res;
    }
    res = api_error(r.code, r.message);
    if (r.code == 503) {
        api_response_header(&res, "Retry-After", "5");
    }
    return res;
}

api_response_t api_handle_create_event_batch(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    json_object *body = NULL;
    if (!api_no_query(req, &res) || !api_parse_json_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    json_object *events = NULL;
    size_t n = 0;
    if (!json_object_is_type(body, json_type_object) ||
        !json_object_object_get_ex(body, "events", &events) ||
        !json_object_is_type(events, json_type_array) ||
        (n = json_object_array_length(events)) == 0 || n > EVENTS_PER_BATCH_MAX ||
        json_object_object_length(body) != 1) {
        json_object_put(body);
        return api_field_error("events", "type",
                               "the body is {\"events\": [...]} with 1 to 100 events");
    }
    for (size_t i = 0; i < n && errs.count < WC_FIELD_ERRORS_MAX; i++) {
        char prefix[24];
        snprintf(prefix, sizeof(prefix), "events[%zu].", i);
        check_event(json_object_array_get_idx(events, i), prefix, &errs);
    }
    if (errs.count > 0) {
        json_object_put(body);
        return api_validation_error(&errs);
    }
    json_object *results = json_object_new_array();
    bool all_stored = true;
    for (size_t i = 0; i < n; i++) {
        json_object *event = json_object_array_get_idx(events, i);
        json_object *given = NULL;
        json_object_object_get_ex(event, "eventId", &given);
        api_event_result_t r = api_event_publish(ctx, principal->tenant_id, event,
                                         given != NULL ? json_object_get_string(given) : NULL);
        json_object *item = json_object_new_object();
        json_object_object_add(item, "status", json_object_new_int((int)r.code));
        if (r.event != NULL) {
            json_object_object_add(item, "event", r.event);
        } else {
            json_object_object_add(item, "message", json_object_new_string(r.message));
        }
        all_stored = all_stored && (r.code == 200 || r.code == 201);
        json_object_array_add(results, item);
    }
    json_object_put(body);
    return api_ok(all_stored ? 201 : 207, results,
                  all_stored ? "Events published" : "Some events were not published; see each");
}

/* One delivery of an event as GET /api/events/:id shows it. */
/* The request a delivery makes, from its stored document (as JSON). */
static json_object *request_json(json_object *delivery, const char *id_hex)
{
    json_object *request = json_object_new_object();
    json_object *v = NULL;
    json_object_object_get_ex(delivery, "recipient", &v);
    json_object_object_add(request, "method", json_object_new_string("POST"));
    json_object_object_add(request, "url", json_object_get(v));
    json_object *headers = json_object_new_object();
    json_object_object_add(headers, "content-type", json_object_new_string("application/json"));
    json_object_object_add(headers, "webhook-id", json_object_new_string(id_hex));
    if (json_object_object_get_ex(delivery, "headers", &v) &&
        json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, name, value)
        {
            json_object_object_add(headers, name, json_object_get(value));
        }
    }
    json_object_object_add(request, "headers", headers);
    v = NULL;
    json_object_object_get_ex(delivery, "payload", &v);
    json_object_object_add(request, "body", json_object_get(v));
    return request;
}

static json_object *delivery_json(api_context_t *ctx, const char *tenant, const char *event_key,
                                  const char *endpoint_id, bool *failed)
{
    bson_oid_t id;
    char hex[25];
    api_fanout_delivery_id(event_key, endpoint_id, &id);
    bson_oid_to_string(&id, hex);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "endpointId", json_object_new_string(endpoint_id));
    json_object_object_add(out, "notificationId", json_object_new_string(hex));
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_get_notification(ctx->store, tenant, &id, &doc);
    if (status == WC_STORE_ERROR) {
        *failed = true;
        return out;
    }
    /* Not stored (yet): its fan-out is pending, or the endpoint was deleted before it. */
    json_object *all = status == WC_STORE_OK ? wc_json_from_bson(doc) : NULL;
    static const char *const shown[] = {"status", "retryCount", "error", "sentAt", "failedAt",
                                        "nextAttemptAt", "updatedAt"};
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        json_object *v = NULL;
        if (all != NULL && json_object_object_get_ex(all, shown[i], &v)) {
            json_object_object_add(out, shown[i], json_object_get(v));
        } else if (i == 0) {
            json_object_object_add(out, "status", NULL);
        }
    }
    if (all != NULL) {
        /* What each attempt sends, and what each answered: the request as it
         * is made (webhook-timestamp and webhook-signature are made afresh at
         * every attempt), and the trail, whose outcome entries hold the
         * receiver's status and the start of its answer. */
        json_object_object_add(out, "request", request_json(all, hex));
        json_object *attempts = wc_store_trail_read(ctx->store, doc);
        if (attempts == NULL) {
            *failed = true;
        }
        json_object_object_add(out, "attempts", attempts);
    }
    json_object_put(all);
    bson_destroy(doc);
    return out;
}

api_response_t api_handle_get_event(api_context_t *ctx, const api_request_t *req,
                                    const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    if (param == NULL || !event_id_valid(param)) {
        return api_field_error("id", "format", "an event id is 1 to 128 letters, digits, _ . : or -");
    }
    char key[256];
    snprintf(key, sizeof(key), "%s:%s", principal->tenant_id, param);
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_event_get(ctx->store, key, &doc);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "event not found");
    }
    json_object *out = event_json(doc);
    json_object *deliveries = json_object_new_array();
    bson_iter_t it, list;
    bool failed = false;
    if (bson_iter_init_find(&it, doc, "endpoints") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &list)) {
        while (!failed && bson_iter_next(&list)) {
            if (BSON_ITER_HOLDS_UTF8(&list)) {
                json_object_array_add(deliveries,
                                      delivery_json(ctx, principal->tenant_id, key,
                                                    bson_iter_utf8(&list, NULL), &failed));
            }
        }
    }
    bson_destroy(doc);
    json_object_object_add(out, "endpointDeliveries", deliveries);
    if (failed) {
        json_object_put(out);
        return api_unavailable("the database");
    }
    return api_ok(200, out, "Event retrieved");
}
