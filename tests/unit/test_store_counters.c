/* The pure parts of the counters and the list: bucket arithmetic, the names of
 * counter documents, cells, cursors and the keyset order. No database. */
#include "unit_test.h"
#include <string.h>

#include "wc_notification.h"
#include "wc_store.h"
#include "wc_store_counters.h"

#define T "65f0c0ffee0123456789abcd"

static void buckets_floor_even_before_1970(void **state)
{
    (void)state;
    assert_int_equal(wc_counter_bucket_start(WC_COUNTER_MINUTE, 119999), 60000);
    assert_int_equal(wc_counter_bucket_start(WC_COUNTER_MINUTE, 120000), 120000);
    assert_int_equal(wc_counter_bucket_start(WC_COUNTER_MINUTE, -1), -60000);
    assert_int_equal(wc_counter_bucket_start(WC_COUNTER_HOUR, 3600000LL * 5 + 59), 3600000LL * 5);
    assert_int_equal(wc_counter_bucket_start(WC_COUNTER_DAY, 86400000LL * 3 - 1), 86400000LL * 2);
    assert_int_equal(wc_counter_level_width(WC_COUNTER_MINUTE), WC_LIST_BUCKET_MS);
}

static void a_minute_bucket_is_named_like_the_documents_list_bucket(void **state)
{
    (void)state;
    char bucket[WC_LIST_BUCKET_LEN], id[96], scope[96];
    int64_t ms = 1733912999123LL; /* 2024-12-11T10:29:59.123Z */
    assert_int_equal(wc_notification_list_bucket(bucket, sizeof(bucket), T, ms), 0);
    assert_string_equal(bucket, T ":1733912940000");
    assert_int_equal(wc_counter_doc_id(id, sizeof(id), T, WC_COUNTER_MINUTE, ms), 0);
    assert_string_equal(id, T ":m:1733912940000");
    /* A minute's siblings are the minutes of its hour; an hour's, of its day. */
    assert_int_equal(wc_counter_scope(scope, sizeof(scope), T, WC_COUNTER_MINUTE, ms), 0);
    assert_string_equal(scope, T ":m:1733911200000");
    assert_int_equal(wc_counter_scope(scope, sizeof(scope), T, WC_COUNTER_HOUR, ms), 0);
    assert_string_equal(scope, T ":h:1733875200000");
    assert_int_equal(wc_counter_scope(scope, sizeof(scope), T, WC_COUNTER_DAY, ms), 0);
    assert_string_equal(scope, T ":d");
    assert_int_equal(wc_counter_doc_id(id, sizeof(id), T, WC_COUNTER_DAY, ms), 0);
    assert_string_equal(id, T ":d:1733875200000");
    /* A day's leaves are named by the day counter's start, the type and the
     * priority. */
    assert_int_equal(wc_notification_list_day_kind(bucket, sizeof(bucket), T, ms, WC_CHANNEL_WEBHOOK,
                                                   WC_PRIORITY_CRITICAL),
                     0);
    assert_string_equal(bucket, T ":1733875200000:WEBHOOK:CRITICAL");
    assert_int_equal(wc_notification_list_day_kind(bucket, 50, T, ms, WC_CHANNEL_WEBHOOK,
                                                   WC_PRIORITY_CRITICAL),
                     -1);
    /* Too small a buffer is refused, not cut. */
    assert_int_equal(wc_notification_list_bucket(bucket, 20, T, ms), -1);
    assert_int_equal(wc_counter_doc_id(id, 10, T, WC_COUNTER_MINUTE, ms), -1);
}

static void a_key_has_counters_of_its_own_beside_its_tenants(void **state)
{
    (void)state;
    char owner[WC_COUNTER_OWNER_LEN], scope[WC_COUNTER_ID_LEN], id[WC_COUNTER_ID_LEN];
    const int64_t ms = 1733912999999; /* 2024-12-11T10:29:59.999Z */
    assert_int_equal(wc_counter_owner(owner, scope, T, NULL), 0);
    assert_string_equal(owner, T);
    assert_string_equal(scope, "tenants");
    assert_int_equal(wc_counter_owner(owner, scope, T, "wck_0123abcd"), 0);
    assert_string_equal(owner, T "~wck_0123abcd");
    /* Not "tenants": the sum over every tenant must not count a key twice. */
    assert_string_equal(scope, T ":keys");
    assert_int_equal(wc_counter_doc_id(id, sizeof(id), owner, WC_COUNTER_MINUTE, ms), 0);
    assert_string_equal(id, T "~wck_0123abcd:m:1733912940000");
    assert_int_equal(wc_counter_scope(id, sizeof(id), owner, WC_COUNTER_DAY, ms), 0);
    assert_string_equal(id, T "~wck_0123abcd:d");
    /* Anything that is not a hint, or a tenant that could forge another owner, is refused. */
    assert_int_equal(wc_counter_owner(owner, NULL, T, "wck_0123ABCD"), -1);
    assert_int_equal(wc_counter_owner(owner, NULL, T, "wck_0123abc"), -1);
    assert_int_equal(wc_counter_owner(owner, NULL, T, "wck_0123abcd:"), -1);
    assert_int_equal(wc_counter_owner(owner, NULL, T, ""), -1);
    assert_int_equal(wc_counter_owner(owner, NULL, "a~wck_0123abcd", NULL), -1);
    assert_int_equal(wc_counter_owner(owner, NULL, "", NULL), -1);
    assert_int_equal(wc_counter_owner(owner, NULL, NULL, NULL), -1);
}

static void cells_round_trip_and_refuse_strangers(void **state)
{
    (void)state;
    char key[48];
    int s, t, p;
    for (int is = 0; is < WC_STATUS_COUNT; is++) {
        for (int it = 0; it < WC_CHANNEL_COUNT; it++) {
            for (int ip = 0; ip < WC_PRIORITY_COUNT; ip++) {
                assert_int_equal(wc_counter_cell_key(key, sizeof(key), is, it, ip), 0);
                assert_int_equal(wc_counter_cell_parse(key, &s, &t, &p), 0);
                assert_int_equal(s, is);
                assert_int_equal(t, it);
                assert_int_equal(p, ip);
            }
        }
    }
    assert_int_equal(wc_counter_cell_key(key, sizeof(key), WC_STATUS_SENT, WC_CHANNEL_SMS,
                                         WC_PRIORITY_HIGH),
                     0);
    assert_string_equal(key, "SENT:SMS:HIGH");
    assert_int_equal(wc_counter_cell_key(key, sizeof(key), -1, 0, 0), -1);
    assert_int_equal(wc_counter_cell_key(key, sizeof(key), 0, WC_CHANNEL_COUNT, 0), -1);
    const char *bad[] = {"", "SENT", "SENT:SMS", "SENT:SMS:", "SENT:SMS:HIGH:X", "SENT:FAX:HIGH",
                         "sent:SMS:HIGH", ":SMS:HIGH", "SENT::HIGH"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wc_counter_cell_parse(bad[i], &s, &t, &p), -1);
    }
}

static void cursors_round_trip_and_refuse_anything_else(void **state)
{
    (void)state;
    bson_oid_t id, back;
    bson_oid_init_from_string(&id, "65f0c0ffee0123456789abcd");
    char text[WC_LIST_CURSOR_LEN];
    wc_list_cursor_format(1733912999123LL, &id, text);
    assert_string_equal(text, "1733912999123.65f0c0ffee0123456789abcd");
    int64_t ms = 0;
    assert_int_equal(wc_list_cursor_parse(text, &ms, &back), 0);
    assert_int_equal(ms, 1733912999123LL);
    assert_true(bson_oid_equal(&id, &back));
    const char *bad[] = {"", ".", "1733912999123", "1733912999123.", ".65f0c0ffee0123456789abcd",
                         "-1.65f0c0ffee0123456789abcd", "1733912999123.65F0C0FFEE0123456789ABCD",
                         "1733912999123.65f0c0ffee0123456789abc",
                         "17339x2999123.65f0c0ffee0123456789abcd",
                         "1733912999123.65f0c0ffee0123456789abcde",
                         "1234567890123456.65f0c0ffee0123456789abcd",
                         "1733912999123 65f0c0ffee0123456789abcd"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wc_list_cursor_parse(bad[i], &ms, &back), -1);
    }
}

static void the_order_is_newest_first_then_higher_id_first(void **state)
{
    (void)state;
    bson_oid_t lo, hi;
    bson_oid_init_from_string(&lo, "65f0c0ffee0123456789abc0");
    bson_oid_init_from_string(&hi, "65f0c0ffee0123456789abc1");
    assert_true(wc_list_order(2000, &lo, 1000, &hi) < 0); /* newer comes first */
    assert_true(wc_list_order(1000, &hi, 2000, &lo) > 0);
    assert_true(wc_list_order(1000, &hi, 1000, &lo) < 0); /* same instant: by _id, descending */
    assert_true(wc_list_order(1000, &lo, 1000, &hi) > 0);
    assert_int_equal(wc_list_order(1000, &lo, 1000, &lo), 0);
}

static void new_documents_carry_their_list_bucket_hidden_from_clients(void **state)
{
    (void)state;
    json_object *body = json_tokener_parse(
        "{\"type\":\"SMS\",\"recipient\":\"+15005550006\",\"message\":\"hi\"}");
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    assert_true(wc_notification_validate(body, &req, &errs));
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    bson_t *doc = wc_notification_new_document(&req, &id, T, 3, NULL, 1733912999123LL);
    assert_non_null(doc);
    assert_string_equal(wc_doc_string(doc, "listBucket"), T ":1733912940000");
    assert_string_equal(wc_doc_string(doc, "listSlot"), T ":1733912999000");
    assert_string_equal(wc_doc_string(doc, "listDayKind"), T ":1733875200000:SMS:MEDIUM");
    json_object *api = wc_notification_to_api_json(doc);
    assert_false(json_object_object_get_ex(api, "listBucket", NULL));
    assert_false(json_object_object_get_ex(api, "listSlot", NULL));
    assert_false(json_object_object_get_ex(api, "listDayKind", NULL));
    json_object_put(api);
    bson_destroy(doc);
    json_object_put(body);
}

static void applying_nothing_touches_no_database(void **state)
{
    (void)state;
    /* n = 0 returns before the store is used, so a NULL store is safe. */
    assert_int_equal(wc_store_counters_apply(NULL, NULL, 0), WC_STORE_OK);
}

UNIT_TEST_MAIN(cmocka_unit_test(buckets_floor_even_before_1970),
               cmocka_unit_test(a_minute_bucket_is_named_like_the_documents_list_bucket),
               cmocka_unit_test(a_key_has_counters_of_its_own_beside_its_tenants),
               cmocka_unit_test(cells_round_trip_and_refuse_strangers),
               cmocka_unit_test(cursors_round_trip_and_refuse_anything_else),
               cmocka_unit_test(the_order_is_newest_first_then_higher_id_first),
               cmocka_unit_test(new_documents_carry_their_list_bucket_hidden_from_clients),
               cmocka_unit_test(applying_nothing_touches_no_database))
