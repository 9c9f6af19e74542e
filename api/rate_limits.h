/*
 * Rate limits and quotas of the intake, per API instance:
 *
 *   - token buckets of requests/s and notifications/s per tenant and per API
 *     key (burst: one second's worth), answered with 429, Retry-After and
 *     RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset;
 *   - a global ceiling of notifications/s that sheds non-CRITICAL work with
 *     503 + Retry-After while CRITICAL notifications are still taken;
 *   - a quota of each tenant's notifications in flight (not yet SENT,
 *     FAILED or CANCELLED), so one tenant's flood cannot fill the queues
 *     ahead of another tenant's CRITICAL work.
 *
 * Limits come from the tenant's own `limits` (wavecomctl tenant limits) or
 * the WAVECOM_RATE_* / WAVECOM_TENANT_MAX_IN_FLIGHT defaults. Buckets live
 * in a bounded table: a bucket pushed out by many others starts full again.
 * Thread-safe.
 */
#ifndef API_RATE_LIMITS_H
#define API_RATE_LIMITS_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"

typedef struct api_limits api_limits_t;

/* Returns NULL when memory runs out. */
api_limits_t *api_limits_new(const wc_config_t *cfg, wc_store_t *store);
void api_limits_free(api_limits_t *limits);

/* Counts one request of `p`. False with the 429 in *res when over a limit.
 * A NULL `limits` admits everything. */
bool api_limits_take_request(api_limits_t *limits, const wc_principal_t *p, api_response_t *res);

/* Admits `total` new notifications of `p`, `critical` of them CRITICAL.
 * False with the 429 (tenant or key over its rate or in-flight quota) or
 * 503 (global ceiling, for non-CRITICAL work) in *res. When the ceiling has
 * no room for the non-CRITICAL ones but `critical` > 0 and `critical_only` is
 * not NULL, admits the CRITICAL ones alone and sets *critical_only: the
 * caller refuses the others one by one (a batch), so that CRITICAL work is
 * never shed with them. */
bool api_limits_take_notifications(api_limits_t *limits, const wc_principal_t *p, size_t total,
                                   size_t critical, bool *critical_only, api_response_t *res);

#endif
