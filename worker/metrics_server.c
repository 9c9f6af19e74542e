#include "metrics_server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_log.h"

/* A scraper gets one short answer; nothing else should hold the master's
 * thread for long. */
#define CONNECTION_LIMIT 16
#define CONNECTION_TIMEOUT_SECONDS 10

struct metrics_server {
    struct MHD_Daemon *daemon;
    const worker_metrics_t *metrics;
    const worker_breakers_t *breakers;
};

/* libmicrohttpd's own messages (a failed bind, a broken connection) as JSON
 * log lines like every other, instead of raw text on stderr. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n') {
        msg[--len] = '\0';
    }
    wc_log_warn("metrics endpoint: %s", msg);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                              const char *type)
{
    struct MHD_Response *res =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (res == NULL) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (rc == MHD_YES) {
        rc = MHD_queue_response(conn, status, res);
    }
    MHD_destroy_response(res);
    return rc;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    char *body = strdup(text);
    return body == NULL ? MHD_NO
                        : answer(conn, status, body, strlen(body), "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    const metrics_server_t *server = cls;
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is not wanted; the answer below ignores it */
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0) {
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    }
    char *body = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&body, &len);
    if (out == NULL) {
        return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    }
    int rendered = worker_metrics_render(server->metrics, server->breakers, out);
    if (fclose(out) != 0 || rendered != 0) {
        free(body);
        return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    }
    return answer(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

metrics_server_t *metrics_server_start(const char *host, int port, const worker_metrics_t *metrics,
                                       const worker_breakers_t *breakers)
{
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *addr = NULL;
    int gai = getaddrinfo(host, service, &hints, &addr);
    if (gai != 0) {
        wc_log_error("WAVECOM_WORKER_METRICS_HOST %s: %s", host, gai_strerror(gai));
        return NULL;
    }
    metrics_server_t *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        freeaddrinfo(addr);
        wc_log_error("out of memory for the metrics endpoint");
        return NULL;
    }
    server->metrics = metrics;
    server->breakers = breakers;
    /* No thread of its own: the master forks, and a fork copies a thread's
     * locks but not the thread (metrics_server_run). */
    unsigned flags = MHD_USE_ERROR_LOG;
    if (addr->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    /* The logger goes first: MHD uses its own for messages about earlier options. */
    server->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, server,
                                      MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                                      MHD_OPTION_SOCK_ADDR, addr->ai_addr,
                                      MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                      MHD_OPTION_CONNECTION_TIMEOUT,
                                      (unsigned)CONNECTION_TIMEOUT_SECONDS, MHD_OPTION_END);
    freeaddrinfo(addr);
    if (server->daemon == NULL) {
        wc_log_error("cannot serve metrics on %s:%d (in use, or not an address of this host)",
                     host, port);
        free(server);
        return NULL;
    }
    wc_log_info("serving metrics on http://%s:%d/metrics", host, port);
    return server;
}

void metrics_server_run(metrics_server_t *server)
{
    if (server != NULL && MHD_run(server->daemon) != MHD_YES) {
        wc_log_warn("the metrics endpoint failed to serve a request");
    }
}

int metrics_server_fd(const metrics_server_t *server)
{
    if (server == NULL) {
        return -1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    return info == NULL ? -1 : (int)info->listen_fd;
}

void metrics_server_stop(metrics_server_t *server)
{
    if (server == NULL) {
        return;
    }
    MHD_stop_daemon(server->daemon);
    free(server);
}
