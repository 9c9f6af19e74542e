/*
 * Suppression list, recipient preferences and categories of a tenant
 * (docs/ARCHITECTURE.md §16). Three collections, each keyed by a string
 * _id that names what a delivery looks up, so that the worker's check is
 * reads by _id alone:
 *
 *   suppressions           _id "<tenant>:<CHANNEL>:<recipient key>" (wc_suppression_id),
 *                          tenantId, channel, recipient, reason, source, createdAt, updatedAt
 *   recipient_preferences  _id "<tenant>:<userId>", tenantId, userId,
 *                          channels: [CHANNEL...], categories: [name...] (opted out of), updatedAt
 *   categories             _id "<tenant>:<name>", tenantId, name, transactional, updatedAt
 *
 * Every function returns WC_STORE_OK, WC_STORE_NOT_FOUND where it says so,
 * or WC_STORE_ERROR (logged) when the database failed.
 */
#ifndef WC_STORE_SUPPRESSIONS_H
#define WC_STORE_SUPPRESSIONS_H

#include "wc_store.h"
#include "wc_suppression.h"

/* Puts (tenant, channel, recipient) on the list with `reason` and `source`
 * (e.g. "api", "smtp", "twilio", "unsubscribe-link"), or replaces the
 * reason and source of the entry already there: one upsert by _id, so that
 * any number of writers may record the same recipient. *created (when not
 * NULL) says whether the entry is new. */
wc_store_status_t wc_store_suppression_put(wc_store_t *store, const char *tenant_id,
                                           wc_channel_t channel, const char *recipient,
                                           wc_suppress_reason_t reason, const char *source,
                                           int64_t now_ms, bool *created);

/* The entry for (tenant, channel, recipient) into *out (a new document the
 * caller destroys). NOT_FOUND when the recipient is not listed. */
wc_store_status_t wc_store_suppression_get(wc_store_t *store, const char *tenant_id,
                                           wc_channel_t channel, const char *recipient,
                                           bson_t **out);

/* Removes the entry. NOT_FOUND when there was none. */
wc_store_status_t wc_store_suppression_delete(wc_store_t *store, const char *tenant_id,
                                              wc_channel_t channel, const char *recipient);

/* Up to `limit` entries of the tenant after `skip`, by _id (so by channel,
 * then recipient), only `channel`'s when it is not negative. Free *docs with
 * wc_store_docs_free. */
wc_store_status_t wc_store_suppression_list(wc_store_t *store, const char *tenant_id, int channel,
                                            int64_t skip, int64_t limit, bson_t ***docs,
                                            size_t *n);

/* Replaces the preferences of `user_id`: the channels (names) and categories
 * it opted out of, both BSON arrays of strings. */
wc_store_status_t wc_store_preferences_put(wc_store_t *store, const char *tenant_id,
                                           const char *user_id, const bson_t *channels,
                                           const bson_t *categories, int64_t now_ms);
/* The preferences document of `user_id`; NOT_FOUND when it has none. */
wc_store_status_t wc_store_preferences_get(wc_store_t *store, const char *tenant_id,
                                           const char *user_id, bson_t **out);
wc_store_status_t wc_store_preferences_delete(wc_store_t *store, const char *tenant_id,
                                              const char *user_id);

/* Creates or replaces category `name`. */
wc_store_status_t wc_store_category_put(wc_store_t *store, const char *tenant_id,
                                        const char *name, bool transactional, int64_t now_ms);
wc_store_status_t wc_store_category_get(wc_store_t *store, const char *tenant_id,
                                        const char *name, bson_t **out);
wc_store_status_t wc_store_category_delete(wc_store_t *store, const char *tenant_id,
                                           const char *name);
/* Up to `limit` categories of the tenant after `skip`, by name. */
wc_store_status_t wc_store_category_list(wc_store_t *store, const char *tenant_id, int64_t skip,
                                         int64_t limit, bson_t ***docs, size_t *n);

/* What the store says about the recipient of the notification `doc` (its
 * tenantId, type, recipient, and userId and category when present): one
 * read by _id of the list (none for a WEBHOOK, which has no list), and one
 * each of the user's preferences and the category when the notification
 * names them. OK with *facts filled (missing
 * documents are no facts), ERROR when a read failed. */
wc_store_status_t wc_store_suppression_facts(wc_store_t *store, const bson_t *doc,
                                             wc_suppression_facts_t *facts);

#endif
