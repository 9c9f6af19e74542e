/*
 * GET /api/endpoints/:id/health: what the workers saw of an event endpoint's
 * delivery attempts over the last 24 hours (wc_store_endpoint_health.h,
 * docs/ARCHITECTURE.md §14): attempts, the success rate, the durations of the
 * requests that reached it, the last success, failure and error, and since
 * when it has failed every attempt, with the time automatic disabling would
 * take it out.
 */
#include "handlers.h"
#include "response.h"
#include "wc_store_endpoint_health.h"
#include "wc_store_endpoints.h"
#include "wc_time.h"

#define HEALTH_WINDOW_MS (24 * WC_HOUR_MS)

static json_object *date_or_null(int64_t ms)
{
    char when[WC_ISO8601_LEN];
    return ms > 0 && wc_time_format_iso8601(ms, when, sizeof(when)) == 0
               ? json_object_new_string(when)
               : NULL;
}

static json_object *latency_json(const wc_duration_histogram_t *h)
{
    if (h->n == 0) {
        return NULL;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "average", json_object_new_int64(wc_duration_histogram_average(h)));
    static const int pcts[] = {50, 95, 99};
    static const char *const names[] = {"p50", "p95", "p99"};
    for (size_t i = 0; i < 3; i++) {
        json_object_object_add(o, names[i],
                               json_object_new_int64(wc_duration_histogram_percentile(h, pcts[i])));
    }
    return o;
}

api_response_t api_handle_endpoint_health(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    bson_t *endpoint = NULL;
    if (!api_no_query(req, &res) ||
        !api_endpoint_of_path(ctx, req, principal, param, &endpoint, &res)) {
        return res;
    }
    bson_iter_t it;
    bool enabled = bson_iter_init_find(&it, endpoint, "enabled") && BSON_ITER_HOLDS_BOOL(&it) &&
                   bson_iter_bool(&it);
    bson_destroy(endpoint);
    int64_t now = wc_time_now_ms();
    wc_endpoint_health_t h;
    if (wc_store_endpoint_health_read(ctx->store, param, now - HEALTH_WINDOW_MS, &h) !=
        WC_STORE_OK) {
        return api_unavailable("the database");
    }
    int64_t attempts = h.delivered + h.failed;
    json_object *out = json_object_new_object();
    json_object_object_add(out, "endpointId", json_object_new_string(param));
    json_object_object_add(out, "enabled", json_object_new_boolean(enabled));
    json_object_object_add(out, "windowHours", json_object_new_int(24));
    json_object_object_add(out, "attempts", json_object_new_int64(attempts));
    json_object_object_add(out, "delivered", json_object_new_int64(h.delivered));
    json_object_object_add(out, "failed", json_object_new_int64(h.failed));
    json_object_object_add(out, "successRate",
                           attempts > 0 ? json_object_new_double((double)h.delivered /
                                                                 (double)attempts)
                                        : NULL);
    json_object_object_add(out, "latencyMs", latency_json(&h.durations));
    json_object_object_add(out, "lastSuccessAt", date_or_null(h.last_success_ms));
    json_object_object_add(out, "lastFailureAt", date_or_null(h.last_failure_ms));
    json_object_object_add(out, "lastError",
                           h.last_error[0] != '\0' ? json_object_new_string(h.last_error) : NULL);
    json_object_object_add(out, "failingSince", date_or_null(h.failing_since_ms));
    int64_t disables_at =
        enabled && h.failing_since_ms > 0
            ? h.failing_since_ms + ctx->cfg->endpoint_disable_after_seconds * 1000LL
            : 0;
    json_object_object_add(out, "disablesAt", date_or_null(disables_at));
    return api_ok(200, out, "Endpoint health retrieved");
}
