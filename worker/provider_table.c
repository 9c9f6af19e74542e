#include "provider_table.h"

#include <stdio.h>
#include <string.h>

#define ROW(kind, name, channel, type, platform, breakers, required, constructor)               \
    [PROVIDER_##kind] = {name, channel, type, platform, !WORKER_PROVIDER_##breakers, required},
const worker_provider_info_t worker_providers[PROVIDER_COUNT] = {WORKER_PROVIDERS(ROW)};
#undef ROW

/* A provider's own breaker slot is its kind, so those rows must come first. */
#define ONE_FIRST(kind, name, channel, type, platform, breakers, ...)                           \
    _Static_assert(!WORKER_PROVIDER_##breakers ||                                                \
                       (int)PROVIDER_##kind < (int)PROVIDER_ONE_BREAKER_COUNT,                   \
                   "rows with a breaker of their own come first");
WORKER_PROVIDERS(ONE_FIRST)
#undef ONE_FIRST

int worker_provider_route(wc_channel_t type, const char *platform)
{
    int fallback = -1;
    for (int kind = 0; kind < PROVIDER_COUNT; kind++) {
        const worker_provider_info_t *row = &worker_providers[kind];
        if (row->type != type) {
            continue;
        }
        if (row->platform == NULL) {
            if (fallback < 0) {
                fallback = kind;
            }
        } else if (platform != NULL && strcmp(row->platform, platform) == 0) {
            return kind;
        }
    }
    return fallback;
}

int worker_provider_order_parse(wc_channel_t type, const char *list, int out[PROVIDER_COUNT],
                                char *err, size_t err_len)
{
    int n = 0;
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int kind = 0; kind < PROVIDER_COUNT; kind++) {
            const char *name = worker_providers[kind].name;
            if (strlen(name) == len && strncmp(name, p, len) == 0) {
                found = kind;
            }
        }
        if (found < 0 || worker_providers[found].type != type) {
            snprintf(err, err_len, "\"%.*s\" is not a provider of this channel", (int)len, p);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (out[i] == found) {
                snprintf(err, err_len, "\"%.*s\" is named twice", (int)len, p);
                return -1;
            }
        }
        out[n++] = found;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    if (n == 0) {
        snprintf(err, err_len, "names no provider");
        return -1;
    }
    return n;
}
