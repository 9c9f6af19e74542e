/* Per API key usage by UTC day; see wc_store_usage.h. */
#include "wc_store_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wc_log.h"
#include "wc_store_private.h"
#include "wc_time.h"


/* One table of names: field names of the documents and of the API's JSON. */
static const char *const class_names[WC_USAGE_CLASS_COUNT] = {"read", "send", "operate", "admin"};
static const char *const refusal_names[WC_REFUSED_COUNT] = {"401", "403", "429", "503"};
static const unsigned refusal_statuses[WC_REFUSED_COUNT] = {401, 403, 429, 503};

const char *wc_usage_class_name(wc_usage_class_t c)
{
    return c >= 0 && c < WC_USAGE_CLASS_COUNT ? class_names[c] : "?";
}

const char *wc_usage_refusal_name(wc_usage_refusal_t r)
{
    return r >= 0 && r < WC_REFUSED_COUNT ? refusal_names[r] : "?";
}

int wc_usage_refusal_of_status(unsigned status)
{
    for (int r = 0; r < WC_REFUSED_COUNT; r++) {
        if (refusal_statuses[r] == status) {
            return r;
        }
    }
    return -1;
}

void wc_usage_day_name(int64_t ms, char out[11])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) == 0) {
        snprintf(out, 11, "0000-00-00");
    }
}

static void usage_id(const wc_usage_day_t *d, char *out, size_t len)
{
    char day[11];
    wc_usage_day_name(d->day_ms, day);
    snprintf(out, len, "%s:%s:%s", d->tenant_id, d->key_id, day);
}

/* Appends "<prefix>.<name>": n for every non-zero count of a group. */
static bool append_counts(bson_t *inc, const char *prefix, const int64_t *counts, size_t count,
                          const char *(*name)(int), int *changed)
{
    bool ok = true;
    for (size_t i = 0; i < count; i++) {
        if (counts[i] == 0) {
            continue;
        }
        char key[48];
        snprintf(key, sizeof(key), "%s.%s", prefix, name((int)i));
        ok = ok && BSON_APPEND_INT64(inc, key, counts[i]);
        (*changed)++;
    }
    return ok;
}

static const char *class_name_int(int i) { return wc_usage_class_name((wc_usage_class_t)i); }
static const char *channel_name_int(int i) { return wc_channel_name((wc_channel_t)i); }
static const char *refusal_name_int(int i) { return wc_usage_refusal_name((wc_usage_refusal_t)i); }

/* The update of one day, or NULL when it counts nothing. The first use is
 * whatever the first flush to create the document carried; the last use is
 * the latest time any flush carried, with the address of the last flush. */
static bson_t *day_update(const wc_usage_day_t *d)
{
    bson_t *update = bson_new();
    bson_t inc, soi, max, set;
    int changed = 0;
    char day[11];
    wc_usage_day_name(d->day_ms, day);
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
    ok = ok && append_counts(&inc, "requests", d->requests, WC_USAGE_CLASS_COUNT, class_name_int,
                             &changed);
    ok = ok && append_counts(&inc, "accepted", d->accepted, WC_CHANNEL_COUNT, channel_name_int,
                             &changed);
    ok = ok && append_counts(&inc, "refused", d->refused, WC_REFUSED_COUNT, refusal_name_int,
                             &changed);
    ok = ok && bson_append_document_end(update, &inc);
    ok = ok && BSON_APPEND_DOCUMENT_BEGIN(update, "$setOnInsert", &soi);
    ok = ok && BSON_APPEND_UTF8(&soi, "tenantId", d->tenant_id);
    ok = ok && BSON_APPEND_UTF8(&soi, "keyId", d->key_id);
    ok = ok && BSON_APPEND_UTF8(&soi, "hint", d->hint);
    ok = ok && BSON_APPEND_UTF8(&soi, "day", day);
    ok = ok && BSON_APPEND_DATE_TIME(&soi, "dayStart", d->day_ms);
    if (d->first_at_ms > 0) {
        ok = ok && BSON_APPEND_DATE_TIME(&soi, "firstUseAt", d->first_at_ms);
        ok = ok && BSON_APPEND_UTF8(&soi, "firstUseFrom", d->first_from);
    }
    ok = ok && bson_append_document_end(update, &soi);
    if (d->last_at_ms > 0) {
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(update, "$max", &max);
        ok = ok && BSON_APPEND_DATE_TIME(&max, "lastUseAt", d->last_at_ms);
        ok = ok && bson_append_document_end(update, &max);
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
        ok = ok && BSON_APPEND_UTF8(&set, "lastUseFrom", d->last_from);
        ok = ok && bson_append_document_end(update, &set);
    }
    if (!ok || changed == 0) {
        bson_destroy(update);
        return NULL;
    }
    return update;
}

static json_object *counts_json(const int64_t *counts, size_t n, const char *(*name)(int))
{
    json_object *obj = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        json_object_object_add(obj, name((int)i), json_object_new_int64(counts[i]));
    }
    return obj;
}


void wc_usage_add_counts_json(json_object *row, const int64_t requests[WC_USAGE_CLASS_COUNT],
                              const int64_t accepted[WC_CHANNEL_COUNT],
                              const int64_t refused[WC_REFUSED_COUNT])
{
    json_object_object_add(row, "requests",
                           counts_json(requests, WC_USAGE_CLASS_COUNT, class_name_int));
    json_object_object_add(row, "accepted",
                           counts_json(accepted, WC_CHANNEL_COUNT, channel_name_int));
    json_object_object_add(row, "refused",
                           counts_json(refused, WC_REFUSED_COUNT, refusal_name_int));
}

wc_store_status_t wc_store_usage_add(wc_store_t *store, const wc_usage_day_t *days, size_t n)
{
    if (n == 0) {
        return WC_STORE_OK;
    }
    wc_store_status_t status = WC_STORE_ERROR;
    bson_t **updates = calloc(n, sizeof(*updates));
    char(*ids)[64] = calloc(n, sizeof(*ids));
    const char **id_of = calloc(n, sizeof(*id_of));
    size_t queued = 0;
    if (updates == NULL || ids == NULL || id_of == NULL) {
        wc_log_error("usage: out of memory for %zu days", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bson_t *update = day_update(&days[i]);
        if (update == NULL) {
            continue;
        }
        updates[queued] = update;
        usage_id(&days[i], ids[queued], sizeof(ids[queued]));
        id_of[queued] = ids[queued];
        queued++;
    }
    status = wc_store_upsert_many(store, WC_COLL_USAGE, id_of, updates, queued, "usage");
out:
    for (size_t i = 0; updates != NULL && i < queued; i++) {
        bson_destroy(updates[i]);
    }
    free(updates);
    free(ids);
    free(id_of);
    return status;
}

static void copy_field(const bson_t *doc, const char *key, char *out, size_t len)
{
    const char *v = wc_doc_string(doc, key);
    snprintf(out, len, "%s", v != NULL ? v : "");
}

/* Reads "<group>": {name: n} into counts[], by the names of the group. */
static void read_counts(const bson_t *doc, const char *group, int64_t *counts, size_t count,
                        const char *(*name)(int))
{
    bson_iter_t iter, sub;
    if (!bson_iter_init_find(&iter, doc, group) || !BSON_ITER_HOLDS_DOCUMENT(&iter) ||
        !bson_iter_recurse(&iter, &sub)) {
        return;
    }
    while (bson_iter_next(&sub)) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(bson_iter_key(&sub), name((int)i)) != 0) {
                continue;
            }
            if (BSON_ITER_HOLDS_INT64(&sub)) {
                counts[i] = bson_iter_int64(&sub);
            } else if (BSON_ITER_HOLDS_INT32(&sub)) {
                counts[i] = bson_iter_int32(&sub);
            } else if (BSON_ITER_HOLDS_DOUBLE(&sub)) {
                counts[i] = (int64_t)bson_iter_double(&sub);
            }
        }
    }
}

static void day_from_doc(const bson_t *doc, wc_usage_day_t *d)
{
    memset(d, 0, sizeof(*d));
    copy_field(doc, "tenantId", d->tenant_id, sizeof(d->tenant_id));
    copy_field(doc, "keyId", d->key_id, sizeof(d->key_id));
    copy_field(doc, "hint", d->hint, sizeof(d->hint));
    d->day_ms = wc_doc_date(doc, "dayStart", 0);
    read_counts(doc, "requests", d->requests, WC_USAGE_CLASS_COUNT, class_name_int);
    read_counts(doc, "accepted", d->accepted, WC_CHANNEL_COUNT, channel_name_int);
    read_counts(doc, "refused", d->refused, WC_REFUSED_COUNT, refusal_name_int);
    d->first_at_ms = wc_doc_date(doc, "firstUseAt", 0);
    copy_field(doc, "firstUseFrom", d->first_from, sizeof(d->first_from));
    d->last_at_ms = wc_doc_date(doc, "lastUseAt", 0);
    copy_field(doc, "lastUseFrom", d->last_from, sizeof(d->last_from));
}

/* What wc_store_usage_read's visitor fills. */
typedef struct {
    wc_usage_day_t *days;
    size_t n, cap, max;
    bool out_of_memory;
} day_array_t;

static bool add_day(const bson_t *doc, void *arg)
{
    day_array_t *a = arg;
    if (a->n == a->max) {
        return false;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        wc_usage_day_t *grown = realloc(a->days, cap * sizeof(*grown));
        if (grown == NULL) {
            wc_log_error("out of memory reading %s", WC_COLL_USAGE);
            a->out_of_memory = true;
            return false;
        }
        a->days = grown;
        a->cap = cap;
    }
    day_from_doc(doc, &a->days[a->n++]);
    return true;
}

wc_store_status_t wc_store_usage_read(wc_store_t *store, const char *tenant_id,
                                      const char *key_id, int64_t from_ms, int64_t to_ms,
                                      size_t max, wc_usage_day_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    /* Equality on tenantId (and keyId) is what FerretDB pushes down; the day
     * range narrows a set that is at most keys x retained days. */
    bson_t *filter = BCON_NEW("tenantId", BCON_UTF8(tenant_id), "dayStart", "{", "$gte",
                              BCON_DATE_TIME(from_ms), "$lte", BCON_DATE_TIME(to_ms), "}");
    if (key_id != NULL) {
        BSON_APPEND_UTF8(filter, "keyId", key_id);
    }
    bson_t *opts = BCON_NEW("sort", "{", "dayStart", BCON_INT32(1), "keyId", BCON_INT32(1), "}",
                            "limit", BCON_INT64((int64_t)max));
    day_array_t a = {.max = max};
    wc_store_status_t status =
        max == 0 ? WC_STORE_OK : wc_store_find_each(store, WC_COLL_USAGE, filter, opts, add_day, &a);
    bson_destroy(opts);
    bson_destroy(filter);
    if (status != WC_STORE_OK || a.out_of_memory) {
        free(a.days);
        return WC_STORE_ERROR;
    }
    *out = a.days;
    *n_out = a.n;
    return WC_STORE_OK;
}

/* Most key-days one summary reads: every key of a large tenant for the
 * retained days. */
#define SUMMARY_DAYS_MAX 200000

static int64_t sum(const int64_t *v, size_t n)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += v[i];
    }
    return total;
}

wc_store_status_t wc_store_usage_summaries(wc_store_t *store, const char *tenant_id,
                                           int64_t now_ms, int retention_days,
                                           wc_usage_summary_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    int64_t today = now_ms - now_ms % WC_DAY_MS;
    int64_t recent = today - (WC_USAGE_RECENT_DAYS - 1) * WC_DAY_MS;
    wc_usage_day_t *days = NULL;
    size_t n = 0;
    wc_store_status_t status =
        wc_store_usage_read(store, tenant_id, NULL, today - (int64_t)retention_days * WC_DAY_MS,
                            today, SUMMARY_DAYS_MAX, &days, &n);
    if (status != WC_STORE_OK) {
        return status;
    }
    wc_usage_summary_t *sums = calloc(n > 0 ? n : 1, sizeof(*sums));
    if (sums == NULL) {
        free(days);
        return WC_STORE_ERROR;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const wc_usage_day_t *d = &days[i];
        wc_usage_summary_t *s = NULL;
        for (size_t k = 0; k < m && s == NULL; k++) {
            s = strcmp(sums[k].key_id, d->key_id) == 0 ? &sums[k] : NULL;
        }
        if (s == NULL) {
            s = &sums[m++];
            snprintf(s->key_id, sizeof(s->key_id), "%s", d->key_id);
            snprintf(s->hint, sizeof(s->hint), "%s", d->hint);
        }
        if (d->last_at_ms > s->last_at_ms) {
            s->last_at_ms = d->last_at_ms;
            memcpy(s->last_from, d->last_from, sizeof(s->last_from));
        }
        if (d->day_ms >= recent) {
            s->requests += sum(d->requests, WC_USAGE_CLASS_COUNT);
            s->accepted += sum(d->accepted, WC_CHANNEL_COUNT);
            s->refused += sum(d->refused, WC_REFUSED_COUNT);
        }
    }
    free(days);
    *out = sums;
    *n_out = m;
    return WC_STORE_OK;
}

bool wc_usage_key_is_stale(int64_t created_ms, int64_t last_used_ms, int64_t now_ms)
{
    int64_t since = now_ms - WC_USAGE_RECENT_DAYS * WC_DAY_MS;
    return created_ms < since && last_used_ms < since;
}

int wc_usage_day_parse(const char *text, int64_t *day_ms)
{
    char iso[32];
    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-') {
        return -1;
    }
    snprintf(iso, sizeof(iso), "%sT00:00:00Z", text);
    int64_t ms = 0;
    char back[11];
    if (wc_time_parse_iso8601(iso, &ms) != 0) {
        return -1;
    }
    /* Refuses what the parser would roll over (2025-02-30). */
    wc_usage_day_name(ms, back);
    if (strcmp(back, text) != 0) {
        return -1;
    }
    *day_ms = ms;
    return 0;
}

const wc_usage_summary_t *wc_usage_summary_find(const wc_usage_summary_t *summaries, size_t n,
                                                const char *hint)
{
    for (size_t i = 0; hint != NULL && i < n; i++) {
        if (strcmp(summaries[i].hint, hint) == 0) {
            return &summaries[i];
        }
    }
    return NULL;
}

wc_store_status_t wc_store_ensure_usage_indexes(wc_store_t *store)
{
    /* On FerretDB a btree index serves no query and costs every flush
     * (docs/ARCHITECTURE.md §3.4); deploy/ferretdb/postgresql.sql gives the
     * collection a GIN index on tenantId instead. */
    if (wc_store_is_ferretdb(store)) {
        return WC_STORE_OK;
    }
    bson_t *key = BCON_NEW("tenantId", BCON_INT32(1), "dayStart", BCON_INT32(1));
    bool ok = wc_store_create_index(store, WC_COLL_USAGE, key, "tenant_day");
    bson_destroy(key);
    return ok ? WC_STORE_OK : WC_STORE_ERROR;
}

wc_store_status_t wc_store_usage_sweep(wc_store_t *store, int64_t before_ms, int64_t *deleted)
{
    bson_t *filter = BCON_NEW("dayStart", "{", "$lt", BCON_DATE_TIME(before_ms), "}");
    wc_store_status_t status = wc_store_delete(store, WC_COLL_USAGE, filter, true, deleted);
    bson_destroy(filter);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}
