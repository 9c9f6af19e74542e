#include "unit_test.h"

#include "wc_backoff.h"
#include "wc_topology.h"

static void first_retry_always_takes_the_shortest_tier(void **state)
{
    for (double u = 0.0; u < 1.0; u += 0.01) {
        assert_int_equal(wc_backoff_tier(0, u), 0);
    }
}

static void later_retries_spread_over_longer_tiers(void **state)
{
    /* Retry 2: delay uniform in [0, 25): mostly the 25 s tier, never 125 s. */
    assert_int_equal(wc_backoff_tier(1, 0.1), 0);
    assert_int_equal(wc_backoff_tier(1, 0.5), 1);
    assert_int_equal(wc_backoff_tier(1, 0.99), 1);
    /* Retry 3 and beyond: capped at 125 s. */
    assert_int_equal(wc_backoff_tier(2, 0.01), 0);
    assert_int_equal(wc_backoff_tier(2, 0.15), 1);
    assert_int_equal(wc_backoff_tier(2, 0.9), 2);
    assert_int_equal(wc_backoff_tier(9, 0.999), wc_retry_tier_count - 1);
}

static void a_retry_never_comes_sooner_than_its_drawn_delay(void **state)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        double ceiling = 5.0;
        for (int i = 0; i < attempt; i++) {
            ceiling = ceiling * 5.0 > 125.0 ? 125.0 : ceiling * 5.0;
        }
        for (double u = 0.0; u < 1.0; u += 0.003) {
            size_t tier = wc_backoff_tier(attempt, u);
            assert_true(wc_retry_tiers[tier].seconds >= u * ceiling);
        }
    }
}

static void random_units_stay_in_range(void **state)
{
    for (int i = 0; i < 10000; i++) {
        double u = wc_backoff_random_unit();
        assert_true(u >= 0.0 && u < 1.0);
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(first_retry_always_takes_the_shortest_tier),
               cmocka_unit_test(later_retries_spread_over_longer_tiers),
               cmocka_unit_test(a_retry_never_comes_sooner_than_its_drawn_delay),
               cmocka_unit_test(random_units_stay_in_range))
