#include "wc_store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_lifecycle.h"
#include "wc_log.h"
#include "wc_store_trail.h"

/* libmongoc's bound on a pool when the URI sets no maxPoolSize. */
#define LIBMONGOC_DEFAULT_MAX_POOL_SIZE 100

/* libmongoc's duplicate-key error code. */

/* Bounds on every network wait, unless the URI sets its own. */
static const struct {
    const char *option;
    int32_t value;
} default_timeouts[] = {
    {MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000},
    {MONGOC_URI_CONNECTTIMEOUTMS, 3000},
    {MONGOC_URI_SOCKETTIMEOUTMS, 15000},
};

/* libmongoc's own log lines join ours as JSON. FerretDB does not implement
 * endSessions, which the driver sends at shutdown; that is not worth a warning. */
static void on_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
                          void *data)
{
    (void)data;
    wc_log_level_t ours = level <= MONGOC_LOG_LEVEL_WARNING ? WC_LOG_WARN : WC_LOG_DEBUG;
    if (strstr(message, "endSessions") != NULL) {
        ours = WC_LOG_DEBUG;
    }
    wc_log(ours, "libmongoc %s: %s", domain, message);
}

wc_store_t *wc_store_open(const char *uri_string, const char *db, const char *app_name, char *err,
                          size_t err_len)
{
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_string, &error);
    if (uri == NULL) {
        snprintf(err, err_len, "invalid MongoDB URI: %s", error.message);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(default_timeouts) / sizeof(default_timeouts[0]); i++) {
        if (!mongoc_uri_has_option(uri, default_timeouts[i].option)) {
            mongoc_uri_set_option_as_int32(uri, default_timeouts[i].option, default_timeouts[i].value);
        }
    }
    mongoc_uri_set_appname(uri, app_name);
    mongoc_log_set_handler(on_mongoc_log, NULL);
    int32_t pool_max = mongoc_uri_get_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE,
                                                      LIBMONGOC_DEFAULT_MAX_POOL_SIZE);

    wc_store_t *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        mongoc_uri_destroy(uri);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&store->counting_lock, NULL);
    store->pool = mongoc_client_pool_new(uri);
    mongoc_uri_destroy(uri);
    if (store->pool == NULL) {
        free(store);
        snprintf(err, err_len, "cannot create a MongoDB client pool");
        return NULL;
    }
    mongoc_client_pool_set_error_api(store->pool, MONGOC_ERROR_API_VERSION_2);
    snprintf(store->db, sizeof(store->db), "%s", db);
    store->pool_max = pool_max;
    store->in_use = &store->own_in_use;
    store->waits = &store->own_waits;
    return store;
}

mongoc_client_t *wc_store_client_take(wc_store_t *store)
{
    mongoc_client_t *client = mongoc_client_pool_try_pop(store->pool);
    if (client == NULL) {
        /* Every connection is busy: this caller queues behind them. */
        atomic_fetch_add_explicit(store->waits, 1, memory_order_relaxed);
        client = mongoc_client_pool_pop(store->pool);
    }
    atomic_fetch_add_explicit(store->in_use, 1, memory_order_relaxed);
    return client;
}

void wc_store_client_give(wc_store_t *store, mongoc_client_t *client)
{
    atomic_fetch_sub_explicit(store->in_use, 1, memory_order_relaxed);
    mongoc_client_pool_push(store->pool, client);
}

void wc_store_pool_stats(wc_store_t *store, wc_store_pool_stats_t *out)
{
    out->in_use = atomic_load_explicit(store->in_use, memory_order_relaxed);
    out->max = store->pool_max;
    out->waits = atomic_load_explicit(store->waits, memory_order_relaxed);
}

void wc_store_count_pool_into(wc_store_t *store, _Atomic int64_t *in_use,
                              _Atomic uint64_t *waits)
{
    store->in_use = in_use;
    store->waits = waits;
}

void wc_store_close(wc_store_t *store)
{
    if (store == NULL) {
        return;
    }
    (void)wc_store_counters_flush(store, true);
    mongoc_client_pool_destroy(store->pool);
    free(store->counted);
    pthread_mutex_destroy(&store->counting_lock);
    free(store);
}

bool wc_store_ping(wc_store_t *store)
{
    mongoc_client_t *client = wc_store_client_take(store);
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t error;
    bool ok = mongoc_client_command_simple(client, store->db, cmd, NULL, NULL, &error);
    bson_destroy(cmd);
    wc_store_client_give(store, client);
    return ok;
}

bool wc_store_create_index(wc_store_t *store, const char *coll, const bson_t *key,
                           const char *name)
{
    bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8(coll), "indexes", "[", "{", "key",
                           BCON_DOCUMENT(key), "name", BCON_UTF8(name), "}", "]");
    mongoc_client_t *client = wc_store_client_take(store);
    bson_error_t error;
    bool ok = mongoc_client_write_command_with_opts(client, store->db, cmd, NULL, NULL, &error);
    wc_store_client_give(store, client);
    bson_destroy(cmd);
    if (!ok) {
        wc_log_error("createIndexes %s on %s failed: %s", name, coll, error.message);
    }
    return ok;
}

bool wc_store_is_ferretdb(wc_store_t *store)
{
    int kind = atomic_load(&store->server_kind);
    if (kind != 0) {
        return kind == 2;
    }
    mongoc_client_t *client = wc_store_client_take(store);
    bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t reply;
    bson_error_t error;
    if (mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error)) {
        bson_iter_t iter;
        kind = bson_iter_init_find(&iter, &reply, "ferretdbVersion") ? 2 : 1;
        atomic_store(&store->server_kind, kind);
    } else {
        wc_log_warn("buildInfo failed (%s); taking the server for MongoDB", error.message);
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
    wc_store_client_give(store, client);
    return kind == 2;
}

wc_store_status_t wc_store_ensure_indexes(wc_store_t *store)
{
    /* FerretDB filters with `@>` over JSON, which these btree indexes cannot
     * serve; they would only make every status change slower there.
     * deploy/ferretdb/postgresql.sql gives it the indexes it can use. */
    if (wc_store_is_ferretdb(store)) {
        return wc_store_ensure_trail_indexes(store);
    }
    /* The WaveCom specification's compound indexes, each scoped by tenant first. */
    bson_t *cmd = BCON_NEW(
        "createIndexes", BCON_UTF8(WC_COLL_NOTIFICATIONS), "indexes", "[",
        "{", "key", "{", "tenantId", BCON_INT32(1), "type", BCON_INT32(1), "status", BCON_INT32(1),
        "createdAt", BCON_INT32(-1), "}", "name", BCON_UTF8("tenant_type_status_created"), "}",
        "{", "key", "{", "tenantId", BCON_INT32(1), "status", BCON_INT32(1), "priority",
        BCON_INT32(-1), "createdAt", BCON_INT32(-1), "}", "name",
        BCON_UTF8("tenant_status_priority_created"), "}",
        "{", "key", "{", "tenantId", BCON_INT32(1), "recipient", BCON_INT32(1), "createdAt",
        BCON_INT32(-1), "}", "name", BCON_UTF8("tenant_recipient_created"), "}",
        "{", "key", "{", "tenantId", BCON_INT32(1), "createdAt", BCON_INT32(-1), "}", "name",
        BCON_UTF8("tenant_created"), "}",
        "]");
    mongoc_client_t *client = wc_store_client_take(store);
    bson_error_t error;
    bool ok = mongoc_client_write_command_with_opts(client, store->db, cmd, NULL, NULL, &error);
    wc_store_client_give(store, client);
    bson_destroy(cmd);
    if (!ok) {
        wc_log_error("createIndexes failed: %s", error.message);
        return WC_STORE_ERROR;
    }
    return wc_store_ensure_trail_indexes(store);
}

wc_store_status_t wc_store_insert(wc_store_t *store, const char *coll_name, const bson_t *doc)
{
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_error_t error;
    bson_t reply;
    bool ok = mongoc_collection_insert_one(coll, doc, NULL, &reply, &error);
    wc_store_status_t status = WC_STORE_OK;
    if (!ok) {
        status = error.code == MONGO_DUPLICATE_KEY ? WC_STORE_CONFLICT : WC_STORE_ERROR;
        if (status == WC_STORE_ERROR) {
            wc_log_error("insert into %s failed: %s", coll_name, error.message);
        }
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

wc_store_status_t wc_store_find_one(wc_store_t *store, const char *coll_name, const bson_t *filter,
                                    bson_t **out)
{
    *out = NULL;
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    wc_store_status_t status = WC_STORE_NOT_FOUND;
    bson_error_t error;
    if (mongoc_cursor_next(cursor, &doc)) {
        *out = bson_copy(doc);
        status = WC_STORE_OK;
    } else if (mongoc_cursor_error(cursor, &error)) {
        wc_log_error("find in %s failed: %s", coll_name, error.message);
        status = WC_STORE_ERROR;
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

wc_store_status_t wc_store_find_each(wc_store_t *store, const char *coll_name, const bson_t *filter,
                                     const bson_t *opts, bool (*each)(const bson_t *doc, void *arg),
                                     void *arg)
{
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bool stopped = false;
    while (!stopped && mongoc_cursor_next(cursor, &doc)) {
        stopped = !each(doc, arg);
    }
    wc_store_status_t status = WC_STORE_OK;
    bson_error_t error;
    if (!stopped && mongoc_cursor_error(cursor, &error)) {
        wc_log_error("find in %s failed: %s", coll_name, error.message);
        status = WC_STORE_ERROR;
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

/* What wc_store_find_many's visitor fills. */
typedef struct {
    bson_t **docs;
    size_t n, cap, max;
    const char *coll;
    bool out_of_memory;
} doc_array_t;

static bool copy_doc(const bson_t *doc, void *arg)
{
    doc_array_t *a = arg;
    if (a->n == a->max) {
        return false;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        bson_t **grown = realloc(a->docs, cap * sizeof(*grown));
        if (grown == NULL) {
            wc_log_error("out of memory reading %s", a->coll);
            a->out_of_memory = true;
            return false;
        }
        a->docs = grown;
        a->cap = cap;
    }
    a->docs[a->n++] = bson_copy(doc);
    return true;
}

wc_store_status_t wc_store_find_many(wc_store_t *store, const char *coll_name, const bson_t *filter,
                                     const bson_t *opts, size_t max, bson_t ***docs_out,
                                     size_t *n_out)
{
    *docs_out = NULL;
    *n_out = 0;
    doc_array_t a = {.max = max, .coll = coll_name};
    wc_store_status_t status = max == 0 ? WC_STORE_OK
                                        : wc_store_find_each(store, coll_name, filter, opts,
                                                             copy_doc, &a);
    if (status != WC_STORE_OK || a.out_of_memory) {
        wc_store_docs_free(a.docs, a.n);
        return WC_STORE_ERROR;
    }
    *docs_out = a.docs;
    *n_out = a.n;
    return WC_STORE_OK;
}

wc_store_status_t wc_store_find_and_modify(wc_store_t *store, const char *coll_name,
                                           const bson_t *filter, const bson_t *sort,
                                           const bson_t *update,
                                           mongoc_find_and_modify_flags_t flags, bson_t **out)
{
    *out = NULL;
    mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(opts, update);
    if (sort != NULL) {
        mongoc_find_and_modify_opts_set_sort(opts, sort);
    }
    mongoc_find_and_modify_opts_set_flags(opts, flags);
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_t reply;
    bson_error_t error;
    wc_store_status_t status = WC_STORE_NOT_FOUND;
    if (!mongoc_collection_find_and_modify_with_opts(coll, filter, opts, &reply, &error)) {
        wc_log_error("findAndModify on %s failed: %s", coll_name, error.message);
        status = WC_STORE_ERROR;
    } else {
        bson_iter_t iter;
        if (bson_iter_init_find(&iter, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
            uint32_t len = 0;
            const uint8_t *data = NULL;
            bson_iter_document(&iter, &len, &data);
            *out = bson_new_from_data(data, len);
            status = *out != NULL ? WC_STORE_OK : WC_STORE_ERROR;
        }
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    mongoc_find_and_modify_opts_destroy(opts);
    return status;
}

wc_store_status_t wc_store_update_one(wc_store_t *store, const char *coll_name,
                                      const bson_t *filter, const bson_t *update)
{
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_t reply;
    bson_error_t error;
    wc_store_status_t status = WC_STORE_OK;
    if (!mongoc_collection_update_one(coll, filter, update, NULL, &reply, &error)) {
        wc_log_error("update in %s failed: %s", coll_name, error.message);
        status = WC_STORE_ERROR;
    } else {
        bson_iter_t iter;
        if (!bson_iter_init_find(&iter, &reply, "matchedCount") ||
            bson_iter_as_int64(&iter) == 0) {
            status = WC_STORE_NOT_FOUND;
        }
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

/* Two writers creating the same new document: one upsert loses with a
 * duplicate key and applied nothing; the document exists now, so the same
 * upsert again is a plain update. True when every write error of `reply`
 * was that and its retry succeeded. */
static bool retry_lost_upserts(mongoc_collection_t *coll, const bson_t *reply,
                               const char *const *ids, bson_t *const *updates, size_t n)
{
    bson_iter_t iter, errs;
    if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
        !bson_iter_recurse(&iter, &errs)) {
        return false;
    }
    while (bson_iter_next(&errs)) {
        bson_t err_doc;
        uint32_t len = 0;
        const uint8_t *data = NULL;
        if (!BSON_ITER_HOLDS_DOCUMENT(&errs)) {
            return false;
        }
        bson_iter_document(&errs, &len, &data);
        if (!bson_init_static(&err_doc, data, len)) {
            return false;
        }
        int64_t index = wc_doc_int(&err_doc, "index", -1);
        if (wc_doc_int(&err_doc, "code", 0) != MONGO_DUPLICATE_KEY || index < 0 ||
            (size_t)index >= n) {
            return false;
        }
        bson_t *selector = BCON_NEW("_id", BCON_UTF8(ids[index]));
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        bson_error_t error;
        bool ok = mongoc_collection_update_one(coll, selector, updates[index], opts, NULL, &error);
        bson_destroy(opts);
        bson_destroy(selector);
        if (!ok) {
            return false;
        }
    }
    return true;
}

wc_store_status_t wc_store_upsert_many(wc_store_t *store, const char *coll_name,
                                       const char *const *ids, bson_t *const *updates, size_t n,
                                       const char *what)
{
    if (n == 0) {
        return WC_STORE_OK;
    }
    wc_store_status_t status = WC_STORE_ERROR;
    bson_t reply = BSON_INITIALIZER;
    bson_error_t error;
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, coll_name);
    bson_t *bulk_opts = BCON_NEW("ordered", BCON_BOOL(false));
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, bulk_opts);
    bson_destroy(bulk_opts);
    for (size_t i = 0; i < n; i++) {
        bson_t *selector = BCON_NEW("_id", BCON_UTF8(ids[i]));
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        bool ok = mongoc_bulk_operation_update_one_with_opts(bulk, selector, updates[i], opts,
                                                             &error);
        bson_destroy(opts);
        bson_destroy(selector);
        if (!ok) {
            wc_log_error("%s: building the bulk write failed: %s", what, error.message);
            goto out;
        }
    }
    if (mongoc_bulk_operation_execute(bulk, &reply, &error) != 0 ||
        retry_lost_upserts(coll, &reply, ids, updates, n)) {
        status = WC_STORE_OK;
    } else {
        wc_log_error("%s: bulk write of %zu upserts failed: %s", what, n, error.message);
    }
out:
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

wc_store_status_t wc_store_insert_notification(wc_store_t *store, const bson_t *doc)
{
    return wc_store_insert(store, WC_COLL_NOTIFICATIONS, doc);
}

wc_store_status_t wc_store_get_notification(wc_store_t *store, const char *tenant_id,
                                            const bson_oid_t *id, bson_t **out)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(id), "tenantId", BCON_UTF8(tenant_id));
    wc_store_status_t status = wc_store_find_one(store, WC_COLL_NOTIFICATIONS, filter, out);
    bson_destroy(filter);
    return status;
}

/* The update that applies `t` to a document whose previous change was number
 * `seq - 1`: the new status, the entry of this change as `last`, seq + 1 (+ 2
 * when the change passes through `via`), and the caller's own fields. */
static bson_t *transition_update(const wc_transition_t *t, const wc_trail_entry_t *entry,
                                 int64_t now_ms)
{
    bson_t *update = bson_new();
    bson_t set, unset, inc;

    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    BSON_APPEND_UTF8(&set, "status", wc_status_name(t->to));
    BSON_APPEND_DATE_TIME(&set, "updatedAt", now_ms);
    wc_trail_entry_append_last(&set, entry);
    if (t->set != NULL) {
        bson_concat(&set, t->set);
    }
    bson_append_document_end(update, &set);

    if (t->unset_lease) {
        BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &unset);
        BSON_APPEND_UTF8(&unset, "lease", "");
        bson_append_document_end(update, &unset);
    }
    BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
    BSON_APPEND_INT32(&inc, "seq", t->via_audit != NULL ? 2 : 1);
    if (t->inc_retry) {
        BSON_APPEND_INT32(&inc, "retryCount", 1);
    }
    bson_append_document_end(update, &inc);
    return update;
}

/* The status a document is in, or -1. */
static int doc_status(const bson_t *doc)
{
    const char *name = wc_doc_string(doc, "status");
    wc_status_t status;
    return name != NULL && wc_status_parse(name, &status) == 0 ? (int)status : -1;
}

/* The entry of change `seq` as the document's `last` holds it. */
static int trail_entry_from_last(wc_trail_entry_t *e, const bson_t *doc, int32_t seq)
{
    bson_iter_t iter, last;
    if (!bson_iter_init_find(&iter, doc, "last") || !BSON_ITER_HOLDS_DOCUMENT(&iter) ||
        !bson_iter_recurse(&iter, &last)) {
        return -1;
    }
    const char *status = NULL, *actor = NULL, *message = NULL;
    int64_t at = 0;
    while (bson_iter_next(&last)) {
        const char *key = bson_iter_key(&last);
        if (BSON_ITER_HOLDS_UTF8(&last) && strcmp(key, "status") == 0) {
            status = bson_iter_utf8(&last, NULL);
        } else if (BSON_ITER_HOLDS_UTF8(&last) && strcmp(key, "actor") == 0) {
            actor = bson_iter_utf8(&last, NULL);
        } else if (BSON_ITER_HOLDS_UTF8(&last) && strcmp(key, "message") == 0) {
            message = bson_iter_utf8(&last, NULL);
        } else if (BSON_ITER_HOLDS_DATE_TIME(&last) && strcmp(key, "timestamp") == 0) {
            at = bson_iter_date_time(&last);
        }
    }
    wc_status_t to;
    if (status == NULL || actor == NULL || message == NULL || wc_status_parse(status, &to) != 0) {
        return -1;
    }
    const wc_audit_t audit = {.actor = actor, .message = message};
    return wc_trail_entry_init(e, doc, seq, WC_TRAIL_FROM_UNKNOWN, to, &audit, at);
}

/* Whether the change `t` made to a document that was in `from` is a move of
 * the lifecycle table (through `via` when it records one). A change that
 * keeps the status (an audit entry such as a purge) is not a move. */
static bool moves_in_lifecycle(int from, const wc_transition_t *t)
{
    if (from < 0) {
        return false;
    }
    wc_status_t start = (wc_status_t)from;
    if (t->via_audit != NULL) {
        return wc_status_may_move(start, t->via) && wc_status_may_move(t->via, t->to);
    }
    return start == t->to || wc_status_may_move(start, t->to);
}

wc_store_status_t wc_store_transition_deferred(wc_store_t *store, const bson_t *filter,
                                               const wc_transition_t *t, int64_t now_ms,
                                               bson_t **before,
                                               wc_trail_entry_t entries[WC_TRANSITION_ENTRIES_MAX],
                                               size_t *n_entries)
{
    *before = NULL;
    *n_entries = 0;
    /* `last` needs only what the change says; its number comes from the
     * document before the change, which findAndModify returns. */
    wc_trail_entry_t last = {.to = t->to, .at_ms = now_ms};
    snprintf(last.actor, sizeof(last.actor), "%s", t->audit.actor);
    snprintf(last.message, sizeof(last.message), "%s", t->audit.message);
    bson_t *update = transition_update(t, &last, now_ms);
    wc_store_status_t status = wc_store_find_and_modify(
        store, WC_COLL_NOTIFICATIONS, filter, NULL, update, MONGOC_FIND_AND_MODIFY_NONE, before);
    bson_destroy(update);
    if (status != WC_STORE_OK) {
        return status;
    }

    int32_t seq = (int32_t)wc_doc_int(*before, "seq", 0);
    int from = doc_status(*before);
    if (!moves_in_lifecycle(from, t)) {
        /* The filter let through a move the lifecycle does not have: a bug
         * in the caller's filter, worth a line; the write stands. */
        wc_log_error("status change %s -> %s is not in the lifecycle table",
                     from >= 0 ? wc_status_name((wc_status_t)from) : "(unknown)",
                     wc_status_name(t->to));
    }
    bool taken_over = from == WC_STATUS_PROCESSING && t->to == WC_STATUS_PROCESSING;
    if ((t->repair_previous || taken_over) && seq > 0 &&
        trail_entry_from_last(&entries[*n_entries], *before, seq) == 0) {
        (*n_entries)++;
    }
    if (t->via_audit != NULL) {
        if (wc_trail_entry_init(&entries[*n_entries], *before, ++seq, from, t->via,
                                t->via_audit, now_ms) == 0) {
            from = (int)t->via;
            (*n_entries)++;
        }
    }
    if (wc_trail_entry_init(&entries[*n_entries], *before, ++seq, from, t->to, &t->audit,
                            now_ms) == 0) {
        /* The stats counters keep the processing times of deliveries
         * (docs/READS.md, "Processing times"). */
        bson_iter_t iter;
        if (t->to == WC_STATUS_SENT && t->set != NULL &&
            bson_iter_init_find(&iter, t->set, "processingTimeMs") &&
            BSON_ITER_HOLDS_NUMBER(&iter)) {
            entries[*n_entries].processing_ms = bson_iter_as_int64(&iter);
        }
        (*n_entries)++;
    }
    return WC_STORE_OK;
}

wc_store_status_t wc_store_transition(wc_store_t *store, const bson_t *filter,
                                      const wc_transition_t *t, int64_t now_ms, bson_t **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    bson_t *before = NULL;
    wc_trail_entry_t entries[WC_TRANSITION_ENTRIES_MAX];
    size_t n = 0;
    wc_store_status_t status =
        wc_store_transition_deferred(store, filter, t, now_ms, &before, entries, &n);
    if (status != WC_STORE_OK) {
        return status;
    }
    /* The change stands whether or not its entry is written now: the
     * document's `last` shows it until then. */
    (void)wc_store_trail_append(store, entries, n);
    bson_iter_t iter;
    if (out != NULL && bson_iter_init_find(&iter, before, "_id")) {
        bson_t by_id = BSON_INITIALIZER;
        bson_append_iter(&by_id, "_id", -1, &iter);
        status = wc_store_find_one(store, WC_COLL_NOTIFICATIONS, &by_id, out);
        bson_destroy(&by_id);
    }
    bson_destroy(before);
    return status;
}

wc_store_status_t wc_store_mark_queued(wc_store_t *store, const bson_oid_t *id, const char *actor,
                                       int64_t now_ms, bson_t **out)
{
    bson_t *filter = wc_store_id_filter(id, "PENDING");
    const wc_transition_t t = {
        .to = WC_STATUS_QUEUED,
        .audit = {.actor = actor, .message = "Added to queue"},
    };
    wc_store_status_t status = wc_store_transition(store, filter, &t, now_ms, out);
    bson_destroy(filter);
    if (status != WC_STORE_NOT_FOUND) {
        return status;
    }
    /* A worker claimed it between the confirm and this write; show it as is. */
    bson_t *by_id = BCON_NEW("_id", BCON_OID(id));
    status = wc_store_find_one(store, WC_COLL_NOTIFICATIONS, by_id, out);
    bson_destroy(by_id);
    return status;
}

void wc_store_new_token(char token[WC_LEASE_TOKEN_LEN])
{
    /* An ObjectId is unique per process and call (counter, pid, time), which
     * is all a token needs: it tells this attempt's writes from any other's. */
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, token);
}

bson_t *wc_store_id_filter(const bson_oid_t *id, const char *status)
{
    if (status == NULL) {
        return BCON_NEW("_id", BCON_OID(id));
    }
    return BCON_NEW("_id", BCON_OID(id), "$and", "[", "{", "status", BCON_UTF8(status), "}", "]");
}

bson_t *wc_store_lease_filter(const bson_oid_t *id, const char *token)
{
    return BCON_NEW("_id", BCON_OID(id), "$and", "[", "{", "status", BCON_UTF8("PROCESSING"), "}",
                    "{", "lease.token", BCON_UTF8(token), "}", "]");
}

/* True when `doc` stands in `status` and its last change was made under `token`. */
static bool changed_under_token(const bson_t *doc, wc_status_t status, const char *token)
{
    const char *last_token = wc_doc_string(doc, "lastToken");
    return doc_status(doc) == (int)status && last_token != NULL && strcmp(last_token, token) == 0;
}

wc_store_status_t wc_store_find_own_change(wc_store_t *store, const bson_oid_t *id,
                                           wc_status_t to, const char *token, bson_t **doc,
                                           wc_trail_entry_t *entry, size_t *n_entries)
{
    *doc = NULL;
    *n_entries = 0;
    bson_t *by_id = BCON_NEW("_id", BCON_OID(id));
    bson_t *found = NULL;
    wc_store_status_t status = wc_store_find_one(store, WC_COLL_NOTIFICATIONS, by_id, &found);
    bson_destroy(by_id);
    if (status != WC_STORE_OK) {
        return status;
    }
    if (!changed_under_token(found, to, token)) {
        bson_destroy(found);
        return WC_STORE_NOT_FOUND;
    }
    /* The change's entry is the document's `last`; written again if it was
     * written already, it is stored once. */
    int32_t seq = (int32_t)wc_doc_int(found, "seq", 0);
    if (seq > 0 && trail_entry_from_last(entry, found, seq) == 0) {
        *n_entries = 1;
    }
    *doc = found;
    return WC_STORE_OK;
}

static wc_store_status_t claim_from(wc_store_t *store, const bson_t *filter, const char *owner,
                                    const char *token, int64_t lease_ms, int64_t now_ms,
                                    const wc_audit_t *queued, bool repair, wc_claim_t *out)
{
    bson_t *set = BCON_NEW("lease", "{", "owner", BCON_UTF8(owner), "until",
                           BCON_DATE_TIME(now_ms + lease_ms), "token", BCON_UTF8(token), "}",
                           "lastToken", BCON_UTF8(token));
    const wc_transition_t t = {
        .to = WC_STATUS_PROCESSING,
        .audit = {.actor = owner, .message = "Worker started processing"},
        .set = set,
        .via_audit = queued,
        .via = WC_STATUS_QUEUED,
        .repair_previous = repair,
    };
    wc_store_status_t status = wc_store_transition_deferred(store, filter, &t, now_ms, &out->doc,
                                                            out->trail, &out->trail_n);
    bson_destroy(set);
    return status;
}

/* One round of claiming; WC_CLAIM_BUSY with *raced set when the document
 * changed state between the attempts and another round may succeed. */
static wc_claim_result_t claim_once(wc_store_t *store, const bson_oid_t *id, const char *owner,
                                    const char *token, int64_t lease_ms, int64_t now_ms,
                                    bool repair, wc_claim_t *out, bool *raced)
{
    *raced = false;
    bson_t *claimable = BCON_NEW(
        "_id", BCON_OID(id), "$or", "[",
        "{", "status", "{", "$in", "[", BCON_UTF8("QUEUED"), BCON_UTF8("RETRYING"), "]", "}", "}",
        "{", "status", BCON_UTF8("PROCESSING"), "lease.until", "{", "$lt", BCON_DATE_TIME(now_ms),
        "}", "}", "]");
    wc_store_status_t status = claim_from(store, claimable, owner, token, lease_ms, now_ms, NULL, repair, out);
    bson_destroy(claimable);
    if (status != WC_STORE_NOT_FOUND) {
        return status == WC_STORE_OK ? WC_CLAIM_OK : WC_CLAIM_ERROR;
    }

    /* A message published by the scheduler or a replay can arrive before
     * QUEUED is recorded. Record it for them in the claim itself, so the
     * trail reads PENDING, QUEUED, PROCESSING; their own QUEUED write then
     * finds nothing to do. */
    bson_t *pending = wc_store_id_filter(id, "PENDING");
    const wc_audit_t queued = {.actor = owner,
                               .message = "Added to queue (received before the API's record)"};
    status = claim_from(store, pending, owner, token, lease_ms, now_ms, &queued, repair, out);
    bson_destroy(pending);
    if (status != WC_STORE_NOT_FOUND) {
        return status == WC_STORE_OK ? WC_CLAIM_OK : WC_CLAIM_ERROR;
    }

    /* Not claimable now: find out whether someone holds it, it is finished,
     * or it moved (e.g. the API recorded QUEUED) between the attempts above. */
    bson_t *by_id = BCON_NEW("_id", BCON_OID(id));
    bson_t *doc = NULL;
    status = wc_store_find_one(store, WC_COLL_NOTIFICATIONS, by_id, &doc);
    bson_destroy(by_id);
    if (status == WC_STORE_ERROR) {
        return WC_CLAIM_ERROR;
    }
    int current = doc != NULL ? doc_status(doc) : -1;
    wc_claim_result_t result = doc == NULL ? WC_CLAIM_MISSING : WC_CLAIM_GONE;
    if (doc != NULL && changed_under_token(doc, WC_STATUS_PROCESSING, token)) {
        /* Our own claim, whose reply was lost: it holds, and its entry is the
         * document's `last`. */
        int32_t seq = (int32_t)wc_doc_int(doc, "seq", 0);
        if (seq > 0 && trail_entry_from_last(&out->trail[0], doc, seq) == 0) {
            out->trail_n = 1;
        }
        out->doc = doc;
        return WC_CLAIM_OK;
    }
    if (current == WC_STATUS_PROCESSING) {
        result = WC_CLAIM_BUSY;
    } else if (current >= 0 && wc_status_may_move((wc_status_t)current, WC_STATUS_PROCESSING)) {
        /* Claimable, yet neither filter matched: it moved in between. */
        result = WC_CLAIM_BUSY;
        *raced = true;
    }
    bson_destroy(doc);
    return result;
}

/* Rounds of claiming before a still-moving document is deferred. */
#define CLAIM_ROUNDS 3

/* Attempts after a database error, each with the same token: a claim applied
 * whose reply was lost is found by the next attempt as our own. */
#define CLAIM_ERROR_ATTEMPTS 2

wc_claim_result_t wc_store_claim(wc_store_t *store, const bson_oid_t *id, const char *owner,
                                 const char *token, int64_t lease_ms, int64_t now_ms,
                                 bool redelivered, wc_claim_t *out)
{
    *out = (wc_claim_t){0};
    wc_claim_result_t result = WC_CLAIM_BUSY;
    bool raced = true;
    int errors = 0;
    for (int round = 0; round < CLAIM_ROUNDS && (raced || result == WC_CLAIM_ERROR); round++) {
        result = claim_once(store, id, owner, token, lease_ms, now_ms, redelivered, out, &raced);
        if (result == WC_CLAIM_ERROR && ++errors >= CLAIM_ERROR_ATTEMPTS) {
            break;
        }
    }
    /* Still racing after every round: BUSY defers the message, never drops it. */
    return result;
}


