/*
 * Secrets the service must read back (webhook signing secrets) are stored
 * encrypted when WAVECOM_SECRETS_KEY is set: AES-256-GCM with a random
 * 96-bit nonce, stored as "enc:v1:" + base64(nonce | ciphertext | tag).
 * API keys are not: the service never needs them back, so only their SHA-256
 * is kept.
 */
#ifndef WC_SECRETBOX_H
#define WC_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>

#define WC_SECRETBOX_KEY_LEN 32
#define WC_SECRETBOX_PREFIX "enc:v1:"

/* Parses 64 hex digits into `key`. Returns 0, or -1. */
int wc_secretbox_key_parse(const char *hex, unsigned char key[WC_SECRETBOX_KEY_LEN]);

/* Encrypts `plain` into `out` ("enc:v1:..."). Returns 0, or -1 when `out` is
 * too small or OpenSSL fails. */
int wc_secretbox_seal(const unsigned char key[WC_SECRETBOX_KEY_LEN], const char *plain, char *out,
                      size_t out_len);

/* Decrypts a sealed value into `out`. A value without the prefix was stored
 * before encryption was turned on and is copied as it is; with `key` NULL
 * only such values can be read. Returns 0, or -1 (wrong key, tampered or
 * malformed value, `out` too small). */
int wc_secretbox_open(const unsigned char *key, const char *stored, char *out, size_t out_len);

#endif
