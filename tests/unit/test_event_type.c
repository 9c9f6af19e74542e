#include "unit_test.h"
#include <string.h>

#include "wc_event_type.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void names_and_patterns(void **state)
{
    (void)state;
    static const char *const types[] = {"a", "invoice.paid", "user_2.created-v1"};
    static const char *const bad_types[] = {"", ".a", "a.", "a..b", "a b", "a.*", "*", "é"};
    static const char *const patterns[] = {"*", "invoice.*", "invoice.paid", "a.b.*"};
    static const char *const bad_patterns[] = {"", ".*", "*.paid", "a.*.b", "a*", "a..*", "**"};
    for (size_t i = 0; i < COUNT(types); i++) {
        assert_true(wc_event_type_valid(types[i]));
    }
    for (size_t i = 0; i < COUNT(bad_types); i++) {
        if (wc_event_type_valid(bad_types[i])) {
            fail_msg("accepted type %s", bad_types[i]);
        }
    }
    for (size_t i = 0; i < COUNT(patterns); i++) {
        assert_true(wc_event_pattern_valid(patterns[i]));
    }
    for (size_t i = 0; i < COUNT(bad_patterns); i++) {
        if (wc_event_pattern_valid(bad_patterns[i])) {
            fail_msg("accepted pattern %s", bad_patterns[i]);
        }
    }
    char longest[WC_EVENT_TYPE_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[WC_EVENT_TYPE_MAX] = '\0';
    assert_true(wc_event_type_valid(longest));
    longest[WC_EVENT_TYPE_MAX] = 'a';
    longest[WC_EVENT_TYPE_MAX + 1] = '\0';
    assert_false(wc_event_type_valid(longest));
}

static void matching(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *type;
        bool match;
    } cases[] = {
        {"*", "a", true},
        {"invoice.paid", "invoice.paid", true},
        {"invoice.paid", "invoice.paid.late", false},
        {"invoice.*", "invoice.paid", true},
        {"invoice.*", "invoice.paid.late", true},
        {"invoice.*", "invoice", false},
        {"invoice.*", "invoices.paid", false},
        {"invoice.paid", "invoice.Paid", false},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        if (wc_event_pattern_matches(cases[i].pattern, cases[i].type) != cases[i].match) {
            fail_msg("%s against %s", cases[i].pattern, cases[i].type);
        }
    }
}

UNIT_TEST_MAIN(cmocka_unit_test(names_and_patterns), cmocka_unit_test(matching))
