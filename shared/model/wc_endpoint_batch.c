#include "wc_endpoint_batch.h"

#include <string.h>

#include "wc_notification.h"

bool wc_endpoint_batch_settings(const bson_t *doc, size_t *max_events, int *wait_ms)
{
    const char *endpoint = wc_doc_string(doc, "endpointId");
    bson_iter_t it, batch;
    if (endpoint == NULL || strlen(endpoint) != 24 || !bson_iter_init_find(&it, doc, "batch") ||
        !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &batch)) {
        return false;
    }
    int64_t events = 0, wait = 0;
    while (bson_iter_next(&batch)) {
        if (!BSON_ITER_HOLDS_INT(&batch)) {
            continue;
        }
        if (strcmp(bson_iter_key(&batch), "maxEvents") == 0) {
            events = bson_iter_as_int64(&batch);
        } else if (strcmp(bson_iter_key(&batch), "maxWaitMs") == 0) {
            wait = bson_iter_as_int64(&batch);
        }
    }
    if (events < WC_ENDPOINT_BATCH_EVENTS_MIN || events > WC_ENDPOINT_BATCH_EVENTS_MAX ||
        wait < WC_ENDPOINT_BATCH_WAIT_MIN_MS || wait > WC_ENDPOINT_BATCH_WAIT_MAX_MS) {
        return false;
    }
    *max_events = (size_t)events;
    *wait_ms = (int)wait;
    return true;
}
