#include "submission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idempotency.h"
#include "intake.h"
#include "rate_limits.h"
#include "metrics.h"
#include "quota.h"
#include "response.h"
#include "usage.h"
#include "wc_log.h"
#include "wc_time.h"

/* Rounds of committing for an item whose key turned free between attempts. */
#define MAX_ATTEMPTS 3

/* How long, in all, resolving taken keys may wait for first requests. */
#define RESOLVE_WAIT_MS 2000

typedef struct {
    api_intake_item_t intake;
    wc_channel_t type;
    wc_priority_t priority;
    char *key;         /* its Idempotency-Key (with a batch, "<key>#<index>"), or NULL */
    char hash[65];     /* the hash of its request, with a key */
    bool resolved;     /* `result` is final */
    api_item_result_t result;
} sub_item_t;

struct api_submission {
    api_deferral_t deferral; /* first: the server hands it back to us */
    api_context_t *ctx;
    wc_principal_t principal;
    char request_id[65];

    sub_item_t *items;
    size_t n, capacity;

    api_intake_job_t job;
    api_intake_item_t **job_items;
    int attempts;
    bool refused; /* the intake did not take the last job */

    void (*resume)(void *arg);
    void *resume_arg;

    api_submission_respond_t respond;
    void *respond_arg;
    void (*free_arg)(void *arg);
};

api_submission_t *api_submission_new(api_context_t *ctx, const wc_principal_t *principal,
                                     const api_request_t *req, size_t capacity)
{
    api_submission_t *sub = calloc(1, sizeof(*sub));
    if (sub == NULL) {
        return NULL;
    }
    sub->items = calloc(capacity > 0 ? capacity : 1, sizeof(*sub->items));
    sub->job_items = calloc(capacity > 0 ? capacity : 1, sizeof(*sub->job_items));
    if (sub->items == NULL || sub->job_items == NULL) {
        free(sub->items);
        free(sub->job_items);
        free(sub);
        return NULL;
    }
    sub->ctx = ctx;
    sub->principal = *principal;
    sub->capacity = capacity;
    snprintf(sub->request_id, sizeof(sub->request_id), "%s", req->request_id);
    return sub;
}

void api_submission_free(api_submission_t *sub)
{
    if (sub == NULL) {
        return;
    }
    for (size_t i = 0; i < sub->n; i++) {
        sub_item_t *item = &sub->items[i];
        bson_destroy(item->intake.doc);
        bson_destroy(item->intake.idempotency_record);
        wc_publish_release(&item->intake.message);
        free(item->key);
        json_object_put(item->result.notification);
    }
    if (sub->free_arg != NULL) {
        sub->free_arg(sub->respond_arg);
    }
    free(sub->items);
    free(sub->job_items);
    free(sub);
}

int api_submission_add(api_submission_t *sub, const wc_notification_request_t *nreq,
                       const char *request_hash)
{
    if (sub->n >= sub->capacity) {
        return -1;
    }
    sub_item_t *item = &sub->items[sub->n];
    memset(item, 0, sizeof(*item));
    int64_t now = wc_time_now_ms();
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    bson_oid_to_string(&id, item->intake.id_hex);
    item->type = nreq->type;
    item->priority = nreq->priority;
    item->intake.doc = wc_notification_new_document(nreq, &id, sub->principal.tenant_id,
                                                    sub->ctx->cfg->max_retries, sub->request_id,
                                                    now);
    /* The key's hint, never the key: which integration sent it (docs/ARCHITECTURE.md §13). */
    if (item->intake.doc != NULL && sub->principal.key_hint[0] != '\0' &&
        !BSON_APPEND_UTF8(item->intake.doc, "apiKey", sub->principal.key_hint)) {
        goto fail;
    }
    if (item->intake.doc == NULL ||
        wc_publish_prepare_document(&item->intake.message, item->intake.doc) != 0) {
        goto fail;
    }
    item->intake.scheduled = wc_notification_initial_status(nreq, now) == WC_STATUS_SCHEDULED;
    if (nreq->idempotency_key != NULL) {
        item->key = strdup(nreq->idempotency_key);
        snprintf(item->hash, sizeof(item->hash), "%s", request_hash);
        item->intake.idempotency_record = wc_store_idempotency_document(
            sub->principal.tenant_id, nreq->idempotency_key, request_hash, &id, now);
        if (item->key == NULL || item->intake.idempotency_record == NULL) {
            goto fail;
        }
    }
    sub->n++;
    return 0;
fail:
    bson_destroy(item->intake.doc);
    bson_destroy(item->intake.idempotency_record);
    wc_publish_release(&item->intake.message);
    free(item->key);
    memset(item, 0, sizeof(*item));
    return -1;
}

size_t api_submission_count(const api_submission_t *sub) { return sub->n; }

const api_item_result_t *api_submission_result(const api_submission_t *sub, size_t i)
{
    return &sub->items[i].result;
}

/* ---- the deferral ---- */

static void on_job_done(api_intake_job_t *job)
{
    api_submission_t *sub = job->arg;
    sub->resume(sub->resume_arg);
}

static void submission_start(api_deferral_t *self, void (*resume)(void *arg), void *resume_arg)
{
    api_submission_t *sub = (api_submission_t *)self;
    sub->resume = resume;
    sub->resume_arg = resume_arg;
    sub->attempts++;
    size_t m = 0;
    for (size_t i = 0; i < sub->n; i++) {
        if (!sub->items[i].resolved) {
            sub->job_items[m++] = &sub->items[i].intake;
        }
    }
    sub->job = (api_intake_job_t){
        .items = sub->job_items, .n = m, .done = on_job_done, .arg = sub};
    sub->refused = m == 0 || !api_intake_submit(sub->ctx->intake, &sub->job);
    if (sub->refused) {
        resume(resume_arg);
    }
}

static void set_error(sub_item_t *item, unsigned code, bool retry_after, const char *message)
{
    item->resolved = true;
    item->result.code = code;
    item->result.retry_after = retry_after;
    snprintf(item->result.message, sizeof(item->result.message), "%s", message);
}

/* The first line of a notification's trail through the logs; the worker's
 * lines for it carry the same correlationId. */
static void log_accepted(const api_submission_t *sub, const sub_item_t *item)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "notification %s accepted (%s)", item->intake.id_hex,
             item->intake.outcome == API_INTAKE_QUEUED ? "QUEUED" : "SCHEDULED");
    wc_log_fields(WC_LOG_INFO, msg,
                  wc_log_notification_fields(item->intake.id_hex, sub->principal.tenant_id,
                                             sub->request_id));
}

static void resolve_taken_key(api_submission_t *sub, sub_item_t *item, int64_t deadline_ms)
{
    bson_t *doc = NULL;
    switch (api_idempotency_resolve(sub->ctx, sub->principal.tenant_id, item->key, item->hash,
                                    deadline_ms, &doc)) {
    case API_IDEM_REPLAY:
        item->resolved = true;
        item->result.code = 200;
        item->result.notification = wc_notification_to_api_json(doc);
        bson_destroy(doc);
        break;
    case API_IDEM_MISMATCH:
        set_error(item, 409, false,
                  "this Idempotency-Key was already used with a different request");
        break;
    case API_IDEM_IN_PROGRESS:
        set_error(item, 409, true,
                  "a request with this Idempotency-Key is still being processed; retry later");
        break;
    case API_IDEM_RETRY:
        if (sub->attempts >= MAX_ATTEMPTS) {
            set_error(item, 409, true,
                      "this Idempotency-Key is changing hands; retry later");
        }
        /* Otherwise left unresolved: committed again in the next round. */
        break;
    case API_IDEM_DB_UNAVAILABLE:
        set_error(item, 503, true, "the database is unavailable; retry later");
        break;
    case API_IDEM_BROKER_UNAVAILABLE:
        set_error(item, 503, true, "the message broker is unavailable; retry later");
        break;
    }
}

static api_response_t submission_finish(api_deferral_t *self, api_context_t *ctx,
                                        const api_request_t *req)
{
    api_submission_t *sub = (api_submission_t *)self;
    int64_t deadline = wc_time_now_ms() + RESOLVE_WAIT_MS;
    bool again = false;
    for (size_t i = 0; i < sub->n; i++) {
        sub_item_t *item = &sub->items[i];
        if (item->resolved) {
            continue;
        }
        if (sub->refused) {
            set_error(item, 503, true, "the server is at capacity or stopping; retry later");
            continue;
        }
        switch (item->intake.outcome) {
        case API_INTAKE_QUEUED:
        case API_INTAKE_SCHEDULED:
            item->resolved = true;
            item->result.code = 201;
            item->result.notification = wc_notification_to_api_json(item->intake.doc);
            api_metrics_count_created(ctx->metrics, item->type);
            api_usage_count_accepted(ctx->usage, &sub->principal, item->type, 1);
            api_metrics_count_tenant_accepted(ctx->metrics, sub->principal.tenant_id, 1);
            log_accepted(sub, item);
            break;
        case API_INTAKE_KEY_TAKEN:
            resolve_taken_key(sub, item, deadline);
            again = again || !item->resolved;
            break;
        case API_INTAKE_DB_FAILED:
        case API_INTAKE_DUPLICATE: /* a random id: never, but not a success either */
        case API_INTAKE_WAITING:
            set_error(item, 503, true, "the database is unavailable; retry later");
            break;
        case API_INTAKE_PUBLISH_FAILED:
            set_error(item, 503, true, "the message broker is unavailable; retry later");
            break;
        case API_INTAKE_BROKER_DOWN:
            set_error(item, 503, true,
                      "the message broker is unavailable; nothing was stored; retry later");
            break;
        }
    }
    if (again) {
        /* Some keys turned free (expired or orphaned): commit those again. */
        api_response_t res = {.defer = &sub->deferral};
        return res;
    }
    (void)req;
    api_response_t res = sub->respond(sub, sub->respond_arg);
    api_usage_count_status(ctx->usage, &sub->principal, res.status);
    api_metrics_count_tenant_refused(ctx->metrics, sub->principal.tenant_id, res.status);
    return res;
}

static void submission_release(api_deferral_t *self)
{
    api_submission_free((api_submission_t *)self);
}

api_response_t api_submission_defer(api_submission_t *sub, api_submission_respond_t respond,
                                    void *arg, void (*free_arg)(void *arg))
{
    sub->deferral = (api_deferral_t){
        .start = submission_start,
        .finish = submission_finish,
        .release = submission_release,
    };
    sub->respond = respond;
    sub->respond_arg = arg;
    sub->free_arg = free_arg;
    /* Rate limits and quotas count what is about to be written: every
     * notification of the request, or none of them. */
    size_t critical = 0;
    for (size_t i = 0; i < sub->n; i++) {
        critical += sub->items[i].priority == WC_PRIORITY_CRITICAL;
    }
    api_response_t res = {.defer = &sub->deferral};
    bool critical_only = false;
    if (!api_limits_take_notifications(sub->ctx->limits, &sub->principal, sub->n, critical,
                                       &critical_only, &res)) {
        api_submission_free(sub);
        return res;
    }
    /* Monthly quotas count what was admitted, per channel; a notification
     * refused later (a 503 of the commit) stays counted. */
    size_t per_channel[WC_CHANNEL_COUNT] = {0}, critical_per_channel[WC_CHANNEL_COUNT] = {0};
    for (size_t i = 0; i < sub->n; i++) {
        per_channel[sub->items[i].type]++;
        critical_per_channel[sub->items[i].type] += sub->items[i].priority == WC_PRIORITY_CRITICAL;
    }
    if (!api_quota_take(sub->ctx->quota, &sub->principal, per_channel, critical_per_channel,
                        &res)) {
        api_submission_free(sub);
        return res;
    }
    if (critical_only) {
        /* At the global ceiling: a batch's CRITICAL items go on, the others
         * are refused each with its own 503. */
        for (size_t i = 0; i < sub->n; i++) {
            if (sub->items[i].priority != WC_PRIORITY_CRITICAL) {
                set_error(&sub->items[i], 503, true,
                          "the service is at its ceiling: only CRITICAL notifications are taken "
                          "now; retry later");
            }
        }
    }
    return res;
}
