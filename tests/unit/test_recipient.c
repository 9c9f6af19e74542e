#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wc_recipient.h"

static void e164_numbers(void **state)
{
    static const char *const good[] = {"+14155550100", "+12345678", "+123456789012345",
                                       "+447911123456"};
    static const char *const bad[] = {"",         "+",          "14155550100",   "+0123456789",
                                      "+1234567", "+1234567890123456", "+1 4155550100",
                                      "+1-415-555-0100", "+14155550100x", "++14155550100"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!wc_e164_valid(good[i])) {
            fail_msg("rejected %s", good[i]);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wc_e164_valid(bad[i])) {
            fail_msg("accepted %s", bad[i]);
        }
    }
}

static void push_tokens(void **state)
{
    assert_true(wc_push_token_valid("a", WC_PUSH_FCM));
    assert_true(wc_push_token_valid("dGVzdA:APA91b_x.y-z", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("a b", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("a/b", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("\xc3\xa9", WC_PUSH_FCM));
    char token[4100];
    memset(token, 'A', 4096);
    token[4096] = '\0';
    assert_true(wc_push_token_valid(token, WC_PUSH_FCM));
    token[4096] = 'A';
    token[4097] = '\0';
    assert_false(wc_push_token_valid(token, WC_PUSH_FCM));

    memset(token, 'f', 64);
    token[64] = '\0';
    assert_true(wc_push_token_valid(token, WC_PUSH_APNS));
    token[63] = '\0';
    assert_false(wc_push_token_valid(token, WC_PUSH_APNS));
    memset(token, 'F', 200);
    token[200] = '\0';
    assert_true(wc_push_token_valid(token, WC_PUSH_APNS));
    token[200] = 'F';
    token[201] = '\0';
    assert_false(wc_push_token_valid(token, WC_PUSH_APNS));
    memset(token, 'a', 64);
    token[10] = 'g';
    token[64] = '\0';
    assert_false(wc_push_token_valid(token, WC_PUSH_APNS));

    wc_push_platform_t p;
    assert_int_equal(wc_push_platform_parse("apns", &p), 0);
    assert_int_equal(p, WC_PUSH_APNS);
    assert_string_equal(wc_push_platform_name(p), "apns");
    assert_int_equal(wc_push_platform_parse("fcm", &p), 0);
    assert_int_equal(p, WC_PUSH_FCM);
    assert_int_equal(wc_push_platform_parse("FCM", &p), -1);
    assert_int_equal(wc_push_platform_parse("gcm", &p), -1);
}

static void webhook_urls(void **state)
{
    static const struct {
        const char *url;
        bool allow_http;
        wc_url_check_t want;
    } cases[] = {
        {"https://hooks.example.com/in", false, WC_URL_OK},
        {"https://hooks.example.com", false, WC_URL_OK},
        {"https://hooks.example.com:8443/a/b?c=d&e=%2F", false, WC_URL_OK},
        {"https://localhost/x", false, WC_URL_OK},
        {"https://10.0.0.1:9000/x", false, WC_URL_OK},
        {"https://[2001:db8::1]:443/x", false, WC_URL_OK},
        {"https://[::1]/x", false, WC_URL_OK},
        {"HtTpS://example.com/", false, WC_URL_OK},
        {"http://127.0.0.1:9000/hook", true, WC_URL_OK},
        {"http://127.0.0.1:9000/hook", false, WC_URL_SCHEME},
        {"ftp://example.com/", true, WC_URL_SCHEME},
        {"javascript:alert(1)", false, WC_URL_SYNTAX},
        {"example.com/x", false, WC_URL_SYNTAX},
        {"", false, WC_URL_LENGTH},
        {"https://u:p@example.com/", false, WC_URL_USERINFO},
        {"https://u@example.com/", false, WC_URL_USERINFO},
        {"https://example.com/x#top", false, WC_URL_FRAGMENT},
        {"https://", false, WC_URL_HOST},
        {"https:///path", false, WC_URL_HOST},
        {"https://ex ample.com/", false, WC_URL_HOST},
        {"https://example..com/", false, WC_URL_HOST},
        {"https://-x.com/", false, WC_URL_HOST},
        {"https://[zz::1]/", false, WC_URL_HOST},
        {"https://example.com:/", false, WC_URL_PORT},
        {"https://example.com:0/", false, WC_URL_PORT},
        {"https://example.com:65536/", false, WC_URL_PORT},
        {"https://example.com:123456/", false, WC_URL_PORT},
        {"https://example.com:8a/", false, WC_URL_PORT},
        {"https://example.com/a b", false, WC_URL_SYNTAX},
        {"https://example.com/%4", false, WC_URL_SYNTAX},
        {"https://example.com/\xc3\xa9", false, WC_URL_SYNTAX},
        {"https://example.com/<script>", false, WC_URL_SYNTAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wc_url_check_t got = wc_webhook_url_check(cases[i].url, cases[i].allow_http);
        if (got != cases[i].want) {
            fail_msg("%s: got %d (%s), want %d", cases[i].url, got, wc_url_check_describe(got),
                     cases[i].want);
        }
    }
    char url[2100] = "https://e.com/";
    memset(url + 14, 'a', 2048 - 14);
    url[2048] = '\0';
    assert_int_equal(wc_webhook_url_check(url, false), WC_URL_OK);
    url[2048] = 'a';
    url[2049] = '\0';
    assert_int_equal(wc_webhook_url_check(url, false), WC_URL_LENGTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(e164_numbers),
        cmocka_unit_test(push_tokens),
        cmocka_unit_test(webhook_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
