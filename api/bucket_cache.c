#include "bucket_cache.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_LEN 128

/* One read: the children of a bucket, one bucket by _id (`found`), or the
 * documents of one list leaf (concatenated BSON). */
typedef struct entry {
    char key[KEY_LEN]; /* kind, then what names the read */
    int64_t version;
    int64_t expires_ms; /* monotonic */
    uint64_t used;      /* a tick of the last use, for eviction */
    bool found;
    size_t n;     /* buckets or documents */
    void *data;   /* n buckets, or the documents one after another */
    size_t bytes; /* of data */
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
        free(c->entries[i].data);
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
    c->bytes -= sizeof(entry_t) + c->entries[i].bytes;
    free(c->entries[i].data);
    c->entries[i] = c->entries[--c->n];
}

/* A copy of the data of `key` at `version` into *data (NULL when empty), with
 * its count and `found`; false when there is none. */
static bool lookup(api_bucket_cache_t *c, const char *key, int64_t version, void **data,
                   size_t *n, bool *found)
{
    pthread_mutex_lock(&c->lock);
    entry_t *e = find(c, key);
    bool hit = e != NULL && e->version == version && monotonic_ms() < e->expires_ms;
    void *copy = NULL;
    if (hit && e->bytes > 0) {
        copy = malloc(e->bytes);
        hit = copy != NULL;
        if (hit) {
            memcpy(copy, e->data, e->bytes);
        }
    }
    if (hit) {
        e->used = ++c->tick;
        *data = copy;
        *n = e->n;
        *found = e->found;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Keeps `data` (taken over; freed when it cannot be kept) under `key` at
 * `version`, making room by dropping the entries used longest ago. */
static void keep(api_bucket_cache_t *c, const char *key, int64_t version, void *data,
                 size_t bytes, size_t n, bool found)
{
    size_t need = sizeof(entry_t) + bytes;
    if (need > c->max_bytes / 2) {
        free(data);
        return;
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
            free(data);
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
    e->data = data;
    e->bytes = bytes;
    c->bytes += need;
    pthread_mutex_unlock(&c->lock);
}

/* Keeps a copy of `n` buckets. */
static void keep_buckets(api_bucket_cache_t *c, const char *key, int64_t version,
                         const wc_counter_bucket_t *buckets, size_t n, bool found)
{
    void *copy = NULL;
    if (n > 0 && (copy = malloc(n * sizeof(*buckets))) == NULL) {
        return;
    }
    if (n > 0) {
        memcpy(copy, buckets, n * sizeof(*buckets));
    }
    keep(c, key, version, copy, n * sizeof(*buckets), n, found);
}

static bool make_key(char key[KEY_LEN], char kind, const char *owner, wc_counter_level_t level,
                     int64_t ms)
{
    int len = snprintf(key, KEY_LEN, "%c|%s|%d|%" PRId64, kind, owner, (int)level, ms);
    return len > 0 && len < KEY_LEN;
}

static wc_store_status_t walk_children(void *arg, const char *owner, wc_counter_level_t level,
                                       int64_t ms, int64_t parent_version,
                                       wc_counter_bucket_t **out, size_t *n)
{
    api_bucket_walk_t *w = arg;
    char key[KEY_LEN];
    bool found = false;
    void *data = NULL;
    /* The children of one parent share a scope: the day list has ms 0. */
    int64_t parent = level == WC_COUNTER_DAY ? 0 : wc_counter_bucket_start(level - 1, ms);
    bool keyed = w->cache != NULL && parent_version >= 0 &&
                 make_key(key, 'c', owner, level, parent);
    if (keyed && lookup(w->cache, key, parent_version, &data, n, &found)) {
        *out = data;
        return WC_STORE_OK;
    }
    wc_store_status_t status =
        w->source->children(w->source->arg, owner, level, ms, parent_version, out, n);
    if (status == WC_STORE_OK && keyed) {
        keep_buckets(w->cache, key, parent_version, *out, *n, true);
    }
    return status;
}

static wc_store_status_t walk_bucket(void *arg, const char *owner, wc_counter_level_t level,
                                     int64_t ms, int64_t parent_version,
                                     wc_counter_bucket_t *out, bool *found)
{
    api_bucket_walk_t *w = arg;
    char key[KEY_LEN];
    void *data = NULL;
    size_t n = 0;
    bool keyed = w->cache != NULL && parent_version >= 0 &&
                 make_key(key, 'b', owner, level, wc_counter_bucket_start(level, ms));
    if (keyed && lookup(w->cache, key, parent_version, &data, &n, found)) {
        if (*found && n == 1) {
            *out = *(wc_counter_bucket_t *)data;
        }
        free(data);
        return WC_STORE_OK;
    }
    wc_store_status_t status =
        w->source->bucket(w->source->arg, owner, level, ms, parent_version, out, found);
    if (status == WC_STORE_OK && keyed) {
        keep_buckets(w->cache, key, parent_version, out, *found ? 1 : 0, *found);
    }
    return status;
}

static bool walk_leaf_get(void *arg, const char *leaf, int64_t bucket_version, bson_t ***docs,
                          size_t *n)
{
    api_bucket_walk_t *w = arg;
    char key[KEY_LEN];
    int len = snprintf(key, sizeof(key), "l|%s", leaf);
    uint8_t *data = NULL;
    size_t count = 0;
    bool found = false;
    if (w->cache == NULL || len <= 0 || len >= KEY_LEN ||
        !lookup(w->cache, key, bucket_version, (void **)&data, &count, &found)) {
        return false;
    }
    bson_t **out = calloc(count > 0 ? count : 1, sizeof(*out));
    size_t at = 0, i = 0;
    for (; out != NULL && i < count; i++) {
        uint32_t doc_len;
        memcpy(&doc_len, data + at, sizeof(doc_len)); /* BSON: little-endian length first */
        if ((out[i] = bson_new_from_data(data + at, doc_len)) == NULL) {
            break;
        }
        at += doc_len;
    }
    free(data);
    if (out == NULL || i < count) {
        wc_store_docs_free(out, i);
        return false;
    }
    *docs = out;
    *n = count;
    return true;
}

static void walk_leaf_keep(void *arg, const char *leaf, int64_t bucket_version,
                           const bson_t *const *docs, size_t n)
{
    api_bucket_walk_t *w = arg;
    char key[KEY_LEN];
    int len = snprintf(key, sizeof(key), "l|%s", leaf);
    if (w->cache == NULL || len <= 0 || len >= KEY_LEN) {
        return;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += docs[i]->len;
    }
    uint8_t *data = bytes > 0 ? malloc(bytes) : NULL;
    if (bytes > 0 && data == NULL) {
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(data + at, bson_get_data(docs[i]), docs[i]->len);
        at += docs[i]->len;
    }
    keep(w->cache, key, bucket_version, data, bytes, n, true);
}

void api_bucket_walk_init(api_bucket_walk_t *walk, api_bucket_cache_t *cache,
                          const wc_counter_reader_t *source)
{
    walk->cache = cache;
    walk->source = source;
    walk->reader = (wc_counter_reader_t){.children = walk_children,
                                         .bucket = walk_bucket,
                                         .leaf_get = walk_leaf_get,
                                         .leaf_keep = walk_leaf_keep,
                                         .arg = walk};
}
