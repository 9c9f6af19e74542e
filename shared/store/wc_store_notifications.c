/* Notifications: their indexes, reads by id, and every change of status
 * (transitions and claims) with the trail entries it makes
 * (docs/ARCHITECTURE.md §3.2, §4). */
#include "wc_store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_lifecycle.h"
#include "wc_log.h"
#include "wc_store_trail.h"

wc_store_status_t wc_store_ensure_indexes(wc_store_t *store)
{
    /* FerretDB filters with `@>` over JSON, which these btree indexes cannot
     * serve; they would only make every status change slower there.
     * deploy/ferretdb/postgresql.sql gives it the indexes it can use. */
    if (wc_store_is_ferretdb(store)) {
        return wc_store_ensure_trail_indexes(store);
    }
    /* The WaveCom specification's compound indexes, each scoped by tenant first. */
    static const char *const names[] = {"tenant_type_status_created",
                                        "tenant_status_priority_created",
                                        "tenant_recipient_created", "tenant_created",
                                        "tenant_endpoint_created"};
    bson_t *keys[] = {
        BCON_NEW("tenantId", BCON_INT32(1), "type", BCON_INT32(1), "status", BCON_INT32(1),
                 "createdAt", BCON_INT32(-1)),
        BCON_NEW("tenantId", BCON_INT32(1), "status", BCON_INT32(1), "priority", BCON_INT32(-1),
                 "createdAt", BCON_INT32(-1)),
        BCON_NEW("tenantId", BCON_INT32(1), "recipient", BCON_INT32(1), "createdAt",
                 BCON_INT32(-1)),
        BCON_NEW("tenantId", BCON_INT32(1), "createdAt", BCON_INT32(-1)),
        /* An event endpoint's deliveries, which its replay reads (§14). */
        BCON_NEW("tenantId", BCON_INT32(1), "endpointId", BCON_INT32(1), "createdAt",
                 BCON_INT32(1)),
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ok = wc_store_create_index(store, WC_COLL_NOTIFICATIONS, keys[i], names[i]) && ok;
        bson_destroy(keys[i]);
    }
    if (!ok) {
        return WC_STORE_ERROR;
    }
    return wc_store_ensure_trail_indexes(store);
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
    return wc_store_find_by_oid(store, WC_COLL_NOTIFICATIONS, id, out);
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
    bson_t *found = NULL;
    wc_store_status_t status = wc_store_find_by_oid(store, WC_COLL_NOTIFICATIONS, id, &found);
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
    bson_t *doc = NULL;
    status = wc_store_find_by_oid(store, WC_COLL_NOTIFICATIONS, id, &doc);
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
