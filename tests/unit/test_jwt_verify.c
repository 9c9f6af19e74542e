/* wc_jwt_verify: dashboard users' HS256 tokens. */
#include <stdio.h>
#include <string.h>

#include "unit_test.h"

#include "wc_crypto.h"
#include "wc_jwt.h"
#include "wc_jwt_verify.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef";
#define NOW 1700000000LL

/* header.claims.signature, signed with `secret`. */
static void make_token(const char *header, const char *claims, const char *secret, char *out,
                       size_t out_len)
{
    char h[512], c[1024];
    assert_true(wc_base64url_encode(header, strlen(header), h, sizeof(h)) > 0);
    assert_true(wc_base64url_encode(claims, strlen(claims), c, sizeof(c)) > 0);
    char signing[1600];
    snprintf(signing, sizeof(signing), "%s.%s", h, c);
    unsigned char mac[32];
    wc_hmac_sha256(secret, strlen(secret), signing, strlen(signing), mac);
    char sig[64];
    assert_true(wc_base64url_encode(mac, sizeof(mac), sig, sizeof(sig)) > 0);
    snprintf(out, out_len, "%s.%s", signing, sig);
}

static int verify(const char *token, wc_jwt_claims_t *claims, const char **why)
{
    return wc_jwt_verify_hs256(token, SECRET, strlen(SECRET), NOW, claims, why);
}

static void test_valid_token(void **state)
{
    (void)state;
    char token[2048];
    make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
               "{\"tenant\":\"0123456789abcdef01234567\",\"role\":\"viewer\",\"sub\":\"ana\","
               "\"exp\":1700000600}",
               SECRET, token, sizeof(token));
    wc_jwt_claims_t c;
    const char *why = NULL;
    assert_int_equal(verify(token, &c, &why), 0);
    assert_string_equal(c.tenant_id, "0123456789abcdef01234567");
    assert_string_equal(c.role, "viewer");
    assert_string_equal(c.subject, "ana");
}

static void test_refusals(void **state)
{
    (void)state;
    const char *ok_claims = "{\"tenant\":\"t1\",\"role\":\"admin\",\"exp\":1700000600}";
    struct {
        const char *header, *claims, *secret;
    } bad[] = {
        {"{\"alg\":\"HS256\"}", ok_claims, "another secret of thirty-two chars!"}, /* signature */
        {"{\"alg\":\"none\"}", ok_claims, SECRET},                                 /* algorithm */
        {"{\"alg\":\"HS512\"}", ok_claims, SECRET},
        {"{\"alg\":\"HS256\"}", "{\"tenant\":\"t1\",\"role\":\"admin\",\"exp\":1699999999}", SECRET},
        {"{\"alg\":\"HS256\"}", "{\"tenant\":\"t1\",\"role\":\"admin\"}", SECRET}, /* no exp */
        {"{\"alg\":\"HS256\"}", "{\"tenant\":\"t1\",\"role\":\"root\",\"exp\":1700000600}", SECRET},
        {"{\"alg\":\"HS256\"}", "{\"role\":\"admin\",\"exp\":1700000600}", SECRET},
        {"{\"alg\":\"HS256\"}",
         "{\"tenant\":\"t1\",\"role\":\"admin\",\"exp\":1700000600,\"nbf\":1700000500}", SECRET},
        {"{\"alg\":\"HS256\"}", "[1,2]", SECRET},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char token[2048];
        make_token(bad[i].header, bad[i].claims, bad[i].secret, token, sizeof(token));
        wc_jwt_claims_t c;
        const char *why = NULL;
        if (verify(token, &c, &why) != -1) {
            fail_msg("case %zu accepted", i);
        }
        assert_non_null(why);
    }
    wc_jwt_claims_t c;
    const char *why = NULL;
    assert_int_equal(verify("a.b", &c, &why), -1);
    assert_int_equal(verify("a.b.c.d", &c, &why), -1);
    assert_int_equal(verify("..", &c, &why), -1);
    assert_int_equal(verify("", &c, &why), -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_valid_token),
               cmocka_unit_test(test_refusals))
