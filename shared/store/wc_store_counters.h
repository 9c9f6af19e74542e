/*
 * Counters of notifications, kept beside the documents so that the API's
 * reads never aggregate over every notification.
 *
 * Collection notification_counters holds four kinds of document, each found by
 * an equality on `_id` or on `scope` (the only filters FerretDB 1.24 turns into
 * indexed SQL; see docs/READS.md):
 *
 *   _id "<tenant>"                     scope "tenants"            all of a tenant's notifications
 *   _id "<tenant>:d:<dayStartMs>"      scope "<tenant>:d"         those created that UTC day
 *   _id "<tenant>:h:<hourStartMs>"     scope "<tenant>:h:<day>"   ... that hour
 *   _id "<tenant>:m:<minuteStartMs>"   scope "<tenant>:m:<hour>"  ... that minute (a list bucket)
 *   _id "<tenant>:tp:<minuteStartMs>"  scope "<tenant>:tp:<hour>" created/sent/failed that minute,
 *                                                                 and the processing times of
 *                                                                 its deliveries
 *
 * The same four kinds are kept a second time per API key, with the owner
 * "<tenant>~<keyHint>" in place of "<tenant>" (its top document has scope
 * "<tenant>:keys" and an `apiKey` field), so that a list filtered by key
 * walks the key's own counts (wc_counter_owner).
 *
 * The first four carry c: {"<STATUS>:<TYPE>:<PRIORITY>": n} by the status a
 * notification is in now, and `start` (the bucket's first instant). A minute
 * bucket is the set of notifications whose listBucket field names it
 * (wc_notification_list_bucket), so a list query walks day -> hour -> minute
 * counters, skips whole buckets by their counts, and reads only the one or two
 * minute buckets that hold the page. The throughput documents count events by
 * when they happened, for the dashboard's chart.
 *
 * Every status change is folded in by wc_store_counters_apply, called by the
 * one function through which the write path changes a status. Counters can
 * drift (a process killed between a status write and its counter write);
 * wc_store_counters_reconcile recounts and repairs them.
 */
#ifndef WC_STORE_COUNTERS_H
#define WC_STORE_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "wc_duration_histogram.h"
#include "wc_notification.h"
#include "wc_store.h"

#define WC_COLL_COUNTERS "notification_counters"

/* The levels a list walks, coarsest first; the last is the list bucket. */
typedef enum {
    WC_COUNTER_DAY,
    WC_COUNTER_HOUR,
    WC_COUNTER_MINUTE,
    WC_COUNTER_LEVELS
} wc_counter_level_t;

/* The width of a bucket of `level` in milliseconds. */
int64_t wc_counter_level_width(wc_counter_level_t level);

/* The start of the bucket of `level` holding instant `ms` (floored, also for
 * instants before 1970). */
int64_t wc_counter_bucket_start(wc_counter_level_t level, int64_t ms);

/* The longest owner, with its NUL: a tenant id (24 characters) and a key
 * hint beside it. Shorter than an _id, so that an _id or a scope built from
 * an owner provably fits (the compiler checks). */
#define WC_COUNTER_OWNER_LEN (24 + 1 + WC_KEY_HINT_SIZE)

/* The longest _id or scope of a counter document, with its NUL. */
#define WC_COUNTER_ID_LEN 64

/* Whose counts a counter document holds: the tenant's ("<tenant>"), or those
 * of the notifications one of its API keys created ("<tenant>~<keyHint>",
 * when `key_hint` is not NULL). Its top document's scope ("tenants", or
 * "<tenant>:keys") goes to `scope` when not NULL. Returns 0, or -1 for a
 * malformed tenant or hint. */
int wc_counter_owner(char owner[WC_COUNTER_OWNER_LEN], char *scope, const char *tenant_id,
                     const char *key_hint);

/* The _id of the counter document of `level` holding `ms`, and the scope shared
 * by it and its siblings (the children of one parent bucket), for `owner`.
 * Each returns 0, or -1 when `out` is too small. */
int wc_counter_doc_id(char *out, size_t len, const char *owner, wc_counter_level_t level,
                      int64_t ms);
int wc_counter_scope(char *out, size_t len, const char *owner, wc_counter_level_t level,
                     int64_t ms);

/* The key of one cell of the c map, "<STATUS>:<TYPE>:<PRIORITY>"; and its
 * inverse (0, or -1 for a key that is not one). */
int wc_counter_cell_key(char *out, size_t len, int status, int type, int priority);
int wc_counter_cell_parse(const char *key, int *status, int *type, int *priority);

typedef struct {
    const char *tenant_id;     /* 24 hex */
    const char *key_hint;      /* the API key that created it, or NULL */
    int64_t created_at_ms;     /* the notification's createdAt: picks its list bucket */
    int64_t at_ms;             /* when the transition happened: picks the throughput minute */
    int type;                  /* wc_channel_t */
    int priority;              /* wc_priority_t */
    int from;                  /* wc_status_t the notification left, or -1 when it was created */
    int to;                    /* wc_status_t it entered */
    int64_t processing_ms;     /* a change to SENT: its processingTimeMs; -1 for none */
} wc_counter_delta_t;

/* Folds deltas[0..n) into the counter documents with as few writes as it can
 * (one $inc update per distinct counter document touched, all in one unordered
 * bulk write, upserting documents that do not exist yet). Deltas with an
 * out-of-range enum are skipped and logged. Returns OK, or ERROR when the
 * database refused a write (the counters then lag until reconciled). Safe
 * from any thread; n = 0 is OK and writes nothing. */
wc_store_status_t wc_store_counters_apply(wc_store_t *store, const wc_counter_delta_t *deltas,
                                          size_t n);

/* Writes the changes counted by wc_store_trail_count (wc_store_trail.h)
 * and not yet written: all of them if the oldest has waited a
 * second (or always, with `force`). Call it periodically from a process that
 * may fall quiet, so that the last changes do not wait for the next one; and
 * wc_store_close calls it with `force`. Safe from any thread; it does I/O. */
wc_store_status_t wc_store_counters_flush(wc_store_t *store, bool force);

/* What a reader of `tenant_id`'s counters calls first, so that it reads this
 * process's own writes: writes every change waiting, but only when one of
 * them is the tenant's (all of them when `tenant_id` is NULL). Reading a
 * quiet tenant thus never writes the busy one's changes ahead of their
 * interval: with the dashboards polling, forced flushes had become one per
 * request instead of one a second. */
wc_store_status_t wc_store_counters_flush_for(wc_store_t *store, const char *tenant_id);

/* Calls `fn(tenant_id, arg)` after each flush for every tenant the flush
 * wrote counts of (whether or not the write succeeded): a reader that keeps
 * a tenant's version in memory forgets it (api/tenant_versions.h), so that
 * this process's own changes are never hidden from it. Set it before other
 * threads use the store; NULL stops it. */
typedef void (*wc_store_counted_fn)(const char *tenant_id, void *arg);
void wc_store_on_counted(wc_store_t *store, wc_store_counted_fn fn, void *arg);

/* One counter bucket as read back. */
typedef struct {
    int64_t start_ms;
    /* A minute bucket whose every notification carries listSlot, so that a
     * page may read it by one-second slots (`slotted: true`, set by every
     * flush that carries a creation into it). */
    bool slotted;
    /* A day bucket whose every notification carries listDayKind, so that a
     * filter matching few of them may read them at once (`keyed: true`, set
     * when a flush that carries a creation inserts the day's document). */
    bool keyed;
    int64_t counts[WC_STATUS_COUNT][WC_CHANNEL_COUNT][WC_PRIORITY_COUNT];
    /* A minute bucket's creations by second of createdAt (`s.s<second>`),
     * counted with the creations the flush carries: what lets a page skip a
     * busy minute's seconds by count. Trusted only while they add up to the
     * bucket's own count (a reconciled or filled bucket may lack them). */
    int64_t slot_created[WC_LIST_SLOTS];
    /* Advanced by every write that changes this bucket, and so every change
     * to a bucket inside it (`version`): what a reader keeps the bucket's
     * children under (api/bucket_cache.h). */
    int64_t version;
} wc_counter_bucket_t;

/* The buckets of `level` of `owner` (wc_counter_owner) inside the parent
 * bucket holding `ms` (for WC_COUNTER_DAY: every day), in no order. On OK *out is a new
 * array of *n the caller frees (NULL when n is 0). */
wc_store_status_t wc_store_counters_children(wc_store_t *store, const char *owner,
                                             wc_counter_level_t level, int64_t ms,
                                             wc_counter_bucket_t **out, size_t *n);

/* The one bucket of `level` of `owner` that holds instant `ms`, read by _id;
 * *found is false when it has no document. */
wc_store_status_t wc_store_counters_bucket(wc_store_t *store, const char *owner,
                                           wc_counter_level_t level, int64_t ms,
                                           wc_counter_bucket_t *out, bool *found);

/* The two reads a list walk makes of the counters, in the shapes above, so
 * that a caller may answer them from memory (wc_list_query_t.counters). Each
 * is given the version of the parent of what it reads (the parent bucket's,
 * or for a day the tenant's data version): what it returns stays the same
 * while that version does. The database's reader ignores it. */
typedef struct wc_counter_reader {
    wc_store_status_t (*children)(void *arg, const char *owner, wc_counter_level_t level,
                                  int64_t ms, int64_t parent_version, wc_counter_bucket_t **out,
                                  size_t *n);
    wc_store_status_t (*bucket)(void *arg, const char *owner, wc_counter_level_t level,
                                int64_t ms, int64_t parent_version, wc_counter_bucket_t *out,
                                bool *found);
    /* Optional (NULL: every leaf is read from the database): the documents
     * of one list leaf (a minute, a second or a day, with the query's
     * filters, named by `key`) kept under the version of the bucket that
     * holds it (its minute, or the day), as new copies in *docs (free with
     * wc_store_docs_free); false when none are kept. A notification's listed
     * fields change only with its status, and a status change advances the
     * version of the minute it was created in and of that minute's day. */
    bool (*leaf_get)(void *arg, const char *key, int64_t bucket_version, bson_t ***docs,
                     size_t *n);
    /* ... and what the walk read of a leaf (the reader copies it). */
    void (*leaf_keep)(void *arg, const char *key, int64_t bucket_version,
                      const bson_t *const *docs, size_t n);
    void *arg;
} wc_counter_reader_t;

/* The reader of `store`'s counter documents (the two functions above). */
wc_counter_reader_t wc_store_counter_reader(wc_store_t *store);

/* The counts of one tenant (or of any counter owner, wc_counter_owner), or
 * summed over every tenant when `tenant_id` is NULL. A tenant without
 * counters yet has zero counts. */
wc_store_status_t wc_store_counters_totals(wc_store_t *store, const char *tenant_id,
                                           wc_store_counts_t *out);

/* The tenant's data version: a number that grows with every status change of
 * its notifications (0 before the first). Equal versions mean equal lists, up
 * to the other processes' flush interval; the API keys its cache of list
 * answers on it (api/list_cache.c). The same read fills `counts` (may be
 * NULL) as wc_store_counters_totals would, for the list's total. */
wc_store_status_t wc_store_counters_version(wc_store_t *store, const char *tenant_id,
                                            int64_t *version, wc_store_counts_t *counts);

/* One throughput minute as read back. */
typedef struct {
    int64_t start_ms;
    int64_t created, sent, failed;
} wc_throughput_minute_t;

/* Calls `each` for every throughput minute of the tenant in [since_ms, until_ms)
 * that has a document (at most two hours' worth are read per call), and adds
 * the processing times of those minutes' deliveries (`pt`, `ptSum`:
 * wc_duration_histogram.h) to `times` when it is not NULL; `each` may be NULL. */
wc_store_status_t wc_store_counters_throughput(wc_store_t *store, const char *tenant_id,
                                               int64_t since_ms, int64_t until_ms,
                                               void (*each)(const wc_throughput_minute_t *minute,
                                                            void *arg),
                                               void *arg, wc_duration_histogram_t *times);

typedef struct {
    int64_t notifications;   /* documents recounted */
    int64_t backfilled;      /* documents given the listBucket they lacked */
    int64_t buckets_checked; /* counter documents compared */
    int64_t buckets_fixed;   /* counter documents corrected */
    int64_t buckets_busy;    /* skipped: they changed while being recounted */
    int64_t cells_fixed;     /* cells whose count was wrong */
    int64_t elapsed_ms;
} wc_counters_reconcile_report_t;

/* Recounts the notifications of `tenant_id` (every tenant when NULL) and
 * corrects the counter documents that disagree, by $inc of the difference. A
 * counter document that changed while the recount ran is left for the next
 * run (its writer was active; correcting it would race). Also gives documents
 * written before listBucket existed their bucket. Costs one scan of the
 * tenant's notifications and counters: run it from one place at a time
 * (wavecomctl counters reconcile, e.g. hourly), never from every replica. */
wc_store_status_t wc_store_counters_reconcile(wc_store_t *store, const char *tenant_id,
                                              wc_counters_reconcile_report_t *report);

/* The MongoDB indexes that serve the list and the counters: notifications
 * {listBucket: 1} and counters {scope: 1} (the _id index serves the rest).
 * On FerretDB they are not created: its SQL for these equalities can use only
 * the GIN indexes deploy/ferretdb/postgresql.sql adds, and a btree index it
 * cannot use would still cost every write. Idempotent. */
wc_store_status_t wc_store_ensure_list_indexes(wc_store_t *store);

#endif
