/*
 * The syntax of a recipient on each channel: an email address, a phone
 * number, a push device token, a webhook URL. Pure functions of their input;
 * none of them resolves or contacts anything.
 */
#ifndef WC_RECIPIENT_H
#define WC_RECIPIENT_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 mailbox in its common dot-atom form, local@domain: a local part of
 * at most 64 atext characters with single dots inside, a domain of at least
 * two LDH labels whose last is not all digits, 254 bytes in all. Quoted local
 * parts and address literals are refused on purpose: providers reject them. */
bool wc_email_address_valid(const char *address);

/* E.164: "+", then 8 to 15 digits, the first not 0. */
bool wc_e164_valid(const char *number);

typedef enum {
    WC_PUSH_FCM,
    WC_PUSH_APNS,
} wc_push_platform_t;

#define WC_PUSH_TOKEN_MAX_CHARS 4096
#define WC_APNS_TOKEN_MIN_CHARS 64
#define WC_APNS_TOKEN_MAX_CHARS 200

/* A device token: 1 to 4096 characters of A-Za-z0-9_:.- ; for APNs 64 to 200
 * hexadecimal digits. */
bool wc_push_token_valid(const char *token, wc_push_platform_t platform);

/* Parses "fcm" or "apns". Returns 0, or -1. */
int wc_push_platform_parse(const char *name, wc_push_platform_t *out);
const char *wc_push_platform_name(wc_push_platform_t platform);

#define WC_WEBHOOK_URL_MAX_CHARS 2048

typedef enum {
    WC_URL_OK,
    WC_URL_LENGTH,   /* empty, or longer than WC_WEBHOOK_URL_MAX_CHARS */
    WC_URL_SCHEME,   /* not https (or http where allowed) */
    WC_URL_SYNTAX,   /* not scheme://host[:port][/path][?query] of URL characters */
    WC_URL_USERINFO, /* credentials before the host */
    WC_URL_FRAGMENT, /* a #fragment, which is never sent to the server */
    WC_URL_HOST,     /* missing or malformed host */
    WC_URL_PORT,     /* port not 1-65535 */
} wc_url_check_t;

/* Checks a webhook target URL. `allow_http` admits http:// (loopback test
 * doubles); https:// is always admitted. The scheme is case-insensitive. */
wc_url_check_t wc_webhook_url_check(const char *url, bool allow_http);

/* A sentence describing a wc_url_check_t failure, for error messages. */
const char *wc_url_check_describe(wc_url_check_t check);

/* The rule name a wc_url_check_t failure is reported under (url, scheme,
 * userinfo, fragment). */
const char *wc_url_check_rule(wc_url_check_t check);

#endif
