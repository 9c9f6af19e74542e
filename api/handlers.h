/* The route handlers. `principal` is NULL on routes without authentication;
 * `param` is the path parameter (":id"), or NULL. */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api.h"

typedef api_response_t (*api_handler_t)(api_context_t *ctx, const api_request_t *req,
                                        const wc_principal_t *principal, const char *param);

api_response_t api_handle_health(api_context_t *ctx, const api_request_t *req,
                                 const wc_principal_t *principal, const char *param);
api_response_t api_handle_create_notification(api_context_t *ctx, const api_request_t *req,
                                              const wc_principal_t *principal, const char *param);
api_response_t api_handle_get_notification(api_context_t *ctx, const api_request_t *req,
                                           const wc_principal_t *principal, const char *param);

#endif
