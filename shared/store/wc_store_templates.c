#include "wc_store_templates.h"

#include <string.h>

#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_private.h"

wc_store_status_t wc_store_ensure_template_indexes(wc_store_t *store)
{
    bson_t *key = BCON_NEW("tenantId", BCON_INT32(1), "name", BCON_INT32(1));
    bool ok = wc_store_create_unique_index(store, WC_COLL_TEMPLATES, key, "tenant_name");
    bson_destroy(key);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}

wc_store_status_t wc_store_template_create(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id, const char *name,
                                           const char *content, int64_t now_ms)
{
    bson_t *doc = BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id), "name",
                           BCON_UTF8(name), "version", BCON_INT64(1), "createdAt",
                           BCON_DATE_TIME(now_ms), "updatedAt", BCON_DATE_TIME(now_ms),
                           "versions", "[", "{", "version", BCON_INT64(1), "createdAt",
                           BCON_DATE_TIME(now_ms), "content", BCON_UTF8(content), "}", "]");
    wc_store_status_t status = wc_store_insert(store, WC_COLL_TEMPLATES, doc);
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_template_get(wc_store_t *store, const char *tenant_id,
                                        const bson_oid_t *id, bson_t **out)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id));
    wc_store_status_t status = wc_store_find_one(store, WC_COLL_TEMPLATES, filter, out);
    bson_destroy(filter);
    return status;
}

const char *wc_template_version_content(const bson_t *doc, int64_t version, int64_t *version_out,
                                        int64_t *created_ms)
{
    if (version == 0) {
        version = wc_doc_int(doc, "version", 0);
    }
    bson_iter_t it, list, item;
    if (!bson_iter_init_find(&it, doc, "versions") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &list)) {
        return NULL;
    }
    while (bson_iter_next(&list)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&list) || !bson_iter_recurse(&list, &item)) {
            continue;
        }
        int64_t number = -1, created = 0;
        const char *content = NULL;
        while (bson_iter_next(&item)) {
            const char *key = bson_iter_key(&item);
            if (strcmp(key, "version") == 0 &&
                (BSON_ITER_HOLDS_INT32(&item) || BSON_ITER_HOLDS_INT64(&item))) {
                number = bson_iter_as_int64(&item);
            } else if (strcmp(key, "createdAt") == 0 && BSON_ITER_HOLDS_DATE_TIME(&item)) {
                created = bson_iter_date_time(&item);
            } else if (strcmp(key, "content") == 0 && BSON_ITER_HOLDS_UTF8(&item)) {
                content = bson_iter_utf8(&item, NULL);
            }
        }
        if (number == version && content != NULL) {
            *version_out = number;
            *created_ms = created;
            return content;
        }
    }
    return NULL;
}

wc_store_status_t wc_store_template_add_version(wc_store_t *store, const char *tenant_id,
                                                const bson_oid_t *id, int64_t current,
                                                const char *content, int64_t now_ms)
{
    if (current >= WC_TEMPLATE_VERSIONS_MAX) {
        return WC_STORE_CONFLICT;
    }
    /* Conditional on the version read: of two edits of the same version, the
     * second matches nothing and is told so. */
    bson_t *filter = BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id), "version",
                              BCON_INT64(current));
    bson_t *update = BCON_NEW("$set", "{", "version", BCON_INT64(current + 1), "updatedAt",
                              BCON_DATE_TIME(now_ms), "}", "$push", "{", "versions", "{",
                              "version", BCON_INT64(current + 1), "createdAt",
                              BCON_DATE_TIME(now_ms), "content", BCON_UTF8(content), "}", "}");
    wc_store_status_t status = wc_store_update_one(store, WC_COLL_TEMPLATES, filter, update);
    bson_destroy(filter);
    bson_destroy(update);
    if (status != WC_STORE_NOT_FOUND) {
        return status;
    }
    bson_t *doc = NULL;
    status = wc_store_template_get(store, tenant_id, id, &doc);
    bson_destroy(doc);
    return status == WC_STORE_OK ? WC_STORE_CONFLICT : status;
}

wc_store_status_t wc_store_template_list(wc_store_t *store, const char *tenant_id, int64_t skip,
                                         int64_t limit, bson_t ***docs, size_t *n)
{
    *docs = NULL;
    *n = 0;
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id));
    bson_t *opts = BCON_NEW("sort", "{", "name", BCON_INT32(1), "}", "projection", "{",
                            "versions", BCON_INT32(0), "}", "skip", BCON_INT64(skip), "limit",
                            BCON_INT64(limit));
    wc_store_status_t status = wc_store_find_many(store, WC_COLL_TEMPLATES, filter, opts,
                                                  (size_t)(limit > 0 ? limit : 0), docs, n);
    bson_destroy(filter);
    bson_destroy(opts);
    return status;
}

wc_store_status_t wc_store_template_delete(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id));
    wc_store_status_t status = wc_store_delete(store, WC_COLL_TEMPLATES, filter, false, NULL);
    bson_destroy(filter);
    return status;
}
