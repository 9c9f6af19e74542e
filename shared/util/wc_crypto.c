#include "wc_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void wc_sha256_hex(const void *data, size_t len, char out[WC_SHA256_HEX_LEN])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(data, len, digest);
    to_hex(digest, sizeof(digest), out);
}

int wc_random_hex(size_t nbytes, char *out, size_t out_len)
{
    unsigned char buf[64];
    if (nbytes > sizeof(buf) || out_len < 2 * nbytes + 1) {
        return -1;
    }
    if (RAND_bytes(buf, (int)nbytes) != 1) {
        return -1;
    }
    to_hex(buf, nbytes, out);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int wc_base64_encode(const void *data, size_t len, char *out, size_t out_len)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (out_len < need || len > (size_t)1 << 30) {
        return -1;
    }
    return EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

int wc_base64_decode(const char *text, void *out, size_t out_len)
{
    size_t len = strlen(text);
    char padded[4096];
    if (len == 0 || len + 3 >= sizeof(padded)) {
        return -1;
    }
    /* EVP_DecodeBlock wants whole 4-character groups. */
    memcpy(padded, text, len);
    size_t pad = 0;
    while ((len + pad) % 4 != 0) {
        padded[len + pad++] = '=';
    }
    size_t total = len + pad;
    size_t trailing = 0;
    while (trailing < total && padded[total - 1 - trailing] == '=') {
        trailing++;
    }
    if (trailing > 2 || out_len < total / 4 * 3) {
        return -1;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)padded, (int)total);
    if (n < 0) {
        return -1;
    }
    return n - (int)trailing;
}

void wc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[32])
{
    unsigned int out_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}
