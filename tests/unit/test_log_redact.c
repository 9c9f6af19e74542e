/* wc_log_redact: what log lines may not carry. */
#include <string.h>

#include "unit_test.h"

#include "wc_log_redact.h"

static void expect(const char *in, const char *want)
{
    char out[512];
    wc_log_redact(in, out, sizeof(out));
    if (strcmp(out, want) != 0) {
        fail_msg("redact(\"%s\")\n  got  \"%s\"\n  want \"%s\"", in, out, want);
    }
}

static void test_masks_secrets_and_recipients(void **state)
{
    (void)state;
    expect("key wck_0123456789abcdef0123456789abcdef0123456789abcdef refused",
           "key wck_*** refused");
    expect("secret whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY= rotated", "secret whsec_*** rotated");
    expect("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ***");
    expect("550 5.1.1 <john.doe+tag@mail.example.com>: no such user",
           "550 5.1.1 <j***@mail.example.com>: no such user");
    expect("The 'To' number +14155550123 is not valid", "The 'To' number +***0123 is not valid");
    expect("To=+14155550123&Body=x", "To=+***0123&Body=x");
    expect("POST https://hooks.example.com/t/s3cr3t?sig=abc failed",
           "POST https://hooks.example.com/*** failed");
    expect("at http://user:pw@10.0.0.1:8080/x", "at http://***@10.0.0.1:8080/***");
    expect("token 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef gone",
           "token 01234567*** gone");
}

static void test_leaves_ordinary_text(void **state)
{
    (void)state;
    expect("listening on http://127.0.0.1:5000", "listening on http://127.0.0.1:5000");
    expect("notification 0123456789abcdef01234567 sent via email in 12 ms",
           "notification 0123456789abcdef01234567 sent via email in 12 ms");
    expect("worker 3 exited with 0 (+2 restarts)", "worker 3 exited with 0 (+2 restarts)");
    expect("/work/a/very/long/path/that/goes/on/and/on/and/on/build-test/api/wavecom-api x",
           "/work/a/very/long/path/that/goes/on/and/on/and/on/build-test/api/wavecom-api x");
    char small[8];
    wc_log_redact("a long message", small, sizeof(small));
    assert_string_equal(small, "a long ");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_masks_secrets_and_recipients),
               cmocka_unit_test(test_leaves_ordinary_text))
