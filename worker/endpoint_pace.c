#include "endpoint_pace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_store_endpoints.h"
#include "wc_topology.h"

/* Endpoints whose limit a child remembers; one that falls out is read again. */
#define PACE_CACHE_SIZE 64

typedef struct {
    char endpoint[25];
    int64_t per_second; /* 0: no limit */
    int64_t read_ms;
} rate_entry_t;

struct endpoint_pace {
    pthread_mutex_t lock; /* the store threads share the cache */
    rate_entry_t entries[PACE_CACHE_SIZE];
    size_t next_slot;
};

endpoint_pace_t *endpoint_pace_new(void)
{
    endpoint_pace_t *pace = calloc(1, sizeof(*pace));
    if (pace != NULL && pthread_mutex_init(&pace->lock, NULL) != 0) {
        free(pace);
        pace = NULL;
    }
    return pace;
}

void endpoint_pace_free(endpoint_pace_t *pace)
{
    if (pace != NULL) {
        pthread_mutex_destroy(&pace->lock);
        free(pace);
    }
}

static bool cached_rate(endpoint_pace_t *pace, const char *endpoint_id, int64_t now_ms,
                        int64_t *per_second)
{
    bool found = false;
    pthread_mutex_lock(&pace->lock);
    for (size_t i = 0; i < PACE_CACHE_SIZE && !found; i++) {
        const rate_entry_t *e = &pace->entries[i];
        if (e->endpoint[0] != '\0' && strcmp(e->endpoint, endpoint_id) == 0 &&
            now_ms - e->read_ms < ENDPOINT_PACE_CACHE_MS) {
            *per_second = e->per_second;
            found = true;
        }
    }
    pthread_mutex_unlock(&pace->lock);
    return found;
}

static void remember_rate(endpoint_pace_t *pace, const char *endpoint_id, int64_t now_ms,
                          int64_t per_second)
{
    pthread_mutex_lock(&pace->lock);
    rate_entry_t *slot = NULL;
    for (size_t i = 0; i < PACE_CACHE_SIZE && slot == NULL; i++) {
        if (strcmp(pace->entries[i].endpoint, endpoint_id) == 0) {
            slot = &pace->entries[i];
        }
    }
    if (slot == NULL) {
        slot = &pace->entries[pace->next_slot];
        pace->next_slot = (pace->next_slot + 1) % PACE_CACHE_SIZE;
    }
    snprintf(slot->endpoint, sizeof(slot->endpoint), "%s", endpoint_id);
    slot->per_second = per_second;
    slot->read_ms = now_ms;
    pthread_mutex_unlock(&pace->lock);
}

wc_store_status_t endpoint_pace_reserve(endpoint_pace_t *pace, wc_store_t *store,
                                        const char *endpoint_id, int64_t now_ms,
                                        int64_t *slot_ms)
{
    *slot_ms = 0;
    int64_t per_second = 0;
    if (!cached_rate(pace, endpoint_id, now_ms, &per_second)) {
        wc_store_status_t status = wc_store_endpoint_rate(store, endpoint_id, &per_second);
        if (status == WC_STORE_ERROR) {
            return status;
        }
        remember_rate(pace, endpoint_id, now_ms, per_second); /* 0 for a gone one */
    }
    if (per_second <= 0) {
        return WC_STORE_OK;
    }
    /* Rounded up, so that R slots never take less than a second. */
    int64_t interval_ms = (1000 + per_second - 1) / per_second;
    return wc_store_endpoint_pace(store, endpoint_id, interval_ms, now_ms, slot_ms);
}

int endpoint_pace_hop(int64_t remaining_ms)
{
    int hop = -1;
    for (size_t i = 0; i < wc_delay_tier_count; i++) {
        if (wc_delay_tiers[i].seconds * 1000LL <= remaining_ms) {
            hop = (int)i;
        }
    }
    return hop;
}
