/* The API's response encodings and its cache (api/encoding.c, api/cache.c). */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cache.h"
#include "encoding.h"

static void accept_encoding_values(void **state)
{
    static const struct {
        const char *value;
        bool gzip;
    } cases[] = {
        {"gzip", true},
        {"GZIP", true},
        {"deflate, gzip;q=0.5, br", true},
        {"gzip;q=0", false},
        {"gzip; q=0.000", false},
        {"x-gzip", true},
        {"*", true},
        {"*;q=0", false},
        {"br, *", true},
        {"*, gzip;q=0", false},
        {"identity", false},
        {"br", false},
        {"", false},
        {"gzipper", false},
        {" gzip ", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (api_accepts_gzip(cases[i].value) != cases[i].gzip) {
            fail_msg("\"%s\": want %d", cases[i].value, cases[i].gzip);
        }
    }
    assert_false(api_accepts_gzip(NULL));
}

static void gzip_round_trip(void **state)
{
    char text[8192];
    for (size_t i = 0; i < sizeof(text); i++) {
        text[i] = "{\"status\":\"QUEUED\"},"[i % 20];
    }
    size_t len = 0;
    unsigned char *gz = api_gzip(text, sizeof(text), &len);
    assert_non_null(gz);
    assert_true(len < sizeof(text) / 4);
    assert_int_equal(gz[0], 0x1f); /* the gzip magic */
    assert_int_equal(gz[1], 0x8b);
    char back[8192];
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = gz;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)back;
    zs.avail_out = sizeof(back);
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, sizeof(text));
    inflateEnd(&zs);
    assert_memory_equal(back, text, sizeof(text));
    free(gz);
}

static void etags_compare_weakly(void **state)
{
    char a[API_ETAG_LEN], b[API_ETAG_LEN];
    api_etag("{\"x\":1}", 7, a);
    api_etag("{\"x\":2}", 7, b);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, "W/\"", 3), 0);
    assert_int_equal(strlen(a), 3 + 32 + 1);
    assert_true(api_etag_matches(a, a));
    assert_false(api_etag_matches(b, a));
    assert_true(api_etag_matches("*", a));
    char list[200];
    snprintf(list, sizeof(list), "\"nope\", %s , W/\"zzz\"", b);
    assert_true(api_etag_matches(list, b));
    assert_false(api_etag_matches(list, a));
    /* A strong form of the same tag matches under weak comparison. */
    snprintf(list, sizeof(list), "%s", a + 2);
    assert_true(api_etag_matches(list, a));
    assert_false(api_etag_matches(NULL, a));
    assert_false(api_etag_matches("", a));
}

static void cache_expires_and_evicts(void **state)
{
    api_cache_t *c = api_cache_new(2);
    assert_non_null(c);
    assert_null(api_cache_get(c, "a", 0));
    api_cache_put(c, "a", "1", 100);
    char *v = api_cache_get(c, "a", 50);
    assert_string_equal(v, "1");
    free(v);
    assert_null(api_cache_get(c, "a", 100)); /* expired */
    api_cache_put(c, "a", "2", 300);
    api_cache_put(c, "b", "3", 200);
    api_cache_put(c, "c", "4", 400); /* evicts b, the soonest to expire */
    assert_null(api_cache_get(c, "b", 0));
    v = api_cache_get(c, "a", 0);
    assert_string_equal(v, "2");
    free(v);
    v = api_cache_get(c, "c", 0);
    assert_string_equal(v, "4");
    free(v);
    api_cache_free(c);
}

UNIT_TEST_MAIN(cmocka_unit_test(accept_encoding_values),
               cmocka_unit_test(gzip_round_trip),
               cmocka_unit_test(etags_compare_weakly),
               cmocka_unit_test(cache_expires_and_evicts))
