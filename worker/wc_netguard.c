#include "wc_netguard.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wc_guard_result_t wc_guard_webhook_url(const char *url, bool allow_loopback, char *pin,
                                       size_t pin_len, char *why, size_t why_len)
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
        wc_addr_class_t c = wc_addr_classify(ai->ai_addr);
        if (wc_addr_refused(c, allow_loopback)) {
            /* Every address must be allowed: a mixed answer is how rebinding starts. */
            snprintf(why, why_len, "webhook target blocked: %s is %s", text,
                     wc_addr_class_describe(c));
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
