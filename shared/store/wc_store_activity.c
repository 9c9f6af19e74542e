/* Recent activity of a tenant, for the dashboard's chart; see wc_store_activity.h. */
#include "wc_store_activity.h"

#include "wc_log.h"
#include "wc_store_private.h"

static int64_t date_ms(const bson_t *doc, const char *key)
{
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
        return bson_iter_date_time(&iter);
    }
    return -1;
}

wc_store_status_t wc_store_recent_activity(wc_store_t *store, const char *tenant_id,
                                           int64_t since_ms,
                                           void (*each)(int64_t created_ms, int64_t sent_ms,
                                                        int64_t failed_ms, void *arg),
                                           void *arg, bool *truncated)
{
    *truncated = false;
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id), "updatedAt", "{", "$gte",
                              BCON_DATE_TIME(since_ms), "}");
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "createdAt", BCON_INT32(1),
                            "sentAt", BCON_INT32(1), "failedAt", BCON_INT32(1), "}", "limit",
                            BCON_INT64(WC_STORE_ACTIVITY_MAX + 1));
    mongoc_client_t *client = mongoc_client_pool_pop(store->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db,
                                                             WC_COLL_NOTIFICATIONS);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    long n = 0;
    while (mongoc_cursor_next(cursor, &doc)) {
        if (++n > WC_STORE_ACTIVITY_MAX) {
            *truncated = true;
            break;
        }
        each(date_ms(doc, "createdAt"), date_ms(doc, "sentAt"), date_ms(doc, "failedAt"), arg);
    }
    wc_store_status_t status = WC_STORE_OK;
    bson_error_t error;
    if (!*truncated && mongoc_cursor_error(cursor, &error)) {
        wc_log_error("reading recent activity failed: %s", error.message);
        status = WC_STORE_ERROR;
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(store->pool, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return status;
}
