#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "dashboard.h"
#include "handlers.h"
#include "metrics.h"
#include "rate_limits.h"
#include "response.h"
#include "usage.h"

/*
 * What each role may do. A route names the one permission it needs; a role
 * either has it or not. Adding a route is one row in `routes`; adding a role
 * is one row here. The route x role table in docs/API.md is this table.
 */
typedef enum {
    PERM_PUBLIC,  /* no API key */
    PERM_READ,    /* read the tenant's notifications and statistics */
    PERM_SEND,    /* create notifications */
    PERM_OPERATE, /* cancel, replay */
    PERM_ADMIN,   /* keys, the audit trail */
} permission_t;

/* The usage class a request is counted under, by the permission its route
 * needs (usage.h). */
static const wc_usage_class_t usage_class_of[] = {
    [PERM_PUBLIC] = WC_USAGE_READ,
    [PERM_READ] = WC_USAGE_READ,
    [PERM_SEND] = WC_USAGE_SEND,
    [PERM_OPERATE] = WC_USAGE_OPERATE,
    [PERM_ADMIN] = WC_USAGE_ADMIN,
};

typedef struct {
    const char *role;
    unsigned permissions; /* bits of 1u << permission_t */
} role_grant_t;

#define P(x) (1u << (x))

static const role_grant_t grants[] = {
    {"admin", P(PERM_READ) | P(PERM_SEND) | P(PERM_OPERATE) | P(PERM_ADMIN)},
    {"operator", P(PERM_READ) | P(PERM_SEND) | P(PERM_OPERATE)},
    {"sender", P(PERM_READ) | P(PERM_SEND)},
    {"viewer", P(PERM_READ)},
};

typedef struct {
    const char *method;
    const char *pattern; /* a segment ":name" matches one path segment */
    permission_t permission;
    api_handler_t handler;
} route_t;

/* Fixed paths before the ":id" patterns that would also match them. */
static const route_t routes[] = {
    {"GET", "/api/health", PERM_PUBLIC, api_handle_health},
    {"GET", "/api/metrics", PERM_PUBLIC, api_handle_metrics},
    {"POST", "/api/notifications/batch", PERM_SEND, api_handle_create_batch},
    {"GET", "/api/notifications/stats/system", PERM_READ, api_handle_stats},
    {"POST", "/api/notifications/:id/cancel", PERM_OPERATE, api_handle_cancel_notification},
    {"POST", "/api/notifications/:id/replay", PERM_OPERATE, api_handle_replay_notification},
    {"POST", "/api/notifications", PERM_SEND, api_handle_create_notification},
    {"GET", "/api/notifications", PERM_READ, api_handle_list_notifications},
    {"GET", "/api/notifications/:id", PERM_READ, api_handle_get_notification},
    {"GET", "/api/audit", PERM_ADMIN, api_handle_audit},
    {"GET", "/api/keys", PERM_ADMIN, api_handle_keys},
    {"GET", "/api/usage", PERM_ADMIN, api_handle_usage},
    /* Event subscriptions (docs/ARCHITECTURE.md §14): endpoints hold secrets, so admins
     * change them; senders publish events. */
    {"POST", "/api/endpoints/:id/rotate-secret", PERM_ADMIN, api_handle_rotate_endpoint_secret},
    {"POST", "/api/endpoints/:id/replay", PERM_OPERATE, api_handle_replay_endpoint},
    {"POST", "/api/endpoints", PERM_ADMIN, api_handle_create_endpoint},
    {"GET", "/api/endpoints", PERM_READ, api_handle_list_endpoints},
    {"GET", "/api/endpoints/:id", PERM_READ, api_handle_get_endpoint},
    {"GET", "/api/endpoints/:id/health", PERM_READ, api_handle_endpoint_health},
    {"PATCH", "/api/endpoints/:id", PERM_ADMIN, api_handle_update_endpoint},
    {"DELETE", "/api/endpoints/:id", PERM_ADMIN, api_handle_delete_endpoint},
    {"POST", "/api/events/batch", PERM_SEND, api_handle_create_event_batch},
    {"POST", "/api/events", PERM_SEND, api_handle_create_event},
    {"GET", "/api/events/:id", PERM_READ, api_handle_get_event},
    {"POST", "/api/templates", PERM_SEND, api_handle_create_template},
    {"GET", "/api/templates", PERM_READ, api_handle_list_templates},
    {"GET", "/api/templates/:id", PERM_READ, api_handle_get_template},
    {"PATCH", "/api/templates/:id", PERM_SEND, api_handle_patch_template},
    {"DELETE", "/api/templates/:id", PERM_SEND, api_handle_delete_template},
    /* Suppression and preferences (docs/ARCHITECTURE.md §16); the unsubscribe link's
     * token is its own authority. */
    {"GET", "/api/suppressions", PERM_READ, api_handle_list_suppressions},
    {"POST", "/api/suppressions", PERM_OPERATE, api_handle_add_suppression},
    {"GET", "/api/suppressions/:entry", PERM_READ, api_handle_get_suppression},
    {"DELETE", "/api/suppressions/:entry", PERM_OPERATE, api_handle_delete_suppression},
    {"GET", "/api/preferences/:userId", PERM_READ, api_handle_get_preferences},
    {"PUT", "/api/preferences/:userId", PERM_SEND, api_handle_put_preferences},
    {"DELETE", "/api/preferences/:userId", PERM_SEND, api_handle_delete_preferences},
    {"GET", "/api/categories", PERM_READ, api_handle_list_categories},
    {"GET", "/api/categories/:name", PERM_READ, api_handle_get_category},
    {"PUT", "/api/categories/:name", PERM_OPERATE, api_handle_put_category},
    {"DELETE", "/api/categories/:name", PERM_OPERATE, api_handle_delete_category},
    {"POST", "/unsubscribe", PERM_PUBLIC, api_handle_unsubscribe},
    {"GET", "/unsubscribe", PERM_PUBLIC, api_handle_unsubscribe_page},
    /* The operator dashboard (dashboard.h): its page and files, then what its pages read. */
    {"GET", "/", PERM_PUBLIC, api_handle_dashboard_index},
    {"GET", "/assets/:file", PERM_PUBLIC, api_handle_dashboard_asset},
    {"GET", "/api/me", PERM_READ, api_handle_me},
    {"GET", "/api/notifications/stats/throughput", PERM_READ, api_handle_throughput},
    {"GET", "/api/dlq", PERM_READ, api_handle_dlq_list},
    {"POST", "/api/dlq/replay", PERM_OPERATE, api_handle_dlq_replay},
    {"GET", "/api/workers", PERM_READ, api_handle_workers},
};

/* Room for the longest path parameter: a suppression entry, a channel name
 * and a recipient (an email address is up to 254 bytes, a device token more). */
#define MAX_PARAM 512

/* Matches `path` against `pattern`; copies a ":param" segment into `param`. */
static bool path_matches(const char *pattern, const char *path, char *param, size_t param_len)
{
    param[0] = '\0';
    while (*pattern != '\0' && *path != '\0') {
        if (pattern[0] == ':' ) {
            const char *end = strchr(path, '/');
            size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
            if (n == 0 || n >= param_len) {
                return false;
            }
            memcpy(param, path, n);
            param[n] = '\0';
            path += n;
            pattern = strchr(pattern, '/');
            if (pattern == NULL) {
                return *path == '\0';
            }
            continue;
        }
        if (*pattern != *path) {
            return false;
        }
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

static bool role_has(const char *role, permission_t permission)
{
    for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        if (strcmp(grants[i].role, role) == 0) {
            return (grants[i].permissions & P(permission)) != 0;
        }
    }
    return false;
}

api_response_t api_route(api_context_t *ctx, const api_request_t *req, const char **matched)
{
    char param[MAX_PARAM];
    char allow[64] = "";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const route_t *route = &routes[i];
        if (!path_matches(route->pattern, req->path, param, sizeof(param))) {
            continue;
        }
        *matched = route->pattern;
        if (strcmp(route->method, req->method) != 0) {
            size_t used = strlen(allow);
            snprintf(allow + used, sizeof(allow) - used, "%s%s", used > 0 ? ", " : "",
                     route->method);
            continue;
        }
        if (route->permission == PERM_PUBLIC) {
            return route->handler(ctx, req, NULL, param[0] != '\0' ? param : NULL);
        }
        wc_principal_t principal;
        memset(&principal, 0, sizeof(principal));
        switch (api_authenticate(ctx, req, &principal)) {
        case API_AUTH_OK:
            break;
        case API_AUTH_MISSING: {
            api_response_t res = api_error(401, "missing API key: send Authorization: Bearer <key>");
            api_response_header(&res, "WWW-Authenticate", "Bearer");
            return res;
        }
        case API_AUTH_INVALID: {
            /* A revoked key, or a key of a disabled tenant, is still named:
             * its owner sees that something still uses it. */
            api_usage_count_status(ctx->usage, &principal, 401);
            api_metrics_count_tenant_refused(ctx->metrics, principal.tenant_id, 401);
            api_response_t res = api_error(401, "invalid API key");
            api_response_header(&res, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return res;
        }
        case API_AUTH_UNAVAILABLE:
            return api_unavailable("the database");
        }
        if (ctx->usage != NULL && principal.key_hint[0] != '\0') {
            char addr[WC_USAGE_ADDR_LEN];
            api_request_client_address(req, addr, sizeof(addr));
            api_usage_count_request(ctx->usage, &principal, usage_class_of[route->permission],
                                    addr);
        }
        api_response_t res;
        if (!role_has(principal.role, route->permission)) {
            res = api_error(403, "this API key's role may not call this endpoint");
        } else if (api_limits_take_request(ctx->limits, &principal, &res)) {
            res = route->handler(ctx, req, &principal, param[0] != '\0' ? param : NULL);
        }
        /* A deferred answer is counted when it is built (submission.c). */
        if (res.defer == NULL) {
            api_usage_count_status(ctx->usage, &principal, res.status);
            api_metrics_count_tenant_refused(ctx->metrics, principal.tenant_id, res.status);
        }
        return res;
    }
    if (allow[0] != '\0') {
        api_response_t res = api_error(405, "method not allowed");
        api_response_header(&res, "Allow", allow);
        return res;
    }
    return api_error(404, "no such endpoint");
}
