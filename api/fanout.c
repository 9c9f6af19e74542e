#include "fanout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "wc_crypto.h"
#include "wc_event_filter.h"
#include "wc_event_transform.h"
#include "wc_event_type.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_endpoints.h"
#include "wc_time.h"

json_object *api_event_envelope(const char *event_id, const char *type, int64_t created_ms,
                                json_object *payload)
{
    char when[WC_ISO8601_LEN] = "";
    (void)wc_time_format_iso8601(created_ms, when, sizeof(when));
    json_object *copy = NULL;
    if (payload != NULL && json_object_deep_copy(payload, &copy, NULL) != 0) {
        return NULL;
    }
    json_object *env = json_object_new_object();
    if (env == NULL) {
        json_object_put(copy);
        return NULL;
    }
    json_object_object_add(env, "id", json_object_new_string(event_id));
    json_object_object_add(env, "type", json_object_new_string(type));
    json_object_object_add(env, "timestamp", json_object_new_string(when));
    json_object_object_add(env, "data", copy);
    return env;
}

static json_object *doc_json(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) ? wc_json_from_bson_value(&it) : NULL;
}

bool api_endpoint_receives(const bson_t *endpoint, const char *type, json_object *payload)
{
    bson_iter_t it, types;
    if (!bson_iter_init_find(&it, endpoint, "enabled") || !BSON_ITER_HOLDS_BOOL(&it) ||
        !bson_iter_bool(&it)) {
        return false;
    }
    bool covered = false;
    if (bson_iter_init_find(&it, endpoint, "eventTypes") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &types)) {
        while (!covered && bson_iter_next(&types)) {
            covered = BSON_ITER_HOLDS_UTF8(&types) &&
                      wc_event_pattern_matches(bson_iter_utf8(&types, NULL), type);
        }
    }
    if (!covered) {
        return false;
    }
    json_object *filter = doc_json(endpoint, "filter");
    bool passes = filter == NULL || wc_event_filter_match(filter, payload);
    json_object_put(filter);
    return passes;
}

void api_fanout_delivery_id(const char *event_key, const char *endpoint_id, bson_oid_t *out)
{
    char text[512];
    int n = snprintf(text, sizeof(text), "%s|%s", event_key, endpoint_id);
    char hex[WC_SHA256_HEX_LEN];
    wc_sha256_hex(text, (size_t)(n < (int)sizeof(text) ? n : (int)sizeof(text) - 1), hex);
    hex[24] = '\0';
    bson_oid_init_from_string(out, hex);
}

/* The delivery of `event` to `endpoint` as a new WEBHOOK notification; NULL
 * when out of memory. */
static bson_t *delivery_document(api_context_t *ctx, const bson_t *event, const bson_t *endpoint,
                                 json_object *envelope, const bson_oid_t *id,
                                 const char *endpoint_id)
{
    json_object *transformation = doc_json(endpoint, "transformation");
    json_object *body = NULL;
    int rc = wc_event_transform_apply(transformation, envelope, &body);
    json_object_put(transformation);
    if (rc != 0) {
        json_object_put(body);
        return NULL;
    }
    /* The body sent is the transformation's output, whatever its JSON type:
     * the worker posts `payload` as it is. */
    wc_notification_request_t nreq = {
        .type = WC_CHANNEL_WEBHOOK,
        .recipient = wc_doc_string(endpoint, "url"),
        .message = wc_doc_string(event, "type"),
        .priority = WC_PRIORITY_MEDIUM,
        .max_retries = -1,
        .scheduled_at_ms = -1,
        .payload = body,
    };
    bson_t *doc = NULL;
    if (nreq.recipient != NULL) {
        /* No correlationId: the event's id travels as eventId, and may be longer. */
        doc = wc_notification_new_document(&nreq, id, wc_doc_string(event, "tenantId"),
                                           ctx->cfg->max_retries, NULL, wc_time_now_ms());
    }
    bool body_is_null = body == NULL;
    json_object_put(body);
    bson_iter_t it;
    if (doc != NULL) {
        bool ok = BSON_APPEND_UTF8(doc, "eventId", wc_doc_string(event, "eventId")) &&
                  BSON_APPEND_UTF8(doc, "endpointId", endpoint_id);
        if (ok && body_is_null) {
            ok = BSON_APPEND_NULL(doc, "payload"); /* sent as the JSON null it is */
        }
        if (ok && bson_iter_init_find(&it, endpoint, "headers") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            ok = bson_append_iter(doc, "headers", -1, &it);
        }
        /* Batching settings travel with the delivery, fixed at publish time
         * like its headers: the worker groups by them after the claim. */
        if (ok && bson_iter_init_find(&it, endpoint, "batch") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            ok = bson_append_iter(doc, "batch", -1, &it);
        }
        if (ok && bson_iter_init_find(&it, endpoint, "rev")) {
            ok = BSON_APPEND_INT64(doc, "endpointRev", bson_iter_as_int64(&it));
        }
        if (!ok) {
            bson_destroy(doc);
            doc = NULL;
        }
    }
    return doc;
}

/* Waits for one intake job on the calling thread. */
typedef struct {
    api_intake_job_t job;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool finished;
} waited_job_t;

static void job_finished(api_intake_job_t *job)
{
    waited_job_t *w = job->arg;
    pthread_mutex_lock(&w->lock);
    w->finished = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static bool commit_and_wait(api_context_t *ctx, api_intake_item_t **items, size_t n)
{
    waited_job_t w = {.job = {.items = items, .n = n, .done = job_finished}};
    w.job.arg = &w;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    bool queued = api_intake_submit(ctx->intake, &w.job);
    if (queued) {
        pthread_mutex_lock(&w.lock);
        while (!w.finished) {
            pthread_cond_wait(&w.cond, &w.lock);
        }
        pthread_mutex_unlock(&w.lock);
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return queued;
}

bool api_fanout_run(api_context_t *ctx, const bson_t *event, size_t *deliveries)
{
    *deliveries = 0;
    const char *key = wc_doc_string(event, "_id");
    const char *tenant = wc_doc_string(event, "tenantId");
    const char *event_id = wc_doc_string(event, "eventId");
    const char *type = wc_doc_string(event, "type");
    bson_iter_t it, list;
    int64_t created = 0;
    if (bson_iter_init_find(&it, event, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        created = bson_iter_date_time(&it);
    }
    if (key == NULL || tenant == NULL || event_id == NULL || type == NULL ||
        !bson_iter_init_find(&it, event, "endpoints") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &list)) {
        wc_log_error("event %s lacks the fields its fan-out needs", key != NULL ? key : "?");
        return false;
    }
    json_object *payload = doc_json(event, "payload");
    json_object *envelope = api_event_envelope(event_id, type, created, payload);
    json_object_put(payload);
    api_intake_item_t *items = calloc(WC_ENDPOINTS_PER_TENANT_MAX, sizeof(*items));
    api_intake_item_t **pointers = calloc(WC_ENDPOINTS_PER_TENANT_MAX, sizeof(*pointers));
    size_t n = 0;
    bool complete = envelope != NULL && items != NULL && pointers != NULL;
    while (complete && n < WC_ENDPOINTS_PER_TENANT_MAX && bson_iter_next(&list)) {
        const char *endpoint_id = BSON_ITER_HOLDS_UTF8(&list) ? bson_iter_utf8(&list, NULL) : "";
        if (strlen(endpoint_id) != 24 || !bson_oid_is_valid(endpoint_id, 24)) {
            continue;
        }
        bson_oid_t endpoint_oid, id;
        bson_oid_init_from_string(&endpoint_oid, endpoint_id);
        bson_t *endpoint = NULL;
        wc_store_status_t status = wc_store_endpoint_get(ctx->store, tenant, &endpoint_oid,
                                                         &endpoint);
        if (status == WC_STORE_NOT_FOUND) {
            continue; /* deleted since the event matched it: nothing to deliver to */
        }
        if (status != WC_STORE_OK) {
            complete = false;
            break;
        }
        api_fanout_delivery_id(key, endpoint_id, &id);
        api_intake_item_t *item = &items[n];
        memset(item, 0, sizeof(*item));
        bson_oid_to_string(&id, item->id_hex);
        item->doc = delivery_document(ctx, event, endpoint, envelope, &id, endpoint_id);
        bson_destroy(endpoint);
        if (item->doc == NULL || wc_publish_prepare_document(&item->message, item->doc) != 0) {
            bson_destroy(item->doc);
            complete = false;
            break;
        }
        pointers[n++] = item;
    }
    json_object_put(envelope);
    if (complete && n > 0) {
        complete = commit_and_wait(ctx, pointers, n);
    }
    for (size_t i = 0; i < n; i++) {
        switch (items[i].outcome) {
        case API_INTAKE_QUEUED:
        case API_INTAKE_PUBLISH_FAILED: /* stored; its outbox record is republished */
        case API_INTAKE_DUPLICATE:
            (*deliveries)++;
            break;
        default:
            complete = false;
            break;
        }
        bson_destroy(items[i].doc);
        wc_publish_release(&items[i].message);
    }
    free(items);
    free(pointers);
    if (complete && wc_store_event_fanned_out(ctx->store, key) != WC_STORE_OK) {
        complete = false; /* the sweeper's run will find every delivery stored */
    }
    return complete;
}

bool api_fanout_resend(api_context_t *ctx, const bson_t *event, const bson_t *endpoint,
                       const char *endpoint_id, const char *resend_key, char id_hex[25])
{
    const char *key = wc_doc_string(event, "_id");
    const char *event_id = wc_doc_string(event, "eventId");
    const char *type = wc_doc_string(event, "type");
    if (key == NULL || event_id == NULL || type == NULL) {
        return false;
    }
    char salted[384];
    snprintf(salted, sizeof(salted), "%s|resend:%s", key, resend_key);
    json_object *payload = doc_json(event, "payload");
    json_object *envelope =
        api_event_envelope(event_id, type, wc_doc_date(event, "createdAt", 0), payload);
    json_object_put(payload);
    if (envelope == NULL) {
        return false;
    }
    bson_oid_t id;
    api_fanout_delivery_id(salted, endpoint_id, &id);
    api_intake_item_t item = {0};
    api_intake_item_t *pointer = &item;
    bson_oid_to_string(&id, item.id_hex);
    item.doc = delivery_document(ctx, event, endpoint, envelope, &id, endpoint_id);
    json_object_put(envelope);
    bool ok = item.doc != NULL && wc_publish_prepare_document(&item.message, item.doc) == 0 &&
              commit_and_wait(ctx, &pointer, 1) &&
              (item.outcome == API_INTAKE_QUEUED || item.outcome == API_INTAKE_PUBLISH_FAILED ||
               item.outcome == API_INTAKE_DUPLICATE);
    if (ok) {
        snprintf(id_hex, 25, "%s", item.id_hex);
    }
    bson_destroy(item.doc);
    wc_publish_release(&item.message);
    return ok;
}

size_t api_fanout_resume_stale(api_context_t *ctx, size_t max)
{
    size_t taken = 0;
    while (taken < max) {
        int64_t now = wc_time_now_ms();
        bson_t *event = NULL;
        if (wc_store_event_take_stale(ctx->store,
                                      now - ctx->cfg->pending_republish_seconds * 1000LL, now,
                                      &event) != WC_STORE_OK) {
            break; /* none left, or the database failed (logged) */
        }
        taken++;
        size_t deliveries = 0;
        bool done = api_fanout_run(ctx, event, &deliveries);
        wc_log_warn("api:sweeper: fan-out of event %s resumed: %zu deliveries, %s",
                    wc_doc_string(event, "_id"), deliveries, done ? "complete" : "still pending");
        bson_destroy(event);
    }
    return taken;
}
