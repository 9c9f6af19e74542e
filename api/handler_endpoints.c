/*
 * The endpoints of event subscriptions (docs/ARCHITECTURE.md §14):
 * POST/GET /api/endpoints, GET/PATCH/DELETE /api/endpoints/:id and
 * POST /api/endpoints/:id/rotate-secret. The signing secret is shown when it
 * is drawn (create and rotate) and never again.
 */
#include <stdio.h>
#include <string.h>

#include "endpoint_body.h"
#include "handlers.h"
#include "response.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_netaddr.h"
#include "wc_store_endpoint_health.h"
#include "wc_store_endpoints.h"
#include "wc_time.h"

/* How long a rotated secret stays valid unless the request says. */
#define ROTATE_GRACE_DEFAULT_SECONDS 86400
#define ROTATE_GRACE_MAX_SECONDS (7 * 86400)

/* The endpoint as the API shows it: its fields without the stored secrets. */
static json_object *endpoint_json(const bson_t *doc)
{
    json_object *all = wc_json_from_bson(doc);
    json_object *out = json_object_new_object();
    static const char *const shown[] = {"url",     "description", "eventTypes", "filter",
                                        "transformation", "headers", "rateLimit", "batch",
                                        "enabled", "disabledReason", "createdAt", "updatedAt"};
    json_object *v = NULL;
    if (json_object_object_get_ex(all, "_id", &v)) {
        json_object_object_add(out, "id", json_object_get(v));
    }
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        v = NULL;
        json_object_object_get_ex(all, shown[i], &v);
        json_object_object_add(out, shown[i], json_object_get(v));
    }
    if (json_object_object_get_ex(all, "previousSecretUntil", &v)) {
        json_object_object_add(out, "previousSecretValidUntil", json_object_get(v));
    }
    json_object_put(all);
    return out;
}

/* The SSRF guard at registration: a host that is an IP literal in a range
 * the guard refuses is refused now, like a notification's webhook at intake
 * (wc_url_literal_verdict). A host name is not resolved here: the worker's
 * guard (wc_netguard.h) resolves and judges it on every delivery attempt,
 * which a later change of its DNS answer cannot get round. */
static bool url_reachable(api_context_t *ctx, const bson_t *fields, api_response_t *res)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, fields, "url")) {
        return true;
    }
    char why[320] = "";
    switch (wc_url_literal_verdict(bson_iter_utf8(&it, NULL),
                                   ctx->cfg->webhook_allow_loopback != 0, why, sizeof(why))) {
    case WC_URL_NOT_REFUSED:
        return true;
    case WC_URL_LITERAL_REFUSED:
        *res = api_field_error("url", "address", why);
        return false;
    case WC_URL_BAD_HOST:
        break;
    }
    *res = api_field_error("url", "url", "the URL has no host to deliver to");
    return false;
}

/* The body of a create (every field) or a PATCH (`partial`) checked into the
 * fields to store, its URL past the SSRF guard; NULL with the answer in *res. */
static bson_t *checked_fields(api_context_t *ctx, const api_request_t *req, bool partial,
                              api_response_t *res)
{
    json_object *body = NULL;
    if (!api_parse_json_body(req, &body, res)) {
        return NULL;
    }
    wc_field_errors_t errs = {0};
    bson_t *fields = bson_new();
    bool ok = api_endpoint_body_check(body, partial, ctx->cfg->webhook_allow_http != 0, fields,
                                      &errs);
    json_object_put(body);
    if (!ok) {
        *res = api_validation_error(&errs);
    } else if (url_reachable(ctx, fields, res)) {
        return fields;
    }
    bson_destroy(fields);
    return NULL;
}

api_response_t api_handle_create_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    bson_t *fields = NULL;
    if (!api_no_query(req, &res) || (fields = checked_fields(ctx, req, false, &res)) == NULL) {
        return res;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    wc_store_status_t status = wc_store_endpoint_list(ctx->store, principal->tenant_id, &docs, &n);
    wc_store_docs_free(docs, n);
    if (status != WC_STORE_OK) {
        bson_destroy(fields);
        return api_unavailable("the database");
    }
    if (n >= WC_ENDPOINTS_PER_TENANT_MAX) {
        bson_destroy(fields);
        return api_error(409, "a tenant has at most 100 endpoints; delete one first");
    }
    char secret[WC_WEBHOOK_SECRET_SIZE];
    bson_t *doc = NULL;
    status = wc_store_endpoint_create(ctx->store, principal->tenant_id, fields, secret, &doc);
    bson_destroy(fields);
    if (status != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *out = endpoint_json(doc);
    json_object_object_add(out, "secret", json_object_new_string(secret));
    json_object *id = NULL;
    json_object_object_get_ex(out, "id", &id);
    char location[64];
    snprintf(location, sizeof(location), "/api/endpoints/%s", json_object_get_string(id));
    api_audit(ctx, principal, "endpoint.create", json_object_get_string(id), NULL);
    bson_destroy(doc);
    res = api_ok(201, out, "Endpoint created; keep its secret, it is shown only now");
    api_response_header(&res, "Location", location);
    return res;
}

api_response_t api_handle_list_endpoints(api_context_t *ctx, const api_request_t *req,
                                         const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_endpoint_list(ctx->store, principal->tenant_id, &docs, &n) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(list, endpoint_json(docs[i]));
    }
    wc_store_docs_free(docs, n);
    return api_ok(200, list, "Endpoints retrieved");
}

bool api_endpoint_of_path(api_context_t *ctx, const api_request_t *req,
                          const wc_principal_t *principal, const char *param, bson_t **doc,
                          api_response_t *res)
{
    bson_oid_t id;
    *doc = NULL;
    if (!api_parse_id(req, param, &id, res)) {
        return false;
    }
    wc_store_status_t status = wc_store_endpoint_get(ctx->store, principal->tenant_id, &id, doc);
    if (status != WC_STORE_OK) {
        *res = api_store_failure(status, "endpoint not found");
        return false;
    }
    return true;
}

api_response_t api_handle_get_endpoint(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_t *doc = NULL;
    if (!api_endpoint_of_path(ctx, req, principal, param, &doc, &res)) {
        return res;
    }
    res = api_ok(200, endpoint_json(doc), "Endpoint retrieved");
    bson_destroy(doc);
    return res;
}

api_response_t api_handle_update_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    bson_t *fields = NULL;
    if (!api_parse_id(req, param, &id, &res) ||
        (fields = checked_fields(ctx, req, true, &res)) == NULL) {
        return res;
    }
    /* Enabling it (again) ends an automatic disabling's reason and starts
     * the failing streak anew. */
    bson_iter_t it;
    bool enabling = bson_iter_init_find(&it, fields, "enabled") && BSON_ITER_HOLDS_BOOL(&it) &&
                    bson_iter_bool(&it);
    if (enabling) {
        BSON_APPEND_NULL(fields, "disabledReason");
    }
    bson_t *doc = NULL;
    wc_store_status_t status =
        wc_store_endpoint_update(ctx->store, principal->tenant_id, &id, fields, &doc);
    bson_destroy(fields);
    if (status == WC_STORE_OK && enabling) {
        status = wc_store_endpoint_health_forgive(ctx->store, param);
    }
    if (status != WC_STORE_OK) {
        bson_destroy(doc);
        return api_store_failure(status, "endpoint not found");
    }
    api_audit(ctx, principal, "endpoint.update", param, NULL);
    res = api_ok(200, endpoint_json(doc), "Endpoint updated");
    bson_destroy(doc);
    return res;
}

api_response_t api_handle_delete_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    if (!api_parse_id(req, param, &id, &res)) {
        return res;
    }
    wc_store_status_t status = wc_store_endpoint_delete(ctx->store, principal->tenant_id, &id);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "endpoint not found");
    }
    api_audit(ctx, principal, "endpoint.delete", param, NULL);
    return api_ok(200, NULL, "Endpoint deleted");
}

api_response_t api_handle_rotate_endpoint_secret(api_context_t *ctx, const api_request_t *req,
                                                 const wc_principal_t *principal,
                                                 const char *param)
{
    api_response_t res;
    bson_oid_t id;
    if (!api_parse_id(req, param, &id, &res)) {
        return res;
    }
    int64_t grace = ROTATE_GRACE_DEFAULT_SECONDS;
    if (req->body_len > 0) {
        json_object *body = NULL;
        if (!api_parse_json_body(req, &body, &res)) {
            return res;
        }
        json_object *v = NULL;
        bool only_grace = json_object_is_type(body, json_type_object) &&
                          json_object_object_length(body) <=
                              (json_object_object_get_ex(body, "graceSeconds", &v) ? 1 : 0);
        if (!only_grace) {
            json_object_put(body);
            return api_field_error("body", "unknown", "the body may only hold graceSeconds");
        }
        if (v != NULL) {
            grace = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        }
        json_object_put(body);
        if (grace < 0 || grace > ROTATE_GRACE_MAX_SECONDS) {
            return api_field_error("graceSeconds", "range",
                                   "graceSeconds must be an integer from 0 to 604800 (7 days)");
        }
    }
    char secret[WC_WEBHOOK_SECRET_SIZE];
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_endpoint_rotate(
        ctx->store, principal->tenant_id, &id, wc_time_now_ms() + grace * 1000, secret, &doc);
    if (status == WC_STORE_CONFLICT) {
        return api_error(409, "the secret was rotated at the same time; retry");
    }
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "endpoint not found");
    }
    json_object *out = endpoint_json(doc);
    json_object_object_add(out, "secret", json_object_new_string(secret));
    bson_destroy(doc);
    api_audit(ctx, principal, "endpoint.rotate-secret", param, NULL);
    return api_ok(200, out, "Secret rotated; the previous one stays valid until "
                            "previousSecretValidUntil");
}
