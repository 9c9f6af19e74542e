/* The route handlers. `principal` is NULL on routes without authentication;
 * `param` is the path parameter (":id"), or NULL. */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api.h"

typedef api_response_t (*api_handler_t)(api_context_t *ctx, const api_request_t *req,
                                        const wc_principal_t *principal, const char *param);

#define API_HANDLER(name)                                                                          \
    api_response_t name(api_context_t *ctx, const api_request_t *req,                             \
                        const wc_principal_t *principal, const char *param)

API_HANDLER(api_handle_health);                      /* handler_health.c */
API_HANDLER(api_handle_metrics);                     /* handler_metrics.c */
API_HANDLER(api_handle_create_notification);         /* handlers_notifications.c */
API_HANDLER(api_handle_get_notification);            /* handlers_notifications.c */
API_HANDLER(api_handle_create_batch);                /* handler_batch.c */
API_HANDLER(api_handle_list_notifications);          /* handler_list.c */
API_HANDLER(api_handle_stats);                       /* handler_stats.c */
API_HANDLER(api_handle_cancel_notification);         /* handler_cancel.c */
API_HANDLER(api_handle_replay_notification);         /* handler_replay.c */
API_HANDLER(api_handle_audit);                       /* handler_audit.c */
API_HANDLER(api_handle_keys);                        /* handler_keys.c */
API_HANDLER(api_handle_usage);                       /* handler_keys.c */

/* The worker hosts of `worker_hosts` as /api/health shows them: {"live": n,
 * "stale": n, "hosts": [{"id", "stale", "ageMs", "children"}]}, stale by the
 * rule of GET /api/workers (handler_workers.c). NULL when the database
 * failed. The caller owns the result. */
json_object *api_worker_hosts_summary(api_context_t *ctx);

/* Who a principal is in audit entries: "api:key:<key id>", or
 * "api:jwt:<tenant>:<subject>" for a dashboard user. */
void api_actor(const wc_principal_t *principal, char *out, size_t out_len);

/* Records an administrative action of `principal` on `target` in the audit
 * trail (handler_audit.c); a failure is logged, not returned: the action
 * itself has happened. */
void api_audit(api_context_t *ctx, const wc_principal_t *principal, const char *action,
               const char *target, const char *detail);

/* Parses a path id; on failure returns false with the 400 in *res. */
bool api_parse_id(const char *param, bson_oid_t *id, api_response_t *res);

/* Refuses any query argument (for endpoints that take none); false with the
 * 400 in *res. */
bool api_no_query(const api_request_t *req, api_response_t *res);

#endif
