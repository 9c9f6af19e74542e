#include "unit_test.h"
#include <string.h>

#include "host_report.h"

static const wc_breaker_policy_t policy = {.threshold = 2, .open_ms = 1000};

static const wc_host_breaker_t *find(const wc_host_breaker_t *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) == 0) {
            return &list[i];
        }
    }
    return NULL;
}

static void closed_breakers_are_the_six_providers_only(void **state)
{
    (void)state;
    worker_breakers_t *b = worker_breakers_map();
    assert_non_null(b);
    wc_host_breaker_t out[HOST_REPORT_MAX_BREAKERS];
    size_t n = host_report_snapshot(b, 1700000000000LL, 5000, out);
    assert_int_equal(n, 6);
    const char *names[] = {"smtp", "smtp2", "twilio", "vonage", "fcm", "apns"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(out[i].name, names[i]);
        assert_string_equal(out[i].state, "closed");
        assert_int_equal(out[i].since_ms, -1);
    }
    worker_breakers_unmap(b);
}

static void open_and_half_open_breakers_carry_their_wall_clock_start(void **state)
{
    (void)state;
    worker_breakers_t *b = worker_breakers_map();
    assert_non_null(b);
    /* Twilio opens at monotonic 4000 ms; webhook slot 7 opens at 2000 ms and
     * goes half-open when a call comes after its open period, at 3500 ms. */
    wc_breaker_t *twilio = &b->slots[PROVIDER_TWILIO];
    wc_breaker_record(twilio, &policy, false, 3900);
    wc_breaker_record(twilio, &policy, false, 4000);
    wc_breaker_t *hook = &b->slots[BREAKER_WEBHOOK_FIRST + 7];
    wc_breaker_record(hook, &policy, false, 2000);
    wc_breaker_record(hook, &policy, false, 2000);
    assert_true(wc_breaker_allow(hook, &policy, 3500));

    const int64_t wall = 1700000000000LL;
    wc_host_breaker_t out[HOST_REPORT_MAX_BREAKERS];
    size_t n = host_report_snapshot(b, wall, 5000, out);
    assert_int_equal(n, 7);
    const wc_host_breaker_t *t = find(out, n, "twilio");
    assert_non_null(t);
    assert_string_equal(t->state, "open");
    assert_int_equal(t->since_ms, wall - 1000);
    const wc_host_breaker_t *w = find(out, n, "webhook:7");
    assert_non_null(w);
    assert_string_equal(w->state, "half-open");
    assert_int_equal(w->since_ms, wall - 1500);
    assert_string_equal(find(out, n, "smtp")->state, "closed");
    worker_breakers_unmap(b);
}

UNIT_TEST_MAIN(cmocka_unit_test(closed_breakers_are_the_six_providers_only),
               cmocka_unit_test(open_and_half_open_breakers_carry_their_wall_clock_start))
