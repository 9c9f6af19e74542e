/*
 * Reconciliation of the notification counters (wc_store_counters.h): recount
 * from the documents, compare, repair by $inc of the difference.
 *
 * One pass over one tenant or over all at once: read the stored counters
 * (S1), recount the notifications by minute, status, type and priority from
 * one streamed find (E), read the stored counters again (S2). All tenants go
 * in one pass because FerretDB cannot find one tenant's documents without
 * scanning the collection: per tenant, the cost would be one scan each. A
 * counter document that differs between S1 and S2 was
 * written during the recount: its writer is active, so E may already be stale
 * for it, and it is left for the next run. Every other document gets E - S2.
 * What remains: a status write whose counter write comes after S2 but whose
 * document change came before E is counted twice until the next run; the
 * write path keeps that window to one batch.
 *
 * Memory: one entry (~200 bytes plus 16 per non-zero cell) per counter
 * document reconciled: ~100 MiB for 400,000 counter documents (a million
 * notifications over a month, ten tenants).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"
#include "wc_store_counters.h"
#include "wc_store_private.h"
#include "wc_time.h"

#define ID_LEN WC_COUNTER_ID_LEN
#define CELLS (WC_STATUS_COUNT * WC_CHANNEL_COUNT * WC_PRIORITY_COUNT)
#define ENTRIES_MAX (8u << 20) /* counter documents of one pass */
#define BACKFILL_BATCH 1000

/* The non-zero cells of one counter document: few for a minute bucket. */
typedef struct {
    uint8_t n, cap;
    struct cell {
        uint8_t k;
        int64_t v;
    } *items;
} cells_t;

typedef struct {
    char id[ID_LEN];
    char scope[ID_LEN];
    char tenant_id[25];
    char key_hint[WC_KEY_HINT_SIZE]; /* a key's documents; "" for the tenant's */
    int64_t start_ms; /* INT64_MIN for the owner's top document */
    bool in_s1, in_s2, in_e;
    uint64_t s1_hash;
    cells_t s2;
    cells_t e;
} entry_t;

/* Adds v to cell k; false when out of memory. */
static bool cells_add(cells_t *c, int k, int64_t v)
{
    for (uint8_t i = 0; i < c->n; i++) {
        if (c->items[i].k == k) {
            c->items[i].v += v;
            return true;
        }
    }
    if (c->n == c->cap) {
        unsigned cap = c->cap == 0 ? 2 : (unsigned)c->cap * 2;
        if (cap > CELLS) {
            cap = CELLS;
        }
        void *grown = realloc(c->items, cap * sizeof(*c->items));
        if (grown == NULL) {
            return false;
        }
        c->items = grown;
        c->cap = (uint8_t)cap;
    }
    c->items[c->n].k = (uint8_t)k;
    c->items[c->n].v = v;
    c->n++;
    return true;
}

static int64_t cells_get(const cells_t *c, int k)
{
    for (uint8_t i = 0; i < c->n; i++) {
        if (c->items[i].k == k) {
            return c->items[i].v;
        }
    }
    return 0;
}

typedef struct {
    entry_t **slots;
    size_t cap; /* a power of two */
    size_t n;
} table_t;

static uint64_t fnv1a(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    return h;
}

static size_t slot_of(const table_t *t, const char *id)
{
    size_t i = (size_t)fnv1a(id, strlen(id), 14695981039346656037ULL) & (t->cap - 1);
    while (t->slots[i] != NULL && strcmp(t->slots[i]->id, id) != 0) {
        i = (i + 1) & (t->cap - 1);
    }
    return i;
}

static bool table_grow(table_t *t)
{
    size_t cap = t->cap == 0 ? 1024 : t->cap * 2;
    entry_t **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) {
        return false;
    }
    table_t bigger = {.slots = slots, .cap = cap, .n = t->n};
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) {
            bigger.slots[slot_of(&bigger, t->slots[i]->id)] = t->slots[i];
        }
    }
    free(t->slots);
    *t = bigger;
    return true;
}

/* The entry `id`, created when absent; NULL when out of memory or past the
 * bound. */
static entry_t *table_get(table_t *t, const char *id)
{
    if ((t->n + 1) * 2 > t->cap && !table_grow(t)) {
        return NULL;
    }
    size_t i = slot_of(t, id);
    if (t->slots[i] == NULL) {
        if (t->n >= ENTRIES_MAX) {
            return NULL;
        }
        entry_t *e = calloc(1, sizeof(*e));
        if (e == NULL) {
            return NULL;
        }
        snprintf(e->id, sizeof(e->id), "%s", id);
        e->start_ms = INT64_MIN;
        t->slots[i] = e;
        t->n++;
    }
    return t->slots[i];
}

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) {
            free(t->slots[i]->s2.items);
            free(t->slots[i]->e.items);
            free(t->slots[i]);
        }
    }
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static int cell_index(int s, int t, int p)
{
    return (s * WC_CHANNEL_COUNT + t) * WC_PRIORITY_COUNT + p;
}

/* Reads the c map of a counter document into cells (zeroed first). */
static void doc_cells(const bson_t *doc, int64_t cells[CELLS])
{
    memset(cells, 0, CELLS * sizeof(cells[0]));
    bson_iter_t iter, c;
    if (!bson_iter_init_find(&iter, doc, "c") || !BSON_ITER_HOLDS_DOCUMENT(&iter) ||
        !bson_iter_recurse(&iter, &c)) {
        return;
    }
    while (bson_iter_next(&c)) {
        int s, t, p;
        if (wc_counter_cell_parse(bson_iter_key(&c), &s, &t, &p) == 0) {
            cells[cell_index(s, t, p)] += bson_iter_as_int64(&c);
        }
    }
}

/* Reads the state counters (not the throughput minutes) of one tenant, or of
 * all when `tenant_id` is NULL, into the table: pass 1 keeps a hash of each,
 * pass 2 the cells. */
static wc_store_status_t read_stored(wc_store_t *store, const char *tenant_id, table_t *table,
                                     int pass)
{
    bson_t *filter = tenant_id != NULL ? BCON_NEW("tenantId", BCON_UTF8(tenant_id)) : bson_new();
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, WC_COLL_COUNTERS);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    wc_store_status_t status = WC_STORE_OK;
    const bson_t *doc = NULL;
    int64_t cells[CELLS];
    while (mongoc_cursor_next(cursor, &doc)) {
        const char *id = wc_doc_string(doc, "_id");
        if (id == NULL || strstr(id, ":tp:") != NULL) {
            continue;
        }
        const char *tenant = wc_doc_string(doc, "tenantId");
        entry_t *e = table_get(table, id);
        if (e == NULL || tenant == NULL || strlen(tenant) >= sizeof(e->tenant_id)) {
            wc_log_error("reconcile: too many counter documents, or %s has no tenant", id);
            status = WC_STORE_ERROR;
            break;
        }
        snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant);
        doc_cells(doc, cells);
        if (pass == 1) {
            e->in_s1 = true;
            e->s1_hash = fnv1a(cells, sizeof(cells), 14695981039346656037ULL);
        } else {
            e->in_s2 = true;
            for (int k = 0; k < CELLS && status == WC_STORE_OK; k++) {
                if (cells[k] != 0 && !cells_add(&e->s2, k, cells[k])) {
                    status = WC_STORE_ERROR;
                }
            }
        }
    }
    bson_error_t error;
    if (status == WC_STORE_OK && mongoc_cursor_error(cursor, &error)) {
        wc_log_error("reconcile: reading counters failed: %s", error.message);
        status = WC_STORE_ERROR;
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(filter);
    return status;
}

/* Adds n notifications of (s, t, p) created in the minute starting at
 * `minute_ms` to the expected counts of every level of one owner: the tenant,
 * or the key that created them. */
static bool expect_owner(table_t *table, const char *tenant_id, const char *key_hint,
                         int64_t minute_ms, int s, int t, int p, int64_t n)
{
    char owner[WC_COUNTER_OWNER_LEN], scope[ID_LEN], id[ID_LEN];
    entry_t *e = NULL;
    if (wc_counter_owner(owner, scope, tenant_id, key_hint) != 0 ||
        (e = table_get(table, owner)) == NULL) {
        return false;
    }
    for (int l = -1; l < WC_COUNTER_LEVELS; l++) {
        if (l >= 0) {
            if (wc_counter_doc_id(id, sizeof(id), owner, (wc_counter_level_t)l, minute_ms) != 0 ||
                (e = table_get(table, id)) == NULL) {
                return false;
            }
            e->start_ms = wc_counter_bucket_start((wc_counter_level_t)l, minute_ms);
            wc_counter_scope(scope, sizeof(scope), owner, (wc_counter_level_t)l, minute_ms);
        }
        e->in_e = true;
        snprintf(e->scope, sizeof(e->scope), "%s", scope);
        snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant_id);
        snprintf(e->key_hint, sizeof(e->key_hint), "%s", key_hint != NULL ? key_hint : "");
        if (!cells_add(&e->e, cell_index(s, t, p), n)) {
            return false;
        }
    }
    return true;
}

static bool expect(table_t *table, const char *tenant_id, const char *key_hint, int64_t minute_ms,
                   int s, int t, int p, int64_t n)
{
    return expect_owner(table, tenant_id, NULL, minute_ms, s, t, p, n) &&
           (key_hint == NULL || expect_owner(table, tenant_id, key_hint, minute_ms, s, t, p, n));
}

/* Gives listBucket to the documents queued in `bulk`; destroys it. */
static wc_store_status_t flush_backfill(mongoc_bulk_operation_t **bulk, size_t *queued,
                                        wc_counters_reconcile_report_t *report)
{
    wc_store_status_t status = WC_STORE_OK;
    if (*bulk == NULL) {
        return status;
    }
    bson_t reply;
    bson_error_t error;
    if (mongoc_bulk_operation_execute(*bulk, &reply, &error) == 0) {
        wc_log_error("reconcile: backfilling listBucket failed: %s", error.message);
        status = WC_STORE_ERROR;
    } else {
        report->backfilled += (int64_t)*queued;
    }
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(*bulk);
    *bulk = NULL;
    *queued = 0;
    return status;
}

/* Recounts the notifications (of one tenant, or all) into the table's
 * expected counts, and gives listBucket, listSlot and listDayKind to documents
 * written before they existed. One streamed find, grouped here rather than by $group: FerretDB
 * answers an aggregate in one request, which at a million documents runs past
 * what the local launcher's watchdog allows, while a find is fetched batch by
 * batch (each getMore a short request). */
static wc_store_status_t recount(wc_store_t *store, const char *tenant_id, table_t *table,
                                 wc_counters_reconcile_report_t *report)
{
    bson_t *filter = tenant_id != NULL ? BCON_NEW("tenantId", BCON_UTF8(tenant_id)) : bson_new();
    bson_t *opts = BCON_NEW("projection", "{", "tenantId", BCON_INT32(1), "listBucket",
                            BCON_INT32(1), "listSlot", BCON_INT32(1), "listDayKind", BCON_INT32(1),
                            "createdAt", BCON_INT32(1),
                            "status", BCON_INT32(1), "apiKey", BCON_INT32(1),
                            "type", BCON_INT32(1), "priority", BCON_INT32(1), "}", "batchSize",
                            BCON_INT32(2000));
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, store->db, WC_COLL_NOTIFICATIONS);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    mongoc_bulk_operation_t *bulk = NULL;
    size_t queued = 0;
    wc_store_status_t status = WC_STORE_OK;
    const bson_t *doc = NULL;
    bson_error_t error;
    while (status == WC_STORE_OK && mongoc_cursor_next(cursor, &doc)) {
        const char *tenant = wc_doc_string(doc, "tenantId");
        const char *sn = wc_doc_string(doc, "status"), *tn = wc_doc_string(doc, "type"),
                   *pn = wc_doc_string(doc, "priority");
        bson_iter_t created, id;
        wc_status_t s;
        wc_channel_t t;
        wc_priority_t p;
        /* A document outside the enums (written by hand) cannot be counted. */
        if (tenant == NULL || strlen(tenant) >= 25 || sn == NULL || tn == NULL || pn == NULL ||
            wc_status_parse(sn, &s) != 0 || wc_channel_parse(tn, &t) != 0 ||
            wc_priority_parse(pn, &p) != 0 || !bson_iter_init_find(&created, doc, "createdAt") ||
            !BSON_ITER_HOLDS_DATE_TIME(&created) || !bson_iter_init_find(&id, doc, "_id")) {
            continue;
        }
        int64_t created_ms = bson_iter_date_time(&created);
        char bucket[WC_LIST_BUCKET_LEN];
        if (wc_notification_list_bucket(bucket, sizeof(bucket), tenant, created_ms) != 0) {
            continue;
        }
        const char *stored = wc_doc_string(doc, "listBucket");
        char slot[WC_LIST_BUCKET_LEN];
        if (wc_notification_list_slot(slot, sizeof(slot), tenant, created_ms) != 0) {
            continue;
        }
        const char *stored_slot = wc_doc_string(doc, "listSlot");
        char day[WC_LIST_BUCKET_LEN];
        if (wc_notification_list_day_kind(day, sizeof(day), tenant, created_ms, t, p) != 0) {
            continue;
        }
        const char *stored_day = wc_doc_string(doc, "listDayKind");
        if (stored == NULL || strcmp(stored, bucket) != 0 || stored_slot == NULL ||
            strcmp(stored_slot, slot) != 0 || stored_day == NULL || strcmp(stored_day, day) != 0) {
            if (bulk == NULL) {
                bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
            }
            bson_t selector = BSON_INITIALIZER;
            bson_append_iter(&selector, "_id", -1, &id);
            bson_t *update = BCON_NEW("$set", "{", "listBucket", BCON_UTF8(bucket), "listSlot",
                                      BCON_UTF8(slot), "listDayKind", BCON_UTF8(day), "}");
            if (!mongoc_bulk_operation_update_one_with_opts(bulk, &selector, update, NULL,
                                                            &error)) {
                wc_log_error("reconcile: building the backfill failed: %s", error.message);
                status = WC_STORE_ERROR;
            }
            bson_destroy(update);
            bson_destroy(&selector);
            if (++queued == BACKFILL_BATCH) {
                status = status == WC_STORE_OK ? flush_backfill(&bulk, &queued, report) : status;
            }
        }
        report->notifications++;
        const char *key_hint = wc_doc_string(doc, "apiKey");
        if (!wc_key_hint_valid(key_hint)) {
            key_hint = NULL;
        }
        if (status == WC_STORE_OK &&
            !expect(table, tenant, key_hint, wc_counter_bucket_start(WC_COUNTER_MINUTE, created_ms), (int)s,
                    (int)t, (int)p, 1)) {
            wc_log_error("reconcile: too many counter documents, or out of memory");
            status = WC_STORE_ERROR;
        }
    }
    if (status == WC_STORE_OK && mongoc_cursor_error(cursor, &error)) {
        wc_log_error("reconcile: reading the notifications failed: %s", error.message);
        status = WC_STORE_ERROR;
    }
    if (status == WC_STORE_OK) {
        status = flush_backfill(&bulk, &queued, report);
    } else if (bulk != NULL) {
        mongoc_bulk_operation_destroy(bulk);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return status;
}

/* The ancestors (day, hour) of the buckets a repair wrote, each once. */
typedef struct {
    char (*ids)[ID_LEN];
    size_t n, cap;
} id_set_t;

static bool id_set_add(id_set_t *set, const char *id)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->ids[i], id) == 0) {
            return true;
        }
    }
    if (set->n == set->cap) {
        size_t cap = set->cap == 0 ? 64 : set->cap * 2;
        void *grown = realloc(set->ids, cap * sizeof(*set->ids));
        if (grown == NULL) {
            return false;
        }
        set->ids = grown;
        set->cap = cap;
    }
    snprintf(set->ids[set->n++], ID_LEN, "%s", id);
    return true;
}

/* Adds the day and hour above the level bucket `e` to `fixed`. */
static bool note_fixed(id_set_t *fixed, const entry_t *e)
{
    char owner[WC_COUNTER_OWNER_LEN], id[ID_LEN];
    if (wc_counter_owner(owner, NULL, e->tenant_id,
                         e->key_hint[0] != '\0' ? e->key_hint : NULL) != 0) {
        return true; /* not an owner the write path counts: nothing above it */
    }
    int level = -1;
    for (int l = 0; l < WC_COUNTER_LEVELS && level < 0; l++) {
        if (wc_counter_doc_id(id, sizeof(id), owner, (wc_counter_level_t)l, e->start_ms) == 0 &&
            strcmp(id, e->id) == 0) {
            level = l;
        }
    }
    for (int l = 0; l < level; l++) {
        if (wc_counter_doc_id(id, sizeof(id), owner, (wc_counter_level_t)l, e->start_ms) != 0 ||
            !id_set_add(fixed, id)) {
            return false;
        }
    }
    return true;
}

/* Advances the version of every day and hour above a repaired bucket. Two
 * repairs under one parent that cancel out leave the parent's own cells as
 * they were, so the repair did not write it; the API keeps a bucket's
 * children under the parent's version (api/bucket_cache.h) and would go on
 * showing the children as they were. One update at a time, after the
 * repairs: advancing them inside the repairs' bulk write stalled FerretDB
 * 1.24 (docs/READS.md). */
static wc_store_status_t advance_ancestors(mongoc_collection_t *coll, const id_set_t *fixed)
{
    wc_store_status_t status = WC_STORE_OK;
    for (size_t i = 0; i < fixed->n && status == WC_STORE_OK; i++) {
        bson_t *selector = BCON_NEW("_id", BCON_UTF8(fixed->ids[i]));
        bson_t *bump = BCON_NEW("$inc", "{", "version", BCON_INT64(1), "}");
        bson_error_t error;
        if (!mongoc_collection_update_one(coll, selector, bump, NULL, NULL, &error)) {
            wc_log_error("reconcile: advancing %s failed: %s", fixed->ids[i], error.message);
            status = WC_STORE_ERROR;
        }
        bson_destroy(bump);
        bson_destroy(selector);
    }
    return status;
}

/* Writes E - S2 for every quiet entry that disagrees. */
static wc_store_status_t repair(wc_store_t *store, table_t *table,
                                wc_counters_reconcile_report_t *report)
{
    id_set_t fixed_set = {0};
    id_set_t *fixed = &fixed_set;
    mongoc_client_t *client = wc_store_client_take(store);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, store->db, WC_COLL_COUNTERS);
    bson_t *bulk_opts = BCON_NEW("ordered", BCON_BOOL(false));
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll, bulk_opts);
    wc_store_status_t status = WC_STORE_OK;
    size_t queued = 0;
    bson_error_t error;
    for (size_t i = 0; i < table->cap && status == WC_STORE_OK; i++) {
        entry_t *e = table->slots[i];
        if (e == NULL) {
            continue;
        }
        report->buckets_checked++;
        int64_t dense[CELLS] = {0};
        for (uint8_t c = 0; c < e->s2.n; c++) {
            dense[e->s2.items[c].k] = e->s2.items[c].v;
        }
        uint64_t s2_hash = fnv1a(dense, sizeof(dense), 14695981039346656037ULL);
        int64_t zero[CELLS] = {0};
        uint64_t s1_hash =
            e->in_s1 ? e->s1_hash : fnv1a(zero, sizeof(zero), 14695981039346656037ULL);
        if (e->in_s1 != e->in_s2 || s1_hash != s2_hash) {
            report->buckets_busy++;
            continue;
        }
        bson_t *update = bson_new();
        bson_t inc, soi;
        int changed = 0;
        BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
        for (int s = 0; s < WC_STATUS_COUNT; s++) {
            for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
                for (int p = 0; p < WC_PRIORITY_COUNT; p++) {
                    int k = cell_index(s, t, p);
                    int64_t diff = cells_get(&e->e, k) - dense[k];
                    char key[48] = "c.";
                    if (diff == 0 || wc_counter_cell_key(key + 2, sizeof(key) - 2, s, t, p) != 0) {
                        continue;
                    }
                    BSON_APPEND_INT64(&inc, key, diff);
                    changed++;
                }
            }
        }
        if (changed > 0 && e->start_ms != INT64_MIN) {
            /* Readers keep a bucket's children under its version; the
             * ancestors' versions advance after this bulk (advance_ancestors). */
            BSON_APPEND_INT64(&inc, "version", 1);
            if (!note_fixed(fixed, e)) {
                wc_log_error("reconcile: out of memory");
                status = WC_STORE_ERROR;
            }
        }
        bson_append_document_end(update, &inc);
        if (changed > 0) {
            BSON_APPEND_DOCUMENT_BEGIN(update, "$setOnInsert", &soi);
            BSON_APPEND_UTF8(&soi, "scope", e->scope);
            BSON_APPEND_UTF8(&soi, "tenantId", e->tenant_id);
            if (e->key_hint[0] != '\0') {
                BSON_APPEND_UTF8(&soi, "apiKey", e->key_hint);
            }
            if (e->start_ms != INT64_MIN) {
                BSON_APPEND_DATE_TIME(&soi, "start", e->start_ms);
            }
            bson_append_document_end(update, &soi);
            bson_t *selector = BCON_NEW("_id", BCON_UTF8(e->id));
            bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
            if (!mongoc_bulk_operation_update_one_with_opts(bulk, selector, update, opts, &error)) {
                wc_log_error("reconcile: building the repair failed: %s", error.message);
                status = WC_STORE_ERROR;
            }
            bson_destroy(opts);
            bson_destroy(selector);
            report->buckets_fixed++;
            report->cells_fixed += changed;
            queued++;
            /* A repaired count changes what the tenant's lists show: the
             * API's cached answers (keyed on `version`) must not be used. */
            bson_t *tenant = BCON_NEW("_id", BCON_UTF8(e->tenant_id));
            bson_t *bump = BCON_NEW("$inc", "{", "version", BCON_INT64(1), "}");
            if (!mongoc_bulk_operation_update_one_with_opts(bulk, tenant, bump, NULL, &error)) {
                wc_log_error("reconcile: building the repair failed: %s", error.message);
                status = WC_STORE_ERROR;
            }
            bson_destroy(bump);
            bson_destroy(tenant);
        }
        bson_destroy(update);
    }
    if (status == WC_STORE_OK && queued > 0) {
        bson_t reply;
        if (mongoc_bulk_operation_execute(bulk, &reply, &error) == 0) {
            wc_log_error("reconcile: writing the repairs failed: %s", error.message);
            status = WC_STORE_ERROR;
        }
        bson_destroy(&reply);
    }
    if (status == WC_STORE_OK) {
        status = advance_ancestors(coll, fixed);
    }
    free(fixed->ids);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(bulk_opts);
    mongoc_collection_destroy(coll);
    wc_store_client_give(store, client);
    return status;
}

wc_store_status_t wc_store_counters_reconcile(wc_store_t *store, const char *tenant_id,
                                              wc_counters_reconcile_report_t *report)
{
    memset(report, 0, sizeof(*report));
    int64_t started = wc_time_monotonic_ms();
    table_t table = {0};
    wc_store_status_t status = read_stored(store, tenant_id, &table, 1);
    if (status == WC_STORE_OK) {
        status = recount(store, tenant_id, &table, report);
    }
    if (status == WC_STORE_OK) {
        status = read_stored(store, tenant_id, &table, 2);
    }
    if (status == WC_STORE_OK) {
        status = repair(store, &table, report);
    }
    table_free(&table);
    report->elapsed_ms = wc_time_monotonic_ms() - started;
    return status;
}
