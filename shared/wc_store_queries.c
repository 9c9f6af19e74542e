/*
 * The API's reads beyond one document: a page of a tenant's notifications,
 * counts by status/type/priority, and processing times. Aggregations use only
 * $match, $group and $sum (FerretDB 1.24 has no $facet and no $avg: averages
 * are computed by the caller from sums).
 */
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_private.h"

/* The filter of a list query; the caller destroys it. */
static bson_t *list_filter(const wc_list_query_t *q)
{
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(q->tenant_id));
    if (q->status >= 0) {
        BSON_APPEND_UTF8(filter, "status", wc_status_name((wc_status_t)q->status));
    }
    if (q->type >= 0) {
        BSON_APPEND_UTF8(filter, "type", wc_channel_name((wc_channel_t)q->type));
    }
    if (q->priority >= 0) {
        BSON_APPEND_UTF8(filter, "priority", wc_priority_name((wc_priority_t)q->priority));
    }
    if (q->created_from_ms >= 0 || q->created_to_ms >= 0) {
        bson_t range;
        BSON_APPEND_DOCUMENT_BEGIN(filter, "createdAt", &range);
        if (q->created_from_ms >= 0) {
            BSON_APPEND_DATE_TIME(&range, "$gte", q->created_from_ms);
        }
        if (q->created_to_ms >= 0) {
            BSON_APPEND_DATE_TIME(&range, "$lt", q->created_to_ms);
        }
        bson_append_document_end(filter, &range);
    }
    return filter;
}

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

wc_store_status_t wc_store_list_notifications(wc_store_t *store, const wc_list_query_t *q,
                                              bson_t ***docs_out, size_t *n_out, int64_t *total)
{
    *docs_out = NULL;
    *n_out = 0;
    *total = 0;
    bson_t *filter = list_filter(q);
    /* The trail and the channel blobs can be large; a page shows summaries
     * and GET /api/notifications/:id the whole document. */
    bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                            "skip", BCON_INT64(q->skip), "limit", BCON_INT64(q->limit),
                            "projection", "{", "logs", BCON_INT32(0), "lease", BCON_INT32(0),
                            "lastToken", BCON_INT32(0), "data", BCON_INT32(0), "payload",
                            BCON_INT32(0), "}");
    bson_t **docs = calloc((size_t)(q->limit > 0 ? q->limit : 1), sizeof(*docs));
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, store->db, WC_COLL_NOTIFICATIONS);
    wc_store_status_t status = WC_STORE_ERROR;
    size_t n = 0;
    bson_error_t error;
    if (docs == NULL) {
        goto out;
    }
    int64_t count = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &error);
    if (count < 0) {
        wc_log_error("counting notifications failed: %s", error.message);
        goto out;
    }
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    while (n < (size_t)q->limit && mongoc_cursor_next(cursor, &doc)) {
        docs[n++] = bson_copy(doc);
    }
    bool failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    if (failed) {
        wc_log_error("listing notifications failed: %s", error.message);
        goto out;
    }
    *total = count;
    status = WC_STORE_OK;
out:
    if (status == WC_STORE_OK) {
        *docs_out = docs;
        *n_out = n;
    } else {
        wc_store_docs_free(docs, n);
    }
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return status;
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
