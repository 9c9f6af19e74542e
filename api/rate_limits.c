#include "rate_limits.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"
#include "wc_log.h"
#include "wc_time.h"

#define TABLE_SIZE 4096
#define PROBE_WINDOW 16
/* How long a tenant's in-flight count read from the database is trusted;
 * admissions since are added to it. */
#define IN_FLIGHT_REFRESH_MS 500

typedef struct {
    char name[48]; /* "<kind>:<tenant or key id>"; empty: a free slot */
    int64_t used_ms;
    double tokens;
    double rate;
    int64_t refilled_ms;
    /* For in-flight entries. */
    int64_t counted;  /* from the database at counted_ms */
    int64_t admitted; /* since then */
    int64_t counted_ms;
} entry_t;

struct api_limits {
    const wc_config_t *cfg;
    wc_store_t *store;
    /* The monotonic clock; tests/unit/test_api_rate_limits.c replaces it. */
    int64_t (*now_ms)(void);
    pthread_mutex_t mu;
    entry_t global;
    entry_t table[TABLE_SIZE];
};

api_limits_t *api_limits_new(const wc_config_t *cfg, wc_store_t *store)
{
    api_limits_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    l->cfg = cfg;
    l->store = store;
    l->now_ms = wc_time_monotonic_ms;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void api_limits_free(api_limits_t *limits)
{
    if (limits != NULL) {
        pthread_mutex_destroy(&limits->mu);
        free(limits);
    }
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

/* The entry named `name`, created (full) if absent; the least recently used
 * entry of its probe window makes room. Called with the mutex held. */
static entry_t *entry_for(api_limits_t *l, const char *name, int64_t now)
{
    uint32_t h = name_hash(name);
    entry_t *oldest = NULL;
    for (uint32_t i = 0; i < PROBE_WINDOW; i++) {
        entry_t *e = &l->table[(h + i) % TABLE_SIZE];
        if (strcmp(e->name, name) == 0) {
            e->used_ms = now;
            return e;
        }
        bool free_slot = e->name[0] == '\0';
        bool oldest_free = oldest != NULL && oldest->name[0] == '\0';
        if (oldest == NULL || (!oldest_free && (free_slot || e->used_ms < oldest->used_ms))) {
            oldest = e;
        }
    }
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->name, sizeof(oldest->name), "%s", name);
    oldest->used_ms = now;
    oldest->tokens = -1; /* filled on first use */
    return oldest;
}

/* Brings a bucket of `rate` per second (burst: one second's worth) to now. */
static void refill(entry_t *b, double rate, int64_t now)
{
    double burst = rate < 1 ? 1 : rate;
    if (b->tokens < 0 && b->refilled_ms == 0) {
        b->tokens = burst;
    } else {
        b->tokens += (double)(now - b->refilled_ms) * rate / 1000.0;
    }
    if (b->tokens > burst) {
        b->tokens = burst;
    }
    b->rate = rate;
    b->refilled_ms = now;
}

/* Whether `n` fit: a request larger than the burst passes on a full bucket
 * and leaves it in debt, so big batches go through at the average rate. */
static bool fits(const entry_t *b, double n)
{
    double burst = b->rate < 1 ? 1 : b->rate;
    return b->tokens >= (n < burst ? n : burst);
}

/* Seconds until `n` fit again. */
static long wait_seconds(const entry_t *b, double n)
{
    double burst = b->rate < 1 ? 1 : b->rate;
    double need = (n < burst ? n : burst) - b->tokens;
    long s = (long)ceil(need / b->rate);
    return s < 1 ? 1 : s;
}

static int effective(int own, int fallback) { return own >= 0 ? own : fallback; }

static api_response_t limited(unsigned status, const char *message, const entry_t *b, double n)
{
    api_response_t res = api_error(status, message);
    char v[32];
    long wait = wait_seconds(b, n);
    snprintf(v, sizeof(v), "%ld", wait);
    api_response_header(&res, "Retry-After", v);
    snprintf(v, sizeof(v), "%.0f", b->rate);
    api_response_header(&res, "RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%.0f", b->tokens > 0 ? floor(b->tokens) : 0.0);
    api_response_header(&res, "RateLimit-Remaining", v);
    snprintf(v, sizeof(v), "%ld", wait);
    api_response_header(&res, "RateLimit-Reset", v);
    return res;
}

/* Takes `n` from the tenant's and the key's buckets of one kind ('r'
 * requests, 'n' notifications), both or neither. Mutex held. */
static bool take_pair(api_limits_t *l, const wc_principal_t *p, char kind, int tenant_rate,
                      int key_rate, double n, int64_t now, api_response_t *res)
{
    entry_t *tb = NULL, *kb = NULL;
    char name[48];
    if (tenant_rate > 0) {
        snprintf(name, sizeof(name), "t%c:%s", kind, p->tenant_id);
        tb = entry_for(l, name, now);
        refill(tb, tenant_rate, now);
    }
    if (key_rate > 0) {
        snprintf(name, sizeof(name), "k%c:%s", kind, p->key_id);
        kb = entry_for(l, name, now);
        refill(kb, key_rate, now);
    }
    const char *what = kind == 'r' ? "requests" : "notifications";
    char message[128];
    if (tb != NULL && !fits(tb, n)) {
        snprintf(message, sizeof(message), "the tenant's rate limit of %d %s per second is reached",
                 tenant_rate, what);
        *res = limited(429, message, tb, n);
        return false;
    }
    if (kb != NULL && !fits(kb, n)) {
        snprintf(message, sizeof(message), "this API key's rate limit of %d %s per second is reached",
                 key_rate, what);
        *res = limited(429, message, kb, n);
        return false;
    }
    if (tb != NULL) {
        tb->tokens -= n;
    }
    if (kb != NULL) {
        kb->tokens -= n;
    }
    return true;
}

bool api_limits_take_request(api_limits_t *l, const wc_principal_t *p, api_response_t *res)
{
    if (l == NULL) {
        return true;
    }
    int tenant_rate = effective(p->limits.requests_per_second, l->cfg->rate_tenant_rps);
    int key_rate = l->cfg->rate_key_rps;
    if (tenant_rate <= 0 && key_rate <= 0) {
        return true;
    }
    int64_t now = l->now_ms();
    pthread_mutex_lock(&l->mu);
    bool ok = take_pair(l, p, 'r', tenant_rate, key_rate, 1, now, res);
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* Refreshes the tenant's in-flight count from the database when it is older
 * than IN_FLIGHT_REFRESH_MS. The query runs without the mutex; a count that
 * cannot be read leaves the old one (the quota fails open: the intake itself
 * answers 503 when the database is down). */
static void refresh_in_flight(api_limits_t *l, const wc_principal_t *p, int64_t now)
{
    char name[48];
    snprintf(name, sizeof(name), "f:%s", p->tenant_id);
    pthread_mutex_lock(&l->mu);
    entry_t *e = entry_for(l, name, now);
    bool stale = e->counted_ms == 0 || now - e->counted_ms >= IN_FLIGHT_REFRESH_MS;
    pthread_mutex_unlock(&l->mu);
    if (!stale) {
        return;
    }
    int64_t count = 0;
    if (wc_store_count_in_flight(l->store, p->tenant_id, &count) != WC_STORE_OK) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    e = entry_for(l, name, now);
    e->counted = count;
    e->admitted = 0;
    e->counted_ms = now;
    pthread_mutex_unlock(&l->mu);
}

bool api_limits_take_notifications(api_limits_t *l, const wc_principal_t *p, size_t total,
                                   size_t critical, bool *critical_only, api_response_t *res)
{
    if (l == NULL || total == 0) {
        return true;
    }
    const wc_config_t *cfg = l->cfg;
    int quota = effective(p->limits.max_in_flight, cfg->tenant_max_in_flight);
    int64_t now = l->now_ms();
    if (quota > 0) {
        refresh_in_flight(l, p, now);
    }
    pthread_mutex_lock(&l->mu);
    bool ok = false;
    entry_t *flight = NULL;
    if (quota > 0) {
        char name[48];
        snprintf(name, sizeof(name), "f:%s", p->tenant_id);
        flight = entry_for(l, name, now);
        int64_t in_flight = flight->counted + flight->admitted;
        if (in_flight + (int64_t)total > quota) {
            char message[128];
            snprintf(message, sizeof(message),
                     "the tenant has %lld notifications in flight; its quota is %d",
                     (long long)in_flight, quota);
            *res = api_error(429, message);
            api_response_header(res, "Retry-After", "1");
            goto out;
        }
    }
    size_t standard = total - critical;
    if (cfg->rate_global_nps > 0) {
        refill(&l->global, cfg->rate_global_nps, now);
        if (standard > 0 && !fits(&l->global, (double)standard)) {
            if (critical == 0 || critical_only == NULL) {
                *res = limited(503, "the service is at its ceiling: only CRITICAL notifications "
                                    "are taken now",
                               &l->global, (double)standard);
                goto out;
            }
            /* Shed the others, keep the CRITICAL ones (counted below). */
            *critical_only = true;
            total = critical;
        }
    }
    int tenant_rate = effective(p->limits.notifications_per_second, cfg->rate_tenant_nps);
    if (!take_pair(l, p, 'n', tenant_rate, cfg->rate_key_nps, (double)total, now, res)) {
        goto out;
    }
    if (cfg->rate_global_nps > 0) {
        /* CRITICAL work counts towards the ceiling but is never refused by it. */
        l->global.tokens -= (double)total;
    }
    if (flight != NULL) {
        flight->admitted += (int64_t)total;
    }
    ok = true;
out:
    pthread_mutex_unlock(&l->mu);
    return ok;
}
