#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "wc_crypto.h"
#include "wc_log.h"
#include "wc_secretbox.h"
#include "wc_store_endpoints.h"
#include "wc_store_private.h"
#include "wc_store_quota.h"
#include "wc_time.h"

/* Keys are "wck_" and 48 hex digits (192 random bits): unguessable, and
 * recognisable when one leaks into a log or a repository. */
#define API_KEY_PREFIX "wck_"
#define API_KEY_RANDOM_BYTES 24

/* Webhook signing secrets follow the Standard Webhooks form: "whsec_" and the
 * base64 of 24 random bytes. Tenants and endpoints draw them here. */
#define WEBHOOK_SECRET_BYTES 24
#define WEBHOOK_SECRET_LEN (6 + 4 * ((WEBHOOK_SECRET_BYTES + 2) / 3) + 1)
_Static_assert(WEBHOOK_SECRET_LEN <= WC_WEBHOOK_SECRET_SIZE, "room for a webhook secret");

bool wc_key_hint_valid(const char *text)
{
    if (text == NULL || strlen(text) != WC_KEY_HINT_SIZE - 1 ||
        strncmp(text, API_KEY_PREFIX, strlen(API_KEY_PREFIX)) != 0) {
        return false;
    }
    return strspn(text + strlen(API_KEY_PREFIX), "0123456789abcdef") ==
           WC_KEY_HINT_SIZE - 1 - strlen(API_KEY_PREFIX);
}

int wc_store_set_secrets_key(wc_store_t *store, const char *hex)
{
    store->has_secrets_key = false;
    if (hex == NULL || hex[0] == '\0') {
        return 0;
    }
    if (wc_secretbox_key_parse(hex, store->secrets_key) != 0) {
        return -1;
    }
    store->has_secrets_key = true;
    return 0;
}

int wc_store_new_webhook_secret(char out[WC_WEBHOOK_SECRET_SIZE])
{
    unsigned char raw[WEBHOOK_SECRET_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }
    memcpy(out, "whsec_", 6);
    int n = wc_base64_encode(raw, sizeof(raw), out + 6, WEBHOOK_SECRET_LEN - 6);
    OPENSSL_cleanse(raw, sizeof(raw));
    return n < 0 ? -1 : 0;
}

wc_store_status_t wc_store_tenant_webhook_secret(wc_store_t *store, const char *tenant_id,
                                                 char *out, size_t out_len)
{
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_by_id(store, WC_COLL_TENANTS, tenant_id, &doc);
    if (status != WC_STORE_OK) {
        return status;
    }
    const char *secret = wc_doc_string(doc, "webhookSecret");
    if (secret == NULL) {
        status = WC_STORE_NOT_FOUND;
    } else if (wc_secretbox_open(store->has_secrets_key ? store->secrets_key : NULL, secret, out,
                                 out_len) != 0) {
        wc_log_error("the webhook secret of tenant %s cannot be opened (WAVECOM_SECRETS_KEY)",
                     tenant_id);
        status = WC_STORE_NOT_FOUND;
    }
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_create_tenant(wc_store_t *store, const char *name, char id_out[25])
{
    bson_oid_t id;
    bson_oid_init(&id, NULL);
    /* Tenant ids are strings: they are copied into every document and every
     * queue message, and read by people. */
    char hex[25];
    bson_oid_to_string(&id, hex);
    char secret[WC_WEBHOOK_SECRET_SIZE];
    char sealed[256];
    if (wc_store_new_webhook_secret(secret) != 0 ||
        (store->has_secrets_key &&
         wc_secretbox_seal(store->secrets_key, secret, sealed, sizeof(sealed)) != 0)) {
        return WC_STORE_ERROR;
    }
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(hex), "name", BCON_UTF8(name), "disabled",
                           BCON_BOOL(false), "webhookSecret",
                           BCON_UTF8(store->has_secrets_key ? sealed : secret), "createdAt",
                           BCON_DATE_TIME(wc_time_now_ms()));
    wc_store_status_t status = wc_store_insert(store, WC_COLL_TENANTS, doc);
    bson_destroy(doc);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (status == WC_STORE_OK) {
        memcpy(id_out, hex, sizeof(hex));
    }
    return status;
}

static wc_store_status_t find_enabled_tenant(wc_store_t *store, const char *tenant_id)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(tenant_id), "disabled", BCON_BOOL(false));
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_one(store, WC_COLL_TENANTS, filter, &doc);
    bson_destroy(filter);
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_create_api_key(wc_store_t *store, const char *tenant_id,
                                          const char *role, const char *name, char *key_out,
                                          size_t key_len)
{
    wc_store_status_t status = find_enabled_tenant(store, tenant_id);
    if (status != WC_STORE_OK) {
        return status;
    }

    char random[2 * API_KEY_RANDOM_BYTES + 1];
    char key[sizeof(API_KEY_PREFIX) + sizeof(random)];
    if (key_len < sizeof(key) || wc_random_hex(API_KEY_RANDOM_BYTES, random, sizeof(random)) != 0) {
        return WC_STORE_ERROR;
    }
    snprintf(key, sizeof(key), "%s%s", API_KEY_PREFIX, random);

    char hash[WC_SHA256_HEX_LEN];
    wc_sha256_hex(key, strlen(key), hash);
    /* The first characters identify a key in listings without revealing it. */
    char hint[13];
    snprintf(hint, sizeof(hint), "%.12s", key);

    bson_t *doc = BCON_NEW("_id", BCON_UTF8(hash), "tenantId", BCON_UTF8(tenant_id), "role",
                           BCON_UTF8(role), "name", BCON_UTF8(name), "hint", BCON_UTF8(hint),
                           "revoked", BCON_BOOL(false), "createdAt",
                           BCON_DATE_TIME(wc_time_now_ms()));
    status = wc_store_insert(store, WC_COLL_API_KEYS, doc);
    bson_destroy(doc);
    if (status == WC_STORE_OK) {
        snprintf(key_out, key_len, "%s", key);
    }
    return status;
}

wc_store_status_t wc_store_enabled_tenant_limits(wc_store_t *store, const char *tenant_id,
                                                 wc_tenant_limits_t *out)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(tenant_id), "disabled", BCON_BOOL(false));
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_one(store, WC_COLL_TENANTS, filter, &doc);
    bson_destroy(filter);
    if (status == WC_STORE_OK) {
        wc_store_tenant_limits_from_doc(doc, out);
    }
    bson_destroy(doc);
    return status;
}

wc_store_status_t wc_store_authenticate(wc_store_t *store, const char *key, wc_principal_t *out)
{
    char hash[WC_SHA256_HEX_LEN];
    wc_sha256_hex(key, strlen(key), hash);
    bson_t *doc = NULL;
    wc_store_status_t status = wc_store_find_by_id(store, WC_COLL_API_KEYS, hash, &doc);
    if (status != WC_STORE_OK) {
        return status;
    }
    const char *tenant = wc_doc_string(doc, "tenantId");
    const char *role = wc_doc_string(doc, "role");
    if (tenant == NULL || role == NULL || strlen(tenant) >= sizeof(out->tenant_id) ||
        strlen(role) >= sizeof(out->role)) {
        wc_log_error("API key record %.12s... is malformed", hash);
        bson_destroy(doc);
        return WC_STORE_ERROR;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->tenant_id, sizeof(out->tenant_id), "%s", tenant);
    snprintf(out->role, sizeof(out->role), "%s", role);
    snprintf(out->key_id, sizeof(out->key_id), "%.16s", hash);
    const char *hint = wc_doc_string(doc, "hint");
    snprintf(out->key_hint, sizeof(out->key_hint), "%s", hint != NULL ? hint : "");
    wc_quota_from_doc(doc, &out->key_quota);
    bson_iter_t revoked;
    bool is_revoked = bson_iter_init_find(&revoked, doc, "revoked") &&
                      BSON_ITER_HOLDS_BOOL(&revoked) && bson_iter_bool(&revoked);
    bson_destroy(doc);
    if (is_revoked) {
        return WC_STORE_NOT_FOUND;
    }

    bson_t *filter = BCON_NEW("_id", BCON_UTF8(out->tenant_id), "disabled", BCON_BOOL(false));
    doc = NULL;
    status = wc_store_find_one(store, WC_COLL_TENANTS, filter, &doc);
    bson_destroy(filter);
    if (status == WC_STORE_OK) {
        wc_store_tenant_limits_from_doc(doc, &out->limits);
    }
    bson_destroy(doc);
    return status;
}
