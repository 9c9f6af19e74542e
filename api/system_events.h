/*
 * Publication of WaveCom's own notification.* events (wc_store_system_events.h,
 * docs/ARCHITECTURE.md §14), run by the scheduler: each event stored in
 * `system_events` is published like POST /api/events under its own id, then
 * deleted. One published but not yet deleted when the process died is
 * published again as the same event, which answers "already published".
 */
#ifndef API_SYSTEM_EVENTS_H
#define API_SYSTEM_EVENTS_H

#include <stddef.h>

#include "api.h"

/* Publishes up to `max` stored system events; returns how many. */
size_t api_system_events_publish(api_context_t *ctx, size_t max);

#endif
