/* The provider table: routing a notification to its row, and the failover
 * order of a channel read from the configuration. */
#include <string.h>

#include "unit_test.h"

#include "provider_table.h"

static void test_route(void **state)
{
    (void)state;
    assert_int_equal(worker_provider_route(WC_CHANNEL_SMS, NULL), PROVIDER_TWILIO);
    assert_int_equal(worker_provider_route(WC_CHANNEL_EMAIL, NULL), PROVIDER_SMTP);
    assert_int_equal(worker_provider_route(WC_CHANNEL_PUSH, "apns"), PROVIDER_APNS);
    assert_int_equal(worker_provider_route(WC_CHANNEL_PUSH, "fcm"), PROVIDER_FCM);
}

static void test_order_parse(void **state)
{
    (void)state;
    int out[PROVIDER_COUNT];
    char err[128];
    assert_int_equal(worker_provider_order_parse(WC_CHANNEL_SMS, "twilio,vonage", out, err,
                                                 sizeof(err)),
                     2);
    assert_int_equal(out[0], PROVIDER_TWILIO);
    assert_int_equal(out[1], PROVIDER_VONAGE);
    assert_int_equal(worker_provider_order_parse(WC_CHANNEL_SMS, "vonage", out, err, sizeof(err)),
                     1);
    assert_int_equal(out[0], PROVIDER_VONAGE);
    const struct {
        const char *list;
        const char *says;
    } bad[] = {
        {"", "no provider"},
        {"twilio,twilio", "twice"},
        {"twilio,smtp", "\"smtp\""},
        {"twilio,messagebird", "\"messagebird\""},
        {"twilio,", NULL},
        {",vonage", "\"\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n = worker_provider_order_parse(WC_CHANNEL_SMS, bad[i].list, out, err, sizeof(err));
        if (bad[i].says == NULL) {
            assert_int_equal(n, 1); /* a trailing comma ends the list */
            continue;
        }
        if (n != -1 || strstr(err, bad[i].says) == NULL) {
            fail_msg("\"%s\": %d, \"%s\"", bad[i].list, n, err);
        }
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(test_route), cmocka_unit_test(test_order_parse))
