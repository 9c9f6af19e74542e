/*
 * What the API's files share: the process-wide context every handler reads
 * and the response a handler returns; the request is request.h's.
 */
#ifndef API_H
#define API_H

#include <json-c/json.h>
#include <stdint.h>

#include "publisher.h"
#include "request.h"
#include "wc_config.h"
#include "wc_store.h"

typedef struct api_intake api_intake_t;
typedef struct api_metrics api_metrics_t;
typedef struct api_cache api_cache_t;
typedef struct api_limits api_limits_t;
typedef struct api_usage api_usage_t;
typedef struct api_quota api_quota_t;
typedef struct api_recent_minutes api_recent_minutes_t;
typedef struct api_tenant_versions api_tenant_versions_t;
typedef struct api_bucket_cache api_bucket_cache_t;

typedef struct {
    const wc_config_t *cfg;
    wc_store_t *store;
    api_publisher_t *publisher; /* health, statistics, the scheduler, replays */
    api_intake_t *intake;       /* the group commit of new notifications */
    api_metrics_t *metrics;
    api_cache_t *stats_cache; /* statistics per tenant, database-derived metrics */
    api_cache_t *list_cache;  /* list answers by tenant data version (list_cache.h) */
    api_recent_minutes_t *recent_minutes; /* the statistics' closed minutes (recent_minutes.h) */
    api_tenant_versions_t *versions; /* tenants' data versions read lately (tenant_versions.h) */
    api_bucket_cache_t *buckets; /* counter buckets by tenant version (bucket_cache.h) */
    api_cache_t *auth_cache;  /* API key -> principal, when WAVECOM_API_AUTH_CACHE_SECONDS > 0 */
    api_limits_t *limits;     /* rate limits and in-flight quotas */
    api_usage_t *usage;       /* per API key usage, counted in memory (usage.h) */
    api_quota_t *quota;       /* monthly quotas of tenants and keys (quota.h) */
    int64_t started_ms;
} api_context_t;

#define API_MAX_RESPONSE_HEADERS 8

typedef struct api_deferral api_deferral_t;

typedef struct {
    unsigned status;
    json_object *body; /* owned; serialised and released by the server */
    char *text;        /* instead of `body`: a text body (owned, malloc'd) ... */
    const char *content_type; /* ... of this type */
    struct {
        const char *name;
        char value[256]; /* room for a Content-Security-Policy */
    } headers[API_MAX_RESPONSE_HEADERS];
    int header_count;
    /* Set by a handler that must wait for the group commit: the server
     * suspends the connection instead of answering (see api_deferral). */
    api_deferral_t *defer;
} api_response_t;

/*
 * A request that waits without holding an HTTP thread. The handler returns
 * a response with `defer` set; the server suspends the connection and calls
 * start(), which must arrange for resume(resume_arg) to be called exactly
 * once, from any thread, possibly before start() returns. The server then
 * calls finish() on an HTTP thread to build the response (which may defer
 * again), and release() when the deferral is no longer needed.
 */
struct api_deferral {
    void (*start)(api_deferral_t *self, void (*resume)(void *arg), void *resume_arg);
    api_response_t (*finish)(api_deferral_t *self, api_context_t *ctx, const api_request_t *req);
    void (*release)(api_deferral_t *self);
};

#endif
