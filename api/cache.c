#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    char *value;
    int64_t expires_ms;
} entry_t;

struct api_cache {
    pthread_mutex_t lock;
    entry_t *entries;
    size_t capacity;
};

api_cache_t *api_cache_new(size_t capacity)
{
    api_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->entries = calloc(capacity, sizeof(*c->entries));
    if (c->entries == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->entries);
        free(c);
        return NULL;
    }
    c->capacity = capacity;
    return c;
}

void api_cache_free(api_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->capacity; i++) {
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

char *api_cache_get(api_cache_t *c, const char *key, int64_t now_ms)
{
    char *copy = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->capacity; i++) {
        entry_t *e = &c->entries[i];
        if (e->key != NULL && strcmp(e->key, key) == 0) {
            if (e->expires_ms > now_ms) {
                copy = strdup(e->value);
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return copy;
}

void api_cache_put(api_cache_t *c, const char *key, const char *value, int64_t expires_ms)
{
    char *k = strdup(key);
    char *v = strdup(value);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return; /* not caching is always correct */
    }
    pthread_mutex_lock(&c->lock);
    entry_t *same = NULL, *empty = NULL, *soonest = &c->entries[0];
    for (size_t i = 0; i < c->capacity; i++) {
        entry_t *e = &c->entries[i];
        if (e->key == NULL) {
            empty = empty != NULL ? empty : e;
        } else if (strcmp(e->key, key) == 0) {
            same = e;
        }
        if (e->expires_ms < soonest->expires_ms) {
            soonest = e;
        }
    }
    entry_t *slot = same != NULL ? same : empty != NULL ? empty : soonest;
    free(slot->key);
    free(slot->value);
    slot->key = k;
    slot->value = v;
    slot->expires_ms = expires_ms;
    pthread_mutex_unlock(&c->lock);
}
