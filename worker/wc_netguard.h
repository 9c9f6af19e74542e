/*
 * Where webhooks may go (SSRF), at delivery: a webhook URL comes from a
 * client, so its host is resolved on every attempt and every address it
 * resolves to must be one wc_netaddr.h allows (never link-local or cloud
 * metadata, never private or reserved, loopback only where the operator
 * allows it). The connection is then pinned to the checked address, so a
 * second DNS answer (rebinding) cannot point it elsewhere, and the socket the
 * transfer opens is checked once more (http_call_guard).
 */
#ifndef WC_NETGUARD_H
#define WC_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "wc_netaddr.h"

typedef enum {
    WC_GUARD_OK,         /* `pin` holds "host:port:address" for CURLOPT_RESOLVE */
    WC_GUARD_BLOCKED,    /* an address is refused; `why` says which */
    WC_GUARD_BAD_URL,    /* not an http(s) URL with a host */
    WC_GUARD_UNRESOLVED, /* the name does not resolve now (may be transient) */
} wc_guard_result_t;

/* Resolves the URL's host once and checks every address, allowing loopback
 * when `allow_loopback`. On WC_GUARD_OK, `pin` is the CURLOPT_RESOLVE entry
 * that makes the transfer use the first checked address. `why` (a human
 * sentence) is set on every other result. */
wc_guard_result_t wc_guard_webhook_url(const char *url, bool allow_loopback, char *pin,
                                       size_t pin_len, char *why, size_t why_len);

#endif
