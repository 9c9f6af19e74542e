/*
 * Automatic disabling of event endpoints (docs/ARCHITECTURE.md §14): an
 * endpoint that has failed every delivery attempt for
 * WAVECOM_ENDPOINT_DISABLE_AFTER_SECONDS is disabled, with an audit entry and
 * an `endpoint.disabled` event published for its tenant, which the tenant's
 * other endpoints may subscribe to. Run by the scheduler.
 */
#ifndef API_ENDPOINT_DISABLE_H
#define API_ENDPOINT_DISABLE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* Disables the endpoints failing since before now minus the period; returns
 * how many it disabled. */
size_t api_endpoints_disable_failing(api_context_t *ctx, int64_t now_ms);

#endif
