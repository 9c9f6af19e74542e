#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "wc_log.h"
#include "wc_netaddr.h"

struct http_client {
    CURLM *multi;
    char *ca_file;
    long timeout_ms;
    long connect_timeout_ms;
    int in_flight;
};

http_client_t *http_client_new(const http_client_options_t *opts)
{
    http_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->multi = curl_multi_init();
    c->ca_file = opts->ca_file != NULL && opts->ca_file[0] != '\0' ? strdup(opts->ca_file) : NULL;
    if (c->multi == NULL || (opts->ca_file != NULL && opts->ca_file[0] != '\0' && c->ca_file == NULL)) {
        http_client_free(c);
        return NULL;
    }
    c->timeout_ms = opts->timeout_ms;
    c->connect_timeout_ms = opts->connect_timeout_ms;
    /* Multiplex HTTP/2 streams on one connection instead of opening more. */
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return c;
}

void http_client_free(http_client_t *c)
{
    if (c == NULL) {
        return;
    }
    if (c->multi != NULL) {
        curl_multi_cleanup(c->multi);
    }
    free(c->ca_file);
    free(c);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    http_call_t *call = userdata;
    size_t n = size * nmemb;
    size_t room = HTTP_RESPONSE_MAX - call->response_len;
    size_t take = n < room ? n : room;
    if (take < n) {
        call->response_truncated = true;
    }
    if (take > 0) {
        char *grown = realloc(call->response, call->response_len + take + 1);
        if (grown == NULL) {
            return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
        }
        call->response = grown;
        memcpy(call->response + call->response_len, data, take);
        call->response_len += take;
        call->response[call->response_len] = '\0';
    }
    /* Past the cap the transfer stops: the status and the first bytes are
     * the answer, and a receiver sending megabytes more (a hostile one) does
     * not hold this child's bandwidth and time. finish_done reads the
     * CURLE_WRITE_ERROR this causes as the answer it is. */
    return take < n ? 0 : n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
    http_call_t *call = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        char value[32];
        size_t len = n - (sizeof(name) - 1);
        len = len < sizeof(value) - 1 ? len : sizeof(value) - 1;
        memcpy(value, data + sizeof(name) - 1, len);
        value[len] = '\0';
        char *end = NULL;
        long secs = strtol(value, &end, 10);
        if (end != value && secs >= 0) {
            call->retry_after_seconds = secs;
        }
    }
    return n;
}

http_call_t *http_call_new(const http_client_t *client, const char *url, const char *body,
                           size_t body_len)
{
    http_call_t *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        return NULL;
    }
    call->retry_after_seconds = -1;
    call->easy = curl_easy_init();
    call->request_body = malloc(body_len + 1);
    if (call->easy == NULL || call->request_body == NULL) {
        http_call_free(call);
        return NULL;
    }
    memcpy(call->request_body, body, body_len);
    call->request_body[body_len] = '\0';

    CURL *e = call->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->request_body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, client->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, client->connect_timeout_ms);
    /* A provider answers; it does not send us elsewhere. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "WaveCom/0.1");
    if (client->ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, client->ca_file);
    }
    return call;
}

int http_call_header(http_call_t *call, const char *header_line)
{
    struct curl_slist *next = curl_slist_append(call->headers, header_line);
    if (next == NULL) {
        return -1;
    }
    call->headers = next;
    return 0;
}

void http_call_want_http2(http_call_t *call)
{
    curl_easy_setopt(call->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(call->easy, CURLOPT_PIPEWAIT, 1L);
}

int http_call_pin(http_call_t *call, const char *entry)
{
    struct curl_slist *next = curl_slist_append(call->resolve, entry);
    if (next == NULL) {
        return -1;
    }
    call->resolve = next;
    return curl_easy_setopt(call->easy, CURLOPT_RESOLVE, call->resolve) == CURLE_OK ? 0 : -1;
}

static curl_socket_t open_guarded_socket(void *arg, curlsocktype purpose,
                                         struct curl_sockaddr *address)
{
    http_call_t *call = arg;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        wc_addr_refused(wc_addr_classify(&address->addr), call->allow_loopback)) {
        call->destination_refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void http_call_guard(http_call_t *call, bool allow_loopback)
{
    call->guarded = true;
    call->allow_loopback = allow_loopback;
    curl_easy_setopt(call->easy, CURLOPT_OPENSOCKETFUNCTION, open_guarded_socket);
    curl_easy_setopt(call->easy, CURLOPT_OPENSOCKETDATA, call);
}

void http_call_basic_auth(http_call_t *call, const char *user, const char *password)
{
    curl_easy_setopt(call->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(call->easy, CURLOPT_USERNAME, user);
    curl_easy_setopt(call->easy, CURLOPT_PASSWORD, password);
}

void http_call_free(http_call_t *call)
{
    if (call == NULL) {
        return;
    }
    if (call->easy != NULL) {
        curl_easy_cleanup(call->easy);
    }
    curl_slist_free_all(call->headers);
    curl_slist_free_all(call->resolve);
    free(call->request_body);
    free(call->response);
    free(call);
}

int http_client_start(http_client_t *c, http_call_t *call, http_done_fn done, void *arg)
{
    call->done = done;
    call->arg = arg;
    curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers);
    CURLMcode rc = curl_multi_add_handle(c->multi, call->easy);
    if (rc != CURLM_OK) {
        wc_log_error("curl_multi_add_handle: %s", curl_multi_strerror(rc));
        return -1;
    }
    c->in_flight++;
    return 0;
}

static void finish_done(http_client_t *c)
{
    int queued = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(c->multi, &queued)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *easy = msg->easy_handle;
        http_call_t *call = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
        call->result = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &call->status);
        if (call->result == CURLE_WRITE_ERROR && call->response_truncated && call->status > 0) {
            call->result = CURLE_OK; /* stopped at the cap (on_body), not failed */
        }
        curl_multi_remove_handle(c->multi, easy);
        c->in_flight--;
        call->done(call, call->arg);
    }
}

int http_client_run(http_client_t *c, int timeout_ms, const int *extra_fds, size_t extra_count)
{
    struct curl_waitfd extra[HTTP_CLIENT_MAX_EXTRA_FDS];
    unsigned n = 0;
    for (size_t i = 0; i < extra_count && n < HTTP_CLIENT_MAX_EXTRA_FDS; i++) {
        if (extra_fds[i] >= 0) {
            extra[n++] = (struct curl_waitfd){.fd = extra_fds[i], .events = CURL_WAIT_POLLIN};
        }
    }
    int running = 0;
    curl_multi_perform(c->multi, &running);
    finish_done(c);
    CURLMcode rc = curl_multi_poll(c->multi, n > 0 ? extra : NULL, n, timeout_ms, NULL);
    if (rc != CURLM_OK) {
        wc_log_error("curl_multi_poll: %s", curl_multi_strerror(rc));
    }
    curl_multi_perform(c->multi, &running);
    finish_done(c);
    return c->in_flight;
}

int http_client_in_flight(const http_client_t *c) { return c->in_flight; }
