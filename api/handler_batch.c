/*
 * POST /api/notifications/batch: {"notifications": [ ... up to 1,000 ... ]}.
 *
 * Each item is validated on its own; the valid ones go through the group
 * commit together (one bulk insert, one batch of confirms) and the invalid
 * ones are stored nowhere. The answer lists every item in request order with
 * its own code: 201 created, 200 replayed (Idempotency-Key), 400 invalid with
 * its errors, 409, or 503 when the database or the broker failed for it.
 * The HTTP status is 201 when every item was created or replayed, the items'
 * common code when they all failed alike, and 207 otherwise.
 *
 * With an Idempotency-Key header K, item i carries the key "K#i": repeating
 * the same batch replays each stored item and retries only the ones that
 * failed, and a different item under a reused key is a 409 for that item.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "idempotency.h"
#include "response.h"
#include "submission.h"
#include "template_render.h"
#include "wc_log.h"
#include "wc_time.h"

#define BATCH_MAX_ITEMS 1000

typedef struct {
    size_t n;            /* items in the request */
    long *sub_index;     /* index in the submission, or -1 when invalid */
    json_object **errors; /* the validation errors of each invalid item */
} batch_t;

static void batch_free(void *arg)
{
    batch_t *b = arg;
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        json_object_put(b->errors[i]);
    }
    free(b->sub_index);
    free(b->errors);
    free(b);
}

static batch_t *batch_new(size_t n)
{
    batch_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->n = n;
    b->sub_index = calloc(n, sizeof(*b->sub_index));
    b->errors = calloc(n, sizeof(*b->errors));
    if (b->sub_index == NULL || b->errors == NULL) {
        batch_free(b);
        return NULL;
    }
    return b;
}

static json_object *item_json(size_t index, unsigned code)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "index", json_object_new_int64((int64_t)index));
    json_object_object_add(o, "success", json_object_new_boolean(code == 200 || code == 201));
    json_object_object_add(o, "code", json_object_new_int((int)code));
    return o;
}

static void copy_member(json_object *from, json_object *to, const char *name)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(from, name, &v)) {
        json_object_object_add(to, name, json_object_get(v));
    }
}

static api_response_t respond_batch(api_submission_t *sub, void *arg)
{
    batch_t *b = arg;
    json_object *results = json_object_new_array_ext((int)b->n);
    size_t created = 0, replayed = 0, failed = 0;
    unsigned common = 0;
    bool mixed = false, retry_after = false;
    for (size_t i = 0; i < b->n; i++) {
        unsigned code = 400;
        json_object *o;
        if (b->sub_index[i] < 0) {
            o = item_json(i, code);
            json_object_object_add(o, "errors", json_object_get(b->errors[i]));
        } else {
            const api_item_result_t *r = api_submission_result(sub, (size_t)b->sub_index[i]);
            code = r->code;
            o = item_json(i, code);
            if (code == 200 || code == 201) {
                json_object *id = NULL;
                if (json_object_object_get_ex(r->notification, "_id", &id)) {
                    json_object_object_add(o, "id", json_object_get(id));
                }
                copy_member(r->notification, o, "status");
                copy_member(r->notification, o, "scheduledAt");
                copy_member(r->notification, o, "template");
            } else {
                json_object_object_add(o, "message", json_object_new_string(r->message));
                retry_after = retry_after || r->retry_after;
            }
        }
        created += code == 201;
        replayed += code == 200;
        failed += code != 200 && code != 201;
        unsigned kind = code == 200 ? 201 : code;
        mixed = mixed || (common != 0 && common != kind);
        common = kind;
        json_object_array_add(results, o);
    }
    unsigned status = mixed ? 207 : common;
    json_object *summary = json_object_new_object();
    json_object_object_add(summary, "total", json_object_new_int64((int64_t)b->n));
    json_object_object_add(summary, "created", json_object_new_int64((int64_t)created));
    json_object_object_add(summary, "replayed", json_object_new_int64((int64_t)replayed));
    json_object_object_add(summary, "failed", json_object_new_int64((int64_t)failed));
    json_object *data = json_object_new_object();
    json_object_object_add(data, "results", results);
    json_object_object_add(data, "summary", summary);
    char message[96];
    snprintf(message, sizeof(message), "%zu of %zu notifications accepted", created + replayed,
             b->n);
    api_response_t res = {.status = status, .body = json_object_new_object()};
    json_object_object_add(res.body, "success", json_object_new_boolean(failed == 0));
    json_object_object_add(res.body, "data", data);
    json_object_object_add(res.body, "message", json_object_new_string(message));
    if (retry_after) {
        api_response_header(&res, "Retry-After", "5");
    }
    return res;
}

/* The "notifications" array of a batch body, or NULL with the error in *res. */
static json_object *batch_items(json_object *body, api_response_t *res)
{
    wc_field_errors_t errs = {0};
    json_object *items = NULL;
    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(&errs, "body", "type",
                            "the request body must be an object {\"notifications\": [...]}");
    } else {
        json_object_object_foreach(body, key, unused)
        {
            (void)unused;
            if (strcmp(key, "notifications") != 0) {
                wc_field_errors_add(&errs, key, "unknown", "unknown field \"%.40s\"", key);
            }
        }
        if (!json_object_object_get_ex(body, "notifications", &items)) {
            wc_field_errors_add(&errs, "notifications", "required", "notifications is required");
        } else if (!json_object_is_type(items, json_type_array)) {
            wc_field_errors_add(&errs, "notifications", "type", "notifications must be an array");
        } else if (json_object_array_length(items) == 0) {
            wc_field_errors_add(&errs, "notifications", "length",
                                "notifications must hold at least one notification");
        } else if (json_object_array_length(items) > BATCH_MAX_ITEMS) {
            wc_field_errors_add(&errs, "notifications", "size",
                                "a batch holds at most %d notifications", BATCH_MAX_ITEMS);
            *res = api_validation_error(&errs);
            res->status = 413;
            return NULL;
        }
    }
    if (errs.count > 0) {
        *res = api_validation_error(&errs);
        return NULL;
    }
    return items;
}

/* What rendering an item's template needs: the templates the batch has read
 * so far, and where to say the database failed. */
typedef struct {
    api_context_t *ctx;
    const char *tenant_id;
    api_template_cache_t *cache;
    bool *unavailable;
} item_templates_t;

/* Validates item i (rendered first when it names a template) into the
 * submission, or records its errors. Returns false when memory runs out or
 * the database failed reading a template (*templates->unavailable). */
static bool add_item(api_submission_t *sub, batch_t *b, size_t i, json_object *item,
                     const char *key, const wc_validation_options_t *opts,
                     const item_templates_t *templates)
{
    wc_field_errors_t errs = {0};
    wc_notification_request_t nreq;
    b->sub_index[i] = -1;
    json_object *rendered = NULL, *template_ref = NULL;
    switch (api_template_expand(templates->ctx, templates->tenant_id, templates->cache, item,
                                &rendered, &template_ref, &errs)) {
    case API_TEMPLATE_NONE:
    case API_TEMPLATE_RENDERED:
        break;
    case API_TEMPLATE_INVALID:
        b->errors[i] = wc_field_errors_to_json(&errs);
        return true;
    case API_TEMPLATE_UNAVAILABLE:
        *templates->unavailable = true;
        return false;
    }
    if (!wc_notification_validate_opts(rendered != NULL ? rendered : item, opts, &nreq, &errs)) {
        b->errors[i] = wc_field_errors_to_json(&errs);
        json_object_put(rendered);
        json_object_put(template_ref);
        return true;
    }
    nreq.template_ref = template_ref;
    char item_key[API_IDEMPOTENCY_KEY_MAX + 16];
    char hash[65] = "";
    bool ok = true;
    if (key != NULL) {
        snprintf(item_key, sizeof(item_key), "%s#%zu", key, i);
        nreq.idempotency_key = item_key;
        ok = api_idempotency_hash(item, hash) == 0;
    }
    if (ok) {
        b->sub_index[i] = (long)api_submission_count(sub);
        ok = api_submission_add(sub, &nreq, hash) == 0;
    }
    json_object_put(rendered);
    json_object_put(template_ref);
    return ok;
}

api_response_t api_handle_create_batch(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    json_object *body = NULL;
    if (!api_no_query(req, &res)) {
        return res;
    }
    const char *key = api_request_header(req, "Idempotency-Key");
    if (key != NULL && !api_idempotency_key_valid(key)) {
        return api_field_error("Idempotency-Key", "format",
                               "Idempotency-Key must be 1 to 255 characters of visible ASCII");
    }
    if (!api_parse_json_body(req, &body, &res)) {
        return res;
    }
    json_object *items = batch_items(body, &res);
    if (items == NULL) {
        json_object_put(body);
        return res;
    }
    size_t n = json_object_array_length(items);
    batch_t *b = batch_new(n);
    api_submission_t *sub = api_submission_new(ctx, principal, req, n);
    const wc_validation_options_t opts = {
        .allow_http_webhooks = ctx->cfg->webhook_allow_http != 0,
        .allow_loopback_webhooks = ctx->cfg->webhook_allow_loopback != 0,
        .now_ms = wc_time_now_ms(),
    };
    bool unavailable = false;
    const item_templates_t templates = {
        .ctx = ctx,
        .tenant_id = principal->tenant_id,
        .cache = api_template_cache_new(),
        .unavailable = &unavailable,
    };
    bool ok = b != NULL && sub != NULL && templates.cache != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = add_item(sub, b, i, json_object_array_get_idx(items, i), key, &opts, &templates);
    }
    api_template_cache_free(templates.cache);
    json_object_put(body);
    if (!ok) {
        batch_free(b);
        api_submission_free(sub);
        if (unavailable) {
            return api_unavailable("the database");
        }
        wc_log_error("cannot prepare a batch of %zu (out of memory?)", n);
        return api_unavailable("the API");
    }
    if (api_submission_count(sub) == 0) {
        /* Nothing valid: answer at once, nothing was written. */
        res = respond_batch(sub, b);
        batch_free(b);
        api_submission_free(sub);
        return res;
    }
    return api_submission_defer(sub, respond_batch, b, batch_free);
}
