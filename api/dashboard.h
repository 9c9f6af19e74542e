/*
 * The operator dashboard: static files under api/dashboard/, embedded into
 * the binary at build time (dashboard/embed.cmake writes the table), and the
 * API routes only its pages need.
 */
#ifndef API_DASHBOARD_H
#define API_DASHBOARD_H

#include <stddef.h>

#include "handlers.h"

typedef struct {
    const char *path;         /* "/index.html", "/app.js", ... */
    const char *content_type; /* with charset for text */
    const char *data;         /* NUL-terminated; `len` excludes the NUL */
    size_t len;
} api_dashboard_asset_t;

/* Generated: every file of api/dashboard/ served by the API. */
extern const api_dashboard_asset_t api_dashboard_assets[];
extern const size_t api_dashboard_asset_count;

/* GET / (handler_dashboard.c) */
api_response_t api_handle_dashboard_index(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
/* GET /assets/:file */
api_response_t api_handle_dashboard_asset(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
/* GET /api/me */
api_response_t api_handle_me(api_context_t *ctx, const api_request_t *req,
                             const wc_principal_t *principal, const char *param);
/* GET /api/notifications/stats/throughput */
api_response_t api_handle_throughput(api_context_t *ctx, const api_request_t *req,
                                     const wc_principal_t *principal, const char *param);
/* GET /api/dlq (handler_dlq.c) */
api_response_t api_handle_dlq_list(api_context_t *ctx, const api_request_t *req,
                                   const wc_principal_t *principal, const char *param);
/* POST /api/dlq/replay */
api_response_t api_handle_dlq_replay(api_context_t *ctx, const api_request_t *req,
                                     const wc_principal_t *principal, const char *param);
/* GET /api/workers (handler_workers.c) */
api_response_t api_handle_workers(api_context_t *ctx, const api_request_t *req,
                                  const wc_principal_t *principal, const char *param);

#endif
