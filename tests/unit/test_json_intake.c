/* The JSON and time pieces the intake relies on: canonical request text,
 * NUL in keys, storable numbers, RFC 3339 parsing. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"
#include "wc_time.h"

static json_object *parse(const char *text)
{
    const char *why = NULL;
    json_object *v = wc_json_parse_strict(text, strlen(text), &why);
    if (v == NULL) {
        fail_msg("refused %s: %s", text, why);
    }
    return v;
}

static char *canonical_of(const char *text)
{
    json_object *v = parse(text);
    size_t len = 0;
    char *c = wc_json_canonical(v, &len);
    assert_non_null(c);
    assert_int_equal(strlen(c), len);
    json_object_put(v);
    return c;
}

static void canonical_text_ignores_key_order_and_space(void **state)
{
    char *a = canonical_of("{\"b\":1, \"a\":{\"y\":[3,{\"d\":1,\"c\":2}],\"x\":\"s/t\"}}");
    char *b = canonical_of(" {\"a\":{\"x\":\"s/t\",\"y\":[3,{\"c\":2,\"d\":1}]},\"b\":1}\n");
    assert_string_equal(a, b);
    assert_string_equal(a, "{\"a\":{\"x\":\"s/t\",\"y\":[3,{\"c\":2,\"d\":1}]},\"b\":1}");
    char *c = canonical_of("{\"a\":{\"x\":\"s/t\",\"y\":[{\"c\":2,\"d\":1},3]},\"b\":1}");
    assert_string_not_equal(a, c); /* array order matters */
    char *d = canonical_of("{\"b\":2,\"a\":{\"y\":[3,{\"d\":1,\"c\":2}],\"x\":\"s/t\"}}");
    assert_string_not_equal(a, d);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void nul_in_a_key_is_refused(void **state)
{
    static const char *const bad[] = {
        "{\"a\\u0000b\":1}",
        "{\"ok\":{\"x\\u0000\" : 1}}",
        "[{\"\\u0000\":true}]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        json_object *v = wc_json_parse_strict(bad[i], strlen(bad[i]), &why);
        if (v != NULL) {
            json_object_put(v);
            fail_msg("accepted %s", bad[i]);
        }
        assert_non_null(strstr(why, "key"));
    }
    /* In a value it parses (the field's own rule reports it), and an escaped
     * backslash before u0000 is not a NUL. */
    static const char *const good[] = {"{\"a\":\"x\\u0000y\"}", "{\"a\\\\u0000b\":1}",
                                       "{\"k\":\"\\\"\\u0000\"}"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_object_put(parse(good[i]));
    }
}

static void numbers_outside_storage_are_flagged(void **state)
{
    json_object *v = parse("[1, -2, 1.5, 1e308, 9223372036854775806, -9223372036854775807,"
                           "1e400, -1e400, 9223372036854775807, 123456789012345678901234567890,"
                           "-9223372036854775809, \"x\", null]");
    static const bool storable[] = {true,  true,  true,  true,  true, true, false,
                                    false, false, false, false, true, true};
    for (size_t i = 0; i < sizeof(storable) / sizeof(storable[0]); i++) {
        if (wc_json_number_storable(json_object_array_get_idx(v, i)) != storable[i]) {
            fail_msg("element %zu: want %d", i, storable[i]);
        }
    }
    json_object_put(v);
}

static void rfc3339_dates(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2024-12-11T10:30:00.000Z", 1733913000000},
        {"2024-12-11T10:30:00Z", 1733913000000},
        {"2024-12-11t10:30:00.5z", 1733913000500},
        {"2024-12-11T10:30:00.123456789Z", 1733913000123},
        {"2024-12-11T12:30:00+02:00", 1733913000000},
        {"2024-12-11T05:00:00-05:30", 1733913000000},
        {"2024-02-29T00:00:00Z", 1709164800000},
        {"2000-02-29T00:00:00Z", 951782400000},
        {"9999-12-31T23:59:59.999Z", 253402300799999},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = -1;
        if (wc_time_parse_iso8601(good[i].text, &ms) != 0 || ms != good[i].ms) {
            fail_msg("%s: got %lld", good[i].text, (long long)ms);
        }
    }
    static const char *const bad[] = {
        "", "2024-12-11", "2024-12-11T10:30:00", "2024-12-11 10:30:00Z", "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
        "2024-12-11T24:00:00Z", "2024-12-11T10:60:00Z", "2024-12-11T10:30:60Z",
        "2024-12-11T10:30:00.Z", "2024-12-11T10:30:00.1234567890Z", "2024-12-11T10:30:00+0200",
        "2024-12-11T10:30:00+24:00", "2024-12-11T10:30:00Zjunk", "1969-12-31T23:59:59Z",
        "+2024-12-11T10:30:00Z", "2024-1-11T10:30:00Z", "２０２４-12-11T10:30:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 0;
        if (wc_time_parse_iso8601(bad[i], &ms) == 0) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    /* Round trip with the formatter. */
    char buf[WC_ISO8601_LEN];
    int64_t back = 0;
    assert_int_equal(wc_time_format_iso8601(1733913000123, buf, sizeof(buf)), 0);
    assert_int_equal(wc_time_parse_iso8601(buf, &back), 0);
    assert_int_equal(back, 1733913000123);
}

UNIT_TEST_MAIN(cmocka_unit_test(canonical_text_ignores_key_order_and_space),
               cmocka_unit_test(nul_in_a_key_is_refused),
               cmocka_unit_test(numbers_outside_storage_are_flagged),
               cmocka_unit_test(rfc3339_dates))
