/* Counters of notifications by bucket; see wc_store_counters.h. */
#include "wc_store_counters.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_private.h"
#include "wc_time.h"

#define DAY_MS (24LL * 3600 * 1000)
#define HOUR_MS (3600LL * 1000)
#define ID_LEN WC_COUNTER_ID_LEN
#define CELLS (WC_STATUS_COUNT * WC_CHANNEL_COUNT * WC_PRIORITY_COUNT)

static const struct {
    const char *code;
    int64_t width_ms;
} levels[WC_COUNTER_LEVELS] = {
    [WC_COUNTER_DAY] = {"d", DAY_MS},
    [WC_COUNTER_HOUR] = {"h", HOUR_MS},
    [WC_COUNTER_MINUTE] = {"m", WC_LIST_BUCKET_MS},
};

static int64_t floor_to(int64_t ms, int64_t width)
{
    int64_t start = ms / width * width;
    return start > ms ? start - width : start;
}

int64_t wc_counter_level_width(wc_counter_level_t level)
{
    return levels[level].width_ms;
}

int64_t wc_counter_bucket_start(wc_counter_level_t level, int64_t ms)
{
    return floor_to(ms, levels[level].width_ms);
}

static int fit(int n, size_t len)
{
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int wc_counter_owner(char owner[WC_COUNTER_OWNER_LEN], char *scope, const char *tenant_id,
                     const char *key_hint)
{
    if (tenant_id == NULL || tenant_id[0] == '\0' || strlen(tenant_id) > 24 ||
        strpbrk(tenant_id, ":~") != NULL || (key_hint != NULL && !wc_key_hint_valid(key_hint))) {
        return -1;
    }
    if (key_hint == NULL) {
        snprintf(owner, WC_COUNTER_OWNER_LEN, "%s", tenant_id);
        if (scope != NULL) {
            snprintf(scope, WC_COUNTER_ID_LEN, "tenants");
        }
        return 0;
    }
    snprintf(owner, WC_COUNTER_OWNER_LEN, "%s~%s", tenant_id, key_hint);
    if (scope != NULL) {
        snprintf(scope, WC_COUNTER_ID_LEN, "%s:keys", tenant_id);
    }
    return 0;
}

int wc_counter_doc_id(char *out, size_t len, const char *owner, wc_counter_level_t level,
                      int64_t ms)
{
    return fit(snprintf(out, len, "%s:%s:%" PRId64, owner, levels[level].code,
                        wc_counter_bucket_start(level, ms)),
               len);
}

int wc_counter_scope(char *out, size_t len, const char *owner, wc_counter_level_t level,
                     int64_t ms)
{
    if (level == WC_COUNTER_DAY) {
        return fit(snprintf(out, len, "%s:%s", owner, levels[level].code), len);
    }
    return fit(snprintf(out, len, "%s:%s:%" PRId64, owner, levels[level].code,
                        wc_counter_bucket_start(level - 1, ms)),
               len);
}

int wc_counter_cell_key(char *out, size_t len, int status, int type, int priority)
{
    if (status < 0 || status >= WC_STATUS_COUNT || type < 0 || type >= WC_CHANNEL_COUNT ||
        priority < 0 || priority >= WC_PRIORITY_COUNT) {
        return -1;
    }
    return fit(snprintf(out, len, "%s:%s:%s", wc_status_name((wc_status_t)status),
                        wc_channel_name((wc_channel_t)type),
                        wc_priority_name((wc_priority_t)priority)),
               len);
}

int wc_counter_cell_parse(const char *key, int *status, int *type, int *priority)
{
    char parts[3][24];
    const char *p = key;
    for (int i = 0; i < 3; i++) {
        size_t n = i < 2 ? strcspn(p, ":") : strlen(p);
        if (n == 0 || n >= sizeof(parts[i]) || (i < 2 && p[n] != ':')) {
            return -1;
        }
        memcpy(parts[i], p, n);
        parts[i][n] = '\0';
        p += n + (i < 2 ? 1 : 0);
    }
    wc_status_t s;
    wc_channel_t t;
    wc_priority_t r;
    if (wc_status_parse(parts[0], &s) != 0 || wc_channel_parse(parts[1], &t) != 0 ||
        wc_priority_parse(parts[2], &r) != 0) {
        return -1;
    }
    *status = (int)s;
    *type = (int)t;
    *priority = (int)r;
    return 0;
}

/* ---- apply ---- */

typedef enum { DOC_TENANT, DOC_LEVEL, DOC_THROUGHPUT } doc_kind_t;

/* The net change to one counter document. */
typedef struct {
    char id[ID_LEN];
    char scope[ID_LEN];
    const char *tenant_id;
    const char *key_hint; /* a key's documents: NULL for the tenant's */
    int64_t start_ms;
    doc_kind_t kind;
    /* A minute bucket first written by a creation: every notification in it
     * carries listSlot (a bucket first written for an older document may
     * hold some without). */
    bool slotted;
    /* A day bucket that a creation's flush may insert: every notification in
     * a day whose document a creation inserted carries listDayKind (one counted
     * before listDayKind existed would have inserted the document then). */
    bool keyed;
    int64_t changes; /* deltas folded in, added to `version` (a key's top document: none) */
    int64_t cells[CELLS];
    int64_t created, sent, failed;
    wc_duration_histogram_t *times; /* a throughput minute's deliveries; NULL until one */
    int64_t *slot_created; /* a minute bucket's creations by second; NULL until one */
} pending_t;

typedef struct {
    pending_t *docs;
    size_t n;
    size_t cap;
} pending_set_t;

static int cell_index(int s, int t, int p)
{
    return (s * WC_CHANNEL_COUNT + t) * WC_PRIORITY_COUNT + p;
}

/* The pending document `id`, added when new; NULL when the set is full. A
 * batch touches few documents (its deltas share tenants and minutes), so a
 * linear search is cheaper than hashing. */
static pending_t *pending_get(pending_set_t *set, const char *id)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->docs[i].id, id) == 0) {
            return &set->docs[i];
        }
    }
    if (set->n == set->cap) {
        return NULL;
    }
    pending_t *d = &set->docs[set->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", id);
    return d;
}

static bool valid_delta(const wc_counter_delta_t *d)
{
    char owner[WC_COUNTER_OWNER_LEN];
    return wc_counter_owner(owner, NULL, d->tenant_id, d->key_hint) == 0 && d->type >= 0 &&
           d->type < WC_CHANNEL_COUNT && d->priority >= 0 && d->priority < WC_PRIORITY_COUNT &&
           d->from >= -1 && d->from < WC_STATUS_COUNT && d->to >= 0 && d->to < WC_STATUS_COUNT;
}

/* Adds one delta to the state counters of one owner (the tenant, or the key
 * that created the notification); false when the set is full. */
static bool fold_owner(pending_set_t *set, const wc_counter_delta_t *d, const char *key_hint)
{
    char owner[WC_COUNTER_OWNER_LEN], scope[ID_LEN], id[ID_LEN];
    pending_t *doc = NULL;
    if (wc_counter_owner(owner, scope, d->tenant_id, key_hint) != 0 ||
        (doc = pending_get(set, owner)) == NULL) {
        return false;
    }
    doc->kind = DOC_TENANT;
    doc->tenant_id = d->tenant_id;
    doc->key_hint = key_hint;
    snprintf(doc->scope, sizeof(doc->scope), "%s", scope);
    doc->changes += key_hint == NULL;
    pending_t *touched[1 + WC_COUNTER_LEVELS];
    touched[0] = doc;
    for (int l = 0; l < WC_COUNTER_LEVELS; l++) {
        if (wc_counter_doc_id(id, sizeof(id), owner, (wc_counter_level_t)l, d->created_at_ms) !=
                0 ||
            (doc = pending_get(set, id)) == NULL) {
            return false;
        }
        doc->kind = DOC_LEVEL;
        doc->changes++;
        doc->tenant_id = d->tenant_id;
        doc->key_hint = key_hint;
        doc->start_ms = wc_counter_bucket_start((wc_counter_level_t)l, d->created_at_ms);
        wc_counter_scope(doc->scope, sizeof(doc->scope), owner, (wc_counter_level_t)l,
                         d->created_at_ms);
        if (l == WC_COUNTER_DAY && d->from < 0) {
            doc->keyed = true;
        }
        if (l == WC_COUNTER_MINUTE && d->from < 0) {
            doc->slotted = true;
            if (doc->slot_created == NULL &&
                (doc->slot_created = calloc(WC_LIST_SLOTS, sizeof(int64_t))) == NULL) {
                return false;
            }
            doc->slot_created[(d->created_at_ms - doc->start_ms) / WC_LIST_SLOT_MS]++;
        }
        touched[1 + l] = doc;
    }
    for (int i = 0; i < 1 + WC_COUNTER_LEVELS; i++) {
        if (d->from >= 0) {
            touched[i]->cells[cell_index(d->from, d->type, d->priority)]--;
        }
        touched[i]->cells[cell_index(d->to, d->type, d->priority)]++;
    }
    return true;
}

/* The _id of a tenant's throughput minute starting at `minute`. */
static void tp_minute_id(char id[ID_LEN], const char *tenant_id, int64_t minute)
{
    snprintf(id, ID_LEN, "%s:tp:%" PRId64, tenant_id, minute);
}

/* Adds one delta to the set; false when the set is full. */
static bool fold(pending_set_t *set, const wc_counter_delta_t *d)
{
    if (!fold_owner(set, d, NULL) || (d->key_hint != NULL && !fold_owner(set, d, d->key_hint))) {
        return false;
    }
    bool created = d->from < 0;
    bool sent = d->to == WC_STATUS_SENT && d->from != WC_STATUS_SENT;
    bool failed = d->to == WC_STATUS_FAILED && d->from != WC_STATUS_FAILED;
    if (created || sent || failed) {
        char id[ID_LEN];
        pending_t *doc = NULL;
        int64_t minute = floor_to(d->at_ms, WC_LIST_BUCKET_MS);
        tp_minute_id(id, d->tenant_id, minute);
        if ((doc = pending_get(set, id)) == NULL) {
            return false;
        }
        doc->kind = DOC_THROUGHPUT;
        doc->tenant_id = d->tenant_id;
        doc->start_ms = minute;
        snprintf(doc->scope, sizeof(doc->scope), "%s:tp:%" PRId64, d->tenant_id,
                 floor_to(d->at_ms, HOUR_MS));
        doc->created += created;
        doc->sent += sent;
        doc->failed += failed;
        if (sent && d->processing_ms >= 0) {
            if (doc->times == NULL && (doc->times = calloc(1, sizeof(*doc->times))) == NULL) {
                return false;
            }
            wc_duration_histogram_add(doc->times, d->processing_ms, 1);
        }
    }
    return true;
}

/* The processing times of a throughput minute's deliveries as $inc fields:
 * ptSum and pt.b<bucket> for each bucket that holds any (how many there were
 * is the sum of the buckets). */
static bool append_times(bson_t *inc, const wc_duration_histogram_t *times, int *changed)
{
    if (times == NULL || times->n == 0) {
        return true;
    }
    bool ok = BSON_APPEND_INT64(inc, "ptSum", times->sum_ms);
    for (int b = 0; ok && b < WC_DURATION_BUCKETS; b++) {
        char key[16];
        if (times->counts[b] != 0) {
            snprintf(key, sizeof(key), "pt.b%d", b);
            ok = BSON_APPEND_INT64(inc, key, times->counts[b]);
        }
    }
    *changed += 1;
    return ok;
}

/* The update of one pending document, or NULL when its net change is zero. */
static bson_t *pending_update(const pending_t *d)
{
    bson_t *update = bson_new();
    bson_t inc, soi;
    int changed = 0;
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
    if (d->kind == DOC_THROUGHPUT) {
        const struct {
            const char *name;
            int64_t v;
        } f[] = {{"created", d->created}, {"sent", d->sent}, {"failed", d->failed}};
        for (size_t i = 0; i < 3; i++) {
            if (f[i].v != 0) {
                ok = ok && BSON_APPEND_INT64(&inc, f[i].name, f[i].v);
                changed++;
            }
        }
        ok = ok && append_times(&inc, d->times, &changed);
    } else {
        for (int s = 0; s < WC_STATUS_COUNT; s++) {
            for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
                for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                    int64_t v = d->cells[cell_index(s, t, p)];
                    char key[48] = "c.";
                    if (v == 0 || wc_counter_cell_key(key + 2, sizeof(key) - 2, s, t, p) != 0) {
                        continue;
                    }
                    ok = ok && BSON_APPEND_INT64(&inc, key, v);
                    changed++;
                }
            }
        }
        for (int i = 0; d->slot_created != NULL && i < WC_LIST_SLOTS; i++) {
            char key[16];
            if (d->slot_created[i] != 0) {
                snprintf(key, sizeof(key), "s.s%d", i);
                ok = ok && BSON_APPEND_INT64(&inc, key, d->slot_created[i]);
                changed++;
            }
        }
    }
    if (d->kind != DOC_THROUGHPUT && d->changes > 0) {
        /* Even a batch whose moves cancel out changed what a list shows, and
         * a bucket's children may have changed when its own cells did not. */
        ok = ok && BSON_APPEND_INT64(&inc, "version", d->changes);
        changed++;
    }
    ok = ok && bson_append_document_end(update, &inc);
    ok = ok && BSON_APPEND_DOCUMENT_BEGIN(update, "$setOnInsert", &soi);
    ok = ok && BSON_APPEND_UTF8(&soi, "scope", d->scope);
    ok = ok && BSON_APPEND_UTF8(&soi, "tenantId", d->tenant_id);
    if (d->key_hint != NULL) {
        ok = ok && BSON_APPEND_UTF8(&soi, "apiKey", d->key_hint);
    }
    if (d->kind != DOC_TENANT) {
        ok = ok && BSON_APPEND_DATE_TIME(&soi, "start", d->start_ms);
    }
    if (d->keyed) {
        ok = ok && BSON_APPEND_BOOL(&soi, "keyed", true);
    }
    ok = ok && bson_append_document_end(update, &soi);
    if (d->slotted) {
        /* Set by whichever flush carries a creation, not only on insert: a
         * worker's flush of a later change may create the document first. */
        bson_t set;
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
        ok = ok && BSON_APPEND_BOOL(&set, "slotted", true);
        ok = ok && bson_append_document_end(update, &set);
    }
    if (!ok || changed == 0) {
        bson_destroy(update);
        return NULL;
    }
    return update;
}

wc_store_status_t wc_store_counters_apply(wc_store_t *store, const wc_counter_delta_t *deltas,
                                          size_t n)
{
    if (n == 0) {
        return WC_STORE_OK;
    }
    wc_store_status_t status = WC_STORE_ERROR;
    /* Each delta touches a tenant's and a key's top and level documents and a
     * throughput minute. */
    pending_set_t set = {.cap = n * (3 + 2 * WC_COUNTER_LEVELS)};
    bson_t **updates = NULL;
    const char **ids = NULL;
    size_t queued = 0;
    set.docs = calloc(set.cap, sizeof(*set.docs));
    if (set.docs == NULL) {
        wc_log_error("counters: out of memory for %zu deltas", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!valid_delta(&deltas[i])) {
            wc_log_error("counters: delta %zu is out of range (from %d, to %d, type %d, "
                         "priority %d); skipped",
                         i, deltas[i].from, deltas[i].to, deltas[i].type, deltas[i].priority);
            continue;
        }
        if (!fold(&set, &deltas[i])) {
            wc_log_error("counters: delta %zu could not be folded", i);
            goto out;
        }
    }
    updates = calloc(set.n + 1, sizeof(*updates));
    ids = calloc(set.n + 1, sizeof(*ids));
    if (updates == NULL || ids == NULL) {
        goto out;
    }
    for (size_t i = 0; i < set.n; i++) {
        updates[queued] = pending_update(&set.docs[i]);
        if (updates[queued] != NULL) {
            ids[queued++] = set.docs[i].id;
        }
    }
    status = wc_store_upsert_many(store, WC_COLL_COUNTERS, ids, updates, queued, "counters");
out:
    for (size_t i = 0; updates != NULL && i < queued; i++) {
        bson_destroy(updates[i]);
    }
    free(updates);
    free(ids);
    for (size_t i = 0; set.docs != NULL && i < set.n; i++) {
        free(set.docs[i].times);
        free(set.docs[i].slot_created);
    }
    free(set.docs);
    return status;
}

/* ---- reads ---- */

/* Adds the c map of `doc` into counts (+sign) */
static void read_cells(const bson_t *doc, int64_t counts[WC_STATUS_COUNT][WC_CHANNEL_COUNT]
                                                       [WC_PRIORITY_COUNT])
{
    bson_iter_t iter, cells;
    if (!bson_iter_init_find(&iter, doc, "c") || !BSON_ITER_HOLDS_DOCUMENT(&iter) ||
        !bson_iter_recurse(&iter, &cells)) {
        return;
    }
    while (bson_iter_next(&cells)) {
        int s, t, p;
        if (wc_counter_cell_parse(bson_iter_key(&cells), &s, &t, &p) == 0) {
            counts[s][t][p] += bson_iter_as_int64(&cells);
        }
    }
}

/* Reads the s map of a minute bucket (creations by second, "s<second>": a
 * key that is not a number, which a path could take for an array index). */
static void read_slot_created(const bson_t *doc, int64_t slots[WC_LIST_SLOTS])
{
    bson_iter_t iter, seconds;
    if (!bson_iter_init_find(&iter, doc, "s") || !BSON_ITER_HOLDS_DOCUMENT(&iter) ||
        !bson_iter_recurse(&iter, &seconds)) {
        return;
    }
    while (bson_iter_next(&seconds)) {
        char *end = NULL;
        const char *key = bson_iter_key(&seconds);
        long i = key[0] == 's' ? strtol(key + 1, &end, 10) : -1;
        if (end != NULL && end != key + 1 && *end == '\0' && i >= 0 && i < WC_LIST_SLOTS) {
            slots[i] += bson_iter_as_int64(&seconds);
        }
    }
}

/* A row visitor's walk: `row` returning false fails the read. */
typedef struct {
    bool (*row)(const bson_t *doc, void *arg);
    void *arg;
    bool failed;
} row_walk_t;

static bool walk_row(const bson_t *doc, void *arg)
{
    row_walk_t *w = arg;
    w->failed = !w->row(doc, w->arg);
    return !w->failed;
}

/* Runs find(filter) on the counters and calls `row` for each document; ERROR
 * when the read fails or `row` returns false. */
static wc_store_status_t find_each(wc_store_t *store, const bson_t *filter,
                                   bool (*row)(const bson_t *doc, void *arg), void *arg)
{
    row_walk_t walk = {.row = row, .arg = arg};
    wc_store_status_t status =
        wc_store_find_each(store, WC_COLL_COUNTERS, filter, NULL, walk_row, &walk);
    return walk.failed ? WC_STORE_ERROR : status;
}

typedef struct {
    wc_counter_bucket_t *items;
    size_t n;
    size_t cap;
} bucket_list_t;

/* Every bucket of a tenant stays below this many per parent (a day has 24
 * hours, an hour 60 minutes); days are bounded by retention, ten years here. */
#define BUCKETS_MAX 4000

static bool bucket_row(const bson_t *doc, void *arg)
{
    bucket_list_t *list = arg;
    int64_t start = wc_doc_date(doc, "start", INT64_MIN);
    if (start == INT64_MIN) {
        return true; /* not a bucket document: ignore */
    }
    if (list->n == list->cap) {
        size_t cap = list->cap == 0 ? 64 : list->cap * 2;
        if (cap > BUCKETS_MAX) {
            wc_log_error("counters: more than %d buckets under one parent", BUCKETS_MAX);
            return false;
        }
        void *grown = realloc(list->items, cap * sizeof(*list->items));
        if (grown == NULL) {
            return false;
        }
        list->items = grown;
        list->cap = cap;
    }
    wc_counter_bucket_t *b = &list->items[list->n++];
    memset(b, 0, sizeof(*b));
    b->start_ms = start;
    bson_iter_t slotted;
    b->slotted = bson_iter_init_find(&slotted, doc, "slotted") && BSON_ITER_HOLDS_BOOL(&slotted) &&
                 bson_iter_bool(&slotted);
    bson_iter_t keyed;
    b->keyed = bson_iter_init_find(&keyed, doc, "keyed") && BSON_ITER_HOLDS_BOOL(&keyed) &&
               bson_iter_bool(&keyed);
    read_cells(doc, b->counts);
    read_slot_created(doc, b->slot_created);
    b->version = wc_doc_int(doc, "version", 0);
    return true;
}

/* What this process counted and has not written yet (wc_store_trail_count)
 * goes to the counters before they are read, so that a client reads its own
 * writes through the API that took them; other processes' counts trail by
 * at most their flush interval. */
static void read_own_counts(wc_store_t *store, const char *tenant_id)
{
    (void)wc_store_counters_flush_for(store, tenant_id);
}

/* The tenant whose counter document `id_or_scope` names or lies under: what
 * comes before a key's '~' or a level's ':' ("tenants" for the list of all). */
static void owner_tenant(const char *id_or_scope, char out[64])
{
    size_t n = strcspn(id_or_scope, ":~");
    snprintf(out, 64, "%.*s", (int)(n < 63 ? n : 63), id_or_scope);
}

/* The bucket documents whose `field` equals `value`, after this process's
 * own counts are written. On OK `list` holds them (the caller frees items). */
static wc_store_status_t find_buckets(wc_store_t *store, const char *field, const char *value,
                                      bucket_list_t *list)
{
    char tenant[64];
    owner_tenant(value, tenant);
    read_own_counts(store, strcmp(value, "tenants") == 0 ? NULL : tenant);
    *list = (bucket_list_t){0};
    bson_t *filter = BCON_NEW(field, BCON_UTF8(value));
    wc_store_status_t status = find_each(store, filter, bucket_row, list);
    bson_destroy(filter);
    if (status != WC_STORE_OK) {
        free(list->items);
        *list = (bucket_list_t){0};
    }
    return status;
}

wc_store_status_t wc_store_counters_children(wc_store_t *store, const char *owner,
                                             wc_counter_level_t level, int64_t ms,
                                             wc_counter_bucket_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char scope[ID_LEN];
    bucket_list_t list;
    if (wc_counter_scope(scope, sizeof(scope), owner, level, ms) != 0) {
        return WC_STORE_ERROR;
    }
    wc_store_status_t status = find_buckets(store, "scope", scope, &list);
    *out = list.items;
    *n = list.n;
    return status;
}

wc_store_status_t wc_store_counters_bucket(wc_store_t *store, const char *owner,
                                           wc_counter_level_t level, int64_t ms,
                                           wc_counter_bucket_t *out, bool *found)
{
    *found = false;
    char id[ID_LEN];
    bucket_list_t list;
    if (wc_counter_doc_id(id, sizeof(id), owner, level, ms) != 0) {
        return WC_STORE_ERROR;
    }
    wc_store_status_t status = find_buckets(store, "_id", id, &list);
    if (status == WC_STORE_OK && list.n == 1) {
        *out = list.items[0];
        *found = true;
    }
    free(list.items);
    return status;
}

static wc_store_status_t store_children(void *store, const char *owner,
                                        wc_counter_level_t level, int64_t ms,
                                        int64_t parent_version, wc_counter_bucket_t **out,
                                        size_t *n)
{
    (void)parent_version;
    return wc_store_counters_children(store, owner, level, ms, out, n);
}

static wc_store_status_t store_bucket(void *store, const char *owner, wc_counter_level_t level,
                                      int64_t ms, int64_t parent_version,
                                      wc_counter_bucket_t *out, bool *found)
{
    (void)parent_version;
    return wc_store_counters_bucket(store, owner, level, ms, out, found);
}

wc_counter_reader_t wc_store_counter_reader(wc_store_t *store)
{
    return (wc_counter_reader_t){.children = store_children, .bucket = store_bucket,
                                 .arg = store};
}

static int64_t counts_total(const wc_store_counts_t *c)
{
    int64_t total = 0;
    for (int s = 0; s < WC_STATUS_COUNT; s++) {
        for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
            for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                total += c->counts[s][t][p];
            }
        }
    }
    return total;
}

static bool totals_row(const bson_t *doc, void *arg)
{
    wc_store_counts_t *out = arg;
    read_cells(doc, out->counts);
    return true;
}

typedef struct {
    int64_t *version;
    wc_store_counts_t *counts;
} version_read_t;

static bool version_row(const bson_t *doc, void *arg)
{
    version_read_t *read = arg;
    *read->version = wc_doc_int(doc, "version", 0);
    if (read->counts != NULL) {
        read_cells(doc, read->counts->counts);
    }
    return true;
}

wc_store_status_t wc_store_counters_version(wc_store_t *store, const char *tenant_id,
                                            int64_t *version, wc_store_counts_t *counts)
{
    read_own_counts(store, tenant_id);
    *version = 0;
    if (counts != NULL) {
        memset(counts, 0, sizeof(*counts));
    }
    version_read_t read = {.version = version, .counts = counts};
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(tenant_id));
    wc_store_status_t status = find_each(store, filter, version_row, &read);
    bson_destroy(filter);
    if (counts != NULL) {
        counts->total = counts_total(counts);
    }
    return status;
}

wc_store_status_t wc_store_counters_totals(wc_store_t *store, const char *tenant_id,
                                           wc_store_counts_t *out)
{
    read_own_counts(store, tenant_id);
    memset(out, 0, sizeof(*out));
    bson_t *filter = tenant_id != NULL ? BCON_NEW("_id", BCON_UTF8(tenant_id))
                                       : BCON_NEW("scope", BCON_UTF8("tenants"));
    wc_store_status_t status = find_each(store, filter, totals_row, out);
    bson_destroy(filter);
    out->total = counts_total(out);
    return status;
}

/* Windows of at most this many minutes are read minute by minute. */
#define TP_BY_ID_MAX 3

typedef struct {
    int64_t since_ms, until_ms;
    void (*each)(const wc_throughput_minute_t *, void *);
    void *arg;
    wc_duration_histogram_t *times;
} tp_call_t;

/* Adds the pt buckets and ptSum of a throughput minute to `times`. */
static void read_times(const bson_t *doc, wc_duration_histogram_t *times)
{
    bson_iter_t iter, buckets;
    if (bson_iter_init_find(&iter, doc, "pt") && BSON_ITER_HOLDS_DOCUMENT(&iter) &&
        bson_iter_recurse(&iter, &buckets)) {
        while (bson_iter_next(&buckets)) {
            const char *key = bson_iter_key(&buckets);
            char *end = NULL;
            long b = key[0] == 'b' ? strtol(key + 1, &end, 10) : -1;
            if (end != NULL && *end == '\0' && end != key + 1 && b < WC_DURATION_BUCKETS) {
                wc_duration_histogram_add_bucket(times, (int)b, bson_iter_as_int64(&buckets));
            }
        }
    }
    /* The exact sum over the same deliveries the buckets hold. */
    times->sum_ms += wc_doc_int(doc, "ptSum", 0);
}

static bool tp_row(const bson_t *doc, void *arg)
{
    tp_call_t *call = arg;
    int64_t start = wc_doc_date(doc, "start", INT64_MIN);
    if (start >= call->since_ms && start < call->until_ms) {
        const wc_throughput_minute_t minute = {
            .start_ms = start,
            .created = wc_doc_int(doc, "created", 0),
            .sent = wc_doc_int(doc, "sent", 0),
            .failed = wc_doc_int(doc, "failed", 0),
        };
        if (call->each != NULL) {
            call->each(&minute, call->arg);
        }
        if (call->times != NULL) {
            read_times(doc, call->times);
        }
    }
    return true;
}

wc_store_status_t wc_store_counters_throughput(wc_store_t *store, const char *tenant_id,
                                               int64_t since_ms, int64_t until_ms,
                                               void (*each)(const wc_throughput_minute_t *minute,
                                                            void *arg),
                                               void *arg, wc_duration_histogram_t *times)
{
    read_own_counts(store, tenant_id);
    tp_call_t call = {
        .since_ms = since_ms, .until_ms = until_ms, .each = each, .arg = arg, .times = times};
    if (until_ms - since_ms <= TP_BY_ID_MAX * WC_LIST_BUCKET_MS) {
        /* A few minutes: each by _id, rather than an hour's sixty siblings. */
        for (int64_t minute = floor_to(since_ms, WC_LIST_BUCKET_MS); minute < until_ms;
             minute += WC_LIST_BUCKET_MS) {
            char id[ID_LEN];
            tp_minute_id(id, tenant_id, minute);
            bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
            wc_store_status_t status = find_each(store, filter, tp_row, &call);
            bson_destroy(filter);
            if (status != WC_STORE_OK) {
                return status;
            }
        }
        return WC_STORE_OK;
    }
    /* One equality query per hour the window touches; the window is at most
     * two hours long so this is at most three queries. */
    int64_t first = floor_to(since_ms, HOUR_MS);
    if (until_ms - since_ms > 2 * HOUR_MS) {
        first = floor_to(until_ms - 2 * HOUR_MS, HOUR_MS);
    }
    for (int64_t hour = first; hour < until_ms; hour += HOUR_MS) {
        char scope[ID_LEN];
        snprintf(scope, sizeof(scope), "%s:tp:%" PRId64, tenant_id, hour);
        bson_t *filter = BCON_NEW("scope", BCON_UTF8(scope));
        wc_store_status_t status = find_each(store, filter, tp_row, &call);
        bson_destroy(filter);
        if (status != WC_STORE_OK) {
            return status;
        }
    }
    return WC_STORE_OK;
}

wc_store_status_t wc_store_ensure_list_indexes(wc_store_t *store)
{
    if (wc_store_is_ferretdb(store)) {
        return WC_STORE_OK;
    }
    const struct {
        const char *coll, *field, *name;
    } indexes[] = {{WC_COLL_NOTIFICATIONS, "listBucket", "list_bucket"},
                   {WC_COLL_NOTIFICATIONS, "listSlot", "list_slot"},
                   {WC_COLL_NOTIFICATIONS, "listDayKind", "list_day_kind"},
                   {WC_COLL_COUNTERS, "scope", "scope"}};
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        bson_t *key = BCON_NEW(indexes[i].field, BCON_INT32(1));
        ok = wc_store_create_index(store, indexes[i].coll, key, indexes[i].name);
        bson_destroy(key);
    }
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}
