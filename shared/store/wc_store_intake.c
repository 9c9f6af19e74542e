/*
 * The intake's writes: bulk inserts and bulk QUEUED marks for the API's group
 * commit, idempotency records, and the scheduler's and sweeper's atomic
 * takes. Only what MongoDB 6/7 and FerretDB 1.24 both support: unordered
 * bulk insert/update, findAndModify with sort, unique _id.
 */
#include <stdio.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_private.h"
#include "wc_store_trail.h"


wc_store_status_t wc_store_ensure_intake_indexes(wc_store_t *store)
{
    /* On FerretDB these serve nothing (wc_store_ensure_indexes says why). */
    if (wc_store_is_ferretdb(store)) {
        return WC_STORE_OK;
    }
    /* The scheduler and the sweeper look across tenants by status and one
     * time field each (wc_store_sweep_candidates), so these four are not
     * tenant-first; the idempotency clean-up deletes by age. */
    bson_t *notifications = BCON_NEW(
        "createIndexes", BCON_UTF8(WC_COLL_NOTIFICATIONS), "indexes", "[",
        "{", "key", "{", "status", BCON_INT32(1), "scheduledAt", BCON_INT32(1), "}", "name",
        BCON_UTF8("status_scheduled"), "}",
        "{", "key", "{", "status", BCON_INT32(1), "updatedAt", BCON_INT32(1), "}", "name",
        BCON_UTF8("status_updated"), "}",
        "{", "key", "{", "status", BCON_INT32(1), "nextAttemptAt", BCON_INT32(1), "}", "name",
        BCON_UTF8("status_next_attempt"), "}",
        "{", "key", "{", "status", BCON_INT32(1), "lease.until", BCON_INT32(1), "}", "name",
        BCON_UTF8("status_lease_until"), "}",
        "{", "key", "{", "tenantId", BCON_INT32(1), "priority", BCON_INT32(1), "createdAt",
        BCON_INT32(-1), "}", "name", BCON_UTF8("tenant_priority_created"), "}",
        "]");
    bson_t *idempotency = BCON_NEW("createIndexes", BCON_UTF8(WC_COLL_IDEMPOTENCY), "indexes", "[",
                                   "{", "key", "{", "createdAt", BCON_INT32(1), "}", "name",
                                   BCON_UTF8("created"), "}", "]");
    mongoc_client_t *client = wc_store_client_take(store);
    bson_error_t error;
    wc_store_status_t status = WC_STORE_OK;
    const bson_t *cmds[] = {notifications, idempotency};
    for (size_t i = 0; i < 2; i++) {
        if (!mongoc_client_write_command_with_opts(client, store->db, cmds[i], NULL, NULL,
                                                   &error)) {
            wc_log_error("createIndexes (intake) failed: %s", error.message);
            status = WC_STORE_ERROR;
            break;
        }
    }
    wc_store_client_give(store, client);
    bson_destroy(notifications);
    bson_destroy(idempotency);
    return status;
}

/* Reads the writeErrors of a bulk reply into statuses[]: each index named is
 * CONFLICT (duplicate key) or ERROR. Returns false when the reply names none
 * (the failure was not per item). */
static bool statuses_from_write_errors(const bson_t *reply, size_t n, wc_store_status_t *statuses)
{
    bson_iter_t iter, errors;
    if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
        !bson_iter_recurse(&iter, &errors)) {
        return false;
    }
    bool any = false;
    while (bson_iter_next(&errors)) {
        bson_iter_t entry;
        if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &entry)) {
            continue;
        }
        int64_t index = -1;
        int64_t code = 0;
        while (bson_iter_next(&entry)) {
            if (strcmp(bson_iter_key(&entry), "index") == 0) {
                index = bson_iter_as_int64(&entry);
            } else if (strcmp(bson_iter_key(&entry), "code") == 0) {
                code = bson_iter_as_int64(&entry);
            }
        }
        if (index >= 0 && (size_t)index < n) {
            statuses[index] = code == MONGO_DUPLICATE_KEY ? WC_STORE_CONFLICT : WC_STORE_ERROR;
            any = true;
        }
    }
    return any;
}

wc_store_status_t wc_store_insert_many(wc_store_t *store, const char *coll_name,
                                     const bson_t *const *docs, size_t n,
                                     wc_store_status_t *statuses)
{
    for (size_t i = 0; i < n; i++) {
        statuses[i] = WC_STORE_OK;
    }
    if (n == 0) {
        return WC_STORE_OK;
    }
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, opts);
    bson_error_t error;
    bool queued = true;
    for (size_t i = 0; i < n && queued; i++) {
        queued = mongoc_bulk_operation_insert_with_opts(bulk, docs[i], NULL, &error);
    }
    wc_store_status_t status = WC_STORE_OK;
    bson_t reply = BSON_INITIALIZER;
    if (!queued) {
        /* A document the driver refuses (validation); nothing was sent. */
        wc_log_error("bulk insert into %s refused by the driver: %s", coll_name, error.message);
        for (size_t i = 0; i < n; i++) {
            statuses[i] = WC_STORE_ERROR;
        }
        status = WC_STORE_ERROR;
    } else if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0) {
        status = WC_STORE_ERROR;
        if (!statuses_from_write_errors(&reply, n, statuses)) {
            wc_log_error("bulk insert of %zu into %s failed: %s", n, coll_name, error.message);
            for (size_t i = 0; i < n; i++) {
                statuses[i] = WC_STORE_ERROR;
            }
        }
    }
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

wc_store_status_t wc_store_insert_notifications(wc_store_t *store, const bson_t *const *docs,
                                                size_t n, wc_store_status_t *statuses)
{
    return wc_store_insert_many(store, WC_COLL_NOTIFICATIONS, docs, n, statuses);
}

wc_store_status_t wc_store_insert_idempotency_records(wc_store_t *store,
                                                      const bson_t *const *records, size_t n,
                                                      wc_store_status_t *statuses)
{
    return wc_store_insert_many(store, WC_COLL_IDEMPOTENCY, records, n, statuses);
}

wc_store_status_t wc_store_mark_queued_many(wc_store_t *store, const bson_oid_t *ids, size_t n,
                                            const char *actor, int64_t now_ms)
{
    const wc_transition_t t = {
        .to = WC_STATUS_QUEUED,
        .audit = {.actor = actor, .message = "Added to queue"},
    };
    wc_store_status_t status = WC_STORE_OK;
    for (size_t i = 0; i < n; i++) {
        bson_t *filter = wc_store_id_filter(&ids[i], "PENDING");
        if (wc_store_transition(store, filter, &t, now_ms, NULL) == WC_STORE_ERROR) {
            status = WC_STORE_ERROR;
        }
        bson_destroy(filter);
    }
    return status;
}

/* ---- the outbox: one record per group commit (docs/ARCHITECTURE.md §3.2) ---- */

wc_store_status_t wc_store_outbox_open(wc_store_t *store, const bson_oid_t *ids, size_t n,
                                       int64_t now_ms, bson_oid_t *record_id)
{
    bson_oid_init(record_id, NULL);
    bson_t *doc = BCON_NEW("_id", BCON_OID(record_id), "createdAt", BCON_DATE_TIME(now_ms));
    bson_t list;
    BSON_APPEND_ARRAY_BEGIN(doc, "ids", &list);
    for (size_t i = 0; i < n; i++) {
        char key[16];
        const char *k = NULL;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
        BSON_APPEND_OID(&list, k, &ids[i]);
    }
    bson_append_array_end(doc, &list);
    wc_store_status_t status = wc_store_insert(store, WC_COLL_OUTBOX, doc);
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_outbox_close(wc_store_t *store, const bson_oid_t *record_id)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(record_id));
    wc_store_status_t status = wc_store_delete(store, WC_COLL_OUTBOX, filter, false, NULL);
    bson_destroy(filter);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}

wc_store_status_t wc_store_outbox_keep(wc_store_t *store, const bson_oid_t *record_id,
                                       const bson_oid_t *ids, size_t n)
{
    bson_t *update = bson_new();
    bson_t set, list;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    BSON_APPEND_ARRAY_BEGIN(&set, "ids", &list);
    for (size_t i = 0; i < n; i++) {
        char key[16];
        const char *k = NULL;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
        BSON_APPEND_OID(&list, k, &ids[i]);
    }
    bson_append_array_end(&set, &list);
    bson_append_document_end(update, &set);
    bson_t *filter = BCON_NEW("_id", BCON_OID(record_id));
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, WC_COLL_OUTBOX);
    bson_error_t error;
    bool ok = mongoc_collection_update_one(coll, filter, update, NULL, NULL, &error);
    if (!ok) {
        wc_log_error("narrowing outbox record failed: %s", error.message);
    }
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(filter);
    bson_destroy(update);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}

/* ---- idempotency ---- */

static void record_id(const char *tenant_id, const char *key, char *out, size_t len)
{
    snprintf(out, len, "%s:%s", tenant_id, key);
}

/* Tenant ids are 24 hex digits and keys at most 255 characters. */
#define RECORD_ID_MAX 300

bson_t *wc_store_idempotency_document(const char *tenant_id, const char *key,
                                      const char *request_hash, const bson_oid_t *notification_id,
                                      int64_t now_ms)
{
    char id[RECORD_ID_MAX];
    record_id(tenant_id, key, id, sizeof(id));
    return BCON_NEW("_id", BCON_UTF8(id), "tenantId", BCON_UTF8(tenant_id), "key", BCON_UTF8(key),
                    "requestHash", BCON_UTF8(request_hash), "notificationId",
                    BCON_OID(notification_id), "createdAt", BCON_DATE_TIME(now_ms));
}

wc_store_status_t wc_store_idempotency_get(wc_store_t *store, const char *tenant_id,
                                           const char *key, wc_idempotency_record_t *out)
{
    char id[RECORD_ID_MAX];
    record_id(tenant_id, key, id, sizeof(id));
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_by_id(store, WC_COLL_IDEMPOTENCY, id, &doc);
    if (status != WC_STORE_OK) {
        return status;
    }
    memset(out, 0, sizeof(*out));
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "notificationId") && BSON_ITER_HOLDS_OID(&iter)) {
        bson_oid_to_string(bson_iter_oid(&iter), out->notification_id);
    }
    const char *hash = wc_doc_string(doc, "requestHash");
    snprintf(out->request_hash, sizeof(out->request_hash), "%s", hash != NULL ? hash : "");
    if (bson_iter_init_find(&iter, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
        out->created_at_ms = bson_iter_date_time(&iter);
    }
    bson_destroy(doc);
    return WC_STORE_OK;
}

wc_store_status_t wc_store_delete(wc_store_t *store, const char *coll_name,
                                      const bson_t *filter, bool many, int64_t *deleted)
{
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_t reply;
    bson_error_t error;
    bool ok = many ? mongoc_collection_delete_many(coll, filter, NULL, &reply, &error)
                   : mongoc_collection_delete_one(coll, filter, NULL, &reply, &error);
    wc_store_status_t status = WC_STORE_ERROR;
    if (!ok) {
        wc_log_error("delete from %s failed: %s", coll_name, error.message);
    } else {
        bson_iter_t iter;
        int64_t n = 0;
        if (bson_iter_init_find(&iter, &reply, "deletedCount")) {
            n = bson_iter_as_int64(&iter);
        }
        if (deleted != NULL) {
            *deleted = n;
        }
        status = n > 0 ? WC_STORE_OK : WC_STORE_NOT_FOUND;
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

wc_store_status_t wc_store_idempotency_release(wc_store_t *store, const char *tenant_id,
                                               const char *key, const char *notification_id)
{
    if (!bson_oid_is_valid(notification_id, strlen(notification_id))) {
        return WC_STORE_NOT_FOUND;
    }
    char id[RECORD_ID_MAX];
    record_id(tenant_id, key, id, sizeof(id));
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, notification_id);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "notificationId", BCON_OID(&oid));
    wc_store_status_t status = wc_store_delete(store, WC_COLL_IDEMPOTENCY, filter, false, NULL);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_idempotency_purge(wc_store_t *store, int64_t before_ms,
                                             int64_t *deleted)
{
    *deleted = 0;
    bson_t *filter = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(before_ms), "}");
    wc_store_status_t status = wc_store_delete(store, WC_COLL_IDEMPOTENCY, filter, true, deleted);
    bson_destroy(filter);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}

/* ---- scheduler and sweeper ---- */

/* The field a sweep of `status` reads its time from; NULL for the others. */
static const char *sweep_field(wc_status_t status)
{
    switch (status) {
    case WC_STATUS_SCHEDULED:
        return "scheduledAt";
    case WC_STATUS_PENDING:
        return "updatedAt";
    case WC_STATUS_RETRYING:
        return "nextAttemptAt";
    case WC_STATUS_PROCESSING:
        return "lease.until";
    default:
        return NULL;
    }
}

wc_store_status_t wc_store_sweep_candidates(wc_store_t *store, wc_status_t status,
                                            int64_t before_ms, bson_oid_t *ids, size_t max,
                                            size_t *n)
{
    *n = 0;
    const char *field = sweep_field(status);
    if (field == NULL || max == 0) {
        return WC_STORE_OK;
    }
    bson_t *filter = BCON_NEW("status", BCON_UTF8(wc_status_name(status)), field, "{", "$lt",
                              BCON_DATE_TIME(before_ms), "}");
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), field, BCON_INT32(1), "}",
                            "sort", "{", field, BCON_INT32(1), "}", "limit",
                            BCON_INT64((int64_t)max));
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, WC_COLL_NOTIFICATIONS);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    while (*n < max && mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t iter;
        if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_OID(&iter)) {
            bson_oid_copy(bson_iter_oid(&iter), &ids[(*n)++]);
        }
    }
    bson_error_t error;
    wc_store_status_t result = WC_STORE_OK;
    if (mongoc_cursor_error(cursor, &error)) {
        wc_log_error("looking for %s notifications to sweep failed: %s", wc_status_name(status),
                     error.message);
        result = WC_STORE_ERROR;
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return result;
}

/* Notification `id` while it is in `status` with its sweep time before
 * `before_ms`: the conditions under $and, checked on the one document _id
 * finds (as wc_store_id_filter). */
static bson_t *sweep_filter(const bson_oid_t *id, wc_status_t status, int64_t before_ms)
{
    return BCON_NEW("_id", BCON_OID(id), "$and", "[", "{", "status",
                    BCON_UTF8(wc_status_name(status)), "}", "{", sweep_field(status), "{", "$lt",
                    BCON_DATE_TIME(before_ms), "}", "}", "]");
}

wc_store_status_t wc_store_release_due(wc_store_t *store, const bson_oid_t *id, int64_t now_ms,
                                       bson_t **out)
{
    bson_t *filter = sweep_filter(id, WC_STATUS_SCHEDULED, now_ms + 1);
    const wc_transition_t t = {
        .to = WC_STATUS_PENDING,
        .audit = {.actor = "api:scheduler", .message = "Scheduled time reached; releasing"},
    };
    wc_trail_entry_t entries[WC_TRANSITION_ENTRIES_MAX];
    size_t n = 0;
    wc_store_status_t status =
        wc_store_transition_deferred(store, filter, &t, now_ms, out, entries, &n);
    if (status == WC_STORE_OK) {
        (void)wc_store_trail_append(store, entries, n);
    }
    bson_destroy(filter);
    return status;
}

/* Takes the outbox record of a group commit that has stayed open since
 * before `stale_before_ms` (its API instance died, or the broker failed
 * during its publish): moves its createdAt to `now_ms` and counts
 * sweepCount atomically, so another instance passes it over for the same
 * period. OK with *out; NOT_FOUND when none is stale. The outbox holds only
 * open commits, so its scan is short on every database. */
wc_store_status_t wc_store_outbox_take_stale(wc_store_t *store, int64_t stale_before_ms,
                                             int64_t now_ms, bson_t **out)
{
    *out = NULL;
    bson_t *filter = BCON_NEW("createdAt", "{", "$lt", BCON_DATE_TIME(stale_before_ms), "}");
    bson_t *sort = BCON_NEW("createdAt", BCON_INT32(1));
    bson_t *update = BCON_NEW("$set", "{", "createdAt", BCON_DATE_TIME(now_ms), "}", "$inc", "{",
                              "sweepCount", BCON_INT32(1), "}");
    wc_store_status_t status = wc_store_find_and_modify(store, WC_COLL_OUTBOX, filter, sort, update, MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    bson_destroy(update);
    bson_destroy(sort);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_take_stale_pending(wc_store_t *store, const bson_oid_t *id,
                                              int64_t stale_before_ms, int64_t now_ms,
                                              bson_t **out)
{
    bson_t *filter = sweep_filter(id, WC_STATUS_PENDING, stale_before_ms);
    bson_t *update = BCON_NEW("$set", "{", "updatedAt", BCON_DATE_TIME(now_ms), "}", "$inc", "{",
                              "republishCount", BCON_INT32(1), "}");
    wc_store_status_t status =
        wc_store_find_and_modify(store, WC_COLL_NOTIFICATIONS, filter, NULL, update, MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    bson_destroy(update);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_take_overdue(wc_store_t *store, const bson_oid_t *id,
                                        wc_status_t status, int64_t overdue_before_ms,
                                        int64_t now_ms, bson_t **out)
{
    *out = NULL;
    if (status != WC_STATUS_RETRYING && status != WC_STATUS_PROCESSING) {
        return WC_STORE_NOT_FOUND;
    }
    bson_t *filter = sweep_filter(id, status, overdue_before_ms);
    bson_t *update = BCON_NEW("$set", "{", sweep_field(status), BCON_DATE_TIME(now_ms), "}",
                              "$inc", "{", "sweepCount", BCON_INT32(1), "}");
    wc_store_status_t result =
        wc_store_find_and_modify(store, WC_COLL_NOTIFICATIONS, filter, NULL, update, MONGOC_FIND_AND_MODIFY_RETURN_NEW, out);
    bson_destroy(update);
    bson_destroy(filter);
    return result;
}
