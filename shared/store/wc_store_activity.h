/*
 * What the dashboard charts: when a tenant's notifications were created,
 * sent and failed, over a recent window. Not on a hot path: the API caches
 * the answer for a few seconds.
 */
#ifndef WC_STORE_ACTIVITY_H
#define WC_STORE_ACTIVITY_H

#include "wc_store.h"

/* The most documents one call reads; beyond it the answer is truncated. */
#define WC_STORE_ACTIVITY_MAX 200000

/* Calls `each` once per notification of `tenant_id` changed at or after
 * `since_ms` (updatedAt), with its createdAt, sentAt and failedAt in
 * milliseconds (-1 for one it does not have). A notification created, sent or
 * failed since then was necessarily updated since then, so nothing in the
 * window is missed. *truncated tells whether WC_STORE_ACTIVITY_MAX stopped the
 * read early. */
wc_store_status_t wc_store_recent_activity(wc_store_t *store, const char *tenant_id,
                                           int64_t since_ms,
                                           void (*each)(int64_t created_ms, int64_t sent_ms,
                                                        int64_t failed_ms, void *arg),
                                           void *arg, bool *truncated);

#endif
