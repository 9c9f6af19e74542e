#include "wc_store_endpoint_health.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_private.h"

void wc_endpoint_health_note(wc_endpoint_health_t *h, bool delivered, int64_t duration_ms,
                             const char *error, int64_t at_ms)
{
    if (h->hour_ms == 0) {
        h->hour_ms = at_ms - at_ms % WC_HOUR_MS;
    }
    if (duration_ms >= 0) {
        wc_duration_histogram_add(&h->durations, duration_ms, 1);
    }
    if (delivered) {
        h->delivered++;
        h->last_success_ms = at_ms > h->last_success_ms ? at_ms : h->last_success_ms;
        h->succeeded = true;
        h->failing_since_ms = 0;
        return;
    }
    h->failed++;
    h->last_failure_ms = at_ms > h->last_failure_ms ? at_ms : h->last_failure_ms;
    snprintf(h->last_error, sizeof(h->last_error), "%s", error != NULL ? error : "");
    if (h->failing_since_ms == 0) {
        h->failing_since_ms = at_ms;
    }
}

/* The hour's counts: $inc of delivered, failed, the durations' sum and
 * their non-empty buckets ("pt.<b>"). */
static bson_t *hour_update(const wc_endpoint_health_t *h)
{
    bson_t *u = bson_new();
    bson_t inc, on_insert;
    BSON_APPEND_DOCUMENT_BEGIN(u, "$inc", &inc);
    BSON_APPEND_INT64(&inc, "delivered", h->delivered);
    BSON_APPEND_INT64(&inc, "failed", h->failed);
    BSON_APPEND_INT64(&inc, "ptSum", h->durations.sum_ms);
    for (int b = 0; b < WC_DURATION_BUCKETS; b++) {
        if (h->durations.counts[b] > 0) {
            char key[16];
            snprintf(key, sizeof(key), "pt.%d", b);
            BSON_APPEND_INT64(&inc, key, h->durations.counts[b]);
        }
    }
    bson_append_document_end(u, &inc);
    BSON_APPEND_DOCUMENT_BEGIN(u, "$setOnInsert", &on_insert);
    BSON_APPEND_UTF8(&on_insert, "endpointId", h->endpoint_id);
    BSON_APPEND_UTF8(&on_insert, "tenantId", h->tenant_id);
    BSON_APPEND_DATE_TIME(&on_insert, "hour", h->hour_ms);
    bson_append_document_end(u, &on_insert);
    return u;
}

/* The state: the latest success and failure ($max, whichever process wrote
 * last), the last error, and the failing streak: after a success in this
 * flush, what followed it replaces the stored streak; otherwise the earlier
 * start stays ($min). */
static bson_t *state_update(const wc_endpoint_health_t *h)
{
    bson_t *u = bson_new();
    bson_t doc;
    BSON_APPEND_DOCUMENT_BEGIN(u, "$set", &doc);
    BSON_APPEND_UTF8(&doc, "endpointId", h->endpoint_id);
    BSON_APPEND_UTF8(&doc, "tenantId", h->tenant_id);
    if (h->failed > 0) {
        BSON_APPEND_UTF8(&doc, "lastError", h->last_error);
    }
    if (h->succeeded && h->failing_since_ms > 0) {
        BSON_APPEND_DATE_TIME(&doc, "failingSince", h->failing_since_ms);
    }
    bson_append_document_end(u, &doc);
    BSON_APPEND_DOCUMENT_BEGIN(u, "$max", &doc);
    if (h->last_success_ms > 0) {
        BSON_APPEND_DATE_TIME(&doc, "lastSuccessAt", h->last_success_ms);
    }
    if (h->last_failure_ms > 0) {
        BSON_APPEND_DATE_TIME(&doc, "lastFailureAt", h->last_failure_ms);
    }
    bson_append_document_end(u, &doc);
    if (h->succeeded && h->failing_since_ms == 0) {
        BSON_APPEND_DOCUMENT_BEGIN(u, "$unset", &doc);
        BSON_APPEND_UTF8(&doc, "failingSince", "");
        bson_append_document_end(u, &doc);
    } else if (!h->succeeded && h->failing_since_ms > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(u, "$min", &doc);
        BSON_APPEND_DATE_TIME(&doc, "failingSince", h->failing_since_ms);
        bson_append_document_end(u, &doc);
    }
    return u;
}

wc_store_status_t wc_store_endpoint_health_add(wc_store_t *store, const wc_endpoint_health_t *h,
                                               size_t n)
{
    if (n == 0) {
        return WC_STORE_OK;
    }
    char (*hour_ids)[64] = calloc(n, sizeof(*hour_ids));
    const char **ids = calloc(n, sizeof(*ids));
    bson_t **updates = calloc(n, sizeof(*updates));
    wc_store_status_t status = WC_STORE_ERROR;
    if (hour_ids == NULL || ids == NULL || updates == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(hour_ids[i], sizeof(hour_ids[i]), "%s:h:%" PRId64, h[i].endpoint_id,
                 h[i].hour_ms);
        ids[i] = hour_ids[i];
        updates[i] = hour_update(&h[i]);
    }
    status = wc_store_upsert_many(store, WC_COLL_ENDPOINT_HEALTH, ids, updates, n,
                                  "endpoint health");
    for (size_t i = 0; i < n; i++) {
        bson_destroy(updates[i]);
        ids[i] = h[i].endpoint_id;
        updates[i] = state_update(&h[i]);
    }
    if (status == WC_STORE_OK) {
        status = wc_store_upsert_many(store, WC_COLL_ENDPOINT_STATE, ids, updates, n,
                                      "endpoint state");
    }
    for (size_t i = 0; i < n; i++) {
        bson_destroy(updates[i]);
    }
out:
    free(updates);
    free(ids);
    free(hour_ids);
    return status;
}

static bool add_hour(const bson_t *doc, void *arg)
{
    wc_endpoint_health_t *out = arg;
    out->delivered += wc_doc_int(doc, "delivered", 0);
    out->failed += wc_doc_int(doc, "failed", 0);
    out->durations.sum_ms += wc_doc_int(doc, "ptSum", 0);
    bson_iter_t it, buckets;
    if (bson_iter_init_find(&it, doc, "pt") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
        bson_iter_recurse(&it, &buckets)) {
        while (bson_iter_next(&buckets)) {
            wc_duration_histogram_add_bucket(&out->durations, atoi(bson_iter_key(&buckets)),
                                             bson_iter_as_int64(&buckets));
        }
    }
    return true;
}

wc_store_status_t wc_store_endpoint_health_read(wc_store_t *store, const char *endpoint_id,
                                                int64_t since_ms, wc_endpoint_health_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->endpoint_id, sizeof(out->endpoint_id), "%s", endpoint_id);
    /* The endpoint's equality is what FerretDB pushes down; the hour is
     * checked on its few documents (docs/ARCHITECTURE.md §3.4). */
    bson_t *filter = BCON_NEW("endpointId", BCON_UTF8(endpoint_id), "$and", "[", "{", "hour", "{",
                              "$gte", BCON_DATE_TIME(since_ms - since_ms % WC_HOUR_MS), "}", "}",
                              "]");
    wc_store_status_t status =
        wc_store_find_each(store, WC_COLL_ENDPOINT_HEALTH, filter, NULL, add_hour, out);
    bson_destroy(filter);
    bson_t *state = NULL;
    if (status == WC_STORE_OK) {
        status = wc_store_find_by_id(store, WC_COLL_ENDPOINT_STATE, endpoint_id, &state);
    }
    if (status == WC_STORE_NOT_FOUND) {
        return WC_STORE_OK; /* never attempted */
    }
    if (status == WC_STORE_OK) {
        out->last_success_ms = wc_doc_date(state, "lastSuccessAt", 0);
        out->last_failure_ms = wc_doc_date(state, "lastFailureAt", 0);
        out->failing_since_ms = wc_doc_date(state, "failingSince", 0);
        const char *error = wc_doc_string(state, "lastError");
        snprintf(out->last_error, sizeof(out->last_error), "%s", error != NULL ? error : "");
        bson_destroy(state);
    }
    return status;
}

typedef struct {
    char (*ids)[25];
    size_t max, n;
} failing_t;

static bool add_failing(const bson_t *doc, void *arg)
{
    failing_t *f = arg;
    const char *id = wc_doc_string(doc, "_id");
    if (id != NULL && strlen(id) == 24 && f->n < f->max) {
        memcpy(f->ids[f->n++], id, 25);
    }
    return f->n < f->max;
}

wc_store_status_t wc_store_endpoint_failing(wc_store_t *store, int64_t before_ms, size_t max,
                                            char (*ids)[25], size_t *n)
{
    failing_t f = {.ids = ids, .max = max};
    bson_t *filter = BCON_NEW("failingSince", "{", "$lt", BCON_DATE_TIME(before_ms), "}");
    wc_store_status_t status =
        wc_store_find_each(store, WC_COLL_ENDPOINT_STATE, filter, NULL, add_failing, &f);
    bson_destroy(filter);
    *n = f.n;
    return status;
}

wc_store_status_t wc_store_endpoint_health_forgive(wc_store_t *store, const char *endpoint_id)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(endpoint_id));
    bson_t *update = BCON_NEW("$unset", "{", "failingSince", BCON_UTF8(""), "}");
    wc_store_status_t status = wc_store_update_one(store, WC_COLL_ENDPOINT_STATE, filter, update);
    bson_destroy(update);
    bson_destroy(filter);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}

wc_store_status_t wc_store_endpoint_health_purge(wc_store_t *store, int64_t before_ms,
                                                 int64_t *deleted)
{
    bson_t *filter = BCON_NEW("hour", "{", "$lt", BCON_DATE_TIME(before_ms), "}");
    wc_store_status_t status =
        wc_store_delete(store, WC_COLL_ENDPOINT_HEALTH, filter, true, deleted);
    bson_destroy(filter);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}
