/*
 * The list of a tenant's notifications, read through the counters.
 *
 * FerretDB 1.24 pushes down to SQL only equality filters, and never a sort or
 * a limit together with a filter: a filtered, sorted page made it fetch and
 * sort every matching document (2.7 s at 9,500). So the list never asks for a
 * sorted range. It walks the counter buckets (day -> hour -> minute,
 * wc_store_counters.h) in the order it reads, newest first: a bucket whose
 * matching count the page still skips is skipped whole, the others are
 * descended, and a minute bucket is read by equality on listBucket (plus
 * status/type/priority), sorted here. The total comes from the same counts.
 * A list of what one API key created walks that key's own counters and adds
 * the key to each bucket's equality.
 * On MongoDB the same equalities are served by the indexes of
 * wc_store_ensure_list_indexes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_counters.h"
#include "wc_store_private.h"
#include "wc_time.h"

/* A minute bucket holding more than this many matching documents is refused:
 * reading it whole would take seconds (see docs/READS.md). */
#define LEAF_MAX_DOCS 200000

int wc_list_order(int64_t a_ms, const bson_oid_t *a, int64_t b_ms, const bson_oid_t *b)
{
    if (a_ms != b_ms) {
        return a_ms > b_ms ? -1 : 1;
    }
    int c = bson_oid_compare(a, b);
    return (c > 0) ? -1 : (c < 0 ? 1 : 0);
}

void wc_list_cursor_format(int64_t ms, const bson_oid_t *id, char out[WC_LIST_CURSOR_LEN])
{
    char hex[25];
    bson_oid_to_string(id, hex);
    snprintf(out, WC_LIST_CURSOR_LEN, "%" PRId64 ".%s", ms, hex);
}

int wc_list_cursor_parse(const char *text, int64_t *ms, bson_oid_t *id)
{
    const char *dot = strchr(text, '.');
    size_t digits = dot != NULL ? (size_t)(dot - text) : 0;
    if (digits == 0 || digits > 15 || strspn(text, "0123456789") != digits ||
        strlen(dot + 1) != 24 || strspn(dot + 1, "0123456789abcdef") != 24) {
        return -1;
    }
    int64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        v = v * 10 + (text[i] - '0');
    }
    *ms = v;
    bson_oid_init_from_string(id, dot + 1);
    return 0;
}

void wc_list_page_free(wc_list_page_t *page)
{
    wc_store_docs_free(page->docs, page->n);
    memset(page, 0, sizeof(*page));
}

typedef enum { ELIGIBLE_NONE, ELIGIBLE_SOME, ELIGIBLE_ALL } eligible_t;

typedef struct {
    wc_store_t *store;
    const wc_list_query_t *q;
    char owner[WC_COUNTER_OWNER_LEN]; /* whose counters the walk reads (wc_counter_owner) */
    int64_t lo, hi; /* the from/to range, [lo, hi) */
    bool newest_first;
    int64_t skip;
    int64_t need; /* items still wanted: the page and one more, to know `more` */
    bson_t **docs;
    size_t n;
    int64_t total;
    int queries;
    /* The total came from the owner's top document: buckets are read only
     * for the page, and the walk ends when the page is full. */
    bool total_known;
    /* Try the bucket holding this instant (now) by _id before its siblings;
     * -1 once a try fell short (see walk_level). */
    int64_t probe_ms;
    wc_counter_reader_t counters; /* the query's, or the database */
} walk_t;

static int64_t bucket_matches(const walk_t *w, const wc_counter_bucket_t *b)
{
    int64_t n = 0;
    for (int s = 0; s < WC_STATUS_COUNT; s++) {
        for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
            for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                if ((w->q->status < 0 || w->q->status == s) &&
                    (w->q->type < 0 || w->q->type == t) &&
                    (w->q->priority < 0 || w->q->priority == p)) {
                    n += b->counts[s][t][p];
                }
            }
        }
    }
    return n;
}

/* Which of the items created in [s, e) lie on the side of the cursor the
 * page reads. */
static eligible_t eligibility(const walk_t *w, int64_t s, int64_t e)
{
    int64_t c = w->q->cursor_ms;
    switch (w->q->mode) {
    case WC_LIST_BEFORE:
        return e <= c ? ELIGIBLE_ALL : (s > c ? ELIGIBLE_NONE : ELIGIBLE_SOME);
    case WC_LIST_AFTER:
        return s > c ? ELIGIBLE_ALL : (e <= c ? ELIGIBLE_NONE : ELIGIBLE_SOME);
    case WC_LIST_PAGE:
    default:
        return ELIGIBLE_ALL;
    }
}

static bool item_eligible(const walk_t *w, int64_t ms, const bson_oid_t *id)
{
    switch (w->q->mode) {
    case WC_LIST_BEFORE:
        return wc_list_order(ms, id, w->q->cursor_ms, &w->q->cursor_id) > 0;
    case WC_LIST_AFTER:
        return wc_list_order(ms, id, w->q->cursor_ms, &w->q->cursor_id) < 0;
    case WC_LIST_PAGE:
    default:
        return true;
    }
}

typedef struct {
    int64_t ms;
    bson_oid_t id;
    bson_t *doc;
} item_t;

static int items_newest_first(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    return wc_list_order(x->ms, &x->id, y->ms, &y->id);
}

static int items_oldest_first(const void *a, const void *b)
{
    return -items_newest_first(a, b);
}

static int buckets_newest_first(const void *a, const void *b)
{
    int64_t x = ((const wc_counter_bucket_t *)a)->start_ms;
    int64_t y = ((const wc_counter_bucket_t *)b)->start_ms;
    return (x < y) - (x > y);
}

static int buckets_oldest_first(const void *a, const void *b)
{
    return -buckets_newest_first(a, b);
}

/* Considers one document of a leaf: counts it when `count_total` and it lies
 * in the range, and keeps a copy when the page may take it. False when out of
 * memory or the leaf is too large. */
static bool consider(walk_t *w, const bson_t *doc, bool count_total, const char *bucket,
                     item_t **items, size_t *n, size_t *cap)
{
    bson_iter_t it;
    int64_t ms = 0;
    bson_oid_t id;
    if (!bson_iter_init_find(&it, doc, "createdAt") || !BSON_ITER_HOLDS_DATE_TIME(&it)) {
        return true;
    }
    ms = bson_iter_date_time(&it);
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) {
        return true;
    }
    bson_oid_copy(bson_iter_oid(&it), &id);
    if (ms < w->lo || ms >= w->hi) {
        return true;
    }
    w->total += count_total;
    if (w->need == 0 || !item_eligible(w, ms, &id)) {
        return true;
    }
    if (*n == *cap) {
        size_t grown_cap = *cap == 0 ? 64 : *cap * 2;
        if (grown_cap > LEAF_MAX_DOCS) {
            wc_log_error("list bucket %s holds more than %d matching documents", bucket,
                         LEAF_MAX_DOCS);
            return false;
        }
        void *grown = realloc(*items, grown_cap * sizeof(**items));
        if (grown == NULL) {
            return false;
        }
        *items = grown;
        *cap = grown_cap;
    }
    (*items)[*n].ms = ms;
    (*items)[*n].id = id;
    /* The cursor's document lives only until the next call. A minute
     * bucket is small, so every eligible one is copied and sorted. */
    (*items)[*n].doc = bson_copy(doc);
    (*n)++;
    return true;
}

/* A leaf of at most this many documents is offered to the reader to keep
 * (wc_counter_reader_t.leaf_keep): a second of the busy tenant (110) or an
 * ordinary tenant's minute, not the busy tenant's whole minute. */
#define LEAF_KEEP_MAX 400

/* What a walk read of one leaf, offered to the reader to keep
 * (wc_counter_reader_t.leaf_keep): NULL `docs` once it grew too large. */
typedef struct {
    bson_t **docs;
    size_t n;
} leaf_copy_t;

/* Reads the notifications whose `field` is `value`, with the query's filters,
 * from the database, considering each and copying it into `copy` (when its
 * docs are set). False when the read failed. */
static bool query_leaf(walk_t *w, const char *field, const char *value, bool count_total,
                       leaf_copy_t *copy, item_t **items, size_t *n, size_t *cap)
{
    /* Each kind of leaf is looked up by its own indexed key: the minute's key
     * with a second's number beside it made PostgreSQL read the whole minute. */
    bson_t *filter = BCON_NEW(field, BCON_UTF8(value));
    if (w->q->key_hint != NULL) {
        BSON_APPEND_UTF8(filter, "apiKey", w->q->key_hint);
    }
    if (w->q->status >= 0) {
        BSON_APPEND_UTF8(filter, "status", wc_status_name((wc_status_t)w->q->status));
    }
    if (w->q->type >= 0) {
        BSON_APPEND_UTF8(filter, "type", wc_channel_name((wc_channel_t)w->q->type));
    }
    if (w->q->priority >= 0) {
        BSON_APPEND_UTF8(filter, "priority", wc_priority_name((wc_priority_t)w->q->priority));
    }
    /* The trail and the channel blobs can be large; a page shows summaries
     * and GET /api/notifications/:id the whole document. */
    bson_t *opts = BCON_NEW("projection", "{", "logs", BCON_INT32(0), "lease", BCON_INT32(0),
                            "lastToken", BCON_INT32(0), "data", BCON_INT32(0), "payload",
                            BCON_INT32(0), "}");
    mongoc_client_t *client = wc_store_client_take(w->store);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, w->store->db, WC_COLL_NOTIFICATIONS);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bson_error_t error;
    bool ok = true;
    while (ok && mongoc_cursor_next(cursor, &doc)) {
        ok = consider(w, doc, count_total, value, items, n, cap);
        if (copy->docs != NULL && copy->n < LEAF_KEEP_MAX) {
            copy->docs[copy->n++] = bson_copy(doc);
        } else if (copy->docs != NULL) {
            /* Too many to keep: the next walk reads it again. */
            wc_store_docs_free(copy->docs, copy->n);
            copy->docs = NULL;
        }
    }
    if (ok && mongoc_cursor_error(cursor, &error)) {
        wc_log_error("reading list leaf %s failed: %s", value, error.message);
        ok = false;
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(w->store, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return ok;
}

/* The leaves a page reads: a minute bucket, one of its one-second slots, or
 * the notifications of a day that a sparse filter matches (docs/READS.md,
 * "The list walk"). */
typedef enum { LEAF_MINUTE, LEAF_SLOT, LEAF_DAY } leaf_kind_t;

static const struct {
    const char *field; /* the notifications' indexed key */
    char code;         /* in the reader's key */
    int (*name)(char *out, size_t len, const char *tenant_id, int64_t created_ms);
} leaves[] = {
    [LEAF_MINUTE] = {"listBucket", 'm', wc_notification_list_bucket},
    [LEAF_SLOT] = {"listSlot", 's', wc_notification_list_slot},
    /* Named here by the day; read by listDayKind, once per type and
     * priority the query's filters admit (read_day_kinds). */
    [LEAF_DAY] = {"listDayKind", 'd', wc_notification_list_bucket},
};

/* Whether the type and priority cell (t, p) passes the query's filters. */
static bool kind_admitted(const walk_t *w, int t, int p)
{
    return (w->q->type < 0 || w->q->type == t) && (w->q->priority < 0 || w->q->priority == p);
}

/* Reads the notifications of day bucket `day` that the query matches: one
 * read by listDayKind per type and priority the filters admit and the day
 * holds. */
static bool read_day_kinds(walk_t *w, const wc_counter_bucket_t *day, bool count_total,
                           leaf_copy_t *copy, item_t **items, size_t *n, size_t *cap)
{
    bool ok = true;
    for (int t = 0; ok && t < WC_CHANNEL_COUNT; t++) {
        for (int p = 0; ok && p < WC_PRIORITY_COUNT; p++) {
            int64_t held = 0;
            for (int s = 0; s < WC_STATUS_COUNT; s++) {
                held += w->q->status < 0 || w->q->status == s ? day->counts[s][t][p] : 0;
            }
            if (!kind_admitted(w, t, p) || held == 0) {
                continue;
            }
            char value[WC_LIST_BUCKET_LEN];
            ok = wc_notification_list_day_kind(value, sizeof(value), w->q->tenant_id,
                                               day->start_ms, (wc_channel_t)t,
                                               (wc_priority_t)p) == 0 &&
                 query_leaf(w, leaves[LEAF_DAY].field, value, count_total, copy, items, n, cap);
        }
    }
    return ok;
}

/* Reads the leaf of `kind` that starts at `start_ms` (for LEAF_DAY, the day
 * bucket `day`): takes the page's items from it and, when `count_total`,
 * counts what lies in the range. `bucket_version` is the version of the
 * counter bucket that holds it (its minute, or the day): the reader may
 * answer from what it kept under it (and the query's filters). */
static wc_store_status_t read_leaf(walk_t *w, leaf_kind_t kind, int64_t start_ms,
                                   const wc_counter_bucket_t *day, bool count_total,
                                   int64_t bucket_version)
{
    char bucket[WC_LIST_BUCKET_LEN];
    if (leaves[kind].name(bucket, sizeof(bucket), w->q->tenant_id, start_ms) != 0) {
        return WC_STORE_ERROR;
    }
    char key[WC_LIST_BUCKET_LEN + 64];
    int key_len = snprintf(key, sizeof(key), "%c|%s|%d|%d|%d|%s", leaves[kind].code, bucket,
                           w->q->status, w->q->type, w->q->priority,
                           w->q->key_hint != NULL ? w->q->key_hint : "");
    bool keyed = w->counters.leaf_get != NULL && bucket_version >= 0 && key_len > 0 &&
                 (size_t)key_len < sizeof(key);
    item_t *items = NULL;
    size_t n = 0, cap = 0;
    bson_t **kept = NULL;
    size_t kept_n = 0;
    bool ok = true;
    w->queries++;
    if (keyed && w->counters.leaf_get(w->counters.arg, key, bucket_version, &kept, &kept_n)) {
        for (size_t i = 0; i < kept_n && ok; i++) {
            ok = consider(w, kept[i], count_total, bucket, &items, &n, &cap);
        }
        wc_store_docs_free(kept, kept_n);
    } else {
        leaf_copy_t copy = {.docs = keyed ? calloc(LEAF_KEEP_MAX, sizeof(bson_t *)) : NULL};
        ok = kind == LEAF_DAY
                 ? read_day_kinds(w, day, count_total, &copy, &items, &n, &cap)
                 : query_leaf(w, leaves[kind].field, bucket, count_total, &copy, &items, &n,
                              &cap);
        if (ok && copy.docs != NULL) {
            w->counters.leaf_keep(w->counters.arg, key, bucket_version,
                                  (const bson_t *const *)copy.docs, copy.n);
        }
        if (copy.docs != NULL) {
            wc_store_docs_free(copy.docs, copy.n);
        }
    }
    if (ok && n > 1) {
        qsort(items, n, sizeof(*items),
              w->newest_first ? items_newest_first : items_oldest_first);
    }
    for (size_t i = 0; ok && i < n; i++) {
        if (w->skip > 0) {
            w->skip--;
        } else if (w->need > 0) {
            w->docs[w->n++] = items[i].doc;
            items[i].doc = NULL;
            w->need--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].doc != NULL) {
            bson_destroy(items[i].doc);
        }
    }
    free(items);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}

/* A minute holding more matching notifications than this is read by its
 * one-second slots, when all of them carry one: a busy tenant's newest minute
 * holds thousands (6,600 at 110/s), and a page needs the newest few. */
#define SLOT_READ_MIN 600

/* Whether a minute holding `count` matching items in the range is cheaper to
 * read by its seconds than whole. A second's read costs a round trip (about
 * 0.8 ms of FerretDB) and its items; the whole minute costs its `count`
 * items (about 0.12 ms each). A page of `skip + need` items reads about
 * 60 (skip + need) / count seconds, so seconds pay once the minute holds a
 * few times the page: a filter matching one in sixteen of the busy tenant's
 * 6,600 notifications a minute read 412 of them for a page of 20. */
static bool slots_pay(const walk_t *w, int64_t count)
{
    return count > SLOT_READ_MIN || (count >= 100 && count >= 4 * (w->skip + w->need));
}

/* The minute's creations by second, when the page may skip seconds by them:
 * an unfiltered list (every notification of the minute matches, however its
 * status moved since), and counts that add up to the minute's own. NULL
 * otherwise: each second is then read to be skipped. */
static const int64_t *slot_counts(const walk_t *w, const wc_counter_bucket_t *b, int64_t count)
{
    if (w->q->status >= 0 || w->q->type >= 0 || w->q->priority >= 0) {
        return NULL;
    }
    int64_t sum = 0;
    for (int i = 0; i < WC_LIST_SLOTS; i++) {
        sum += b->slot_created[i];
    }
    return sum == count ? b->slot_created : NULL;
}

/* Reads the slots of minute bucket `b`, whose `count` matching notifications
 * all lie in the range, in the walk's order, until the page is full. A slot
 * wholly on the other side of the cursor is not read, nor one the page skips
 * whole by its count. The total comes from the counters, so no slot is read
 * for it. */
static wc_store_status_t read_slots(walk_t *w, const wc_counter_bucket_t *b, int64_t count)
{
    w->total += w->total_known ? 0 : count;
    const int64_t *counts = slot_counts(w, b, count);
    wc_store_status_t status = WC_STORE_OK;
    for (int i = 0; i < WC_LIST_SLOTS && w->need > 0 && status == WC_STORE_OK; i++) {
        int slot = w->newest_first ? WC_LIST_SLOTS - 1 - i : i;
        int64_t s = b->start_ms + slot * WC_LIST_SLOT_MS;
        eligible_t elig = eligibility(w, s, s + WC_LIST_SLOT_MS);
        if (counts != NULL && elig == ELIGIBLE_ALL && counts[slot] <= w->skip) {
            w->skip -= counts[slot];
        } else if (elig != ELIGIBLE_NONE) {
            status = read_leaf(w, LEAF_SLOT, s, NULL, false, b->version);
        }
    }
    return status;
}

/* Reads a slotted minute that an edge of the range cuts, when its slot counts
 * hold (`counts`): a second wholly in the range is counted from them and read
 * only for the page's items, a second outside it is not read, and only a
 * second an edge cuts is read to be counted. "The last 24 hours" ends now, in
 * the busy tenant's current minute, and read all of its 6,600 notifications
 * to count the few that came after `to`. */
static wc_store_status_t read_cut_slots(walk_t *w, const wc_counter_bucket_t *b,
                                        const int64_t *counts)
{
    wc_store_status_t status = WC_STORE_OK;
    for (int i = 0; i < WC_LIST_SLOTS && status == WC_STORE_OK; i++) {
        int slot = w->newest_first ? WC_LIST_SLOTS - 1 - i : i;
        int64_t s = b->start_ms + slot * WC_LIST_SLOT_MS, e = s + WC_LIST_SLOT_MS;
        if (e <= w->lo || s >= w->hi || counts[slot] == 0) {
            continue;
        }
        if (s < w->lo || e > w->hi) {
            status = read_leaf(w, LEAF_SLOT, s, NULL, !w->total_known, b->version);
            continue;
        }
        w->total += w->total_known ? 0 : counts[slot];
        eligible_t elig = eligibility(w, s, e);
        if (w->need == 0 || elig == ELIGIBLE_NONE) {
            continue;
        }
        if (elig == ELIGIBLE_ALL && counts[slot] <= w->skip) {
            w->skip -= counts[slot];
        } else {
            status = read_leaf(w, LEAF_SLOT, s, NULL, false, b->version);
        }
    }
    return status;
}

static wc_store_status_t walk_level(walk_t *w, wc_counter_level_t level, int64_t parent_ms,
                                    int64_t parent_version);

/* A day holding at most DAY_READ_MAX_MATCHES notifications that match the
 * query is read at once by listDayKind, one read per type and priority the
 * filters admit and the day holds, when PostgreSQL finds them among at most
 * DAY_READ_MAX_ROWS notifications of those kinds. A sparse filter
 * ("FAILED WEBHOOK CRITICAL") matched one notification in a thousand, a page
 * of them spread over three weeks, and finding each one by the day's hours
 * and the hour's minutes read about 80 counter documents (0.1 to 0.4 ms of
 * FerretDB each). The rows bound caps PostgreSQL's work: it finds a kind's
 * notifications by the key's index and checks the status on each (about
 * 6 us a row), and it bounds the reads (at most 16, one per kind, about
 * 0.8 ms of FerretDB each) to what walking the day would cost. */
#define DAY_READ_MAX_MATCHES 64
#define DAY_READ_MAX_ROWS 2000

static bool day_read_whole(const walk_t *w, const wc_counter_bucket_t *b, int64_t count)
{
    if (!b->keyed || count > DAY_READ_MAX_MATCHES) {
        return false;
    }
    int64_t rows = 0;
    for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
        for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
            int64_t held = 0;
            for (int s = 0; s < WC_STATUS_COUNT; s++) {
                held += b->counts[s][t][p];
            }
            rows += kind_admitted(w, t, p) ? held : 0;
        }
    }
    return rows <= DAY_READ_MAX_ROWS;
}

/* Takes the page's items from one bucket the walk descends into. */
static wc_store_status_t descend_into(walk_t *w, wc_counter_level_t level,
                                      const wc_counter_bucket_t *b, int64_t count,
                                      bool whole_range)
{
    if (level == WC_COUNTER_MINUTE && b->slotted && whole_range && slots_pay(w, count) &&
        w->need > 0) {
        return read_slots(w, b, count);
    }
    const int64_t *counts = NULL;
    if (level == WC_COUNTER_MINUTE && b->slotted && !whole_range && count > SLOT_READ_MIN &&
        (counts = slot_counts(w, b, count)) != NULL) {
        return read_cut_slots(w, b, counts);
    }
    if (level == WC_COUNTER_DAY && day_read_whole(w, b, count)) {
        return read_leaf(w, LEAF_DAY, b->start_ms, b, !w->total_known, b->version);
    }
    if (level == WC_COUNTER_MINUTE) {
        return read_leaf(w, LEAF_MINUTE, b->start_ms, NULL, !w->total_known, b->version);
    }
    return walk_level(w, level + 1, b->start_ms, b->version);
}

/* The bucket of a level the walk reads first, by _id, before or instead of
 * its siblings (w->probe_ms; -1 for none):
 * - a page by number without a range: the bucket holding now. A page that
 *   lies wholly in it (its matching count covers the skip and the page)
 *   needs none of its siblings: a busy tenant's first pages lie in its
 *   current minute, and reading the day, hour and minute siblings instead
 *   cost FerretDB about 0.4 ms per counter document, a hundred of them per
 *   page (docs/READS.md, "The list walk");
 * - a page before a cursor, without a range: the bucket holding the
 *   cursor's instant, where the page starts. When the page does not fill
 *   there, it goes on in the older siblings only (*walked_from: the probed
 *   bucket's start; the newer ones hold nothing before the cursor).
 * Returns true when the probe served the level (the outcome in *status);
 * false when the walk must read the siblings. */
static bool probe_first(walk_t *w, wc_counter_level_t level, int64_t parent_ms,
                        int64_t parent_version, wc_store_status_t *status, int64_t *walked_from)
{
    *walked_from = INT64_MAX;
    if (w->probe_ms < 0 ||
        (level > WC_COUNTER_DAY &&
         wc_counter_bucket_start(level - 1, w->probe_ms) != parent_ms)) {
        return false;
    }
    wc_counter_bucket_t b;
    bool found = false;
    w->queries++;
    *status = w->counters.bucket(w->counters.arg, w->owner, level, w->probe_ms, parent_version,
                                 &b, &found);
    if (*status != WC_STORE_OK) {
        return true;
    }
    int64_t count = found ? bucket_matches(w, &b) : 0;
    if (w->q->mode == WC_LIST_BEFORE) {
        int64_t start = wc_counter_bucket_start(level, w->probe_ms);
        if (count > 0) {
            *status = descend_into(w, level, &b, count, true);
            if (*status != WC_STORE_OK || w->need == 0) {
                return true;
            }
        }
        w->probe_ms = -1; /* the older siblings are walked in order */
        *walked_from = start;
        return false;
    }
    if (count < w->skip + w->need) {
        w->probe_ms = -1; /* the page reaches older buckets: walk them in order */
        return false;
    }
    *status = descend_into(w, level, &b, count, true);
    return true;
}

/* Walks the buckets of `level` inside the parent bucket holding `parent_ms`. */
static wc_store_status_t walk_level(walk_t *w, wc_counter_level_t level, int64_t parent_ms,
                                    int64_t parent_version)
{
    wc_counter_bucket_t *buckets = NULL;
    size_t n = 0;
    wc_store_status_t status = WC_STORE_OK;
    int64_t walked_from = INT64_MAX;
    if (probe_first(w, level, parent_ms, parent_version, &status, &walked_from)) {
        return status;
    }
    w->queries++;
    status = w->counters.children(w->counters.arg, w->owner, level, parent_ms, parent_version,
                                  &buckets, &n);
    if (status != WC_STORE_OK) {
        return status;
    }
    if (n > 1) {
        qsort(buckets, n, sizeof(*buckets),
              w->newest_first ? buckets_newest_first : buckets_oldest_first);
    }
    int64_t width = wc_counter_level_width(level);
    for (size_t i = 0; i < n && status == WC_STORE_OK && !(w->total_known && w->need == 0);
         i++) {
        int64_t s = buckets[i].start_ms, e = s + width;
        int64_t count = bucket_matches(w, &buckets[i]);
        if (e <= w->lo || s >= w->hi || count <= 0 || s >= walked_from) {
            continue;
        }
        bool whole_range = s >= w->lo && e <= w->hi;
        eligible_t elig = eligibility(w, s, e);
        bool descend = !whole_range; /* the exact count needs the documents' times */
        if (w->need > 0 && elig != ELIGIBLE_NONE) {
            if (elig == ELIGIBLE_ALL && whole_range && count <= w->skip) {
                w->skip -= count;
            } else {
                descend = true;
            }
        }
        if (!descend) {
            w->total += w->total_known ? 0 : count;
        } else {
            status = descend_into(w, level, &buckets[i], count, whole_range);
        }
    }
    free(buckets);
    return status;
}

wc_store_status_t wc_store_list_notifications(wc_store_t *store, const wc_list_query_t *q,
                                              wc_list_page_t *out)
{
    memset(out, 0, sizeof(*out));
    walk_t w = {
        .store = store,
        .q = q,
        .lo = q->created_from_ms >= 0 ? q->created_from_ms : INT64_MIN,
        .hi = q->created_to_ms >= 0 ? q->created_to_ms : INT64_MAX,
        .newest_first = q->mode != WC_LIST_AFTER,
        .skip = q->mode == WC_LIST_PAGE ? q->skip : 0,
        .need = q->limit + 1,
    };
    if (q->limit <= 0 || wc_counter_owner(w.owner, NULL, q->tenant_id, q->key_hint) != 0) {
        return WC_STORE_ERROR;
    }
    w.counters = q->counters != NULL ? *q->counters : wc_store_counter_reader(store);
    w.docs = calloc((size_t)w.need, sizeof(*w.docs));
    if (w.docs == NULL) {
        return WC_STORE_ERROR;
    }
    wc_store_status_t status = WC_STORE_OK;
    w.probe_ms = -1;
    if (q->created_from_ms < 0 && q->created_to_ms < 0) {
        /* Without a range the total is the owner's top document's; a page
         * then reads only the buckets it lies in, from its first. */
        wc_store_counts_t top;
        if (q->tenant_counts != NULL && q->key_hint == NULL) {
            top = *q->tenant_counts;
        } else {
            w.queries++;
            status = wc_store_counters_totals(store, w.owner, &top);
        }
        wc_counter_bucket_t all = {0};
        memcpy(all.counts, top.counts, sizeof(all.counts));
        w.total = bucket_matches(&w, &all);
        w.total_known = true;
        w.probe_ms = q->mode == WC_LIST_PAGE     ? wc_time_now_ms()
                     : q->mode == WC_LIST_BEFORE ? q->cursor_ms
                                                 : -1;
    }
    if (status == WC_STORE_OK) {
        status = walk_level(&w, WC_COUNTER_DAY, 0, q->tenant_version);
    }
    if (status != WC_STORE_OK) {
        wc_store_docs_free(w.docs, w.n);
        return status;
    }
    out->more = w.n > (size_t)q->limit;
    if (out->more) {
        bson_destroy(w.docs[--w.n]);
        w.docs[w.n] = NULL;
    }
    if (!w.newest_first) {
        for (size_t i = 0; i < w.n / 2; i++) {
            bson_t *t = w.docs[i];
            w.docs[i] = w.docs[w.n - 1 - i];
            w.docs[w.n - 1 - i] = t;
        }
    }
    out->docs = w.docs;
    out->n = w.n;
    out->total = w.total;
    out->queries = w.queries;
    return WC_STORE_OK;
}
