#include "quota.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "response.h"
#include "wc_log.h"
#include "wc_store_quota.h"
#include "wc_time.h"

/* Reservations one instance holds at once, all of the current month (open
 * addressing, a power of two; emptied when the month turns). Past MAX_FILL a
 * quota is checked with a reservation of exactly what the request needs,
 * which is as exact and costs one write per request. */
#define SLOTS 1024u
#define MAX_FILL (SLOTS / 4 * 3)

/* "t:" or "k:", the tenant or key id, the month, and a channel. */
#define COUNTER_ID_LEN 64

typedef struct {
    char id[COUNTER_ID_LEN];
    char tenant_id[25];
    int64_t month_ms;
    int64_t left; /* reserved in the database and not yet used */
} reservation_t;

struct api_quota {
    const wc_config_t *cfg;
    wc_store_t *store;
    int64_t clock_offset_ms;
    pthread_mutex_t lock;
    reservation_t slot[SLOTS];
    bool taken[SLOTS];
    size_t n;
    int64_t table_month_ms; /* the month the table holds reservations of */
};

/* One quota a request is checked against. */
typedef struct {
    char id[COUNTER_ID_LEN];
    const char *scope; /* "tenant" or "apiKey" */
    int channel;       /* -1: all channels */
    int64_t limit;
    int64_t n;
    bool taken;
    bool direct; /* reserved exactly n from the counter, not kept locally */
} check_t;

int64_t api_quota_now_ms(const api_quota_t *q) { return wc_time_now_ms() + q->clock_offset_ms; }

api_quota_t *api_quota_new(const wc_config_t *cfg, wc_store_t *store)
{
    api_quota_t *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return NULL;
    }
    q->cfg = cfg;
    q->store = store;
    /* Non-zero only in a test build: the configuration refuses it elsewhere. */
    q->clock_offset_ms = (int64_t)cfg->test_clock_offset_seconds * 1000;
    if (q->clock_offset_ms != 0) {
        wc_log_warn("test build: quotas run %lld s off the wall clock",
                    (long long)(q->clock_offset_ms / 1000));
    }
    pthread_mutex_init(&q->lock, NULL);
    return q;
}

void api_quota_free(api_quota_t *q)
{
    if (q == NULL) {
        return;
    }
    int64_t month = wc_quota_month_start(api_quota_now_ms(q));
    for (size_t i = 0; i < SLOTS; i++) {
        reservation_t *r = &q->slot[i];
        int64_t used = 0;
        if (q->taken[i] && r->month_ms == month && r->left > 0 &&
            wc_store_quota_add(q->store, r->id, r->tenant_id, r->month_ms, -r->left, &used) !=
                WC_STORE_OK) {
            wc_log_warn("quota %s: %lld reserved and unused could not be given back", r->id,
                        (long long)r->left);
        }
    }
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static uint32_t id_hash(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = id; *c != '\0'; c++) {
        h = (h ^ (uint8_t)*c) * 16777619u;
    }
    return h;
}

/* The reservation of counter `id`, made when new (then of month `month_ms`,
 * nothing left); one of an earlier month starts again empty. NULL when the
 * table is full. Called with the lock held. */
static reservation_t *reservation_for(api_quota_t *q, const char *id, const char *tenant_id,
                                      int64_t month_ms)
{
    if (month_ms > q->table_month_ms) {
        /* A new month: last month's reservations are worth nothing now, and
         * every counter of this month is a new one. */
        memset(q->taken, 0, sizeof(q->taken));
        q->n = 0;
        q->table_month_ms = month_ms;
    }
    uint32_t i = id_hash(id) & (SLOTS - 1);
    while (q->taken[i]) {
        reservation_t *r = &q->slot[i];
        if (strcmp(r->id, id) == 0) {
            return r;
        }
        i = (i + 1) & (SLOTS - 1);
    }
    if (q->n >= MAX_FILL) {
        return NULL;
    }
    reservation_t *r = &q->slot[i];
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->tenant_id, sizeof(r->tenant_id), "%s", tenant_id);
    r->month_ms = month_ms;
    r->left = 0;
    q->taken[i] = true;
    q->n++;
    return r;
}

typedef enum { LOCAL_OK, LOCAL_SHORT, LOCAL_NO_ROOM } local_t;

/* Takes n from the local reservation of `c`. */
static local_t take_local(api_quota_t *q, const check_t *c, const char *tenant_id,
                          int64_t month_ms)
{
    pthread_mutex_lock(&q->lock);
    reservation_t *r = reservation_for(q, c->id, tenant_id, month_ms);
    local_t result = LOCAL_NO_ROOM;
    if (r != NULL) {
        if (r->month_ms != month_ms) {
            r->month_ms = month_ms; /* the month rolled over: its counter is a new one */
            r->left = 0;
        }
        result = r->left >= c->n ? LOCAL_OK : LOCAL_SHORT;
        if (result == LOCAL_OK) {
            r->left -= c->n;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return result;
}

/* Adds `n` back to (or, with negative n, from) the local reservation. */
static void adjust_local(api_quota_t *q, const check_t *c, const char *tenant_id,
                         int64_t month_ms, int64_t n)
{
    pthread_mutex_lock(&q->lock);
    reservation_t *r = reservation_for(q, c->id, tenant_id, month_ms);
    if (r != NULL && r->month_ms == month_ms) {
        r->left += n;
    }
    pthread_mutex_unlock(&q->lock);
    if (r == NULL && n > 0) {
        /* Nowhere to keep it: give it back to the month's counter. */
        int64_t used = 0;
        (void)wc_store_quota_add(q->store, c->id, tenant_id, month_ms, -n, &used);
    }
}

typedef enum { TAKE_OK, TAKE_OVER, TAKE_ERROR } take_t;

/* Takes c->n from the quota: from the local reservation, else by reserving
 * max(n, chunk) more from the month's counter, of which the part past the
 * quota is given back at once. With no room left to keep a reservation, it
 * reserves exactly n (c->direct). *used_out: the counter's value seen. */
static take_t take(api_quota_t *q, check_t *c, const char *tenant_id, int64_t month_ms,
                   int64_t *used_out)
{
    local_t local = take_local(q, c, tenant_id, month_ms);
    if (local == LOCAL_OK) {
        return TAKE_OK;
    }
    c->direct = local == LOCAL_NO_ROOM;
    int64_t want = c->direct || c->n > q->cfg->quota_chunk ? c->n : q->cfg->quota_chunk;
    int64_t used = 0;
    if (wc_store_quota_add(q->store, c->id, tenant_id, month_ms, want, &used) != WC_STORE_OK) {
        return TAKE_ERROR;
    }
    int64_t room = c->limit - (used - want);
    int64_t granted = room < 0 ? 0 : room < want ? room : want;
    if (c->direct && granted < want) {
        granted = 0; /* all of n or nothing */
    }
    int64_t after = 0;
    if (granted < want &&
        wc_store_quota_add(q->store, c->id, tenant_id, month_ms, granted - want, &after) !=
            WC_STORE_OK) {
        wc_log_warn("quota %s: %lld reserved past the quota could not be given back", c->id,
                    (long long)(want - granted));
    }
    *used_out = used - want + granted;
    if (c->direct) {
        return granted == want ? TAKE_OK : TAKE_OVER;
    }
    adjust_local(q, c, tenant_id, month_ms, granted);
    return take_local(q, c, tenant_id, month_ms) == LOCAL_OK ? TAKE_OK : TAKE_OVER;
}

/* Gives back what a check took, for a request refused by a later check. */
static void give_back(api_quota_t *q, const check_t *c, const char *tenant_id, int64_t month_ms)
{
    int64_t used = 0;
    if (!c->direct) {
        adjust_local(q, c, tenant_id, month_ms, c->n);
    } else if (wc_store_quota_add(q->store, c->id, tenant_id, month_ms, -c->n, &used) !=
               WC_STORE_OK) {
        wc_log_warn("quota %s: %lld taken for a refused request could not be given back", c->id,
                    (long long)c->n);
    }
}

static void month_name(int64_t ms, char out[8])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || strftime(out, 8, "%Y-%m", &tm) == 0) {
        snprintf(out, 8, "0000-00");
    }
}

static size_t add_check(check_t *checks, size_t n, const char *prefix, const char *owner,
                        const char *month, const char *scope, int channel, int64_t limit,
                        int64_t count)
{
    if (limit < 0 || count == 0) {
        return n;
    }
    check_t *c = &checks[n];
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s:%s:%s:%s", prefix, owner, month,
             channel < 0 ? "ALL" : wc_channel_name((wc_channel_t)channel));
    c->scope = scope;
    c->channel = channel;
    c->limit = limit;
    c->n = count;
    return n + 1;
}

static api_response_t over_quota(const api_quota_t *q, const check_t *c, int64_t used,
                                 int64_t now_ms)
{
    int64_t reset = wc_quota_next_month(now_ms);
    char reset_text[WC_ISO8601_LEN];
    wc_time_format_iso8601(reset, reset_text, sizeof(reset_text));
    char message[200];
    snprintf(message, sizeof(message),
             "the %s's monthly quota%s%s of %" PRId64 " notifications is used up until %s",
             strcmp(c->scope, "tenant") == 0 ? "tenant" : "API key", c->channel < 0 ? "" : " for ",
             c->channel < 0 ? "" : wc_channel_name((wc_channel_t)c->channel), c->limit,
             reset_text);
    api_response_t res = api_error(429, message);
    json_object *quota = json_object_new_object();
    json_object_object_add(quota, "scope", json_object_new_string(c->scope));
    json_object_object_add(quota, "channel",
                           c->channel < 0 ? NULL
                                          : json_object_new_string(
                                                wc_channel_name((wc_channel_t)c->channel)));
    json_object_object_add(quota, "limit", json_object_new_int64(c->limit));
    json_object_object_add(quota, "used", json_object_new_int64(used < c->limit ? used : c->limit));
    json_object_object_add(quota, "resetAt", json_object_new_string(reset_text));
    json_object_object_add(res.body, "quota", quota);
    char retry[24];
    int64_t seconds = (reset - now_ms + 999) / 1000;
    snprintf(retry, sizeof(retry), "%" PRId64, seconds > 0 ? seconds : 1);
    api_response_header(&res, "Retry-After", retry);
    (void)q;
    return res;
}

bool api_quota_take(api_quota_t *q, const wc_principal_t *p,
                    const size_t counts[WC_CHANNEL_COUNT],
                    const size_t critical[WC_CHANNEL_COUNT], api_response_t *res)
{
    if (q == NULL) {
        return true;
    }
    const wc_quota_t *tq = &p->limits.quota;
    const wc_quota_t *kq = &p->key_quota;
    bool key_quota = p->key_hint[0] != '\0' && wc_quota_any(kq);
    if (!wc_quota_any(tq) && !key_quota) {
        return true;
    }
    int64_t now = api_quota_now_ms(q);
    int64_t month_ms = wc_quota_month_start(now);
    char month[8];
    month_name(month_ms, month);
    int64_t n[WC_CHANNEL_COUNT], total = 0;
    for (int ch = 0; ch < WC_CHANNEL_COUNT; ch++) {
        n[ch] = (int64_t)(counts[ch] - (tq->critical_exempt ? critical[ch] : 0));
        total += n[ch];
    }
    /* At most: the tenant's and the key's monthly and channel quotas. */
    check_t checks[2 * (1 + WC_CHANNEL_COUNT)];
    size_t k = add_check(checks, 0, "t", p->tenant_id, month, "tenant", -1, tq->monthly, total);
    for (int ch = 0; ch < WC_CHANNEL_COUNT; ch++) {
        k = add_check(checks, k, "t", p->tenant_id, month, "tenant", ch, tq->channel[ch], n[ch]);
    }
    if (key_quota) {
        k = add_check(checks, k, "k", p->key_id, month, "apiKey", -1, kq->monthly, total);
        for (int ch = 0; ch < WC_CHANNEL_COUNT; ch++) {
            k = add_check(checks, k, "k", p->key_id, month, "apiKey", ch, kq->channel[ch], n[ch]);
        }
    }
    bool ok = true;
    for (size_t i = 0; i < k && ok; i++) {
        int64_t used = checks[i].limit;
        switch (take(q, &checks[i], p->tenant_id, month_ms, &used)) {
        case TAKE_OK:
            checks[i].taken = true;
            break;
        case TAKE_OVER:
            *res = over_quota(q, &checks[i], used, now);
            ok = false;
            break;
        case TAKE_ERROR:
            *res = api_unavailable("the database");
            ok = false;
            break;
        }
    }
    /* All or none: what the checks before the refusing one took goes back. */
    for (size_t i = 0; !ok && i < k; i++) {
        if (checks[i].taken) {
            give_back(q, &checks[i], p->tenant_id, month_ms);
        }
    }
    return ok;
}
