#include "wc_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

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
