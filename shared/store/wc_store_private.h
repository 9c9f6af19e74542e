/* What the store's own files share; nothing outside wc_store*.c includes it. */
#ifndef WC_STORE_PRIVATE_H
#define WC_STORE_PRIVATE_H

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "wc_store.h"

struct wc_store {
    mongoc_client_pool_t *pool;
    int64_t pool_max;
    /* Point at own_* unless wc_store_count_pool_into redirected them. */
    _Atomic int64_t *in_use;
    _Atomic uint64_t *waits;
    _Atomic int64_t own_in_use;
    _Atomic uint64_t own_waits;
    char db[64];
    _Atomic int server_kind; /* 0 not asked yet, 1 MongoDB, 2 FerretDB */
    /* Changes counted but not yet written to the stats counters
     * (wc_store_trail_count, wc_store_counters_flush). */
    pthread_mutex_t counting_lock;
    struct counted_change *counted;
    size_t counted_n, counted_cap;
    int64_t counted_since_ms; /* monotonic time of the oldest one waiting; 0 when none */
    void (*on_counted)(const char *tenant_id, void *arg); /* wc_store_on_counted */
    void *on_counted_arg;
    bool has_secrets_key; /* webhook secrets are sealed with it (wc_secretbox.h) */
    unsigned char secrets_key[32];
};

/* Every use of the pool checks a client out with the first and back in with
 * the second, so that the pool's occupancy is counted (wc_store_pool_stats). */
mongoc_client_t *wc_store_client_take(wc_store_t *store);
void wc_store_client_give(wc_store_t *store, mongoc_client_t *client);

/* The server's code for a duplicate key. */
#define MONGO_DUPLICATE_KEY 11000

/* Names of the collections. */
#define WC_COLL_NOTIFICATIONS "notifications"
#define WC_COLL_TENANTS "tenants"
#define WC_COLL_API_KEYS "api_keys"
#define WC_COLL_IDEMPOTENCY "idempotency_keys"
#define WC_COLL_AUDIT "audit"
#define WC_COLL_OUTBOX "outbox"
#define WC_COLL_TEMPLATES "templates"
#define WC_COLL_SUPPRESSIONS "suppressions"
#define WC_COLL_PREFERENCES "recipient_preferences"
#define WC_COLL_CATEGORIES "categories"

/* Runs `filter` against `coll` and copies the first match into *out.
 * NOT_FOUND when there is none. */
wc_store_status_t wc_store_find_one(wc_store_t *store, const char *coll, const bson_t *filter,
                                    bson_t **out);

/* wc_store_find_one for the document of `coll` whose _id is the string `id`,
 * or the ObjectId `oid`: the lookup every backend serves by its index. */
wc_store_status_t wc_store_find_by_id(wc_store_t *store, const char *coll, const char *id,
                                      bson_t **out);
wc_store_status_t wc_store_find_by_oid(wc_store_t *store, const char *coll, const bson_oid_t *oid,
                                       bson_t **out);

/* Calls `each` for every document of `coll` matching `filter` (with `opts`:
 * sort, projection, limit...), until it returns false. ERROR, logged, when
 * the read fails before `each` stopped it. */
wc_store_status_t wc_store_find_each(wc_store_t *store, const char *coll, const bson_t *filter,
                                     const bson_t *opts, bool (*each)(const bson_t *doc, void *arg),
                                     void *arg);

/* Copies up to `max` documents matching `filter` (with `opts`: sort,
 * projection, limit...) into a new array of *n_out: free it with
 * wc_store_docs_free. ERROR, with nothing returned, when the read fails. */
wc_store_status_t wc_store_find_many(wc_store_t *store, const char *coll, const bson_t *filter,
                                     const bson_t *opts, size_t max, bson_t ***docs_out,
                                     size_t *n_out);

/* One findAndModify on `coll`: `update` applied to the first document
 * matching `filter` in the order of `sort` (any when NULL); *out is that
 * document as it was, or as it is with MONGOC_FIND_AND_MODIFY_RETURN_NEW in
 * `flags`. NOT_FOUND when none matched; CONFLICT when an upsert met a
 * duplicate key (another writer created the document first); ERROR, logged,
 * when the command failed. */
wc_store_status_t wc_store_find_and_modify(wc_store_t *store, const char *coll,
                                           const bson_t *filter, const bson_t *sort,
                                           const bson_t *update,
                                           mongoc_find_and_modify_flags_t flags, bson_t **out);

/* Applies `update` (operators: $set, $unset...) to the first document of
 * `coll` matching `filter`. NOT_FOUND when none matched. */
wc_store_status_t wc_store_update_one(wc_store_t *store, const char *coll, const bson_t *filter,
                                      const bson_t *update);

/* Upserts updates[i] into the document of `coll` whose _id is ids[i], for
 * every i < n, with one unordered bulk write; a duplicate key from two
 * writers creating the same document at once is retried as the update it
 * now is. OK when every upsert applied; `what` names them in log lines. */
wc_store_status_t wc_store_upsert_many(wc_store_t *store, const char *coll, const char *const *ids,
                                       bson_t *const *updates, size_t n, const char *what);

/* Deletes the first (or, with `many`, every) document of `coll` matching
 * `filter`; *deleted (when not NULL) counts them. NOT_FOUND when none did. */
wc_store_status_t wc_store_delete(wc_store_t *store, const char *coll, const bson_t *filter,
                                  bool many, int64_t *deleted);

/* Inserts docs[0..n) into `coll` with one unordered bulk write; statuses[i]
 * is OK, CONFLICT (duplicate key) or ERROR for each (every one ERROR when the
 * write failed as a whole). Returns OK when every item is OK, else ERROR. */
wc_store_status_t wc_store_insert_many(wc_store_t *store, const char *coll,
                                       const bson_t *const *docs, size_t n,
                                       wc_store_status_t *statuses);

/* Inserts `doc` into `coll`; CONFLICT on a duplicate key. */
wc_store_status_t wc_store_insert(wc_store_t *store, const char *coll, const bson_t *doc);

/* True when the server is FerretDB (its buildInfo says so), asked once. On
 * FerretDB the MongoDB indexes of collections that are updated often cost
 * every write and serve no query (docs/ARCHITECTURE.md §3.4). */
bool wc_store_is_ferretdb(wc_store_t *store);

/* Creates the index `name` on `key` (e.g. {tenantId: 1, at: -1}) of `coll`,
 * logging the server's error; true when it exists afterwards. */
bool wc_store_create_index(wc_store_t *store, const char *coll, const bson_t *key,
                           const char *name);

/* The same for an index that refuses a second document with the same key
 * (a write that would make one fails with MONGO_DUPLICATE_KEY). */
bool wc_store_create_unique_index(wc_store_t *store, const char *coll, const bson_t *key,
                                  const char *name);

#endif
