#include "wc_notification.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"

static const char *const channel_names[WC_CHANNEL_COUNT] = {"EMAIL", "SMS", "PUSH", "WEBHOOK"};
static const char *const status_names[WC_STATUS_COUNT] = {
    "PENDING", "QUEUED", "PROCESSING", "SENT", "FAILED", "RETRYING", "SCHEDULED", "CANCELLED"};
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
    return priority >= WC_PRIORITY_HIGH ? "high_priority" : "notifications";
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

/* ---- field checks ---- */

/* Characters (code points) of a string already validated as UTF-8. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

static bool has_control_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return true;
        }
    }
    return false;
}

static bool is_atext(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool domain_valid(const char *d, size_t len)
{
    if (len == 0 || len > 253) {
        return false;
    }
    size_t labels = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || d[i] == '.') {
            size_t label_len = i - start;
            if (label_len == 0 || label_len > 63 || d[start] == '-' || d[i - 1] == '-') {
                return false;
            }
            labels++;
            start = i + 1;
        } else if (!isalnum((unsigned char)d[i]) && d[i] != '-') {
            return false;
        }
    }
    /* The top-level label is never all digits, which also rules out bare IPs. */
    const char *tld = strrchr(d, '.');
    if (labels < 2 || tld == NULL) {
        return false;
    }
    bool all_digits = true;
    for (const char *p = tld + 1; p < d + len; p++) {
        all_digits = all_digits && isdigit((unsigned char)*p);
    }
    return !all_digits;
}

bool wc_email_address_valid(const char *address)
{
    size_t len = strlen(address);
    if (len < 3 || len > WC_RECIPIENT_MAX_BYTES) {
        return false;
    }
    const char *at = strrchr(address, '@');
    if (at == NULL || at == address) {
        return false;
    }
    size_t local_len = (size_t)(at - address);
    if (local_len > 64 || address[0] == '.' || at[-1] == '.') {
        return false;
    }
    for (size_t i = 0; i < local_len; i++) {
        unsigned char c = (unsigned char)address[i];
        if (c == '.') {
            if (address[i + 1] == '.') {
                return false;
            }
        } else if (!is_atext(c)) {
            return false;
        }
    }
    return domain_valid(at + 1, len - local_len - 1);
}

static bool metadata_keys_valid(json_object *obj, wc_field_errors_t *errs)
{
    if (!json_object_is_type(obj, json_type_object) && !json_object_is_type(obj, json_type_array)) {
        return true;
    }
    if (json_object_is_type(obj, json_type_array)) {
        size_t n = json_object_array_length(obj);
        for (size_t i = 0; i < n; i++) {
            if (!metadata_keys_valid(json_object_array_get_idx(obj, i), errs)) {
                return false;
            }
        }
        return true;
    }
    json_object_object_foreach(obj, key, value)
    {
        if (key[0] == '\0' || key[0] == '$' || strchr(key, '.') != NULL) {
            wc_field_errors_add(errs, "metadata", "key",
                                "metadata keys must be non-empty and contain no '.' or leading "
                                "'$' (\"%.40s\")",
                                key);
            return false;
        }
        if (!metadata_keys_valid(value, errs)) {
            return false;
        }
    }
    return true;
}

/* Fetches a string member. Reports a wrong type or an embedded NUL; returns
 * NULL when absent or invalid (with `*present` telling which). */
static const char *string_member(json_object *body, const char *name, wc_field_errors_t *errs,
                                 bool *present, size_t *len_out)
{
    json_object *v = NULL;
    *present = json_object_object_get_ex(body, name, &v);
    if (!*present) {
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        wc_field_errors_add(errs, name, "type", "%s must be a string", name);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len) {
        wc_field_errors_add(errs, name, "nul", "%s must not contain NUL characters", name);
        return NULL;
    }
    *len_out = len;
    return s;
}

static const char *const allowed_fields[] = {"type",     "recipient",  "subject", "message",
                                             "priority", "maxRetries", "metadata", NULL};

bool wc_notification_validate(json_object *body, wc_notification_request_t *out,
                              wc_field_errors_t *errs)
{
    memset(out, 0, sizeof(*out));
    out->priority = WC_PRIORITY_MEDIUM;
    out->max_retries = -1;

    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(errs, "body", "type", "the request body must be a JSON object");
        return false;
    }

    json_object_object_foreach(body, key, unused)
    {
        (void)unused;
        bool known = false;
        for (const char *const *f = allowed_fields; *f != NULL; f++) {
            known = known || strcmp(*f, key) == 0;
        }
        if (!known) {
            wc_field_errors_add(errs, key, "unknown", "unknown field \"%.40s\"", key);
        }
    }

    bool present = false;
    size_t len = 0;

    const char *type = string_member(body, "type", errs, &present, &len);
    bool type_known = false;
    if (!present) {
        wc_field_errors_add(errs, "type", "required", "type is required");
    } else if (type != NULL) {
        if (wc_channel_parse(type, &out->type) != 0) {
            wc_field_errors_add(errs, "type", "enum", "type must be one of EMAIL, SMS, PUSH, WEBHOOK");
        } else if (out->type != WC_CHANNEL_EMAIL) {
            wc_field_errors_add(errs, "type", "unsupported",
                                "%s delivery is not enabled on this server", type);
        } else {
            type_known = true;
        }
    }

    const char *recipient = string_member(body, "recipient", errs, &present, &len);
    if (!present) {
        wc_field_errors_add(errs, "recipient", "required", "recipient is required");
    } else if (recipient != NULL) {
        if (len == 0 || len > WC_RECIPIENT_MAX_BYTES) {
            wc_field_errors_add(errs, "recipient", "length",
                                "recipient must be 1 to %d bytes", WC_RECIPIENT_MAX_BYTES);
        } else if (type_known && out->type == WC_CHANNEL_EMAIL && !wc_email_address_valid(recipient)) {
            wc_field_errors_add(errs, "recipient", "email",
                                "recipient must be a valid email address (local@domain.tld)");
        }
        out->recipient = recipient;
    }

    const char *subject = string_member(body, "subject", errs, &present, &len);
    if (!present) {
        if (type_known && out->type == WC_CHANNEL_EMAIL) {
            wc_field_errors_add(errs, "subject", "required", "subject is required for EMAIL");
        }
    } else if (subject != NULL) {
        size_t chars = utf8_chars(subject, len);
        if (chars == 0 || chars > WC_SUBJECT_MAX_CHARS) {
            wc_field_errors_add(errs, "subject", "length", "subject must be 1 to %d characters",
                                WC_SUBJECT_MAX_CHARS);
        } else if (has_control_chars(subject, len)) {
            wc_field_errors_add(errs, "subject", "control",
                                "subject must not contain line breaks or control characters");
        }
        out->subject = subject;
    }

    const char *message = string_member(body, "message", errs, &present, &len);
    if (!present) {
        wc_field_errors_add(errs, "message", "required", "message is required");
    } else if (message != NULL) {
        size_t chars = utf8_chars(message, len);
        if (chars < 1 || chars > WC_MESSAGE_MAX_CHARS) {
            wc_field_errors_add(errs, "message", "length",
                                "message must be 1 to %d characters (got %zu)",
                                WC_MESSAGE_MAX_CHARS, chars);
        }
        out->message = message;
    }

    const char *priority = string_member(body, "priority", errs, &present, &len);
    if (present && priority != NULL && wc_priority_parse(priority, &out->priority) != 0) {
        wc_field_errors_add(errs, "priority", "enum",
                            "priority must be one of LOW, MEDIUM, HIGH, CRITICAL");
    }

    json_object *v = NULL;
    if (json_object_object_get_ex(body, "maxRetries", &v)) {
        int64_t n = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int)) {
            wc_field_errors_add(errs, "maxRetries", "type", "maxRetries must be an integer");
        } else if (n < 0 || n > WC_MAX_RETRIES_LIMIT) {
            wc_field_errors_add(errs, "maxRetries", "range", "maxRetries must be 0 to %d",
                                WC_MAX_RETRIES_LIMIT);
        } else {
            out->max_retries = (int)n;
        }
    }

    if (json_object_object_get_ex(body, "metadata", &v)) {
        if (!json_object_is_type(v, json_type_object)) {
            wc_field_errors_add(errs, "metadata", "type", "metadata must be an object");
        } else {
            size_t size = 0;
            json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &size);
            if (size > WC_METADATA_MAX_BYTES) {
                wc_field_errors_add(errs, "metadata", "size", "metadata must be at most %d bytes",
                                    WC_METADATA_MAX_BYTES);
            } else if (metadata_keys_valid(v, errs)) {
                out->metadata = v;
            }
        }
    }

    return errs->count == 0;
}

/* ---- documents ---- */

bool wc_audit_entry_append(bson_t *parent, const char *key, wc_status_t status,
                           const wc_audit_t *audit, int64_t now_ms)
{
    bson_t entry;
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    bool ok = bson_append_document_begin(parent, key, -1, &entry);
    ok = ok && BSON_APPEND_OID(&entry, "_id", &id);
    ok = ok && BSON_APPEND_UTF8(&entry, "status", wc_status_name(status));
    ok = ok && BSON_APPEND_UTF8(&entry, "message", audit->message);
    ok = ok && BSON_APPEND_UTF8(&entry, "actor", audit->actor);
    ok = ok && BSON_APPEND_DATE_TIME(&entry, "timestamp", now_ms);
    return bson_append_document_end(parent, &entry) && ok;
}

bson_t *wc_notification_new_document(const wc_notification_request_t *req, const bson_oid_t *id,
                                     const char *tenant_id, int default_max_retries,
                                     const char *correlation_id, int64_t now_ms)
{
    bson_t *doc = bson_new();
    bool ok = BSON_APPEND_OID(doc, "_id", id);
    ok = ok && BSON_APPEND_UTF8(doc, "tenantId", tenant_id);
    ok = ok && BSON_APPEND_UTF8(doc, "type", wc_channel_name(req->type));
    ok = ok && BSON_APPEND_UTF8(doc, "recipient", req->recipient);
    if (req->subject != NULL) {
        ok = ok && BSON_APPEND_UTF8(doc, "subject", req->subject);
    }
    ok = ok && BSON_APPEND_UTF8(doc, "message", req->message);
    ok = ok && BSON_APPEND_UTF8(doc, "status", wc_status_name(WC_STATUS_PENDING));
    ok = ok && BSON_APPEND_UTF8(doc, "priority", wc_priority_name(req->priority));
    ok = ok && BSON_APPEND_INT32(doc, "retryCount", 0);
    ok = ok && BSON_APPEND_INT32(doc, "maxRetries",
                                 req->max_retries >= 0 ? req->max_retries : default_max_retries);
    if (req->metadata != NULL) {
        ok = ok && wc_json_append_to_bson(doc, "metadata", -1, req->metadata);
    }
    if (correlation_id != NULL && correlation_id[0] != '\0') {
        ok = ok && BSON_APPEND_UTF8(doc, "correlationId", correlation_id);
    }
    ok = ok && BSON_APPEND_DATE_TIME(doc, "createdAt", now_ms);
    ok = ok && BSON_APPEND_DATE_TIME(doc, "updatedAt", now_ms);

    bson_t logs;
    ok = ok && BSON_APPEND_ARRAY_BEGIN(doc, "logs", &logs);
    const wc_audit_t created = {.actor = "api", .message = "Notification created"};
    ok = ok && wc_audit_entry_append(&logs, "0", WC_STATUS_PENDING, &created, now_ms);
    ok = ok && bson_append_array_end(doc, &logs);

    if (!ok) {
        bson_destroy(doc);
        return NULL;
    }
    return doc;
}

/* Fields that stay inside WaveCom. */
static const char *const internal_fields[] = {"logs", "lease", NULL};

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

json_object *wc_notification_logs_to_api_json(const bson_t *doc)
{
    json_object *logs = json_object_new_array();
    char id_hex[25] = "";
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_OID(&iter)) {
        bson_oid_to_string(bson_iter_oid(&iter), id_hex);
    }
    bson_iter_t arr;
    if (!bson_iter_init_find(&iter, doc, "logs") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
        !bson_iter_recurse(&iter, &arr)) {
        return logs;
    }
    while (bson_iter_next(&arr)) {
        json_object *entry = wc_json_from_bson_value(&arr);
        if (entry == NULL) {
            continue;
        }
        json_object_object_add(entry, "notificationId", json_object_new_string(id_hex));
        json_object_array_add(logs, entry);
    }
    return logs;
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
    if (!json_object_is_type(v, json_type_string) ||
        (size_t)json_object_get_string_len(v) >= out_len) {
        return -1;
    }
    memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
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
    rc = 0;
out:
    json_object_put(obj);
    return rc;
}
