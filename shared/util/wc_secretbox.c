#include "wc_secretbox.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "wc_crypto.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_PLAIN 512

int wc_secretbox_key_parse(const char *hex, unsigned char key[WC_SECRETBOX_KEY_LEN])
{
    if (hex == NULL || strlen(hex) != 2 * WC_SECRETBOX_KEY_LEN) {
        return -1;
    }
    for (size_t i = 0; i < WC_SECRETBOX_KEY_LEN; i++) {
        unsigned v = 0;
        for (size_t j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (d == 16) {
                return -1;
            }
            v = v * 16 + d;
        }
        key[i] = (unsigned char)v;
    }
    return 0;
}

int wc_secretbox_seal(const unsigned char key[WC_SECRETBOX_KEY_LEN], const char *plain, char *out,
                      size_t out_len)
{
    size_t n = strlen(plain);
    unsigned char box[NONCE_LEN + MAX_PLAIN + TAG_LEN];
    if (n > MAX_PLAIN || RAND_bytes(box, NONCE_LEN) != 1) {
        return -1;
    }
    int rc = -1, len = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, box) != 1 ||
        EVP_EncryptUpdate(ctx, box + NONCE_LEN, &len, (const unsigned char *)plain, (int)n) != 1 ||
        EVP_EncryptFinal_ex(ctx, box + NONCE_LEN + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, box + NONCE_LEN + len + fin) != 1) {
        goto out;
    }
    size_t prefix = strlen(WC_SECRETBOX_PREFIX);
    if (out_len <= prefix) {
        goto out;
    }
    memcpy(out, WC_SECRETBOX_PREFIX, prefix);
    if (wc_base64_encode(box, (size_t)(NONCE_LEN + len + fin + TAG_LEN), out + prefix,
                         out_len - prefix) < 0) {
        goto out;
    }
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(box, sizeof(box));
    return rc;
}

int wc_secretbox_open(const unsigned char *key, const char *stored, char *out, size_t out_len)
{
    size_t prefix = strlen(WC_SECRETBOX_PREFIX);
    if (strncmp(stored, WC_SECRETBOX_PREFIX, prefix) != 0) {
        size_t n = strlen(stored);
        if (n >= out_len) {
            return -1;
        }
        memcpy(out, stored, n + 1);
        return 0;
    }
    if (key == NULL) {
        return -1;
    }
    unsigned char box[NONCE_LEN + MAX_PLAIN + TAG_LEN + 4];
    int total = wc_base64_decode(stored + prefix, box, sizeof(box));
    if (total < NONCE_LEN + TAG_LEN) {
        return -1;
    }
    int ct_len = total - NONCE_LEN - TAG_LEN;
    if ((size_t)ct_len >= out_len) {
        return -1;
    }
    int rc = -1, len = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, box) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)out, &len, box + NONCE_LEN, ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, box + NONCE_LEN + ct_len) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)out + len, &fin) != 1) {
        OPENSSL_cleanse(out, out_len);
        out[0] = '\0';
        goto out;
    }
    out[len + fin] = '\0';
    rc = strlen(out) == (size_t)(len + fin) ? 0 : -1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
