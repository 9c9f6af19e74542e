/* POST /api/notifications and GET /api/notifications/:id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "idempotency.h"
#include "query.h"
#include "response.h"
#include "submission.h"
#include "template_render.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store_trail.h"
#include "wc_time.h"

bool api_parse_id(const api_request_t *req, const char *param, bson_oid_t *id,
                  api_response_t *res)
{
    if (param == NULL || strlen(param) != 24 || !bson_oid_is_valid(param, 24)) {
        *res = api_field_error("id", "objectid", "id must be 24 hexadecimal characters");
        return false;
    }
    bson_oid_init_from_string(id, param);
    return api_no_query(req, res);
}

bool api_no_query(const api_request_t *req, api_response_t *res)
{
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, NULL, &q, &errs);
    if (errs.count > 0) {
        *res = api_validation_error(&errs);
        return false;
    }
    return true;
}

/* Reads and checks the Idempotency-Key header: *key is NULL when absent. */
static bool idempotency_key(const api_request_t *req, const char **key, api_response_t *res)
{
    *key = api_request_header(req, "Idempotency-Key");
    if (*key != NULL && !api_idempotency_key_valid(*key)) {
        *res = api_field_error("Idempotency-Key", "format",
                               "Idempotency-Key must be 1 to 255 characters of visible ASCII");
        return false;
    }
    return true;
}

static api_response_t respond_single(api_submission_t *sub, void *arg)
{
    (void)arg;
    const api_item_result_t *r = api_submission_result(sub, 0);
    api_response_t res;
    if (r->code == 200 || r->code == 201) {
        json_object *status = NULL;
        json_object_object_get_ex(r->notification, "status", &status);
        bool scheduled = status != NULL && strcmp(json_object_get_string(status), "SCHEDULED") == 0;
        const char *message = r->code == 200 ? "Notification already created for this Idempotency-Key"
                              : scheduled    ? "Notification created and scheduled successfully"
                                             : "Notification created and queued successfully";
        res = api_ok(r->code, json_object_get(r->notification), message);
        json_object *id = NULL;
        if (json_object_object_get_ex(r->notification, "_id", &id)) {
            char location[64];
            snprintf(location, sizeof(location), "/api/notifications/%s",
                     json_object_get_string(id));
            api_response_header(&res, "Location", location);
        }
        if (r->code == 200) {
            api_response_header(&res, "Idempotent-Replayed", "true");
        }
        return res;
    }
    res = api_error(r->code, r->message);
    if (r->retry_after) {
        api_response_header(&res, "Retry-After", r->code == 409 ? "1" : "5");
    }
    return res;
}

/* Validates, then hands the notification to the group commit; the answer
 * comes once it is stored and confirmed by the broker (docs/ARCHITECTURE.md §4,
 * invariant 1). */
api_response_t api_handle_create_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    const char *key = NULL;
    json_object *body = NULL;
    if (!api_no_query(req, &res) || !idempotency_key(req, &key, &res) ||
        !api_parse_json_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    wc_notification_request_t nreq;
    const wc_validation_options_t opts = {
        .allow_http_webhooks = ctx->cfg->webhook_allow_http != 0,
        .allow_loopback_webhooks = ctx->cfg->webhook_allow_loopback != 0,
        .now_ms = wc_time_now_ms(),
    };
    /* A body naming a template is validated as the content it renders to. */
    json_object *rendered = NULL, *template_ref = NULL;
    switch (api_template_expand(ctx, principal->tenant_id, NULL, body, &rendered, &template_ref,
                                &errs)) {
    case API_TEMPLATE_NONE:
    case API_TEMPLATE_RENDERED:
        break;
    case API_TEMPLATE_INVALID:
        json_object_put(body);
        return api_validation_error(&errs);
    case API_TEMPLATE_UNAVAILABLE:
        json_object_put(body);
        return api_unavailable("the database");
    }
    if (!wc_notification_validate_opts(rendered != NULL ? rendered : body, &opts, &nreq, &errs)) {
        json_object_put(rendered);
        json_object_put(template_ref);
        json_object_put(body);
        return api_validation_error(&errs);
    }
    nreq.idempotency_key = key;
    nreq.template_ref = template_ref;
    char hash[65] = "";
    api_submission_t *sub = api_submission_new(ctx, principal, req, 1);
    /* The request as sent is what its Idempotency-Key stands for. */
    bool ok = sub != NULL && (key == NULL || api_idempotency_hash(body, hash) == 0) &&
              api_submission_add(sub, &nreq, hash) == 0;
    json_object_put(rendered);
    json_object_put(template_ref);
    json_object_put(body); /* the submission holds its own copies */
    if (!ok) {
        api_submission_free(sub);
        wc_log_error("cannot prepare a notification (out of memory?)");
        return api_unavailable("the API");
    }
    return api_submission_defer(sub, respond_single, NULL, NULL);
}

api_response_t api_handle_get_notification(api_context_t *ctx, const api_request_t *req,
                                           const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    if (!api_parse_id(req, param, &id, &res)) {
        return res;
    }
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_get_notification(ctx->store, principal->tenant_id, &id, &doc);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "notification not found");
    }
    json_object *logs = wc_store_trail_read(ctx->store, doc);
    if (logs == NULL) {
        bson_destroy(doc);
        return api_unavailable("the database");
    }
    json_object *data = json_object_new_object();
    json_object_object_add(data, "notification", wc_notification_to_api_json(doc));
    json_object_object_add(data, "logs", logs);
    bson_destroy(doc);
    return api_ok(200, data, NULL);
}
