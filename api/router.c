#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "dashboard.h"
#include "handlers.h"
#include "response.h"

static const char *const roles_read[] = {"admin", "operator", "sender", "viewer", NULL};
static const char *const roles_write[] = {"admin", "operator", "sender", NULL};
static const char *const roles_operate[] = {"admin", "operator", NULL};

typedef struct {
    const char *method;
    const char *pattern; /* a segment ":name" matches one path segment */
    const char *const *roles; /* NULL: no API key needed */
    api_handler_t handler;
} route_t;

/* Fixed paths before the ":id" patterns that would also match them. */
static const route_t routes[] = {
    {"GET", "/api/health", NULL, api_handle_health},
    {"GET", "/api/metrics", NULL, api_handle_metrics},
    {"POST", "/api/notifications/batch", roles_write, api_handle_create_batch},
    {"GET", "/api/notifications/stats/system", roles_read, api_handle_stats},
    {"POST", "/api/notifications/:id/cancel", roles_write, api_handle_cancel_notification},
    {"POST", "/api/notifications", roles_write, api_handle_create_notification},
    {"GET", "/api/notifications", roles_read, api_handle_list_notifications},
    {"GET", "/api/notifications/:id", roles_read, api_handle_get_notification},
    /* The operator dashboard (dashboard.h): its page and files, then what its pages read. */
    {"GET", "/", NULL, api_handle_dashboard_index},
    {"GET", "/assets/:file", NULL, api_handle_dashboard_asset},
    {"GET", "/api/me", roles_read, api_handle_me},
    {"GET", "/api/notifications/stats/throughput", roles_read, api_handle_throughput},
    {"GET", "/api/dlq", roles_read, api_handle_dlq_list},
    {"POST", "/api/dlq/replay", roles_operate, api_handle_dlq_replay},
    {"GET", "/api/workers", roles_read, api_handle_workers},
};

#define MAX_PARAM 128

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

static bool role_allowed(const char *const *roles, const char *role)
{
    for (const char *const *r = roles; *r != NULL; r++) {
        if (strcmp(*r, role) == 0) {
            return true;
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
        if (route->roles == NULL) {
            return route->handler(ctx, req, NULL, param[0] != '\0' ? param : NULL);
        }
        wc_principal_t principal;
        switch (api_authenticate(ctx, req, &principal)) {
        case API_AUTH_OK:
            break;
        case API_AUTH_MISSING: {
            api_response_t res = api_error(401, "missing API key: send Authorization: Bearer <key>");
            api_response_header(&res, "WWW-Authenticate", "Bearer");
            return res;
        }
        case API_AUTH_INVALID: {
            api_response_t res = api_error(401, "invalid API key");
            api_response_header(&res, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return res;
        }
        case API_AUTH_UNAVAILABLE:
            return api_unavailable("the database");
        }
        if (!role_allowed(route->roles, principal.role)) {
            return api_error(403, "this API key's role may not call this endpoint");
        }
        return route->handler(ctx, req, &principal, param[0] != '\0' ? param : NULL);
    }
    if (allow[0] != '\0') {
        api_response_t res = api_error(405, "method not allowed");
        api_response_header(&res, "Allow", allow);
        return res;
    }
    return api_error(404, "no such endpoint");
}
