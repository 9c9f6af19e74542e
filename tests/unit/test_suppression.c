/* Suppression (shared/model/wc_suppression.h): the reason table, the entry
 * key, and every cell of the send-or-suppress decision. */
#include "unit_test.h"
#include <string.h>

#include "wc_suppression.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void reasons_round_trip(void **state)
{
    (void)state;
    for (int r = WC_SUPPRESS_NONE + 1; r < WC_SUPPRESS_REASON_COUNT; r++) {
        wc_suppress_reason_t back = WC_SUPPRESS_NONE;
        const char *name = wc_suppress_reason_name((wc_suppress_reason_t)r);
        assert_true(strlen(name) > 0);
        assert_non_null(strstr(WC_SUPPRESS_REASON_NAMES, name));
        assert_int_equal(wc_suppress_reason_parse(name, &back), 0);
        assert_int_equal(back, r);
    }
    wc_suppress_reason_t out = WC_SUPPRESS_NONE;
    assert_int_equal(wc_suppress_reason_parse("", &out), -1);
    assert_int_equal(wc_suppress_reason_parse("Hard_Bounce", &out), -1);
    assert_int_equal(wc_suppress_reason_parse(NULL, &out), -1);
    assert_string_equal(wc_suppress_reason_name((wc_suppress_reason_t)99), "");
}

static void only_unsubscribed_yields_to_transactional(void **state)
{
    (void)state;
    assert_false(wc_suppress_reason_binds_transactional(WC_SUPPRESS_NONE));
    assert_false(wc_suppress_reason_binds_transactional(WC_SUPPRESS_UNSUBSCRIBED));
    assert_true(wc_suppress_reason_binds_transactional(WC_SUPPRESS_HARD_BOUNCE));
    assert_true(wc_suppress_reason_binds_transactional(WC_SUPPRESS_INVALID_NUMBER));
    assert_true(wc_suppress_reason_binds_transactional(WC_SUPPRESS_COMPLAINT));
    assert_true(wc_suppress_reason_binds_transactional(WC_SUPPRESS_MANUAL));
}

static void keys_fold_email_case_only(void **state)
{
    (void)state;
    char id[WC_SUPPRESSION_ID_LEN];
    assert_int_equal(wc_suppression_id("t1", WC_CHANNEL_EMAIL, "Ann@Example.COM", id, sizeof(id)), 0);
    assert_string_equal(id, "t1:EMAIL:ann@example.com");
    assert_int_equal(wc_suppression_id("t1", WC_CHANNEL_PUSH, "AbC-token", id, sizeof(id)), 0);
    assert_string_equal(id, "t1:PUSH:AbC-token");
    assert_int_equal(wc_suppression_id("t1", WC_CHANNEL_SMS, "+15550001234", id, 12), -1);
}

typedef struct {
    wc_suppression_facts_t facts;
    wc_suppression_verdict_t verdict;
} decision_case_t;

static void decides_every_case(void **state)
{
    (void)state;
    static const decision_case_t cases[] = {
        {{WC_SUPPRESS_NONE, false, false, false}, WC_VERDICT_SEND},
        {{WC_SUPPRESS_NONE, false, false, true}, WC_VERDICT_SEND},
        /* Opt-outs stop ordinary messages, not transactional ones. */
        {{WC_SUPPRESS_NONE, true, false, false}, WC_VERDICT_OPTED_OUT_CHANNEL},
        {{WC_SUPPRESS_NONE, false, true, false}, WC_VERDICT_OPTED_OUT_CATEGORY},
        {{WC_SUPPRESS_NONE, true, true, false}, WC_VERDICT_OPTED_OUT_CHANNEL},
        {{WC_SUPPRESS_NONE, true, true, true}, WC_VERDICT_SEND},
        /* Every listed reason stops an ordinary message, before any opt-out. */
        {{WC_SUPPRESS_UNSUBSCRIBED, false, false, false}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_HARD_BOUNCE, true, false, false}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_COMPLAINT, false, false, false}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_INVALID_NUMBER, false, false, false}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_MANUAL, false, false, false}, WC_VERDICT_SUPPRESSED},
        /* A transactional message passes an unsubscribe, never an invalid address. */
        {{WC_SUPPRESS_UNSUBSCRIBED, true, true, true}, WC_VERDICT_SEND},
        {{WC_SUPPRESS_HARD_BOUNCE, false, false, true}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_INVALID_NUMBER, false, false, true}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_COMPLAINT, false, false, true}, WC_VERDICT_SUPPRESSED},
        {{WC_SUPPRESS_MANUAL, false, false, true}, WC_VERDICT_SUPPRESSED},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        wc_suppression_verdict_t got = wc_suppression_decide(&cases[i].facts);
        if (got != cases[i].verdict) {
            fail_msg("case %zu: got %d, want %d", i, (int)got, (int)cases[i].verdict);
        }
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(reasons_round_trip),
               cmocka_unit_test(only_unsubscribed_yields_to_transactional),
               cmocka_unit_test(keys_fold_email_case_only), cmocka_unit_test(decides_every_case))
