#include "bucket_cache.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One read: the children of a bucket, or one bucket by _id (`found`). */
typedef struct entry {
    char key[96]; /* kind, owner, level, instant */
    int64_t version;
    int64_t expires_ms; /* monotonic */
    uint64_t used; /* a tick of the last use, for eviction */
    bool found;
    size_t n;
    wc_counter_bucket_t *buckets;
} entry_t;

struct api_bucket_cache {
    pthread_mutex_t lock;
    entry_t *entries;
    size_t n, cap;
    size_t bytes, max_bytes;
    int64_t keep_ms;
    uint64_t tick;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

api_bucket_cache_t *api_bucket_cache_new(size_t max_bytes, int64_t keep_ms)
{
    api_bucket_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    c->keep_ms = keep_ms;
    return c;
}

void api_bucket_cache_free(api_bucket_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        free(c->entries[i].buckets);
    }
    free(c->entries);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void api_bucket_cache_usage(api_bucket_cache_t *c, size_t *entries, size_t *bytes)
{
    pthread_mutex_lock(&c->lock);
    *entries = c->n;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}

static size_t entry_bytes(size_t n)
{
    return sizeof(entry_t) + n * sizeof(wc_counter_bucket_t);
}

/* Under the lock. */
static entry_t *find(api_bucket_cache_t *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->entries[i].key, key) == 0) {
            return &c->entries[i];
        }
    }
    return NULL;
}

/* Under the lock: drops entry i (the last one takes its place). */
static void drop(api_bucket_cache_t *c, size_t i)
{
    c->bytes -= entry_bytes(c->entries[i].n);
    free(c->entries[i].buckets);
    c->entries[i] = c->entries[--c->n];
}

/* A copy of the entry of `key` at `version` into *out / *n (*found for a
 * read by _id); false when there is none. */
static bool lookup(api_bucket_cache_t *c, const char *key, int64_t version,
                   wc_counter_bucket_t **out, size_t *n, bool *found)
{
    pthread_mutex_lock(&c->lock);
    entry_t *e = find(c, key);
    bool hit = e != NULL && e->version == version && monotonic_ms() < e->expires_ms;
    wc_counter_bucket_t *copy = NULL;
    if (hit && e->n > 0) {
        copy = malloc(e->n * sizeof(*copy));
        hit = copy != NULL;
        if (hit) {
            memcpy(copy, e->buckets, e->n * sizeof(*copy));
        }
    }
    if (hit) {
        e->used = ++c->tick;
        *out = copy;
        *n = e->n;
        *found = e->found;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Keeps a copy of what was read for `key` at `version`, making room by
 * dropping the entries used longest ago. Nothing is kept when it does not fit
 * or memory is short: the next walk reads again. */
static void keep(api_bucket_cache_t *c, const char *key, int64_t version,
                 const wc_counter_bucket_t *buckets, size_t n, bool found)
{
    size_t need = entry_bytes(n);
    if (need > c->max_bytes / 2) {
        return;
    }
    wc_counter_bucket_t *copy = NULL;
    if (n > 0 && (copy = malloc(n * sizeof(*copy))) == NULL) {
        return;
    }
    if (n > 0) {
        memcpy(copy, buckets, n * sizeof(*copy));
    }
    pthread_mutex_lock(&c->lock);
    entry_t *old = find(c, key);
    if (old != NULL) {
        drop(c, (size_t)(old - c->entries));
    }
    while (c->n > 0 && c->bytes + need > c->max_bytes) {
        size_t lru = 0;
        for (size_t i = 1; i < c->n; i++) {
            if (c->entries[i].used < c->entries[lru].used) {
                lru = i;
            }
        }
        drop(c, lru);
    }
    if (c->n == c->cap) {
        size_t cap = c->cap > 0 ? c->cap * 2 : 64;
        entry_t *grown = realloc(c->entries, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&c->lock);
            free(copy);
            return;
        }
        c->entries = grown;
        c->cap = cap;
    }
    entry_t *e = &c->entries[c->n++];
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->version = version;
    e->expires_ms = monotonic_ms() + c->keep_ms;
    e->used = ++c->tick;
    e->found = found;
    e->n = n;
    e->buckets = copy;
    c->bytes += need;
    pthread_mutex_unlock(&c->lock);
}

static bool make_key(char key[96], char kind, const char *owner, wc_counter_level_t level,
                     int64_t ms)
{
    int len = snprintf(key, 96, "%c|%s|%d|%" PRId64, kind, owner, (int)level, ms);
    return len > 0 && len < 96;
}

static wc_store_status_t walk_children(void *arg, const char *owner, wc_counter_level_t level,
                                       int64_t ms, int64_t parent_version,
                                       wc_counter_bucket_t **out, size_t *n)
{
    api_bucket_walk_t *w = arg;
    char key[96];
    bool found = false;
    /* The children of one parent share a scope: the day list has ms 0. */
    int64_t parent = level == WC_COUNTER_DAY ? 0 : wc_counter_bucket_start(level - 1, ms);
    bool keyed = w->cache != NULL && parent_version >= 0 &&
                 make_key(key, 'c', owner, level, parent);
    if (keyed && lookup(w->cache, key, parent_version, out, n, &found)) {
        return WC_STORE_OK;
    }
    wc_store_status_t status =
        w->source->children(w->source->arg, owner, level, ms, parent_version, out, n);
    if (status == WC_STORE_OK && keyed) {
        keep(w->cache, key, parent_version, *out, *n, true);
    }
    return status;
}

static wc_store_status_t walk_bucket(void *arg, const char *owner, wc_counter_level_t level,
                                     int64_t ms, int64_t parent_version,
                                     wc_counter_bucket_t *out, bool *found)
{
    api_bucket_walk_t *w = arg;
    char key[96];
    wc_counter_bucket_t *copy = NULL;
    size_t n = 0;
    bool keyed = w->cache != NULL && parent_version >= 0 &&
                 make_key(key, 'b', owner, level, wc_counter_bucket_start(level, ms));
    if (keyed && lookup(w->cache, key, parent_version, &copy, &n, found)) {
        if (*found && n == 1) {
            *out = copy[0];
        }
        free(copy);
        return WC_STORE_OK;
    }
    wc_store_status_t status =
        w->source->bucket(w->source->arg, owner, level, ms, parent_version, out, found);
    if (status == WC_STORE_OK && keyed) {
        keep(w->cache, key, parent_version, out, *found ? 1 : 0, *found);
    }
    return status;
}

void api_bucket_walk_init(api_bucket_walk_t *walk, api_bucket_cache_t *cache,
                          const wc_counter_reader_t *source)
{
    walk->cache = cache;
    walk->source = source;
    walk->reader = (wc_counter_reader_t){.children = walk_children, .bucket = walk_bucket,
                                         .arg = walk};
}
