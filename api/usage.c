#include "usage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "periodic.h"
#include "wc_log.h"
#include "wc_time.h"

/* Key-days one table holds between flushes (open addressing, a power of
 * two); past MAX_FILL new key-days are dropped and counted as dropped. */
#define SLOTS 4096u
#define MAX_FILL (SLOTS / 4 * 3)

#define SWEEP_INTERVAL_MS (3600 * 1000LL)

typedef struct {
    wc_usage_day_t slot[SLOTS];
    bool taken[SLOTS];
    unsigned order[MAX_FILL]; /* the taken slots, in the order they were taken */
    size_t n;
} usage_table_t;

struct api_usage {
    const wc_config_t *cfg;
    wc_store_t *store;
    pthread_mutex_t lock; /* guards `live` */
    usage_table_t *live;
    pthread_mutex_t flush_lock; /* one flush at a time; guards `spare` and `out` */
    usage_table_t *spare;
    wc_usage_day_t *out; /* the days of one flush, contiguous */
    _Atomic uint64_t dropped;
    api_periodic_t *writer; /* flushes every WAVECOM_USAGE_FLUSH_SECONDS */
    int64_t next_sweep;     /* wc_time_monotonic_ms */
};

static uint32_t slot_hash(const char *key_id, int64_t day_ms)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = key_id; *c != '\0'; c++) {
        h = (h ^ (uint8_t)*c) * 16777619u;
    }
    return h ^ (uint32_t)(day_ms / WC_DAY_MS) * 2654435761u;
}

/* The slot of the principal's key on the day of `now_ms`, taken when new;
 * NULL when the table is full. Called with the lock held. */
static wc_usage_day_t *slot_for(usage_table_t *t, const wc_principal_t *p, int64_t day_ms)
{
    uint32_t i = slot_hash(p->key_id, day_ms) & (SLOTS - 1);
    while (t->taken[i]) {
        wc_usage_day_t *d = &t->slot[i];
        if (d->day_ms == day_ms && strcmp(d->key_id, p->key_id) == 0 &&
            strcmp(d->tenant_id, p->tenant_id) == 0) {
            return d;
        }
        i = (i + 1) & (SLOTS - 1);
    }
    if (t->n >= MAX_FILL) {
        return NULL;
    }
    wc_usage_day_t *d = &t->slot[i];
    memset(d, 0, sizeof(*d));
    snprintf(d->tenant_id, sizeof(d->tenant_id), "%s", p->tenant_id);
    snprintf(d->key_id, sizeof(d->key_id), "%s", p->key_id);
    snprintf(d->hint, sizeof(d->hint), "%s", p->key_hint);
    d->day_ms = day_ms;
    t->taken[i] = true;
    t->order[t->n++] = i;
    return d;
}

static void table_clear(usage_table_t *t)
{
    for (size_t k = 0; k < t->n; k++) {
        t->taken[t->order[k]] = false;
    }
    t->n = 0;
}

static bool counted(const api_usage_t *u, const wc_principal_t *p)
{
    return u != NULL && p != NULL && p->key_hint[0] != '\0';
}

/* Locks the table and returns the principal's slot of today; NULL (lock
 * released, the count dropped) when the table is full. The caller unlocks. */
static wc_usage_day_t *lock_slot(api_usage_t *u, const wc_principal_t *p, int64_t now_ms)
{
    pthread_mutex_lock(&u->lock);
    wc_usage_day_t *d = slot_for(u->live, p, now_ms - now_ms % WC_DAY_MS);
    if (d == NULL) {
        pthread_mutex_unlock(&u->lock);
        atomic_fetch_add(&u->dropped, 1);
    }
    return d;
}

void api_usage_count_request(api_usage_t *u, const wc_principal_t *p, wc_usage_class_t c,
                             const char *addr)
{
    if (!counted(u, p) || c < 0 || c >= WC_USAGE_CLASS_COUNT) {
        return;
    }
    int64_t now = wc_time_now_ms();
    wc_usage_day_t *d = lock_slot(u, p, now);
    if (d == NULL) {
        return;
    }
    d->requests[c]++;
    if (d->first_at_ms == 0) {
        d->first_at_ms = now;
        snprintf(d->first_from, sizeof(d->first_from), "%s", addr != NULL ? addr : "");
    }
    d->last_at_ms = now;
    snprintf(d->last_from, sizeof(d->last_from), "%s", addr != NULL ? addr : "");
    pthread_mutex_unlock(&u->lock);
}

void api_usage_count_status(api_usage_t *u, const wc_principal_t *p, unsigned status)
{
    int r = wc_usage_refusal_of_status(status);
    if (!counted(u, p) || r < 0) {
        return;
    }
    wc_usage_day_t *d = lock_slot(u, p, wc_time_now_ms());
    if (d != NULL) {
        d->refused[r]++;
        pthread_mutex_unlock(&u->lock);
    }
}

void api_usage_count_accepted(api_usage_t *u, const wc_principal_t *p, wc_channel_t channel,
                              size_t n)
{
    if (!counted(u, p) || channel < 0 || channel >= WC_CHANNEL_COUNT || n == 0) {
        return;
    }
    wc_usage_day_t *d = lock_slot(u, p, wc_time_now_ms());
    if (d != NULL) {
        d->accepted[channel] += (int64_t)n;
        pthread_mutex_unlock(&u->lock);
    }
}

/* Adds a day that could not be written back into the live table. */
static bool merge_back(usage_table_t *t, const wc_usage_day_t *day)
{
    wc_principal_t p;
    memset(&p, 0, sizeof(p));
    snprintf(p.tenant_id, sizeof(p.tenant_id), "%s", day->tenant_id);
    snprintf(p.key_id, sizeof(p.key_id), "%s", day->key_id);
    snprintf(p.key_hint, sizeof(p.key_hint), "%s", day->hint);
    wc_usage_day_t *d = slot_for(t, &p, day->day_ms);
    if (d == NULL) {
        return false;
    }
    for (int i = 0; i < WC_USAGE_CLASS_COUNT; i++) {
        d->requests[i] += day->requests[i];
    }
    for (int i = 0; i < WC_CHANNEL_COUNT; i++) {
        d->accepted[i] += day->accepted[i];
    }
    for (int i = 0; i < WC_REFUSED_COUNT; i++) {
        d->refused[i] += day->refused[i];
    }
    if (day->first_at_ms != 0 && (d->first_at_ms == 0 || day->first_at_ms < d->first_at_ms)) {
        d->first_at_ms = day->first_at_ms;
        memcpy(d->first_from, day->first_from, sizeof(d->first_from));
    }
    if (day->last_at_ms > d->last_at_ms) {
        d->last_at_ms = day->last_at_ms;
        memcpy(d->last_from, day->last_from, sizeof(d->last_from));
    }
    return true;
}

int api_usage_flush(api_usage_t *u)
{
    if (u == NULL) {
        return 0;
    }
    pthread_mutex_lock(&u->flush_lock);
    pthread_mutex_lock(&u->lock);
    usage_table_t *taken = u->live;
    u->live = u->spare;
    pthread_mutex_unlock(&u->lock);
    u->spare = taken;

    size_t n = taken->n;
    for (size_t k = 0; k < n; k++) {
        u->out[k] = taken->slot[taken->order[k]];
    }
    table_clear(taken);
    int rc = 0;
    if (n > 0 && wc_store_usage_add(u->store, u->out, n) != WC_STORE_OK) {
        rc = -1;
        size_t kept = 0;
        pthread_mutex_lock(&u->lock);
        for (size_t k = 0; k < n; k++) {
            kept += merge_back(u->live, &u->out[k]);
        }
        pthread_mutex_unlock(&u->lock);
        wc_log_warn("usage: writing %zu key-days failed; %zu kept for the next flush", n, kept);
        atomic_fetch_add(&u->dropped, n - kept);
    }
    uint64_t dropped = atomic_exchange(&u->dropped, 0);
    if (dropped > 0) {
        wc_log_warn("usage: %llu counts dropped (more than %u key-days between flushes, or "
                    "failed writes)",
                    (unsigned long long)dropped, MAX_FILL);
    }
    pthread_mutex_unlock(&u->flush_lock);
    return rc;
}

static void sweep(api_usage_t *u)
{
    int64_t today = wc_time_now_ms() - wc_time_now_ms() % WC_DAY_MS;
    int64_t before = today - (int64_t)u->cfg->usage_retention_days * WC_DAY_MS;
    int64_t deleted = 0;
    if (wc_store_usage_sweep(u->store, before, &deleted) == WC_STORE_OK && deleted > 0) {
        wc_log_info("usage: deleted %lld key-days older than %d days", (long long)deleted,
                    u->cfg->usage_retention_days);
    }
}

/* The writer's turn: the flush, and the hourly sweep when due. */
static int64_t usage_turn(api_periodic_t *self, void *arg)
{
    (void)self;
    api_usage_t *u = arg;
    api_usage_flush(u);
    if (wc_time_monotonic_ms() >= u->next_sweep) {
        sweep(u);
        u->next_sweep = wc_time_monotonic_ms() + SWEEP_INTERVAL_MS;
    }
    return u->cfg->usage_flush_seconds * 1000LL;
}

static void usage_free(api_usage_t *u)
{
    pthread_mutex_destroy(&u->flush_lock);
    pthread_mutex_destroy(&u->lock);
    free(u->live);
    free(u->spare);
    free(u->out);
    free(u);
}

api_usage_t *api_usage_start(const wc_config_t *cfg, wc_store_t *store)
{
    api_usage_t *u = calloc(1, sizeof(*u));
    usage_table_t *live = calloc(1, sizeof(*live));
    usage_table_t *spare = calloc(1, sizeof(*spare));
    wc_usage_day_t *out = calloc(MAX_FILL, sizeof(*out));
    if (u == NULL || live == NULL || spare == NULL || out == NULL) {
        free(u);
        free(live);
        free(spare);
        free(out);
        return NULL;
    }
    *u = (api_usage_t){.cfg = cfg, .store = store, .live = live, .spare = spare, .out = out};
    pthread_mutex_init(&u->lock, NULL);
    pthread_mutex_init(&u->flush_lock, NULL);
    u->writer = api_periodic_start("usage writer", usage_turn, u);
    if (u->writer == NULL) {
        usage_free(u);
        return NULL;
    }
    return u;
}

void api_usage_stop(api_usage_t *u)
{
    if (u != NULL) {
        api_periodic_stop(u->writer);
        api_usage_flush(u);
        usage_free(u);
    }
}
