/*
 * Many HTTP requests in flight at once on one thread, through libcurl's multi
 * interface: connections are reused per host, HTTP/2 streams are multiplexed
 * (APNs), and every request is bounded by a timeout.
 */
#ifndef WORKER_HTTP_CLIENT_H
#define WORKER_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct http_client http_client_t;
typedef struct http_call http_call_t;

typedef void (*http_done_fn)(http_call_t *call, void *arg);

/* One request and, once done, its response. Owned by the caller from
 * http_call_new until http_call_free; the client only borrows it in flight. */
struct http_call {
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *resolve; /* the pinned address (http_call_pin), or NULL */
    bool guarded;               /* every socket's address is checked (http_call_guard) */
    bool allow_loopback;        /* with `guarded`: loopback may be reached */
    bool destination_refused;   /* a socket was refused by that check: never retry */
    char *request_body;
    char *response;          /* NUL-terminated, at most HTTP_RESPONSE_MAX bytes */
    size_t response_len;
    bool response_truncated; /* the body went past HTTP_RESPONSE_MAX: the transfer stopped there */
    long status;             /* HTTP status, 0 when no response */
    CURLcode result;         /* transport outcome */
    char error[CURL_ERROR_SIZE];
    long retry_after_seconds; /* from a Retry-After header in seconds form, else -1 */
    http_done_fn done;
    void *arg;
};

#define HTTP_RESPONSE_MAX 65536

typedef struct {
    const char *ca_file;   /* extra CA bundle (test doubles' certificate); NULL for the system's */
    long timeout_ms;       /* whole-request bound */
    long connect_timeout_ms;
} http_client_options_t;

http_client_t *http_client_new(const http_client_options_t *opts);
void http_client_free(http_client_t *client);

/* A POST of `body` (copied) to `url`. Headers are added with http_call_header.
 * Returns NULL when out of memory. */
http_call_t *http_call_new(const http_client_t *client, const char *url, const char *body,
                           size_t body_len);
int http_call_header(http_call_t *call, const char *header_line);
/* Asks for HTTP/2 (APNs requires it). */
void http_call_want_http2(http_call_t *call);
/* Connects to the address checked in advance: `entry` is a CURLOPT_RESOLVE
 * line "host:port:address" (wc_guard_webhook_url). Returns 0 or -1. */
int http_call_pin(http_call_t *call, const char *entry);
/* Checks the address of every socket the transfer opens, redirects and
 * proxies included, with the webhook rule (wc_addr_refused): a refused one
 * is never connected, the call ends with a transport error and
 * `destination_refused` set. */
void http_call_guard(http_call_t *call, bool allow_loopback);
/* HTTP basic authentication (Twilio). */
void http_call_basic_auth(http_call_t *call, const char *user, const char *password);
void http_call_free(http_call_t *call);

/* Starts `call`; `done(call, arg)` runs from http_client_run when it ends,
 * successfully or not. Returns 0, or -1 (and done is never called). */
int http_client_start(http_client_t *client, http_call_t *call, http_done_fn done, void *arg);

/* Most descriptors http_client_run waits on beside the transfers. */
#define HTTP_CLIENT_MAX_EXTRA_FDS 12

/* Waits up to `timeout_ms` for network activity on the transfers or for one
 * of the `extra_count` descriptors of `extra_fds` to become readable
 * (negative entries are skipped; at most HTTP_CLIENT_MAX_EXTRA_FDS are
 * watched), advances the transfers and runs the done callbacks of those that
 * finished. Returns the number still in flight. */
int http_client_run(http_client_t *client, int timeout_ms, const int *extra_fds,
                    size_t extra_count);

int http_client_in_flight(const http_client_t *client);

#endif
