/* wc_netguard: which addresses webhooks may reach, and the URL's host. */
#include <arpa/inet.h>
#include <string.h>

#include "unit_test.h"

#include "wc_netguard.h"

static bool internal(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    return wc_addr_is_internal((struct sockaddr *)&ss);
}

static void test_internal_addresses(void **state)
{
    (void)state;
    const char *blocked[] = {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                             "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
                             "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
                             "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                             "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a00:1"};
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
        if (!internal(blocked[i])) {
            fail_msg("%s should be internal", blocked[i]);
        }
    }
    const char *allowed[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "93.184.216.34",
                             "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (internal(allowed[i])) {
            fail_msg("%s should be public", allowed[i]);
        }
    }
}

static void test_url_host_port(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(wc_url_host_port("https://hooks.example.com/x?y=1", host, sizeof(host), &port), 0);
    assert_string_equal(host, "hooks.example.com");
    assert_int_equal(port, 443);
    assert_int_equal(wc_url_host_port("http://[::1]:8080/", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8080);
    assert_int_equal(wc_url_host_port("ftp://example.com/", host, sizeof(host), &port), -1);
    assert_int_equal(wc_url_host_port("not a url", host, sizeof(host), &port), -1);
    assert_int_equal(wc_url_host_port("https://", host, sizeof(host), &port), -1);
}

static void test_guard_blocks_literal_and_named_loopback(void **state)
{
    (void)state;
    char pin[300], why[256];
    assert_int_equal(wc_guard_webhook_url("http://127.0.0.1:9/x", pin, sizeof(pin), why, sizeof(why)),
                     WC_GUARD_BLOCKED);
    assert_non_null(strstr(why, "127.0.0.1"));
    assert_int_equal(wc_guard_webhook_url("http://localhost:9/x", pin, sizeof(pin), why, sizeof(why)),
                     WC_GUARD_BLOCKED);
    assert_int_equal(wc_guard_webhook_url("http://169.254.169.254/latest/meta-data", pin,
                                          sizeof(pin), why, sizeof(why)),
                     WC_GUARD_BLOCKED);
    assert_int_equal(wc_guard_webhook_url("http://0x7f000001/", pin, sizeof(pin), why, sizeof(why)),
                     WC_GUARD_BLOCKED);
    /* A public literal needs no DNS and is pinned to itself. */
    assert_int_equal(wc_guard_webhook_url("https://93.184.216.34:8443/h", pin, sizeof(pin), why,
                                          sizeof(why)),
                     WC_GUARD_OK);
    assert_string_equal(pin, "93.184.216.34:8443:93.184.216.34");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_internal_addresses),
               cmocka_unit_test(test_url_host_port),
               cmocka_unit_test(test_guard_blocks_literal_and_named_loopback))
