/*
 * WaveCom's own events about a tenant's notifications (docs/ARCHITECTURE.md
 * §14): `notification.sent`, `notification.failed` and
 * `notification.cancelled`, for the tenants that subscribe an endpoint to
 * them. Whoever records the change (a worker's outcome, the API's or
 * wavecomctl's cancel) stores the event in `system_events` before the change
 * is acknowledged; the API's scheduler publishes each like POST /api/events
 * (fan-out, signing, retries) under its own id, then deletes it, so a
 * publisher that dies between the two publishes it again as the same event.
 */
#ifndef WC_STORE_SYSTEM_EVENTS_H
#define WC_STORE_SYSTEM_EVENTS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_store.h"

#define WC_COLL_SYSTEM_EVENTS "system_events"
/* How long a tenant's subscriptions are remembered: a new endpoint gets the
 * events of changes recorded this long after its creation. */
#define WC_SYSTEM_EVENT_CACHE_MS 5000

/* The event of notification `doc` reaching `status` (SENT, FAILED or
 * CANCELLED) at `at_ms`, with `error` for a failure and `provider` for a
 * sending (each may be NULL): {_id "<tenant>:<event id>", tenantId, eventId,
 * type, payload, createdAt}. NULL for a notification that is itself an event's
 * delivery (no events about events), or when out of memory. */
bson_t *wc_system_event_for_notification(const bson_t *doc, const char *status, int64_t at_ms,
                                         const char *error, const char *provider);

/* Whether tenant `tenant_id` has an enabled endpoint whose patterns cover
 * event type `type` (cached WC_SYSTEM_EVENT_CACHE_MS per tenant). False, with
 * ERROR in *status, when the endpoints could not be read. */
bool wc_store_system_event_wanted(wc_store_t *store, const char *tenant_id, const char *type,
                                  wc_store_status_t *status);

/* Stores those of events[0..n) whose tenant wants them; one already stored
 * (the same _id) is not an error. */
wc_store_status_t wc_store_system_events_add(wc_store_t *store, const bson_t *const *events,
                                             size_t n);

/* The event of notification `doc` reaching `status` now, stored if its
 * tenant wants it: what a cancel (the API's, wavecomctl's) calls once the
 * change is made. Logs what it could not store. */
void wc_store_system_event_note(wc_store_t *store, const bson_t *doc, const char *status);

/* Up to `max` stored events, oldest first; free with wc_store_docs_free. */
wc_store_status_t wc_store_system_events_take(wc_store_t *store, size_t max, bson_t ***docs,
                                              size_t *n);

/* Deletes the stored event `id` once it is published. */
wc_store_status_t wc_store_system_event_done(wc_store_t *store, const char *id);

#endif
