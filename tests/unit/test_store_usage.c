/* The pure parts of per key usage and monthly quotas (wc_store_usage.c,
 * wc_store_quota.c): day and month arithmetic, refusal statuses, the stale
 * rule, and quotas read from and written to documents. */
#include "unit_test.h"
#include <string.h>

#include "wc_store_quota.h"
#include "wc_store_usage.h"
#include "wc_time.h"

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(wc_time_parse_iso8601(iso, &ms), 0);
    return ms;
}

static void days_are_utc_and_strict(void **state)
{
    char name[11];
    wc_usage_day_name(at("2026-12-31T23:59:59.999Z"), name);
    assert_string_equal(name, "2026-12-31");
    int64_t day = 0;
    assert_int_equal(wc_usage_day_parse("2026-03-01", &day), 0);
    assert_int_equal(day, at("2026-03-01T00:00:00Z"));
    assert_int_equal(day % WC_DAY_MS, 0);
    assert_int_equal(wc_usage_day_parse("2026-02-30", &day), -1); /* no rolling over */
    assert_int_equal(wc_usage_day_parse("2026-3-01", &day), -1);
    assert_int_equal(wc_usage_day_parse("2026-03-01T00:00:00Z", &day), -1);
    assert_int_equal(wc_usage_day_parse("", &day), -1);
}

static void refusals_are_the_four_statuses(void **state)
{
    assert_int_equal(wc_usage_refusal_of_status(401), WC_REFUSED_401);
    assert_int_equal(wc_usage_refusal_of_status(403), WC_REFUSED_403);
    assert_int_equal(wc_usage_refusal_of_status(429), WC_REFUSED_429);
    assert_int_equal(wc_usage_refusal_of_status(503), WC_REFUSED_503);
    assert_int_equal(wc_usage_refusal_of_status(200), -1);
    assert_int_equal(wc_usage_refusal_of_status(400), -1);
    assert_string_equal(wc_usage_refusal_name(WC_REFUSED_429), "429");
    assert_string_equal(wc_usage_class_name(WC_USAGE_OPERATE), "operate");
}

static void a_key_is_stale_after_thirty_quiet_days(void **state)
{
    int64_t now = at("2026-12-02T12:00:00Z");
    int64_t old = now - 40 * WC_DAY_MS;
    assert_true(wc_usage_key_is_stale(old, 0, now));
    assert_true(wc_usage_key_is_stale(old, now - 31 * WC_DAY_MS, now));
    assert_false(wc_usage_key_is_stale(old, now - 29 * WC_DAY_MS, now));
    /* A new key is not stale before it had the chance to be used. */
    assert_false(wc_usage_key_is_stale(now - 5 * WC_DAY_MS, 0, now));
}

static void months_are_calendar_months_in_utc(void **state)
{
    assert_int_equal(wc_quota_month_start(at("2026-12-31T23:59:59Z")), at("2026-12-01T00:00:00Z"));
    assert_int_equal(wc_quota_next_month(at("2026-12-31T23:59:59Z")), at("2027-01-01T00:00:00Z"));
    assert_int_equal(wc_quota_next_month(at("2028-01-31T10:00:00Z")), at("2028-02-01T00:00:00Z"));
    assert_int_equal(wc_quota_month_start(at("2028-02-29T10:00:00Z")), at("2028-02-01T00:00:00Z"));
}

static void quotas_round_trip_through_documents(void **state)
{
    wc_quota_t q;
    wc_quota_init(&q);
    assert_false(wc_quota_any(&q));
    q.monthly = 1000;
    q.channel[WC_CHANNEL_SMS] = 0; /* no SMS at all */
    q.critical_exempt = true;
    bson_t update = BSON_INITIALIZER;
    assert_true(wc_quota_append_update(&update, &q));
    bson_iter_t it, set;
    assert_true(bson_iter_init_find(&it, &update, "$set") && bson_iter_recurse(&it, &set));
    assert_true(bson_iter_find(&set, "quota") && BSON_ITER_HOLDS_DOCUMENT(&set));
    uint32_t len = 0;
    const uint8_t *data = NULL;
    bson_iter_document(&set, &len, &data);
    bson_t quota;
    assert_true(bson_init_static(&quota, data, len));
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&doc, "quota", &quota);
    wc_quota_t back;
    wc_quota_from_doc(&doc, &back);
    assert_int_equal(back.monthly, 1000);
    assert_int_equal(back.channel[WC_CHANNEL_SMS], 0);
    assert_int_equal(back.channel[WC_CHANNEL_EMAIL], -1);
    assert_true(back.critical_exempt);
    bson_destroy(&doc);
    bson_destroy(&update);

    /* A quota limiting nothing is removed. */
    wc_quota_init(&q);
    bson_t unset = BSON_INITIALIZER;
    assert_true(wc_quota_append_update(&unset, &q));
    assert_true(bson_iter_init_find(&it, &unset, "$unset"));
    bson_destroy(&unset);

    /* Malformed and out-of-range values read as no limit. */
    bson_t *bad = BCON_NEW("quota", "{", "monthly", BCON_INT64(-5), "EMAIL", BCON_UTF8("10"),
                           "PUSH", BCON_INT64(WC_QUOTA_MAX + 1), "WEBHOOK", BCON_INT32(7), "}");
    wc_quota_from_doc(bad, &back);
    assert_int_equal(back.monthly, -1);
    assert_int_equal(back.channel[WC_CHANNEL_EMAIL], -1);
    assert_int_equal(back.channel[WC_CHANNEL_PUSH], -1);
    assert_int_equal(back.channel[WC_CHANNEL_WEBHOOK], 7);
    assert_false(back.critical_exempt);
    bson_destroy(bad);
}

UNIT_TEST_MAIN(cmocka_unit_test(days_are_utc_and_strict),
               cmocka_unit_test(refusals_are_the_four_statuses),
               cmocka_unit_test(a_key_is_stale_after_thirty_quiet_days),
               cmocka_unit_test(months_are_calendar_months_in_utc),
               cmocka_unit_test(quotas_round_trip_through_documents))
