/*
 * Which network addresses a webhook may reach (SSRF): one classifier and one
 * rule, used at intake for a URL whose host is an IP literal and by the
 * worker for every address a host name resolves to when it connects
 * (docs/ARCHITECTURE.md §4, docs/API.md "Webhook targets").
 *
 * Link-local addresses and the cloud metadata services are never reachable,
 * whatever the operator allows: a metadata service hands out the machine's
 * credentials. Loopback is reachable only where the operator allows it (the
 * local stack's provider doubles listen there); every other private,
 * reserved or special range is never reachable. An IPv6 address that embeds
 * an IPv4 one (IPv4-mapped, IPv4-compatible) is judged by that IPv4 address.
 */
#ifndef WC_NETADDR_H
#define WC_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    WC_ADDR_PUBLIC,     /* global unicast */
    WC_ADDR_LOOPBACK,   /* 127.0.0.0/8, ::1 */
    WC_ADDR_INTERNAL,   /* private, CGNAT, unspecified, multicast, reserved, 6to4, NAT64 */
    WC_ADDR_LINK_LOCAL, /* 169.254.0.0/16, fe80::/10 and the cloud metadata addresses */
} wc_addr_class_t;

/* The class of `sa` (AF_INET or AF_INET6); any other family is
 * WC_ADDR_INTERNAL. */
wc_addr_class_t wc_addr_classify(const struct sockaddr *sa);

/* The rule: whether a webhook may not reach an address of class `c`, given
 * whether the operator allows loopback (WAVECOM_WEBHOOK_ALLOW_LOOPBACK). */
bool wc_addr_refused(wc_addr_class_t c, bool allow_loopback);

/* A phrase naming class `c` for messages ("a link-local or cloud metadata
 * address"). */
const char *wc_addr_class_describe(wc_addr_class_t c);

/* Parses `host` (no brackets) as an IP literal the way the C library's
 * resolver would: an IPv6 address, or an IPv4 address in any inet_aton form
 * (dotted, one 32-bit number in decimal, 0x hex or 0 octal, or the short
 * forms "127.1", "10.1.1"). Returns true and fills `out` (port 0) for a
 * literal, false for a host name. */
bool wc_addr_parse_literal(const char *host, struct sockaddr_storage *out);

/* The host and port of an http(s) URL, through libcurl's URL parser (the one
 * the transfer itself uses): `host` without IPv6 brackets, `port` explicit
 * or the scheme's default. Returns 0, or -1 for a URL without a host, with
 * another scheme or one too long for the buffers. */
int wc_url_host_port(const char *url, char *host, size_t host_len, int *port);

/* What can be said of a webhook URL's destination without resolving a name:
 * WC_URL_LITERAL_REFUSED when its host is an IP literal the guard refuses
 * (`why` says which class), WC_URL_BAD_HOST when it has no host to judge,
 * WC_URL_NOT_REFUSED otherwise (an allowed literal, or a host name, which is
 * judged when it is resolved, on every delivery attempt). */
typedef enum { WC_URL_NOT_REFUSED, WC_URL_LITERAL_REFUSED, WC_URL_BAD_HOST } wc_url_literal_t;
wc_url_literal_t wc_url_literal_verdict(const char *url, bool allow_loopback, char *why,
                                        size_t why_len);

#endif
