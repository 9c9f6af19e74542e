/*
 * JSON Web Tokens for provider authentication, signed with OpenSSL:
 * RS256 for Google service accounts (FCM), ES256 for APNs provider tokens
 * (whose signature is the raw 64-byte R‖S, not DER).
 */
#ifndef WC_JWT_H
#define WC_JWT_H

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stddef.h>

/* base64url without padding, as JWTs use. Returns the length written, or -1
 * if `out_len` is too small. */
int wc_base64url_encode(const void *data, size_t len, char *out, size_t out_len);

/* Loads a PEM private key (PKCS#8 or traditional) from `pem` text. Returns a
 * key the caller frees with EVP_PKEY_free, or NULL. */
EVP_PKEY *wc_pem_private_key(const char *pem, size_t len);

/* Signs `claims` as a JWT with `alg` "RS256" or "ES256" and the optional key
 * id `kid`. Returns a new string the caller frees, or NULL on failure. */
char *wc_jwt_sign(const char *alg, EVP_PKEY *key, const char *kid, json_object *claims);

#endif
