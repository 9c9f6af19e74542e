#include "unit_test.h"
#include <string.h>

#include "wc_recipient.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Fails naming the first value `valid` judges wrongly: it must accept each of
 * the `goods` values in `good` and refuse each of the `bads` values in `bad`. */
static void judges_each(bool (*valid)(const char *), const char *const *good, size_t goods,
                        const char *const *bad, size_t bads)
{
    for (size_t i = 0; i < goods; i++) {
        if (!valid(good[i])) {
            fail_msg("rejected %s", good[i]);
        }
    }
    for (size_t i = 0; i < bads; i++) {
        if (valid(bad[i])) {
            fail_msg("accepted %s", bad[i]);
        }
    }
}

static void e164_numbers(void **state)
{
    static const char *const good[] = {"+14155550100", "+12345678", "+123456789012345",
                                       "+447911123456"};
    static const char *const bad[] = {"",         "+",          "14155550100",   "+0123456789",
                                      "+1234567", "+1234567890123456", "+1 4155550100",
                                      "+1-415-555-0100", "+14155550100x", "++14155550100"};
    judges_each(wc_e164_valid, good, COUNT(good), bad, COUNT(bad));
}

static void email_addresses(void **state)
{
    static const char *const good[] = {"user@example.com", "first.last+tag@mail.example.co.uk",
                                       "x_y-z@sub-domain.example.org", "o'brien@example.ie"};
    static const char *const bad[] = {"", "user", "@example.com", "user@", "user@localhost",
                                      "user@@example.com", ".user@example.com", "user.@example.com",
                                      "us..er@example.com", "user@-example.com",
                                      "user@example-.com", "user@exa mple.com", "user@1.2.3.4",
                                      "us er@example.com", "user@example..com"};
    judges_each(wc_email_address_valid, good, COUNT(good), bad, COUNT(bad));
    char longest[300];
    memset(longest, 'a', 65);
    strcpy(longest + 65, "@example.com"); /* a 65-character local part */
    assert_false(wc_email_address_valid(longest));
}

static void push_tokens(void **state)
{
    assert_true(wc_push_token_valid("a", WC_PUSH_FCM));
    assert_true(wc_push_token_valid("dGVzdA:APA91b_x.y-z", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("a b", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("a/b", WC_PUSH_FCM));
    assert_false(wc_push_token_valid("\xc3\xa9", WC_PUSH_FCM));
    /* The bounds of a token's length: FCM's most, APNS's least and most (hex, either case). */
    static const struct {
        wc_push_platform_t platform;
        char fill;
        size_t length;
        bool valid;
    } lengths[] = {
        {WC_PUSH_FCM, 'A', 4096, true}, {WC_PUSH_FCM, 'A', 4097, false},
        {WC_PUSH_APNS, 'f', 64, true},  {WC_PUSH_APNS, 'f', 63, false},
        {WC_PUSH_APNS, 'F', 200, true}, {WC_PUSH_APNS, 'F', 201, false},
    };
    char token[4100];
    for (size_t i = 0; i < COUNT(lengths); i++) {
        memset(token, lengths[i].fill, lengths[i].length);
        token[lengths[i].length] = '\0';
        if (wc_push_token_valid(token, lengths[i].platform) != lengths[i].valid) {
            fail_msg("%s token of %zu '%c': want %s", wc_push_platform_name(lengths[i].platform),
                     lengths[i].length, lengths[i].fill, lengths[i].valid ? "valid" : "refused");
        }
    }
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

UNIT_TEST_MAIN(cmocka_unit_test(e164_numbers),
               cmocka_unit_test(email_addresses),
               cmocka_unit_test(push_tokens),
               cmocka_unit_test(webhook_urls))
