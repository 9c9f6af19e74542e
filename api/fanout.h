/*
 * The fan-out of an event into one WEBHOOK delivery per matching endpoint
 * (docs/ARCHITECTURE.md §14).
 *
 * An event is stored with the list of endpoints it matched and the mark
 * `fanout: "pending"`. Each delivery is a notification whose _id is derived
 * from the event and the endpoint, committed through the group commit
 * (intake.h: outbox, insert, publish); a second insert of the same delivery
 * is a duplicate key and changes nothing. Once every delivery is stored the
 * mark is cleared. A process that dies half-way leaves the mark, and the
 * sweeper runs the same fan-out again for an event whose mark is older than
 * WAVECOM_PENDING_REPUBLISH_SECONDS: nothing is lost, nothing doubled.
 */
#ifndef API_FANOUT_H
#define API_FANOUT_H

#include <bson/bson.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"

/* What publishing an event came to. */
typedef struct {
    unsigned code;      /* 201, 200 (the same event again), 409, 503 */
    json_object *event; /* for 200/201: the event as the API shows it (new reference) */
    const char *message;
} api_event_result_t;

/* Stores event `event` ({"type", "payload"}, checked) of `tenant_id` under
 * `event_id` (NULL: a new "evt_<ObjectId>") and fans it out: what POST
 * /api/events does after its checks, and how WaveCom publishes its own
 * system events (endpoint.disabled). Defined in handler_events.c. */
api_event_result_t api_event_publish(api_context_t *ctx, const char *tenant_id,
                                     json_object *event, const char *event_id);

/* The event envelope deliveries are made from: {"id", "type", "timestamp",
 * "data"}. Borrowed values are copied. Returns a new reference. */
json_object *api_event_envelope(const char *event_id, const char *type, int64_t created_ms,
                                json_object *payload);

/* Whether endpoint `endpoint` (its stored document) receives an event of
 * `type` with `payload`: enabled, a pattern of eventTypes covers the type,
 * and its filter, if any, passes. */
bool api_endpoint_receives(const bson_t *endpoint, const char *type, json_object *payload);

/* The _id of the delivery of event `event_key` ("<tenant>:<eventId>") to
 * endpoint `endpoint_id`: the first 12 bytes of SHA-256("<event key>|<endpoint
 * id>"), so that every run of one fan-out, and every reader, names it alike. */
void api_fanout_delivery_id(const char *event_key, const char *endpoint_id, bson_oid_t *out);

/* Stores the deliveries of the stored event `event` not stored yet, waiting
 * for the group commit, and clears its mark when all are. Returns true when
 * the fan-out is complete; false leaves the mark for the sweeper. Blocks
 * the calling thread (an HTTP or the scheduler thread). *deliveries counts
 * the deliveries the event has (stored now or before). */
bool api_fanout_run(api_context_t *ctx, const bson_t *event, size_t *deliveries);

/* Stores and queues a new delivery of the stored event `event` to endpoint
 * `endpoint` (its document; `endpoint_id` its id), made as the fan-out makes
 * one now, with an _id of its own derived from `resend_key` (one per resend
 * request), into `id_hex`. Blocks like api_fanout_run. False when it could
 * not be stored. */
bool api_fanout_resend(api_context_t *ctx, const bson_t *event, const bson_t *endpoint,
                       const char *endpoint_id, const char *resend_key, char id_hex[25]);

/* The sweeper's part: runs the fan-out again for events whose mark
 * outlived WAVECOM_PENDING_REPUBLISH_SECONDS, at most `max` of them.
 * Returns how many it took. */
size_t api_fanout_resume_stale(api_context_t *ctx, size_t max);

#endif
