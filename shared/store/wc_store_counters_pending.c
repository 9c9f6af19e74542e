/* The changes this process counted and has not yet written to the stats
 * counters: wc_store_trail_count queues them, wc_store_counters_flush writes
 * them in one go (docs/ARCHITECTURE.md §3.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wc_log.h"
#include "wc_store_counters.h"
#include "wc_store_private.h"
#include "wc_store_trail.h"

/* A change waiting to be written to the counters, with its own copy of the
 * tenant (the entry it came from belongs to the caller). */
struct counted_change {
    wc_counter_delta_t delta;
    char tenant_id[25];
    char key_hint[WC_KEY_HINT_SIZE];
};

/* How long counted changes may wait before they are written; more than this
 * many are written at once. Written with each trail write instead, the
 * counters cost the worker one bulk write per trail batch, a quarter of the
 * database's work per notification at a few hundred deliveries a second. */
#define COUNTING_INTERVAL_MS 1000
#define COUNTING_MAX 20000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

wc_store_status_t wc_store_counters_flush(wc_store_t *store, bool force)
{
    pthread_mutex_lock(&store->counting_lock);
    bool due = store->counted_n > 0 &&
               (force || store->counted_n >= COUNTING_MAX ||
                monotonic_ms() - store->counted_since_ms >= COUNTING_INTERVAL_MS);
    struct counted_change *changes = NULL;
    size_t n = 0;
    if (due) {
        changes = store->counted;
        n = store->counted_n;
        store->counted = NULL;
        store->counted_n = store->counted_cap = 0;
        store->counted_since_ms = 0;
    }
    pthread_mutex_unlock(&store->counting_lock);
    if (n == 0) {
        return WC_STORE_OK;
    }
    wc_counter_delta_t *deltas = calloc(n, sizeof(*deltas));
    wc_store_status_t status = WC_STORE_ERROR;
    if (deltas != NULL) {
        for (size_t i = 0; i < n; i++) {
            deltas[i] = changes[i].delta;
            deltas[i].tenant_id = changes[i].tenant_id;
            deltas[i].key_hint = changes[i].key_hint[0] != '\0' ? changes[i].key_hint : NULL;
        }
        status = wc_store_counters_apply(store, deltas, n);
    }
    if (status != WC_STORE_OK) {
        wc_log_warn("%zu changes not counted; the counters lag until reconciled", n);
    }
    for (size_t i = 0; store->on_counted != NULL && i < n; i++) {
        if (i == 0 || strcmp(changes[i].tenant_id, changes[i - 1].tenant_id) != 0) {
            store->on_counted(changes[i].tenant_id, store->on_counted_arg);
        }
    }
    free(deltas);
    free(changes);
    return status;
}

wc_store_status_t wc_store_counters_flush_for(wc_store_t *store, const char *tenant_id)
{
    bool mine = tenant_id == NULL;
    pthread_mutex_lock(&store->counting_lock);
    for (size_t i = 0; !mine && i < store->counted_n; i++) {
        mine = strcmp(store->counted[i].tenant_id, tenant_id) == 0;
    }
    pthread_mutex_unlock(&store->counting_lock);
    return mine ? wc_store_counters_flush(store, true) : WC_STORE_OK;
}

void wc_store_on_counted(wc_store_t *store, wc_store_counted_fn fn, void *arg)
{
    store->on_counted = fn;
    store->on_counted_arg = arg;
}

void wc_store_trail_count(wc_store_t *store, const wc_trail_entry_t *entries, size_t n,
                          const bool *skip)
{
    pthread_mutex_lock(&store->counting_lock);
    size_t need = store->counted_n + n;
    if (need > store->counted_cap) {
        size_t cap = store->counted_cap > 0 ? store->counted_cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        struct counted_change *bigger = realloc(store->counted, cap * sizeof(*bigger));
        if (bigger == NULL) {
            pthread_mutex_unlock(&store->counting_lock);
            wc_log_error("out of memory counting %zu changes; the counters lag until reconciled",
                         n);
            return;
        }
        store->counted = bigger;
        store->counted_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        /* A repaired entry's change was counted when it was made, or is lost
         * to the counters for good; reconciliation settles which. */
        if ((skip != NULL && skip[i]) || entries[i].from == WC_TRAIL_FROM_UNKNOWN) {
            continue;
        }
        struct counted_change *c = &store->counted[store->counted_n++];
        snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", entries[i].tenant_id);
        snprintf(c->key_hint, sizeof(c->key_hint), "%s", entries[i].key_hint);
        c->delta = (wc_counter_delta_t){
            .created_at_ms = entries[i].created_at_ms,
            .at_ms = entries[i].at_ms,
            .type = (int)entries[i].type,
            .priority = (int)entries[i].priority,
            .from = entries[i].from,
            .to = (int)entries[i].to,
            .processing_ms = entries[i].processing_ms,
        };
    }
    if (store->counted_n > 0 && store->counted_since_ms == 0) {
        store->counted_since_ms = monotonic_ms();
    }
    pthread_mutex_unlock(&store->counting_lock);
    (void)wc_store_counters_flush(store, false);
}
