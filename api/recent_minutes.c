#include "recent_minutes.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS 60000LL

/* The minutes read on every request: the current one and the one before,
 * which may still receive the last flush of a change made in it. */
#define OPEN_MINUTES 2
#define CLOSED_MINUTES (API_RECENT_MINUTES - OPEN_MINUTES)

typedef struct {
    char tenant_id[64];
    int64_t window_start; /* the window whose closed minutes these are */
    int64_t used;         /* a tick of the last use, for eviction */
    size_t n;
    wc_throughput_minute_t rows[CLOSED_MINUTES];
    wc_duration_histogram_t times;
} entry_t;

struct api_recent_minutes {
    pthread_mutex_t lock;
    entry_t *entries;
    size_t capacity;
    int64_t tick;
    api_minutes_reader_t read;
    void *source;
};

void api_recent_window(int64_t now, int64_t *start_ms, int64_t *end_ms)
{
    /* The current, partial minute is the last one. */
    *start_ms = (now / MINUTE_MS + 1 - API_RECENT_MINUTES) * MINUTE_MS;
    *end_ms = *start_ms + API_RECENT_MINUTES * MINUTE_MS;
}

api_recent_minutes_t *api_recent_minutes_new(size_t tenants, api_minutes_reader_t read,
                                             void *source)
{
    api_recent_minutes_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->entries = calloc(tenants, sizeof(*c->entries));
    if (c->entries == NULL || tenants == 0 || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->entries);
        free(c);
        return NULL;
    }
    c->capacity = tenants;
    c->read = read;
    c->source = source;
    return c;
}

void api_recent_minutes_free(api_recent_minutes_t *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_destroy(&c->lock);
    free(c->entries);
    free(c);
}

static void keep_row(const wc_throughput_minute_t *minute, void *arg)
{
    entry_t *e = arg;
    if (e->n < CLOSED_MINUTES) {
        e->rows[e->n++] = *minute;
    }
}

/* Under the lock: the entry of `tenant_id` for `window_start`, or NULL. */
static entry_t *find(api_recent_minutes_t *c, const char *tenant_id, int64_t window_start)
{
    for (size_t i = 0; i < c->capacity; i++) {
        entry_t *e = &c->entries[i];
        if (e->used != 0 && e->window_start == window_start &&
            strcmp(e->tenant_id, tenant_id) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Under the lock: where to keep a tenant's new entry — its old one, an
 * unused one, or the one used least recently. */
static entry_t *place(api_recent_minutes_t *c, const char *tenant_id)
{
    entry_t *oldest = &c->entries[0];
    for (size_t i = 0; i < c->capacity; i++) {
        entry_t *e = &c->entries[i];
        if (e->used == 0 || strcmp(e->tenant_id, tenant_id) == 0) {
            return e;
        }
        if (e->used < oldest->used) {
            oldest = e;
        }
    }
    return oldest;
}

/* Fills `out` with the closed minutes of the window starting at `start`,
 * from the cache or, once per window, from the reader. */
static wc_store_status_t closed_minutes(api_recent_minutes_t *c, const char *tenant_id,
                                        int64_t start, entry_t *out)
{
    pthread_mutex_lock(&c->lock);
    entry_t *e = find(c, tenant_id, start);
    if (e != NULL) {
        e->used = ++c->tick;
        *out = *e;
    }
    pthread_mutex_unlock(&c->lock);
    if (e != NULL) {
        return WC_STORE_OK;
    }
    /* Read without the lock: two requests of one tenant may both read the
     * same minutes once, which costs less than making every tenant wait. */
    memset(out, 0, sizeof(*out));
    wc_store_status_t status = c->read(c->source, tenant_id, start,
                                       start + CLOSED_MINUTES * MINUTE_MS, keep_row, out,
                                       &out->times);
    if (status != WC_STORE_OK) {
        return status;
    }
    snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", tenant_id);
    out->window_start = start;
    pthread_mutex_lock(&c->lock);
    out->used = ++c->tick;
    *place(c, tenant_id) = *out;
    pthread_mutex_unlock(&c->lock);
    return WC_STORE_OK;
}

wc_store_status_t api_recent_minutes_read(api_recent_minutes_t *c, const char *tenant_id,
                                          int64_t now,
                                          void (*each)(const wc_throughput_minute_t *minute,
                                                       void *arg),
                                          void *arg, wc_duration_histogram_t *times)
{
    int64_t start, end;
    api_recent_window(now, &start, &end);
    if (strlen(tenant_id) >= sizeof(((entry_t *)0)->tenant_id)) {
        /* Not a tenant id this cache can key on: read the whole window. */
        return c->read(c->source, tenant_id, start, end, each, arg, times);
    }
    entry_t *closed = malloc(sizeof(*closed));
    if (closed == NULL) {
        return c->read(c->source, tenant_id, start, end, each, arg, times);
    }
    wc_store_status_t status = closed_minutes(c, tenant_id, start, closed);
    if (status == WC_STORE_OK) {
        for (size_t i = 0; each != NULL && i < closed->n; i++) {
            each(&closed->rows[i], arg);
        }
        if (times != NULL) {
            wc_duration_histogram_merge(times, &closed->times);
        }
        status = c->read(c->source, tenant_id, start + CLOSED_MINUTES * MINUTE_MS, end, each,
                         arg, times);
    }
    free(closed);
    return status;
}
