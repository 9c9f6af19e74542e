/*
 * What operators need of the store beyond the services' own queries
 * (wavecomctl): a notification by id across tenants, and the administration
 * of tenants and API keys. None of these is on a hot path.
 */
#ifndef WC_STORE_OPS_H
#define WC_STORE_OPS_H

#include "wc_store.h"

/* Finds notification `id` whatever its tenant (an operator's view). On
 * WC_STORE_OK *out is a new document the caller destroys. */
wc_store_status_t wc_store_find_notification(wc_store_t *store, const bson_oid_t *id, bson_t **out);

/* The most a listing returns. */
#define WC_STORE_OPS_LIST_MAX 10000

/* Every tenant, oldest first, without its webhook secret. On OK *docs is an
 * array of *n documents: free it with wc_store_docs_free. */
wc_store_status_t wc_store_list_tenants(wc_store_t *store, bson_t ***docs, size_t *n);

/* Marks tenant `tenant_id` disabled (its keys stop authenticating, and no key
 * can be made for it). NOT_FOUND when there is no such tenant. */
wc_store_status_t wc_store_disable_tenant(wc_store_t *store, const char *tenant_id, int64_t now_ms);

/* The API keys of `tenant_id` (of every tenant when NULL), oldest first, as
 * {hint, tenantId, role, name, revoked, createdAt[, revokedAt]}: never the
 * hash. Free *docs with wc_store_docs_free. */
wc_store_status_t wc_store_list_api_keys(wc_store_t *store, const char *tenant_id, bson_t ***docs,
                                         size_t *n);

/* Revokes the one API key named by `key_or_hint`: the whole key, or the hint
 * listings show (its first 12 characters). NOT_FOUND when none matches,
 * CONFLICT when a hint matches more than one key (give the whole key). */
wc_store_status_t wc_store_revoke_api_key(wc_store_t *store, const char *key_or_hint,
                                          int64_t now_ms);

/* The key `key_or_hint` names (as for revoke): its key_id (the first 16 hex
 * digits of its hash, as usage names it), tenant and hint. */
wc_store_status_t wc_store_find_api_key(wc_store_t *store, const char *key_or_hint,
                                        char key_id[17], char tenant_id[25], char hint[13]);

/* Sets the monthly quota of the key `key_or_hint` names (a quota limiting
 * nothing removes it). NOT_FOUND / CONFLICT as for revoke. */
wc_store_status_t wc_store_set_key_quota(wc_store_t *store, const char *key_or_hint,
                                         const wc_quota_t *q);

/* A replay's first step: FAILED -> PENDING in one update with its audit entry
 * by `actor`, the lease cleared, replayedAt set and, unless `keep_attempts`,
 * retryCount reset. The caller then publishes it and records QUEUED, as the
 * intake does for a new notification, so a publish that fails leaves it
 * PENDING for the sweeper (invariant 1) rather than QUEUED with no message.
 * Only a notification of `tenant_id` (of any tenant when NULL) that is FAILED
 * now. NOT_FOUND when none is: the caller looks at what it is instead. On OK
 * and a non-NULL `out`, *out is the document after the change (the caller
 * destroys it). */
wc_store_status_t wc_store_reopen_failed(wc_store_t *store, const char *tenant_id,
                                         const bson_oid_t *id, const char *actor,
                                         bool keep_attempts, int64_t now_ms, bson_t **out);

#endif
