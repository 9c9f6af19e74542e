/*
 * Event subscriptions in the store (docs/ARCHITECTURE.md §14): a tenant's
 * endpoints in `endpoints` (one document each, its signing secrets sealed
 * like the tenants' with WAVECOM_SECRETS_KEY) and the events it published in
 * `events` (one document each, carrying the fan-out mark until every
 * delivery is stored).
 */
#ifndef WC_STORE_ENDPOINTS_H
#define WC_STORE_ENDPOINTS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_store.h"

#define WC_COLL_ENDPOINTS "endpoints"
#define WC_COLL_EVENTS "events"
#define WC_COLL_ENDPOINT_PACE "endpoint_pace"

/* A tenant has at most this many endpoints: fan-out reads them all. */
#define WC_ENDPOINTS_PER_TENANT_MAX 100

/* Room for a secret: "whsec_" and the base64 of 24 random bytes. */
#define WC_WEBHOOK_SECRET_SIZE 64

/* Draws a new signing secret ("whsec_" + base64 of 24 random bytes, the
 * Standard Webhooks form) into `out`. Returns 0, or -1. */
int wc_store_new_webhook_secret(char out[WC_WEBHOOK_SECRET_SIZE]);

/* Inserts a new endpoint: `doc` holds its fields (tenantId, url, ...); the
 * store adds _id, a fresh sealed `secret`, `rev` 1, createdAt and updatedAt.
 * On OK `secret` holds the plain secret and *out the stored document (the
 * caller destroys it). */
wc_store_status_t wc_store_endpoint_create(wc_store_t *store, const char *tenant_id,
                                           const bson_t *doc, char secret[WC_WEBHOOK_SECRET_SIZE],
                                           bson_t **out);

/* The endpoint `id` of `tenant_id`; NOT_FOUND for another tenant's. */
wc_store_status_t wc_store_endpoint_get(wc_store_t *store, const char *tenant_id,
                                        const bson_oid_t *id, bson_t **out);

/* Every endpoint of the tenant (at most WC_ENDPOINTS_PER_TENANT_MAX), oldest
 * first; free with wc_store_docs_free. */
wc_store_status_t wc_store_endpoint_list(wc_store_t *store, const char *tenant_id,
                                         bson_t ***docs, size_t *n);

/* Applies `set` ($set fields) to the endpoint and counts the change in
 * `rev`; *out is the endpoint as it is now. */
wc_store_status_t wc_store_endpoint_update(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id, const bson_t *set, bson_t **out);

wc_store_status_t wc_store_endpoint_delete(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id);

/* Replaces the endpoint's secret with a new one (into `secret`) and keeps
 * the old one valid until `previous_until_ms`. */
wc_store_status_t wc_store_endpoint_rotate(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id, int64_t previous_until_ms,
                                           char secret[WC_WEBHOOK_SECRET_SIZE], bson_t **out);

/* What a delivery signs with: the current secret, the previous one while
 * its grace period lasts at `now_ms` (else `previous` is ""), and the
 * endpoint's `rev`. NOT_FOUND when the endpoint is gone. */
wc_store_status_t wc_store_endpoint_secrets(wc_store_t *store, const char *endpoint_id,
                                            int64_t now_ms, char current[WC_WEBHOOK_SECRET_SIZE],
                                            char previous[WC_WEBHOOK_SECRET_SIZE], int64_t *rev);

/* Disables endpoint `endpoint_id` (any tenant's) if it is enabled, with
 * `reason` and the time; *out is the endpoint as it is now. NOT_FOUND when it
 * is gone or already disabled. */
wc_store_status_t wc_store_endpoint_disable(wc_store_t *store, const char *endpoint_id,
                                            const char *reason, int64_t now_ms, bson_t **out);

/* Up to `max` deliveries of endpoint `endpoint_id` of `tenant_id` in status
 * `status` (NULL: SENT or FAILED) created in [since_ms, until_ms), oldest
 * first; free with wc_store_docs_free. */
wc_store_status_t wc_store_endpoint_deliveries(wc_store_t *store, const char *tenant_id,
                                               const char *endpoint_id, const char *status,
                                               int64_t since_ms, int64_t until_ms, size_t max,
                                               bson_t ***docs, size_t *n);

/* The endpoint's rate limit in deliveries a second (`rateLimit`), 0 when it
 * has none; NOT_FOUND when the endpoint is gone. */
wc_store_status_t wc_store_endpoint_rate(wc_store_t *store, const char *endpoint_id,
                                         int64_t *per_second);

/* Reserves the next send slot of a paced endpoint (WC_COLL_ENDPOINT_PACE,
 * one document per endpoint whose `next` is the first free slot): slots are
 * `interval_ms` apart, and a schedule that fell behind `now_ms` by more than
 * one interval starts again at `now_ms`. *slot_ms is when this delivery may
 * be sent, never before `now_ms`. */
wc_store_status_t wc_store_endpoint_pace(wc_store_t *store, const char *endpoint_id,
                                         int64_t interval_ms, int64_t now_ms, int64_t *slot_ms);

/* Inserts an event document; CONFLICT when its _id exists (*existing is
 * then that event, for the caller to compare and destroy). */
wc_store_status_t wc_store_event_insert(wc_store_t *store, const bson_t *doc, bson_t **existing);

/* The event whose _id is `key` ("<tenant>:<eventId>"). */
wc_store_status_t wc_store_event_get(wc_store_t *store, const char *key, bson_t **out);

/* Clears the fan-out mark of event `id` (a string _id): its deliveries are
 * all stored. */
wc_store_status_t wc_store_event_fanned_out(wc_store_t *store, const char *id);

/* Takes one event whose fan-out mark is older than `before_ms`, moving the
 * mark to `now_ms` in the same write so that no other instance takes it;
 * NOT_FOUND when there is none. */
wc_store_status_t wc_store_event_take_stale(wc_store_t *store, int64_t before_ms, int64_t now_ms,
                                            bson_t **out);

#endif
