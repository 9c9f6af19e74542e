/*
 * GET / and GET /assets/:file: the dashboard's page and its scripts and
 * styles, from the table embedded at build time.
 *
 * Every answer carries a Content-Security-Policy that allows only this
 * origin's own scripts, styles and API (no inline script or style, no
 * framing, no form posting elsewhere), so that a notification's text shown on
 * a page can never run as code. The server's ETag and "no-cache" make a
 * browser revalidate each file cheaply (304), so a new binary's dashboard is
 * picked up at once without versioned file names.
 */
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "response.h"

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const api_dashboard_asset_t *find_asset(const char *path)
{
    for (size_t i = 0; i < api_dashboard_asset_count; i++) {
        if (strcmp(api_dashboard_assets[i].path, path) == 0) {
            return &api_dashboard_assets[i];
        }
    }
    return NULL;
}

static api_response_t serve(const char *path)
{
    const api_dashboard_asset_t *asset = find_asset(path);
    if (asset == NULL) {
        return api_error(404, "no such dashboard file");
    }
    char *copy = strndup(asset->data, asset->len);
    if (copy == NULL) {
        return api_error(503, "out of memory");
    }
    api_response_t res = api_text(200, copy, asset->content_type);
    api_response_header(&res, "Content-Security-Policy", CSP);
    api_response_header(&res, "X-Frame-Options", "DENY");
    api_response_header(&res, "Referrer-Policy", "no-referrer");
    api_response_header(&res, "Cross-Origin-Opener-Policy", "same-origin");
    return res;
}

api_response_t api_handle_dashboard_index(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    return serve("/index.html");
}

api_response_t api_handle_dashboard_asset(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param)
{
    char path[160];
    size_t n = strlen(param);
    if (n + 2 > sizeof(path)) {
        return api_error(404, "no such dashboard file");
    }
    path[0] = '/';
    memcpy(path + 1, param, n + 1);
    return serve(path);
}

/* GET /api/me: whom the key belongs to, so that the dashboard can verify a
 * key at sign-in and offer only what the key's role may do. */
api_response_t api_handle_me(api_context_t *ctx, const api_request_t *req,
                             const wc_principal_t *principal, const char *param)
{
    api_response_t res;
    if (!api_no_query(req, &res)) {
        return res;
    }
    json_object *data = json_object_new_object();
    json_object_object_add(data, "tenantId", json_object_new_string(principal->tenant_id));
    json_object_object_add(data, "role", json_object_new_string(principal->role));
    return api_ok(200, data, NULL);
}
