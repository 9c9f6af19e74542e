#include "endpoint_body.h"

#include <string.h>
#include <strings.h>

#include "wc_endpoint_batch.h"
#include "wc_event_filter.h"
#include "wc_event_transform.h"
#include "wc_event_type.h"
#include "wc_json.h"
#include "wc_recipient.h"

/* Headers a client may not set: the transfer's own and the signature's. */
static const char *const reserved_headers[] = {
    "host", "content-type", "content-length", "transfer-encoding", "connection",
    "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent", "expect",
};

static bool header_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 64) {
        return false;
    }
    /* RFC 9110 token characters. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL) {
            return false;
        }
    }
    for (size_t i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++) {
        if (strcasecmp(name, reserved_headers[i]) == 0) {
            return false;
        }
    }
    return true;
}

static bool header_value_valid(const char *value)
{
    size_t len = strlen(value);
    if (len > API_ENDPOINT_HEADER_VALUE_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
    }
    return true;
}

static void check_url(json_object *v, bool allow_http, bson_t *fields, wc_field_errors_t *errs)
{
    if (!json_object_is_type(v, json_type_string)) {
        wc_field_errors_add(errs, "url", "type", "url must be a string");
        return;
    }
    wc_url_check_t check = wc_webhook_url_check(json_object_get_string(v), allow_http);
    if (check != WC_URL_OK) {
        wc_field_errors_add(errs, "url", wc_url_check_rule(check), "url %s",
                            wc_url_check_describe(check));
        return;
    }
    BSON_APPEND_UTF8(fields, "url", json_object_get_string(v));
}

static void check_types(json_object *v, bson_t *fields, wc_field_errors_t *errs)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    if (n == 0 || n > API_ENDPOINT_TYPES_MAX) {
        wc_field_errors_add(errs, "eventTypes", "type",
                            "eventTypes must be an array of 1 to 50 event types or patterns");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(v, i);
        if (!json_object_is_type(p, json_type_string) ||
            !wc_event_pattern_valid(json_object_get_string(p))) {
            char field[32];
            snprintf(field, sizeof(field), "eventTypes[%zu]", i);
            wc_field_errors_add(errs, field, "pattern",
                                "an event type (names of letters, digits, _ and - joined by dots, "
                                "at most 128 characters), a prefix ending in .* or *");
            return;
        }
    }
    (void)wc_json_append_to_bson(fields, "eventTypes", -1, v);
}

/* filter and transformation: null, or checked by their own module. */
static void check_expression(json_object *v, const char *name, bson_t *fields,
                             wc_field_errors_t *errs)
{
    if (v == NULL) {
        BSON_APPEND_NULL(fields, name);
        return;
    }
    bool ok = strcmp(name, "filter") == 0 ? wc_event_filter_check(v, errs)
                                          : wc_event_transform_check(v, errs);
    if (!ok) {
        return;
    }
    if (wc_json_tree_storable(v, name, errs) && !wc_json_append_to_bson(fields, name, -1, v)) {
        wc_field_errors_add(errs, name, "key", "%s has an object key that cannot be stored", name);
    }
}

static void check_headers(json_object *v, bson_t *fields, wc_field_errors_t *errs)
{
    if (v == NULL) {
        BSON_APPEND_NULL(fields, "headers");
        return;
    }
    if (!json_object_is_type(v, json_type_object) ||
        json_object_object_length(v) > API_ENDPOINT_HEADERS_MAX) {
        wc_field_errors_add(errs, "headers", "type",
                            "headers must be an object of at most 20 names and string values");
        return;
    }
    json_object_object_foreach(v, name, value)
    {
        char field[96];
        snprintf(field, sizeof(field), "headers.%.64s", name);
        if (!header_name_valid(name)) {
            wc_field_errors_add(errs, field, "name",
                                "a header name is a token of at most 64 characters, and not one "
                                "the delivery sets itself (Content-Type, webhook-*, Host...)");
            return;
        }
        if (!json_object_is_type(value, json_type_string) ||
            !header_value_valid(json_object_get_string(value))) {
            wc_field_errors_add(errs, field, "value",
                                "a header value is a string of at most 1024 characters without "
                                "control characters");
            return;
        }
    }
    (void)wc_json_append_to_bson(fields, "headers", -1, v);
}

static void check_rate(json_object *v, bson_t *fields, wc_field_errors_t *errs)
{
    if (v == NULL) {
        BSON_APPEND_NULL(fields, "rateLimit");
        return;
    }
    int64_t rate = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
    if (rate < 1 || rate > API_ENDPOINT_RATE_MAX) {
        wc_field_errors_add(errs, "rateLimit", "range",
                            "rateLimit must be null or an integer from 1 to 10000 (deliveries a "
                            "second)");
        return;
    }
    BSON_APPEND_INT64(fields, "rateLimit", rate);
}

/* batch: null, or {"maxEvents": n, "maxWaitMs": ms} within the bounds of
 * wc_endpoint_batch.h, both required. */
static void check_batch(json_object *v, bson_t *fields, wc_field_errors_t *errs)
{
    if (v == NULL) {
        BSON_APPEND_NULL(fields, "batch");
        return;
    }
    if (!json_object_is_type(v, json_type_object)) {
        wc_field_errors_add(errs, "batch", "type",
                            "batch must be null or an object with maxEvents and maxWaitMs");
        return;
    }
    bool ok = true;
    json_object_object_foreach(v, key, value)
    {
        (void)value;
        if (strcmp(key, "maxEvents") != 0 && strcmp(key, "maxWaitMs") != 0) {
            char field[80];
            snprintf(field, sizeof(field), "batch.%.64s", key);
            wc_field_errors_add(errs, field, "unknown",
                                "unknown field; batch has maxEvents and maxWaitMs");
            ok = false;
        }
    }
    static const struct {
        const char *key, *field, *rule;
        int64_t min, max;
    } bounds[] = {
        {"maxEvents", "batch.maxEvents", "an integer from 2 to 100: the events sent in one request",
         WC_ENDPOINT_BATCH_EVENTS_MIN, WC_ENDPOINT_BATCH_EVENTS_MAX},
        {"maxWaitMs", "batch.maxWaitMs",
         "an integer from 10 to 30000: how long the first event of a batch waits for others",
         WC_ENDPOINT_BATCH_WAIT_MIN_MS, WC_ENDPOINT_BATCH_WAIT_MAX_MS},
    };
    int64_t got[2] = {0, 0};
    for (size_t i = 0; i < 2; i++) {
        json_object *n = NULL;
        if (!json_object_object_get_ex(v, bounds[i].key, &n)) {
            wc_field_errors_add(errs, bounds[i].field, "required", "%s is required: %s",
                                bounds[i].key, bounds[i].rule);
            ok = false;
            continue;
        }
        got[i] = json_object_is_type(n, json_type_int) ? json_object_get_int64(n) : 0;
        if (got[i] < bounds[i].min || got[i] > bounds[i].max) {
            wc_field_errors_add(errs, bounds[i].field, "range", "%s must be %s", bounds[i].key,
                                bounds[i].rule);
            ok = false;
        }
    }
    if (ok) {
        bson_t batch;
        BSON_APPEND_DOCUMENT_BEGIN(fields, "batch", &batch);
        BSON_APPEND_INT64(&batch, "maxEvents", got[0]);
        BSON_APPEND_INT64(&batch, "maxWaitMs", got[1]);
        bson_append_document_end(fields, &batch);
    }
}

bool api_endpoint_body_check(json_object *body, bool partial, bool allow_http, bson_t *fields,
                             wc_field_errors_t *errs)
{
    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(errs, "body", "type", "the body must be a JSON object");
        return false;
    }
    static const char *const known[] = {"url",       "description", "eventTypes",
                                        "filter",    "transformation", "headers",
                                        "rateLimit", "batch",       "enabled"};
    json_object_object_foreach(body, key, value)
    {
        (void)value;
        bool found = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !found; i++) {
            found = strcmp(key, known[i]) == 0;
        }
        if (!found) {
            char field[80];
            snprintf(field, sizeof(field), "%.64s", key);
            wc_field_errors_add(errs, field, "unknown",
                                "unknown field; an endpoint has url, description, eventTypes, "
                                "filter, transformation, headers, rateLimit, batch, enabled");
        }
    }
    json_object *v = NULL;
    if (json_object_object_get_ex(body, "url", &v)) {
        check_url(v, allow_http, fields, errs);
    } else if (!partial) {
        wc_field_errors_add(errs, "url", "required", "url is required: the https URL to POST to");
    }
    if (json_object_object_get_ex(body, "description", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) > API_ENDPOINT_DESCRIPTION_MAX) {
            wc_field_errors_add(errs, "description", "length",
                                "description must be a string of at most 512 bytes");
        } else {
            BSON_APPEND_UTF8(fields, "description", json_object_get_string(v));
        }
    } else if (!partial) {
        BSON_APPEND_UTF8(fields, "description", "");
    }
    if (json_object_object_get_ex(body, "eventTypes", &v)) {
        check_types(v, fields, errs);
    } else if (!partial) {
        wc_field_errors_add(errs, "eventTypes", "required",
                            "eventTypes is required: the event types this endpoint receives");
    }
    static const char *const expressions[] = {"filter", "transformation"};
    for (size_t i = 0; i < 2; i++) {
        if (json_object_object_get_ex(body, expressions[i], &v)) {
            check_expression(v, expressions[i], fields, errs);
        } else if (!partial) {
            BSON_APPEND_NULL(fields, expressions[i]);
        }
    }
    if (json_object_object_get_ex(body, "headers", &v)) {
        check_headers(v, fields, errs);
    } else if (!partial) {
        BSON_APPEND_NULL(fields, "headers");
    }
    if (json_object_object_get_ex(body, "rateLimit", &v)) {
        check_rate(v, fields, errs);
    } else if (!partial) {
        BSON_APPEND_NULL(fields, "rateLimit");
    }
    if (json_object_object_get_ex(body, "batch", &v)) {
        check_batch(v, fields, errs);
    } else if (!partial) {
        BSON_APPEND_NULL(fields, "batch");
    }
    if (json_object_object_get_ex(body, "enabled", &v)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            wc_field_errors_add(errs, "enabled", "type", "enabled must be true or false");
        } else {
            BSON_APPEND_BOOL(fields, "enabled", json_object_get_boolean(v));
        }
    } else if (!partial) {
        BSON_APPEND_BOOL(fields, "enabled", true);
    }
    if (partial && errs->count == 0 && bson_count_keys(fields) == 0) {
        wc_field_errors_add(errs, "body", "required", "give at least one field to change");
    }
    return errs->count == 0;
}
