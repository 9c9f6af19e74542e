#include "endpoint_health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool endpoint_health_note(endpoint_health_t *t, const char *endpoint_id, const char *tenant_id,
                          bool delivered, int64_t duration_ms, const char *error, int64_t at_ms)
{
    int64_t hour = at_ms - at_ms % WC_HOUR_MS;
    wc_endpoint_health_t *h = NULL;
    for (size_t i = 0; i < t->n && h == NULL; i++) {
        if (t->entries[i].hour_ms == hour && strcmp(t->entries[i].endpoint_id, endpoint_id) == 0) {
            h = &t->entries[i];
        }
    }
    if (h == NULL) {
        if (t->n == t->cap) {
            size_t cap = t->cap == 0 ? 8 : t->cap * 2;
            wc_endpoint_health_t *grown = realloc(t->entries, cap * sizeof(*grown));
            if (grown == NULL) {
                return false;
            }
            t->entries = grown;
            t->cap = cap;
        }
        h = &t->entries[t->n++];
        memset(h, 0, sizeof(*h));
        snprintf(h->endpoint_id, sizeof(h->endpoint_id), "%s", endpoint_id);
        snprintf(h->tenant_id, sizeof(h->tenant_id), "%s", tenant_id);
        h->hour_ms = hour;
    }
    wc_endpoint_health_note(h, delivered, duration_ms, error, at_ms);
    return true;
}

void endpoint_health_take(endpoint_health_t *t, endpoint_health_t *out)
{
    endpoint_health_free(out);
    *out = *t;
    *t = (endpoint_health_t){0};
}

void endpoint_health_free(endpoint_health_t *t)
{
    free(t->entries);
    *t = (endpoint_health_t){0};
}
