#include "wc_notification.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"
#include "wc_time.h"
#include "wc_topology.h"

static const char *const channel_names[WC_CHANNEL_COUNT] = {"EMAIL", "SMS", "PUSH", "WEBHOOK"};
static const char *const status_names[WC_STATUS_COUNT] = {
    "PENDING", "QUEUED", "PROCESSING", "SENT", "FAILED", "RETRYING", "SCHEDULED", "CANCELLED", "SUPPRESSED"};
static const char *const priority_names[WC_PRIORITY_COUNT] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};

static int parse_name(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *wc_channel_name(wc_channel_t channel) { return channel_names[channel]; }
const char *wc_status_name(wc_status_t status) { return status_names[status]; }
const char *wc_priority_name(wc_priority_t priority) { return priority_names[priority]; }

int wc_channel_parse(const char *name, wc_channel_t *out)
{
    int i = parse_name(channel_names, WC_CHANNEL_COUNT, name);
    if (i < 0) {
        return -1;
    }
    *out = (wc_channel_t)i;
    return 0;
}

int wc_status_parse(const char *name, wc_status_t *out)
{
    int i = parse_name(status_names, WC_STATUS_COUNT, name);
    if (i < 0) {
        return -1;
    }
    *out = (wc_status_t)i;
    return 0;
}

int wc_priority_parse(const char *name, wc_priority_t *out)
{
    int i = parse_name(priority_names, WC_PRIORITY_COUNT, name);
    if (i < 0) {
        return -1;
    }
    *out = (wc_priority_t)i;
    return 0;
}

const char *wc_priority_routing_key(wc_priority_t priority)
{
    return priority >= WC_PRIORITY_HIGH ? WC_QUEUE_HIGH : WC_QUEUE_STANDARD;
}

/* ---- validation errors ---- */

void wc_field_errors_add(wc_field_errors_t *errs, const char *field, const char *rule,
                         const char *fmt, ...)
{
    if (errs->count >= WC_FIELD_ERRORS_MAX) {
        return; /* The first sixteen violations are enough to act on. */
    }
    wc_field_error_t *e = &errs->items[errs->count++];
    snprintf(e->field, sizeof(e->field), "%s", field);
    snprintf(e->rule, sizeof(e->rule), "%s", rule);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

json_object *wc_field_errors_to_json(const wc_field_errors_t *errs)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < errs->count; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "field", json_object_new_string(errs->items[i].field));
        json_object_object_add(e, "rule", json_object_new_string(errs->items[i].rule));
        json_object_object_add(e, "message", json_object_new_string(errs->items[i].message));
        json_object_array_add(arr, e);
    }
    return arr;
}

/* ---- documents ---- */

wc_status_t wc_notification_initial_status(const wc_notification_request_t *req, int64_t now_ms)
{
    return req->scheduled_at_ms > now_ms ? WC_STATUS_SCHEDULED : WC_STATUS_QUEUED;
}

/* "<tenantId>:<created_ms floored to a multiple of width_ms>": floored, so
 * that an instant before 1970 still lands in the bucket that starts at or
 * before it. */
static int list_key(char *out, size_t len, const char *tenant_id, int64_t created_ms,
                    int64_t width_ms)
{
    int64_t start = created_ms / width_ms * width_ms;
    if (start > created_ms) {
        start -= width_ms;
    }
    int n = snprintf(out, len, "%s:%lld", tenant_id, (long long)start);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int wc_notification_list_bucket(char *out, size_t len, const char *tenant_id, int64_t created_ms)
{
    return list_key(out, len, tenant_id, created_ms, WC_LIST_BUCKET_MS);
}

int wc_notification_list_slot(char *out, size_t len, const char *tenant_id, int64_t created_ms)
{
    return list_key(out, len, tenant_id, created_ms, WC_LIST_SLOT_MS);
}

int wc_notification_list_day_kind(char *out, size_t len, const char *tenant_id,
                                  int64_t created_ms, wc_channel_t type, wc_priority_t priority)
{
    if (list_key(out, len, tenant_id, created_ms, WC_LIST_DAY_MS) != 0) {
        return -1;
    }
    size_t used = strlen(out);
    int n = snprintf(out + used, len - used, ":%s:%s", wc_channel_name(type),
                     wc_priority_name(priority));
    return n < 0 || (size_t)n >= len - used ? -1 : 0;
}

bson_t *wc_notification_new_document(const wc_notification_request_t *req, const bson_oid_t *id,
                                     const char *tenant_id, int default_max_retries,
                                     const char *correlation_id, int64_t now_ms)
{
    wc_status_t status = wc_notification_initial_status(req, now_ms);
    bson_t *doc = bson_new();
    bool ok = BSON_APPEND_OID(doc, "_id", id);
    ok = ok && BSON_APPEND_UTF8(doc, "tenantId", tenant_id);
    ok = ok && BSON_APPEND_UTF8(doc, "type", wc_channel_name(req->type));
    ok = ok && BSON_APPEND_UTF8(doc, "recipient", req->recipient);
    if (req->subject != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "subject", req->subject);
    }
    if (req->message != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "message", req->message);
    }
    if (req->html != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "html", req->html);
    }
    if (req->template_ref != NULL) {
        ok = ok && wc_json_append_to_bson(doc, "template", -1, req->template_ref);
    }
    if (req->type == WC_CHANNEL_PUSH) {
        ok = ok && BSON_APPEND_UTF8(doc, "platform", wc_push_platform_name(req->platform));
        if (req->title != NULL) {
            ok = ok && BSON_APPEND_UTF8(doc, "title", req->title);
        }
        if (req->data != NULL) {
            ok = ok && wc_json_append_to_bson(doc, "data", -1, req->data);
        }
    }
    if (req->type == WC_CHANNEL_WEBHOOK && req->payload != NULL) {
        ok = ok && wc_json_append_to_bson(doc, "payload", -1, req->payload);
    }
    ok = ok && BSON_APPEND_UTF8(doc, "status", wc_status_name(status));
    ok = ok && BSON_APPEND_UTF8(doc, "priority", wc_priority_name(req->priority));
    ok = ok && BSON_APPEND_INT32(doc, "retryCount", 0);
    ok = ok && BSON_APPEND_INT32(doc, "maxRetries",
                                 req->max_retries >= 0 ? req->max_retries : default_max_retries);
    if (req->metadata != NULL) {
        ok = ok && wc_json_append_to_bson(doc, "metadata", -1, req->metadata);
    }
    if (req->scheduled_at_ms >= 0) {
        ok = ok && BSON_APPEND_DATE_TIME(doc, "scheduledAt", req->scheduled_at_ms);
    }
    if (req->user_id != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "userId", req->user_id);
    }
    if (req->category != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "category", req->category);
    }
    if (req->idempotency_key != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "idempotencyKey", req->idempotency_key);
    }
    if (correlation_id != NULL && correlation_id[0] != '\0') {
        ok = ok && BSON_APPEND_UTF8(doc, "correlationId", correlation_id);
    }
    ok = ok && BSON_APPEND_DATE_TIME(doc, "createdAt", now_ms);
    ok = ok && BSON_APPEND_DATE_TIME(doc, "updatedAt", now_ms);
    char bucket[WC_LIST_BUCKET_LEN];
    ok = ok && wc_notification_list_bucket(bucket, sizeof(bucket), tenant_id, now_ms) == 0;
    ok = ok && BSON_APPEND_UTF8(doc, "listBucket", bucket);
    ok = ok && wc_notification_list_slot(bucket, sizeof(bucket), tenant_id, now_ms) == 0;
    ok = ok && BSON_APPEND_UTF8(doc, "listSlot", bucket);
    ok = ok && wc_notification_list_day_kind(bucket, sizeof(bucket), tenant_id, now_ms, req->type,
                                             req->priority) == 0;
    ok = ok && BSON_APPEND_UTF8(doc, "listDayKind", bucket);

    /* A notification sent now is stored QUEUED with its commit's outbox
     * record (docs/ARCHITECTURE.md §3.2): its creation is changes 1 (PENDING)
     * and 2 (QUEUED); a scheduled one's is change 1 (SCHEDULED). Those
     * entries follow from the document (createdSeq, createdAt, scheduledAt),
     * so they are not written to the trail: readers derive them. */
    char message[80];
    if (status == WC_STATUS_SCHEDULED) {
        char when[WC_ISO8601_LEN];
        wc_time_format_iso8601(req->scheduled_at_ms, when, sizeof(when));
        snprintf(message, sizeof(message), "Notification scheduled for %s", when);
    } else {
        snprintf(message, sizeof(message), "%s", WC_MESSAGE_QUEUED);
    }
    bson_t last;
    ok = ok && BSON_APPEND_INT32(doc, "seq", status == WC_STATUS_SCHEDULED ? 1 : 2);
    ok = ok && BSON_APPEND_INT32(doc, "createdSeq", status == WC_STATUS_SCHEDULED ? 1 : 2);
    ok = ok && BSON_APPEND_DOCUMENT_BEGIN(doc, "last", &last);
    ok = ok && BSON_APPEND_UTF8(&last, "status", wc_status_name(status));
    ok = ok && BSON_APPEND_UTF8(&last, "message", message);
    ok = ok && BSON_APPEND_UTF8(&last, "actor", "api");
    ok = ok && BSON_APPEND_DATE_TIME(&last, "timestamp", now_ms);
    ok = ok && bson_append_document_end(doc, &last);

    if (!ok) {
        bson_destroy(doc);
        return NULL;
    }
    return doc;
}

/* Fields that stay inside WaveCom. */
static const char *const internal_fields[] = {"logs", "lease",      "republishCount", "seq",
                                              "createdSeq", "last", "listBucket", "listSlot",
                                              "listDayKind", "lastToken", NULL};

json_object *wc_notification_to_api_json(const bson_t *doc)
{
    json_object *obj = json_object_new_object();
    bson_iter_t iter;
    if (!bson_iter_init(&iter, doc)) {
        return obj;
    }
    while (bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        bool internal = false;
        for (const char *const *f = internal_fields; *f != NULL; f++) {
            internal = internal || strcmp(*f, key) == 0;
        }
        if (!internal) {
            json_object_object_add(obj, key, wc_json_from_bson_value(&iter));
        }
    }
    return obj;
}

/* ---- queue messages ---- */

const char *wc_doc_string(const bson_t *doc, const char *key)
{
    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_UTF8(&iter)) {
        return NULL;
    }
    return bson_iter_utf8(&iter, NULL);
}

int64_t wc_doc_int(const bson_t *doc, const char *key, int64_t fallback)
{
    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, doc, key)) {
        return fallback;
    }
    if (BSON_ITER_HOLDS_INT32(&iter)) {
        return bson_iter_int32(&iter);
    }
    if (BSON_ITER_HOLDS_INT64(&iter)) {
        return bson_iter_int64(&iter);
    }
    if (BSON_ITER_HOLDS_DOUBLE(&iter)) {
        return (int64_t)bson_iter_double(&iter);
    }
    return fallback;
}

int64_t wc_doc_date(const bson_t *doc, const char *key, int64_t fallback)
{
    bson_iter_t iter;
    return bson_iter_init_find(&iter, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&iter)
               ? bson_iter_date_time(&iter)
               : fallback;
}

int wc_queue_message_from_document(const bson_t *doc, wc_queue_message_t *msg)
{
    memset(msg, 0, sizeof(*msg));
    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, doc, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
        return -1;
    }
    bson_oid_to_string(bson_iter_oid(&iter), msg->notification_id);
    const char *tenant = wc_doc_string(doc, "tenantId");
    const char *type = wc_doc_string(doc, "type");
    const char *priority = wc_doc_string(doc, "priority");
    const char *correlation = wc_doc_string(doc, "correlationId");
    if (tenant == NULL || type == NULL || priority == NULL ||
        wc_channel_parse(type, &msg->type) != 0 || wc_priority_parse(priority, &msg->priority) != 0) {
        return -1;
    }
    snprintf(msg->tenant_id, sizeof(msg->tenant_id), "%s", tenant);
    snprintf(msg->correlation_id, sizeof(msg->correlation_id), "%s",
             correlation != NULL ? correlation : "");
    msg->retry_count = (int)wc_doc_int(doc, "retryCount", 0);
    const char *endpoint = wc_doc_string(doc, "endpointId");
    if (endpoint != NULL && strlen(endpoint) == 24 && bson_oid_is_valid(endpoint, 24)) {
        memcpy(msg->endpoint_id, endpoint, 25);
    }
    return 0;
}

char *wc_queue_message_encode(const wc_queue_message_t *msg, size_t *len)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "notificationId", json_object_new_string(msg->notification_id));
    json_object_object_add(obj, "tenantId", json_object_new_string(msg->tenant_id));
    json_object_object_add(obj, "type", json_object_new_string(wc_channel_name(msg->type)));
    json_object_object_add(obj, "priority",
                           json_object_new_string(wc_priority_name(msg->priority)));
    json_object_object_add(obj, "retryCount", json_object_new_int(msg->retry_count));
    if (msg->correlation_id[0] != '\0') {
        json_object_object_add(obj, "correlationId", json_object_new_string(msg->correlation_id));
    }
    if (msg->endpoint_id[0] != '\0') {
        json_object_object_add(obj, "endpointId", json_object_new_string(msg->endpoint_id));
    }
    if (msg->send_at_ms > 0) {
        json_object_object_add(obj, "sendAt", json_object_new_int64(msg->send_at_ms));
    }
    size_t n = 0;
    const char *text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &n);
    char *copy = malloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, text, n + 1);
        *len = n;
    }
    json_object_put(obj);
    return copy;
}

static int copy_string_field(json_object *obj, const char *key, char *out, size_t out_len,
                             bool required)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v)) {
        return required ? -1 : 0;
    }
    /* A string with an escaped NUL ("\u0000") is refused: every later use
     * reads it as a C string and would see only its first part. */
    size_t n = json_object_is_type(v, json_type_string) ? (size_t)json_object_get_string_len(v) : 0;
    if (!json_object_is_type(v, json_type_string) || n >= out_len ||
        memchr(json_object_get_string(v), '\0', n) != NULL) {
        return -1;
    }
    memcpy(out, json_object_get_string(v), n + 1);
    return 0;
}

int wc_queue_message_decode(const char *body, size_t len, wc_queue_message_t *msg,
                            const char **why)
{
    memset(msg, 0, sizeof(*msg));
    json_object *obj = wc_json_parse_strict(body, len, why);
    if (obj == NULL) {
        return -1;
    }
    int rc = -1;
    char type[16] = "";
    char priority[16] = "";
    json_object *retry = NULL;
    if (!json_object_is_type(obj, json_type_object) ||
        copy_string_field(obj, "notificationId", msg->notification_id,
                          sizeof(msg->notification_id), true) != 0 ||
        !bson_oid_is_valid(msg->notification_id, strlen(msg->notification_id)) ||
        copy_string_field(obj, "tenantId", msg->tenant_id, sizeof(msg->tenant_id), true) != 0 ||
        copy_string_field(obj, "correlationId", msg->correlation_id, sizeof(msg->correlation_id),
                          false) != 0 ||
        copy_string_field(obj, "type", type, sizeof(type), true) != 0 ||
        copy_string_field(obj, "priority", priority, sizeof(priority), true) != 0 ||
        wc_channel_parse(type, &msg->type) != 0 || wc_priority_parse(priority, &msg->priority) != 0) {
        *why = "missing or malformed field";
        goto out;
    }
    if (json_object_object_get_ex(obj, "retryCount", &retry)) {
        msg->retry_count = json_object_get_int(retry);
    }
    json_object *send_at = NULL;
    if (copy_string_field(obj, "endpointId", msg->endpoint_id, sizeof(msg->endpoint_id), false) !=
            0 ||
        (msg->endpoint_id[0] != '\0' && !bson_oid_is_valid(msg->endpoint_id, 24)) ||
        (json_object_object_get_ex(obj, "sendAt", &send_at) &&
         (!json_object_is_type(send_at, json_type_int) ||
          (msg->send_at_ms = json_object_get_int64(send_at)) <= 0))) {
        *why = "malformed endpointId or sendAt";
        goto out;
    }
    rc = 0;
out:
    json_object_put(obj);
    return rc;
}
