#include "wc_jwt.h"

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wc_crypto.h"

#define JWT_MAX 8192

int wc_base64url_encode(const void *data, size_t len, char *out, size_t out_len)
{
    int n = wc_base64_encode(data, len, out, out_len);
    if (n < 0) {
        return -1;
    }
    int w = 0;
    for (int i = 0; i < n; i++) {
        char c = out[i];
        if (c == '=') {
            break;
        }
        out[w++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[w] = '\0';
    return w;
}

EVP_PKEY *wc_pem_private_key(const char *pem, size_t len)
{
    if (len > INT32_MAX) {
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return key;
}

/* ECDSA signatures come DER-encoded from OpenSSL; JWS wants R and S as two
 * 32-byte big-endian integers side by side. */
static int der_to_raw_p256(const unsigned char *der, size_t der_len, unsigned char raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL) {
        return -1;
    }
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

static int sign_sha256(EVP_PKEY *key, const char *input, size_t len, unsigned char *sig,
                       size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return -1;
    }
    int ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, sig, sig_len, (const unsigned char *)input, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

char *wc_jwt_sign(const char *alg, EVP_PKEY *key, const char *kid, json_object *claims)
{
    bool es256 = strcmp(alg, "ES256") == 0;
    if (!es256 && strcmp(alg, "RS256") != 0) {
        return NULL;
    }
    if (EVP_PKEY_get_base_id(key) != (es256 ? EVP_PKEY_EC : EVP_PKEY_RSA)) {
        return NULL;
    }

    json_object *header = json_object_new_object();
    json_object_object_add(header, "alg", json_object_new_string(alg));
    json_object_object_add(header, "typ", json_object_new_string("JWT"));
    if (kid != NULL) {
        json_object_object_add(header, "kid", json_object_new_string(kid));
    }
    const char *h = json_object_to_json_string_ext(header, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    const char *c = json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    char *token = malloc(JWT_MAX);
    unsigned char *sig = malloc(1024);
    char *result = NULL;
    if (token == NULL || sig == NULL) {
        goto out;
    }
    int hn = wc_base64url_encode(h, strlen(h), token, JWT_MAX);
    if (hn < 0 || (size_t)hn + 2 >= JWT_MAX) {
        goto out;
    }
    token[hn] = '.';
    int cn = wc_base64url_encode(c, strlen(c), token + hn + 1, JWT_MAX - (size_t)hn - 1);
    if (cn < 0) {
        goto out;
    }
    size_t signing_len = (size_t)hn + 1 + (size_t)cn;
    size_t sig_len = 1024;
    if (sign_sha256(key, token, signing_len, sig, &sig_len) != 0) {
        goto out;
    }
    unsigned char raw[64];
    const unsigned char *final_sig = sig;
    size_t final_len = sig_len;
    if (es256) {
        if (der_to_raw_p256(sig, sig_len, raw) != 0) {
            goto out;
        }
        final_sig = raw;
        final_len = sizeof(raw);
    }
    if (signing_len + 2 >= JWT_MAX) {
        goto out;
    }
    token[signing_len] = '.';
    if (wc_base64url_encode(final_sig, final_len, token + signing_len + 1,
                            JWT_MAX - signing_len - 1) < 0) {
        goto out;
    }
    result = token;
    token = NULL;
out:
    free(token);
    free(sig);
    json_object_put(header);
    return result;
}
