/* What the store's own files share; nothing outside wc_store*.c includes it. */
#ifndef WC_STORE_PRIVATE_H
#define WC_STORE_PRIVATE_H

#include <mongoc/mongoc.h>
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
    bool has_secrets_key; /* webhook secrets are sealed with it (wc_secretbox.h) */
    unsigned char secrets_key[32];
};

/* Every use of the pool checks a client out with the first and back in with
 * the second, so that the pool's occupancy is counted (wc_store_pool_stats). */
mongoc_client_t *wc_store_client_take(wc_store_t *store);
void wc_store_client_give(wc_store_t *store, mongoc_client_t *client);

/* Names of the collections. */
#define WC_COLL_NOTIFICATIONS "notifications"
#define WC_COLL_TENANTS "tenants"
#define WC_COLL_API_KEYS "api_keys"
#define WC_COLL_IDEMPOTENCY "idempotency_keys"
#define WC_COLL_AUDIT "audit"

/* Runs `filter` against `coll` and copies the first match into *out.
 * NOT_FOUND when there is none. */
wc_store_status_t wc_store_find_one(wc_store_t *store, const char *coll, const bson_t *filter,
                                    bson_t **out);

/* Inserts `doc` into `coll`; CONFLICT on a duplicate key. */
wc_store_status_t wc_store_insert(wc_store_t *store, const char *coll, const bson_t *doc);

/* The update document of a transition ($set status and updatedAt, $push the
 * audit entry, ...), exactly as wc_store_transition applies it, for the bulk
 * and sorted variants in wc_store_intake.c. The caller destroys it. */
bson_t *wc_store_transition_update_doc(const wc_transition_t *t, int64_t now_ms);

#endif
