/*
 * GET /api/audit?page=&limit=: the administrative actions on the caller's
 * tenant (keys, cancels, replays, limits; and wavecomctl's tenant, key,
 * replay and purge actions), newest first. Admins only (router.c).
 */
#include <stdio.h>

#include "handlers.h"
#include "query.h"
#include "response.h"
#include "wc_notification.h"
#include "wc_time.h"

#define LIMIT_MAX 100
#define LIMIT_DEFAULT 50
#define PAGE_MAX 100000

static const char *const audit_args[] = {"page", "limit", NULL};

void api_actor(const wc_principal_t *principal, char *out, size_t out_len)
{
    if (principal->jwt_subject[0] != '\0') {
        snprintf(out, out_len, "api:jwt:%s:%s", principal->tenant_id, principal->jwt_subject);
    } else {
        snprintf(out, out_len, "api:key:%s", principal->key_id);
    }
}

void api_audit(api_context_t *ctx, const wc_principal_t *principal, const char *action,
               const char *target, const char *detail)
{
    char actor[128];
    api_actor(principal, actor, sizeof(actor));
    const wc_audit_event_t event = {
        .actor = actor,
        .action = action,
        .target = target,
        .tenant_id = principal->tenant_id,
        .detail = detail,
    };
    (void)wc_store_audit_append(ctx->store, &event);
}

static json_object *event_to_json(const bson_t *doc)
{
    json_object *o = json_object_new_object();
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it)) {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(&it), hex);
        json_object_object_add(o, "_id", json_object_new_string(hex));
    }
    if (bson_iter_init_find(&it, doc, "at") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        char when[40];
        wc_time_format_iso8601(bson_iter_date_time(&it), when, sizeof(when));
        json_object_object_add(o, "at", json_object_new_string(when));
    }
    static const char *const fields[] = {"actor", "action", "target", "tenantId", "detail"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = wc_doc_string(doc, fields[i]);
        if (v != NULL) {
            json_object_object_add(o, fields[i], json_object_new_string(v));
        }
    }
    return o;
}

api_response_t api_handle_audit(api_context_t *ctx, const api_request_t *req,
                                const wc_principal_t *principal, const char *param)
{
    (void)param;
    wc_field_errors_t errs = {0};
    api_query_t q;
    api_query_collect(req, audit_args, &q, &errs);
    int64_t page = api_query_int(&q, "page", 1, PAGE_MAX, 1, &errs);
    int64_t limit = api_query_int(&q, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &errs);
    if (errs.count > 0) {
        return api_validation_error(&errs);
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_audit_list(ctx->store, principal->tenant_id, (page - 1) * limit, limit, &docs,
                            &n) != WC_STORE_OK) {
        return api_unavailable("the database");
    }
    json_object *events = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(events, event_to_json(docs[i]));
    }
    wc_store_docs_free(docs, n);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "events", events);
    json_object_object_add(data, "page", json_object_new_int64(page));
    json_object_object_add(data, "limit", json_object_new_int64(limit));
    return api_ok(200, data, NULL);
}
