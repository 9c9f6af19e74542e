#include "server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "encoding.h"
#include "metrics.h"
#include "response.h"
#include "router.h"
#include "wc_crypto.h"
#include "wc_log.h"
#include "wc_time.h"

/* How long stopping waits for suspended requests to be answered. */
#define STOP_WAIT_MS 5000

struct api_server {
    struct MHD_Daemon *daemon;
    api_context_t *ctx;
    atomic_int suspended; /* requests deferred and not yet answered */
};

/* What one request accumulates between the calls MHD makes for it. */
typedef struct {
    api_server_t *server;
    struct MHD_Connection *conn;
    char *body;
    size_t len;
    size_t cap;
    size_t max;
    bool too_large;
    int64_t started_ms; /* monotonic, at the headers */
    const char *route;  /* the matched route pattern, for metrics */
    char request_id[65];
    api_deferral_t *deferral; /* while waiting for, or just back from, a deferral */
    atomic_bool resumed;
} request_state_t;

static const char *request_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Serialises, and for a GET 200 tags, compresses or answers 304. */
static enum MHD_Result send_response(request_state_t *st, const char *method, api_response_t *res)
{
    struct MHD_Connection *conn = st->conn;
    size_t len = 0;
    const char *text = "";
    const char *type = "application/json";
    if (res->text != NULL) {
        text = res->text;
        len = strlen(res->text);
        type = res->content_type;
    } else if (res->body != NULL) {
        text = json_object_to_json_string_length(
            res->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }

    unsigned status = res->status;
    char etag[API_ETAG_LEN] = "";
    bool tagged = status == 200 && strcmp(method, "GET") == 0;
    if (tagged) {
        api_etag(text, len, etag);
        if (api_etag_matches(request_header(conn, "If-None-Match"), etag)) {
            status = 304;
            len = 0;
        }
    }
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    if (len >= API_GZIP_MIN_BYTES &&
        api_accepts_gzip(request_header(conn, MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
        gz = api_gzip(text, len, &gz_len);
    }
    struct MHD_Response *response =
        gz != NULL ? MHD_create_response_from_buffer(gz_len, gz, MHD_RESPMEM_MUST_FREE)
                   : MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    json_object_put(res->body);
    res->body = NULL;
    free(res->text);
    res->text = NULL;
    if (response == NULL) {
        free(gz);
        return MHD_NO;
    }
    if (status != 304) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    if (gz != NULL) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    /* A handler that knows how long its answer holds (the cached statistics)
     * says so itself; only a 200 to a GET may be kept. */
    bool own_cache_control = false;
    for (int i = 0; i < res->header_count && tagged; i++) {
        own_cache_control =
            own_cache_control || strcasecmp(res->headers[i].name, "Cache-Control") == 0;
    }
    if (tagged) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, etag);
        if (!own_cache_control) {
            /* Caches may keep it but must revalidate: statuses change. */
            MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-cache");
        }
    } else {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    if (st->request_id[0] != '\0') {
        MHD_add_response_header(response, "X-Request-Id", st->request_id);
    }
    for (int i = 0; i < res->header_count; i++) {
        if (!tagged && strcasecmp(res->headers[i].name, "Cache-Control") == 0) {
            continue; /* an error or a 304-less write is never cached */
        }
        MHD_add_response_header(response, res->headers[i].name, res->headers[i].value);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);

    double seconds = (double)(wc_time_monotonic_ms() - st->started_ms) / 1000.0;
    api_metrics_observe_http(st->server->ctx->metrics, method,
                             st->route != NULL ? st->route : "unmatched", status, seconds);
    wc_log_debug("%s %s -> %u", method, st->route != NULL ? st->route : "unmatched", status);
    return ret;
}

/* A client-supplied X-Request-Id is kept when it is short and plain, so a
 * caller's own trace id follows the notification; otherwise one is made. */
static void choose_request_id(struct MHD_Connection *conn, char out[65])
{
    const char *given = request_header(conn, "X-Request-Id");
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

static bool append_body(request_state_t *st, const char *data, size_t n)
{
    if (st->len + n > st->max) {
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

/* Called by whoever completes a deferral, on any thread. */
static void resume_request(void *arg)
{
    request_state_t *st = arg;
    atomic_store(&st->resumed, true);
    MHD_resume_connection(st->conn);
}

/* Sends `res`, or suspends the connection when the handler deferred it. */
static enum MHD_Result answer(request_state_t *st, const char *method, api_response_t res)
{
    if (res.defer == NULL) {
        return send_response(st, method, &res);
    }
    st->deferral = res.defer;
    atomic_store(&st->resumed, false);
    atomic_fetch_add(&st->server->suspended, 1);
    /* Suspend before starting: the deferral may complete, and resume us,
     * before start() returns; resuming a connection not yet suspended is
     * undefined in libmicrohttpd. */
    MHD_suspend_connection(st->conn);
    res.defer->start(res.defer, resume_request, st);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    api_server_t *server = cls;
    request_state_t *st = *con_cls;

    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return MHD_NO;
        }
        *con_cls = st;
        st->server = server;
        st->conn = conn;
        st->started_ms = wc_time_monotonic_ms();
        /* A batch may be larger than a single notification. */
        bool batch = strcmp(method, "POST") == 0 && (strcmp(url, "/api/notifications/batch") == 0 ||
                                                     strcmp(url, "/api/events/batch") == 0);
        st->max = (size_t)(batch ? server->ctx->cfg->api_max_batch_body_bytes
                                 : server->ctx->cfg->api_max_body_bytes);
        /* Refuse a declared oversize body before reading any of it. */
        const char *declared = request_header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared != NULL && strtoull(declared, NULL, 10) > st->max) {
            st->too_large = true;
            api_response_t res = too_large_response(st->max);
            return send_response(st, method, &res);
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        if (!st->too_large && !append_body(st, upload_data, *upload_data_size)) {
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
    if (st->deferral != NULL) {
        if (!atomic_load(&st->resumed)) {
            return MHD_YES; /* not ours to answer yet */
        }
        /* Back from a deferral: build the answer where the handler left off. */
        memcpy(req.request_id, st->request_id, sizeof(req.request_id));
        api_deferral_t *d = st->deferral;
        st->deferral = NULL;
        atomic_fetch_sub(&server->suspended, 1);
        api_response_t res = d->finish(d, server->ctx, &req);
        if (res.defer != d) {
            d->release(d);
        }
        return answer(st, method, res);
    }

    choose_request_id(conn, st->request_id);
    memcpy(req.request_id, st->request_id, sizeof(req.request_id));
    if (st->too_large) {
        api_response_t res = too_large_response(st->max);
        return send_response(st, method, &res);
    }
    api_response_t res = api_route(server->ctx, &req, &st->route);
    return answer(st, method, res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_state_t *st = *con_cls;
    if (st != NULL) {
        if (st->deferral != NULL) {
            /* Only reachable when the daemon stops with a resumed request
             * not yet answered; the deferral has completed. */
            st->deferral->release(st->deferral);
        }
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
    atomic_init(&server->suspended, 0);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
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

void api_server_quiesce(api_server_t *server)
{
    if (server == NULL) {
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(server->daemon);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
}

void api_server_stop(api_server_t *server)
{
    if (server == NULL) {
        return;
    }
    int64_t deadline = wc_time_monotonic_ms() + STOP_WAIT_MS;
    while (atomic_load(&server->suspended) > 0 && wc_time_monotonic_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&server->suspended) > 0) {
        wc_log_warn("stopping with %d requests still waiting", atomic_load(&server->suspended));
    }
    MHD_stop_daemon(server->daemon);
    free(server);
}
