/*
 * Recipient preferences and message categories (docs/ARCHITECTURE.md §16):
 *
 *   GET    /api/preferences/:userId   what the user opted out of
 *   PUT    /api/preferences/:userId   replace it: {optOutChannels: [CHANNEL...],
 *                                     optOutCategories: [name...]}
 *   DELETE /api/preferences/:userId   forget it (the user hears everything again)
 *   GET    /api/categories            the tenant's categories, by name
 *   GET    /api/categories/:name      one category
 *   PUT    /api/categories/:name      create or replace it: {transactional: bool}
 *   DELETE /api/categories/:name      forget it (its notifications are ordinary)
 *
 * A notification names its recipient's `userId` and its `category`; the
 * worker checks both before it sends. Preferences follow the sender's own
 * users, so changing them needs the send permission; whether a category
 * overrides opt-outs is an operator's call (the operate permission).
 */
#include <stdio.h>
#include <string.h>

#include "doc_page.h"
#include "handlers.h"
#include "response.h"
#include "wc_json.h"
#include "wc_store_suppressions.h"
#include "wc_time.h"

/* How many categories one user may opt out of. */
#define OPT_OUT_CATEGORIES_MAX 64

static const char *const preference_fields[] = {"optOutChannels", "optOutCategories", NULL};

static void refuse_unknown(json_object *body, const char *const *allowed, wc_field_errors_t *errs)
{
    json_object_object_foreach(body, key, unused)
    {
        (void)unused;
        bool known = false;
        for (const char *const *f = allowed; *f != NULL; f++) {
            known = known || strcmp(*f, key) == 0;
        }
        if (!known) {
            wc_field_errors_add(errs, key, "unknown", "unknown field \"%.40s\"", key);
        }
    }
}

static bool parse_object_body(const api_request_t *req, json_object **body, api_response_t *res)
{
    if (!api_no_query(req, res) || !api_parse_json_body(req, body, res)) {
        return false;
    }
    if (!json_object_is_type(*body, json_type_object)) {
        json_object_put(*body);
        *res = api_field_error("body", "type", "the body must be a JSON object");
        return false;
    }
    return true;
}

/* The user id of the path: what a notification's userId may be, without '/'
 * (the router splits the path there). */
static bool user_of_path(const char *param, api_response_t *res)
{
    size_t len = param != NULL ? strlen(param) : 0;
    bool control = false;
    for (size_t i = 0; i < len; i++) {
        control = control || (unsigned char)param[i] < 0x20 || param[i] == 0x7f;
    }
    if (len == 0 || len > WC_USER_ID_MAX_CHARS * 4 || control) {
        *res = api_field_error("userId", "length",
                               "userId must be 1 to 128 characters without control characters");
        return false;
    }
    return true;
}

static json_object *string_array_of(const bson_t *doc, const char *key)
{
    json_object *out = json_object_new_array();
    bson_iter_t it, item;
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &item)) {
        while (bson_iter_next(&item)) {
            if (BSON_ITER_HOLDS_UTF8(&item)) {
                json_object_array_add(out, json_object_new_string(bson_iter_utf8(&item, NULL)));
            }
        }
    }
    return out;
}

static json_object *preferences_json(const bson_t *doc)
{
    json_object *o = json_object_new_object();
    const char *user = wc_doc_string(doc, "userId");
    json_object_object_add(o, "userId", json_object_new_string(user != NULL ? user : ""));
    json_object_object_add(o, "optOutChannels", string_array_of(doc, "channels"));
    json_object_object_add(o, "optOutCategories", string_array_of(doc, "categories"));
    json_object_object_add(o, "updatedAt", wc_json_date(wc_doc_date(doc, "updatedAt", 0)));
    return o;
}

api_response_t api_handle_get_preferences(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res) || !user_of_path(param, &res)) {
        return res;
    }
    bson_t *doc = NULL;
    wc_store_status_t status =
        wc_store_preferences_get(ctx->store, principal->tenant_id, param, &doc);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "this user has no preferences");
    }
    json_object *data = preferences_json(doc);
    bson_destroy(doc);
    return api_ok(200, data, NULL);
}

/* Checks body[field], an array of distinct strings each accepted by `valid`
 * (at most `max`), into the BSON array `out`. */
static void string_list(json_object *body, const char *field, size_t max,
                        bool (*valid)(const char *), const char *rule, const char *what,
                        bson_t *out, wc_field_errors_t *errs)
{
    json_object *list = NULL;
    if (!json_object_object_get_ex(body, field, &list)) {
        wc_field_errors_add(errs, field, "required", "%s is required (an empty array opts out of none)",
                            field);
        return;
    }
    if (!json_object_is_type(list, json_type_array)) {
        wc_field_errors_add(errs, field, "type", "%s must be an array of strings", field);
        return;
    }
    size_t n = json_object_array_length(list);
    if (n > max) {
        wc_field_errors_add(errs, field, "size", "%s may hold at most %zu names", field, max);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(list, i);
        const char *s = json_object_is_type(item, json_type_string) ? json_object_get_string(item)
                                                                    : NULL;
        bool repeated = false;
        for (size_t j = 0; s != NULL && j < i; j++) {
            repeated = repeated ||
                       strcmp(s, json_object_get_string(json_object_array_get_idx(list, j))) == 0;
        }
        if (s == NULL || !valid(s)) {
            wc_field_errors_add(errs, field, rule, "%s[%zu] must be %s", field, i, what);
            return;
        }
        if (repeated) {
            wc_field_errors_add(errs, field, "unique", "%s names \"%.40s\" twice", field, s);
            return;
        }
        char buf[16];
        const char *index = NULL;
        bson_uint32_to_string((uint32_t)i, &index, buf, sizeof(buf));
        BSON_APPEND_UTF8(out, index, s);
    }
}

static bool channel_name_valid(const char *name)
{
    wc_channel_t c;
    return wc_channel_parse(name, &c) == 0;
}

api_response_t api_handle_put_preferences(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    json_object *body = NULL;
    if (!user_of_path(param, &res) || !parse_object_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    refuse_unknown(body, preference_fields, &errs);
    bson_t channels = BSON_INITIALIZER;
    bson_t categories = BSON_INITIALIZER;
    string_list(body, "optOutChannels", WC_CHANNEL_COUNT, channel_name_valid, "enum",
                "one of EMAIL, SMS, PUSH, WEBHOOK", &channels, &errs);
    string_list(body, "optOutCategories", OPT_OUT_CATEGORIES_MAX, wc_category_name_valid,
                "format", "a category name: 1 to 64 of a-z, 0-9, '_', '-' and '.'", &categories,
                &errs);
    json_object_put(body);
    if (errs.count > 0) {
        bson_destroy(&channels);
        bson_destroy(&categories);
        return api_validation_error(&errs);
    }
    wc_store_status_t status = wc_store_preferences_put(ctx->store, principal->tenant_id, param,
                                                        &channels, &categories, wc_time_now_ms());
    bson_destroy(&channels);
    bson_destroy(&categories);
    if (status != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    api_audit(ctx, principal, "preferences.set", param, NULL);
    bson_t *doc = NULL;
    status = wc_store_preferences_get(ctx->store, principal->tenant_id, param, &doc);
    if (status != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *data = preferences_json(doc);
    bson_destroy(doc);
    return api_ok(200, data, "Preferences saved");
}

api_response_t api_handle_delete_preferences(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res) || !user_of_path(param, &res)) {
        return res;
    }
    wc_store_status_t status =
        wc_store_preferences_delete(ctx->store, principal->tenant_id, param);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "this user has no preferences");
    }
    api_audit(ctx, principal, "preferences.delete", param, NULL);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "userId", json_object_new_string(param));
    json_object_object_add(data, "deleted", json_object_new_boolean(true));
    return api_ok(200, data, "Preferences deleted");
}

static json_object *category_json(const bson_t *doc)
{
    json_object *o = json_object_new_object();
    const char *name = wc_doc_string(doc, "name");
    bson_iter_t it;
    bool transactional = bson_iter_init_find(&it, doc, "transactional") &&
                         BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
    json_object_object_add(o, "name", json_object_new_string(name != NULL ? name : ""));
    json_object_object_add(o, "transactional", json_object_new_boolean(transactional));
    json_object_object_add(o, "updatedAt", wc_json_date(wc_doc_date(doc, "updatedAt", 0)));
    return o;
}

static bool category_of_path(const char *param, api_response_t *res)
{
    if (param == NULL || !wc_category_name_valid(param)) {
        *res = api_field_error("name", "format",
                               "a category name is 1 to 64 of a-z, 0-9, '_', '-' and '.', "
                               "starting with a letter or digit");
        return false;
    }
    return true;
}

api_response_t api_handle_list_categories(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    (void)param;
    return api_doc_page(ctx, req, principal, "categories", wc_store_category_list, category_json);
}

api_response_t api_handle_get_category(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res) || !category_of_path(param, &res)) {
        return res;
    }
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_category_get(ctx->store, principal->tenant_id, param, &doc);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "no such category");
    }
    json_object *data = category_json(doc);
    bson_destroy(doc);
    return api_ok(200, data, NULL);
}

api_response_t api_handle_put_category(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param)
{
    static const char *const fields[] = {"transactional", NULL};
    api_response_t res;
    json_object *body = NULL;
    if (!category_of_path(param, &res) || !parse_object_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    refuse_unknown(body, fields, &errs);
    json_object *v = NULL;
    bool transactional = false;
    if (!json_object_object_get_ex(body, "transactional", &v)) {
        wc_field_errors_add(&errs, "transactional", "required", "transactional is required");
    } else if (!json_object_is_type(v, json_type_boolean)) {
        wc_field_errors_add(&errs, "transactional", "type", "transactional must be true or false");
    } else {
        transactional = json_object_get_boolean(v);
    }
    json_object_put(body);
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    if (wc_store_category_put(ctx->store, principal->tenant_id, param, transactional,
                              wc_time_now_ms()) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    api_audit(ctx, principal, "category.set", param, transactional ? "transactional" : "ordinary");
    bson_t *doc = NULL;
    if (wc_store_category_get(ctx->store, principal->tenant_id, param, &doc) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *data = category_json(doc);
    bson_destroy(doc);
    return api_ok(200, data, "Category saved");
}

api_response_t api_handle_delete_category(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res) || !category_of_path(param, &res)) {
        return res;
    }
    wc_store_status_t status = wc_store_category_delete(ctx->store, principal->tenant_id, param);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "no such category");
    }
    api_audit(ctx, principal, "category.delete", param, NULL);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "name", json_object_new_string(param));
    json_object_object_add(data, "deleted", json_object_new_boolean(true));
    return api_ok(200, data, "Category deleted");
}
