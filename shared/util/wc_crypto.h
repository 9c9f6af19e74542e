/* Hashing, randomness and encodings, all through OpenSSL. */
#ifndef WC_CRYPTO_H
#define WC_CRYPTO_H

#include <stddef.h>

/* SHA-256 of `data` as 64 lowercase hex digits and a NUL. */
#define WC_SHA256_HEX_LEN 65

void wc_sha256_hex(const void *data, size_t len, char out[WC_SHA256_HEX_LEN]);

/* Fills `out` with 2*nbytes hex digits of cryptographically strong randomness
 * and a NUL; `out_len` must be at least 2*nbytes+1. Returns 0 or -1. */
int wc_random_hex(size_t nbytes, char *out, size_t out_len);

/* Base64 of `data` (no line breaks) into `out`. Returns the length written, or
 * -1 if `out_len` is too small. Needs out_len >= 4*ceil(len/3)+1. */
int wc_base64_encode(const void *data, size_t len, char *out, size_t out_len);

/* Decodes standard base64 (with or without padding) into `out`. Returns the
 * number of bytes, or -1 for invalid input or too small a buffer. */
int wc_base64_decode(const char *text, void *out, size_t out_len);

/* HMAC-SHA256 of `data` under `key` into 32 bytes. */
void wc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[32]);

#endif
