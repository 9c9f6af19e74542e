/*
 * GET /api/audit?page=&limit=: the administrative actions on the caller's
 * tenant (keys, cancels, replays, limits; and wavecomctl's tenant, key,
 * replay and purge actions), newest first. Admins only (router.c).
 */
#include <stdio.h>

#include "doc_page.h"
#include "handlers.h"
#include "response.h"
#include "wc_notification.h"
#include "wc_time.h"

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
    return api_doc_page(ctx, req, principal, "events", wc_store_audit_list, event_to_json);
}
