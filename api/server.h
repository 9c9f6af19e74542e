/*
 * The HTTP server: libmicrohttpd with an internal epoll thread pool. It reads
 * bodies up to the configured limit, hands complete requests to the router
 * and writes the JSON responses.
 */
#ifndef API_SERVER_H
#define API_SERVER_H

#include "api.h"

typedef struct api_server api_server_t;

/* Starts listening. Returns NULL after logging why. */
api_server_t *api_server_start(api_context_t *ctx);

/* Stops accepting, finishes the requests in progress, frees the server. */
void api_server_stop(api_server_t *server);

#endif
