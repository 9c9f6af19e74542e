#include "handlers.h"
#include "response.h"
#include "wc_time.h"

/* Health is public: load balancers and Kubernetes probes carry no key. */
api_response_t api_handle_health(api_context_t *ctx, const api_request_t *req,
                                 const wc_principal_t *principal, const char *param)
{
    bool mongo_ok = wc_store_ping(ctx->store);
    bool rabbit_up = api_publisher_probe(ctx->publisher);
    bool rabbit_blocked = rabbit_up && api_publisher_blocked();
    bool rabbit_ok = rabbit_up && !rabbit_blocked;
    int64_t now = wc_time_now_ms();

    char ts[WC_ISO8601_LEN];
    wc_time_format_iso8601(now, ts, sizeof(ts));
    json_object *services = json_object_new_object();
    json_object_object_add(services, "mongodb",
                           json_object_new_string(mongo_ok ? "connected" : "disconnected"));
    /* "blocked": connected, but refusing publishes (a memory or disk alarm). */
    json_object_object_add(services, "rabbitmq",
                           json_object_new_string(rabbit_blocked ? "blocked"
                                                  : rabbit_up    ? "connected"
                                                                 : "disconnected"));

    api_response_t res = {.status = mongo_ok && rabbit_ok ? 200 : 503,
                          .body = json_object_new_object()};
    json_object_object_add(res.body, "status",
                           json_object_new_string(res.status == 200 ? "healthy" : "unhealthy"));
    json_object_object_add(res.body, "timestamp", json_object_new_string(ts));
    json_object_object_add(res.body, "services", services);
    json_object_object_add(res.body, "uptime", json_object_new_int64((now - ctx->started_ms) / 1000));
    /* Information for an operator, not part of this API's own health: a
     * worker pool that is down (its master killed, say) shows here as no live
     * host, while the API itself stays able to accept work. */
    json_object *workers = mongo_ok ? api_worker_hosts_summary(ctx) : NULL;
    if (workers != NULL) {
        json_object_object_add(res.body, "workers", workers);
    }
    if (res.status != 200) {
        api_response_header(&res, "Retry-After", "5");
    }
    return res;
}
