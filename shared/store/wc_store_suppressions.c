#include "wc_store_suppressions.h"

#include <stdio.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_private.h"

/* "<tenant>:<name>", the _id of a preferences or category document. */
static int scoped_id(const char *tenant_id, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s:%s", tenant_id, name);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

wc_store_status_t wc_store_suppression_put(wc_store_t *store, const char *tenant_id,
                                           wc_channel_t channel, const char *recipient,
                                           wc_suppress_reason_t reason, const char *source,
                                           int64_t now_ms, bool *created)
{
    char id[WC_SUPPRESSION_ID_LEN];
    char key[WC_SUPPRESSION_ID_LEN];
    if (wc_suppression_id(tenant_id, channel, recipient, id, sizeof(id)) != 0 ||
        wc_suppression_recipient_key(channel, recipient, key, sizeof(key)) != 0) {
        wc_log_error("suppression entry for a recipient too long to key");
        return WC_STORE_ERROR;
    }
    /* findAndModify with upsert and the document as it was: its absence
     * says the entry is new, in the same round trip. */
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *update = BCON_NEW("$set", "{", "tenantId", BCON_UTF8(tenant_id), "channel",
                              BCON_UTF8(wc_channel_name(channel)), "recipient", BCON_UTF8(key),
                              "reason", BCON_UTF8(wc_suppress_reason_name(reason)), "source",
                              BCON_UTF8(source), "updatedAt", BCON_DATE_TIME(now_ms), "}",
                              "$setOnInsert", "{", "createdAt", BCON_DATE_TIME(now_ms), "}");
    bson_t *before = NULL;
    wc_store_status_t status = wc_store_find_and_modify(store, WC_COLL_SUPPRESSIONS, filter, NULL,
                                                        update, MONGOC_FIND_AND_MODIFY_UPSERT,
                                                        &before);
    if (status == WC_STORE_CONFLICT) {
        /* Another writer created it first: ours is now a plain update. */
        status = wc_store_find_and_modify(store, WC_COLL_SUPPRESSIONS, filter, NULL, update,
                                          MONGOC_FIND_AND_MODIFY_UPSERT, &before);
    }
    if (created != NULL) {
        *created = status == WC_STORE_NOT_FOUND || (status == WC_STORE_OK && before == NULL);
    }
    if (status == WC_STORE_NOT_FOUND) {
        status = WC_STORE_OK; /* the upsert inserted it; nothing was there before */
    }
    bson_destroy(before);
    bson_destroy(filter);
    bson_destroy(update);
    return status;
}

wc_store_status_t wc_store_suppression_get(wc_store_t *store, const char *tenant_id,
                                           wc_channel_t channel, const char *recipient,
                                           bson_t **out)
{
    char id[WC_SUPPRESSION_ID_LEN];
    if (wc_suppression_id(tenant_id, channel, recipient, id, sizeof(id)) != 0) {
        return WC_STORE_NOT_FOUND;
    }
    return wc_store_find_by_id(store, WC_COLL_SUPPRESSIONS, id, out);
}

wc_store_status_t wc_store_suppression_delete(wc_store_t *store, const char *tenant_id,
                                              wc_channel_t channel, const char *recipient)
{
    char id[WC_SUPPRESSION_ID_LEN];
    if (wc_suppression_id(tenant_id, channel, recipient, id, sizeof(id)) != 0) {
        return WC_STORE_NOT_FOUND;
    }
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    wc_store_status_t status = wc_store_delete(store, WC_COLL_SUPPRESSIONS, filter, false, NULL);
    bson_destroy(filter);
    return status;
}

static wc_store_status_t list_by_tenant(wc_store_t *store, const char *coll, bson_t *filter,
                                        int64_t skip, int64_t limit, bson_t ***docs, size_t *n)
{
    *docs = NULL;
    *n = 0;
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "skip", BCON_INT64(skip),
                            "limit", BCON_INT64(limit));
    wc_store_status_t status =
        wc_store_find_many(store, coll, filter, opts, (size_t)(limit > 0 ? limit : 0), docs, n);
    bson_destroy(opts);
    return status;
}

wc_store_status_t wc_store_suppression_list(wc_store_t *store, const char *tenant_id, int channel,
                                            int64_t skip, int64_t limit, bson_t ***docs,
                                            size_t *n)
{
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id));
    if (channel >= 0) {
        BSON_APPEND_UTF8(filter, "channel", wc_channel_name((wc_channel_t)channel));
    }
    wc_store_status_t status =
        list_by_tenant(store, WC_COLL_SUPPRESSIONS, filter, skip, limit, docs, n);
    bson_destroy(filter);
    return status;
}

/* Replaces the document `id` of `coll` with `set` (upsert by _id). */
static wc_store_status_t replace_by_id(wc_store_t *store, const char *coll, const char *id,
                                       bson_t *set)
{
    bson_t update = BSON_INITIALIZER;
    bool ok = BSON_APPEND_DOCUMENT(&update, "$set", set);
    const char *ids[] = {id};
    bson_t *updates[] = {&update};
    wc_store_status_t status =
        ok ? wc_store_upsert_many(store, coll, ids, updates, 1, coll) : WC_STORE_ERROR;
    bson_destroy(&update);
    return status;
}

wc_store_status_t wc_store_preferences_put(wc_store_t *store, const char *tenant_id,
                                           const char *user_id, const bson_t *channels,
                                           const bson_t *categories, int64_t now_ms)
{
    char id[WC_SUPPRESSION_ID_LEN];
    if (scoped_id(tenant_id, user_id, id, sizeof(id)) != 0) {
        return WC_STORE_ERROR;
    }
    bson_t *set = BCON_NEW("tenantId", BCON_UTF8(tenant_id), "userId", BCON_UTF8(user_id),
                           "updatedAt", BCON_DATE_TIME(now_ms));
    bool ok = BSON_APPEND_ARRAY(set, "channels", channels) &&
              BSON_APPEND_ARRAY(set, "categories", categories);
    wc_store_status_t status =
        ok ? replace_by_id(store, WC_COLL_PREFERENCES, id, set) : WC_STORE_ERROR;
    bson_destroy(set);
    return status;
}

static wc_store_status_t get_scoped(wc_store_t *store, const char *coll, const char *tenant_id,
                                    const char *name, bson_t **out)
{
    char id[WC_SUPPRESSION_ID_LEN];
    if (scoped_id(tenant_id, name, id, sizeof(id)) != 0) {
        return WC_STORE_NOT_FOUND;
    }
    return wc_store_find_by_id(store, coll, id, out);
}

static wc_store_status_t delete_scoped(wc_store_t *store, const char *coll, const char *tenant_id,
                                       const char *name)
{
    char id[WC_SUPPRESSION_ID_LEN];
    if (scoped_id(tenant_id, name, id, sizeof(id)) != 0) {
        return WC_STORE_NOT_FOUND;
    }
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    wc_store_status_t status = wc_store_delete(store, coll, filter, false, NULL);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_preferences_get(wc_store_t *store, const char *tenant_id,
                                           const char *user_id, bson_t **out)
{
    return get_scoped(store, WC_COLL_PREFERENCES, tenant_id, user_id, out);
}

wc_store_status_t wc_store_preferences_delete(wc_store_t *store, const char *tenant_id,
                                              const char *user_id)
{
    return delete_scoped(store, WC_COLL_PREFERENCES, tenant_id, user_id);
}

wc_store_status_t wc_store_category_put(wc_store_t *store, const char *tenant_id,
                                        const char *name, bool transactional, int64_t now_ms)
{
    char id[WC_SUPPRESSION_ID_LEN];
    if (scoped_id(tenant_id, name, id, sizeof(id)) != 0) {
        return WC_STORE_ERROR;
    }
    bson_t *set = BCON_NEW("tenantId", BCON_UTF8(tenant_id), "name", BCON_UTF8(name),
                           "transactional", BCON_BOOL(transactional), "updatedAt",
                           BCON_DATE_TIME(now_ms));
    wc_store_status_t status = replace_by_id(store, WC_COLL_CATEGORIES, id, set);
    bson_destroy(set);
    return status;
}

wc_store_status_t wc_store_category_get(wc_store_t *store, const char *tenant_id,
                                        const char *name, bson_t **out)
{
    return get_scoped(store, WC_COLL_CATEGORIES, tenant_id, name, out);
}

wc_store_status_t wc_store_category_delete(wc_store_t *store, const char *tenant_id,
                                           const char *name)
{
    return delete_scoped(store, WC_COLL_CATEGORIES, tenant_id, name);
}

wc_store_status_t wc_store_category_list(wc_store_t *store, const char *tenant_id, int64_t skip,
                                         int64_t limit, bson_t ***docs, size_t *n)
{
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id));
    wc_store_status_t status =
        list_by_tenant(store, WC_COLL_CATEGORIES, filter, skip, limit, docs, n);
    bson_destroy(filter);
    return status;
}

/* Whether the array `key` of `doc` holds the string `value`. */
static bool array_holds(const bson_t *doc, const char *key, const char *value)
{
    bson_iter_t it, item;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &item)) {
        return false;
    }
    while (bson_iter_next(&item)) {
        if (BSON_ITER_HOLDS_UTF8(&item) && strcmp(bson_iter_utf8(&item, NULL), value) == 0) {
            return true;
        }
    }
    return false;
}

wc_store_status_t wc_store_suppression_facts(wc_store_t *store, const bson_t *doc,
                                             wc_suppression_facts_t *facts)
{
    memset(facts, 0, sizeof(*facts));
    const char *tenant = wc_doc_string(doc, "tenantId");
    const char *type = wc_doc_string(doc, "type");
    const char *recipient = wc_doc_string(doc, "recipient");
    const char *user = wc_doc_string(doc, "userId");
    const char *category = wc_doc_string(doc, "category");
    wc_channel_t channel;
    if (tenant == NULL || recipient == NULL || type == NULL ||
        wc_channel_parse(type, &channel) != 0) {
        return WC_STORE_OK; /* nothing to look up: the provider refuses such a document */
    }
    bson_t *found = NULL;
    /* Webhooks have no list (their endpoints have health and disabling): no read. */
    wc_store_status_t status =
        channel == WC_CHANNEL_WEBHOOK
            ? WC_STORE_NOT_FOUND
            : wc_store_suppression_get(store, tenant, channel, recipient, &found);
    if (status == WC_STORE_OK) {
        wc_suppress_reason_t reason = WC_SUPPRESS_MANUAL; /* an unknown reason still suppresses */
        (void)wc_suppress_reason_parse(wc_doc_string(found, "reason"), &reason);
        facts->listed = reason;
    }
    bson_destroy(found);
    found = NULL;
    if (status == WC_STORE_ERROR) {
        return status;
    }
    if (category != NULL) {
        status = wc_store_category_get(store, tenant, category, &found);
        if (status == WC_STORE_OK) {
            bson_iter_t it;
            facts->transactional = bson_iter_init_find(&it, found, "transactional") &&
                                   BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
        }
        bson_destroy(found);
        found = NULL;
        if (status == WC_STORE_ERROR) {
            return status;
        }
    }
    if (user != NULL && !facts->transactional) {
        status = wc_store_preferences_get(store, tenant, user, &found);
        if (status == WC_STORE_OK) {
            facts->channel_opted_out = array_holds(found, "channels", type);
            facts->category_opted_out = category != NULL && array_holds(found, "categories", category);
        }
        bson_destroy(found);
        if (status == WC_STORE_ERROR) {
            return status;
        }
    }
    return WC_STORE_OK;
}
