#include "system_events.h"

#include "fanout.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_store.h"
#include "wc_store_system_events.h"

size_t api_system_events_publish(api_context_t *ctx, size_t max)
{
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_system_events_take(ctx->store, max, &docs, &n) != WC_STORE_OK) {
        return 0;
    }
    size_t published = 0;
    bool available = true;
    for (size_t i = 0; i < n && available; i++) {
        const char *id = wc_doc_string(docs[i], "_id");
        const char *tenant = wc_doc_string(docs[i], "tenantId");
        const char *event_id = wc_doc_string(docs[i], "eventId");
        const char *type = wc_doc_string(docs[i], "type");
        bson_iter_t it;
        json_object *payload = bson_iter_init_find(&it, docs[i], "payload")
                                   ? wc_json_from_bson_value(&it)
                                   : NULL;
        if (id == NULL || tenant == NULL || event_id == NULL || type == NULL || payload == NULL) {
            wc_log_error("system event %s is incomplete; dropping it", id != NULL ? id : "?");
            json_object_put(payload);
            if (id != NULL) {
                (void)wc_store_system_event_done(ctx->store, id);
            }
            continue;
        }
        json_object *event = json_object_new_object();
        json_object_object_add(event, "type", json_object_new_string(type));
        json_object_object_add(event, "payload", payload);
        api_event_result_t r = api_event_publish(ctx, tenant, event, event_id);
        json_object_put(r.event);
        json_object_put(event);
        switch (r.code) {
        case 201:
        case 200: /* published by an earlier turn that did not get to delete it */
            published++;
            (void)wc_store_system_event_done(ctx->store, id);
            break;
        case 409: /* the id stands for another event: cannot happen but by hand */
            wc_log_error("system event %s conflicts with a stored event; dropping it", id);
            (void)wc_store_system_event_done(ctx->store, id);
            break;
        default: /* the database or the broker is away: the next turn tries again */
            available = false;
            break;
        }
    }
    wc_store_docs_free(docs, n);
    return published;
}
