#include "wc_store_endpoints.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "wc_log.h"
#include "wc_secretbox.h"
#include "wc_store_private.h"
#include "wc_time.h"

/* A sealed secret is longer than the plain one: prefix, nonce, tag, base64. */
#define SEALED_SIZE 256

/* Seals `plain` when WAVECOM_SECRETS_KEY is set, else copies it. */
static int seal(wc_store_t *store, const char *plain, char out[SEALED_SIZE])
{
    if (!store->has_secrets_key) {
        return snprintf(out, SEALED_SIZE, "%s", plain) < SEALED_SIZE ? 0 : -1;
    }
    return wc_secretbox_seal(store->secrets_key, plain, out, SEALED_SIZE);
}

static int open_sealed(wc_store_t *store, const char *stored, char out[WC_WEBHOOK_SECRET_SIZE])
{
    return wc_secretbox_open(store->has_secrets_key ? store->secrets_key : NULL, stored, out,
                             WC_WEBHOOK_SECRET_SIZE);
}

static bson_t *tenant_filter(const char *tenant_id, const bson_oid_t *id)
{
    return BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id));
}

wc_store_status_t wc_store_endpoint_create(wc_store_t *store, const char *tenant_id,
                                           const bson_t *fields,
                                           char secret[WC_WEBHOOK_SECRET_SIZE], bson_t **out)
{
    char sealed[SEALED_SIZE];
    if (wc_store_new_webhook_secret(secret) != 0 || seal(store, secret, sealed) != 0) {
        wc_log_error("cannot draw or seal an endpoint's signing secret");
        return WC_STORE_ERROR;
    }
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    int64_t now = wc_time_now_ms();
    bson_t *doc = bson_new();
    BSON_APPEND_OID(doc, "_id", &id);
    BSON_APPEND_UTF8(doc, "tenantId", tenant_id);
    bson_concat(doc, fields);
    BSON_APPEND_UTF8(doc, "secret", sealed);
    BSON_APPEND_INT64(doc, "rev", 1);
    BSON_APPEND_DATE_TIME(doc, "createdAt", now);
    BSON_APPEND_DATE_TIME(doc, "updatedAt", now);
    OPENSSL_cleanse(sealed, sizeof(sealed));
    wc_store_status_t status = wc_store_insert(store, WC_COLL_ENDPOINTS, doc);
    if (status == WC_STORE_OK) {
        *out = doc;
    } else {
        bson_destroy(doc);
    }
    return status;
}

wc_store_status_t wc_store_endpoint_get(wc_store_t *store, const char *tenant_id,
                                        const bson_oid_t *id, bson_t **out)
{
    bson_t *filter = tenant_filter(tenant_id, id);
    wc_store_status_t status = wc_store_find_one(store, WC_COLL_ENDPOINTS, filter, out);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_endpoint_list(wc_store_t *store, const char *tenant_id,
                                         bson_t ***docs, size_t *n)
{
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id));
    bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "}");
    wc_store_status_t status = wc_store_find_many(store, WC_COLL_ENDPOINTS, filter, opts,
                                                  WC_ENDPOINTS_PER_TENANT_MAX, docs, n);
    bson_destroy(filter);
    bson_destroy(opts);
    return status;
}

static wc_store_status_t modify(wc_store_t *store, const char *tenant_id, const bson_oid_t *id,
                                bson_t *update, bson_t **out)
{
    bson_t *filter = tenant_filter(tenant_id, id);
    wc_store_status_t status =
        wc_store_find_and_modify(store, WC_COLL_ENDPOINTS, filter, NULL, update,
                                 MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_endpoint_update(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id, const bson_t *set, bson_t **out)
{
    bson_t *update = bson_new();
    bson_t child;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &child);
    bson_concat(&child, set);
    BSON_APPEND_DATE_TIME(&child, "updatedAt", wc_time_now_ms());
    bson_append_document_end(update, &child);
    BCON_APPEND(update, "$inc", "{", "rev", BCON_INT64(1), "}");
    wc_store_status_t status = modify(store, tenant_id, id, update, out);
    bson_destroy(update);
    return status;
}

wc_store_status_t wc_store_endpoint_delete(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id)
{
    bson_t *filter = tenant_filter(tenant_id, id);
    wc_store_status_t status = wc_store_delete(store, WC_COLL_ENDPOINTS, filter, false, NULL);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_endpoint_rotate(wc_store_t *store, const char *tenant_id,
                                           const bson_oid_t *id, int64_t previous_until_ms,
                                           char secret[WC_WEBHOOK_SECRET_SIZE], bson_t **out)
{
    bson_t *before = NULL;
    wc_store_status_t status = wc_store_endpoint_get(store, tenant_id, id, &before);
    if (status != WC_STORE_OK) {
        return status;
    }
    const char *old_sealed = wc_doc_string(before, "secret");
    char sealed[SEALED_SIZE];
    if (old_sealed == NULL || wc_store_new_webhook_secret(secret) != 0 ||
        seal(store, secret, sealed) != 0) {
        bson_destroy(before);
        return WC_STORE_ERROR;
    }
    /* The old secret moves as it is stored (sealed), and only if it is still
     * the current one: two rotations at once keep the later one's. */
    bson_t *filter = BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id), "secret",
                              BCON_UTF8(old_sealed));
    bson_t *update = BCON_NEW("$set", "{", "secret", BCON_UTF8(sealed), "previousSecret",
                              BCON_UTF8(old_sealed), "previousSecretUntil",
                              BCON_DATE_TIME(previous_until_ms), "updatedAt",
                              BCON_DATE_TIME(wc_time_now_ms()), "}", "$inc", "{", "rev",
                              BCON_INT64(1), "}");
    status = wc_store_find_and_modify(store, WC_COLL_ENDPOINTS, filter, NULL, update,
                                      MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    OPENSSL_cleanse(sealed, sizeof(sealed));
    bson_destroy(filter);
    bson_destroy(update);
    bson_destroy(before);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_CONFLICT : status;
}

/* Endpoint `endpoint_id` (24 hex digits, any tenant's), for the worker and
 * the scheduler, which know it by the id a delivery carries. */
static wc_store_status_t endpoint_by_id(wc_store_t *store, const char *endpoint_id, bson_t **doc)
{
    *doc = NULL;
    if (strlen(endpoint_id) != 24 || !bson_oid_is_valid(endpoint_id, 24)) {
        return WC_STORE_NOT_FOUND;
    }
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, endpoint_id);
    return wc_store_find_by_oid(store, WC_COLL_ENDPOINTS, &oid, doc);
}

wc_store_status_t wc_store_endpoint_secrets(wc_store_t *store, const char *endpoint_id,
                                            int64_t now_ms, char current[WC_WEBHOOK_SECRET_SIZE],
                                            char previous[WC_WEBHOOK_SECRET_SIZE], int64_t *rev)
{
    bson_t *doc = NULL;
    wc_store_status_t status = endpoint_by_id(store, endpoint_id, &doc);
    if (status != WC_STORE_OK) {
        return status;
    }
    previous[0] = '\0';
    const char *cur = wc_doc_string(doc, "secret");
    const char *prev = wc_doc_string(doc, "previousSecret");
    bson_iter_t it;
    int64_t until = 0;
    if (bson_iter_init_find(&it, doc, "previousSecretUntil") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        until = bson_iter_date_time(&it);
    }
    *rev = bson_iter_init_find(&it, doc, "rev") ? bson_iter_as_int64(&it) : 0;
    if (cur == NULL || open_sealed(store, cur, current) != 0) {
        wc_log_error("the secret of endpoint %s cannot be opened (WAVECOM_SECRETS_KEY)",
                     endpoint_id);
        status = WC_STORE_NOT_FOUND;
    } else if (prev != NULL && until > now_ms && open_sealed(store, prev, previous) != 0) {
        previous[0] = '\0';
    }
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_endpoint_disable(wc_store_t *store, const char *endpoint_id,
                                            const char *reason, int64_t now_ms, bson_t **out)
{
    *out = NULL;
    if (strlen(endpoint_id) != 24 || !bson_oid_is_valid(endpoint_id, 24)) {
        return WC_STORE_NOT_FOUND;
    }
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, endpoint_id);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid), "$and", "[", "{", "enabled", BCON_BOOL(true),
                              "}", "]");
    bson_t *update = BCON_NEW("$set", "{", "enabled", BCON_BOOL(false), "disabledReason",
                              BCON_UTF8(reason), "updatedAt", BCON_DATE_TIME(now_ms), "}", "$inc",
                              "{", "rev", BCON_INT64(1), "}");
    wc_store_status_t status =
        wc_store_find_and_modify(store, WC_COLL_ENDPOINTS, filter, NULL, update,
                                 MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    bson_destroy(update);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_endpoint_deliveries(wc_store_t *store, const char *tenant_id,
                                               const char *endpoint_id, const char *status,
                                               int64_t since_ms, int64_t until_ms, size_t max,
                                               bson_t ***docs, size_t *n)
{
    /* The equalities are what FerretDB pushes down; the status choice and
     * the range are checked on the endpoint's documents. */
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id), "endpointId",
                              BCON_UTF8(endpoint_id));
    bson_t and_list, cond, range;
    BSON_APPEND_ARRAY_BEGIN(filter, "$and", &and_list);
    BSON_APPEND_DOCUMENT_BEGIN(&and_list, "0", &cond);
    BSON_APPEND_DOCUMENT_BEGIN(&cond, "createdAt", &range);
    BSON_APPEND_DATE_TIME(&range, "$gte", since_ms);
    BSON_APPEND_DATE_TIME(&range, "$lt", until_ms);
    bson_append_document_end(&cond, &range);
    bson_append_document_end(&and_list, &cond);
    BSON_APPEND_DOCUMENT_BEGIN(&and_list, "1", &cond);
    if (status != NULL) {
        BSON_APPEND_UTF8(&cond, "status", status);
    } else {
        bson_t in, values;
        BSON_APPEND_DOCUMENT_BEGIN(&cond, "status", &in);
        BSON_APPEND_ARRAY_BEGIN(&in, "$in", &values);
        BSON_APPEND_UTF8(&values, "0", "SENT");
        BSON_APPEND_UTF8(&values, "1", "FAILED");
        bson_append_array_end(&in, &values);
        bson_append_document_end(&cond, &in);
    }
    bson_append_document_end(&and_list, &cond);
    bson_append_array_end(filter, &and_list);
    bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "_id", BCON_INT32(1), "}",
                            "limit", BCON_INT64((int64_t)max));
    wc_store_status_t result =
        wc_store_find_many(store, WC_COLL_NOTIFICATIONS, filter, opts, max, docs, n);
    bson_destroy(opts);
    bson_destroy(filter);
    return result;
}

wc_store_status_t wc_store_endpoint_rate(wc_store_t *store, const char *endpoint_id,
                                         int64_t *per_second)
{
    *per_second = 0;
    bson_t *doc = NULL;
    wc_store_status_t status = endpoint_by_id(store, endpoint_id, &doc);
    if (status == WC_STORE_OK) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "rateLimit") &&
            (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it))) {
            *per_second = bson_iter_as_int64(&it);
        }
        bson_destroy(doc);
    }
    return status;
}

/* Tries to take one slot; NOT_FOUND when another writer moved the schedule
 * between the reservation and its restart (the caller tries again). */
static wc_store_status_t take_slot(wc_store_t *store, const char *endpoint_id,
                                   int64_t interval_ms, int64_t now_ms, int64_t *slot_ms)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(endpoint_id));
    bson_t *inc = BCON_NEW("$inc", "{", "next", BCON_INT64(interval_ms), "}");
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_and_modify(
        store, WC_COLL_ENDPOINT_PACE, filter, NULL, inc,
        MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW, &doc);
    bson_destroy(inc);
    bson_destroy(filter);
    if (status == WC_STORE_CONFLICT) {
        return WC_STORE_NOT_FOUND; /* two first reservations at once: one created it */
    }
    if (status != WC_STORE_OK) {
        return status;
    }
    bson_iter_t it;
    int64_t next = bson_iter_init_find(&it, doc, "next") ? bson_iter_as_int64(&it) : 0;
    bson_destroy(doc);
    int64_t slot = next - interval_ms;
    if (slot >= now_ms - interval_ms) {
        /* Within one interval of now: a schedule kept up with; sending now
         * is at most one delivery early. */
        *slot_ms = slot > now_ms ? slot : now_ms;
        return WC_STORE_OK;
    }
    /* Every reservation made so far lies in the past: the schedule restarts
     * at now, unless another writer reserved or restarted it meanwhile. */
    filter = BCON_NEW("_id", BCON_UTF8(endpoint_id), "next", BCON_INT64(next));
    bson_t *set = BCON_NEW("$set", "{", "next", BCON_INT64(now_ms + interval_ms), "}");
    status = wc_store_update_one(store, WC_COLL_ENDPOINT_PACE, filter, set);
    bson_destroy(set);
    bson_destroy(filter);
    if (status == WC_STORE_OK) {
        *slot_ms = now_ms;
    }
    return status;
}

wc_store_status_t wc_store_endpoint_pace(wc_store_t *store, const char *endpoint_id,
                                         int64_t interval_ms, int64_t now_ms, int64_t *slot_ms)
{
    wc_store_status_t status = WC_STORE_NOT_FOUND;
    for (int attempt = 0; attempt < 4 && status == WC_STORE_NOT_FOUND; attempt++) {
        status = take_slot(store, endpoint_id, interval_ms, now_ms, slot_ms);
    }
    /* Four writers in a row moved the schedule under us: they are all
     * sending now, so this one waits one interval more. */
    if (status == WC_STORE_NOT_FOUND) {
        *slot_ms = now_ms + interval_ms;
        status = WC_STORE_OK;
    }
    return status;
}

wc_store_status_t wc_store_event_insert(wc_store_t *store, const bson_t *doc, bson_t **existing)
{
    *existing = NULL;
    wc_store_status_t status = wc_store_insert(store, WC_COLL_EVENTS, doc);
    if (status == WC_STORE_CONFLICT) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, "_id") ||
            wc_store_find_by_id(store, WC_COLL_EVENTS, bson_iter_utf8(&it, NULL), existing) !=
                WC_STORE_OK) {
            return WC_STORE_ERROR;
        }
    }
    return status;
}

wc_store_status_t wc_store_event_get(wc_store_t *store, const char *key, bson_t **out)
{
    return wc_store_find_by_id(store, WC_COLL_EVENTS, key, out);
}

wc_store_status_t wc_store_event_fanned_out(wc_store_t *store, const char *id)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *update = BCON_NEW("$set", "{", "fanout", BCON_UTF8("done"), "}", "$unset", "{",
                              "fanoutSince", BCON_UTF8(""), "}");
    wc_store_status_t status = wc_store_update_one(store, WC_COLL_EVENTS, filter, update);
    bson_destroy(filter);
    bson_destroy(update);
    return status;
}

wc_store_status_t wc_store_event_take_stale(wc_store_t *store, int64_t before_ms, int64_t now_ms,
                                            bson_t **out)
{
    /* On FerretDB the equality on `fanout` is what is pushed down; the time
     * condition sits under $and and is checked on the few pending ones
     * (docs/ARCHITECTURE.md §3.4). */
    bson_t *filter = BCON_NEW("fanout", BCON_UTF8("pending"), "$and", "[", "{", "fanoutSince", "{",
                              "$lt", BCON_DATE_TIME(before_ms), "}", "}", "]");
    bson_t *update = BCON_NEW("$set", "{", "fanoutSince", BCON_DATE_TIME(now_ms), "}");
    wc_store_status_t status =
        wc_store_find_and_modify(store, WC_COLL_EVENTS, filter, NULL, update,
                                 MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    bson_destroy(filter);
    bson_destroy(update);
    return status;
}
