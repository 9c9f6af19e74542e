/*
 * A request as the router and the handlers see it: method, path, body and
 * headers, with the libmicrohttpd connection they are read from. Its own
 * module so that everything that reads a request (router.c, auth.c,
 * response.c, the handlers) depends on this file alone, never on server.c.
 */
#ifndef API_REQUEST_H
#define API_REQUEST_H

#include <stddef.h>

struct MHD_Connection;

typedef struct {
    const char *method;
    const char *path;
    struct MHD_Connection *conn;
    const char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    char request_id[65];
} api_request_t;

/* Looks up a request header (case-insensitive); NULL when absent. The string
 * lives as long as the request. */
const char *api_request_header(const api_request_t *req, const char *name);

/* Writes the client's address (numeric, as the socket sees it) into `out`;
 * "-" when unknown. */
void api_request_client_address(const api_request_t *req, char *out, size_t len);

#endif
