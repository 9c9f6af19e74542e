/* SMS segments (shared/model/wc_sms_segments.h): the encoding a text needs and
 * the segments it takes, at each boundary. */
#include "unit_test.h"
#include <string.h>

#include "wc_sms_segments.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* `n` copies of `unit` (fewer than 1600 bytes in all). */
static const char *repeat(const char *unit, size_t n)
{
    static char text[1600];
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(text, unit);
    }
    return text;
}

typedef struct {
    const char *unit;
    size_t n;
    wc_sms_encoding_t encoding;
    size_t units;
    size_t segments;
} segment_case_t;

static void counts_each_boundary(void **state)
{
    static const segment_case_t cases[] = {
        {"a", 0, WC_SMS_GSM7, 0, 1},
        {"a", 160, WC_SMS_GSM7, 160, 1},
        {"a", 161, WC_SMS_GSM7, 161, 2},
        {"a", 306, WC_SMS_GSM7, 306, 2},
        {"a", 307, WC_SMS_GSM7, 307, 3},
        {"é", 160, WC_SMS_GSM7, 160, 1},     /* in the basic alphabet */
        {"€", 80, WC_SMS_GSM7, 160, 1},      /* two septets each */
        {"€", 81, WC_SMS_GSM7, 162, 2},
        {"{", 77, WC_SMS_GSM7, 154, 1},
        {"ç", 70, WC_SMS_UCS2, 70, 1},       /* ç is not GSM-7 (only Ç is) */
        {"ç", 71, WC_SMS_UCS2, 71, 2},
        {"ã", 134, WC_SMS_UCS2, 134, 2},
        {"ã", 135, WC_SMS_UCS2, 135, 3},
        {"`", 1, WC_SMS_UCS2, 1, 1},
        {"😀", 35, WC_SMS_UCS2, 70, 1},     /* two UTF-16 units each */
        {"😀", 36, WC_SMS_UCS2, 72, 2},
        {"😀", 34, WC_SMS_UCS2, 68, 1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        const segment_case_t *c = &cases[i];
        const char *text = repeat(c->unit, c->n);
        wc_sms_count_t count;
        assert_int_equal(wc_sms_count(text, strlen(text), &count), 0);
        if (count.encoding != c->encoding || count.units != c->units ||
            count.segments != c->segments) {
            fail_msg("%zu x %s: %s %zu units %zu segments, expected %s %zu %zu", c->n, c->unit,
                     wc_sms_encoding_name(count.encoding), count.units, count.segments,
                     wc_sms_encoding_name(c->encoding), c->units, c->segments);
        }
    }
}

/* A pair of UTF-16 units never straddles two segments: 33 ASCII letters and
 * 17 emoji (67 units) fill one part exactly; one letter more pushes the last
 * emoji into a third part of its own. */
static void keeps_surrogate_pairs_whole(void **state)
{
    char text[256] = "";
    strcat(text, repeat("a", 34));
    strcat(text, repeat("😀", 50));
    wc_sms_count_t count;
    assert_int_equal(wc_sms_count(text, strlen(text), &count), 0);
    assert_int_equal(count.encoding, WC_SMS_UCS2);
    assert_int_equal(count.units, 134);
    /* 34 + 16 pairs = 66 units, the 17th pair does not fit the first 67. */
    assert_int_equal(count.segments, 3);
}

/* The same for GSM-7's two-septet characters: 152 letters, a brace and 152
 * letters are 306 septets, two parts by arithmetic, but the brace does not
 * fit the first part's last septet, so the text takes three. */
static void keeps_extension_characters_whole(void **state)
{
    char text[400] = "";
    strcat(text, repeat("a", 152));
    strcat(text, "{");
    strcat(text, repeat("a", 152));
    wc_sms_count_t count;
    assert_int_equal(wc_sms_count(text, strlen(text), &count), 0);
    assert_int_equal(count.encoding, WC_SMS_GSM7);
    assert_int_equal(count.units, 306);
    assert_int_equal(count.segments, 3);
}

static void refuses_invalid_utf8(void **state)
{
    static const char *const bad[] = {"\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                      "a\xFF"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        wc_sms_count_t count;
        if (wc_sms_count(bad[i], strlen(bad[i]), &count) != -1) {
            fail_msg("accepted case %zu", i);
        }
    }
    assert_string_equal(wc_sms_encoding_name(WC_SMS_GSM7), "GSM-7");
    assert_string_equal(wc_sms_encoding_name(WC_SMS_UCS2), "UCS-2");
}

UNIT_TEST_MAIN(cmocka_unit_test(counts_each_boundary), cmocka_unit_test(keeps_surrogate_pairs_whole),
               cmocka_unit_test(keeps_extension_characters_whole),
               cmocka_unit_test(refuses_invalid_utf8))
