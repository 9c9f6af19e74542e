#include "endpoint_disable.h"

#include <stdio.h>

#include "fanout.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_store.h"
#include "wc_store_endpoint_health.h"
#include "wc_store_endpoints.h"
#include "wc_time.h"

/* Endpoints disabled per scheduler turn; more wait for the next turn. */
#define DISABLE_ROUND_MAX 32

#define ACTOR "api:endpoint-health"

/* Tells the endpoint's tenant: an `endpoint.disabled` event whose id names
 * the endpoint and its revision, so that a second run publishes nothing new. */
static void publish_disabled(api_context_t *ctx, const bson_t *endpoint, const char *id,
                             const wc_endpoint_health_t *h, int64_t now_ms)
{
    const char *tenant = wc_doc_string(endpoint, "tenantId");
    const char *url = wc_doc_string(endpoint, "url");
    char event_id[96], since[WC_ISO8601_LEN] = "", at[WC_ISO8601_LEN] = "";
    snprintf(event_id, sizeof(event_id), "endpoint.disabled.%.24s.%lld", id,
             (long long)wc_doc_int(endpoint, "rev", 0));
    (void)wc_time_format_iso8601(h->failing_since_ms, since, sizeof(since));
    (void)wc_time_format_iso8601(now_ms, at, sizeof(at));
    json_object *payload = json_object_new_object();
    json_object_object_add(payload, "endpointId", json_object_new_string(id));
    json_object_object_add(payload, "url", json_object_new_string(url != NULL ? url : ""));
    json_object_object_add(payload, "failingSince", json_object_new_string(since));
    json_object_object_add(payload, "lastError", json_object_new_string(h->last_error));
    json_object_object_add(payload, "disabledAt", json_object_new_string(at));
    json_object *event = json_object_new_object();
    json_object_object_add(event, "type", json_object_new_string("endpoint.disabled"));
    json_object_object_add(event, "payload", payload);
    api_event_result_t r = api_event_publish(ctx, tenant, event, event_id);
    if (r.code != 200 && r.code != 201) {
        wc_log_warn("endpoint %s disabled, but its endpoint.disabled event was not published: %s",
                    id, r.message);
    }
    json_object_put(r.event);
    json_object_put(event);
}

static bool disable_one(api_context_t *ctx, const char *id, int64_t now_ms)
{
    wc_endpoint_health_t h;
    if (wc_store_endpoint_health_read(ctx->store, id, now_ms, &h) != WC_STORE_OK) {
        return false;
    }
    char since[WC_ISO8601_LEN] = "", reason[WC_ENDPOINT_ERROR_LEN + 96];
    (void)wc_time_format_iso8601(h.failing_since_ms, since, sizeof(since));
    snprintf(reason, sizeof(reason), "every delivery attempt failed since %s; last error: %.200s",
             since, h.last_error);
    bson_t *endpoint = NULL;
    wc_store_status_t status = wc_store_endpoint_disable(ctx->store, id, reason, now_ms, &endpoint);
    if (status == WC_STORE_ERROR) {
        return false;
    }
    /* Disabled now, before, or deleted: its streak is over either way, and
     * enabling it again starts a new one. */
    (void)wc_store_endpoint_health_forgive(ctx->store, id);
    if (status != WC_STORE_OK) {
        return false;
    }
    wc_log_warn("endpoint %s disabled: %s", id, reason);
    const wc_audit_event_t audit = {
        .actor = ACTOR,
        .action = "endpoint.disabled",
        .target = id,
        .tenant_id = wc_doc_string(endpoint, "tenantId"),
        .detail = reason,
    };
    (void)wc_store_audit_append(ctx->store, &audit);
    publish_disabled(ctx, endpoint, id, &h, now_ms);
    bson_destroy(endpoint);
    return true;
}

size_t api_endpoints_disable_failing(api_context_t *ctx, int64_t now_ms)
{
    char ids[DISABLE_ROUND_MAX][25];
    size_t n = 0;
    if (wc_store_endpoint_failing(ctx->store,
                                  now_ms - ctx->cfg->endpoint_disable_after_seconds * 1000LL,
                                  DISABLE_ROUND_MAX, ids, &n) != WC_STORE_OK) {
        return 0;
    }
    size_t disabled = 0;
    for (size_t i = 0; i < n; i++) {
        disabled += disable_one(ctx, ids[i], now_ms) ? 1 : 0;
    }
    return disabled;
}
