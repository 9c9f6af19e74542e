/* The route handlers. `principal` is NULL on routes without authentication;
 * `param` is the path parameter (":id"), or NULL. */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api.h"

/* Every handler has this signature; router.c's table holds them. */
typedef api_response_t (*api_handler_t)(api_context_t *ctx, const api_request_t *req,
                                        const wc_principal_t *principal, const char *param);

/* GET /api/health (handler_health.c) */
api_response_t api_handle_health(api_context_t *ctx, const api_request_t *req,
                                 const wc_principal_t *principal, const char *param);
/* GET /api/metrics (handler_metrics.c) */
api_response_t api_handle_metrics(api_context_t *ctx, const api_request_t *req,
                                  const wc_principal_t *principal, const char *param);
/* POST /api/notifications (handlers_notifications.c) */
api_response_t api_handle_create_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param);
/* GET /api/notifications/:id (handlers_notifications.c) */
api_response_t api_handle_get_notification(api_context_t *ctx, const api_request_t *req,
                                           const wc_principal_t *principal, const char *param);
/* POST /api/notifications/batch (handler_batch.c) */
api_response_t api_handle_create_batch(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
/* GET /api/notifications (handler_list.c) */
api_response_t api_handle_list_notifications(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param);
/* GET /api/notifications/stats/system (handler_stats.c) */
api_response_t api_handle_stats(api_context_t *ctx, const api_request_t *req,
                                const wc_principal_t *principal, const char *param);
/* POST /api/notifications/:id/cancel (handler_cancel.c) */
api_response_t api_handle_cancel_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param);
/* POST /api/notifications/:id/replay (handler_replay.c) */
api_response_t api_handle_replay_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param);
/* GET /api/audit (handler_audit.c) */
api_response_t api_handle_audit(api_context_t *ctx, const api_request_t *req,
                                const wc_principal_t *principal, const char *param);
/* GET /api/keys (handler_keys.c) */
api_response_t api_handle_keys(api_context_t *ctx, const api_request_t *req,
                               const wc_principal_t *principal, const char *param);
/* GET /api/usage (handler_keys.c) */
api_response_t api_handle_usage(api_context_t *ctx, const api_request_t *req,
                                const wc_principal_t *principal, const char *param);

/* POST /api/endpoints (handler_endpoints.c) */
api_response_t api_handle_create_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
/* GET /api/endpoints (handler_endpoints.c) */
api_response_t api_handle_list_endpoints(api_context_t *ctx, const api_request_t *req,
                                         const wc_principal_t *principal, const char *param);
/* GET /api/endpoints/:id (handler_endpoints.c) */
api_response_t api_handle_get_endpoint(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
api_response_t api_handle_endpoint_health(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
/* POST /api/endpoints/:id/replay (handler_endpoint_replay.c) */
api_response_t api_handle_replay_endpoint(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
/* PATCH /api/endpoints/:id (handler_endpoints.c) */
api_response_t api_handle_update_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
/* DELETE /api/endpoints/:id (handler_endpoints.c) */
api_response_t api_handle_delete_endpoint(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
/* POST /api/endpoints/:id/rotate-secret (handler_endpoints.c) */
api_response_t api_handle_rotate_endpoint_secret(api_context_t *ctx, const api_request_t *req,
                                                 const wc_principal_t *principal, const char *param);
/* POST /api/events (handler_events.c) */
api_response_t api_handle_create_event(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
/* GET /api/events/:id (handler_events.c) */
api_response_t api_handle_get_event(api_context_t *ctx, const api_request_t *req,
                                    const wc_principal_t *principal, const char *param);
/* POST /api/events/batch (handler_events.c) */
api_response_t api_handle_create_event_batch(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param);

/* The worker hosts of `worker_hosts` as /api/health shows them: {"live": n,
 * "stale": n, "hosts": [{"id", "stale", "ageMs", "children"}]}, stale by the
 * rule of GET /api/workers (handler_workers.c). NULL when the database
 * failed. The caller owns the result. */
json_object *api_worker_hosts_summary(api_context_t *ctx);

/* POST /api/templates, GET /api/templates, GET/PATCH/DELETE /api/templates/:id
 * (handler_templates.c) */
api_response_t api_handle_create_template(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
api_response_t api_handle_list_templates(api_context_t *ctx, const api_request_t *req,
                                         const wc_principal_t *principal, const char *param);
api_response_t api_handle_get_template(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
api_response_t api_handle_patch_template(api_context_t *ctx, const api_request_t *req,
                                         const wc_principal_t *principal, const char *param);
api_response_t api_handle_delete_template(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);

/* The suppression list (handler_suppressions.c): GET/POST /api/suppressions,
 * GET/DELETE /api/suppressions/:entry ("<CHANNEL>:<recipient>"). */
api_response_t api_handle_list_suppressions(api_context_t *ctx, const api_request_t *req,
                                            const wc_principal_t *principal, const char *param);
api_response_t api_handle_add_suppression(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
api_response_t api_handle_get_suppression(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
api_response_t api_handle_delete_suppression(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param);

/* Recipient preferences and categories (handler_preferences.c):
 * GET/PUT/DELETE /api/preferences/:userId, GET /api/categories,
 * GET/PUT/DELETE /api/categories/:name. */
api_response_t api_handle_get_preferences(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
api_response_t api_handle_put_preferences(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
api_response_t api_handle_delete_preferences(api_context_t *ctx, const api_request_t *req,
                                             const wc_principal_t *principal, const char *param);
api_response_t api_handle_list_categories(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);
api_response_t api_handle_get_category(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
api_response_t api_handle_put_category(api_context_t *ctx, const api_request_t *req,
                                       const wc_principal_t *principal, const char *param);
api_response_t api_handle_delete_category(api_context_t *ctx, const api_request_t *req,
                                          const wc_principal_t *principal, const char *param);

/* The RFC 8058 unsubscribe link, without an API key (handler_unsubscribe.c):
 * POST /unsubscribe?token= acts, GET shows a page whose button posts. */
api_response_t api_handle_unsubscribe(api_context_t *ctx, const api_request_t *req,
                                      const wc_principal_t *principal, const char *param);
api_response_t api_handle_unsubscribe_page(api_context_t *ctx, const api_request_t *req,
                                           const wc_principal_t *principal, const char *param);

/* Who a principal is in audit entries: "api:key:<key id>", or
 * "api:jwt:<tenant>:<subject>" for a dashboard user. */
void api_actor(const wc_principal_t *principal, char *out, size_t out_len);

/* The endpoint `param` names, of the principal's tenant, into *doc (the
 * caller destroys it); false with the 400, 404 or 503 in *res
 * (handler_endpoints.c). */
bool api_endpoint_of_path(api_context_t *ctx, const api_request_t *req,
                          const wc_principal_t *principal, const char *param, bson_t **doc,
                          api_response_t *res);

/* Records an administrative action of `principal` on `target` in the audit
 * trail (handler_audit.c); a failure is logged, not returned: the action
 * itself has happened. */
void api_audit(api_context_t *ctx, const wc_principal_t *principal, const char *action,
               const char *target, const char *detail);

/* Computes a statistics route's data for `tenant_id` at `now` (wall clock,
 * ms); NULL when the database failed. The caller owns the result. */
typedef json_object *(*api_statistics_fn)(api_context_t *ctx, const char *tenant_id, int64_t now);

/* Answers a statistics route (handler_stats.c): refuses query arguments,
 * serves the data cached under "<kind>:<tenant>" while it is younger than
 * WAVECOM_API_STATS_CACHE_SECONDS, else computes (503 when that fails) and
 * caches it; Cache-Control as api_with_stats_max_age says. */
api_response_t api_cached_statistics(api_context_t *ctx, const api_request_t *req,
                                     const char *kind, const char *tenant_id,
                                     api_statistics_fn compute);

/* Parses the id in the path of a route that takes no query argument (every
 * /{id} route); on failure returns false with the 400 in *res. */
bool api_parse_id(const api_request_t *req, const char *param, bson_oid_t *id,
                  api_response_t *res);

/* Refuses any query argument (for endpoints that take none); false with the
 * 400 in *res. */
bool api_no_query(const api_request_t *req, api_response_t *res);

#endif
