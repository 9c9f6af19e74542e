/* How a paced delivery waits for its send slot: held in the child under the
 * shortest delay queue, else through the longest delay that does not pass the
 * slot (worker/endpoint_pace.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "endpoint_pace.h"
#include "wc_topology.h"

static int hop_seconds(int64_t remaining_ms)
{
    int hop = endpoint_pace_hop(remaining_ms);
    return hop < 0 ? 0 : wc_delay_tiers[hop].seconds;
}

static void under_a_second_is_held(void **state)
{
    (void)state;
    assert_int_equal(endpoint_pace_hop(-50), -1);
    assert_int_equal(endpoint_pace_hop(0), -1);
    assert_int_equal(endpoint_pace_hop(1), -1);
    assert_int_equal(endpoint_pace_hop(999), -1);
}

static void the_longest_delay_that_does_not_pass_the_slot(void **state)
{
    (void)state;
    static const struct {
        int64_t remaining_ms;
        int seconds;
    } cases[] = {
        {1000, 1},    {1001, 1},     {4999, 1},     {5000, 5},       {24999, 5},
        {25000, 25},  {124999, 25},  {125000, 125}, {3600000, 125},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(hop_seconds(cases[i].remaining_ms), cases[i].seconds);
        /* Never past the slot: the delay is no longer than what remains. */
        assert_true(hop_seconds(cases[i].remaining_ms) * 1000LL <= cases[i].remaining_ms);
    }
}

static void the_pacing_queue_is_the_shortest_and_not_a_retry_tier(void **state)
{
    (void)state;
    assert_string_equal(wc_delay_tiers[0].queue, "pace.1s");
    assert_int_equal(wc_delay_tiers[0].seconds, 1);
    for (size_t i = 0; i < wc_retry_tier_count; i++) {
        assert_ptr_equal(&wc_retry_tiers[i], &wc_delay_tiers[i + 1]);
        assert_true(wc_retry_tiers[i].seconds > wc_delay_tiers[0].seconds);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(under_a_second_is_held),
        cmocka_unit_test(the_longest_delay_that_does_not_pass_the_slot),
        cmocka_unit_test(the_pacing_queue_is_the_shortest_and_not_a_retry_tier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
