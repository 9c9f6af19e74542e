/*
 * Circuit breakers: closed → open after `threshold` consecutive transient
 * failures → half-open after `open_ms`, when one probe goes through; the
 * probe's success closes the breaker, its failure opens it again.
 *
 * A breaker is a small struct of atomics so that it can live in memory shared
 * by every worker child of a host (the master maps it before forking): all
 * children see one provider's health, and a restarted child keeps it.
 */
#ifndef WC_BREAKER_H
#define WC_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    WC_BREAKER_CLOSED = 0,
    WC_BREAKER_OPEN = 1,
    WC_BREAKER_HALF_OPEN = 2,
} wc_breaker_state_t;

typedef struct {
    _Atomic int state;
    _Atomic int consecutive_failures;
    _Atomic int64_t opened_at_ms;
    _Atomic int probe_in_flight;
    _Atomic uint64_t times_opened;
    _Atomic uint64_t rejected;
} wc_breaker_t;

typedef struct {
    int threshold;
    int64_t open_ms;
} wc_breaker_policy_t;

/* Whether a call may go to the provider now. In half-open, only the caller
 * that takes the single probe gets true. Counts refusals. */
bool wc_breaker_allow(wc_breaker_t *b, const wc_breaker_policy_t *p, int64_t now_ms);

/* Records the outcome of a call that was allowed. Only transient failures
 * count: a permanent refusal (an invalid recipient) says nothing about the
 * provider's health. */
void wc_breaker_record(wc_breaker_t *b, const wc_breaker_policy_t *p, bool success, int64_t now_ms);

/* Milliseconds until an open breaker lets a probe through; 0 otherwise. */
int64_t wc_breaker_retry_after_ms(const wc_breaker_t *b, const wc_breaker_policy_t *p,
                                  int64_t now_ms);

wc_breaker_state_t wc_breaker_state(const wc_breaker_t *b);
const char *wc_breaker_state_name(wc_breaker_state_t state);

#endif
