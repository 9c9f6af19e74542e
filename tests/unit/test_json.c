#include "unit_test.h"
#include <string.h>

#include "wc_json.h"

static json_object *try_parse(const char *text, size_t len, const char **why)
{
    return wc_json_parse_strict(text, len, why);
}

static void strict_parser_refuses_hostile_input(void **state)
{
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {"{\"a\":1} x", 9},          /* data after the value */
        {"{\"a\":1}{\"b\":2}", 14},  /* two values */
        {"{\"a\":\"\xff\"}", 9},     /* invalid UTF-8 */
        {"{\"a\":\"b\0\"}", 9},       /* a raw NUL byte */
        {"{\"a\":1,}", 8},           /* trailing comma (strict mode) */
        {"{\"a\":'b'}", 9},          /* a single-quoted value */
        {"{\"a\":", 5},              /* truncated */
        {"", 0},                     /* empty */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        json_object *v = try_parse(bad[i].text, bad[i].len, &why);
        if (v != NULL) {
            json_object_put(v);
            fail_msg("accepted case %zu", i);
        }
        assert_non_null(why);
    }
}

static void strict_parser_bounds_nesting(void **state)
{
    char deep[200];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < 40; i++) {
        deep[n++] = ']';
    }
    const char *why = NULL;
    assert_null(try_parse(deep, n, &why));
    assert_non_null(why);
}

static void strict_parser_accepts_plain_json_with_whitespace(void **state)
{
    const char *text = " {\"a\":[1,2.5,\"\\u00e9\",true,null]}\r\n";
    const char *why = NULL;
    json_object *v = try_parse(text, strlen(text), &why);
    assert_non_null(v);
    assert_null(why);
    json_object_put(v);
}

static void json_to_bson_and_back_keeps_values(void **state)
{
    const char *text = "{\"s\":\"x\",\"i\":9007199254740993,\"d\":1.5,\"b\":false,\"n\":null,"
                       "\"o\":{\"k\":[1,{\"z\":\"$date\"}]}}";
    const char *why = NULL;
    json_object *in = try_parse(text, strlen(text), &why);
    assert_non_null(in);

    bson_t doc = BSON_INITIALIZER;
    json_object_object_foreach(in, key, value)
    {
        assert_true(wc_json_append_to_bson(&doc, key, -1, value));
    }
    json_object *out = wc_json_from_bson(&doc);
    assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
                        json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    bson_destroy(&doc);
    json_object_put(in);
}

static void dates_and_object_ids_become_strings(void **state)
{
    bson_t doc = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "0123456789abcdef01234567");
    BSON_APPEND_OID(&doc, "id", &oid);
    BSON_APPEND_DATE_TIME(&doc, "at", 0);
    json_object *out = wc_json_from_bson(&doc);
    assert_string_equal(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
                        "{\"id\":\"0123456789abcdef01234567\",\"at\":\"1970-01-01T00:00:00.000Z\"}");
    json_object_put(out);
    bson_destroy(&doc);
}

UNIT_TEST_MAIN(cmocka_unit_test(strict_parser_refuses_hostile_input),
               cmocka_unit_test(strict_parser_bounds_nesting),
               cmocka_unit_test(strict_parser_accepts_plain_json_with_whitespace),
               cmocka_unit_test(json_to_bson_and_back_keeps_values),
               cmocka_unit_test(dates_and_object_ids_become_strings))
