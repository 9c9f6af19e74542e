/*
 * Validation of a create request: every field of every channel, every
 * violation reported at once, each naming the field and the rule.
 *
 * Channel fields (subject for EMAIL; platform, title, data for PUSH; payload
 * for WEBHOOK) are refused on the other channels with rule "unexpected"
 * rather than ignored: a client that sends a subject with an SMS has made a
 * mistake it should hear about, and nothing is stored that no one delivers.
 */
#include <stdio.h>
#include <string.h>

#include "wc_json.h"
#include "wc_netaddr.h"
#include "wc_notification.h"
#include "wc_time.h"

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

bool wc_category_name_valid(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len > WC_CATEGORY_MAX_CHARS) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '.'))) {
            return false;
        }
    }
    return true;
}

/* Depth is bounded by the strict parser. */
bool wc_json_tree_storable(json_object *value, const char *field, wc_field_errors_t *errs)
{
    if (!wc_json_number_storable(value)) {
        wc_field_errors_add(errs, field, "number",
                            "%s holds a number outside the 64-bit integer range, or not finite",
                            field);
        return false;
    }
    if (json_object_is_type(value, json_type_array)) {
        size_t n = json_object_array_length(value);
        for (size_t i = 0; i < n; i++) {
            json_object *item = json_object_array_get_idx(value, i);
            if (json_object_is_type(item, json_type_array)) {
                wc_field_errors_add(errs, field, "nested_array",
                                    "%s holds an array directly inside an array, which the local "
                                    "database (FerretDB) cannot store; wrap the inner one in an "
                                    "object",
                                    field);
                return false;
            }
            if (item != NULL && !wc_json_tree_storable(item, field, errs)) {
                return false;
            }
        }
        return true;
    }
    if (!json_object_is_type(value, json_type_object)) {
        return true;
    }
    json_object_object_foreach(value, key, member)
    {
        if (key[0] == '\0' || key[0] == '$' || strchr(key, '.') != NULL) {
            wc_field_errors_add(errs, field, "key",
                                "%s keys must be non-empty and contain no '.' or leading '$' "
                                "(\"%.40s\")",
                                field, key);
            return false;
        }
        if (member != NULL && !wc_json_tree_storable(member, field, errs)) {
            return false;
        }
    }
    return true;
}

static size_t json_size(json_object *value)
{
    size_t size = 0;
    json_object_to_json_string_length(value, JSON_C_TO_STRING_PLAIN, &size);
    return size;
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

static const char *const allowed_fields[] = {
    "type",        "recipient", "subject",  "message", "priority", "maxRetries", "metadata",
    "scheduledAt", "platform",  "title",    "data",    "payload",  "html",       "userId",
    "category",    NULL};

static void check_unknown_fields(json_object *body, wc_field_errors_t *errs)
{
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
}

/* A field that belongs to another channel. */
static void refuse_if_present(json_object *body, const char *field, const char *owner,
                              wc_channel_t type, wc_field_errors_t *errs)
{
    if (json_object_object_get_ex(body, field, NULL)) {
        wc_field_errors_add(errs, field, "unexpected", "%s is only for %s notifications, not %s",
                            field, owner, wc_channel_name(type));
    }
}

/* A host that is an IP literal is judged now, so the client learns at once;
 * a host name can only be judged when it is resolved, on every attempt. */
static void check_webhook_destination(const char *url, bool allow_loopback,
                                      wc_field_errors_t *errs)
{
    char why[320];
    switch (wc_url_literal_verdict(url, allow_loopback, why, sizeof(why))) {
    case WC_URL_BAD_HOST:
        wc_field_errors_add(errs, "recipient", "url", "the webhook URL %s",
                            wc_url_check_describe(WC_URL_HOST));
        break;
    case WC_URL_LITERAL_REFUSED:
        wc_field_errors_add(errs, "recipient", "destination", "%s", why);
        break;
    case WC_URL_NOT_REFUSED:
        break;
    }
}

static void check_recipient(json_object *body, bool type_known,
                            const wc_validation_options_t *opts, wc_notification_request_t *out,
                            wc_field_errors_t *errs)
{
    bool present = false;
    size_t len = 0;
    const char *recipient = string_member(body, "recipient", errs, &present, &len);
    if (!present) {
        wc_field_errors_add(errs, "recipient", "required", "recipient is required");
        return;
    }
    if (recipient == NULL) {
        return;
    }
    out->recipient = recipient;
    if (len == 0) {
        wc_field_errors_add(errs, "recipient", "length", "recipient must not be empty");
        return;
    }
    if (!type_known) {
        return; /* its syntax depends on the type */
    }
    switch (out->type) {
    case WC_CHANNEL_EMAIL:
        if (!wc_email_address_valid(recipient)) {
            wc_field_errors_add(errs, "recipient", "email",
                                "recipient must be a valid email address (local@domain.tld, "
                                "at most 254 bytes)");
        }
        break;
    case WC_CHANNEL_SMS:
        if (!wc_e164_valid(recipient)) {
            wc_field_errors_add(errs, "recipient", "e164",
                                "recipient must be an E.164 number: + then 8 to 15 digits, "
                                "the first not 0");
        }
        break;
    case WC_CHANNEL_PUSH:
        /* The token's syntax depends on the platform; checked with it. */
        break;
    case WC_CHANNEL_WEBHOOK: {
        wc_url_check_t check = wc_webhook_url_check(recipient, opts->allow_http_webhooks);
        if (check != WC_URL_OK) {
            wc_field_errors_add(errs, "recipient", wc_url_check_rule(check), "the webhook URL %s",
                                wc_url_check_describe(check));
        } else {
            check_webhook_destination(recipient, opts->allow_loopback_webhooks, errs);
        }
        break;
    }
    case WC_CHANNEL_COUNT:
        break;
    }
}

static void check_subject(json_object *body, bool type_known, wc_notification_request_t *out,
                          wc_field_errors_t *errs)
{
    if (type_known && out->type != WC_CHANNEL_EMAIL) {
        refuse_if_present(body, "subject", "EMAIL", out->type, errs);
        return;
    }
    bool present = false;
    size_t len = 0;
    const char *subject = string_member(body, "subject", errs, &present, &len);
    if (!present) {
        if (type_known) {
            wc_field_errors_add(errs, "subject", "required", "subject is required for EMAIL");
        }
        return;
    }
    if (subject == NULL) {
        return;
    }
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

static void check_html(json_object *body, bool type_known, wc_notification_request_t *out,
                       wc_field_errors_t *errs)
{
    if (type_known && out->type != WC_CHANNEL_EMAIL) {
        refuse_if_present(body, "html", "EMAIL", out->type, errs);
        return;
    }
    bool present = false;
    size_t len = 0;
    const char *html = string_member(body, "html", errs, &present, &len);
    if (html == NULL) {
        return;
    }
    size_t chars = utf8_chars(html, len);
    if (chars < 1 || chars > WC_HTML_MAX_CHARS) {
        wc_field_errors_add(errs, "html", "length", "html must be 1 to %d characters (got %zu)",
                            WC_HTML_MAX_CHARS, chars);
    }
    out->html = html;
}

static void check_message(json_object *body, bool type_known, wc_notification_request_t *out,
                          wc_field_errors_t *errs)
{
    bool present = false;
    size_t len = 0;
    const char *message = string_member(body, "message", errs, &present, &len);
    if (!present) {
        /* A webhook carries its payload; a message is only its description. */
        if (!type_known || out->type != WC_CHANNEL_WEBHOOK) {
            wc_field_errors_add(errs, "message", "required", "message is required");
        }
        return;
    }
    if (message == NULL) {
        return;
    }
    size_t max = type_known && out->type == WC_CHANNEL_SMS ? WC_SMS_MESSAGE_MAX_CHARS
                                                           : WC_MESSAGE_MAX_CHARS;
    size_t chars = utf8_chars(message, len);
    if (chars < 1 || chars > max) {
        wc_field_errors_add(errs, "message", "length",
                            "message must be 1 to %zu characters%s (got %zu)", max,
                            max == WC_SMS_MESSAGE_MAX_CHARS ? " for SMS" : "", chars);
    }
    out->message = message;
}

static void check_push_fields(json_object *body, wc_notification_request_t *out,
                              wc_field_errors_t *errs)
{
    bool present = false;
    size_t len = 0;
    const char *platform = string_member(body, "platform", errs, &present, &len);
    bool platform_known = false;
    if (!present) {
        wc_field_errors_add(errs, "platform", "required",
                            "platform is required for PUSH: fcm or apns");
    } else if (platform != NULL) {
        if (wc_push_platform_parse(platform, &out->platform) != 0) {
            wc_field_errors_add(errs, "platform", "enum", "platform must be fcm or apns");
        } else {
            platform_known = true;
        }
    }
    if (platform_known && out->recipient != NULL && out->recipient[0] != '\0' &&
        !wc_push_token_valid(out->recipient, out->platform)) {
        if (out->platform == WC_PUSH_APNS) {
            wc_field_errors_add(errs, "recipient", "token",
                                "an APNs device token is %d to %d hexadecimal digits",
                                WC_APNS_TOKEN_MIN_CHARS, WC_APNS_TOKEN_MAX_CHARS);
        } else {
            wc_field_errors_add(errs, "recipient", "token",
                                "a device token is 1 to %d characters of A-Za-z0-9_:.-",
                                WC_PUSH_TOKEN_MAX_CHARS);
        }
    }

    const char *title = string_member(body, "title", errs, &present, &len);
    if (title != NULL) {
        size_t chars = utf8_chars(title, len);
        if (chars == 0 || chars > WC_TITLE_MAX_CHARS) {
            wc_field_errors_add(errs, "title", "length", "title must be 1 to %d characters",
                                WC_TITLE_MAX_CHARS);
        } else if (has_control_chars(title, len)) {
            wc_field_errors_add(errs, "title", "control",
                                "title must not contain line breaks or control characters");
        }
        out->title = title;
    }

    json_object *data = NULL;
    if (json_object_object_get_ex(body, "data", &data)) {
        if (!json_object_is_type(data, json_type_object)) {
            wc_field_errors_add(errs, "data", "type", "data must be an object of strings");
            return;
        }
        json_object_object_foreach(data, key, value)
        {
            if (!json_object_is_type(value, json_type_string)) {
                wc_field_errors_add(errs, "data", "type",
                                    "data values must be strings (\"%.40s\" is not)", key);
                return;
            }
        }
        if (json_size(data) > WC_PUSH_DATA_MAX_BYTES) {
            wc_field_errors_add(errs, "data", "size", "data must be at most %d bytes as JSON",
                                WC_PUSH_DATA_MAX_BYTES);
        } else if (wc_json_tree_storable(data, "data", errs)) {
            out->data = data;
        }
    }
}

static void check_webhook_fields(json_object *body, wc_notification_request_t *out,
                                 wc_field_errors_t *errs)
{
    json_object *payload = NULL;
    if (!json_object_object_get_ex(body, "payload", &payload)) {
        wc_field_errors_add(errs, "payload", "required",
                            "payload is required for WEBHOOK: the JSON object or array to POST");
        return;
    }
    if (!json_object_is_type(payload, json_type_object) &&
        !json_object_is_type(payload, json_type_array)) {
        wc_field_errors_add(errs, "payload", "type", "payload must be a JSON object or array");
        return;
    }
    if (json_size(payload) > WC_WEBHOOK_PAYLOAD_MAX_BYTES) {
        wc_field_errors_add(errs, "payload", "size", "payload must be at most %d bytes as JSON",
                            WC_WEBHOOK_PAYLOAD_MAX_BYTES);
    } else if (wc_json_tree_storable(payload, "payload", errs)) {
        out->payload = payload;
    }
}

/* userId and category, the keys of the recipient's preferences
 * (docs/ARCHITECTURE.md §16). */
static void check_audience(json_object *body, wc_notification_request_t *out,
                           wc_field_errors_t *errs)
{
    bool present = false;
    size_t len = 0;
    const char *user = string_member(body, "userId", errs, &present, &len);
    if (user != NULL) {
        if (len == 0 || utf8_chars(user, len) > WC_USER_ID_MAX_CHARS) {
            wc_field_errors_add(errs, "userId", "length", "userId must be 1 to %d characters",
                                WC_USER_ID_MAX_CHARS);
        } else if (has_control_chars(user, len)) {
            wc_field_errors_add(errs, "userId", "control",
                                "userId must not contain control characters");
        } else if (strchr(user, '/') != NULL) {
            /* It is a path segment of /api/preferences/{userId}. */
            wc_field_errors_add(errs, "userId", "format", "userId must not contain '/'");
        } else {
            out->user_id = user;
        }
    }
    const char *category = string_member(body, "category", errs, &present, &len);
    if (category != NULL) {
        if (!wc_category_name_valid(category)) {
            wc_field_errors_add(errs, "category", "format",
                                "category must be 1 to %d of a-z, 0-9, '_', '-' and '.', "
                                "starting with a letter or digit",
                                WC_CATEGORY_MAX_CHARS);
        } else {
            out->category = category;
        }
    }
}

static void check_common_optionals(json_object *body, const wc_validation_options_t *opts,
                                   wc_notification_request_t *out, wc_field_errors_t *errs)
{
    bool present = false;
    size_t len = 0;
    const char *priority = string_member(body, "priority", errs, &present, &len);
    if (priority != NULL && wc_priority_parse(priority, &out->priority) != 0) {
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
        } else if (json_size(v) > WC_METADATA_MAX_BYTES) {
            wc_field_errors_add(errs, "metadata", "size", "metadata must be at most %d bytes",
                                WC_METADATA_MAX_BYTES);
        } else if (wc_json_tree_storable(v, "metadata", errs)) {
            out->metadata = v;
        }
    }

    check_audience(body, out, errs);

    const char *when = string_member(body, "scheduledAt", errs, &present, &len);
    if (when != NULL) {
        int64_t at = 0;
        if (wc_time_parse_iso8601(when, &at) != 0) {
            wc_field_errors_add(errs, "scheduledAt", "format",
                                "scheduledAt must be an RFC 3339 date-time with a zone, e.g. "
                                "2030-01-31T09:00:00Z");
        } else if (at > opts->now_ms + WC_SCHEDULE_MAX_AHEAD_MS) {
            wc_field_errors_add(errs, "scheduledAt", "range",
                                "scheduledAt must be at most 366 days ahead");
        } else {
            out->scheduled_at_ms = at;
        }
    }
}

bool wc_notification_validate_opts(json_object *body, const wc_validation_options_t *opts,
                                   wc_notification_request_t *out, wc_field_errors_t *errs)
{
    memset(out, 0, sizeof(*out));
    out->priority = WC_PRIORITY_MEDIUM;
    out->max_retries = -1;
    out->scheduled_at_ms = -1;

    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(errs, "body", "type", "a notification must be a JSON object");
        return false;
    }
    check_unknown_fields(body, errs);

    bool present = false;
    size_t len = 0;
    bool type_known = false;
    const char *type = string_member(body, "type", errs, &present, &len);
    if (!present) {
        wc_field_errors_add(errs, "type", "required", "type is required");
    } else if (type != NULL) {
        if (wc_channel_parse(type, &out->type) != 0) {
            wc_field_errors_add(errs, "type", "enum",
                                "type must be one of EMAIL, SMS, PUSH, WEBHOOK");
        } else {
            type_known = true;
        }
    }

    check_recipient(body, type_known, opts, out, errs);
    check_subject(body, type_known, out, errs);
    check_html(body, type_known, out, errs);
    check_message(body, type_known, out, errs);

    if (type_known && out->type == WC_CHANNEL_PUSH) {
        check_push_fields(body, out, errs);
    } else if (type_known) {
        refuse_if_present(body, "platform", "PUSH", out->type, errs);
        refuse_if_present(body, "title", "PUSH", out->type, errs);
        refuse_if_present(body, "data", "PUSH", out->type, errs);
    }
    if (type_known && out->type == WC_CHANNEL_WEBHOOK) {
        check_webhook_fields(body, out, errs);
    } else if (type_known) {
        refuse_if_present(body, "payload", "WEBHOOK", out->type, errs);
    }

    check_common_optionals(body, opts, out, errs);
    return errs->count == 0;
}

bool wc_notification_validate(json_object *body, wc_notification_request_t *out,
                              wc_field_errors_t *errs)
{
    const wc_validation_options_t opts = {.allow_http_webhooks = false,
                                          .now_ms = wc_time_now_ms()};
    return wc_notification_validate_opts(body, &opts, out, errs);
}
