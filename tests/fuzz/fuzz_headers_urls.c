/*
 * libFuzzer harness: the header and URL parsing the API and the worker do
 * on client-supplied text. The first byte picks the parser, the rest is the
 * NUL-terminated input:
 *   0 Accept-Encoding, 1 If-None-Match, 2 webhook URL rules, 3 the URL's host
 *   and port (libcurl's parser, as the SSRF guard uses it), 4 RFC 3339 times,
 *   5 email address, 6 E.164 number, 7 push token, 8 log masking, 9 a
 *   dashboard user's JWT.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "wc_jwt_verify.h"
#include "wc_log_redact.h"
#include "wc_netguard.h"
#include "wc_recipient.h"
#include "wc_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    char *text = malloc(size);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0'; /* headers arrive NUL-terminated from libmicrohttpd */
    switch (data[0] % 10) {
    case 0:
        (void)api_accepts_gzip(text);
        break;
    case 1: {
        char etag[API_ETAG_LEN];
        api_etag(text, strlen(text), etag);
        if (!api_etag_matches(etag, etag)) {
            abort(); /* a tag always matches itself */
        }
        (void)api_etag_matches(text, etag);
        break;
    }
    case 2:
        (void)wc_url_check_describe(wc_webhook_url_check(text, true));
        (void)wc_webhook_url_check(text, false);
        break;
    case 3: {
        char host[256];
        int port = 0;
        if (wc_url_host_port(text, host, sizeof(host), &port) == 0 && (port < 1 || port > 65535)) {
            abort();
        }
        break;
    }
    case 4: {
        int64_t ms = 0;
        char back[40];
        if (wc_time_parse_iso8601(text, &ms) == 0) {
            (void)wc_time_format_iso8601(ms, back, sizeof(back));
        }
        break;
    }
    case 5:
        (void)wc_email_address_valid(text);
        break;
    case 6:
        (void)wc_e164_valid(text);
        break;
    case 8: {
        char masked[512];
        wc_log_redact(text, masked, sizeof(masked));
        if (strlen(masked) >= sizeof(masked)) {
            abort();
        }
        break;
    }
    case 9: {
        wc_jwt_claims_t claims;
        const char *why = NULL;
        static const char secret[] = "0123456789abcdef0123456789abcdef";
        (void)wc_jwt_verify_hs256(text, secret, sizeof(secret) - 1, 1700000000, &claims, &why);
        break;
    }
    default:
        (void)wc_push_token_valid(text, WC_PUSH_FCM);
        (void)wc_push_token_valid(text, WC_PUSH_APNS);
        break;
    }
    free(text);
    return 0;
}
