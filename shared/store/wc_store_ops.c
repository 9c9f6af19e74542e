/* Operator queries (wavecomctl); see wc_store_ops.h. */
#include "wc_store_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_crypto.h"
#include "wc_log.h"
#include "wc_store_private.h"
#include "wc_store_quota.h"

wc_store_status_t wc_store_find_notification(wc_store_t *store, const bson_oid_t *id, bson_t **out)
{
    return wc_store_find_by_oid(store, WC_COLL_NOTIFICATIONS, id, out);
}

/* Up to WC_STORE_OPS_LIST_MAX matches of `filter`, as a new array. */
static wc_store_status_t find_many(wc_store_t *store, const char *coll_name, const bson_t *filter,
                                   const bson_t *opts, bson_t ***docs_out, size_t *n_out)
{
    return wc_store_find_many(store, coll_name, filter, opts, WC_STORE_OPS_LIST_MAX, docs_out,
                              n_out);
}

/* $set `set` on the one document matching `filter`; NOT_FOUND when none. */
static wc_store_status_t update_one(wc_store_t *store, const char *coll_name, const bson_t *filter,
                                    const bson_t *set)
{
    bson_t *update = BCON_NEW("$set", BCON_DOCUMENT(set));
    wc_store_status_t status = wc_store_update_one(store, coll_name, filter, update);
    bson_destroy(update);
    return status;
}

wc_store_status_t wc_store_list_tenants(wc_store_t *store, bson_t ***docs, size_t *n)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "}", "projection", "{",
                            "webhookSecret", BCON_INT32(0), "}");
    wc_store_status_t status = find_many(store, WC_COLL_TENANTS, &filter, opts, docs, n);
    bson_destroy(opts);
    bson_destroy(&filter);
    return status;
}

wc_store_status_t wc_store_disable_tenant(wc_store_t *store, const char *tenant_id, int64_t now_ms)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(tenant_id));
    bson_t *set = BCON_NEW("disabled", BCON_BOOL(true), "disabledAt", BCON_DATE_TIME(now_ms));
    wc_store_status_t status = update_one(store, WC_COLL_TENANTS, filter, set);
    bson_destroy(set);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_list_api_keys(wc_store_t *store, const char *tenant_id, bson_t ***docs,
                                         size_t *n)
{
    bson_t *filter = tenant_id != NULL ? BCON_NEW("tenantId", BCON_UTF8(tenant_id)) : bson_new();
    bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "}", "projection", "{", "_id",
                            BCON_INT32(0), "}");
    wc_store_status_t status = find_many(store, WC_COLL_API_KEYS, filter, opts, docs, n);
    bson_destroy(opts);
    bson_destroy(filter);
    return status;
}

/* The _id (hash) of the key `key_or_hint` names, into `hash`. */
static wc_store_status_t resolve_key(wc_store_t *store, const char *key_or_hint,
                                     char hash[WC_SHA256_HEX_LEN])
{
    if (strlen(key_or_hint) > 12) {
        wc_sha256_hex(key_or_hint, strlen(key_or_hint), hash);
        return WC_STORE_OK;
    }
    bson_t *filter = BCON_NEW("hint", BCON_UTF8(key_or_hint));
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(2));
    bson_t **docs = NULL;
    size_t n = 0;
    wc_store_status_t status = find_many(store, WC_COLL_API_KEYS, filter, opts, &docs, &n);
    bson_destroy(opts);
    bson_destroy(filter);
    if (status == WC_STORE_OK && n != 1) {
        status = n == 0 ? WC_STORE_NOT_FOUND : WC_STORE_CONFLICT;
    }
    if (status == WC_STORE_OK) {
        const char *id = wc_doc_string(docs[0], "_id");
        if (id == NULL || strlen(id) >= WC_SHA256_HEX_LEN) {
            status = WC_STORE_ERROR;
        } else {
            memcpy(hash, id, strlen(id) + 1);
        }
    }
    wc_store_docs_free(docs, n);
    return status;
}

wc_store_status_t wc_store_revoke_api_key(wc_store_t *store, const char *key_or_hint,
                                          int64_t now_ms)
{
    char hash[WC_SHA256_HEX_LEN];
    wc_store_status_t status = resolve_key(store, key_or_hint, hash);
    if (status != WC_STORE_OK) {
        return status;
    }
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(hash));
    bson_t *set = BCON_NEW("revoked", BCON_BOOL(true), "revokedAt", BCON_DATE_TIME(now_ms));
    status = update_one(store, WC_COLL_API_KEYS, filter, set);
    bson_destroy(set);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_find_api_key(wc_store_t *store, const char *key_or_hint,
                                        char key_id[17], char tenant_id[25], char hint[13])
{
    char hash[WC_SHA256_HEX_LEN];
    wc_store_status_t status = resolve_key(store, key_or_hint, hash);
    if (status != WC_STORE_OK) {
        return status;
    }
    bson_t *doc = NULL;
    status = wc_store_find_by_id(store, WC_COLL_API_KEYS, hash, &doc);
    if (status == WC_STORE_OK) {
        const char *tenant = wc_doc_string(doc, "tenantId");
        const char *h = wc_doc_string(doc, "hint");
        snprintf(key_id, 17, "%.16s", hash);
        snprintf(tenant_id, 25, "%s", tenant != NULL ? tenant : "");
        snprintf(hint, 13, "%s", h != NULL ? h : "");
    }
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_set_key_quota(wc_store_t *store, const char *key_or_hint,
                                         const wc_quota_t *q)
{
    char hash[WC_SHA256_HEX_LEN];
    wc_store_status_t status = resolve_key(store, key_or_hint, hash);
    if (status != WC_STORE_OK) {
        return status;
    }
    bson_t update = BSON_INITIALIZER;
    if (!wc_quota_append_update(&update, q)) {
        bson_destroy(&update);
        return WC_STORE_ERROR;
    }
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(hash));
    status = wc_store_update_one(store, WC_COLL_API_KEYS, filter, &update);
    bson_destroy(filter);
    bson_destroy(&update);
    return status;
}

wc_store_status_t wc_store_reopen_failed(wc_store_t *store, const char *tenant_id,
                                         const bson_oid_t *id, const char *actor,
                                         bool keep_attempts, int64_t now_ms, bson_t **out)
{
    bson_t *filter = wc_store_id_filter(id, "FAILED");
    if (tenant_id != NULL) {
        BSON_APPEND_UTF8(filter, "tenantId", tenant_id);
    }
    bson_t *set = keep_attempts ? BCON_NEW("replayedAt", BCON_DATE_TIME(now_ms))
                                : BCON_NEW("replayedAt", BCON_DATE_TIME(now_ms), "retryCount",
                                           BCON_INT32(0));
    const wc_transition_t t = {
        .to = WC_STATUS_PENDING,
        .audit = {.actor = actor,
                  .message = keep_attempts ? "Replayed from the dead-letter queue (attempts kept)"
                                           : "Replayed from the dead-letter queue (attempts reset)"},
        .set = set,
        .unset_lease = true,
    };
    wc_store_status_t status = wc_store_transition(store, filter, &t, now_ms, out);
    bson_destroy(set);
    bson_destroy(filter);
    return status;
}
