#include "wc_netaddr.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static wc_addr_class_t classify_v4(uint32_t a) /* host byte order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
    if (b0 == 127) {
        return WC_ADDR_LOOPBACK;
    }
    if ((b0 == 169 && b1 == 254) /* link-local; AWS, GCP and Azure metadata */
        || a == 0x646464C8) {    /* 100.100.100.200: Alibaba Cloud metadata */
        return WC_ADDR_LINK_LOCAL;
    }
    if (b0 == 0                              /* "this" network, 0.0.0.0 */
        || b0 == 10                          /* private */
        || (b0 == 100 && (b1 & 0xC0) == 64)  /* 100.64/10 carrier-grade NAT */
        || (b0 == 172 && (b1 & 0xF0) == 16)  /* private */
        || (b0 == 192 && b1 == 168)          /* private */
        || (b0 == 192 && b1 == 0 && b2 == 0) /* 192.0.0/24 protocol assignments */
        || (b0 == 198 && (b1 & 0xFE) == 18)  /* 198.18/15 benchmarking */
        || b0 >= 224) {                      /* multicast, reserved, broadcast */
        return WC_ADDR_INTERNAL;
    }
    return WC_ADDR_PUBLIC;
}

static uint32_t v4_at(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* An address that carries an IPv4 one but is not itself it (6to4, NAT64)
 * is internal, and link-local when what it carries is. */
static wc_addr_class_t classify_carrier(uint32_t v4)
{
    return classify_v4(v4) == WC_ADDR_LINK_LOCAL ? WC_ADDR_LINK_LOCAL : WC_ADDR_INTERNAL;
}

static wc_addr_class_t classify_v6(const struct in6_addr *a)
{
    static const uint8_t aws_metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                             0,    0,    0,    0,    0, 0, 0x02, 0x54};
    const uint8_t *b = a->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
        return classify_v4(v4_at(b + 12));
    }
    if (IN6_IS_ADDR_LOOPBACK(a)) {
        return WC_ADDR_LOOPBACK;
    }
    if (IN6_IS_ADDR_LINKLOCAL(a) || memcmp(b, aws_metadata, sizeof(aws_metadata)) == 0) {
        return WC_ADDR_LINK_LOCAL;
    }
    if (b[0] == 0x20 && b[1] == 0x02) { /* 6to4: 2002:AABB:CCDD::/48 */
        return classify_carrier(v4_at(b + 2));
    }
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) { /* NAT64 64:ff9b::/96 */
        return classify_carrier(v4_at(b + 12));
    }
    if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
        (b[0] & 0xFE) == 0xFC                                           /* fc00::/7 unique local */
        || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)) { /* documentation */
        return WC_ADDR_INTERNAL;
    }
    return WC_ADDR_PUBLIC;
}

wc_addr_class_t wc_addr_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        return classify_v4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        return classify_v6(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    }
    return WC_ADDR_INTERNAL;
}

bool wc_addr_refused(wc_addr_class_t c, bool allow_loopback)
{
    return c != WC_ADDR_PUBLIC && !(c == WC_ADDR_LOOPBACK && allow_loopback);
}

const char *wc_addr_class_describe(wc_addr_class_t c)
{
    switch (c) {
    case WC_ADDR_PUBLIC:
        return "a public address";
    case WC_ADDR_LOOPBACK:
        return "a loopback address, which webhooks reach only with "
               "WAVECOM_WEBHOOK_ALLOW_LOOPBACK=1";
    case WC_ADDR_INTERNAL:
        return "a private, shared, multicast or reserved address, which webhooks never reach";
    case WC_ADDR_LINK_LOCAL:
        return "a link-local or cloud metadata address, which webhooks never reach";
    }
    return "an unknown address";
}

bool wc_addr_parse_literal(const char *host, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    char bare[64];
    /* A zone ("fe80::1%eth0") names an interface, not another address. */
    size_t n = strcspn(host, "%");
    if (n >= sizeof(bare)) {
        return false;
    }
    memcpy(bare, host, n);
    bare[n] = '\0';
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, bare, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        return true;
    }
    /* inet_aton, not inet_pton: the resolver takes every form it takes. */
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    if (host[n] == '\0' && inet_aton(bare, &in->sin_addr) != 0) {
        in->sin_family = AF_INET;
        return true;
    }
    memset(out, 0, sizeof(*out));
    return false;
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

wc_url_literal_t wc_url_literal_verdict(const char *url, bool allow_loopback, char *why,
                                        size_t why_len)
{
    char host[256];
    int port = 0;
    if (wc_url_host_port(url, host, sizeof(host), &port) != 0) {
        return WC_URL_BAD_HOST;
    }
    struct sockaddr_storage addr;
    if (!wc_addr_parse_literal(host, &addr)) {
        return WC_URL_NOT_REFUSED;
    }
    wc_addr_class_t c = wc_addr_classify((const struct sockaddr *)&addr);
    if (!wc_addr_refused(c, allow_loopback)) {
        return WC_URL_NOT_REFUSED;
    }
    snprintf(why, why_len, "the webhook URL's host %s is %s", host, wc_addr_class_describe(c));
    return WC_URL_LITERAL_REFUSED;
}
