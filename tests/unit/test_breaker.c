#include "unit_test.h"
#include <string.h>

#include "wc_breaker.h"

static const wc_breaker_policy_t policy = {.threshold = 3, .open_ms = 1000};

/* Makes *b a breaker that the policy's threshold of failures at `now_ms` has just opened. */
static void open_at(wc_breaker_t *b, int64_t now_ms)
{
    memset(b, 0, sizeof(*b));
    for (int i = 0; i < policy.threshold; i++) {
        wc_breaker_record(b, &policy, false, now_ms);
    }
}

static void opens_after_threshold_consecutive_failures(void **state)
{
    wc_breaker_t b;
    memset(&b, 0, sizeof(b));
    for (int i = 0; i < 2; i++) {
        assert_true(wc_breaker_allow(&b, &policy, 0));
        wc_breaker_record(&b, &policy, false, 0);
    }
    assert_int_equal(wc_breaker_state(&b), WC_BREAKER_CLOSED);
    /* A success in between resets the count. */
    wc_breaker_record(&b, &policy, true, 0);
    for (int i = 0; i < 2; i++) {
        wc_breaker_record(&b, &policy, false, 0);
    }
    assert_int_equal(wc_breaker_state(&b), WC_BREAKER_CLOSED);
    wc_breaker_record(&b, &policy, false, 10);
    assert_int_equal(wc_breaker_state(&b), WC_BREAKER_OPEN);
    assert_int_equal(atomic_load(&b.times_opened), 1);
}

static void open_refuses_until_the_period_ends(void **state)
{
    wc_breaker_t b;
    open_at(&b, 100);
    assert_false(wc_breaker_allow(&b, &policy, 200));
    assert_false(wc_breaker_allow(&b, &policy, 1099));
    assert_int_equal(wc_breaker_retry_after_ms(&b, &policy, 600), 500);
    assert_int_equal(atomic_load(&b.rejected), 2);
}

static void half_open_lets_exactly_one_probe_through(void **state)
{
    wc_breaker_t b;
    open_at(&b, 0);
    assert_true(wc_breaker_allow(&b, &policy, 1000)); /* the probe */
    assert_int_equal(wc_breaker_state(&b), WC_BREAKER_HALF_OPEN);
    assert_false(wc_breaker_allow(&b, &policy, 1001));
    assert_false(wc_breaker_allow(&b, &policy, 1500));
    /* The probe succeeds: closed, and everyone passes again. */
    wc_breaker_record(&b, &policy, true, 1600);
    assert_int_equal(wc_breaker_state(&b), WC_BREAKER_CLOSED);
    assert_true(wc_breaker_allow(&b, &policy, 1601));
    assert_true(wc_breaker_allow(&b, &policy, 1602));
}

static void failed_probe_opens_again(void **state)
{
    wc_breaker_t b;
    open_at(&b, 0);
    assert_true(wc_breaker_allow(&b, &policy, 1000));
    wc_breaker_record(&b, &policy, false, 1200);
    assert_int_equal(wc_breaker_state(&b), WC_BREAKER_OPEN);
    assert_false(wc_breaker_allow(&b, &policy, 2100));
    assert_true(wc_breaker_allow(&b, &policy, 2200));
}

static void a_lost_probe_does_not_wedge_the_breaker(void **state)
{
    wc_breaker_t b;
    open_at(&b, 0);
    assert_true(wc_breaker_allow(&b, &policy, 1000)); /* probe taken, never recorded */
    assert_false(wc_breaker_allow(&b, &policy, 1500));
    assert_true(wc_breaker_allow(&b, &policy, 2000)); /* freed after a whole period */
}

UNIT_TEST_MAIN(cmocka_unit_test(opens_after_threshold_consecutive_failures),
               cmocka_unit_test(open_refuses_until_the_period_ends),
               cmocka_unit_test(half_open_lets_exactly_one_probe_through),
               cmocka_unit_test(failed_probe_opens_again),
               cmocka_unit_test(a_lost_probe_does_not_wedge_the_breaker))
