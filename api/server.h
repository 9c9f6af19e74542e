/*
 * The HTTP server: libmicrohttpd with an internal epoll thread pool. It reads
 * bodies up to the configured limit, hands complete requests to the router,
 * suspends the connections of requests waiting for the group commit (no HTTP
 * thread waits on the database or the broker for them), and writes the
 * responses: gzip when accepted, an ETag on every 200 to a GET, 304 when the
 * client already has it.
 */
#ifndef API_SERVER_H
#define API_SERVER_H

#include "api.h"

typedef struct api_server api_server_t;

/* Starts listening. Returns NULL after logging why. */
api_server_t *api_server_start(api_context_t *ctx);

/* Stops accepting new connections; requests in progress go on. */
void api_server_quiesce(api_server_t *server);

/* Waits (a bounded time) for suspended requests to be answered, then stops
 * the server and frees it. Stop the intake first: it resumes them all. */
void api_server_stop(api_server_t *server);

#endif
