/* Worker hosts' reports of their breakers; see wc_store_hosts.h. */
#include "wc_store_hosts.h"

#include <stdio.h>
#include <stdlib.h>

#include "wc_log.h"
#include "wc_store_private.h"

#define WC_COLL_WORKER_HOSTS "worker_hosts"

/* The report's breakers as a BSON array under "breakers" of `set`. */
static void append_breakers(bson_t *set, const wc_host_report_t *report)
{
    bson_t list;
    BSON_APPEND_ARRAY_BEGIN(set, "breakers", &list);
    for (size_t i = 0; i < report->breaker_count; i++) {
        const wc_host_breaker_t *b = &report->breakers[i];
        char key[16];
        const char *key_str = NULL;
        bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof(key));
        bson_t entry;
        BSON_APPEND_DOCUMENT_BEGIN(&list, key_str, &entry);
        BSON_APPEND_UTF8(&entry, "name", b->name);
        BSON_APPEND_UTF8(&entry, "state", b->state);
        if (b->since_ms >= 0) {
            BSON_APPEND_DATE_TIME(&entry, "since", b->since_ms);
        }
        bson_append_document_end(&list, &entry);
    }
    bson_append_array_end(set, &list);
}

wc_store_status_t wc_store_report_worker_host(wc_store_t *store, const wc_host_report_t *report,
                                              int64_t now_ms)
{
    /* Equality on _id alone, and the whole report replaced by one $set: the
     * document never mixes two reports, and any backend serves it by index. */
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(report->host_id));
    bson_t set = BSON_INITIALIZER;
    append_breakers(&set, report);
    BSON_APPEND_INT32(&set, "children", report->children);
    BSON_APPEND_INT64(&set, "reportIntervalMs", report->interval_ms);
    BSON_APPEND_DATE_TIME(&set, "updatedAt", now_ms);
    bson_t update = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&update, "$set", &set);
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));

    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, WC_COLL_WORKER_HOSTS);
    bson_error_t error;
    wc_store_status_t status = WC_STORE_OK;
    if (!mongoc_collection_update_one(coll, filter, &update, opts, NULL, &error)) {
        wc_log_error("report of worker host %s to %s failed: %s", report->host_id,
                     WC_COLL_WORKER_HOSTS, error.message);
        status = WC_STORE_ERROR;
    }
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(opts);
    bson_destroy(&update);
    bson_destroy(&set);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_list_worker_hosts(wc_store_t *store, bson_t ***docs_out, size_t *n_out)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit",
                            BCON_INT64(WC_STORE_WORKER_HOSTS_MAX));
    wc_store_status_t status = wc_store_find_many(store, WC_COLL_WORKER_HOSTS, &filter, opts,
                                                  WC_STORE_WORKER_HOSTS_MAX, docs_out, n_out);
    bson_destroy(opts);
    bson_destroy(&filter);
    return status;
}
