/*
 * MongoDB access for every process, through one mongoc_client_pool_t.
 *
 * Each function pops a client from the pool for the duration of the call, so
 * a wc_store_t may be shared by the threads of one process. Open a store only
 * after fork: connections never cross a fork.
 *
 * Every status change of a notification goes through
 * wc_store_transition[_deferred]: one atomic update sets the new status, the
 * change's number (`seq`) and its audit entry as `last`; the entry itself is
 * then appended to the insert-only trail (wc_store_trail.h,
 * docs/ARCHITECTURE.md §3.2).
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

/* How the store's connection pool is used. A checkout that finds every
 * connection busy waits, and is counted: a pool that keeps making callers wait
 * is exhausted (the "database pool exhausted" alert). */
typedef struct {
    int64_t in_use; /* connections checked out now */
    int64_t max;    /* the pool's bound (URI maxPoolSize, else libmongoc's 100) */
    uint64_t waits; /* checkouts that had to wait, since the store opened */
} wc_store_pool_stats_t;

void wc_store_pool_stats(wc_store_t *store, wc_store_pool_stats_t *out);

/* Makes the store count its checkouts into the caller's counters instead of
 * its own, so that the worker's children add to totals in shared memory which
 * outlive any one child. Call before the store is used; the counters must
 * outlive the store. */
void wc_store_count_pool_into(wc_store_t *store, _Atomic int64_t *in_use,
                              _Atomic uint64_t *waits);

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
    /* When set, the trail records passing through `via` (with this entry)
     * before `to`, in the same update. */
    const wc_audit_t *via_audit;
    wc_status_t via;
    /* Write again the entry of the change this one replaces in `last` (see
     * wc_store_transition_deferred). */
    bool repair_previous;
} wc_transition_t;

/* The most trail entries one change makes: the change replaced (a repair),
 * `via`, and `to`. */
#define WC_TRANSITION_ENTRIES_MAX 3

/* `from` of an entry written again from a document's `last`, which does not
 * say what it left. */
#define WC_TRAIL_FROM_UNKNOWN (-2)

/* An API key's public hint, "wck_" and 8 hex digits, with its NUL. */
#define WC_KEY_HINT_SIZE 13

/* Whether `text` has the form of a key hint. */
bool wc_key_hint_valid(const char *text);

/* One entry of the audit trail, in memory: what changed, and what the stats
 * counters fold (tenant, channel, priority, createdAt). */
typedef struct {
    bson_oid_t notification_id;
    char tenant_id[25];
    int32_t seq;       /* this change's number in the document (1 = created) */
    int from;          /* the wc_status_t left; -1 when the notification was created,
                        * WC_TRAIL_FROM_UNKNOWN for a repaired entry */
    wc_status_t to;
    wc_channel_t type;
    wc_priority_t priority;
    int64_t created_at_ms; /* the notification's createdAt */
    int64_t at_ms;         /* when the change happened */
    char key_hint[WC_KEY_HINT_SIZE]; /* the key that created it; "" for none */
    int64_t processing_ms; /* a change to SENT: the delivery's processingTimeMs; else -1 */
    char actor[96];
    char message[256];
} wc_trail_entry_t;

/* Applies `t` to the one notification matching `filter` (one findAndModify),
 * without writing its trail entries: on OK, *before is the document as it
 * was before the change (the caller destroys it) and entries[0..*n_entries)
 * are the entries to append with wc_store_trail_append once the caller
 * chooses (the worker writes many at once). NOT_FOUND when nothing matches.
 *
 * The change replaces the document's `last`. When the process that made
 * that previous change may have died before writing its entry (a lease taken
 * over, or `t->repair_previous`: a redelivered message), the previous entry
 * is among the entries too; written twice, it is stored once. */
wc_store_status_t wc_store_transition_deferred(wc_store_t *store, const bson_t *filter,
                                               const wc_transition_t *t, int64_t now_ms,
                                               bson_t **before,
                                               wc_trail_entry_t entries[WC_TRANSITION_ENTRIES_MAX],
                                               size_t *n_entries);

/* The same, then appends its trail entries at once. On WC_STORE_OK and a
 * non-NULL `out`, *out is the document after the change, read again (the
 * caller destroys it). */
wc_store_status_t wc_store_transition(wc_store_t *store, const bson_t *filter,
                                      const wc_transition_t *t, int64_t now_ms, bson_t **out);

/* The step after a confirmed publish: PENDING -> QUEUED, by `actor`. When a worker
 * got there first, leaves the document as it is. *out is the document as it
 * now stands (the caller destroys it). */
wc_store_status_t wc_store_mark_queued(wc_store_t *store, const bson_oid_t *id, const char *actor,
                                       int64_t now_ms, bson_t **out);

typedef enum {
    WC_CLAIM_OK,    /* the caller holds the lease and may deliver */
    WC_CLAIM_BUSY,  /* held under another worker's live lease, or still changing: look later */
    WC_CLAIM_GONE,  /* delivered, failed or cancelled: nothing to do */
    WC_CLAIM_MISSING, /* no such document: the message can never be delivered */
    WC_CLAIM_ERROR, /* the database failed; the message must not be acked */
} wc_claim_result_t;

/* A claim's result: the document as it was before the claim (its content is
 * what the worker delivers; the caller destroys it) and the trail entries
 * the claim made, which the caller appends. */
typedef struct {
    bson_t *doc;
    wc_trail_entry_t trail[WC_TRANSITION_ENTRIES_MAX];
    size_t trail_n;
} wc_claim_t;

/* Claims a notification for delivery (docs/ARCHITECTURE.md §4, invariant 2):
 * an atomic change to PROCESSING with a lease held by `owner` until
 * now+lease_ms, from QUEUED, RETRYING, PENDING (a scheduler's or replay's
 * message outran its QUEUED write) or PROCESSING whose lease expired. On
 * WC_CLAIM_OK *out holds the claimed document and the claim's trail entries.
 * `redelivered`: the message came back from a consumer that may have died
 * before writing the trail entry of its last change. The lease carries
 * `token` (wc_store_new_token); a database error is retried with it, and a
 * document found PROCESSING under `token` is our own earlier claim whose reply
 * was lost: WC_CLAIM_OK, not BUSY. */
wc_claim_result_t wc_store_claim(wc_store_t *store, const bson_oid_t *id, const char *owner,
                                 const char *token, int64_t lease_ms, int64_t now_ms,
                                 bool redelivered, wc_claim_t *out);

/* A lease token: 24 hex digits and a NUL. */
#define WC_LEASE_TOKEN_LEN 25

/* Writes a new token, unique to this call, into `token`. A claim stores its
 * token in `lease.token` and `lastToken`; the holder's outcome write filters
 * on it and sets `lastToken` again, so that a write whose reply was lost can
 * be recognised as our own (docs/ARCHITECTURE.md §4). */
void wc_store_new_token(char token[WC_LEASE_TOKEN_LEN]);

/* A filter for notification `id` that matches only while it is in `status`
 * (any status when NULL). The status is checked on the one document _id finds:
 * it sits under $and, which FerretDB leaves out of its SQL. As an SQL condition
 * beside _id, PostgreSQL's planner may take the status index instead (its
 * statistics say the status is rare) and read every notification in that
 * status, tens of milliseconds per write at a million notifications
 * (docs/ARCHITECTURE.md §3.4). MongoDB serves both shapes by _id. The caller
 * destroys it. */
bson_t *wc_store_id_filter(const bson_oid_t *id, const char *status);

/* A filter matching notification `id` only while the claim that set `token`
 * holds its lease, expired or not; shaped as wc_store_id_filter. The caller
 * destroys it. */
bson_t *wc_store_lease_filter(const bson_oid_t *id, const char *token);

/* After a change to `to` under `token` whose reply was lost or which found
 * nothing to change: OK when notification `id` stands in `to` and its last
 * change was made under `token` (the change was applied), with *doc the
 * document (the caller destroys it) and *entry its trail entry when *n_entries
 * is 1. NOT_FOUND when the document is in another state or another attempt
 * changed it; ERROR when the database failed. */
wc_store_status_t wc_store_find_own_change(wc_store_t *store, const bson_oid_t *id,
                                           wc_status_t to, const char *token, bson_t **doc,
                                           wc_trail_entry_t *entry, size_t *n_entries);

/* Tenants and API keys (wc_store_tenants.c). */

/* A monthly notification quota (wc_store_quota.h): -1 in a field means
 * none. Kept as the "quota" subdocument of a tenant or an API key. */
typedef struct {
    int64_t monthly;
    int64_t channel[WC_CHANNEL_COUNT];
    bool critical_exempt; /* tenants only: CRITICAL notifications are neither counted nor refused */
} wc_quota_t;

/* A tenant's own limits; -1 in a field means the WAVECOM_* default. */
typedef struct {
    int requests_per_second;
    int notifications_per_second;
    int max_in_flight;
    wc_quota_t quota; /* the tenant's monthly quota */
} wc_tenant_limits_t;

typedef struct {
    char tenant_id[25];
    char role[16];
    /* The first 16 hex digits of the key's SHA-256: names the key in rate
     * limits and the audit trail without revealing it. */
    char key_id[17];
    /* The key's first 12 characters ("wck_" and 8 hex digits), as listings
     * show it; names the key in usage and on the notifications it creates.
     * Empty for a JWT. */
    char key_hint[WC_KEY_HINT_SIZE];
    wc_tenant_limits_t limits;
    wc_quota_t key_quota; /* the key's own monthly quota */
    /* Set when a dashboard user's JWT authenticated the request (its "sub"
     * claim, or "-"); empty for an API key. */
    char jwt_subject[65];
} wc_principal_t;

/* The key (WAVECOM_SECRETS_KEY, 64 hex digits) that seals the webhook secrets
 * this store writes and opens those it reads; empty or NULL: stored as they
 * are. Returns 0, or -1 for a malformed key. Call before sharing the store. */
int wc_store_set_secrets_key(wc_store_t *store, const char *hex);

/* The limits of an enabled tenant. NOT_FOUND when it does not exist or is
 * disabled. */
wc_store_status_t wc_store_enabled_tenant_limits(wc_store_t *store, const char *tenant_id,
                                                 wc_tenant_limits_t *out);

/* Creates a tenant; writes its id (24 hex digits) into `id_out`. */
wc_store_status_t wc_store_create_tenant(wc_store_t *store, const char *name, char id_out[25]);

/* Creates an API key for an existing, enabled tenant. The key is written into
 * `key_out` (it is never stored: only its SHA-256 is). NOT_FOUND when the
 * tenant does not exist. */
wc_store_status_t wc_store_create_api_key(wc_store_t *store, const char *tenant_id,
                                          const char *role, const char *name, char *key_out,
                                          size_t key_len);

/* Copies the tenant's webhook signing secret ("whsec_" + base64) into `out`.
 * NOT_FOUND when the tenant does not exist or has none. */
wc_store_status_t wc_store_tenant_webhook_secret(wc_store_t *store, const char *tenant_id,
                                                 char *out, size_t out_len);

/* Looks up the principal of an API key. NOT_FOUND for an unknown or revoked
 * key, or a disabled tenant; for a known key *out then still names the key
 * and its tenant (without limits), so that its refusal can be counted. */
wc_store_status_t wc_store_authenticate(wc_store_t *store, const char *key, wc_principal_t *out);

/* ---- Tenant limits and the administrative audit trail (wc_store_audit.c) ---- */

/* Sets a tenant's limits (-1 fields are removed: the defaults apply).
 * NOT_FOUND when the tenant does not exist. */
wc_store_status_t wc_store_set_tenant_limits(wc_store_t *store, const char *tenant_id,
                                             const wc_tenant_limits_t *limits);

/* Reads the "limits" subdocument of a tenant document into *out (-1 where
 * unset or malformed). */
void wc_store_tenant_limits_from_doc(const bson_t *tenant_doc, wc_tenant_limits_t *out);

/* How many of a tenant's notifications are on their way (PENDING, QUEUED,
 * PROCESSING, RETRYING). */
wc_store_status_t wc_store_count_in_flight(wc_store_t *store, const char *tenant_id,
                                           int64_t *out);

/* One administrative action: who (`actor`: "api:key:<key id>" or
 * "cli:<user>@<host>"), what (`action`, e.g. "apikey.create"), on what
 * (`target`), for which tenant (NULL for none), and an optional detail. */
typedef struct {
    const char *actor;
    const char *action;
    const char *target;
    const char *tenant_id;
    const char *detail;
} wc_audit_event_t;

/* The index GET /api/audit reads by (tenantId, at); idempotent. */
wc_store_status_t wc_store_ensure_audit_indexes(wc_store_t *store);

/* Appends the event with the current time to the audit collection. */
wc_store_status_t wc_store_audit_append(wc_store_t *store, const wc_audit_event_t *event);

/* A tenant's audit events, newest first: up to `limit` after skipping
 * `skip`, as an array of new documents the caller frees with
 * wc_store_docs_free. */
wc_store_status_t wc_store_audit_list(wc_store_t *store, const char *tenant_id, int64_t skip,
                                      int64_t limit, bson_t ***docs_out, size_t *n_out);

/* ---- Intake API: bulk writes, idempotency, scheduling (wc_store_intake.c) ---- */

/* Creates the indexes of the intake's own queries (scheduler, sweeper,
 * idempotency clean-up); idempotent. */
wc_store_status_t wc_store_ensure_intake_indexes(wc_store_t *store);

/* Inserts docs[0..n) with one unordered bulk write (split by the driver when
 * large). statuses[i] is OK, CONFLICT (duplicate _id) or ERROR for each; when
 * the write fails as a whole (server unreachable) every item is ERROR, and the
 * outcome of each is unknown. Returns OK when every item is OK, else ERROR. */
wc_store_status_t wc_store_insert_notifications(wc_store_t *store, const bson_t *const *docs,
                                                size_t n, wc_store_status_t *statuses);

/* PENDING -> QUEUED, with the audit entry "Added to queue" by `actor`, for
 * each of ids[0..n) still PENDING (the scheduler's and the sweeper's
 * publishes; one findAndModify each); one that a worker has already moved on
 * is left alone. Returns OK or ERROR. */
wc_store_status_t wc_store_mark_queued_many(wc_store_t *store, const bson_oid_t *ids, size_t n,
                                            const char *actor, int64_t now_ms);

/* The outbox of the group commit (docs/ARCHITECTURE.md §3.2): a commit
 * inserts its documents already QUEUED, so before it writes them it opens
 * one record naming them, and it closes the record once the broker has
 * confirmed every publish. A record left open (the API died, or a publish
 * failed) is taken by the sweeper, which publishes again those of its
 * notifications still QUEUED. */

/* Opens a record naming ids[0..n); writes its id into *record_id. */
wc_store_status_t wc_store_outbox_open(wc_store_t *store, const bson_oid_t *ids, size_t n,
                                       int64_t now_ms, bson_oid_t *record_id);

/* Deletes the record: every publish of its commit was confirmed. */
wc_store_status_t wc_store_outbox_close(wc_store_t *store, const bson_oid_t *record_id);

/* Narrows the record to ids[0..n), the publishes not confirmed. */
wc_store_status_t wc_store_outbox_keep(wc_store_t *store, const bson_oid_t *record_id,
                                       const bson_oid_t *ids, size_t n);

/* Takes a record open since before `stale_before_ms` for the sweeper (moves
 * its createdAt to `now_ms`, so other instances pass it over). OK with *out
 * (the caller destroys it); NOT_FOUND when none is. */
wc_store_status_t wc_store_outbox_take_stale(wc_store_t *store, int64_t stale_before_ms,
                                             int64_t now_ms, bson_t **out);

/* Idempotency records: collection idempotency_keys, _id "<tenant>:<key>", the
 * unique key that makes a repeated Idempotency-Key safe under concurrency. A
 * record older than WC_IDEMPOTENCY_TTL_MS counts as absent. */
#define WC_IDEMPOTENCY_TTL_MS (24LL * 3600 * 1000)

typedef struct {
    char notification_id[25];
    char request_hash[65];
    int64_t created_at_ms;
} wc_idempotency_record_t;

/* The record to insert for `key` of `tenant_id`. The caller destroys it. */
bson_t *wc_store_idempotency_document(const char *tenant_id, const char *key,
                                      const char *request_hash, const bson_oid_t *notification_id,
                                      int64_t now_ms);

/* Inserts records[0..n) like wc_store_insert_notifications: statuses[i] is
 * OK (the key is now this request's), CONFLICT (the key was taken) or ERROR. */
wc_store_status_t wc_store_insert_idempotency_records(wc_store_t *store,
                                                      const bson_t *const *records, size_t n,
                                                      wc_store_status_t *statuses);

/* Reads the record of `key`; NOT_FOUND when there is none. */
wc_store_status_t wc_store_idempotency_get(wc_store_t *store, const char *tenant_id,
                                           const char *key, wc_idempotency_record_t *out);

/* Deletes the record of `key` only while it still names `notification_id`
 * (so a request that took the key over in the meantime keeps it). OK when
 * deleted, NOT_FOUND when it was not there or named another notification. */
wc_store_status_t wc_store_idempotency_release(wc_store_t *store, const char *tenant_id,
                                               const char *key, const char *notification_id);

/* Deletes records created before `before_ms`; *deleted counts them. */
wc_store_status_t wc_store_idempotency_purge(wc_store_t *store, int64_t before_ms,
                                             int64_t *deleted);

/* The sweeps of the scheduler (api/scheduler.c) work in two steps: one read
 * names up to `max` candidates, then each is taken by _id with its condition
 * checked again, so that two API instances never take the same one. A take
 * by a sorted findAndModify instead made FerretDB read every notification in
 * the status once per take: thousands of overdue RETRYING ones cost
 * thousands times thousands (docs/ARCHITECTURE.md §3.4).
 *
 * wc_store_sweep_candidates fills ids[0..*n) with the notifications in
 * `status` whose sweep time lies before `before_ms`, oldest first: SCHEDULED
 * by scheduledAt, PENDING by updatedAt, RETRYING by nextAttemptAt, PROCESSING
 * by lease.until. */
wc_store_status_t wc_store_sweep_candidates(wc_store_t *store, wc_status_t status,
                                            int64_t before_ms, bson_oid_t *ids, size_t max,
                                            size_t *n);

/* Releases SCHEDULED notification `id` if it is due (scheduledAt <= now_ms):
 * SCHEDULED -> PENDING in one findAndModify with its audit entry. OK with *out
 * the document as it was before (its content is what gets published; the
 * caller destroys it); NOT_FOUND when it is not (or no longer) due. */
wc_store_status_t wc_store_release_due(wc_store_t *store, const bson_oid_t *id, int64_t now_ms,
                                       bson_t **out);

/* Takes PENDING notification `id` if it was last updated before
 * `stale_before_ms` (its publish was never confirmed: the API died, or the
 * broker failed) for republishing: bumps updatedAt and republishCount
 * atomically, so another instance passes it over for the same period. No
 * audit entry: the status does not change, and QUEUED records the outcome.
 * OK with *out; NOT_FOUND. */
wc_store_status_t wc_store_take_stale_pending(wc_store_t *store, const bson_oid_t *id,
                                              int64_t stale_before_ms, int64_t now_ms,
                                              bson_t **out);

/* Takes notification `id` if its queue message looks lost: RETRYING with
 * nextAttemptAt, or PROCESSING with lease.until, before `overdue_before_ms`
 * (a retry-tier message lost while dead-lettering, or a worker and its
 * message both gone). Moves that time to `now_ms` and counts sweepCount
 * atomically, so another instance passes it over; no status change and no
 * audit entry: the worker's claim records what happens next. OK with *out;
 * NOT_FOUND when it is not overdue. */
wc_store_status_t wc_store_take_overdue(wc_store_t *store, const bson_oid_t *id,
                                        wc_status_t status, int64_t overdue_before_ms,
                                        int64_t now_ms, bson_t **out);

/* ---- Intake API: reads (wc_store_queries.c) ---- */

typedef struct {
    /* Notifications by status, channel and priority at once. */
    int64_t counts[WC_STATUS_COUNT][WC_CHANNEL_COUNT][WC_PRIORITY_COUNT];
    int64_t total;
} wc_store_counts_t;

/* How a list query chooses its page: by number (skip), or by keyset, relative
 * to a cursor (createdAt, _id) of an item the client already has. */
typedef enum {
    WC_LIST_PAGE,   /* newest first, after skipping `skip` */
    WC_LIST_BEFORE, /* the `limit` items just older than the cursor, newest first */
    WC_LIST_AFTER,  /* the `limit` items just newer than the cursor, newest first */
} wc_list_mode_t;

typedef struct {
    const char *tenant_id;
    const char *key_hint; /* only what this API key created; NULL for any */
    int status;          /* a wc_status_t, or -1 for any */
    int type;            /* a wc_channel_t, or -1 */
    int priority;        /* a wc_priority_t, or -1 */
    int64_t created_from_ms; /* inclusive; -1 for no bound */
    int64_t created_to_ms;   /* exclusive; -1 for no bound */
    int64_t skip;            /* WC_LIST_PAGE only */
    int64_t limit;
    wc_list_mode_t mode;
    int64_t cursor_ms;   /* WC_LIST_BEFORE/AFTER: the cursor's createdAt */
    bson_oid_t cursor_id; /* ... and _id */
    /* The counts of the tenant's counter document when the caller has just
     * read them (wc_store_counters_version), so a page without a range does
     * not read it again; NULL to read them. Ignored with key_hint. */
    const wc_store_counts_t *tenant_counts;
    /* Where the walk reads counter buckets; NULL for the database. The API
     * passes one that keeps them under the tenant's data version
     * (wc_counter_reader_t, api/bucket_cache.h). */
    const struct wc_counter_reader *counters;
    int64_t tenant_version; /* with `counters`: the tenant's data version (the days' parent) */
} wc_list_query_t;

typedef struct {
    bson_t **docs; /* newest first; free with wc_list_page_free */
    size_t n;
    int64_t total; /* items matching the filters and the from/to range, cursor aside */
    bool more;     /* items exist beyond the page in the direction read */
    int queries;   /* database round trips the page cost */
} wc_list_page_t;

/* One page of a tenant's notifications, newest first (createdAt, then _id),
 * without the audit trail, the lease, the push data or the webhook payload.
 * Reads through the counters (wc_store_counters.h): whole buckets are skipped
 * by their counts and only the minute buckets holding the page are read, each
 * by equality on listBucket (and status, type, priority when filtered). On OK
 * the caller frees `out` with wc_list_page_free; on error it holds nothing. */
wc_store_status_t wc_store_list_notifications(wc_store_t *store, const wc_list_query_t *query,
                                              wc_list_page_t *out);
void wc_list_page_free(wc_list_page_t *page);

/* The keyset order of the list: newest first. Negative when (a_ms, a) comes
 * before (b_ms, b) in the list, i.e. is newer. */
int wc_list_order(int64_t a_ms, const bson_oid_t *a, int64_t b_ms, const bson_oid_t *b);


/* A cursor as the API shows it, "<createdAt ms>.<24 hex _id>", and its
 * parser (0, or -1 for anything else). */
#define WC_LIST_CURSOR_LEN 48
void wc_list_cursor_format(int64_t ms, const bson_oid_t *id, char out[WC_LIST_CURSOR_LEN]);
int wc_list_cursor_parse(const char *text, int64_t *ms, bson_oid_t *id);

void wc_store_docs_free(bson_t **docs, size_t n);

/* Counts notifications with one $group/$sum over status, type and priority;
 * of one tenant, or of all when `tenant_id` is NULL. */
wc_store_status_t wc_store_count_notifications(wc_store_t *store, const char *tenant_id,
                                               wc_store_counts_t *out);

/* Calls `each` once per distinct processingTimeMs with how many notifications
 * took it ($group/$sum), of one tenant or of all. The caller folds them into
 * sums and histogram buckets. */
wc_store_status_t wc_store_processing_times(wc_store_t *store, const char *tenant_id,
                                            void (*each)(int64_t ms, int64_t count, void *arg),
                                            void *arg);

#endif
