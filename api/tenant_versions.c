#include "tenant_versions.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char tenant_id[64];
    int64_t read_ms; /* 0: a free slot */
    int64_t version;
    wc_store_counts_t counts;
} entry_t;

struct api_tenant_versions {
    pthread_mutex_t lock;
    entry_t *entries;
    size_t capacity;
    /* Advanced by every forget: a read that began before one is not kept. */
    uint64_t forgets;
    api_version_reader_t read;
    void *source;
};

api_tenant_versions_t *api_tenant_versions_new(size_t tenants, api_version_reader_t read,
                                               void *source)
{
    api_tenant_versions_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->entries = calloc(tenants, sizeof(*m->entries));
    if (m->entries == NULL || tenants == 0 || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->entries);
        free(m);
        return NULL;
    }
    m->capacity = tenants;
    m->read = read;
    m->source = source;
    return m;
}

void api_tenant_versions_free(api_tenant_versions_t *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_destroy(&m->lock);
    free(m->entries);
    free(m);
}

/* The tenant's slot, or NULL; under the lock. */
static entry_t *find(api_tenant_versions_t *m, const char *tenant_id)
{
    for (size_t i = 0; i < m->capacity; i++) {
        if (m->entries[i].read_ms != 0 && strcmp(m->entries[i].tenant_id, tenant_id) == 0) {
            return &m->entries[i];
        }
    }
    return NULL;
}

/* A free slot, or the one read longest ago; under the lock. */
static entry_t *slot_for(api_tenant_versions_t *m)
{
    entry_t *oldest = &m->entries[0];
    for (size_t i = 0; i < m->capacity; i++) {
        if (m->entries[i].read_ms == 0) {
            return &m->entries[i];
        }
        if (m->entries[i].read_ms < oldest->read_ms) {
            oldest = &m->entries[i];
        }
    }
    return oldest;
}

wc_store_status_t api_tenant_versions_get(api_tenant_versions_t *m, const char *tenant_id,
                                          int64_t now_ms, int64_t fresh_ms, int64_t *version,
                                          wc_store_counts_t *counts)
{
    bool fits = strlen(tenant_id) < sizeof(m->entries[0].tenant_id);
    pthread_mutex_lock(&m->lock);
    entry_t *e = fits && fresh_ms > 0 ? find(m, tenant_id) : NULL;
    if (e != NULL && now_ms >= e->read_ms && now_ms - e->read_ms < fresh_ms) {
        *version = e->version;
        if (counts != NULL) {
            *counts = e->counts;
        }
        pthread_mutex_unlock(&m->lock);
        return WC_STORE_OK;
    }
    uint64_t forgets = m->forgets;
    pthread_mutex_unlock(&m->lock);

    wc_store_counts_t read_counts;
    wc_store_status_t status = m->read(m->source, tenant_id, version, &read_counts);
    if (status != WC_STORE_OK) {
        return status;
    }
    if (counts != NULL) {
        *counts = read_counts;
    }
    if (!fits || fresh_ms <= 0) {
        return status;
    }
    pthread_mutex_lock(&m->lock);
    if (m->forgets == forgets) {
        e = find(m, tenant_id);
        if (e == NULL) {
            e = slot_for(m);
            snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant_id);
        }
        /* A clock that stepped back must not make the entry look fresh for long. */
        e->read_ms = now_ms > 0 ? now_ms : 1;
        e->version = *version;
        e->counts = read_counts;
    }
    pthread_mutex_unlock(&m->lock);
    return status;
}

void api_tenant_versions_forget(api_tenant_versions_t *m, const char *tenant_id)
{
    pthread_mutex_lock(&m->lock);
    m->forgets++;
    entry_t *e = find(m, tenant_id);
    if (e != NULL) {
        e->read_ms = 0;
    }
    pthread_mutex_unlock(&m->lock);
}
