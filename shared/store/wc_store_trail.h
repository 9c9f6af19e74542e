/*
 * The audit trail: one insert-only entry per change of a notification's
 * status, in the collection `notification_logs` (docs/ARCHITECTURE.md §3.2).
 *
 * The notification document no longer carries its trail. It carries `seq`,
 * the number of changes it went through, and `last`, the entry of the latest
 * one; each change sets both in the same atomic update that changes the
 * status. The trail entry of change number `seq` has the _id
 * "<notification id>:<seq>", so writing it twice stores it once. Entries are
 * written after the status change they record, often many in one command;
 * until one arrives, readers take it from the document's `last`
 * (wc_store_trail_read), so the trail a reader sees always ends with the
 * document's status. The changes of its creation follow from the document
 * and are never written (wc_trail_entries_of_new).
 */
#ifndef WC_STORE_TRAIL_H
#define WC_STORE_TRAIL_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_notification.h"
#include "wc_store.h"

#define WC_COLL_TRAIL "notification_logs"

/* Fills `e` for change number `seq` of the notification `doc` (its _id,
 * tenant, type, priority and createdAt are read from it), from `from` to
 * `to`, by `audit`, at `at_ms`. Returns 0, or -1 when `doc` lacks a field. */
int wc_trail_entry_init(wc_trail_entry_t *e, const bson_t *doc, int32_t seq, int from,
                        wc_status_t to, const wc_audit_t *audit, int64_t at_ms);

/* The entries of a document's creation, derived from it (createdSeq,
 * createdAt, scheduledAt; wc_notification_new_document): PENDING and QUEUED,
 * or SCHEDULED. They are never written to the trail: readers and the stats
 * counters take them from here. Returns how many (0 for a document without
 * createdSeq). */
size_t wc_trail_entries_of_new(const bson_t *doc, wc_trail_entry_t out[2]);

/* Appends the entry as the document `last` ({status, message, actor,
 * timestamp}; its number is the document's `seq`) to `parent`, e.g. the $set
 * of an update. */
bool wc_trail_entry_append_last(bson_t *parent, const wc_trail_entry_t *e);

/* The entry as stored in notification_logs. The caller destroys it. */
bson_t *wc_trail_entry_document(const wc_trail_entry_t *e);

/* Writes entries[0..n) with one unordered insert (split by the driver when
 * large). An entry already stored (a retry after a lost reply, or a reader's
 * repair) counts as written. Returns OK, or ERROR when any entry may be
 * missing: the caller keeps them and tries again. */
wc_store_status_t wc_store_trail_append(wc_store_t *store, const wc_trail_entry_t *entries,
                                        size_t n);

/* Counts the changes entries[0..n) for the stats counters
 * (wc_store_counters.h), except those with skip[i] set (skip may be NULL) and
 * repaired ones. wc_store_trail_append calls it for what it stored; the intake
 * calls it for the creation of the documents it stored. The changes wait in
 * the store and are written together about once a second (from any thread
 * that counts, and from wc_store_counters_flush); a process that dies loses
 * at most that second of counts, which reconciliation restores
 * (docs/ARCHITECTURE.md §3.3). Defined beside the flush, in
 * wc_store_counters_pending.c. */
void wc_store_trail_count(wc_store_t *store, const wc_trail_entry_t *entries, size_t n,
                          const bool *skip);

/* The trail of notification `doc` as the API shows it (`logs`): its entries
 * oldest first, each {_id, notificationId, status, message, actor,
 * timestamp}, completed from the document's `last` when that entry has not
 * been written yet. NULL when the database failed; else a new reference. */
json_object *wc_store_trail_read(wc_store_t *store, const bson_t *doc);

/* Creates the index the trail is read by (notificationId, seq); idempotent. */
wc_store_status_t wc_store_ensure_trail_indexes(wc_store_t *store);

#endif
