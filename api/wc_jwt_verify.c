#include "wc_jwt_verify.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_crypto.h"
#include "wc_json.h"

#define PART_MAX 2048

static const char *const roles[] = {"admin", "operator", "sender", "viewer", NULL};

/* base64url (no padding) of n characters into `out`; returns the length or -1. */
static int b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_len)
{
    char text[PART_MAX + 4];
    if (n == 0 || n > PART_MAX || n % 4 == 1) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+' || c == '/' || c == '=') {
            return -1; /* not base64url */
        }
        text[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t len = n;
    while (len % 4 != 0) {
        text[len++] = '=';
    }
    text[len] = '\0';
    return wc_base64_decode(text, out, out_len);
}

static json_object *decode_json_part(const char *in, size_t n)
{
    unsigned char raw[PART_MAX];
    int len = b64url_decode(in, n, raw, sizeof(raw));
    if (len <= 0) {
        return NULL;
    }
    const char *ignored = NULL;
    json_object *obj = wc_json_parse_strict((const char *)raw, (size_t)len, &ignored);
    if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

static const char *string_claim(json_object *obj, const char *name)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

/* A whole number of seconds, or -1 when absent or not one. */
static int64_t time_claim(json_object *obj, const char *name)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_int)) {
        return -1;
    }
    int64_t t = json_object_get_int64(v);
    return t >= 0 ? t : -1;
}

int wc_jwt_verify_hs256(const char *token, const void *secret, size_t secret_len, int64_t now_s,
                        wc_jwt_claims_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        *why = "not a JWS compact token";
        return -1;
    }
    json_object *header = decode_json_part(token, (size_t)(dot1 - token));
    const char *alg = header != NULL ? string_claim(header, "alg") : NULL;
    bool hs256 = alg != NULL && strcmp(alg, "HS256") == 0;
    json_object_put(header);
    if (!hs256) {
        *why = "the token's algorithm is not HS256";
        return -1;
    }
    unsigned char sig[64];
    int sig_len = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig));
    unsigned char mac[32];
    wc_hmac_sha256(secret, secret_len, token, (size_t)(dot2 - token), mac);
    if (sig_len != 32 || CRYPTO_memcmp(sig, mac, 32) != 0) {
        *why = "bad signature";
        return -1;
    }
    json_object *claims = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (claims == NULL) {
        *why = "malformed claims";
        return -1;
    }
    int rc = -1;
    const char *tenant = string_claim(claims, "tenant");
    const char *role = string_claim(claims, "role");
    const char *sub = string_claim(claims, "sub");
    int64_t exp = time_claim(claims, "exp");
    int64_t nbf = time_claim(claims, "nbf");
    bool role_ok = false;
    for (const char *const *r = roles; role != NULL && *r != NULL; r++) {
        role_ok = role_ok || strcmp(*r, role) == 0;
    }
    if (tenant == NULL || strlen(tenant) == 0 || strlen(tenant) >= sizeof(out->tenant_id)) {
        *why = "no tenant claim";
    } else if (!role_ok) {
        *why = "no valid role claim";
    } else if (exp < 0 || exp <= now_s) {
        *why = "expired, or no exp claim";
    } else if (nbf > now_s) {
        *why = "not valid yet";
    } else if (sub != NULL && strlen(sub) >= sizeof(out->subject)) {
        *why = "sub claim too long";
    } else {
        memcpy(out->tenant_id, tenant, strlen(tenant) + 1);
        memcpy(out->role, role, strlen(role) + 1);
        snprintf(out->subject, sizeof(out->subject), "%s", sub != NULL ? sub : "");
        rc = 0;
    }
    json_object_put(claims);
    return rc;
}
