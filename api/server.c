#include "server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "response.h"
#include "router.h"
#include "wc_crypto.h"
#include "wc_log.h"

struct api_server {
    struct MHD_Daemon *daemon;
    api_context_t *ctx;
};

/* What one request accumulates between the calls MHD makes for it. */
typedef struct {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
} request_state_t;

const char *api_request_header(const api_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, api_response_t *res,
                                     const char *request_id)
{
    size_t len = 0;
    const char *text = "";
    if (res->body != NULL) {
        text = json_object_to_json_string_length(
            res->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    json_object_put(res->body);
    res->body = NULL;
    if (response == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "Cache-Control", "no-store");
    if (request_id != NULL) {
        MHD_add_response_header(response, "X-Request-Id", request_id);
    }
    for (int i = 0; i < res->header_count; i++) {
        MHD_add_response_header(response, res->headers[i].name, res->headers[i].value);
    }
    enum MHD_Result ret = MHD_queue_response(conn, res->status, response);
    MHD_destroy_response(response);
    return ret;
}

/* A client-supplied X-Request-Id is kept when it is short and plain, so a
 * caller's own trace id follows the notification; otherwise one is made. */
static void choose_request_id(struct MHD_Connection *conn, char out[65])
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given != NULL) {
        size_t n = strlen(given);
        bool plain = n > 0 && n <= 64;
        for (size_t i = 0; i < n && plain; i++) {
            char c = given[i];
            plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
        }
        if (plain) {
            memcpy(out, given, n + 1);
            return;
        }
    }
    if (wc_random_hex(16, out, 65) != 0) {
        snprintf(out, 65, "unknown");
    }
}

static bool append_body(request_state_t *st, const char *data, size_t n, size_t max)
{
    if (st->len + n > max) {
        return false;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap == 0 ? 4096 : st->cap;
        while (cap < st->len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(st->body, cap);
        if (grown == NULL) {
            return false;
        }
        st->body = grown;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return true;
}

static api_response_t too_large_response(size_t max)
{
    char message[96];
    snprintf(message, sizeof(message), "request body exceeds %zu bytes", max);
    return api_error(413, message);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    api_server_t *server = cls;
    size_t max = (size_t)server->ctx->cfg->api_max_body_bytes;
    request_state_t *st = *con_cls;

    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return MHD_NO;
        }
        *con_cls = st;
        /* Refuse a declared oversize body before reading any of it. */
        const char *declared =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared != NULL && strtoull(declared, NULL, 10) > max) {
            st->too_large = true;
            api_response_t res = too_large_response(max);
            return send_response(conn, &res, NULL);
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        if (!st->too_large && !append_body(st, upload_data, *upload_data_size, max)) {
            st->too_large = true;
        }
        *upload_data_size = 0; /* consumed, or discarded once too large */
        return MHD_YES;
    }

    api_request_t req = {
        .method = method,
        .path = url,
        .conn = conn,
        .body = st->body != NULL ? st->body : "",
        .body_len = st->len,
    };
    choose_request_id(conn, req.request_id);

    api_response_t res = st->too_large ? too_large_response(max) : api_route(server->ctx, &req);
    wc_log_debug("%s %s -> %u", method, url, res.status);
    return send_response(conn, &res, req.request_id);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_state_t *st = *con_cls;
    if (st != NULL) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

api_server_t *api_server_start(api_context_t *ctx)
{
    const wc_config_t *cfg = ctx->cfg;
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->api_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *addr = NULL;
    int gai = getaddrinfo(cfg->api_host, port, &hints, &addr);
    if (gai != 0) {
        wc_log_error("WAVECOM_API_HOST %s: %s", cfg->api_host, gai_strerror(gai));
        return NULL;
    }

    api_server_t *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        freeaddrinfo(addr);
        return NULL;
    }
    server->ctx = ctx;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    server->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->api_port, NULL, NULL, on_request, server,
        MHD_OPTION_SOCK_ADDR, addr->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->api_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->api_connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->api_per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->api_timeout_seconds,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    freeaddrinfo(addr);
    if (server->daemon == NULL) {
        wc_log_error("cannot listen on %s:%d (in use, or not an address of this host)",
                     cfg->api_host, cfg->api_port);
        free(server);
        return NULL;
    }
    wc_log_info("listening on http://%s:%d", cfg->api_host, cfg->api_port);
    return server;
}

void api_server_stop(api_server_t *server)
{
    if (server == NULL) {
        return;
    }
    MHD_stop_daemon(server->daemon);
    free(server);
}
