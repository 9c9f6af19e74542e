/* The store's connection: its pool of clients, the server it talks to, and
 * the collection operations every other wc_store_*.c builds on
 * (wc_store_private.h). */
#include "wc_store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_counters.h"

/* libmongoc's bound on a pool when the URI sets no maxPoolSize. */
#define LIBMONGOC_DEFAULT_MAX_POOL_SIZE 100

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

static bool create_index(wc_store_t *store, const char *coll, const bson_t *key, const char *name,
                         bool unique)
{
    /* "unique" only when set: an index made before it existed has no such
     * option, and asking for it again must match exactly. */
    bson_t *cmd = unique ? BCON_NEW("createIndexes", BCON_UTF8(coll), "indexes", "[", "{", "key",
                                    BCON_DOCUMENT(key), "name", BCON_UTF8(name), "unique",
                                    BCON_BOOL(true), "}", "]")
                         : BCON_NEW("createIndexes", BCON_UTF8(coll), "indexes", "[", "{", "key",
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

bool wc_store_create_index(wc_store_t *store, const char *coll, const bson_t *key,
                           const char *name)
{
    return create_index(store, coll, key, name, false);
}

bool wc_store_create_unique_index(wc_store_t *store, const char *coll, const bson_t *key,
                                  const char *name)
{
    return create_index(store, coll, key, name, true);
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

static wc_store_status_t find_by_value(wc_store_t *store, const char *coll,
                                       const bson_value_t *id, bson_t **out)
{
    bson_t filter = BSON_INITIALIZER;
    wc_store_status_t status = WC_STORE_ERROR;
    if (BSON_APPEND_VALUE(&filter, "_id", id)) {
        status = wc_store_find_one(store, coll, &filter, out);
    }
    bson_destroy(&filter);
    return status;
}

wc_store_status_t wc_store_find_by_id(wc_store_t *store, const char *coll, const char *id,
                                      bson_t **out)
{
    bson_value_t value = {.value_type = BSON_TYPE_UTF8};
    value.value.v_utf8.str = (char *)id; /* only read */
    value.value.v_utf8.len = (uint32_t)strlen(id);
    return find_by_value(store, coll, &value, out);
}

wc_store_status_t wc_store_find_by_oid(wc_store_t *store, const char *coll, const bson_oid_t *oid,
                                       bson_t **out)
{
    bson_value_t value = {.value_type = BSON_TYPE_OID};
    bson_oid_copy(oid, &value.value.v_oid);
    return find_by_value(store, coll, &value, out);
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
        if (error.code == MONGO_DUPLICATE_KEY) {
            status = WC_STORE_CONFLICT; /* an upsert lost a race to create the document */
        } else {
            wc_log_error("findAndModify on %s failed: %s", coll_name, error.message);
            status = WC_STORE_ERROR;
        }
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
