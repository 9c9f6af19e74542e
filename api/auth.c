#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "request.h"
#include "wc_crypto.h"
#include "wc_jwt_verify.h"
#include "wc_log.h"
#include "wc_store_quota.h"
#include "wc_time.h"

/* Longer values are not keys we issued; refusing them early bounds the work. */
#define MAX_KEY_LEN 128
#define MAX_JWT_LEN 4096

/* With WAVECOM_API_AUTH_CACHE_SECONDS > 0 a key's principal is remembered that
 * long (by the key's hash, never the key), trading that much delay in a
 * revocation for one database round trip less per request. The cache holds
 * strings: the principal's bytes in hex, so that every field it gains is
 * cached without a format to keep in step. */
static bool cached_principal(api_context_t *ctx, const char *hash, wc_principal_t *out)
{
    char *value = api_cache_get(ctx->auth_cache, hash, wc_time_now_ms());
    if (value == NULL) {
        return false;
    }
    bool ok = strlen(value) == 2 * sizeof(*out);
    unsigned char *bytes = (unsigned char *)out;
    for (size_t i = 0; ok && i < sizeof(*out); i++) {
        unsigned v = 0;
        ok = sscanf(value + 2 * i, "%2x", &v) == 1;
        bytes[i] = (unsigned char)v;
    }
    free(value);
    return ok;
}

static void cache_principal(api_context_t *ctx, const char *hash, const wc_principal_t *p)
{
    char value[2 * sizeof(*p) + 1];
    const unsigned char *bytes = (const unsigned char *)p;
    for (size_t i = 0; i < sizeof(*p); i++) {
        snprintf(value + 2 * i, 3, "%02x", bytes[i]);
    }
    api_cache_put(ctx->auth_cache, hash, value,
                  wc_time_now_ms() + ctx->cfg->api_auth_cache_seconds * 1000LL);
}

/* A dashboard user's HS256 JWT (WAVECOM_JWT_SECRET), for an enabled tenant. */
static api_auth_result_t jwt_principal(api_context_t *ctx, const char *token, wc_principal_t *out)
{
    const char *secret = ctx->cfg->jwt_secret;
    if (secret[0] == '\0' || strlen(token) > MAX_JWT_LEN) {
        return API_AUTH_INVALID;
    }
    wc_jwt_claims_t claims;
    const char *why = NULL;
    if (wc_jwt_verify_hs256(token, secret, strlen(secret), wc_time_now_ms() / 1000, &claims, &why) !=
        0) {
        wc_log_debug("JWT refused: %s", why);
        return API_AUTH_INVALID;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", claims.tenant_id);
    snprintf(out->role, sizeof(out->role), "%s", claims.role);
    snprintf(out->jwt_subject, sizeof(out->jwt_subject), "%s",
             claims.subject[0] != '\0' ? claims.subject : "-");
    wc_quota_init(&out->key_quota); /* a user has no key, so no key quota */
    /* Rate limits per "key" apply per user: a bucket named by the subject's hash. */
    char subject_hash[WC_SHA256_HEX_LEN];
    char name[96];
    snprintf(name, sizeof(name), "jwt:%s:%s", out->tenant_id, out->jwt_subject);
    wc_sha256_hex(name, strlen(name), subject_hash);
    snprintf(out->key_id, sizeof(out->key_id), "%.16s", subject_hash);
    switch (wc_store_enabled_tenant_limits(ctx->store, out->tenant_id, &out->limits)) {
    case WC_STORE_OK:
        return API_AUTH_OK;
    case WC_STORE_ERROR:
        return API_AUTH_UNAVAILABLE;
    default:
        return API_AUTH_INVALID;
    }
}

api_auth_result_t api_authenticate(api_context_t *ctx, const api_request_t *req,
                                   wc_principal_t *out)
{
    const char *header = api_request_header(req, "Authorization");
    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
        return API_AUTH_MISSING;
    }
    const char *key = header + 7;
    while (*key == ' ') {
        key++;
    }
    size_t len = strlen(key);
    if (len == 0) {
        return API_AUTH_MISSING;
    }
    if (strncmp(key, "wck_", 4) != 0 && strchr(key, '.') != NULL) {
        return jwt_principal(ctx, key, out);
    }
    if (len > MAX_KEY_LEN) {
        return API_AUTH_INVALID;
    }
    bool caching = ctx->auth_cache != NULL && ctx->cfg->api_auth_cache_seconds > 0;
    char hash[WC_SHA256_HEX_LEN] = "";
    if (caching) {
        wc_sha256_hex(key, len, hash);
        if (cached_principal(ctx, hash, out)) {
            return API_AUTH_OK;
        }
    }
    switch (wc_store_authenticate(ctx->store, key, out)) {
    case WC_STORE_OK:
        if (caching) {
            cache_principal(ctx, hash, out);
        }
        return API_AUTH_OK;
    case WC_STORE_NOT_FOUND:
    case WC_STORE_CONFLICT:
        return API_AUTH_INVALID;
    case WC_STORE_ERROR:
        break;
    }
    return API_AUTH_UNAVAILABLE;
}
