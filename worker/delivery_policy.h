/*
 * The outcome policy of one delivery attempt, as pure functions: how a
 * provider's answer is classified, and what the worker does with a classified
 * answer given the notification's attempts and limits (docs/ARCHITECTURE.md
 * §4 and §6). No I/O, no clock, no random source of its own: delivery.c
 * carries the decision out, and tests/unit/test_delivery_policy.c checks it
 * for every answer class.
 */
#ifndef WORKER_DELIVERY_POLICY_H
#define WORKER_DELIVERY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "providers/provider.h"

/* An SMTP reply code: 2xx delivered, 5xx permanent, anything else (4xx, a
 * reply that never came) may pass later. */
delivery_outcome_t delivery_policy_classify_smtp(int code);

/* An HTTP answer: 2xx delivered; 408, 429, 5xx and a transport error
 * (`transport_failed`: no status at all, e.g. a timeout) transient; any other
 * status permanent. */
delivery_outcome_t delivery_policy_classify_http(long status, bool transport_failed);

/* Which permanent answers put the recipient on the tenant's suppression list
 * (docs/ARCHITECTURE.md §16), WC_SUPPRESS_NONE for every other answer:
 * - SMTP: a 5xx whose enhanced status (RFC 3463) is 5.1.x, a bad mailbox or
 *   domain: hard_bounce. `text` is the reply's text after the code.
 * - Twilio: error 21610 (the number replied STOP): unsubscribed; 21211 (not
 *   a valid phone number): invalid_number.
 * - FCM: error code UNREGISTERED; APNs: 410 with reason Unregistered (the
 *   app was removed from the device): invalid_number, the device token being
 *   a push message's address. */
wc_suppress_reason_t delivery_policy_suppression_smtp(int code, const char *text);
wc_suppress_reason_t delivery_policy_suppression_twilio(int code);
wc_suppress_reason_t delivery_policy_suppression_fcm(const char *error_code);
wc_suppress_reason_t delivery_policy_suppression_apns(long status, const char *reason);

typedef enum {
    DELIVERY_SEND_RECORD,    /* delivered: record SENT */
    DELIVERY_RETRY,          /* publish to a retry tier, record RETRYING */
    DELIVERY_EXHAUSTED,      /* transient, but no retry left: dead-letter, record FAILED */
    DELIVERY_PERMANENT_FAIL, /* will never succeed: dead-letter, record FAILED */
} delivery_action_t;

typedef struct {
    delivery_action_t action;
    /* With DELIVERY_RETRY: the retry tier (an index into wc_retry_tiers) and
     * the retry count the republished message carries. */
    size_t tier;
    int retry_count;
} delivery_decision_t;

/* What to do with `result` for a notification that has been retried
 * `retry_count` times out of `max_retries`. A destination the SSRF guard
 * refused fails for good, whatever the outcome says: the same address would
 * be refused on every attempt, and retrying a refused internal target only
 * probes it again. A refusal by our own breaker
 * (`not_attempted`) is retried without spending an attempt, whatever the
 * count, from the shortest tier: the provider was never asked, and a long
 * outage must not exhaust every notification's retries while nothing was
 * tried. Otherwise the tier is the backoff's for
 * this retry (`random_unit` in [0, 1) draws its jitter), raised to the first
 * tier at least as long as the provider's Retry-After. */
delivery_decision_t delivery_policy_decide(const delivery_result_t *result, int retry_count,
                                           int max_retries, double random_unit);

#endif
