/*
 * The API's reads beyond one document that aggregate: counts by
 * status/type/priority, and processing times. They scan every notification
 * of a tenant and are kept for the reconciliation of the counters and for
 * tools; the API reads wc_store_counters.h and wc_store_list.c instead. Aggregations use only
 * $match, $group and $sum (FerretDB 1.24 has no $facet and no $avg: averages
 * are computed by the caller from sums).
 */
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_private.h"

void wc_store_docs_free(bson_t **docs, size_t n)
{
    if (docs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bson_destroy(docs[i]);
    }
    free(docs);
}

/* Runs `pipeline` on notifications and calls `row` for each result. */
static wc_store_status_t aggregate(wc_store_t *store, const bson_t *pipeline,
                                   void (*row)(const bson_t *doc, void *arg), void *arg)
{
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, store->db, WC_COLL_NOTIFICATIONS);
    mongoc_cursor_t *cursor =
        mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
    const bson_t *doc = NULL;
    while (mongoc_cursor_next(cursor, &doc)) {
        row(doc, arg);
    }
    bson_error_t error;
    wc_store_status_t status = WC_STORE_OK;
    if (mongoc_cursor_error(cursor, &error)) {
        wc_log_error("aggregating notifications failed: %s", error.message);
        status = WC_STORE_ERROR;
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

static void count_row(const bson_t *doc, void *arg)
{
    wc_store_counts_t *out = arg;
    bson_iter_t iter, id;
    if (!bson_iter_init_find(&iter, doc, "n")) {
        return;
    }
    int64_t n = bson_iter_as_int64(&iter);
    const char *s = NULL, *t = NULL, *p = NULL;
    if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_DOCUMENT(&iter) &&
        bson_iter_recurse(&iter, &id)) {
        while (bson_iter_next(&id)) {
            const char *key = bson_iter_key(&id);
            const char *value = BSON_ITER_HOLDS_UTF8(&id) ? bson_iter_utf8(&id, NULL) : NULL;
            if (strcmp(key, "s") == 0) {
                s = value;
            } else if (strcmp(key, "t") == 0) {
                t = value;
            } else if (strcmp(key, "p") == 0) {
                p = value;
            }
        }
    }
    out->total += n;
    wc_status_t status;
    wc_channel_t type;
    wc_priority_t priority;
    /* A document outside the enums (written by hand) counts in the total only. */
    if (s != NULL && t != NULL && p != NULL && wc_status_parse(s, &status) == 0 &&
        wc_channel_parse(t, &type) == 0 && wc_priority_parse(p, &priority) == 0) {
        out->counts[status][type][priority] += n;
    }
}

static bson_t *match_stage_pipeline(const char *tenant_id, const bson_t *extra_match,
                                    const bson_t *group)
{
    bson_t *pipeline = bson_new();
    bson_t stages, stage, match;
    BSON_APPEND_ARRAY_BEGIN(pipeline, "pipeline", &stages);
    BSON_APPEND_DOCUMENT_BEGIN(&stages, "0", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
    if (tenant_id != NULL) {
        BSON_APPEND_UTF8(&match, "tenantId", tenant_id);
    }
    if (extra_match != NULL) {
        bson_concat(&match, extra_match);
    }
    bson_append_document_end(&stage, &match);
    bson_append_document_end(&stages, &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stages, "1", &stage);
    BSON_APPEND_DOCUMENT(&stage, "$group", group);
    bson_append_document_end(&stages, &stage);
    bson_append_array_end(pipeline, &stages);
    return pipeline;
}

wc_store_status_t wc_store_count_notifications(wc_store_t *store, const char *tenant_id,
                                               wc_store_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    bson_t *group = BCON_NEW("_id", "{", "s", BCON_UTF8("$status"), "t", BCON_UTF8("$type"), "p",
                             BCON_UTF8("$priority"), "}", "n", "{", "$sum", BCON_INT32(1), "}");
    bson_t *pipeline = match_stage_pipeline(tenant_id, NULL, group);
    wc_store_status_t status = aggregate(store, pipeline, count_row, out);
    bson_destroy(pipeline);
    bson_destroy(group);
    return status;
}

typedef struct {
    void (*each)(int64_t ms, int64_t count, void *arg);
    void *arg;
} times_call_t;

static void times_row(const bson_t *doc, void *arg)
{
    times_call_t *call = arg;
    bson_iter_t id, n;
    if (bson_iter_init_find(&id, doc, "_id") && bson_iter_init_find(&n, doc, "n") &&
        (BSON_ITER_HOLDS_INT32(&id) || BSON_ITER_HOLDS_INT64(&id) || BSON_ITER_HOLDS_DOUBLE(&id))) {
        call->each(bson_iter_as_int64(&id), bson_iter_as_int64(&n), call->arg);
    }
}

wc_store_status_t wc_store_processing_times(wc_store_t *store, const char *tenant_id,
                                            void (*each)(int64_t ms, int64_t count, void *arg),
                                            void *arg)
{
    bson_t *exists = BCON_NEW("processingTimeMs", "{", "$exists", BCON_BOOL(true), "}");
    bson_t *group = BCON_NEW("_id", BCON_UTF8("$processingTimeMs"), "n", "{", "$sum",
                             BCON_INT32(1), "}");
    bson_t *pipeline = match_stage_pipeline(tenant_id, exists, group);
    times_call_t call = {.each = each, .arg = arg};
    wc_store_status_t status = aggregate(store, pipeline, times_row, &call);
    bson_destroy(pipeline);
    bson_destroy(group);
    bson_destroy(exists);
    return status;
}
