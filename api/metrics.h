/*
 * The API process's own Prometheus series: HTTP requests and their
 * durations by method, route and status, and notifications created by type.
 * Routes are the router's patterns ("/api/notifications/:id"), never raw
 * paths, and methods outside the common seven count as OTHER, so a client
 * cannot grow the series without bound.
 */
#ifndef API_METRICS_H
#define API_METRICS_H

#include <stddef.h>

#include "api.h"
#include "wc_notification.h"

api_metrics_t *api_metrics_new(void);
void api_metrics_free(api_metrics_t *metrics);

/* Records one answered request. `route` must be a string that lives as long
 * as the process (a route pattern, or "unmatched"). */
void api_metrics_observe_http(api_metrics_t *metrics, const char *method, const char *route,
                              unsigned status, double seconds);

void api_metrics_count_created(api_metrics_t *metrics, wc_channel_t type);

/* Per tenant (never per key: a tenant may hold many keys): `n` notifications
 * accepted, and one request refused with `status` (401, 403, 429 or 503;
 * other statuses are ignored). Past API_METRICS_MAX_TENANTS tenants, counted
 * under tenant="other". */
#define API_METRICS_MAX_TENANTS 1024
void api_metrics_count_tenant_accepted(api_metrics_t *metrics, const char *tenant_id, size_t n);
void api_metrics_count_tenant_refused(api_metrics_t *metrics, const char *tenant_id,
                                      unsigned status);

/* A growable text buffer with a ceiling, for the exposition. */
typedef struct {
    char *data;
    size_t len, cap, max;
    bool overflow;
} api_text_buf_t;

void api_text_buf_init(api_text_buf_t *buf, size_t max);
void api_text_printf(api_text_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends http_requests_total, http_request_duration_seconds,
 * notifications_created_total and the per-tenant series in the text
 * exposition format. */
void api_metrics_render(api_metrics_t *metrics, api_text_buf_t *out);

#endif
