/* Monthly quotas and their counters; see wc_store_quota.h. */
#include "wc_store_quota.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wc_log.h"
#include "wc_store_private.h"
#include "wc_time.h"

void wc_quota_init(wc_quota_t *q)
{
    q->monthly = -1;
    for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
        q->channel[c] = -1;
    }
    q->critical_exempt = false;
}

bool wc_quota_any(const wc_quota_t *q)
{
    bool any = q->monthly >= 0;
    for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
        any = any || q->channel[c] >= 0;
    }
    return any;
}

static int64_t valid_allowance(const bson_iter_t *it)
{
    if (!BSON_ITER_HOLDS_INT32(it) && !BSON_ITER_HOLDS_INT64(it)) {
        return -1;
    }
    int64_t v = bson_iter_as_int64(it);
    return v >= 0 && v <= WC_QUOTA_MAX ? v : -1;
}

void wc_quota_from_doc(const bson_t *doc, wc_quota_t *q)
{
    wc_quota_init(q);
    bson_iter_t it, sub;
    if (!bson_iter_init_find(&it, doc, "quota") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &sub)) {
        return;
    }
    while (bson_iter_next(&sub)) {
        const char *key = bson_iter_key(&sub);
        if (strcmp(key, "monthly") == 0) {
            q->monthly = valid_allowance(&sub);
        } else if (strcmp(key, "criticalExempt") == 0) {
            q->critical_exempt = BSON_ITER_HOLDS_BOOL(&sub) && bson_iter_bool(&sub);
        } else {
            wc_channel_t c;
            if (wc_channel_parse(key, &c) == 0) {
                q->channel[c] = valid_allowance(&sub);
            }
        }
    }
}

bool wc_quota_append_update(bson_t *update, const wc_quota_t *q)
{
    bson_t op, quota;
    bool ok;
    if (!wc_quota_any(q) && !q->critical_exempt) {
        ok = BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &op) &&
             BSON_APPEND_UTF8(&op, "quota", "") && bson_append_document_end(update, &op);
        return ok;
    }
    ok = BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &op) &&
         BSON_APPEND_DOCUMENT_BEGIN(&op, "quota", &quota);
    if (ok && q->monthly >= 0) {
        ok = BSON_APPEND_INT64(&quota, "monthly", q->monthly);
    }
    for (int c = 0; ok && c < WC_CHANNEL_COUNT; c++) {
        if (q->channel[c] >= 0) {
            ok = BSON_APPEND_INT64(&quota, wc_channel_name((wc_channel_t)c), q->channel[c]);
        }
    }
    if (ok && q->critical_exempt) {
        ok = BSON_APPEND_BOOL(&quota, "criticalExempt", true);
    }
    return ok && bson_append_document_end(&op, &quota) && bson_append_document_end(update, &op);
}

static int64_t month_at(int64_t ms, int add)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        return 0;
    }
    int month = tm.tm_mon + add;
    struct tm start = {.tm_year = tm.tm_year + month / 12, .tm_mon = month % 12, .tm_mday = 1};
    return (int64_t)timegm(&start) * 1000;
}

int64_t wc_quota_month_start(int64_t ms) { return month_at(ms, 0); }

int64_t wc_quota_next_month(int64_t ms) { return month_at(ms, 1); }

wc_store_status_t wc_store_set_tenant_quota(wc_store_t *store, const char *tenant_id,
                                            const wc_quota_t *q)
{
    bson_t update = BSON_INITIALIZER;
    if (!wc_quota_append_update(&update, q)) {
        bson_destroy(&update);
        return WC_STORE_ERROR;
    }
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(tenant_id));
    wc_store_status_t status = wc_store_update_one(store, WC_COLL_TENANTS, filter, &update);
    bson_destroy(filter);
    bson_destroy(&update);
    return status;
}

wc_store_status_t wc_store_quota_add(wc_store_t *store, const char *id, const char *tenant_id,
                                     int64_t month_ms, int64_t n, int64_t *used_after)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *update = BCON_NEW("$inc", "{", "used", BCON_INT64(n), "}", "$setOnInsert", "{",
                              "tenantId", BCON_UTF8(tenant_id), "month",
                              BCON_DATE_TIME(month_ms), "}");
    wc_store_status_t status = WC_STORE_ERROR;
    /* Two instances creating the month's counter at once: the loser's upsert
     * fails with a duplicate key and applied nothing; once more is an update. */
    for (int attempt = 0; attempt < 2 && status != WC_STORE_OK; attempt++) {
        bson_t *counter = NULL;
        if (wc_store_find_and_modify(store, WC_COLL_QUOTA_COUNTERS, filter, NULL, update,
                                     MONGOC_FIND_AND_MODIFY_UPSERT |
                                         MONGOC_FIND_AND_MODIFY_RETURN_NEW,
                                     &counter) != WC_STORE_OK) {
            wc_log_error("quota counter %s: no counter after the upsert", id);
            continue;
        }
        bson_iter_t value;
        if (bson_iter_init_find(&value, counter, "used") &&
            (BSON_ITER_HOLDS_INT64(&value) || BSON_ITER_HOLDS_INT32(&value) ||
             BSON_ITER_HOLDS_DOUBLE(&value))) {
            *used_after = bson_iter_as_int64(&value);
            status = WC_STORE_OK;
        } else {
            wc_log_error("quota counter %s: the counter has no count", id);
        }
        bson_destroy(counter);
    }
    bson_destroy(update);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_quota_used(wc_store_t *store, const char *id, int64_t *used)
{
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_by_id(store, WC_COLL_QUOTA_COUNTERS, id, &doc);
    *used = 0;
    if (status == WC_STORE_OK) {
        *used = wc_doc_int(doc, "used", 0);
    }
    bson_destroy(doc);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}
