/*
 * The tenant's suppression list (docs/ARCHITECTURE.md §16):
 *
 *   GET    /api/suppressions?channel=&page=&limit=   the entries, by channel and recipient
 *   POST   /api/suppressions                          add or update one: {channel, recipient,
 *                                                     reason (default "manual")}
 *   GET    /api/suppressions/:entry                   one entry, "<CHANNEL>:<recipient>"
 *   DELETE /api/suppressions/:entry                   take the recipient off the list
 *
 * Reading needs the read permission, changing it the operate permission
 * (router.c): taking a bounced address off the list is an operator's call.
 * Workers add entries themselves from permanent provider answers, and the
 * unsubscribe link adds "unsubscribed" ones (handler_unsubscribe.c).
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "query.h"
#include "response.h"
#include "wc_json.h"
#include "wc_recipient.h"
#include "wc_store_suppressions.h"
#include "wc_time.h"

#define LIMIT_MAX 100
#define LIMIT_DEFAULT 50
#define PAGE_MAX 100000

static const char *const list_args[] = {"channel", "page", "limit", NULL};
static const char *const add_fields[] = {"channel", "recipient", "reason", NULL};

#define CHANNELS_LISTED "EMAIL, SMS, PUSH"

/* The channels a recipient can be suppressed on: a webhook's target is the
 * tenant's own endpoint, which has its own health and disabling (§14). */
static bool suppressible(const char *name, wc_channel_t *out)
{
    return name != NULL && wc_channel_parse(name, out) == 0 && *out != WC_CHANNEL_WEBHOOK;
}

/* Whether `recipient` is an address of `channel`, as a notification's would be. */
static bool recipient_fits(wc_channel_t channel, const char *recipient)
{
    switch (channel) {
    case WC_CHANNEL_EMAIL:
        return wc_email_address_valid(recipient);
    case WC_CHANNEL_SMS:
        return wc_e164_valid(recipient);
    case WC_CHANNEL_PUSH:
        return wc_push_token_valid(recipient, WC_PUSH_FCM) ||
               wc_push_token_valid(recipient, WC_PUSH_APNS);
    default:
        return false;
    }
}

static const char *recipient_rule(wc_channel_t channel)
{
    switch (channel) {
    case WC_CHANNEL_EMAIL:
        return "email";
    case WC_CHANNEL_SMS:
        return "e164";
    default:
        return "token";
    }
}

/* The string member `name` of `body`; NULL when absent, not a string, or
 * holding a NUL. */
static const char *string_of(json_object *body, const char *name)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, name, &v) || !json_object_is_type(v, json_type_string) ||
        strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
        return NULL;
    }
    return json_object_get_string(v);
}

static json_object *entry_json(const bson_t *doc)
{
    json_object *o = json_object_new_object();
    static const char *const fields[] = {"channel", "recipient", "reason", "source"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = wc_doc_string(doc, fields[i]);
        json_object_object_add(o, fields[i], json_object_new_string(v != NULL ? v : ""));
    }
    json_object_object_add(o, "createdAt", wc_json_date(wc_doc_date(doc, "createdAt", 0)));
    json_object_object_add(o, "updatedAt", wc_json_date(wc_doc_date(doc, "updatedAt", 0)));
    return o;
}

api_response_t api_handle_list_suppressions(api_context_t *ctx, const api_request_t *req,
                                            const wc_principal_t *principal, const char *param)
{
    (void)param;
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, list_args, &q, &errs);
    int64_t page = api_query_int(&q, "page", 1, PAGE_MAX, 1, &errs);
    int64_t limit = api_query_int(&q, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &errs);
    const char *channel_name = api_query_get(&q, "channel");
    wc_channel_t channel = WC_CHANNEL_EMAIL;
    if (channel_name != NULL && !suppressible(channel_name, &channel)) {
        wc_field_errors_add(&errs, "channel", "enum", "channel must be one of " CHANNELS_LISTED);
    }
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_suppression_list(ctx->store, principal->tenant_id,
                                  channel_name != NULL ? (int)channel : -1, (page - 1) * limit,
                                  limit, &docs, &n) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *items = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(items, entry_json(docs[i]));
    }
    wc_store_docs_free(docs, n);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "suppressions", items);
    json_object_object_add(data, "page", json_object_new_int64(page));
    json_object_object_add(data, "limit", json_object_new_int64(limit));
    return api_ok(200, data, NULL);
}

/* The entry's answer: the stored document, with its address in Location. */
static api_response_t answer_entry(api_context_t *ctx, const wc_principal_t *principal,
                                   wc_channel_t channel, const char *recipient, unsigned status,
                                   const char *message)
{
    bson_t *doc = NULL;
    wc_store_status_t found =
        wc_store_suppression_get(ctx->store, principal->tenant_id, channel, recipient, &doc);
    if (found != WC_STORE_OK) {
        return api_store_failure(found, "this recipient is not on the suppression list");
    }
    api_response_t res = api_ok(status, entry_json(doc), message);
    char location[WC_SUPPRESSION_ID_LEN + 32];
    snprintf(location, sizeof(location), "/api/suppressions/%s:%s", wc_channel_name(channel),
             wc_doc_string(doc, "recipient"));
    bson_destroy(doc);
    api_response_header(&res, "Location", location);
    return res;
}

api_response_t api_handle_add_suppression(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    (void)param;
    api_response_t res;
    json_object *body = NULL;
    if (!api_no_query(req, &res) || !api_parse_json_body(req, &body, &res)) {
        return res;
    }
    wc_field_errors_t errs = {0};
    if (!json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        return api_field_error("body", "type", "the body must be a JSON object");
    }
    json_object_object_foreach(body, key, unused)
    {
        (void)unused;
        bool known = false;
        for (const char *const *f = add_fields; *f != NULL; f++) {
            known = known || strcmp(*f, key) == 0;
        }
        if (!known) {
            wc_field_errors_add(&errs, key, "unknown", "unknown field \"%.40s\"", key);
        }
    }
    const char *channel_name = string_of(body, "channel");
    const char *recipient = string_of(body, "recipient");
    const char *reason_name = string_of(body, "reason");
    json_object *v = NULL;
    wc_channel_t channel = WC_CHANNEL_EMAIL;
    bool channel_ok = false;
    if (!json_object_object_get_ex(body, "channel", &v)) {
        wc_field_errors_add(&errs, "channel", "required", "channel is required");
    } else if (!suppressible(channel_name, &channel)) {
        wc_field_errors_add(&errs, "channel", "enum", "channel must be one of " CHANNELS_LISTED);
    } else {
        channel_ok = true;
    }
    if (!json_object_object_get_ex(body, "recipient", &v)) {
        wc_field_errors_add(&errs, "recipient", "required", "recipient is required");
    } else if (recipient == NULL) {
        wc_field_errors_add(&errs, "recipient", "type", "recipient must be a string");
    } else if (channel_ok && !recipient_fits(channel, recipient)) {
        wc_field_errors_add(&errs, "recipient", recipient_rule(channel),
                            "recipient is not a valid %s recipient", wc_channel_name(channel));
    }
    wc_suppress_reason_t reason = WC_SUPPRESS_MANUAL;
    if (json_object_object_get_ex(body, "reason", &v) &&
        (reason_name == NULL || wc_suppress_reason_parse(reason_name, &reason) != 0)) {
        wc_field_errors_add(&errs, "reason", "enum",
                            "reason must be one of " WC_SUPPRESS_REASON_NAMES);
    }
    if (errs.count > 0) {
        json_object_put(body);
        return api_validation_error(&errs);
    }
    bool created = false;
    wc_store_status_t status = wc_store_suppression_put(ctx->store, principal->tenant_id, channel,
                                                        recipient, reason, "api",
                                                        wc_time_now_ms(), &created);
    if (status != WC_STORE_OK) {
        json_object_put(body);
        return api_unavailable("the database");
    }
    char target[WC_SUPPRESSION_ID_LEN];
    snprintf(target, sizeof(target), "%s:%s", wc_channel_name(channel), recipient);
    api_audit(ctx, principal, "suppression.add", target, wc_suppress_reason_name(reason));
    res = answer_entry(ctx, principal, channel, recipient, created ? 201 : 200,
                       created ? "Recipient suppressed" : "Suppression updated");
    json_object_put(body);
    return res;
}

/* The ":entry" of the path, "<CHANNEL>:<recipient>". */
static bool parse_entry(const char *param, wc_channel_t *channel, const char **recipient,
                        api_response_t *res)
{
    const char *colon = param != NULL ? strchr(param, ':') : NULL;
    char name[16];
    size_t n = colon != NULL ? (size_t)(colon - param) : 0;
    if (colon == NULL || n >= sizeof(name) || colon[1] == '\0') {
        *res = api_field_error("entry", "format",
                               "the path names an entry as <CHANNEL>:<recipient>, e.g. "
                               "EMAIL:ann@example.com");
        return false;
    }
    memcpy(name, param, n);
    name[n] = '\0';
    if (!suppressible(name, channel)) {
        *res = api_field_error("channel", "enum", "channel must be one of " CHANNELS_LISTED);
        return false;
    }
    *recipient = colon + 1;
    return true;
}

api_response_t api_handle_get_suppression(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    wc_channel_t channel;
    const char *recipient = NULL;
    if (!api_no_query(req, &res) || !parse_entry(param, &channel, &recipient, &res)) {
        return res;
    }
    return answer_entry(ctx, principal, channel, recipient, 200, NULL);
}

api_response_t api_handle_delete_suppression(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    wc_channel_t channel;
    const char *recipient = NULL;
    if (!api_no_query(req, &res) || !parse_entry(param, &channel, &recipient, &res)) {
        return res;
    }
    wc_store_status_t status =
        wc_store_suppression_delete(ctx->store, principal->tenant_id, channel, recipient);
    if (status != WC_STORE_OK) {
        return api_store_failure(status, "this recipient is not on the suppression list");
    }
    api_audit(ctx, principal, "suppression.remove", param, NULL);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "channel", json_object_new_string(wc_channel_name(channel)));
    json_object_object_add(data, "recipient", json_object_new_string(recipient));
    json_object_object_add(data, "deleted", json_object_new_boolean(true));
    return api_ok(200, data, "Suppression removed");
}
