#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"
#include "wc_store_trail.h"
#include "wc_notification.h"
#include "wc_recipient.h"

static json_object *parse(const char *text)
{
    const char *why = NULL;
    json_object *obj = wc_json_parse_strict(text, strlen(text), &why);
    assert_non_null(obj);
    return obj;
}

/* True when `errs` holds an error for `field` with `rule`. */
static bool has_error(const wc_field_errors_t *errs, const char *field, const char *rule)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].field, field) == 0 && strcmp(errs->items[i].rule, rule) == 0) {
            return true;
        }
    }
    return false;
}

static void expect_violation(const char *body, const char *field, const char *rule)
{
    json_object *obj = parse(body);
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    /* A fixed clock (2024-12-11T10:30:00Z) for the scheduledAt rules. */
    const wc_validation_options_t opts = {.allow_http_webhooks = false,
                                          .now_ms = 1733913000000};
    bool ok = wc_notification_validate_opts(obj, &opts, &req, &errs);
    if (ok || !has_error(&errs, field, rule)) {
        fail_msg("expected %s/%s for %s", field, rule, body);
    }
    json_object_put(obj);
}

static void valid_email_request_passes_with_defaults(void **state)
{
    json_object *obj = parse("{\"type\":\"EMAIL\",\"recipient\":\"user@example.com\","
                             "\"subject\":\"Hi\",\"message\":\"Hello\"}");
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    assert_true(wc_notification_validate(obj, &req, &errs));
    assert_int_equal(errs.count, 0);
    assert_int_equal(req.type, WC_CHANNEL_EMAIL);
    assert_int_equal(req.priority, WC_PRIORITY_MEDIUM);
    assert_int_equal(req.max_retries, -1);
    assert_string_equal(req.recipient, "user@example.com");
    assert_null(req.metadata);
    json_object_put(obj);
}

static void every_rule_names_its_field(void **state)
{
    expect_violation("{\"recipient\":\"a@b.com\",\"subject\":\"s\",\"message\":\"m\"}", "type",
                     "required");
    expect_violation("{\"type\":\"FAX\",\"recipient\":\"a@b.com\",\"message\":\"m\"}", "type", "enum");
    expect_violation("{\"type\":7,\"recipient\":\"a@b.com\",\"message\":\"m\"}", "type", "type");
    expect_violation("{\"type\":\"EMAIL\",\"subject\":\"s\",\"message\":\"m\"}", "recipient",
                     "required");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"not-an-email\",\"subject\":\"s\","
                     "\"message\":\"m\"}",
                     "recipient", "email");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"message\":\"m\"}", "subject",
                     "required");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"a\\r\\nBcc: x\","
                     "\"message\":\"m\"}",
                     "subject", "control");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\"}", "message",
                     "required");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"\"}",
                     "message", "length");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"priority\":\"URGENT\"}",
                     "priority", "enum");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"maxRetries\":11}",
                     "maxRetries", "range");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"maxRetries\":1.5}",
                     "maxRetries", "type");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"metadata\":[1]}",
                     "metadata", "type");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"metadata\":{\"$where\":1}}",
                     "metadata", "key");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"metadata\":{\"a\":{\"b.c\":1}}}",
                     "metadata", "key");
    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/h\","
                     "\"payload\":{\"pairs\":[{\"p\":[1,2]},[3,4]]}}",
                     "payload", "nested_array");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"m\",\"colour\":\"red\"}",
                     "colour", "unknown");
    expect_violation("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                     "\"message\":\"a\\u0000b\"}",
                     "message", "nul");
    expect_violation("[1,2]", "body", "type");
}

static void all_violations_are_reported_at_once(void **state)
{
    json_object *obj = parse("{\"type\":\"EMAIL\",\"recipient\":\"bad\",\"message\":\"\","
                             "\"priority\":\"NOW\"}");
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    assert_false(wc_notification_validate(obj, &req, &errs));
    assert_true(has_error(&errs, "recipient", "email"));
    assert_true(has_error(&errs, "subject", "required"));
    assert_true(has_error(&errs, "message", "length"));
    assert_true(has_error(&errs, "priority", "enum"));
    assert_int_equal(errs.count, 4);
    json_object_put(obj);
}

static void message_length_counts_characters_not_bytes(void **state)
{
    /* 5,000 two-byte characters are within the limit; 5,001 are not. */
    char body[11200];
    for (int n = 5000; n <= 5001; n++) {
        size_t pos = (size_t)snprintf(body, sizeof(body),
                                      "{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\","
                                      "\"subject\":\"s\",\"message\":\"");
        for (int i = 0; i < n; i++) {
            body[pos++] = (char)0xC3;
            body[pos++] = (char)0xA9; /* é */
        }
        memcpy(body + pos, "\"}", 3);
        json_object *obj = parse(body);
        wc_notification_request_t req;
        wc_field_errors_t errs = {0};
        bool ok = wc_notification_validate(obj, &req, &errs);
        assert_int_equal(ok, n == 5000);
        json_object_put(obj);
    }
}

static void new_document_is_queued_with_its_creation_trail(void **state)
{
    json_object *obj = parse("{\"type\":\"EMAIL\",\"recipient\":\"a@b.com\",\"subject\":\"s\","
                             "\"message\":\"m\",\"priority\":\"CRITICAL\","
                             "\"metadata\":{\"userId\":\"42\",\"tags\":[1,\"x\"]}}");
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    assert_true(wc_notification_validate(obj, &req, &errs));
    bson_oid_t id;
    bson_oid_init_from_string(&id, "507f1f77bcf86cd799439011");
    bson_t *doc = wc_notification_new_document(&req, &id, "tenant-1", 3, "req-1", 1733913000000);
    assert_non_null(doc);

    assert_string_equal(wc_doc_string(doc, "status"), "QUEUED");
    assert_int_equal(wc_doc_int(doc, "seq", -1), 2);
    assert_string_equal(wc_doc_string(doc, "tenantId"), "tenant-1");
    assert_string_equal(wc_doc_string(doc, "priority"), "CRITICAL");
    assert_int_equal(wc_doc_int(doc, "maxRetries", -1), 3);
    assert_int_equal(wc_doc_int(doc, "retryCount", -1), 0);

    json_object *api = wc_notification_to_api_json(doc);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(api, "_id", &v));
    assert_string_equal(json_object_get_string(v), "507f1f77bcf86cd799439011");
    assert_true(json_object_object_get_ex(api, "createdAt", &v));
    assert_string_equal(json_object_get_string(v), "2024-12-11T10:30:00.000Z");
    assert_true(json_object_object_get_ex(api, "metadata", &v));
    assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                        "{\"userId\":\"42\",\"tags\":[1,\"x\"]}");
    assert_false(json_object_object_get_ex(api, "logs", NULL));
    assert_false(json_object_object_get_ex(api, "lease", NULL));
    assert_false(json_object_object_get_ex(api, "seq", NULL));
    assert_false(json_object_object_get_ex(api, "last", NULL));

    /* Its creation is two trail changes, the second the document's `last`. */
    wc_trail_entry_t created[2];
    assert_int_equal(wc_trail_entries_of_new(doc, created), 2);
    assert_int_equal(created[0].seq, 1);
    assert_int_equal(created[0].from, -1);
    assert_int_equal(created[0].to, WC_STATUS_PENDING);
    assert_string_equal(created[0].message, WC_MESSAGE_CREATED);
    assert_int_equal(created[1].seq, 2);
    assert_int_equal(created[1].from, WC_STATUS_PENDING);
    assert_int_equal(created[1].to, WC_STATUS_QUEUED);
    assert_string_equal(created[1].message, WC_MESSAGE_QUEUED);
    assert_string_equal(created[1].tenant_id, "tenant-1");
    assert_int_equal(created[1].type, WC_CHANNEL_EMAIL);
    assert_int_equal(created[1].priority, WC_PRIORITY_CRITICAL);
    assert_int_equal(created[1].created_at_ms, 1733913000000);
    bson_t *entry = wc_trail_entry_document(&created[1]);
    assert_string_equal(wc_doc_string(entry, "_id"), "507f1f77bcf86cd799439011:2");
    assert_string_equal(wc_doc_string(entry, "from"), "PENDING");
    bson_destroy(entry);

    json_object_put(api);
    bson_destroy(doc);
    json_object_put(obj);
}

static void queue_message_round_trip(void **state)
{
    wc_queue_message_t in = {.type = WC_CHANNEL_EMAIL, .priority = WC_PRIORITY_HIGH, .retry_count = 2};
    strcpy(in.notification_id, "507f1f77bcf86cd799439011");
    strcpy(in.tenant_id, "t1");
    strcpy(in.correlation_id, "abc");
    size_t len = 0;
    char *text = wc_queue_message_encode(&in, &len);
    assert_non_null(text);
    wc_queue_message_t out;
    const char *why = NULL;
    assert_int_equal(wc_queue_message_decode(text, len, &out, &why), 0);
    assert_string_equal(out.notification_id, in.notification_id);
    assert_string_equal(out.tenant_id, "t1");
    assert_string_equal(out.correlation_id, "abc");
    assert_int_equal(out.priority, WC_PRIORITY_HIGH);
    assert_int_equal(out.retry_count, 2);
    assert_string_equal(out.endpoint_id, "");
    assert_int_equal(out.send_at_ms, 0);
    assert_null(strstr(text, "endpointId"));
    assert_null(strstr(text, "sendAt"));
    free(text);

    /* A paced event delivery keeps its endpoint and its slot through a delay queue. */
    strcpy(in.endpoint_id, "65f1f77bcf86cd7994390abc");
    in.send_at_ms = 1796000000123LL;
    text = wc_queue_message_encode(&in, &len);
    assert_non_null(text);
    assert_int_equal(wc_queue_message_decode(text, len, &out, &why), 0);
    assert_string_equal(out.endpoint_id, in.endpoint_id);
    assert_int_equal(out.send_at_ms, 1796000000123LL);
    free(text);
}

static void queue_message_rejects_poison(void **state)
{
    static const char *const poison[] = {
        "", "not json", "[]", "{\"notificationId\":\"xyz\",\"tenantId\":\"t\",\"type\":\"EMAIL\","
                              "\"priority\":\"LOW\"}",
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"type\":\"EMAIL\",\"priority\":\"LOW\"}",
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"tenantId\":\"t\",\"type\":\"FAX\","
        "\"priority\":\"LOW\"}",
        /* an escaped NUL would cut the tenant to "t" for every C-string use */
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"tenantId\":\"t\\u0000x\","
        "\"type\":\"EMAIL\",\"priority\":\"LOW\"}",
        /* an endpoint that is no id, a slot that is no time */
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"tenantId\":\"t\",\"type\":\"WEBHOOK\","
        "\"priority\":\"LOW\",\"endpointId\":\"not-an-id\"}",
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"tenantId\":\"t\",\"type\":\"WEBHOOK\","
        "\"priority\":\"LOW\",\"sendAt\":\"soon\"}",
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"tenantId\":\"t\",\"type\":\"WEBHOOK\","
        "\"priority\":\"LOW\",\"sendAt\":-5}"};
    for (size_t i = 0; i < sizeof(poison) / sizeof(poison[0]); i++) {
        wc_queue_message_t out;
        const char *why = NULL;
        if (wc_queue_message_decode(poison[i], strlen(poison[i]), &out, &why) == 0) {
            fail_msg("accepted poison message %s", poison[i]);
        }
        assert_non_null(why);
    }
}

static void priorities_route_to_their_class(void **state)
{
    assert_string_equal(wc_priority_routing_key(WC_PRIORITY_CRITICAL), "high_priority");
    assert_string_equal(wc_priority_routing_key(WC_PRIORITY_HIGH), "high_priority");
    assert_string_equal(wc_priority_routing_key(WC_PRIORITY_MEDIUM), "notifications");
    assert_string_equal(wc_priority_routing_key(WC_PRIORITY_LOW), "notifications");
}


/* Validates `body` with http webhooks allowed or not; returns the errors. */
static bool validate_with(const char *body, bool allow_http, wc_notification_request_t *req,
                          wc_field_errors_t *errs, json_object **keep)
{
    *keep = parse(body);
    const wc_validation_options_t opts = {.allow_http_webhooks = allow_http,
                                          .now_ms = 1733913000000};
    memset(errs, 0, sizeof(*errs));
    return wc_notification_validate_opts(*keep, &opts, req, errs);
}

static void expect_valid(const char *body)
{
    wc_notification_request_t req;
    wc_field_errors_t errs;
    json_object *obj = NULL;
    if (!validate_with(body, false, &req, &errs, &obj)) {
        fail_msg("rejected %s: %s/%s", body, errs.items[0].field, errs.items[0].rule);
    }
    json_object_put(obj);
}

#define SMS "{\"type\":\"SMS\",\"recipient\":\"+14155550100\",\"message\":\"hi\""
#define PUSH_FCM "{\"type\":\"PUSH\",\"recipient\":\"fcm-token:APA91b_x.y-z\",\"platform\":\"fcm\",\"message\":\"body\""
#define APNS_TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PUSH_APNS "{\"type\":\"PUSH\",\"recipient\":\"" APNS_TOKEN "\",\"platform\":\"apns\",\"message\":\"body\""
#define HOOK "{\"type\":\"WEBHOOK\",\"recipient\":\"https://hooks.example.com/in?x=1\",\"payload\":{\"event\":\"paid\"}"

static void sms_rules(void **state)
{
    expect_valid(SMS "}");
    expect_valid("{\"type\":\"SMS\",\"recipient\":\"+12345678\",\"message\":\"eight digits\"}");
    expect_valid("{\"type\":\"SMS\",\"recipient\":\"+123456789012345\",\"message\":\"fifteen\"}");
    static const char *const bad_numbers[] = {"4155550100", "+04155550100", "+1234567",
                                              "+1234567890123456", "+1 415 555 0100",
                                              "+1415555010a", "+", "++14155550100"};
    for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"type\":\"SMS\",\"recipient\":\"%s\",\"message\":\"m\"}",
                 bad_numbers[i]);
        expect_violation(body, "recipient", "e164");
    }
    /* 1,600 characters (two bytes each) are fine, 1,601 are not. */
    char body[4000];
    for (int n = 1600; n <= 1601; n++) {
        size_t pos = (size_t)snprintf(body, sizeof(body),
                                      "{\"type\":\"SMS\",\"recipient\":\"+14155550100\","
                                      "\"message\":\"");
        for (int i = 0; i < n; i++) {
            body[pos++] = (char)0xC3;
            body[pos++] = (char)0xA9;
        }
        memcpy(body + pos, "\"}", 3);
        wc_notification_request_t req;
        wc_field_errors_t errs;
        json_object *obj = NULL;
        bool ok = validate_with(body, false, &req, &errs, &obj);
        assert_int_equal(ok, n == 1600);
        if (!ok) {
            assert_true(has_error(&errs, "message", "length"));
        }
        json_object_put(obj);
    }
    expect_violation(SMS ",\"subject\":\"s\"}", "subject", "unexpected");
    expect_violation(SMS ",\"platform\":\"fcm\"}", "platform", "unexpected");
    expect_violation(SMS ",\"payload\":{}}", "payload", "unexpected");
    expect_violation("{\"type\":\"SMS\",\"recipient\":\"+14155550100\"}", "message", "required");
}

static void push_rules(void **state)
{
    expect_valid(PUSH_FCM "}");
    expect_valid(PUSH_FCM ",\"title\":\"Hello\",\"data\":{\"orderId\":\"42\",\"kind\":\"x\"}}");
    expect_valid(PUSH_APNS "}");
    expect_valid("{\"type\":\"PUSH\",\"recipient\":\"" APNS_TOKEN "\",\"platform\":\"fcm\","
                 "\"message\":\"a hex token is a valid FCM token too\"}");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"tok\",\"message\":\"m\"}", "platform",
                     "required");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"tok\",\"platform\":\"gcm\","
                     "\"message\":\"m\"}",
                     "platform", "enum");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"tok\",\"platform\":1,\"message\":\"m\"}",
                     "platform", "type");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"bad token\",\"platform\":\"fcm\","
                     "\"message\":\"m\"}",
                     "recipient", "token");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"tok/en\",\"platform\":\"fcm\","
                     "\"message\":\"m\"}",
                     "recipient", "token");
    /* APNs: hex only, 64 to 200 digits. */
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"0123abcd\",\"platform\":\"apns\","
                     "\"message\":\"m\"}",
                     "recipient", "token");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"" APNS_TOKEN "zz\",\"platform\":\"apns\","
                     "\"message\":\"m\"}",
                     "recipient", "token");
    char body[10000];
    char token[4200];
    memset(token, 'a', 4097);
    token[4097] = '\0';
    snprintf(body, sizeof(body),
             "{\"type\":\"PUSH\",\"recipient\":\"%s\",\"platform\":\"fcm\",\"message\":\"m\"}",
             token);
    expect_violation(body, "recipient", "token");
    token[4096] = '\0';
    snprintf(body, sizeof(body),
             "{\"type\":\"PUSH\",\"recipient\":\"%s\",\"platform\":\"fcm\",\"message\":\"m\"}",
             token);
    expect_valid(body);
    memset(token, 'a', 201);
    token[201] = '\0';
    snprintf(body, sizeof(body),
             "{\"type\":\"PUSH\",\"recipient\":\"%s\",\"platform\":\"apns\",\"message\":\"m\"}",
             token);
    expect_violation(body, "recipient", "token");

    char title[300];
    memset(title, 't', 256);
    title[256] = '\0';
    snprintf(body, sizeof(body), PUSH_FCM ",\"title\":\"%s\"}", title);
    expect_violation(body, "title", "length");
    expect_violation(PUSH_FCM ",\"title\":\"a\\nb\"}", "title", "control");
    expect_violation(PUSH_FCM ",\"title\":5}", "title", "type");
    expect_violation(PUSH_FCM ",\"data\":[\"x\"]}", "data", "type");
    expect_violation(PUSH_FCM ",\"data\":{\"n\":1}}", "data", "type");
    expect_violation(PUSH_FCM ",\"data\":{\"a.b\":\"x\"}}", "data", "key");
    char big[5000];
    memset(big, 'x', 4100);
    big[4100] = '\0';
    snprintf(body, sizeof(body), PUSH_FCM ",\"data\":{\"k\":\"%s\"}}", big);
    expect_violation(body, "data", "size");
    expect_violation("{\"type\":\"PUSH\",\"recipient\":\"tok\",\"platform\":\"fcm\"}", "message",
                     "required");
    expect_violation(PUSH_FCM ",\"subject\":\"s\"}", "subject", "unexpected");
    expect_violation(PUSH_FCM ",\"payload\":{}}", "payload", "unexpected");
}

static void webhook_rules(void **state)
{
    expect_valid(HOOK "}");
    expect_valid(HOOK ",\"message\":\"described\"}");
    expect_valid("{\"type\":\"WEBHOOK\",\"recipient\":\"https://[2606:4700::1111]:8443/x\",\"payload\":[1,2]}");
    expect_valid("{\"type\":\"WEBHOOK\",\"recipient\":\"https://134744072/\",\"payload\":{}}");
    expect_valid("{\"type\":\"WEBHOOK\",\"recipient\":\"HTTPS://Example.COM\",\"payload\":{}}");
    static const struct {
        const char *url;
        const char *rule;
    } bad[] = {
        {"http://hooks.example.com/in", "scheme"},
        {"ftp://hooks.example.com/in", "scheme"},
        {"hooks.example.com/in", "url"},
        {"https://user:pw@hooks.example.com/in", "userinfo"},
        {"https://hooks.example.com/in#frag", "fragment"},
        {"https://hooks.example.com:0/in", "url"},
        {"https://hooks.example.com:65536/in", "url"},
        {"https://hooks.example.com:80a/in", "url"},
        {"https:///in", "url"},
        {"https://exa mple.com/", "url"},
        {"https://example.com/a b", "url"},
        {"https://example.com/%zz", "url"},
        {"https://-bad-.example.com/", "url"},
        /* An IP literal webhooks may not reach (loopback is not allowed here). */
        {"https://[::1]:8443/x", "destination"},
        {"https://169.254.169.254/latest/meta-data", "destination"},
        {"https://2130706433/", "destination"},
        {"https://0xa9fea9fe/", "destination"},
        {"https://10.0.0.1/", "destination"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"type\":\"WEBHOOK\",\"recipient\":\"%s\",\"payload\":{}}", bad[i].url);
        expect_violation(body, "recipient", bad[i].rule);
    }
    char body[3000];
    char path[2100];
    memset(path, 'p', 2040);
    path[2040] = '\0';
    snprintf(body, sizeof(body), "{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/%s\","
                                 "\"payload\":{}}", path);
    expect_violation(body, "recipient", "url");

    /* http:// where the operator allows it; a host name passes intake whatever
     * it resolves to (the worker judges it on every attempt). */
    wc_notification_request_t req;
    wc_field_errors_t errs;
    json_object *obj = NULL;
    assert_true(validate_with("{\"type\":\"WEBHOOK\",\"recipient\":\"http://localhost:9000/h\","
                              "\"payload\":{}}",
                              true, &req, &errs, &obj));
    json_object_put(obj);

    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\"}", "payload",
                     "required");
    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\",\"payload\":\"x\"}",
                     "payload", "type");
    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\",\"payload\":7}",
                     "payload", "type");
    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\","
                     "\"payload\":{\"$set\":1}}",
                     "payload", "key");
    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\","
                     "\"payload\":[{\"n\":1e400}]}",
                     "payload", "number");
    expect_violation("{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\","
                     "\"payload\":{\"n\":123456789012345678901234567890}}",
                     "payload", "number");
    static char large[70000];
    size_t pos = (size_t)snprintf(large, sizeof(large),
                                  "{\"type\":\"WEBHOOK\",\"recipient\":\"https://e.com/\","
                                  "\"payload\":{\"k\":\"");
    memset(large + pos, 'x', 65536);
    pos += 65536;
    memcpy(large + pos, "\"}}", 4);
    expect_violation(large, "payload", "size");
    expect_violation(HOOK ",\"subject\":\"s\"}", "subject", "unexpected");
    expect_violation(HOOK ",\"title\":\"t\"}", "title", "unexpected");
    expect_violation(HOOK ",\"message\":\"\"}", "message", "length");
}

static void common_optional_fields(void **state)
{
    expect_valid(SMS ",\"scheduledAt\":\"2024-12-11T10:35:00Z\"}");
    expect_valid(SMS ",\"scheduledAt\":\"2024-12-11T12:35:00.123456+02:00\"}");
    expect_violation(SMS ",\"scheduledAt\":\"2024-12-11 10:35:00\"}", "scheduledAt", "format");
    expect_violation(SMS ",\"scheduledAt\":\"2024-12-11T10:35:00\"}", "scheduledAt", "format");
    expect_violation(SMS ",\"scheduledAt\":\"2024-02-30T10:35:00Z\"}", "scheduledAt", "format");
    expect_violation(SMS ",\"scheduledAt\":1733913300}", "scheduledAt", "type");
    /* More than 366 days after the validation clock (2024-12-11). */
    expect_violation(SMS ",\"scheduledAt\":\"2026-01-01T00:00:00Z\"}", "scheduledAt", "range");
    expect_violation(SMS ",\"metadata\":{\"n\":-1e400}}", "metadata", "number");
    expect_violation(SMS ",\"metadata\":{\"big\":18446744073709551615}}", "metadata", "number");
    expect_violation(SMS ",\"maxRetries\":123456789012345678901234567890}", "maxRetries", "range");
    expect_violation(SMS ",\"priority\":3}", "priority", "type");

    wc_notification_request_t req;
    wc_field_errors_t errs;
    json_object *obj = NULL;
    assert_true(validate_with(SMS ",\"scheduledAt\":\"2024-12-11T10:35:00.250Z\",\"maxRetries\":0,"
                                  "\"priority\":\"LOW\"}",
                              false, &req, &errs, &obj));
    assert_int_equal(req.scheduled_at_ms, 1733913300250);
    assert_int_equal(req.max_retries, 0);
    assert_int_equal(req.priority, WC_PRIORITY_LOW);
    json_object_put(obj);
}

static void unknown_type_reports_the_rest(void **state)
{
    /* Without a known type, the channel rules cannot run, but everything
     * else is still reported. */
    json_object *obj = parse("{\"type\":\"FAX\",\"message\":\"\",\"colour\":1,\"maxRetries\":99}");
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    assert_false(wc_notification_validate(obj, &req, &errs));
    assert_true(has_error(&errs, "type", "enum"));
    assert_true(has_error(&errs, "recipient", "required"));
    assert_true(has_error(&errs, "message", "length"));
    assert_true(has_error(&errs, "colour", "unknown"));
    assert_true(has_error(&errs, "maxRetries", "range"));
    json_object_put(obj);
}

static void channel_documents_hold_their_fields(void **state)
{
    bson_oid_t id;
    bson_oid_init_from_string(&id, "507f1f77bcf86cd799439011");
    wc_notification_request_t req;
    wc_field_errors_t errs;
    json_object *obj = NULL;

    assert_true(validate_with(PUSH_APNS ",\"title\":\"T\",\"data\":{\"k\":\"v\"}}", false, &req,
                              &errs, &obj));
    bson_t *doc = wc_notification_new_document(&req, &id, "t", 3, NULL, 1733913000000);
    assert_non_null(doc);
    assert_string_equal(wc_doc_string(doc, "platform"), "apns");
    assert_string_equal(wc_doc_string(doc, "title"), "T");
    assert_string_equal(wc_doc_string(doc, "message"), "body");
    assert_null(wc_doc_string(doc, "subject"));
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, doc, "data") && BSON_ITER_HOLDS_DOCUMENT(&it));
    assert_false(bson_iter_init_find(&it, doc, "payload"));
    bson_destroy(doc);
    json_object_put(obj);

    assert_true(validate_with(HOOK "}", false, &req, &errs, &obj));
    req.idempotency_key = "key-1";
    doc = wc_notification_new_document(&req, &id, "t", 3, NULL, 1733913000000);
    assert_non_null(doc);
    assert_null(wc_doc_string(doc, "message"));
    assert_string_equal(wc_doc_string(doc, "idempotencyKey"), "key-1");
    assert_true(bson_iter_init_find(&it, doc, "payload") && BSON_ITER_HOLDS_DOCUMENT(&it));
    json_object *api = wc_notification_to_api_json(doc);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(api, "payload", &v));
    assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                        "{\"event\":\"paid\"}");
    json_object_put(api);
    bson_destroy(doc);
    json_object_put(obj);
}

static void future_schedule_starts_scheduled(void **state)
{
    bson_oid_t id;
    bson_oid_init_from_string(&id, "507f1f77bcf86cd799439011");
    wc_notification_request_t req;
    wc_field_errors_t errs;
    json_object *obj = NULL;
    assert_true(validate_with(SMS ",\"scheduledAt\":\"2024-12-11T11:00:00Z\"}", false, &req, &errs,
                              &obj));
    /* Created before the time: SCHEDULED, with a first entry saying when. */
    bson_t *doc = wc_notification_new_document(&req, &id, "t", 3, NULL, 1733913000000);
    assert_string_equal(wc_doc_string(doc, "status"), "SCHEDULED");
    wc_trail_entry_t created[2];
    assert_int_equal(wc_trail_entries_of_new(doc, created), 1);
    assert_int_equal(created[0].to, WC_STATUS_SCHEDULED);
    assert_non_null(strstr(created[0].message, "2024-12-11T11:00:00.000Z"));
    bson_destroy(doc);
    /* Created at or after the time: QUEUED, sent at once. */
    doc = wc_notification_new_document(&req, &id, "t", 3, NULL, 1733914800000);
    assert_string_equal(wc_doc_string(doc, "status"), "QUEUED");
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, doc, "scheduledAt") && BSON_ITER_HOLDS_DATE_TIME(&it));
    bson_destroy(doc);
    json_object_put(obj);
}

UNIT_TEST_MAIN(cmocka_unit_test(valid_email_request_passes_with_defaults),
               cmocka_unit_test(every_rule_names_its_field),
               cmocka_unit_test(all_violations_are_reported_at_once),
               cmocka_unit_test(message_length_counts_characters_not_bytes),
               cmocka_unit_test(new_document_is_queued_with_its_creation_trail),
               cmocka_unit_test(queue_message_round_trip),
               cmocka_unit_test(queue_message_rejects_poison),
               cmocka_unit_test(priorities_route_to_their_class),
               cmocka_unit_test(sms_rules),
               cmocka_unit_test(push_rules),
               cmocka_unit_test(webhook_rules),
               cmocka_unit_test(common_optional_fields),
               cmocka_unit_test(unknown_type_reports_the_rest),
               cmocka_unit_test(channel_documents_hold_their_fields),
               cmocka_unit_test(future_schedule_starts_scheduled))
