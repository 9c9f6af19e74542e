#include "wc_store_system_events.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "wc_event_type.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_endpoints.h"
#include "wc_store_private.h"
#include "wc_time.h"

/* The event types a tenant may want, one bit each. */
static const char *const system_types[] = {"notification.sent", "notification.failed",
                                           "notification.cancelled"};
#define SYSTEM_TYPES (sizeof(system_types) / sizeof(system_types[0]))

/* Tenants whose subscriptions a process remembers; one that falls out is read again. */
#define WANTED_CACHE_SIZE 128

typedef struct {
    char tenant[64];
    unsigned wanted; /* bit i: system_types[i] */
    int64_t read_ms;
} wanted_entry_t;

static pthread_mutex_t wanted_lock = PTHREAD_MUTEX_INITIALIZER;
static wanted_entry_t wanted_cache[WANTED_CACHE_SIZE];
static size_t wanted_next;

static int type_bit(const char *type)
{
    for (size_t i = 0; i < SYSTEM_TYPES; i++) {
        if (strcmp(system_types[i], type) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Which system types the tenant's enabled endpoints' patterns cover. */
static wc_store_status_t read_wanted(wc_store_t *store, const char *tenant_id, unsigned *wanted)
{
    bson_t **docs = NULL;
    size_t n = 0;
    wc_store_status_t status = wc_store_endpoint_list(store, tenant_id, &docs, &n);
    *wanted = 0;
    for (size_t i = 0; status == WC_STORE_OK && i < n; i++) {
        bson_iter_t it, types;
        if (!bson_iter_init_find(&it, docs[i], "enabled") || !BSON_ITER_HOLDS_BOOL(&it) ||
            !bson_iter_bool(&it) || !bson_iter_init_find(&it, docs[i], "eventTypes") ||
            !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &types)) {
            continue;
        }
        while (bson_iter_next(&types)) {
            for (size_t t = 0; BSON_ITER_HOLDS_UTF8(&types) && t < SYSTEM_TYPES; t++) {
                if (wc_event_pattern_matches(bson_iter_utf8(&types, NULL), system_types[t])) {
                    *wanted |= 1u << t;
                }
            }
        }
    }
    wc_store_docs_free(docs, n);
    return status;
}

bool wc_store_system_event_wanted(wc_store_t *store, const char *tenant_id, const char *type,
                                  wc_store_status_t *status)
{
    *status = WC_STORE_OK;
    int bit = type_bit(type);
    if (bit < 0 || strlen(tenant_id) >= sizeof(wanted_cache[0].tenant)) {
        return false;
    }
    int64_t now = wc_time_now_ms();
    unsigned wanted = 0;
    bool found = false;
    pthread_mutex_lock(&wanted_lock);
    for (size_t i = 0; i < WANTED_CACHE_SIZE && !found; i++) {
        if (strcmp(wanted_cache[i].tenant, tenant_id) == 0 &&
            now - wanted_cache[i].read_ms < WC_SYSTEM_EVENT_CACHE_MS) {
            wanted = wanted_cache[i].wanted;
            found = true;
        }
    }
    pthread_mutex_unlock(&wanted_lock);
    if (!found) {
        *status = read_wanted(store, tenant_id, &wanted);
        if (*status != WC_STORE_OK) {
            return false;
        }
        pthread_mutex_lock(&wanted_lock);
        wanted_entry_t *slot = &wanted_cache[wanted_next];
        wanted_next = (wanted_next + 1) % WANTED_CACHE_SIZE;
        snprintf(slot->tenant, sizeof(slot->tenant), "%s", tenant_id);
        slot->wanted = wanted;
        slot->read_ms = now;
        pthread_mutex_unlock(&wanted_lock);
    }
    return (wanted & (1u << bit)) != 0;
}

bson_t *wc_system_event_for_notification(const bson_t *doc, const char *status, int64_t at_ms,
                                         const char *error, const char *provider)
{
    bson_iter_t it;
    const char *tenant = wc_doc_string(doc, "tenantId");
    if (tenant == NULL || wc_doc_string(doc, "endpointId") != NULL ||
        !bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) {
        return NULL;
    }
    char id[25], lower[16], type[40], event_id[96], key[192], when[WC_ISO8601_LEN];
    bson_oid_to_string(bson_iter_oid(&it), id);
    size_t i = 0;
    for (; status[i] != '\0' && i + 1 < sizeof(lower); i++) {
        lower[i] = (char)(status[i] >= 'A' && status[i] <= 'Z' ? status[i] - 'A' + 'a' : status[i]);
    }
    lower[i] = '\0';
    snprintf(type, sizeof(type), "notification.%s", lower);
    /* One event per change: a notification may fail, be replayed and fail again. */
    snprintf(event_id, sizeof(event_id), "%s.%s.%lld", type, id, (long long)at_ms);
    snprintf(key, sizeof(key), "%s:%s", tenant, event_id);
    (void)wc_time_format_iso8601(at_ms, when, sizeof(when));

    bson_t *event = bson_new();
    bson_t payload;
    BSON_APPEND_UTF8(event, "_id", key);
    BSON_APPEND_UTF8(event, "tenantId", tenant);
    BSON_APPEND_UTF8(event, "eventId", event_id);
    BSON_APPEND_UTF8(event, "type", type);
    BSON_APPEND_DOCUMENT_BEGIN(event, "payload", &payload);
    BSON_APPEND_UTF8(&payload, "notificationId", id);
    BSON_APPEND_UTF8(&payload, "status", status);
    static const char *const copied[] = {"type", "priority", "correlationId"};
    for (size_t c = 0; c < sizeof(copied) / sizeof(copied[0]); c++) {
        const char *v = wc_doc_string(doc, copied[c]);
        if (v != NULL) {
            BSON_APPEND_UTF8(&payload, strcmp(copied[c], "type") == 0 ? "channel" : copied[c], v);
        }
    }
    BSON_APPEND_INT64(&payload, "retryCount", wc_doc_int(doc, "retryCount", 0));
    BSON_APPEND_UTF8(&payload, "at", when);
    if (provider != NULL && provider[0] != '\0') {
        BSON_APPEND_UTF8(&payload, "provider", provider);
    }
    if (error != NULL && error[0] != '\0') {
        char cut[512];
        snprintf(cut, sizeof(cut), "%s", error);
        BSON_APPEND_UTF8(&payload, "error", cut);
    }
    bson_append_document_end(event, &payload);
    BSON_APPEND_DATE_TIME(event, "createdAt", at_ms);
    return event;
}

wc_store_status_t wc_store_system_events_add(wc_store_t *store, const bson_t *const *events,
                                             size_t n)
{
    const bson_t **wanted = calloc(n > 0 ? n : 1, sizeof(*wanted));
    wc_store_status_t *statuses = calloc(n > 0 ? n : 1, sizeof(*statuses));
    wc_store_status_t status = wanted != NULL && statuses != NULL ? WC_STORE_OK : WC_STORE_ERROR;
    size_t m = 0;
    for (size_t i = 0; i < n && status == WC_STORE_OK; i++) {
        const char *tenant = wc_doc_string(events[i], "tenantId");
        const char *type = wc_doc_string(events[i], "type");
        if (tenant != NULL && type != NULL &&
            wc_store_system_event_wanted(store, tenant, type, &status)) {
            wanted[m++] = events[i];
        }
    }
    if (status == WC_STORE_OK && m > 0 &&
        wc_store_insert_many(store, WC_COLL_SYSTEM_EVENTS, wanted, m, statuses) != WC_STORE_OK) {
        for (size_t i = 0; i < m && status == WC_STORE_OK; i++) {
            /* A duplicate is this very event, stored by an earlier try. */
            status = statuses[i] == WC_STORE_ERROR ? WC_STORE_ERROR : WC_STORE_OK;
        }
    }
    free(statuses);
    free(wanted);
    return status;
}

void wc_store_system_event_note(wc_store_t *store, const bson_t *doc, const char *status)
{
    bson_t *event = wc_system_event_for_notification(doc, status, wc_time_now_ms(), NULL, NULL);
    if (event == NULL) {
        return;
    }
    const bson_t *one = event;
    if (wc_store_system_events_add(store, &one, 1) != WC_STORE_OK) {
        wc_log_warn("the %s event %s could not be stored", wc_doc_string(event, "type"),
                    wc_doc_string(event, "eventId"));
    }
    bson_destroy(event);
}

wc_store_status_t wc_store_system_events_take(wc_store_t *store, size_t max, bson_t ***docs,
                                              size_t *n)
{
    bson_t *filter = bson_new();
    bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(1), "}", "limit",
                            BCON_INT64((int64_t)max));
    wc_store_status_t status =
        wc_store_find_many(store, WC_COLL_SYSTEM_EVENTS, filter, opts, max, docs, n);
    bson_destroy(opts);
    bson_destroy(filter);
    return status;
}

wc_store_status_t wc_store_system_event_done(wc_store_t *store, const char *id)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    wc_store_status_t status =
        wc_store_delete(store, WC_COLL_SYSTEM_EVENTS, filter, false, NULL);
    bson_destroy(filter);
    return status == WC_STORE_NOT_FOUND ? WC_STORE_OK : status;
}
