#include "delivery_policy.h"

#include <string.h>

#include "wc_backoff.h"
#include "wc_topology.h"

delivery_outcome_t delivery_policy_classify_smtp(int code)
{
    if (code >= 200 && code < 300) {
        return DELIVERY_OK;
    }
    return code >= 500 && code < 600 ? DELIVERY_PERMANENT : DELIVERY_TRANSIENT;
}

delivery_outcome_t delivery_policy_classify_http(long status, bool transport_failed)
{
    if (transport_failed) {
        return DELIVERY_TRANSIENT;
    }
    if (status >= 200 && status < 300) {
        return DELIVERY_OK;
    }
    if (status == 408 || status == 429 || status >= 500) {
        return DELIVERY_TRANSIENT;
    }
    return DELIVERY_PERMANENT;
}

/* The first retry tier from `from` at least `min_ms` long, or the longest. */
static size_t tier_at_least(size_t from, long min_ms)
{
    for (size_t i = from; i < wc_retry_tier_count; i++) {
        if (wc_retry_tiers[i].seconds * 1000L >= min_ms) {
            return i;
        }
    }
    return wc_retry_tier_count - 1;
}

delivery_decision_t delivery_policy_decide(const delivery_result_t *result, int retry_count,
                                           int max_retries, double random_unit)
{
    delivery_decision_t d = {.action = DELIVERY_SEND_RECORD, .tier = 0, .retry_count = retry_count};
    if (result->destination_refused) {
        d.action = DELIVERY_PERMANENT_FAIL;
        return d;
    }
    switch (result->outcome) {
    case DELIVERY_OK:
        return d;
    case DELIVERY_PERMANENT:
        d.action = DELIVERY_PERMANENT_FAIL;
        return d;
    case DELIVERY_TRANSIENT:
        break;
    }
    if (result->not_attempted) {
        d.action = DELIVERY_RETRY;
        d.tier = tier_at_least(0, result->retry_after_ms);
        return d;
    }
    if (retry_count >= max_retries) {
        d.action = DELIVERY_EXHAUSTED;
        return d;
    }
    d.action = DELIVERY_RETRY;
    d.tier = tier_at_least(wc_backoff_tier(retry_count, random_unit), result->retry_after_ms);
    d.retry_count = retry_count + 1;
    return d;
}

wc_suppress_reason_t delivery_policy_suppression_smtp(int code, const char *text)
{
    if (code / 100 != 5 || text == NULL) {
        return WC_SUPPRESS_NONE;
    }
    text += strspn(text, " -");
    return strncmp(text, "5.1.", 4) == 0 ? WC_SUPPRESS_HARD_BOUNCE : WC_SUPPRESS_NONE;
}

wc_suppress_reason_t delivery_policy_suppression_twilio(int code)
{
    switch (code) {
    case 21610:
        return WC_SUPPRESS_UNSUBSCRIBED;
    case 21211:
        return WC_SUPPRESS_INVALID_NUMBER;
    default:
        return WC_SUPPRESS_NONE;
    }
}

wc_suppress_reason_t delivery_policy_suppression_fcm(const char *error_code)
{
    return error_code != NULL && strcmp(error_code, "UNREGISTERED") == 0
               ? WC_SUPPRESS_INVALID_NUMBER
               : WC_SUPPRESS_NONE;
}

wc_suppress_reason_t delivery_policy_suppression_apns(long status, const char *reason)
{
    return status == 410 && reason != NULL && strcmp(reason, "Unregistered") == 0
               ? WC_SUPPRESS_INVALID_NUMBER
               : WC_SUPPRESS_NONE;
}
