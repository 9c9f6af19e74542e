/* Which addresses webhooks may reach (wc_netaddr), for both settings of
 * WAVECOM_WEBHOOK_ALLOW_LOOPBACK, with every literal form the C library
 * accepts; and the delivery-time guard (wc_netguard) on names and literals.
 * No test here connects anywhere: the guard only resolves. */
#include <arpa/inet.h>
#include <string.h>

#include "unit_test.h"

#include "wc_netguard.h"

typedef struct {
    const char *host;     /* as it would appear in a URL, without brackets */
    wc_addr_class_t want; /* its class */
} literal_case_t;

static const literal_case_t literal_cases[] = {
    /* Cloud metadata and link-local: refused whatever the setting. */
    {"169.254.169.254", WC_ADDR_LINK_LOCAL},
    {"169.254.0.1", WC_ADDR_LINK_LOCAL},
    {"2852039166", WC_ADDR_LINK_LOCAL},         /* 169.254.169.254 as one decimal number */
    {"0xa9fea9fe", WC_ADDR_LINK_LOCAL},         /* the same in hex */
    {"0251.0376.0251.0376", WC_ADDR_LINK_LOCAL}, /* the same in octal */
    {"169.254.43518", WC_ADDR_LINK_LOCAL},      /* the short form a.b.c */
    {"100.100.100.200", WC_ADDR_LINK_LOCAL},    /* Alibaba Cloud metadata */
    {"fe80::1", WC_ADDR_LINK_LOCAL},
    {"febf:ffff::1", WC_ADDR_LINK_LOCAL},       /* the top of fe80::/10 */
    {"fe80::1%eth0", WC_ADDR_LINK_LOCAL},       /* with a zone */
    {"fd00:ec2::254", WC_ADDR_LINK_LOCAL},      /* AWS metadata over IPv6 */
    {"::ffff:169.254.169.254", WC_ADDR_LINK_LOCAL}, /* IPv4-mapped */
    {"::ffff:a9fe:a9fe", WC_ADDR_LINK_LOCAL},   /* the same in hex groups */
    {"::169.254.169.254", WC_ADDR_LINK_LOCAL},  /* IPv4-compatible */
    {"2002:a9fe:a9fe::1", WC_ADDR_LINK_LOCAL},  /* 6to4 around metadata */
    {"64:ff9b::169.254.169.254", WC_ADDR_LINK_LOCAL}, /* NAT64 around metadata */
    /* Loopback: allowed only where the operator allows it. */
    {"127.0.0.1", WC_ADDR_LOOPBACK},
    {"127.1", WC_ADDR_LOOPBACK},
    {"2130706433", WC_ADDR_LOOPBACK},
    {"0x7f000001", WC_ADDR_LOOPBACK},
    {"017700000001", WC_ADDR_LOOPBACK},
    {"127.255.0.9", WC_ADDR_LOOPBACK},
    {"::1", WC_ADDR_LOOPBACK},
    {"::ffff:127.0.0.1", WC_ADDR_LOOPBACK},
    /* Private, shared, reserved: refused whatever the setting. */
    {"10.1.2.3", WC_ADDR_INTERNAL},
    {"0x0a000001", WC_ADDR_INTERNAL},
    {"172.16.0.1", WC_ADDR_INTERNAL},
    {"172.31.255.255", WC_ADDR_INTERNAL},
    {"192.168.1.1", WC_ADDR_INTERNAL},
    {"3232235777", WC_ADDR_INTERNAL},           /* 192.168.1.1 */
    {"100.64.0.1", WC_ADDR_INTERNAL},
    {"0.0.0.0", WC_ADDR_INTERNAL},
    {"0", WC_ADDR_INTERNAL},
    {"224.0.0.1", WC_ADDR_INTERNAL},
    {"255.255.255.255", WC_ADDR_INTERNAL},
    {"::", WC_ADDR_INTERNAL},
    {"fc00::1", WC_ADDR_INTERNAL},
    {"fd12:3456::1", WC_ADDR_INTERNAL},
    {"::ffff:10.0.0.1", WC_ADDR_INTERNAL},
    {"2002:7f00:1::1", WC_ADDR_INTERNAL},       /* 6to4 around loopback is not loopback */
    {"64:ff9b::a00:1", WC_ADDR_INTERNAL},
    {"ff02::1", WC_ADDR_INTERNAL},
    /* Public. */
    {"8.8.8.8", WC_ADDR_PUBLIC},
    {"134744072", WC_ADDR_PUBLIC},              /* 8.8.8.8 */
    {"172.32.0.1", WC_ADDR_PUBLIC},
    {"172.15.255.255", WC_ADDR_PUBLIC},
    {"100.128.0.1", WC_ADDR_PUBLIC},
    {"100.100.100.201", WC_ADDR_INTERNAL},       /* CGNAT, beside the metadata address */
    {"169.255.0.1", WC_ADDR_PUBLIC},
    {"169.253.255.255", WC_ADDR_PUBLIC},
    {"2606:4700:4700::1111", WC_ADDR_PUBLIC},
    {"::ffff:8.8.8.8", WC_ADDR_PUBLIC},
    {"fec0::1", WC_ADDR_INTERNAL},              /* deprecated site-local */
};

static void test_literal_table_both_settings(void **state)
{
    (void)state;
    size_t n = sizeof(literal_cases) / sizeof(literal_cases[0]);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        const literal_case_t *c = &literal_cases[i];
        struct sockaddr_storage ss;
        if (!wc_addr_parse_literal(c->host, &ss)) {
            fail_msg("%s should parse as a literal", c->host);
        }
        wc_addr_class_t got = wc_addr_classify((const struct sockaddr *)&ss);
        if (got != c->want) {
            fail_msg("%s: class %d, want %d", c->host, (int)got, (int)c->want);
        }
        bool refused_strict = wc_addr_refused(got, false);
        bool refused_local = wc_addr_refused(got, true);
        if (refused_strict != (c->want != WC_ADDR_PUBLIC) ||
            refused_local != (c->want != WC_ADDR_PUBLIC && c->want != WC_ADDR_LOOPBACK)) {
            fail_msg("%s: refused %d without loopback, %d with", c->host, refused_strict,
                     refused_local);
        }
    }
}

static void test_names_are_not_literals(void **state)
{
    (void)state;
    const char *names[] = {"localhost", "hooks.example.com", "127.0.0.1.nip.io", "0x7g000001",
                           "1.2.3.4.5", "256.0.0.1x", "::1::2", "", "a%b"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct sockaddr_storage ss;
        if (wc_addr_parse_literal(names[i], &ss)) {
            fail_msg("%s should not be a literal", names[i]);
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

/* The guard resolves names (localhost resolves to loopback) and literals in
 * any form; it never connects. */
static void test_guard_both_settings(void **state)
{
    (void)state;
    const struct {
        const char *url;
        wc_guard_result_t strict, local; /* without and with loopback allowed */
    } cases[] = {
        {"http://127.0.0.1:9/x", WC_GUARD_BLOCKED, WC_GUARD_OK},
        {"http://localhost:9/x", WC_GUARD_BLOCKED, WC_GUARD_OK},
        {"http://0x7f000001:9/", WC_GUARD_BLOCKED, WC_GUARD_OK},
        {"http://2130706433:9/", WC_GUARD_BLOCKED, WC_GUARD_OK},
        {"http://[::ffff:127.0.0.1]:9/", WC_GUARD_BLOCKED, WC_GUARD_OK},
        {"http://169.254.169.254/latest/meta-data", WC_GUARD_BLOCKED, WC_GUARD_BLOCKED},
        {"http://2852039166/latest/meta-data", WC_GUARD_BLOCKED, WC_GUARD_BLOCKED},
        {"http://[fd00:ec2::254]/latest", WC_GUARD_BLOCKED, WC_GUARD_BLOCKED},
        {"http://[::ffff:169.254.169.254]/", WC_GUARD_BLOCKED, WC_GUARD_BLOCKED},
        {"http://10.0.0.1/", WC_GUARD_BLOCKED, WC_GUARD_BLOCKED},
        {"http://100.100.100.200/", WC_GUARD_BLOCKED, WC_GUARD_BLOCKED},
        {"https://93.184.216.34:8443/h", WC_GUARD_OK, WC_GUARD_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char pin[300], why[256];
        wc_guard_result_t strict =
            wc_guard_webhook_url(cases[i].url, false, pin, sizeof(pin), why, sizeof(why));
        wc_guard_result_t local =
            wc_guard_webhook_url(cases[i].url, true, pin, sizeof(pin), why, sizeof(why));
        if (strict != cases[i].strict || local != cases[i].local) {
            fail_msg("%s: %d without loopback, %d with", cases[i].url, (int)strict, (int)local);
        }
    }
    char pin[300], why[256];
    assert_int_equal(wc_guard_webhook_url("http://169.254.169.254/", true, pin, sizeof(pin), why,
                                          sizeof(why)),
                     WC_GUARD_BLOCKED);
    assert_non_null(strstr(why, "metadata"));
    /* A public literal needs no DNS and is pinned to itself. */
    assert_int_equal(wc_guard_webhook_url("https://93.184.216.34:8443/h", false, pin, sizeof(pin),
                                          why, sizeof(why)),
                     WC_GUARD_OK);
    assert_string_equal(pin, "93.184.216.34:8443:93.184.216.34");
}

UNIT_TEST_MAIN(cmocka_unit_test(test_literal_table_both_settings),
               cmocka_unit_test(test_names_are_not_literals),
               cmocka_unit_test(test_url_host_port),
               cmocka_unit_test(test_guard_both_settings))
