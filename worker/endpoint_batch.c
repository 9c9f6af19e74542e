#include "endpoint_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_crypto.h"
#include "wc_notification.h"

static int64_t doc_rev(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "endpointRev") ? bson_iter_as_int64(&it) : 0;
}

static endpoint_batch_t *take(endpoint_batches_t *set, size_t i)
{
    endpoint_batch_t *b = set->open[i];
    set->open[i] = set->open[--set->n];
    set->open[set->n] = NULL;
    return b;
}

int endpoint_batches_add(endpoint_batches_t *set, void *member, const bson_t *doc,
                         size_t max_events, int wait_ms, int64_t now_ms,
                         endpoint_batch_t **full)
{
    *full = NULL;
    const char *endpoint = wc_doc_string(doc, "endpointId");
    if (endpoint == NULL || strlen(endpoint) != 24) {
        return -1;
    }
    int64_t rev = doc_rev(doc);
    size_t i = 0;
    while (i < set->n &&
           (strcmp(set->open[i]->endpoint_id, endpoint) != 0 || set->open[i]->rev != rev)) {
        i++;
    }
    if (i == set->n) {
        if (set->n == ENDPOINT_BATCH_OPEN_MAX) {
            return -1;
        }
        endpoint_batch_t *b = calloc(1, sizeof(*b));
        if (b == NULL) {
            return -1;
        }
        memcpy(b->endpoint_id, endpoint, 25);
        b->rev = rev;
        b->max_events = max_events < 1                          ? 1
                        : max_events > WC_ENDPOINT_BATCH_EVENTS_MAX ? WC_ENDPOINT_BATCH_EVENTS_MAX
                                                                 : max_events;
        b->due_ms = now_ms + wait_ms;
        set->open[set->n++] = b;
    }
    endpoint_batch_t *b = set->open[i];
    b->members[b->n] = member;
    b->docs[b->n] = doc;
    b->n++;
    if (b->n >= b->max_events) {
        *full = take(set, i);
        return 1;
    }
    return 0;
}

endpoint_batch_t *endpoint_batches_take_due(endpoint_batches_t *set, int64_t now_ms, bool all)
{
    for (size_t i = 0; i < set->n; i++) {
        if (all || set->open[i]->due_ms <= now_ms) {
            return take(set, i);
        }
    }
    return NULL;
}

int endpoint_batches_next_due_ms(const endpoint_batches_t *set, int64_t now_ms, int limit_ms)
{
    for (size_t i = 0; i < set->n; i++) {
        int64_t wait = set->open[i]->due_ms > now_ms ? set->open[i]->due_ms - now_ms : 0;
        if (wait < limit_ms) {
            limit_ms = (int)wait;
        }
    }
    return limit_ms;
}

void endpoint_batch_free(endpoint_batch_t *batch)
{
    free(batch);
}

void endpoint_batch_id(const char *const ids[], size_t n, char out[ENDPOINT_BATCH_ID_LEN])
{
    /* Ids are 24 hex digits; a separator keeps the joined text unambiguous. */
    char joined[WC_ENDPOINT_BATCH_EVENTS_MAX * 25 + 1];
    size_t len = 0;
    for (size_t i = 0; i < n && i < WC_ENDPOINT_BATCH_EVENTS_MAX; i++) {
        len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%.24s,", ids[i]);
    }
    char hex[WC_SHA256_HEX_LEN];
    wc_sha256_hex(joined, len, hex);
    snprintf(out, ENDPOINT_BATCH_ID_LEN, "batch_%.24s", hex);
}

bson_t *endpoint_batch_document(const endpoint_batch_t *batch, const char *const ids[])
{
    if (batch->n == 0) {
        return NULL;
    }
    const bson_t *first = batch->docs[0];
    bson_t *doc = bson_new();
    static const char *const copied[] = {"recipient", "tenantId", "endpointId", "endpointRev",
                                         "headers", "type"};
    bool ok = true;
    bson_iter_t it;
    for (size_t i = 0; ok && i < sizeof(copied) / sizeof(copied[0]); i++) {
        if (bson_iter_init_find(&it, first, copied[i])) {
            ok = bson_append_iter(doc, copied[i], -1, &it);
        }
    }
    bson_t items;
    ok = ok && BSON_APPEND_ARRAY_BEGIN(doc, "payload", &items);
    for (size_t i = 0; ok && i < batch->n; i++) {
        char key[16];
        const char *k = NULL;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
        bson_t item;
        ok = BSON_APPEND_DOCUMENT_BEGIN(&items, k, &item) && BSON_APPEND_UTF8(&item, "id", ids[i]);
        if (ok && bson_iter_init_find(&it, batch->docs[i], "payload")) {
            ok = bson_append_iter(&item, "data", -1, &it);
        } else if (ok) {
            ok = BSON_APPEND_NULL(&item, "data");
        }
        ok = ok && bson_append_document_end(&items, &item);
    }
    ok = ok && bson_append_array_end(doc, &items);
    if (!ok) {
        bson_destroy(doc);
        return NULL;
    }
    return doc;
}
