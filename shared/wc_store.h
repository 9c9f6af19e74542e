/*
 * MongoDB access for every process, through one mongoc_client_pool_t.
 *
 * Each function pops a client from the pool for the duration of the call, so
 * a wc_store_t may be shared by the threads of one process. Open a store only
 * after fork: connections never cross a fork.
 *
 * Every status change of a notification goes through wc_store_transition,
 * which sets the new status and appends its audit entry in one atomic update:
 * the status and the trail cannot disagree.
 */
#ifndef WC_STORE_H
#define WC_STORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_notification.h"

typedef struct wc_store wc_store_t;

typedef enum {
    WC_STORE_OK = 0,
    WC_STORE_NOT_FOUND,
    WC_STORE_CONFLICT, /* a unique key already exists */
    WC_STORE_ERROR,    /* the database could not be reached or refused the operation */
} wc_store_status_t;

/* Opens a pool for `uri` and database `db`; `app_name` shows in server logs.
 * Returns NULL with a reason in `err` when the URI is invalid (no server is
 * contacted here). */
wc_store_t *wc_store_open(const char *uri, const char *db, const char *app_name, char *err,
                          size_t err_len);
void wc_store_close(wc_store_t *store);

/* True when the server answers a ping. */
bool wc_store_ping(wc_store_t *store);

/* Creates the indexes the queries need; idempotent. */
wc_store_status_t wc_store_ensure_indexes(wc_store_t *store);

/* Inserts a new notification document. */
wc_store_status_t wc_store_insert_notification(wc_store_t *store, const bson_t *doc);

/* Finds a notification of `tenant_id`. On WC_STORE_OK *out is a new document
 * the caller destroys. Another tenant's notification is WC_STORE_NOT_FOUND. */
wc_store_status_t wc_store_get_notification(wc_store_t *store, const char *tenant_id,
                                            const bson_oid_t *id, bson_t **out);

/* A change of status, with the audit entry that records it. */
typedef struct {
    wc_status_t to;
    wc_audit_t audit;
    const bson_t *set;  /* further fields to $set, or NULL */
    bool unset_lease;   /* the holder's claim ends with this change */
    bool inc_retry;     /* retryCount += 1 */
} wc_transition_t;

/* Applies `t` to the one notification matching `filter`, setting updatedAt.
 * WC_STORE_NOT_FOUND when nothing matches. On WC_STORE_OK and a non-NULL
 * `out`, *out is the document after the change (the caller destroys it). */
wc_store_status_t wc_store_transition(wc_store_t *store, const bson_t *filter,
                                      const wc_transition_t *t, int64_t now_ms, bson_t **out);

/* The API's step after a confirmed publish: PENDING -> QUEUED. When a worker
 * got there first, leaves the document as it is. *out is the document as it
 * now stands (the caller destroys it). */
wc_store_status_t wc_store_mark_queued(wc_store_t *store, const bson_oid_t *id, int64_t now_ms,
                                       bson_t **out);

typedef enum {
    WC_CLAIM_OK,    /* the caller holds the lease and may deliver */
    WC_CLAIM_BUSY,  /* held under another worker's live lease, or still changing: look later */
    WC_CLAIM_GONE,  /* deleted, delivered, failed or cancelled: nothing to do */
    WC_CLAIM_ERROR, /* the database failed; the message must not be acked */
} wc_claim_result_t;

/* Claims a notification for delivery (DESIGN §4 invariant 2): an atomic
 * change to PROCESSING with a lease held by `owner` until now+lease_ms, from
 * QUEUED, RETRYING, PENDING (the queue message outran the API's QUEUED write)
 * or PROCESSING whose lease expired. On WC_CLAIM_OK *out is the claimed
 * document (the caller destroys it). */
wc_claim_result_t wc_store_claim(wc_store_t *store, const bson_oid_t *id, const char *owner,
                                 int64_t lease_ms, int64_t now_ms, bson_t **out);

/* A filter matching notification `id` only while `owner` holds its lease. The
 * caller destroys it. */
bson_t *wc_store_lease_filter(const bson_oid_t *id, const char *owner);

/* Tenants and API keys (wc_store_tenants.c). */

typedef struct {
    char tenant_id[25];
    char role[16];
} wc_principal_t;

/* Creates a tenant; writes its id (24 hex digits) into `id_out`. */
wc_store_status_t wc_store_create_tenant(wc_store_t *store, const char *name, char id_out[25]);

/* Creates an API key for an existing, enabled tenant. The key is written into
 * `key_out` (it is never stored: only its SHA-256 is). NOT_FOUND when the
 * tenant does not exist. */
wc_store_status_t wc_store_create_api_key(wc_store_t *store, const char *tenant_id,
                                          const char *role, const char *name, char *key_out,
                                          size_t key_len);

/* Looks up the principal of an API key. NOT_FOUND for an unknown or revoked
 * key, or a disabled tenant. */
wc_store_status_t wc_store_authenticate(wc_store_t *store, const char *key, wc_principal_t *out);

#endif
