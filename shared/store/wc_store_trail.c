#include "wc_store_trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wc_json.h"
#include "wc_log.h"
#include "wc_store_private.h"
#include "wc_time.h"


/* A trail longer than this is cut when read: a notification passes through
 * a few states per attempt, and attempts are bounded by maxRetries. */
#define TRAIL_READ_MAX 200
/* How long a read waits, at most, for a worker's trail write in flight. */
#define TRAIL_GAP_WAITS 5
#define TRAIL_GAP_WAIT_MS 20

int wc_trail_entry_init(wc_trail_entry_t *e, const bson_t *doc, int32_t seq, int from,
                        wc_status_t to, const wc_audit_t *audit, int64_t at_ms)
{
    memset(e, 0, sizeof(*e));
    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, doc, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
        return -1;
    }
    bson_oid_copy(bson_iter_oid(&iter), &e->notification_id);
    const char *tenant = wc_doc_string(doc, "tenantId");
    const char *type = wc_doc_string(doc, "type");
    const char *priority = wc_doc_string(doc, "priority");
    if (tenant == NULL || type == NULL || priority == NULL ||
        wc_channel_parse(type, &e->type) != 0 || wc_priority_parse(priority, &e->priority) != 0) {
        return -1;
    }
    snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant);
    const char *key_hint = wc_doc_string(doc, "apiKey");
    if (wc_key_hint_valid(key_hint)) {
        snprintf(e->key_hint, sizeof(e->key_hint), "%s", key_hint);
    }
    e->created_at_ms = bson_iter_init_find(&iter, doc, "createdAt") &&
                               BSON_ITER_HOLDS_DATE_TIME(&iter)
                           ? bson_iter_date_time(&iter)
                           : at_ms;
    e->seq = seq;
    e->from = from;
    e->to = to;
    e->at_ms = at_ms;
    e->processing_ms = -1;
    snprintf(e->actor, sizeof(e->actor), "%s", audit->actor);
    snprintf(e->message, sizeof(e->message), "%s", audit->message);
    return 0;
}

size_t wc_trail_entries_of_new(const bson_t *doc, wc_trail_entry_t out[2])
{
    int64_t created_seq = wc_doc_int(doc, "createdSeq", 0);
    bson_iter_t iter;
    int64_t created = bson_iter_init_find(&iter, doc, "createdAt") &&
                              BSON_ITER_HOLDS_DATE_TIME(&iter)
                          ? bson_iter_date_time(&iter)
                          : 0;
    int64_t scheduled = bson_iter_init_find(&iter, doc, "scheduledAt") &&
                                BSON_ITER_HOLDS_DATE_TIME(&iter)
                            ? bson_iter_date_time(&iter)
                            : -1;
    if (created_seq == 1) {
        char message[80];
        char when[WC_ISO8601_LEN];
        wc_time_format_iso8601(scheduled, when, sizeof(when));
        snprintf(message, sizeof(message), "Notification scheduled for %s", when);
        const wc_audit_t step = {.actor = "api", .message = message};
        return wc_trail_entry_init(&out[0], doc, 1, -1, WC_STATUS_SCHEDULED, &step, created) == 0
                   ? 1
                   : 0;
    }
    const wc_audit_t created_step = {.actor = "api", .message = WC_MESSAGE_CREATED};
    const wc_audit_t queued_step = {.actor = "api", .message = WC_MESSAGE_QUEUED};
    if (created_seq != 2 ||
        wc_trail_entry_init(&out[0], doc, 1, -1, WC_STATUS_PENDING, &created_step, created) != 0 ||
        wc_trail_entry_init(&out[1], doc, 2, WC_STATUS_PENDING, WC_STATUS_QUEUED, &queued_step,
                            created) != 0) {
        return 0;
    }
    return 2;
}

bool wc_trail_entry_append_last(bson_t *parent, const wc_trail_entry_t *e)
{
    bson_t last;
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(parent, "last", &last);
    ok = ok && BSON_APPEND_UTF8(&last, "status", wc_status_name(e->to));
    ok = ok && BSON_APPEND_UTF8(&last, "message", e->message);
    ok = ok && BSON_APPEND_UTF8(&last, "actor", e->actor);
    ok = ok && BSON_APPEND_DATE_TIME(&last, "timestamp", e->at_ms);
    return bson_append_document_end(parent, &last) && ok;
}

static void entry_id(const bson_oid_t *notification_id, int32_t seq, char out[40])
{
    char hex[25];
    bson_oid_to_string(notification_id, hex);
    snprintf(out, 40, "%s:%d", hex, (int)seq);
}

bson_t *wc_trail_entry_document(const wc_trail_entry_t *e)
{
    char id[40];
    entry_id(&e->notification_id, e->seq, id);
    /* Only what a reader shows: every field costs FerretDB a conversion per
     * entry, and the entries are the bulk of what WaveCom inserts. */
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "notificationId", BCON_OID(&e->notification_id),
                           "seq", BCON_INT32(e->seq), "status", BCON_UTF8(wc_status_name(e->to)));
    if (e->from >= 0) {
        BSON_APPEND_UTF8(doc, "from", wc_status_name((wc_status_t)e->from));
    }
    BSON_APPEND_UTF8(doc, "message", e->message);
    BSON_APPEND_UTF8(doc, "actor", e->actor);
    BSON_APPEND_DATE_TIME(doc, "timestamp", e->at_ms);
    return doc;
}

wc_store_status_t wc_store_trail_append(wc_store_t *store, const wc_trail_entry_t *entries,
                                        size_t n)
{
    if (n == 0) {
        return WC_STORE_OK;
    }
    bson_t **docs = calloc(n, sizeof(*docs));
    wc_store_status_t *statuses = calloc(n, sizeof(*statuses));
    bool *stored_before = calloc(n, sizeof(*stored_before));
    bool ok = docs != NULL && statuses != NULL && stored_before != NULL;
    for (size_t i = 0; i < n && ok; i++) {
        docs[i] = wc_trail_entry_document(&entries[i]);
    }
    if (ok) {
        (void)wc_store_insert_many(store, WC_COLL_TRAIL, (const bson_t *const *)docs, n, statuses);
        /* An entry already stored (a retry, a repair) counts as written. */
        for (size_t i = 0; i < n && ok; i++) {
            stored_before[i] = statuses[i] == WC_STORE_CONFLICT;
            ok = statuses[i] != WC_STORE_ERROR;
        }
    }
    if (ok) {
        /* Each change is counted once: by the write that stored its entry. */
        wc_store_trail_count(store, entries, n, stored_before);
    } else {
        wc_log_error("writing %zu audit trail entries failed", n);
    }
    for (size_t i = 0; docs != NULL && i < n; i++) {
        bson_destroy(docs[i]);
    }
    free(docs);
    free(statuses);
    free(stored_before);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}

/* The API's form of a trail entry (stored, or the document's `last`). */
static json_object *entry_json(const bson_t *entry, const char *notification_hex,
                               int32_t seq)
{
    json_object *out = json_object_new_object();
    char id[40];
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, notification_hex);
    entry_id(&oid, seq, id);
    json_object_object_add(out, "_id", json_object_new_string(id));
    json_object_object_add(out, "notificationId", json_object_new_string(notification_hex));
    static const char *const fields[] = {"status", "message", "actor", "timestamp", NULL};
    for (const char *const *f = fields; *f != NULL; f++) {
        bson_iter_t iter;
        if (bson_iter_init_find(&iter, entry, *f)) {
            json_object_object_add(out, *f, wc_json_from_bson_value(&iter));
        }
    }
    return out;
}

/* An entry in memory as the API shows it. */
static json_object *memory_entry_json(const wc_trail_entry_t *e)
{
    bson_t *doc = wc_trail_entry_document(e);
    char hex[25];
    bson_oid_to_string(&e->notification_id, hex);
    json_object *out = entry_json(doc, hex, e->seq);
    bson_destroy(doc);
    return out;
}

/* The creation's entries (derived from the document) and the stored ones,
 * oldest first, into a new array; *newest is the last seq among them. NULL
 * when the read failed. */
static json_object *read_entries(wc_store_t *store, const bson_t *doc, const bson_oid_t *oid,
                                 const char *hex, int32_t *newest_out)
{
    bson_t *filter = BCON_NEW("notificationId", BCON_OID(oid));
    bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(1), "}", "limit",
                            BCON_INT64(TRAIL_READ_MAX));
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, WC_COLL_TRAIL);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    json_object *logs = json_object_new_array();

    /* The creation's entries are derived from the document (never written),
     * then come the stored ones in order; an entry stored twice (repaired)
     * shows once. */
    wc_trail_entry_t created[2];
    size_t n_created = wc_trail_entries_of_new(doc, created);
    int32_t newest = 0;
    for (size_t i = 0; i < n_created; i++) {
        json_object_array_add(logs, memory_entry_json(&created[i]));
        newest = created[i].seq;
    }
    const bson_t *entry;
    while (mongoc_cursor_next(cursor, &entry)) {
        int32_t seq = (int32_t)wc_doc_int(entry, "seq", 0);
        if (seq > newest) {
            json_object_array_add(logs, entry_json(entry, hex, seq));
            newest = seq;
        }
    }
    bson_error_t error;
    bool failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(opts);
    bson_destroy(filter);
    if (failed) {
        wc_log_error("reading the audit trail of %s failed: %s", hex, error.message);
        json_object_put(logs);
        return NULL;
    }
    *newest_out = newest;
    return logs;
}

json_object *wc_store_trail_read(wc_store_t *store, const bson_t *doc)
{
    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, doc, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
        return json_object_new_array();
    }
    const bson_oid_t *oid = bson_iter_oid(&iter);
    char hex[25];
    bson_oid_to_string(oid, hex);
    int32_t seq = (int32_t)wc_doc_int(doc, "seq", 0);

    /* A worker writes its claim's entry together with its outcome's, just
     * after the outcome (docs/ARCHITECTURE.md §3.2): a read in between finds
     * more than the newest entry missing. A few short waits let that write
     * land, so the trail shows whole; one that stays away (the database
     * failing) leaves the gap after TRAIL_GAP_WAITS waits. */
    int32_t newest = 0;
    json_object *logs = NULL;
    for (int waits = 0;; waits++) {
        logs = read_entries(store, doc, oid, hex, &newest);
        if (logs == NULL || seq <= newest + 1 || waits == TRAIL_GAP_WAITS) {
            break;
        }
        json_object_put(logs);
        struct timespec pause = {0, TRAIL_GAP_WAIT_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (logs == NULL) {
        return NULL;
    }

    /* The latest change is in the document before its entry is written; the
     * document's copy stands in for it. */
    bson_t last;
    uint32_t len = 0;
    const uint8_t *data = NULL;
    if (seq > newest && bson_iter_init_find(&iter, doc, "last") &&
        BSON_ITER_HOLDS_DOCUMENT(&iter)) {
        bson_iter_document(&iter, &len, &data);
        if (bson_init_static(&last, data, len)) {
            json_object_array_add(logs, entry_json(&last, hex, seq));
        }
    }
    return logs;
}

wc_store_status_t wc_store_ensure_trail_indexes(wc_store_t *store)
{
    /* On FerretDB, postgresql.sql indexes notificationId the way its `@>`
     * lookups can use. */
    if (wc_store_is_ferretdb(store)) {
        return WC_STORE_OK;
    }
    bson_t *key = BCON_NEW("notificationId", BCON_INT32(1), "seq", BCON_INT32(1));
    bool ok = wc_store_create_index(store, WC_COLL_TRAIL, key, "notification_seq");
    bson_destroy(key);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}
