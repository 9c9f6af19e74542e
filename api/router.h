/*
 * Routing: one table of method, path pattern, whether an API key is needed
 * and which roles may call it. Authentication and role checks happen here,
 * once, for every route.
 */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include "api.h"

/* Routes `req`. *route is set to the pattern of the route whose path matched
 * (a string that lives as long as the process), or left NULL. */
api_response_t api_route(api_context_t *ctx, const api_request_t *req, const char **route);

#endif
