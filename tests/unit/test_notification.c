#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"
#include "wc_notification.h"

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
    bool ok = wc_notification_validate(obj, &req, &errs);
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
    expect_violation("{\"type\":\"SMS\",\"recipient\":\"+15550100\",\"message\":\"m\"}", "type",
                     "unsupported");
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

static void email_addresses(void **state)
{
    static const char *const good[] = {"user@example.com", "first.last+tag@mail.example.co.uk",
                                       "x_y-z@sub-domain.example.org", "o'brien@example.ie"};
    static const char *const bad[] = {"", "user", "@example.com", "user@", "user@localhost",
                                      "user@@example.com", ".user@example.com", "user.@example.com",
                                      "us..er@example.com", "user@-example.com",
                                      "user@example-.com", "user@exa mple.com", "user@1.2.3.4",
                                      "us er@example.com", "user@example..com"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!wc_email_address_valid(good[i])) {
            fail_msg("rejected %s", good[i]);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wc_email_address_valid(bad[i])) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    char longest[300];
    memset(longest, 'a', 65);
    strcpy(longest + 65, "@example.com"); /* a 65-character local part */
    assert_false(wc_email_address_valid(longest));
}

static void new_document_is_pending_with_its_first_audit_entry(void **state)
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

    assert_string_equal(wc_doc_string(doc, "status"), "PENDING");
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

    json_object *logs = wc_notification_logs_to_api_json(doc);
    assert_int_equal(json_object_array_length(logs), 1);
    json_object *first = json_object_array_get_idx(logs, 0);
    assert_true(json_object_object_get_ex(first, "status", &v));
    assert_string_equal(json_object_get_string(v), "PENDING");
    assert_true(json_object_object_get_ex(first, "notificationId", &v));
    assert_string_equal(json_object_get_string(v), "507f1f77bcf86cd799439011");

    json_object_put(logs);
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
    free(text);
}

static void queue_message_rejects_poison(void **state)
{
    static const char *const poison[] = {
        "", "not json", "[]", "{\"notificationId\":\"xyz\",\"tenantId\":\"t\",\"type\":\"EMAIL\","
                              "\"priority\":\"LOW\"}",
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"type\":\"EMAIL\",\"priority\":\"LOW\"}",
        "{\"notificationId\":\"507f1f77bcf86cd799439011\",\"tenantId\":\"t\",\"type\":\"FAX\","
        "\"priority\":\"LOW\"}"};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_email_request_passes_with_defaults),
        cmocka_unit_test(every_rule_names_its_field),
        cmocka_unit_test(all_violations_are_reported_at_once),
        cmocka_unit_test(message_length_counts_characters_not_bytes),
        cmocka_unit_test(email_addresses),
        cmocka_unit_test(new_document_is_pending_with_its_first_audit_entry),
        cmocka_unit_test(queue_message_round_trip),
        cmocka_unit_test(queue_message_rejects_poison),
        cmocka_unit_test(priorities_route_to_their_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
