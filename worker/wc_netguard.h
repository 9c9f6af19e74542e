/*
 * Where webhooks may go (SSRF): a webhook URL comes from a client, so unless
 * the operator allows it (WAVECOM_WEBHOOK_ALLOW_PRIVATE=1), it may not reach
 * the machine itself or its private networks: loopback, private (RFC 1918,
 * unique-local), link-local (cloud metadata at 169.254.169.254), carrier-grade
 * NAT, unspecified, multicast and reserved addresses are all refused. The
 * name is resolved once, every address it resolves to is checked, and the
 * connection is pinned to the checked address, so a second DNS answer
 * (rebinding) cannot point it elsewhere.
 */
#ifndef WC_NETGUARD_H
#define WC_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* True when `sa` (AF_INET or AF_INET6; IPv4-mapped IPv6 is judged by its
 * IPv4 address) is not a public unicast address. Any other family is
 * refused too. */
bool wc_addr_is_internal(const struct sockaddr *sa);

/* The host and port of an http(s) URL, through libcurl's URL parser: `host`
 * without IPv6 brackets, `port` explicit or the scheme's default. Returns 0,
 * or -1 for a URL without a host, with another scheme or one too long for
 * the buffers. */
int wc_url_host_port(const char *url, char *host, size_t host_len, int *port);

typedef enum {
    WC_GUARD_OK,         /* `pin` holds "host:port:address" for CURLOPT_RESOLVE */
    WC_GUARD_BLOCKED,    /* an address is internal; `why` says which */
    WC_GUARD_BAD_URL,    /* not an http(s) URL with a host */
    WC_GUARD_UNRESOLVED, /* the name does not resolve now (may be transient) */
} wc_guard_result_t;

/* Resolves the URL's host once and checks every address. On WC_GUARD_OK,
 * `pin` is the CURLOPT_RESOLVE entry that makes the transfer use the first
 * checked address. `why` (a human sentence) is set on every other result. */
wc_guard_result_t wc_guard_webhook_url(const char *url, char *pin, size_t pin_len, char *why,
                                       size_t why_len);

#endif
