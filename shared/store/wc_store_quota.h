/*
 * Monthly notification quotas (docs/ARCHITECTURE.md §13): what a tenant or an
 * API key may send in a calendar month (UTC), in all and per channel, and the
 * month's counters in `quota_counters` that API instances reserve from.
 */
#ifndef WC_STORE_QUOTA_H
#define WC_STORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "wc_notification.h"
#include "wc_store.h"

#define WC_COLL_QUOTA_COUNTERS "quota_counters"

/* Largest allowance a quota may set. */
#define WC_QUOTA_MAX 1000000000000LL

/* wc_quota_t itself is in wc_store.h: the principal carries the quotas. */

/* A quota without any limit. */
void wc_quota_init(wc_quota_t *q);

/* True when it limits anything. */
bool wc_quota_any(const wc_quota_t *q);

/* Reads the "quota" subdocument of a tenant or key document (none where
 * unset or malformed). */
void wc_quota_from_doc(const bson_t *doc, wc_quota_t *q);

/* Appends the quota as "$set" {quota: ...} (or "$unset" when it limits
 * nothing) to `update`. */
bool wc_quota_append_update(bson_t *update, const wc_quota_t *q);

/* The start of the calendar month (UTC) holding `ms`, and of the next one. */
int64_t wc_quota_month_start(int64_t ms);
int64_t wc_quota_next_month(int64_t ms);

/* Sets a tenant's quota. NOT_FOUND when there is no such tenant. */
wc_store_status_t wc_store_set_tenant_quota(wc_store_t *store, const char *tenant_id,
                                            const wc_quota_t *q);

/* Adds `n` (negative: gives back) to the month's counter `id` (created on
 * first use with `tenant_id` and `month_ms`), and writes its new value into
 * *used_after. */
wc_store_status_t wc_store_quota_add(wc_store_t *store, const char *id, const char *tenant_id,
                                     int64_t month_ms, int64_t n, int64_t *used_after);

/* The value of counter `id` (0 when it does not exist yet). */
wc_store_status_t wc_store_quota_used(wc_store_t *store, const char *id, int64_t *used);

#endif
