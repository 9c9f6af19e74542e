/* The outcome policy of worker/delivery_policy.c for every class of provider
 * answer: classified as the providers classify it, then decided. */
#include "unit_test.h"
#include <string.h>

#include "delivery_policy.h"
#include "wc_topology.h"

#define MAX_RETRIES 3

static delivery_result_t answer(delivery_outcome_t outcome)
{
    delivery_result_t r;
    memset(&r, 0, sizeof(r));
    r.outcome = outcome;
    return r;
}

static delivery_decision_t decide_smtp(int code, int retry_count)
{
    delivery_result_t r = answer(delivery_policy_classify_smtp(code));
    return delivery_policy_decide(&r, retry_count, MAX_RETRIES, 0.5);
}

static delivery_decision_t decide_http(long status, bool transport_failed, int retry_count)
{
    delivery_result_t r = answer(delivery_policy_classify_http(status, transport_failed));
    return delivery_policy_decide(&r, retry_count, MAX_RETRIES, 0.5);
}

static void smtp_2xx_is_sent(void **state)
{
    (void)state;
    const int codes[] = {200, 250, 251, 299};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_int_equal(delivery_policy_classify_smtp(codes[i]), DELIVERY_OK);
        assert_int_equal(decide_smtp(codes[i], 0).action, DELIVERY_SEND_RECORD);
        assert_int_equal(decide_smtp(codes[i], MAX_RETRIES).action, DELIVERY_SEND_RECORD);
    }
}

static void smtp_4xx_and_no_reply_are_retried(void **state)
{
    (void)state;
    const int codes[] = {421, 450, 451, 452, 0, 354};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_int_equal(delivery_policy_classify_smtp(codes[i]), DELIVERY_TRANSIENT);
        delivery_decision_t d = decide_smtp(codes[i], 0);
        assert_int_equal(d.action, DELIVERY_RETRY);
        assert_int_equal(d.retry_count, 1);
        assert_int_equal(d.tier, 0); /* the first retry always takes the shortest tier */
    }
}

static void smtp_5xx_fails_for_good_at_once(void **state)
{
    (void)state;
    const int codes[] = {500, 550, 553, 554, 599};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_int_equal(delivery_policy_classify_smtp(codes[i]), DELIVERY_PERMANENT);
        assert_int_equal(decide_smtp(codes[i], 0).action, DELIVERY_PERMANENT_FAIL);
    }
}

static void http_2xx_is_sent(void **state)
{
    (void)state;
    const long statuses[] = {200, 201, 202, 204};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        assert_int_equal(decide_http(statuses[i], false, 0).action, DELIVERY_SEND_RECORD);
    }
}

static void http_4xx_fails_for_good_except_408_and_429(void **state)
{
    (void)state;
    const long statuses[] = {400, 401, 403, 404, 410, 413, 422};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        assert_int_equal(delivery_policy_classify_http(statuses[i], false), DELIVERY_PERMANENT);
        assert_int_equal(decide_http(statuses[i], false, 0).action, DELIVERY_PERMANENT_FAIL);
    }
    assert_int_equal(decide_http(408, false, 0).action, DELIVERY_RETRY);
    assert_int_equal(decide_http(429, false, 0).action, DELIVERY_RETRY);
}

static void http_429_waits_at_least_its_retry_after(void **state)
{
    (void)state;
    delivery_result_t r = answer(delivery_policy_classify_http(429, false));
    r.retry_after_ms = 20000;
    delivery_decision_t d = delivery_policy_decide(&r, 0, MAX_RETRIES, 0.0);
    assert_int_equal(d.action, DELIVERY_RETRY);
    assert_true(wc_retry_tiers[d.tier].seconds * 1000L >= r.retry_after_ms);
    assert_true(d.tier == 0 || wc_retry_tiers[d.tier - 1].seconds * 1000L < r.retry_after_ms);
    /* Longer than the longest tier: the longest. */
    r.retry_after_ms = 3600 * 1000L;
    d = delivery_policy_decide(&r, 0, MAX_RETRIES, 0.0);
    assert_int_equal(d.tier, wc_retry_tier_count - 1);
}

static void http_5xx_and_transport_failures_are_retried(void **state)
{
    (void)state;
    const long statuses[] = {500, 502, 503, 504, 599};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        assert_int_equal(delivery_policy_classify_http(statuses[i], false), DELIVERY_TRANSIENT);
        assert_int_equal(decide_http(statuses[i], false, 1).action, DELIVERY_RETRY);
    }
    /* A timeout or refused connection: no status at all. */
    assert_int_equal(delivery_policy_classify_http(0, true), DELIVERY_TRANSIENT);
    delivery_decision_t d = decide_http(0, true, 2);
    assert_int_equal(d.action, DELIVERY_RETRY);
    assert_int_equal(d.retry_count, 3);
}

static void an_open_breaker_spends_no_attempt(void **state)
{
    (void)state;
    delivery_result_t r = answer(DELIVERY_TRANSIENT);
    r.not_attempted = true;
    for (int count = 0; count <= MAX_RETRIES + 1; count++) {
        delivery_decision_t d = delivery_policy_decide(&r, count, MAX_RETRIES, 0.99);
        assert_int_equal(d.action, DELIVERY_RETRY);
        assert_int_equal(d.retry_count, count);
        assert_int_equal(d.tier, 0);
    }
    /* Its half-open probe is due later than the shortest tier. */
    r.retry_after_ms = 30000;
    delivery_decision_t d = delivery_policy_decide(&r, 0, MAX_RETRIES, 0.0);
    assert_true(wc_retry_tiers[d.tier].seconds * 1000L >= r.retry_after_ms);
}

/* A webhook target the SSRF guard refused fails for good on the first
 * attempt, whether the refusal came before the request (permanent) or from
 * the socket check (a transport error, transient on its own). */
static void a_refused_destination_is_never_retried(void **state)
{
    (void)state;
    const delivery_outcome_t outcomes[] = {DELIVERY_PERMANENT, DELIVERY_TRANSIENT};
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
        delivery_result_t r = answer(outcomes[i]);
        r.destination_refused = true;
        for (int count = 0; count <= MAX_RETRIES; count++) {
            delivery_decision_t d = delivery_policy_decide(&r, count, MAX_RETRIES, 0.5);
            assert_int_equal(d.action, DELIVERY_PERMANENT_FAIL);
        }
    }
}

static void the_last_retry_is_taken_and_then_none(void **state)
{
    (void)state;
    delivery_result_t r = answer(DELIVERY_TRANSIENT);
    delivery_decision_t d = delivery_policy_decide(&r, MAX_RETRIES - 1, MAX_RETRIES, 0.5);
    assert_int_equal(d.action, DELIVERY_RETRY);
    assert_int_equal(d.retry_count, MAX_RETRIES);
    assert_int_equal(delivery_policy_decide(&r, MAX_RETRIES, MAX_RETRIES, 0.5).action,
                     DELIVERY_EXHAUSTED);
    assert_int_equal(delivery_policy_decide(&r, MAX_RETRIES + 2, MAX_RETRIES, 0.5).action,
                     DELIVERY_EXHAUSTED);
    /* maxRetries 0: the first transient failure is final. */
    assert_int_equal(delivery_policy_decide(&r, 0, 0, 0.5).action, DELIVERY_EXHAUSTED);
    /* A permanent answer stays permanent whatever the count. */
    r.outcome = DELIVERY_PERMANENT;
    assert_int_equal(delivery_policy_decide(&r, MAX_RETRIES, MAX_RETRIES, 0.5).action,
                     DELIVERY_PERMANENT_FAIL);
}

static void later_retries_draw_later_tiers(void **state)
{
    (void)state;
    delivery_result_t r = answer(DELIVERY_TRANSIENT);
    /* The third retry with the jitter at its top waits the longest tier. */
    delivery_decision_t d = delivery_policy_decide(&r, 2, MAX_RETRIES, 0.999);
    assert_int_equal(d.tier, wc_retry_tier_count - 1);
    assert_int_equal(d.retry_count, 3);
}

/* Which permanent answers list the recipient, and which do not. */
static void permanent_answers_that_list_the_recipient(void **state)
{
    (void)state;
    assert_int_equal(delivery_policy_suppression_smtp(550, "5.1.1 no such user"),
                     WC_SUPPRESS_HARD_BOUNCE);
    assert_int_equal(delivery_policy_suppression_smtp(550, " 5.1.10 null MX"),
                     WC_SUPPRESS_HARD_BOUNCE);
    assert_int_equal(delivery_policy_suppression_smtp(553, "5.1.3 bad address syntax"),
                     WC_SUPPRESS_HARD_BOUNCE);
    /* Policy or content refusals say nothing about the mailbox. */
    assert_int_equal(delivery_policy_suppression_smtp(550, "5.7.1 rejected as spam"),
                     WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_smtp(552, "5.2.2 mailbox full"), WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_smtp(550, "no enhanced code"), WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_smtp(450, "4.1.1 try later"), WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_smtp(550, NULL), WC_SUPPRESS_NONE);

    assert_int_equal(delivery_policy_suppression_twilio(21610), WC_SUPPRESS_UNSUBSCRIBED);
    assert_int_equal(delivery_policy_suppression_twilio(21211), WC_SUPPRESS_INVALID_NUMBER);
    assert_int_equal(delivery_policy_suppression_twilio(21602), WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_twilio(20503), WC_SUPPRESS_NONE);

    assert_int_equal(delivery_policy_suppression_fcm("UNREGISTERED"), WC_SUPPRESS_INVALID_NUMBER);
    assert_int_equal(delivery_policy_suppression_fcm("INVALID_ARGUMENT"), WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_fcm(NULL), WC_SUPPRESS_NONE);

    assert_int_equal(delivery_policy_suppression_apns(410, "Unregistered"),
                     WC_SUPPRESS_INVALID_NUMBER);
    assert_int_equal(delivery_policy_suppression_apns(400, "BadDeviceToken"), WC_SUPPRESS_NONE);
    assert_int_equal(delivery_policy_suppression_apns(410, "ExpiredToken"), WC_SUPPRESS_NONE);
}

UNIT_TEST_MAIN(cmocka_unit_test(permanent_answers_that_list_the_recipient),
               cmocka_unit_test(smtp_2xx_is_sent),
               cmocka_unit_test(smtp_4xx_and_no_reply_are_retried),
               cmocka_unit_test(smtp_5xx_fails_for_good_at_once),
               cmocka_unit_test(http_2xx_is_sent),
               cmocka_unit_test(http_4xx_fails_for_good_except_408_and_429),
               cmocka_unit_test(http_429_waits_at_least_its_retry_after),
               cmocka_unit_test(http_5xx_and_transport_failures_are_retried),
               cmocka_unit_test(an_open_breaker_spends_no_attempt),
               cmocka_unit_test(a_refused_destination_is_never_retried),
               cmocka_unit_test(the_last_retry_is_taken_and_then_none),
               cmocka_unit_test(later_retries_draw_later_tiers))
