/* The unsubscribe link's token (shared/model/wc_unsubscribe_token.h): signed
 * and read back, and refused when altered, re-signed under another secret,
 * expired or malformed. */
#include "unit_test.h"
#include <string.h>

#include "wc_unsubscribe_token.h"

#define SECRET "a-test-secret-of-at-least-32-bytes!!"
#define NOW 1700000000

static void sign(const char *recipient, int64_t expires, char *out)
{
    wc_unsubscribe_claims_t c = {.channel = WC_CHANNEL_EMAIL, .expires_s = expires};
    snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", "65a1b2c3d4e5f60718293a4b");
    snprintf(c.recipient, sizeof(c.recipient), "%s", recipient);
    assert_int_equal(wc_unsubscribe_token_sign(SECRET, &c, out, WC_UNSUBSCRIBE_TOKEN_MAX), 0);
}

static void signs_and_verifies(void **state)
{
    (void)state;
    char token[WC_UNSUBSCRIBE_TOKEN_MAX];
    sign("Ann+news@example.com", NOW + 60, token);
    assert_null(strpbrk(token, "+/=?&# "));
    wc_unsubscribe_claims_t c;
    assert_int_equal(wc_unsubscribe_token_verify(SECRET, token, NOW, &c), WC_UNSUBSCRIBE_VALID);
    assert_string_equal(c.tenant_id, "65a1b2c3d4e5f60718293a4b");
    assert_int_equal(c.channel, WC_CHANNEL_EMAIL);
    assert_string_equal(c.recipient, "Ann+news@example.com");
    assert_int_equal(c.expires_s, NOW + 60);
}

static void refuses_expired(void **state)
{
    (void)state;
    char token[WC_UNSUBSCRIBE_TOKEN_MAX];
    sign("ann@example.com", NOW, token);
    wc_unsubscribe_claims_t c;
    assert_int_equal(wc_unsubscribe_token_verify(SECRET, token, NOW, &c), WC_UNSUBSCRIBE_EXPIRED);
    assert_int_equal(wc_unsubscribe_token_verify(SECRET, token, NOW - 1, &c), WC_UNSUBSCRIBE_VALID);
}

static void refuses_any_altered_character(void **state)
{
    (void)state;
    char token[WC_UNSUBSCRIBE_TOKEN_MAX];
    sign("ann@example.com", NOW + 60, token);
    size_t len = strlen(token);
    for (size_t i = 0; i < len; i++) {
        char copy[WC_UNSUBSCRIBE_TOKEN_MAX];
        memcpy(copy, token, len + 1);
        if (copy[i] == '.') {
            continue;
        }
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        wc_unsubscribe_claims_t c;
        wc_unsubscribe_status_t st = wc_unsubscribe_token_verify(SECRET, copy, NOW, &c);
        if (st == WC_UNSUBSCRIBE_VALID || st == WC_UNSUBSCRIBE_EXPIRED) {
            fail_msg("altered at %zu, still accepted: %s", i, copy);
        }
    }
    wc_unsubscribe_claims_t c;
    assert_int_equal(wc_unsubscribe_token_verify("another-secret-of-at-least-32-bytes", token, NOW, &c),
                     WC_UNSUBSCRIBE_BAD_SIGNATURE);
}

static void refuses_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {"",  "a.b.c.d",     "a.b.c.d.e.f", "....",
                                      "x", "a.EMAIL.1.YQ.!!!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wc_unsubscribe_claims_t c;
        if (wc_unsubscribe_token_verify(SECRET, bad[i], NOW, &c) != WC_UNSUBSCRIBE_MALFORMED) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    wc_unsubscribe_claims_t c;
    assert_int_equal(wc_unsubscribe_token_verify(SECRET, NULL, NOW, &c), WC_UNSUBSCRIBE_MALFORMED);
}

static void refuses_to_sign_what_it_cannot_read(void **state)
{
    (void)state;
    char token[WC_UNSUBSCRIBE_TOKEN_MAX];
    wc_unsubscribe_claims_t c = {.channel = WC_CHANNEL_EMAIL, .expires_s = NOW};
    snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", "a.b");
    snprintf(c.recipient, sizeof(c.recipient), "%s", "ann@example.com");
    assert_int_equal(wc_unsubscribe_token_sign(SECRET, &c, token, sizeof(token)), -1);
    snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", "t1");
    assert_int_equal(wc_unsubscribe_token_sign(SECRET, &c, token, 20), -1);
    memset(c.recipient, 'a', WC_UNSUBSCRIBE_RECIPIENT_SIGNABLE + 1);
    c.recipient[WC_UNSUBSCRIBE_RECIPIENT_SIGNABLE + 1] = '\0';
    assert_int_equal(wc_unsubscribe_token_sign(SECRET, &c, token, sizeof(token)), -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(signs_and_verifies), cmocka_unit_test(refuses_expired),
               cmocka_unit_test(refuses_any_altered_character), cmocka_unit_test(refuses_malformed),
               cmocka_unit_test(refuses_to_sign_what_it_cannot_read))
