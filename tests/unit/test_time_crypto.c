#include "unit_test.h"
#include <string.h>

#include "wc_crypto.h"
#include "wc_time.h"

static void iso8601_formats_utc_with_milliseconds(void **state)
{
    char buf[WC_ISO8601_LEN];
    assert_int_equal(wc_time_format_iso8601(1733913005234, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2024-12-11T10:30:05.234Z");
    assert_int_equal(wc_time_format_iso8601(-1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    char small[10];
    assert_int_equal(wc_time_format_iso8601(0, small, sizeof(small)), -1);
}

static void sha256_matches_the_standard_vector(void **state)
{
    char hex[WC_SHA256_HEX_LEN];
    wc_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void random_hex_is_fresh_and_bounded(void **state)
{
    char a[49], b[49];
    assert_int_equal(wc_random_hex(24, a, sizeof(a)), 0);
    assert_int_equal(wc_random_hex(24, b, sizeof(b)), 0);
    assert_int_equal(strlen(a), 48);
    assert_string_not_equal(a, b);
    char small[10];
    assert_int_equal(wc_random_hex(24, small, sizeof(small)), -1);
}

static void base64_encodes_and_checks_room(void **state)
{
    char out[16];
    assert_int_equal(wc_base64_encode("hello", 5, out, sizeof(out)), 8);
    assert_string_equal(out, "aGVsbG8=");
    char tiny[4];
    assert_int_equal(wc_base64_encode("hello", 5, tiny, sizeof(tiny)), -1);
}

UNIT_TEST_MAIN(cmocka_unit_test(iso8601_formats_utc_with_milliseconds),
               cmocka_unit_test(sha256_matches_the_standard_vector),
               cmocka_unit_test(random_hex_is_fresh_and_bounded),
               cmocka_unit_test(base64_encodes_and_checks_room))
