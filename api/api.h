/*
 * What the API's files share: the process-wide context every handler reads,
 * the request as the router sees it, and the response a handler returns.
 */
#ifndef API_H
#define API_H

#include <json-c/json.h>
#include <stdint.h>

#include "publisher.h"
#include "wc_config.h"
#include "wc_store.h"

typedef struct {
    const wc_config_t *cfg;
    wc_store_t *store;
    api_publisher_t *publisher;
    int64_t started_ms;
} api_context_t;

struct MHD_Connection;

typedef struct {
    const char *method;
    const char *path;
    struct MHD_Connection *conn;
    const char *body; /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    char request_id[65];
} api_request_t;

#define API_MAX_RESPONSE_HEADERS 4

typedef struct {
    unsigned status;
    json_object *body; /* owned; serialised and released by the server */
    struct {
        const char *name;
        char value[128];
    } headers[API_MAX_RESPONSE_HEADERS];
    int header_count;
} api_response_t;

/* Looks up a request header (case-insensitive); NULL when absent. */
const char *api_request_header(const api_request_t *req, const char *name);

#endif
