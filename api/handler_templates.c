/*
 * The tenant's message templates (docs/ARCHITECTURE.md §15):
 *
 *   POST   /api/templates              create (version 1)
 *   GET    /api/templates?page=&limit= list, by name, without content
 *   GET    /api/templates/:id[?version=N]  the latest version, or version N
 *   PATCH  /api/templates/:id          the next version: the fields given
 *                                      replace the latest's; each locale of
 *                                      "locales" replaces that locale's
 *                                      bodies, null removes it
 *   DELETE /api/templates/:id          the template and every version
 *
 * Reading needs the read permission, changing the send permission
 * (router.c). Notifications already created keep the content they were
 * rendered with, whatever happens to their template afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_page.h"
#include "handlers.h"
#include "query.h"
#include "response.h"
#include "template_content.h"
#include "wc_json.h"
#include "wc_store_templates.h"
#include "wc_time.h"

static const char *const get_args[] = {"version", NULL};
static const char *const create_fields[] = {"name", "description", "defaultLocale", "locales",
                                            NULL};
static const char *const content_fields[] = {"description", "defaultLocale", "locales", NULL};

static bool listed(const char *const *names, const char *name)
{
    for (const char *const *n = names; *n != NULL; n++) {
        if (strcmp(*n, name) == 0) {
            return true;
        }
    }
    return false;
}

static char *oid_hex(const bson_t *doc, char hex[25])
{
    bson_iter_t it;
    hex[0] = '\0';
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it)) {
        bson_oid_to_string(bson_iter_oid(&it), hex);
    }
    return hex;
}

/* The head of a template: what the list shows. */
static json_object *summary_json(const bson_t *doc)
{
    char hex[25];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "_id", json_object_new_string(oid_hex(doc, hex)));
    const char *name = wc_doc_string(doc, "name");
    json_object_object_add(o, "name", json_object_new_string(name != NULL ? name : ""));
    json_object_object_add(o, "latestVersion", json_object_new_int64(wc_doc_int(doc, "version", 0)));
    json_object_object_add(o, "createdAt", wc_json_date(wc_doc_date(doc, "createdAt", 0)));
    json_object_object_add(o, "updatedAt", wc_json_date(wc_doc_date(doc, "updatedAt", 0)));
    return o;
}

/* The head and version `version` (0: the latest) with its content; NULL when
 * the template has no such version. */
static json_object *version_json(const bson_t *doc, int64_t version)
{
    int64_t found = 0, created = 0;
    const char *text = wc_template_version_content(doc, version, &found, &created);
    json_object *content = text != NULL ? json_tokener_parse(text) : NULL;
    if (content == NULL) {
        return NULL;
    }
    json_object *o = summary_json(doc);
    json_object_object_add(o, "version", json_object_new_int64(found));
    json_object_object_add(o, "versionCreatedAt", wc_json_date(created));
    json_object_object_foreach(content, key, value)
    {
        json_object_object_add(o, key, json_object_get(value));
    }
    json_object_put(content);
    return o;
}

/* Refuses body fields outside `allowed`; `name` is named immutable. */
static void check_fields(json_object *body, const char *const *allowed, wc_field_errors_t *errs)
{
    json_object_object_foreach(body, key, unused)
    {
        (void)unused;
        if (listed(allowed, key)) {
            continue;
        }
        if (strcmp(key, "name") == 0) {
            wc_field_errors_add(errs, "name", "immutable",
                                "a template's name cannot change; create another template");
        } else {
            wc_field_errors_add(errs, key, "unknown", "unknown field \"%.40s\"", key);
        }
    }
}

/* The content part of `body` (every field but the name), as a new object. */
static json_object *content_of(json_object *body)
{
    json_object *content = json_object_new_object();
    json_object_object_foreach(body, key, value)
    {
        if (listed(content_fields, key)) {
            json_object_object_add(content, key, json_object_get(value));
        }
    }
    return content;
}

static bool parse_body(const api_request_t *req, json_object **body, api_response_t *res)
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

static api_response_t answer_template(api_context_t *ctx, const wc_principal_t *principal,
                                      const bson_oid_t *id, unsigned status, const char *message)
{
    bson_t *doc = NULL;
    if (wc_store_template_get(ctx->store, principal->tenant_id, id, &doc) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *data = version_json(doc, 0);
    bson_destroy(doc);
    if (data == NULL) {
        return api_unavailable("the database");
    }
    api_response_t res = api_ok(status, data, message);
    char hex[25], location[64];
    bson_oid_to_string(id, hex);
    snprintf(location, sizeof(location), "/api/templates/%s", hex);
    api_response_header(&res, "Location", location);
    return res;
}

api_response_t api_handle_create_template(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    json_object *body = NULL;
    if (!parse_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    check_fields(body, create_fields, &errs);
    json_object *v = NULL;
    const char *name = NULL;
    if (!json_object_object_get_ex(body, "name", &v)) {
        wc_field_errors_add(&errs, "name", "required", "name is required");
    } else if (!json_object_is_type(v, json_type_string) ||
               !api_template_name_valid(json_object_get_string(v))) {
        wc_field_errors_add(&errs, "name", "format",
                            "name must be 1 to %d characters of A-Z a-z 0-9 . _ -",
                            API_TEMPLATE_NAME_MAX);
    } else {
        name = json_object_get_string(v);
    }
    json_object *content = content_of(body);
    api_template_content_check(content, &errs);
    if (errs.count > 0) {
        json_object_put(content);
        json_object_put(body);
        return api_validation_error(&errs);
    }
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    wc_store_status_t status = wc_store_template_create(
        ctx->store, principal->tenant_id, &id, name,
        json_object_to_json_string_ext(content, JSON_C_TO_STRING_PLAIN), wc_time_now_ms());
    json_object_put(content);
    if (status == WC_STORE_CONFLICT) {
        json_object_put(body);
        return api_error(409, "a template with this name exists; edit it with PATCH");
    }
    if (status != WC_STORE_OK) {
        json_object_put(body);
        return api_unavailable("the database");
    }
    char hex[25];
    bson_oid_to_string(&id, hex);
    api_audit(ctx, principal, "template.create", hex, name);
    json_object_put(body);
    return answer_template(ctx, principal, &id, 201, "Template created");
}

api_response_t api_handle_list_templates(api_context_t *ctx, const api_request_t *req,
                                         const wc_principal_t *principal, const char *param)
{
    (void)param;
    return api_doc_page(ctx, req, principal, "templates", wc_store_template_list, summary_json);
}

/* The id in the path: 24 hexadecimal digits. */
static bool template_id(const char *param, bson_oid_t *id, api_response_t *res)
{
    if (param == NULL || strlen(param) != 24 || !bson_oid_is_valid(param, 24)) {
        *res = api_field_error("id", "objectid", "id must be 24 hexadecimal characters");
        return false;
    }
    bson_oid_init_from_string(id, param);
    return true;
}

api_response_t api_handle_get_template(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    if (!template_id(param, &id, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, get_args, &q, &errs);
    int64_t version = api_query_int(&q, "version", 1, WC_TEMPLATE_VERSIONS_MAX, 0, &errs);
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_template_get(ctx->store, principal->tenant_id, &id, &doc);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "template not found");
    }
    json_object *data = version_json(doc, version);
    bson_destroy(doc);
    if (data == NULL) {
        return api_error(404, "this template has no such version");
    }
    return api_ok(200, data, NULL);
}

/* The latest content with the changes of `body` applied, as a new object. */
static json_object *patched_content(const char *latest, json_object *body)
{
    json_object *content = json_tokener_parse(latest);
    if (content == NULL) {
        return NULL;
    }
    json_object_object_foreach(body, key, value)
    {
        if (strcmp(key, "locales") != 0 || !json_object_is_type(value, json_type_object)) {
            json_object_object_add(content, key, json_object_get(value));
            continue;
        }
        json_object *locales = NULL;
        if (!json_object_object_get_ex(content, "locales", &locales) ||
            !json_object_is_type(locales, json_type_object)) {
            locales = json_object_new_object();
            json_object_object_add(content, "locales", locales);
        }
        json_object_object_foreach(value, tag, bodies)
        {
            if (bodies == NULL) {
                json_object_object_del(locales, tag);
            } else {
                json_object_object_add(locales, tag, json_object_get(bodies));
            }
        }
    }
    return content;
}

api_response_t api_handle_patch_template(api_context_t *ctx, const api_request_t *req,
                                         const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    json_object *body = NULL;
    if (!template_id(param, &id, &res) || !parse_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    check_fields(body, content_fields, &errs);
    if (errs.count == 0 && json_object_object_length(body) == 0) {
        wc_field_errors_add(&errs, "body", "required",
                            "give at least one of description, defaultLocale, locales");
    }
    if (errs.count > 0) {
        json_object_put(body);
        return api_validation_error(&errs);
    }
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_template_get(ctx->store, principal->tenant_id, &id, &doc);
    if (status != WC_STORE_OK) {
        json_object_put(body);
        return api_store_failure(status, "template not found");
    }
    int64_t current = 0, created = 0;
    const char *latest = wc_template_version_content(doc, 0, &current, &created);
    json_object *content = latest != NULL ? patched_content(latest, body) : NULL;
    bson_destroy(doc);
    json_object_put(body);
    if (content == NULL) {
        return api_unavailable("the database");
    }
    if (!api_template_content_check(content, &errs)) {
        json_object_put(content);
        return api_validation_error(&errs);
    }
    status = wc_store_template_add_version(
        ctx->store, principal->tenant_id, &id, current,
        json_object_to_json_string_ext(content, JSON_C_TO_STRING_PLAIN), wc_time_now_ms());
    json_object_put(content);
    switch (status) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        return api_error(404, "template not found");
    case WC_STORE_CONFLICT:
        return api_error(409, current >= WC_TEMPLATE_VERSIONS_MAX
                                  ? "this template has the most versions it may keep; create "
                                    "another template"
                                  : "the template changed while this edit was made; read it "
                                    "again and retry");
    case WC_STORE_ERROR:
        return api_unavailable("the database");
    }
    char detail[32];
    snprintf(detail, sizeof(detail), "version %lld", (long long)(current + 1));
    api_audit(ctx, principal, "template.edit", param, detail);
    return answer_template(ctx, principal, &id, 200, "Template version created");
}

api_response_t api_handle_delete_template(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_oid_t id;
    if (!template_id(param, &id, &res) || !api_no_query(req, &res)) {
        return res;
    }
    wc_store_status_t status = wc_store_template_delete(ctx->store, principal->tenant_id, &id);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "template not found");
    }
    api_audit(ctx, principal, "template.delete", param, NULL);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "_id", json_object_new_string(param));
    json_object_object_add(data, "deleted", json_object_new_boolean(true));
    return api_ok(200, data, "Template deleted");
}
