/* wc_secretbox: webhook secrets sealed at rest with AES-256-GCM. */
#include <string.h>

#include "unit_test.h"

#include "wc_secretbox.h"

static const char *const KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_seal_then_open(void **state)
{
    (void)state;
    unsigned char key[WC_SECRETBOX_KEY_LEN];
    assert_int_equal(wc_secretbox_key_parse(KEY_HEX, key), 0);
    char sealed[256], again[256], plain[128];
    assert_int_equal(wc_secretbox_seal(key, "whsec_c2VjcmV0", sealed, sizeof(sealed)), 0);
    assert_int_equal(strncmp(sealed, WC_SECRETBOX_PREFIX, strlen(WC_SECRETBOX_PREFIX)), 0);
    assert_null(strstr(sealed, "whsec_"));
    assert_int_equal(wc_secretbox_open(key, sealed, plain, sizeof(plain)), 0);
    assert_string_equal(plain, "whsec_c2VjcmV0");
    /* A fresh nonce each time: the same secret never looks the same twice. */
    assert_int_equal(wc_secretbox_seal(key, "whsec_c2VjcmV0", again, sizeof(again)), 0);
    assert_string_not_equal(sealed, again);
}

static void test_refuses_wrong_key_and_tampering(void **state)
{
    (void)state;
    unsigned char key[WC_SECRETBOX_KEY_LEN], other[WC_SECRETBOX_KEY_LEN];
    assert_int_equal(wc_secretbox_key_parse(KEY_HEX, key), 0);
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    char sealed[256], plain[128];
    assert_int_equal(wc_secretbox_seal(key, "whsec_abc", sealed, sizeof(sealed)), 0);
    assert_int_equal(wc_secretbox_open(other, sealed, plain, sizeof(plain)), -1);
    assert_int_equal(wc_secretbox_open(NULL, sealed, plain, sizeof(plain)), -1);
    /* A character in the middle: every one of its bits is data (near the end
     * some are base64 padding bits, which decode to the same bytes). */
    size_t mid = strlen(sealed) / 2;
    sealed[mid] = sealed[mid] == 'A' ? 'B' : 'A';
    assert_int_equal(wc_secretbox_open(key, sealed, plain, sizeof(plain)), -1);
    assert_int_equal(wc_secretbox_open(key, "enc:v1:!!!", plain, sizeof(plain)), -1);
}

static void test_plain_values_and_keys(void **state)
{
    (void)state;
    char plain[32];
    /* Stored before a key was set: read as it is. */
    assert_int_equal(wc_secretbox_open(NULL, "whsec_old", plain, sizeof(plain)), 0);
    assert_string_equal(plain, "whsec_old");
    unsigned char key[WC_SECRETBOX_KEY_LEN];
    assert_int_equal(wc_secretbox_key_parse("00", key), -1);
    assert_int_equal(wc_secretbox_key_parse(
                         "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key),
                     -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_seal_then_open),
               cmocka_unit_test(test_refuses_wrong_key_and_tampering),
               cmocka_unit_test(test_plain_values_and_keys))
