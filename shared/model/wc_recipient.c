#include "wc_recipient.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EMAIL_MAX_BYTES 254

static bool is_atext(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* How many labels the DNS name d[0..len) has when it is 1 to 253 characters
 * of LDH labels (letters, digits, inner hyphens; 1 to 63 each); 0 otherwise. */
static size_t dns_labels(const char *d, size_t len)
{
    if (len == 0 || len > 253) {
        return 0;
    }
    size_t labels = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || d[i] == '.') {
            size_t label_len = i - start;
            if (label_len == 0 || label_len > 63 || d[start] == '-' || d[i - 1] == '-') {
                return 0;
            }
            labels++;
            start = i + 1;
        } else if (!isalnum((unsigned char)d[i]) && d[i] != '-') {
            return 0;
        }
    }
    return labels;
}

/* A DNS name of LDH labels; at least two labels, the last not all digits
 * (which also rules out bare IPv4 addresses). */
static bool domain_valid(const char *d, size_t len)
{
    size_t labels = dns_labels(d, len);
    const char *tld = d + len;
    while (tld > d && tld[-1] != '.') {
        tld--;
    }
    if (labels < 2) {
        return false;
    }
    bool all_digits = true;
    for (const char *p = tld; p < d + len; p++) {
        all_digits = all_digits && isdigit((unsigned char)*p);
    }
    return !all_digits;
}

bool wc_email_address_valid(const char *address)
{
    size_t len = strlen(address);
    if (len < 3 || len > EMAIL_MAX_BYTES) {
        return false;
    }
    const char *at = strrchr(address, '@');
    if (at == NULL || at == address) {
        return false;
    }
    size_t local_len = (size_t)(at - address);
    if (local_len > 64 || address[0] == '.' || at[-1] == '.') {
        return false;
    }
    for (size_t i = 0; i < local_len; i++) {
        unsigned char c = (unsigned char)address[i];
        if (c == '.') {
            if (address[i + 1] == '.') {
                return false;
            }
        } else if (!is_atext(c)) {
            return false;
        }
    }
    return domain_valid(at + 1, len - local_len - 1);
}

bool wc_e164_valid(const char *number)
{
    if (number[0] != '+' || number[1] < '1' || number[1] > '9') {
        return false;
    }
    size_t digits = 0;
    for (const char *p = number + 1; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        digits++;
    }
    return digits >= 8 && digits <= 15;
}

int wc_push_platform_parse(const char *name, wc_push_platform_t *out)
{
    if (strcmp(name, "fcm") == 0) {
        *out = WC_PUSH_FCM;
        return 0;
    }
    if (strcmp(name, "apns") == 0) {
        *out = WC_PUSH_APNS;
        return 0;
    }
    return -1;
}

const char *wc_push_platform_name(wc_push_platform_t platform)
{
    return platform == WC_PUSH_APNS ? "apns" : "fcm";
}

bool wc_push_token_valid(const char *token, wc_push_platform_t platform)
{
    size_t len = strlen(token);
    if (platform == WC_PUSH_APNS) {
        if (len < WC_APNS_TOKEN_MIN_CHARS || len > WC_APNS_TOKEN_MAX_CHARS) {
            return false;
        }
        for (size_t i = 0; i < len; i++) {
            if (!isxdigit((unsigned char)token[i])) {
                return false;
            }
        }
        return true;
    }
    if (len == 0 || len > WC_PUSH_TOKEN_MAX_CHARS) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];
        if (!isalnum(c) && strchr("_:.-", c) == NULL) {
            return false;
        }
    }
    return true;
}

/* RFC 3986 characters allowed in a path or query as they are. */
static bool url_char(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c) != NULL);
}

/* A host: a DNS name of LDH labels (one label is enough: "localhost"), an
 * IPv4 address, or an IPv6 address in brackets. */
static bool url_host_valid(const char *h, size_t len)
{
    if (len == 0 || len > 253) {
        return false;
    }
    if (h[0] == '[') {
        if (len < 4 || h[len - 1] != ']') {
            return false;
        }
        for (size_t i = 1; i + 1 < len; i++) {
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.') {
                return false;
            }
        }
        return true;
    }
    return dns_labels(h, len) > 0;
}

wc_url_check_t wc_webhook_url_check(const char *url, bool allow_http)
{
    size_t len = strlen(url);
    if (len == 0 || len > WC_WEBHOOK_URL_MAX_CHARS) {
        return WC_URL_LENGTH;
    }
    const char *rest = NULL;
    if (strncasecmp(url, "https://", 8) == 0) {
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        if (!allow_http) {
            return WC_URL_SCHEME;
        }
        rest = url + 7;
    } else {
        return strstr(url, "://") != NULL ? WC_URL_SCHEME : WC_URL_SYNTAX;
    }
    if (strchr(url, '#') != NULL) {
        return WC_URL_FRAGMENT;
    }
    /* The authority ends at the first '/', '?' (or the end). */
    size_t auth_len = strcspn(rest, "/?");
    if (memchr(rest, '@', auth_len) != NULL) {
        return WC_URL_USERINFO;
    }
    /* The port follows the last ':' outside IPv6 brackets. */
    const char *auth_end = rest + auth_len;
    const char *host_end = auth_end;
    const char *bracket = memchr(rest, ']', auth_len);
    const char *colon = NULL;
    for (const char *p = bracket != NULL ? bracket : rest; p < auth_end; p++) {
        if (*p == ':') {
            colon = p;
        }
    }
    if (colon != NULL) {
        host_end = colon;
        size_t digits = (size_t)(auth_end - colon - 1);
        if (digits == 0 || digits > 5) {
            return WC_URL_PORT;
        }
        long port = 0;
        for (const char *p = colon + 1; p < auth_end; p++) {
            if (!isdigit((unsigned char)*p)) {
                return WC_URL_PORT;
            }
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) {
            return WC_URL_PORT;
        }
    }
    if (!url_host_valid(rest, (size_t)(host_end - rest))) {
        return WC_URL_HOST;
    }
    for (const unsigned char *p = (const unsigned char *)auth_end; *p != '\0'; p++) {
        if (*p == '%') {
            if (!isxdigit(p[1]) || !isxdigit(p[2])) {
                return WC_URL_SYNTAX;
            }
            p += 2;
        } else if (!url_char(*p)) {
            return WC_URL_SYNTAX;
        }
    }
    return WC_URL_OK;
}

const char *wc_url_check_describe(wc_url_check_t check)
{
    switch (check) {
    case WC_URL_OK:
        return "valid";
    case WC_URL_LENGTH:
        return "must be 1 to 2048 characters";
    case WC_URL_SCHEME:
        return "must be an https:// URL";
    case WC_URL_SYNTAX:
        return "must be scheme://host[:port][/path][?query] with URL characters "
               "(percent-encode the others)";
    case WC_URL_USERINFO:
        return "must not carry credentials (user:password@)";
    case WC_URL_FRAGMENT:
        return "must not have a #fragment";
    case WC_URL_HOST:
        return "must name a valid host";
    case WC_URL_PORT:
        return "must have a port from 1 to 65535";
    }
    return "invalid";
}

const char *wc_url_check_rule(wc_url_check_t check)
{
    static const char *const rules[] = {
        [WC_URL_OK] = "url",           [WC_URL_LENGTH] = "url",        [WC_URL_SCHEME] = "scheme",
        [WC_URL_SYNTAX] = "url",       [WC_URL_USERINFO] = "userinfo", [WC_URL_FRAGMENT] = "fragment",
        [WC_URL_HOST] = "url",         [WC_URL_PORT] = "url",
    };
    return (size_t)check < sizeof(rules) / sizeof(rules[0]) ? rules[check] : "url";
}
