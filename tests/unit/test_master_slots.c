/* The worker master's slot table (worker/master_slots.c): restarts, their
 * spacing, rolling restarts, fatal exits and drains, with no process. */
#include "unit_test.h"

#include "master_slots.h"

static master_slot_t running(pid_t pid, int64_t started_ms, unsigned generation)
{
    return (master_slot_t){.pid = pid, .started_ms = started_ms, .generation = generation};
}

static void restart_delays_double_up_to_the_cap(void **state)
{
    (void)state;
    assert_int_equal(master_restart_delay_ms(0), 0);
    assert_int_equal(master_restart_delay_ms(1), 1000);
    assert_int_equal(master_restart_delay_ms(2), 2000);
    assert_int_equal(master_restart_delay_ms(3), 4000);
    assert_int_equal(master_restart_delay_ms(5), 16000);
    assert_int_equal(master_restart_delay_ms(6), MASTER_RESTART_DELAY_MAX_MS);
    assert_int_equal(master_restart_delay_ms(60), MASTER_RESTART_DELAY_MAX_MS);
}

static void a_crash_loop_is_spaced_out_and_a_healthy_run_resets_it(void **state)
{
    (void)state;
    master_slot_t s = running(100, 0, 0);
    int64_t now = 500; /* died young */
    int64_t expected[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_int_equal(master_slot_exited(&s, false, false, now), MASTER_EXIT_CRASHED);
        assert_int_equal(s.pid, 0);
        assert_int_equal(s.crash_streak, (int)i + 1);
        assert_int_equal(s.restarts, (int)i + 1);
        assert_int_equal(s.restart_at_ms, now + expected[i]);
        assert_false(master_slot_due(&s, s.restart_at_ms - 1));
        assert_true(master_slot_due(&s, s.restart_at_ms));
        s.pid = 101;
        s.started_ms = s.restart_at_ms;
        now = s.started_ms + 200;
    }
    /* A child that ran longer than MASTER_HEALTHY_LIFETIME_MS restarts at once. */
    now = s.started_ms + MASTER_HEALTHY_LIFETIME_MS;
    assert_int_equal(master_slot_exited(&s, false, false, now), MASTER_EXIT_CRASHED);
    assert_int_equal(s.crash_streak, 0);
    assert_int_equal(s.restart_at_ms, now);
    assert_true(master_slot_due(&s, now));
}

static void a_fatal_exit_is_never_refilled(void **state)
{
    (void)state;
    master_slot_t s = running(100, 0, 0);
    assert_int_equal(master_slot_exited(&s, false, true, 50), MASTER_EXIT_FATAL);
    assert_true(s.fatal);
    assert_int_equal(s.restarts, 0);
    assert_false(master_slot_due(&s, INT64_MAX));
}

static void a_drain_refills_nothing(void **state)
{
    (void)state;
    master_slot_t s = running(100, 0, 0);
    s.exiting = true;
    assert_int_equal(master_slot_exited(&s, true, false, 50), MASTER_EXIT_DRAINED);
    assert_int_equal(s.pid, 0);
    assert_int_equal(s.restarts, 0);
    assert_false(s.exiting);
    /* Draining wins over a fatal code: nothing is decided about the slot. */
    s = running(100, 0, 0);
    assert_int_equal(master_slot_exited(&s, true, true, 50), MASTER_EXIT_DRAINED);
    assert_false(s.fatal);
}

static void a_rolled_child_is_replaced_at_once_without_counting_a_crash(void **state)
{
    (void)state;
    master_slot_t s = running(100, 0, 0);
    s.exiting = true;
    s.crash_streak = 3;
    assert_int_equal(master_slot_exited(&s, false, false, 70), MASTER_EXIT_ROLLED);
    assert_int_equal(s.restart_at_ms, 70);
    assert_int_equal(s.restarts, 0);
    assert_int_equal(s.crash_streak, 3);
    assert_false(s.exiting);
    assert_true(master_slot_due(&s, 70));
}

static void a_rolling_restart_replaces_one_child_at_a_time(void **state)
{
    (void)state;
    master_slot_t slots[3] = {running(1, 0, 1), running(2, 0, 0), running(3, 0, 0)};
    assert_int_equal(master_slot_to_roll(slots, 3, 1), 1);
    slots[1].exiting = true;
    assert_int_equal(master_slot_to_roll(slots, 3, 1), -1); /* one is on its way out */
    assert_int_equal(master_slot_exited(&slots[1], false, false, 10), MASTER_EXIT_ROLLED);
    slots[1] = running(4, 10, 1);
    assert_int_equal(master_slot_to_roll(slots, 3, 1), 2);
    slots[2] = running(5, 20, 1);
    assert_int_equal(master_slot_to_roll(slots, 3, 1), -1); /* all on the new configuration */
    /* An empty slot is refilled, not rolled. */
    slots[0].pid = 0;
    slots[0].generation = 0;
    assert_int_equal(master_slot_to_roll(slots, 3, 1), -1);
}

static void the_master_gives_up_only_when_every_slot_is_fatal(void **state)
{
    (void)state;
    master_slot_t slots[2] = {running(1, 0, 0), running(2, 0, 0)};
    assert_false(master_slots_all_fatal(slots, 2));
    master_slot_exited(&slots[0], false, true, 5);
    assert_false(master_slots_all_fatal(slots, 2));
    master_slot_exited(&slots[1], false, true, 6);
    assert_true(master_slots_all_fatal(slots, 2));
}

UNIT_TEST_MAIN(cmocka_unit_test(restart_delays_double_up_to_the_cap),
               cmocka_unit_test(a_crash_loop_is_spaced_out_and_a_healthy_run_resets_it),
               cmocka_unit_test(a_fatal_exit_is_never_refilled),
               cmocka_unit_test(a_drain_refills_nothing),
               cmocka_unit_test(a_rolled_child_is_replaced_at_once_without_counting_a_crash),
               cmocka_unit_test(a_rolling_restart_replaces_one_child_at_a_time),
               cmocka_unit_test(the_master_gives_up_only_when_every_slot_is_fatal))
