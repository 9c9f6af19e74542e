/*
 * The API's route table (api/router.c): every row resolves to its handler
 * with its method and path parameter, the permission of each row is enforced,
 * and what matches nothing gets 404 or 405.
 *
 * The test includes router.c itself, so that it can walk the static `routes`
 * table and fail when a row is added without a case here. The handlers, the
 * authentication, the rate limits and the usage and metrics counters are
 * replaced by recorders below.
 */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "../../api/router.c"

/* What the last call reached. */
static struct {
    const char *handler;
    char param[MAX_PARAM];
    bool param_null;
    bool had_principal;
    int auth_calls;
    int limit_calls;
    int usage_requests;       /* api_usage_count_request calls */
    wc_usage_class_t usage_class; /* the class of the last one */
    unsigned usage_status;    /* the status of the last api_usage_count_status call */
    int usage_statuses;       /* api_usage_count_status calls */
    int metrics_statuses;     /* api_metrics_count_tenant_refused calls */
} seen;

/* What the authentication and the limiter answer next. */
static api_auth_result_t next_auth = API_AUTH_OK;
static const char *next_role = "admin";
static const char *next_hint = "";
static bool next_limit_ok = true;

static void reset(void)
{
    memset(&seen, 0, sizeof(seen));
    next_auth = API_AUTH_OK;
    next_role = "admin";
    next_hint = "";
    next_limit_ok = true;
}

static api_response_t record(const char *handler, const wc_principal_t *principal,
                             const char *param)
{
    seen.handler = handler;
    seen.had_principal = principal != NULL;
    seen.param_null = param == NULL;
    snprintf(seen.param, sizeof(seen.param), "%s", param != NULL ? param : "");
    api_response_t res = {.status = 299};
    return res;
}

/* Every handler the table names, each recording its own name. */
#define RECORDING_HANDLER(name)                                                                    \
    api_response_t name(api_context_t *ctx, const api_request_t *req,                             \
                        const wc_principal_t *principal, const char *param)                       \
    {                                                                                              \
        (void)ctx;                                                                                 \
        (void)req;                                                                                 \
        return record(#name, principal, param);                                                    \
    }
RECORDING_HANDLER(api_handle_health)
RECORDING_HANDLER(api_handle_metrics)
RECORDING_HANDLER(api_handle_create_notification)
RECORDING_HANDLER(api_handle_get_notification)
RECORDING_HANDLER(api_handle_create_batch)
RECORDING_HANDLER(api_handle_list_notifications)
RECORDING_HANDLER(api_handle_stats)
RECORDING_HANDLER(api_handle_cancel_notification)
RECORDING_HANDLER(api_handle_replay_notification)
RECORDING_HANDLER(api_handle_audit)
RECORDING_HANDLER(api_handle_keys)
RECORDING_HANDLER(api_handle_usage)
RECORDING_HANDLER(api_handle_create_template)
RECORDING_HANDLER(api_handle_list_templates)
RECORDING_HANDLER(api_handle_get_template)
RECORDING_HANDLER(api_handle_patch_template)
RECORDING_HANDLER(api_handle_delete_template)
RECORDING_HANDLER(api_handle_list_suppressions)
RECORDING_HANDLER(api_handle_add_suppression)
RECORDING_HANDLER(api_handle_get_suppression)
RECORDING_HANDLER(api_handle_delete_suppression)
RECORDING_HANDLER(api_handle_get_preferences)
RECORDING_HANDLER(api_handle_put_preferences)
RECORDING_HANDLER(api_handle_delete_preferences)
RECORDING_HANDLER(api_handle_list_categories)
RECORDING_HANDLER(api_handle_get_category)
RECORDING_HANDLER(api_handle_put_category)
RECORDING_HANDLER(api_handle_delete_category)
RECORDING_HANDLER(api_handle_unsubscribe)
RECORDING_HANDLER(api_handle_unsubscribe_page)
RECORDING_HANDLER(api_handle_dashboard_index)
RECORDING_HANDLER(api_handle_dashboard_asset)
RECORDING_HANDLER(api_handle_me)
RECORDING_HANDLER(api_handle_throughput)
RECORDING_HANDLER(api_handle_dlq_list)
RECORDING_HANDLER(api_handle_dlq_replay)
RECORDING_HANDLER(api_handle_workers)
RECORDING_HANDLER(api_handle_create_endpoint)
RECORDING_HANDLER(api_handle_list_endpoints)
RECORDING_HANDLER(api_handle_get_endpoint)
RECORDING_HANDLER(api_handle_endpoint_health)
RECORDING_HANDLER(api_handle_replay_endpoint)
RECORDING_HANDLER(api_handle_update_endpoint)
RECORDING_HANDLER(api_handle_delete_endpoint)
RECORDING_HANDLER(api_handle_rotate_endpoint_secret)
RECORDING_HANDLER(api_handle_create_event)
RECORDING_HANDLER(api_handle_create_event_batch)
RECORDING_HANDLER(api_handle_get_event)

api_auth_result_t api_authenticate(api_context_t *ctx, const api_request_t *req,
                                   wc_principal_t *out)
{
    (void)ctx;
    (void)req;
    seen.auth_calls++;
    memset(out, 0, sizeof(*out));
    snprintf(out->role, sizeof(out->role), "%s", next_role);
    snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", "aaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(out->key_hint, sizeof(out->key_hint), "%s", next_hint);
    return next_auth;
}

void api_usage_count_request(api_usage_t *usage, const wc_principal_t *p, wc_usage_class_t c,
                             const char *addr)
{
    (void)usage;
    (void)p;
    (void)addr;
    seen.usage_requests++;
    seen.usage_class = c;
}

void api_usage_count_status(api_usage_t *usage, const wc_principal_t *p, unsigned status)
{
    (void)usage;
    (void)p;
    seen.usage_statuses++;
    seen.usage_status = status;
}

void api_metrics_count_tenant_refused(api_metrics_t *metrics, const char *tenant_id,
                                      unsigned status)
{
    (void)metrics;
    (void)tenant_id;
    (void)status;
    seen.metrics_statuses++;
}

bool api_limits_take_request(api_limits_t *limits, const wc_principal_t *p, api_response_t *res)
{
    (void)limits;
    (void)p;
    seen.limit_calls++;
    if (!next_limit_ok) {
        *res = api_error(429, "limited");
        return false;
    }
    return true;
}

/* Stands for a usage table: the recorders above never look into it. */
static char usage_token;
static bool with_usage;

static api_response_t route(const char *method, const char *path, const char **matched)
{
    api_context_t ctx = {0};
    if (with_usage) {
        ctx.usage = (api_usage_t *)(void *)&usage_token;
    }
    api_request_t req = {.method = method, .path = path};
    const char *pattern = NULL;
    api_response_t res = api_route(&ctx, &req, &pattern);
    if (matched != NULL) {
        *matched = pattern;
    }
    return res;
}

static void release(api_response_t *res)
{
    json_object_put(res->body);
    res->body = NULL;
}

static const char *header(const api_response_t *res, const char *name)
{
    for (int i = 0; i < res->header_count; i++) {
        if (strcmp(res->headers[i].name, name) == 0) {
            return res->headers[i].value;
        }
    }
    return NULL;
}

/* One case per row of `routes`, with a concrete path for its pattern. */
static const struct {
    const char *method;
    const char *path;
    const char *handler;
    const char *param; /* NULL: the route has none */
    permission_t permission;
} expected[] = {
    {"GET", "/api/health", "api_handle_health", NULL, PERM_PUBLIC},
    {"GET", "/api/metrics", "api_handle_metrics", NULL, PERM_PUBLIC},
    {"POST", "/api/notifications/batch", "api_handle_create_batch", NULL, PERM_SEND},
    {"GET", "/api/notifications/stats/system", "api_handle_stats", NULL, PERM_READ},
    {"POST", "/api/notifications/65f0c0ffee0000000000beef/cancel",
     "api_handle_cancel_notification", "65f0c0ffee0000000000beef", PERM_OPERATE},
    {"POST", "/api/notifications/65f0c0ffee0000000000beef/replay",
     "api_handle_replay_notification", "65f0c0ffee0000000000beef", PERM_OPERATE},
    {"POST", "/api/notifications", "api_handle_create_notification", NULL, PERM_SEND},
    {"GET", "/api/notifications", "api_handle_list_notifications", NULL, PERM_READ},
    {"GET", "/api/notifications/65f0c0ffee0000000000beef", "api_handle_get_notification",
     "65f0c0ffee0000000000beef", PERM_READ},
    {"GET", "/api/audit", "api_handle_audit", NULL, PERM_ADMIN},
    {"GET", "/api/keys", "api_handle_keys", NULL, PERM_ADMIN},
    {"GET", "/api/usage", "api_handle_usage", NULL, PERM_ADMIN},
    {"POST", "/api/endpoints/65f0c0ffee0000000000beef/rotate-secret",
     "api_handle_rotate_endpoint_secret", "65f0c0ffee0000000000beef", PERM_ADMIN},
    {"POST", "/api/endpoints", "api_handle_create_endpoint", NULL, PERM_ADMIN},
    {"GET", "/api/endpoints", "api_handle_list_endpoints", NULL, PERM_READ},
    {"GET", "/api/endpoints/65f0c0ffee0000000000beef/health", "api_handle_endpoint_health",
     "65f0c0ffee0000000000beef", PERM_READ},
    {"POST", "/api/endpoints/65f0c0ffee0000000000beef/replay", "api_handle_replay_endpoint",
     "65f0c0ffee0000000000beef", PERM_OPERATE},
    {"GET", "/api/endpoints/65f0c0ffee0000000000beef", "api_handle_get_endpoint",
     "65f0c0ffee0000000000beef", PERM_READ},
    {"PATCH", "/api/endpoints/65f0c0ffee0000000000beef", "api_handle_update_endpoint",
     "65f0c0ffee0000000000beef", PERM_ADMIN},
    {"DELETE", "/api/endpoints/65f0c0ffee0000000000beef", "api_handle_delete_endpoint",
     "65f0c0ffee0000000000beef", PERM_ADMIN},
    {"POST", "/api/events/batch", "api_handle_create_event_batch", NULL, PERM_SEND},
    {"POST", "/api/events", "api_handle_create_event", NULL, PERM_SEND},
    {"GET", "/api/events/order-42.paid", "api_handle_get_event", "order-42.paid", PERM_READ},
    {"POST", "/api/templates", "api_handle_create_template", NULL, PERM_SEND},
    {"GET", "/api/templates", "api_handle_list_templates", NULL, PERM_READ},
    {"GET", "/api/templates/65f0c0ffee0000000000beef", "api_handle_get_template",
     "65f0c0ffee0000000000beef", PERM_READ},
    {"PATCH", "/api/templates/65f0c0ffee0000000000beef", "api_handle_patch_template",
     "65f0c0ffee0000000000beef", PERM_SEND},
    {"DELETE", "/api/templates/65f0c0ffee0000000000beef", "api_handle_delete_template",
     "65f0c0ffee0000000000beef", PERM_SEND},
    {"GET", "/api/suppressions", "api_handle_list_suppressions", NULL, PERM_READ},
    {"POST", "/api/suppressions", "api_handle_add_suppression", NULL, PERM_OPERATE},
    {"GET", "/api/suppressions/EMAIL:ann@example.com", "api_handle_get_suppression",
     "EMAIL:ann@example.com", PERM_READ},
    {"DELETE", "/api/suppressions/SMS:+15550001234", "api_handle_delete_suppression",
     "SMS:+15550001234", PERM_OPERATE},
    {"GET", "/api/preferences/user-42", "api_handle_get_preferences", "user-42", PERM_READ},
    {"PUT", "/api/preferences/user-42", "api_handle_put_preferences", "user-42", PERM_SEND},
    {"DELETE", "/api/preferences/user-42", "api_handle_delete_preferences", "user-42", PERM_SEND},
    {"GET", "/api/categories", "api_handle_list_categories", NULL, PERM_READ},
    {"GET", "/api/categories/otp", "api_handle_get_category", "otp", PERM_READ},
    {"PUT", "/api/categories/otp", "api_handle_put_category", "otp", PERM_OPERATE},
    {"DELETE", "/api/categories/otp", "api_handle_delete_category", "otp", PERM_OPERATE},
    {"POST", "/unsubscribe", "api_handle_unsubscribe", NULL, PERM_PUBLIC},
    {"GET", "/unsubscribe", "api_handle_unsubscribe_page", NULL, PERM_PUBLIC},
    {"GET", "/", "api_handle_dashboard_index", NULL, PERM_PUBLIC},
    {"GET", "/assets/app.js", "api_handle_dashboard_asset", "app.js", PERM_PUBLIC},
    {"GET", "/api/me", "api_handle_me", NULL, PERM_READ},
    {"GET", "/api/notifications/stats/throughput", "api_handle_throughput", NULL, PERM_READ},
    {"GET", "/api/dlq", "api_handle_dlq_list", NULL, PERM_READ},
    {"POST", "/api/dlq/replay", "api_handle_dlq_replay", NULL, PERM_OPERATE},
    {"GET", "/api/workers", "api_handle_workers", NULL, PERM_READ},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static void every_route_has_a_case(void **state)
{
    (void)state;
    assert_int_equal(N_EXPECTED, N_ROUTES);
    /* Each row of the table is reached by exactly one case, with its method. */
    for (size_t r = 0; r < N_ROUTES; r++) {
        int cases = 0;
        for (size_t i = 0; i < N_EXPECTED; i++) {
            const char *matched = NULL;
            reset();
            api_response_t res = route(expected[i].method, expected[i].path, &matched);
            release(&res);
            if (matched == routes[r].pattern && strcmp(expected[i].method, routes[r].method) == 0) {
                cases++;
            }
        }
        if (cases != 1) {
            fail_msg("%s %s: %d cases", routes[r].method, routes[r].pattern, cases);
        }
    }
}

static void every_route_resolves_to_its_handler(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_EXPECTED; i++) {
        reset();
        api_response_t res = route(expected[i].method, expected[i].path, NULL);
        if (res.status != 299 || seen.handler == NULL ||
            strcmp(seen.handler, expected[i].handler) != 0) {
            fail_msg("%s %s: status %u, handler %s", expected[i].method, expected[i].path,
                     res.status, seen.handler != NULL ? seen.handler : "none");
        }
        release(&res);
        if (expected[i].param == NULL) {
            assert_true(seen.param_null);
        } else {
            assert_false(seen.param_null);
            assert_string_equal(seen.param, expected[i].param);
        }
        /* Public routes neither authenticate nor count against a limit. */
        bool public = expected[i].permission == PERM_PUBLIC;
        assert_int_equal(seen.auth_calls, public ? 0 : 1);
        assert_int_equal(seen.limit_calls, public ? 0 : 1);
        assert_int_equal(seen.had_principal, !public);
    }
}

/* The grants of docs/API.md's route x role table, written out again here so
 * that a change to router.c's `grants` must be made twice on purpose. */
static void roles_reach_what_they_are_granted(void **state)
{
    (void)state;
    static const struct {
        const char *role;
        unsigned permissions;
    } roles[] = {
        {"admin", P(PERM_READ) | P(PERM_SEND) | P(PERM_OPERATE) | P(PERM_ADMIN)},
        {"operator", P(PERM_READ) | P(PERM_SEND) | P(PERM_OPERATE)},
        {"sender", P(PERM_READ) | P(PERM_SEND)},
        {"viewer", P(PERM_READ)},
        {"nobody", 0},
    };
    for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
        for (size_t i = 0; i < N_EXPECTED; i++) {
            bool allowed = expected[i].permission == PERM_PUBLIC ||
                           (roles[r].permissions & P(expected[i].permission)) != 0;
            reset();
            next_role = roles[r].role;
            api_response_t res = route(expected[i].method, expected[i].path, NULL);
            unsigned want = allowed ? 299 : 403;
            if (res.status != want) {
                fail_msg("%s on %s %s: %u, want %u", roles[r].role, expected[i].method,
                         expected[i].path, res.status, want);
            }
            /* A refused role is refused before the limiter counts it. */
            if (!allowed) {
                assert_null(seen.handler);
                assert_int_equal(seen.limit_calls, 0);
            }
            release(&res);
        }
    }
}

/* What authentication or the limiter refuses never reaches the handler. */
static void authentication_failures(void **state)
{
    (void)state;
    static const struct {
        api_auth_result_t auth;
        bool limit_ok;
        unsigned status;
        const char *header;
        const char *value; /* NULL: any value */
    } cases[] = {
        {API_AUTH_MISSING, true, 401, "WWW-Authenticate", "Bearer"},
        {API_AUTH_INVALID, true, 401, "WWW-Authenticate", "Bearer error=\"invalid_token\""},
        {API_AUTH_UNAVAILABLE, true, 503, "Retry-After", NULL},
        {API_AUTH_OK, false, 429, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reset();
        next_auth = cases[i].auth;
        next_limit_ok = cases[i].limit_ok;
        api_response_t res = route("POST", "/api/notifications", NULL);
        assert_int_equal(res.status, cases[i].status);
        if (cases[i].header != NULL) {
            const char *value = header(&res, cases[i].header);
            assert_non_null(value);
            if (cases[i].value != NULL) {
                assert_string_equal(value, cases[i].value);
            }
        }
        assert_null(seen.handler);
        release(&res);
    }
}

/* Every authenticated request of a key is counted under its route's class;
 * every answer the router builds is handed to the refusal counters. */
static void usage_is_counted_by_route_permission(void **state)
{
    (void)state;
    static const wc_usage_class_t want_class[] = {
        [PERM_PUBLIC] = WC_USAGE_READ,     [PERM_READ] = WC_USAGE_READ,
        [PERM_SEND] = WC_USAGE_SEND,       [PERM_OPERATE] = WC_USAGE_OPERATE,
        [PERM_ADMIN] = WC_USAGE_ADMIN,
    };
    with_usage = true;
    for (size_t i = 0; i < N_EXPECTED; i++) {
        bool public = expected[i].permission == PERM_PUBLIC;
        reset();
        next_hint = "wck_0123abcd";
        api_response_t res = route(expected[i].method, expected[i].path, NULL);
        release(&res);
        assert_int_equal(seen.usage_requests, public ? 0 : 1);
        assert_int_equal(seen.usage_statuses, public ? 0 : 1);
        assert_int_equal(seen.metrics_statuses, public ? 0 : 1);
        if (!public) {
            assert_int_equal(seen.usage_class, want_class[expected[i].permission]);
            assert_int_equal(seen.usage_status, 299);
        }
        /* A dashboard user (no key hint) is not counted per key. */
        reset();
        res = route(expected[i].method, expected[i].path, NULL);
        release(&res);
        assert_int_equal(seen.usage_requests, 0);
    }
    /* Refusals after authentication: the role's 403, the limiter's 429, a revoked key's 401. */
    static const struct {
        const char *role;
        bool limit_ok;
        api_auth_result_t auth;
        unsigned status;
    } refusals[] = {
        {"viewer", true, API_AUTH_OK, 403},
        {"admin", false, API_AUTH_OK, 429},
        {"admin", true, API_AUTH_INVALID, 401},
    };
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        reset();
        next_hint = "wck_0123abcd";
        next_role = refusals[i].role;
        next_limit_ok = refusals[i].limit_ok;
        next_auth = refusals[i].auth;
        api_response_t res = route("POST", "/api/notifications", NULL);
        assert_int_equal(res.status, refusals[i].status);
        release(&res);
        assert_int_equal(seen.usage_statuses, 1);
        assert_int_equal(seen.usage_status, refusals[i].status);
        assert_int_equal(seen.metrics_statuses, 1);
        assert_null(seen.handler);
    }
    with_usage = false;
}

static void unknown_paths_are_404(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/api/nothing",
        "/api/notifications/",           /* an empty :id */
        "/api/notifications//cancel",    /* an empty :id before a fixed segment */
        "/api/notifications/abc/delete", /* no such action */
        "/api/notifications/abc/cancel/x",
        "/api/healthz",
        "/api/health/",
        "/assets/",
        "/assets/a/b",
        "",
        "api/health",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        reset();
        const char *matched = NULL;
        api_response_t res = route("GET", paths[i], &matched);
        if (res.status != 404) {
            fail_msg("GET \"%s\": %u", paths[i], res.status);
        }
        assert_null(matched);
        assert_null(seen.handler);
        assert_int_equal(seen.auth_calls, 0);
        release(&res);
    }
}

static void a_path_parameter_is_bounded(void **state)
{
    (void)state;
    char path[64 + MAX_PARAM];
    /* MAX_PARAM - 1 characters fit; MAX_PARAM do not. */
    for (int len = MAX_PARAM - 1; len <= MAX_PARAM; len++) {
        int n = snprintf(path, sizeof(path), "/api/notifications/");
        memset(path + n, 'a', (size_t)len);
        path[n + len] = '\0';
        reset();
        api_response_t res = route("GET", path, NULL);
        assert_int_equal(res.status, len < MAX_PARAM ? 299 : 404);
        if (len < MAX_PARAM) {
            assert_int_equal(strlen(seen.param), (size_t)len);
        }
        release(&res);
    }
}

static void wrong_methods_are_405_with_allow(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        const char *path;
        const char *allow;
    } cases[] = {
        {"DELETE", "/api/notifications", "POST, GET"},
        {"PUT", "/api/notifications/abc", "GET"},
        {"GET", "/api/notifications/abc/cancel", "POST"},
        {"POST", "/api/health", "GET"},
        {"POST", "/api/notifications/stats/system", "GET"},
        {"GET", "/api/dlq/replay", "POST"},
        {"DELETE", "/", "GET"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reset();
        const char *matched = NULL;
        api_response_t res = route(cases[i].method, cases[i].path, &matched);
        if (res.status != 405) {
            fail_msg("%s %s: %u", cases[i].method, cases[i].path, res.status);
        }
        assert_non_null(matched);
        assert_string_equal(header(&res, "Allow"), cases[i].allow);
        assert_null(seen.handler);
        assert_int_equal(seen.auth_calls, 0);
        release(&res);
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(every_route_has_a_case),
               cmocka_unit_test(every_route_resolves_to_its_handler),
               cmocka_unit_test(roles_reach_what_they_are_granted),
               cmocka_unit_test(authentication_failures),
               cmocka_unit_test(usage_is_counted_by_route_permission),
               cmocka_unit_test(unknown_paths_are_404),
               cmocka_unit_test(a_path_parameter_is_bounded),
               cmocka_unit_test(wrong_methods_are_405_with_allow))
