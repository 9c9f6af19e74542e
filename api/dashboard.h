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

API_HANDLER(api_handle_dashboard_index);       /* GET / (handler_dashboard.c) */
API_HANDLER(api_handle_dashboard_asset);       /* GET /assets/:file */
API_HANDLER(api_handle_me);                    /* GET /api/me */
API_HANDLER(api_handle_throughput);            /* GET /api/notifications/stats/throughput */
API_HANDLER(api_handle_dlq_list);              /* GET /api/dlq (handler_dlq.c) */
API_HANDLER(api_handle_dlq_replay);            /* POST /api/dlq/replay */
API_HANDLER(api_handle_workers);               /* GET /api/workers (handler_workers.c) */

#endif
