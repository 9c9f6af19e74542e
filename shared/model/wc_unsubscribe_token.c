#include "wc_unsubscribe_token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_crypto.h"

/* Binds a MAC to its use: the same secret may one day sign something else. */
#define MAC_LABEL "wavecom-unsubscribe-v1\n"
#define MAC_LEN 32

/* Standard base64 made URL-safe: '+' and '/' become '-' and '_', no padding.
 * The length written, or -1. */
static int base64url_encode(const void *data, size_t len, char *out, size_t out_len)
{
    int n = wc_base64_encode(data, len, out, out_len);
    if (n < 0) {
        return -1;
    }
    while (n > 0 && out[n - 1] == '=') {
        out[--n] = '\0';
    }
    for (int i = 0; i < n; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return n;
}

/* The reverse; the bytes decoded, or -1 for anything but base64url. */
static int base64url_decode(const char *text, size_t text_len, unsigned char *out, size_t out_len)
{
    char standard[2 * WC_UNSUBSCRIBE_RECIPIENT_MAX];
    if (text_len + 3 >= sizeof(standard)) {
        return -1;
    }
    for (size_t i = 0; i < text_len; i++) {
        char c = text[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!plain && c != '-' && c != '_') {
            return -1;
        }
        standard[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t n = text_len;
    while (n % 4 != 0) {
        standard[n++] = '=';
    }
    standard[n] = '\0';
    return wc_base64_decode(standard, out, out_len);
}

static void mac_of(const char *secret, const char *signed_part, size_t len,
                   unsigned char mac[MAC_LEN])
{
    char data[WC_UNSUBSCRIBE_TOKEN_MAX + sizeof(MAC_LABEL)];
    memcpy(data, MAC_LABEL, sizeof(MAC_LABEL) - 1);
    memcpy(data + sizeof(MAC_LABEL) - 1, signed_part, len);
    wc_hmac_sha256(secret, strlen(secret), data, sizeof(MAC_LABEL) - 1 + len, mac);
}

int wc_unsubscribe_token_sign(const char *secret, const wc_unsubscribe_claims_t *claims,
                              char *out, size_t len)
{
    size_t recipient_len = strlen(claims->recipient);
    if (strchr(claims->tenant_id, '.') != NULL || claims->tenant_id[0] == '\0' ||
        recipient_len == 0 || recipient_len > WC_UNSUBSCRIBE_RECIPIENT_SIGNABLE ||
        claims->expires_s <= 0 || len > WC_UNSUBSCRIBE_TOKEN_MAX) {
        return -1;
    }
    char recipient[2 * WC_UNSUBSCRIBE_RECIPIENT_MAX];
    if (base64url_encode(claims->recipient, recipient_len, recipient, sizeof(recipient)) < 0) {
        return -1;
    }
    int n = snprintf(out, len, "%s.%s.%lld.%s", claims->tenant_id,
                     wc_channel_name(claims->channel), (long long)claims->expires_s, recipient);
    if (n < 0 || (size_t)n >= len) {
        return -1;
    }
    unsigned char mac[MAC_LEN];
    mac_of(secret, out, (size_t)n, mac);
    char encoded[64];
    int m = base64url_encode(mac, sizeof(mac), encoded, sizeof(encoded));
    if (m < 0 || (size_t)n + 1 + (size_t)m >= len) {
        return -1;
    }
    out[n] = '.';
    memcpy(out + n + 1, encoded, (size_t)m + 1);
    return 0;
}

/* Splits `token` at its four dots into five non-empty parts. */
static bool split(const char *token, const char *part[5], size_t part_len[5])
{
    const char *p = token;
    for (int i = 0; i < 5; i++) {
        const char *dot = i < 4 ? strchr(p, '.') : p + strlen(p);
        if (dot == NULL || dot == p) {
            return false;
        }
        part[i] = p;
        part_len[i] = (size_t)(dot - p);
        p = dot + 1;
    }
    return strchr(part[4], '.') == NULL;
}

wc_unsubscribe_status_t wc_unsubscribe_token_verify(const char *secret, const char *token,
                                                    int64_t now_s,
                                                    wc_unsubscribe_claims_t *claims)
{
    const char *part[5];
    size_t part_len[5];
    if (token == NULL || strlen(token) >= WC_UNSUBSCRIBE_TOKEN_MAX || !split(token, part, part_len)) {
        return WC_UNSUBSCRIBE_MALFORMED;
    }
    /* Compared as text: base64 leaves spare bits in its last character, and
     * a token that differs in any character must not pass. */
    unsigned char expected[MAC_LEN];
    mac_of(secret, token, (size_t)(part[4] - 1 - token), expected);
    char encoded[64];
    int m = base64url_encode(expected, sizeof(expected), encoded, sizeof(encoded));
    if (m < 0 || part_len[4] != (size_t)m) {
        return WC_UNSUBSCRIBE_MALFORMED;
    }
    if (CRYPTO_memcmp(part[4], encoded, (size_t)m) != 0) {
        return WC_UNSUBSCRIBE_BAD_SIGNATURE;
    }

    /* Signed by us: the fields are as we wrote them, but read them strictly. */
    memset(claims, 0, sizeof(*claims));
    char field[32];
    if (part_len[0] >= sizeof(claims->tenant_id) || part_len[1] >= sizeof(field) ||
        part_len[2] >= sizeof(field)) {
        return WC_UNSUBSCRIBE_MALFORMED;
    }
    memcpy(claims->tenant_id, part[0], part_len[0]);
    memcpy(field, part[1], part_len[1]);
    field[part_len[1]] = '\0';
    if (wc_channel_parse(field, &claims->channel) != 0) {
        return WC_UNSUBSCRIBE_MALFORMED;
    }
    memcpy(field, part[2], part_len[2]);
    field[part_len[2]] = '\0';
    char *end = NULL;
    long long expires = strtoll(field, &end, 10);
    if (end == field || *end != '\0' || expires <= 0) {
        return WC_UNSUBSCRIBE_MALFORMED;
    }
    claims->expires_s = expires;
    int n = base64url_decode(part[3], part_len[3], (unsigned char *)claims->recipient,
                             sizeof(claims->recipient) - 1);
    if (n <= 0 || memchr(claims->recipient, '\0', (size_t)n) != NULL) {
        return WC_UNSUBSCRIBE_MALFORMED;
    }
    claims->recipient[n] = '\0';
    return now_s >= claims->expires_s ? WC_UNSUBSCRIBE_EXPIRED : WC_UNSUBSCRIBE_VALID;
}
