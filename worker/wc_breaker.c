#include "wc_breaker.h"

bool wc_breaker_allow(wc_breaker_t *b, const wc_breaker_policy_t *p, int64_t now_ms)
{
    int state = atomic_load(&b->state);
    if (state == WC_BREAKER_CLOSED) {
        return true;
    }
    if (state == WC_BREAKER_OPEN) {
        if (now_ms - atomic_load(&b->opened_at_ms) < p->open_ms) {
            atomic_fetch_add(&b->rejected, 1);
            return false;
        }
        /* Time is up: one caller moves it to half-open; everyone then races
         * for the single probe below. opened_at now marks the half-open start. */
        int expected = WC_BREAKER_OPEN;
        if (atomic_compare_exchange_strong(&b->state, &expected, WC_BREAKER_HALF_OPEN)) {
            atomic_store(&b->opened_at_ms, now_ms);
        }
    } else if (now_ms - atomic_load(&b->opened_at_ms) >= p->open_ms) {
        /* Half-open for a whole open period: the probe's caller died without
         * recording it. Free the probe so the breaker cannot stay stuck. */
        atomic_store(&b->opened_at_ms, now_ms);
        atomic_store(&b->probe_in_flight, 0);
    }
    int free_slot = 0;
    if (atomic_load(&b->state) == WC_BREAKER_HALF_OPEN &&
        atomic_compare_exchange_strong(&b->probe_in_flight, &free_slot, 1)) {
        return true;
    }
    atomic_fetch_add(&b->rejected, 1);
    return false;
}

static void open_breaker(wc_breaker_t *b, int64_t now_ms)
{
    atomic_store(&b->opened_at_ms, now_ms);
    atomic_store(&b->state, WC_BREAKER_OPEN);
    atomic_store(&b->probe_in_flight, 0);
    atomic_fetch_add(&b->times_opened, 1);
}

void wc_breaker_record(wc_breaker_t *b, const wc_breaker_policy_t *p, bool success, int64_t now_ms)
{
    int state = atomic_load(&b->state);
    if (success) {
        atomic_store(&b->consecutive_failures, 0);
        if (state != WC_BREAKER_CLOSED) {
            atomic_store(&b->state, WC_BREAKER_CLOSED);
            atomic_store(&b->probe_in_flight, 0);
        }
        return;
    }
    int failures = atomic_fetch_add(&b->consecutive_failures, 1) + 1;
    if (state == WC_BREAKER_HALF_OPEN) {
        open_breaker(b, now_ms);
    } else if (state == WC_BREAKER_CLOSED && failures >= p->threshold) {
        int expected = WC_BREAKER_CLOSED;
        if (atomic_compare_exchange_strong(&b->state, &expected, WC_BREAKER_OPEN)) {
            atomic_store(&b->opened_at_ms, now_ms);
            atomic_fetch_add(&b->times_opened, 1);
        }
    }
}

int64_t wc_breaker_retry_after_ms(const wc_breaker_t *b, const wc_breaker_policy_t *p,
                                  int64_t now_ms)
{
    if (atomic_load(&b->state) != WC_BREAKER_OPEN) {
        return 0;
    }
    int64_t left = p->open_ms - (now_ms - atomic_load(&b->opened_at_ms));
    return left > 0 ? left : 0;
}

wc_breaker_state_t wc_breaker_state(const wc_breaker_t *b)
{
    return (wc_breaker_state_t)atomic_load(&b->state);
}

const char *wc_breaker_state_name(wc_breaker_state_t state)
{
    switch (state) {
    case WC_BREAKER_CLOSED:
        return "closed";
    case WC_BREAKER_OPEN:
        return "open";
    case WC_BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "unknown";
}
