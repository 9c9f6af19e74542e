/*
 * Tenant limits, the in-flight count the API's quota reads, and the audit
 * trail of administrative actions (collection "audit"): who did what to
 * what, and when. Notification state changes have their own trail inside
 * each notification document; this one records the actions of people and
 * keys: tenants, keys, replays, purges and cancels.
 */
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_counters.h"
#include "wc_store_private.h"
#include "wc_store_quota.h"
#include "wc_store_trail.h"
#include "wc_time.h"

static const char *const limit_fields[] = {"requestsPerSecond", "notificationsPerSecond",
                                           "maxInFlight"};

static int *limit_slot(wc_tenant_limits_t *l, size_t i)
{
    return i == 0 ? &l->requests_per_second
                  : i == 1 ? &l->notifications_per_second : &l->max_in_flight;
}

void wc_store_tenant_limits_from_doc(const bson_t *tenant_doc, wc_tenant_limits_t *out)
{
    *out = (wc_tenant_limits_t){-1, -1, -1, {0}};
    wc_quota_from_doc(tenant_doc, &out->quota);
    bson_iter_t it, sub;
    if (!bson_iter_init_find(&it, tenant_doc, "limits") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &sub)) {
        return;
    }
    while (bson_iter_next(&sub)) {
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(bson_iter_key(&sub), limit_fields[i]) != 0 ||
                !(BSON_ITER_HOLDS_INT32(&sub) || BSON_ITER_HOLDS_INT64(&sub))) {
                continue;
            }
            int64_t v = bson_iter_as_int64(&sub);
            if (v >= 0 && v <= 1000000000) {
                *limit_slot(out, i) = (int)v;
            }
        }
    }
}

wc_store_status_t wc_store_set_tenant_limits(wc_store_t *store, const char *tenant_id,
                                             const wc_tenant_limits_t *limits)
{
    bson_t set = BSON_INITIALIZER, unset = BSON_INITIALIZER, update = BSON_INITIALIZER;
    wc_tenant_limits_t l = *limits;
    for (size_t i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof(path), "limits.%s", limit_fields[i]);
        int v = *limit_slot(&l, i);
        if (v >= 0) {
            BSON_APPEND_INT32(&set, path, v);
        } else {
            BSON_APPEND_UTF8(&unset, path, "");
        }
    }
    BSON_APPEND_DATE_TIME(&set, "updatedAt", wc_time_now_ms());
    BSON_APPEND_DOCUMENT(&update, "$set", &set);
    if (!bson_empty(&unset)) {
        BSON_APPEND_DOCUMENT(&update, "$unset", &unset);
    }
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(tenant_id));
    wc_store_status_t status = wc_store_update_one(store, WC_COLL_TENANTS, filter, &update);
    bson_destroy(filter);
    bson_destroy(&set);
    bson_destroy(&unset);
    bson_destroy(&update);
    return status;
}

wc_store_status_t wc_store_count_in_flight(wc_store_t *store, const char *tenant_id, int64_t *out)
{
    /* From the tenant's counter document (docs/ARCHITECTURE.md §3.3): one
     * read by _id, however many notifications are in flight. Counting the
     * documents themselves fetched every one of them, which under a backlog
     * of tens of thousands held FerretDB for seconds each refresh. The
     * counters trail the documents by up to a second; a quota can live with
     * that. */
    static const wc_status_t in_flight[] = {WC_STATUS_PENDING, WC_STATUS_QUEUED,
                                            WC_STATUS_PROCESSING, WC_STATUS_RETRYING};
    wc_store_counts_t *counts = calloc(1, sizeof(*counts));
    if (counts == NULL) {
        return WC_STORE_ERROR;
    }
    /* This process's own changes first, so that what it admitted is in the
     * count; other processes' lag only ever leaves notifications counted in
     * flight that have finished, which errs on the quota's side. */
    (void)wc_store_counters_flush_for(store, tenant_id);
    wc_store_status_t status = wc_store_counters_totals(store, tenant_id, counts);
    if (status == WC_STORE_OK) {
        int64_t n = 0;
        for (size_t i = 0; i < sizeof(in_flight) / sizeof(in_flight[0]); i++) {
            for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
                for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                    n += counts->counts[in_flight[i]][c][p];
                }
            }
        }
        *out = n;
    }
    free(counts);
    return status;
}

wc_store_status_t wc_store_ensure_audit_indexes(wc_store_t *store)
{
    bson_t *key = BCON_NEW("tenantId", BCON_INT32(1), "at", BCON_INT32(-1));
    bool ok = wc_store_create_index(store, WC_COLL_AUDIT, key, "tenant_at");
    bson_destroy(key);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}

wc_store_status_t wc_store_audit_append(wc_store_t *store, const wc_audit_event_t *event)
{
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    bson_t *doc = BCON_NEW("_id", BCON_OID(&id), "at", BCON_DATE_TIME(wc_time_now_ms()), "actor",
                           BCON_UTF8(event->actor), "action", BCON_UTF8(event->action), "target",
                           BCON_UTF8(event->target != NULL ? event->target : ""));
    if (event->tenant_id != NULL) {
        BSON_APPEND_UTF8(doc, "tenantId", event->tenant_id);
    }
    if (event->detail != NULL) {
        BSON_APPEND_UTF8(doc, "detail", event->detail);
    }
    wc_store_status_t status = wc_store_insert(store, WC_COLL_AUDIT, doc);
    bson_destroy(doc);
    if (status != WC_STORE_OK) {
        wc_log_error("could not record the audit event %s on %s", event->action,
                     event->target != NULL ? event->target : "");
    }
    return status;
}

wc_store_status_t wc_store_audit_list(wc_store_t *store, const char *tenant_id, int64_t skip,
                                      int64_t limit, bson_t ***docs_out, size_t *n_out)
{
    *docs_out = NULL;
    *n_out = 0;
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id));
    bson_t *opts = BCON_NEW("sort", "{", "at", BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "skip",
                            BCON_INT64(skip), "limit", BCON_INT64(limit));
    wc_store_status_t status = wc_store_find_many(store, WC_COLL_AUDIT, filter, opts,
                                                  (size_t)(limit > 0 ? limit : 0), docs_out, n_out);
    bson_destroy(filter);
    bson_destroy(opts);
    return status;
}
