/*
 * The token of an RFC 8058 one-click unsubscribe link (docs/ARCHITECTURE.md
 * §16): it names a tenant, a channel and a recipient, expires, and is signed
 * with HMAC-SHA256 under WAVECOM_UNSUBSCRIBE_SECRET, so that the API can act
 * on it without a login and without storing anything per link.
 *
 *   <tenant>.<CHANNEL>.<expiry, Unix seconds>.<recipient, base64url>.<mac, base64url>
 *
 * The MAC covers a fixed label and the four fields before it. Every part is
 * URL-safe, so the token goes into a query string as it is.
 */
#ifndef WC_UNSUBSCRIBE_TOKEN_H
#define WC_UNSUBSCRIBE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "wc_notification.h"

#define WC_UNSUBSCRIBE_TOKEN_MAX 1024
#define WC_UNSUBSCRIBE_TENANT_MAX 64
#define WC_UNSUBSCRIBE_RECIPIENT_MAX 512
/* The longest recipient a token names (its base64 decodes within the buffer). */
#define WC_UNSUBSCRIBE_RECIPIENT_SIGNABLE 380

typedef struct {
    char tenant_id[WC_UNSUBSCRIBE_TENANT_MAX];
    wc_channel_t channel;
    char recipient[WC_UNSUBSCRIBE_RECIPIENT_MAX];
    int64_t expires_s;
} wc_unsubscribe_claims_t;

typedef enum {
    WC_UNSUBSCRIBE_VALID,
    WC_UNSUBSCRIBE_MALFORMED,     /* not a token of this shape */
    WC_UNSUBSCRIBE_BAD_SIGNATURE, /* altered, or signed under another secret */
    WC_UNSUBSCRIBE_EXPIRED,       /* genuine, but past its expiry */
} wc_unsubscribe_status_t;

/* Writes the token for `claims` signed with `secret` into `out`. 0, or -1
 * when a field cannot be encoded (a tenant with '.', a recipient too long)
 * or `out` is too small. */
int wc_unsubscribe_token_sign(const char *secret, const wc_unsubscribe_claims_t *claims,
                              char *out, size_t len);

/* Checks `token` against `secret` at `now_s` and, when VALID, fills *claims.
 * The signature is compared in constant time and checked before the expiry,
 * so an altered token is never reported as merely expired. */
wc_unsubscribe_status_t wc_unsubscribe_token_verify(const char *secret, const char *token,
                                                    int64_t now_s,
                                                    wc_unsubscribe_claims_t *claims);

#endif
