#include "wc_netguard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool v4_internal(uint32_t a) /* host byte order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    return b0 == 0                                /* "this" network, 0.0.0.0 */
           || b0 == 10                            /* private */
           || b0 == 127                           /* loopback */
           || (b0 == 100 && (b1 & 0xC0) == 64)    /* 100.64/10 carrier-grade NAT */
           || (b0 == 169 && b1 == 254)            /* link-local, cloud metadata */
           || (b0 == 172 && (b1 & 0xF0) == 16)    /* private */
           || (b0 == 192 && b1 == 168)            /* private */
           || (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0) /* 192.0.0/24 protocol assignments */
           || (b0 == 198 && (b1 & 0xFE) == 18)    /* 198.18/15 benchmarking */
           || b0 >= 224;                          /* multicast, reserved, broadcast */
}

bool wc_addr_is_internal(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_internal(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6) {
        return true;
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    const uint8_t *b = a->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
        uint32_t v4 = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15];
        return v4_internal(v4);
    }
    return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
           IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
           (b[0] & 0xFE) == 0xFC                              /* fc00::/7 unique local */
           || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* documentation */
           || (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) /* NAT64 */
           || (b[0] == 0x20 && b[1] == 0x02);                 /* 6to4: embeds any IPv4 */
}

int wc_url_host_port(const char *url, char *host, size_t host_len, int *port)
{
    CURLU *u = curl_url();
    if (u == NULL) {
        return -1;
    }
    char *scheme = NULL, *h = NULL, *p = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        goto out;
    }
    const char *bare = h;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        bare = h + 1;
        n -= 2;
    }
    char *end = NULL;
    long port_value = strtol(p, &end, 10);
    if (n == 0 || n >= host_len || *end != '\0' || port_value < 1 || port_value > 65535) {
        goto out;
    }
    memcpy(host, bare, n);
    host[n] = '\0';
    *port = (int)port_value;
    rc = 0;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

wc_guard_result_t wc_guard_webhook_url(const char *url, char *pin, size_t pin_len, char *why,
                                       size_t why_len)
{
    char host[256];
    int port = 0;
    if (wc_url_host_port(url, host, sizeof(host), &port) != 0) {
        snprintf(why, why_len, "the webhook URL is not an http(s) URL with a host");
        return WC_GUARD_BAD_URL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0 || res == NULL) {
        snprintf(why, why_len, "the webhook host does not resolve: %s", gai_strerror(gai));
        return WC_GUARD_UNRESOLVED;
    }
    wc_guard_result_t result = WC_GUARD_OK;
    char first[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = "?";
        const void *addr = ai->ai_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            inet_ntop(ai->ai_family, addr, text, sizeof(text));
        }
        if (wc_addr_is_internal(ai->ai_addr)) {
            /* Every address must be public: a mixed answer is how rebinding starts. */
            snprintf(why, why_len,
                     "webhook target blocked: %s is a loopback, private, link-local or reserved "
                     "address (WAVECOM_WEBHOOK_ALLOW_PRIVATE)",
                     text);
            result = WC_GUARD_BLOCKED;
            break;
        }
        if (first[0] == '\0') {
            snprintf(first, sizeof(first), "%s", text);
        }
    }
    freeaddrinfo(res);
    if (result != WC_GUARD_OK) {
        return result;
    }
    /* CURLOPT_RESOLVE wants IPv6 addresses in brackets. */
    bool v6 = strchr(first, ':') != NULL;
    int n = snprintf(pin, pin_len, "%s:%d:%s%s%s", host, port, v6 ? "[" : "", first, v6 ? "]" : "");
    if (n < 0 || (size_t)n >= pin_len) {
        snprintf(why, why_len, "the webhook host name is too long");
        return WC_GUARD_BAD_URL;
    }
    return WC_GUARD_OK;
}
