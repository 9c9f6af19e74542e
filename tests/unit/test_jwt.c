#include "unit_test.h"
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "wc_crypto.h"
#include "wc_jwt.h"

static EVP_PKEY *generate(const char *type)
{
    EVP_PKEY *key = strcmp(type, "EC") == 0 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    assert_non_null(key);
    return key;
}

/* base64url back to bytes, through the standard alphabet. */
static int b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_len)
{
    char std[1024];
    assert_true(len < sizeof(std));
    for (size_t i = 0; i < len; i++) {
        std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    }
    std[len] = '\0';
    return wc_base64_decode(std, out, out_len);
}

static void split(const char *jwt, const char **dot1, const char **dot2)
{
    *dot1 = strchr(jwt, '.');
    assert_non_null(*dot1);
    *dot2 = strchr(*dot1 + 1, '.');
    assert_non_null(*dot2);
    assert_null(strchr(*dot2 + 1, '.'));
}

static void es256_signature_is_raw_r_s_and_verifies(void **state)
{
    EVP_PKEY *key = generate("EC");
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string("DEF123GHIJ"));
    json_object_object_add(claims, "iat", json_object_new_int64(1700000000));
    char *jwt = wc_jwt_sign("ES256", key, "ABC123DEFG", claims);
    assert_non_null(jwt);

    const char *d1, *d2;
    split(jwt, &d1, &d2);
    unsigned char header[256];
    int hn = b64url_decode(jwt, (size_t)(d1 - jwt), header, sizeof(header));
    assert_true(hn > 0);
    header[hn] = '\0';
    assert_non_null(strstr((char *)header, "\"alg\":\"ES256\""));
    assert_non_null(strstr((char *)header, "\"kid\":\"ABC123DEFG\""));

    unsigned char raw[128];
    int sn = b64url_decode(d2 + 1, strlen(d2 + 1), raw, sizeof(raw));
    assert_int_equal(sn, 64); /* R‖S, not DER */

    /* Verify with OpenSSL: rebuild the DER signature from R and S. */
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(ctx, der, (size_t)der_len, (unsigned char *)jwt,
                                      (size_t)(d2 - jwt)),
                     1);
    /* A changed payload must not verify. */
    jwt[d1 - jwt + 2] ^= 1;
    EVP_MD_CTX_reset(ctx);
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(EVP_DigestVerify(ctx, der, (size_t)der_len, (unsigned char *)jwt,
                                          (size_t)(d2 - jwt)),
                         1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    free(jwt);
    json_object_put(claims);
    EVP_PKEY_free(key);
}

static void rs256_verifies_and_refuses_the_wrong_key_type(void **state)
{
    EVP_PKEY *rsa = generate("RSA");
    EVP_PKEY *ec = generate("EC");
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "scope", json_object_new_string("https://x/y"));
    char *jwt = wc_jwt_sign("RS256", rsa, NULL, claims);
    assert_non_null(jwt);
    const char *d1, *d2;
    split(jwt, &d1, &d2);
    unsigned char sig[512];
    int sn = b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
    assert_int_equal(sn, 256);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, rsa), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, (size_t)sn, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
    EVP_MD_CTX_free(ctx);
    free(jwt);

    assert_null(wc_jwt_sign("RS256", ec, NULL, claims));
    assert_null(wc_jwt_sign("ES256", rsa, NULL, claims));
    assert_null(wc_jwt_sign("HS256", rsa, NULL, claims));
    json_object_put(claims);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

static void hmac_and_base64_decode_match_known_values(void **state)
{
    /* RFC 4231 test case 2. */
    unsigned char mac[32];
    wc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    static const unsigned char expected[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
        0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    assert_memory_equal(mac, expected, 32);

    unsigned char out[16];
    assert_int_equal(wc_base64_decode("aGVsbG8=", out, sizeof(out)), 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(wc_base64_decode("aGVsbG8", out, sizeof(out)), 5); /* unpadded */
    assert_int_equal(wc_base64_decode("a===", out, sizeof(out)), -1);
    assert_int_equal(wc_base64_decode("", out, sizeof(out)), -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(es256_signature_is_raw_r_s_and_verifies),
               cmocka_unit_test(rs256_verifies_and_refuses_the_wrong_key_type),
               cmocka_unit_test(hmac_and_base64_decode_match_known_values))
