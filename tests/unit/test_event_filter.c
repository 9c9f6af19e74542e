#include "unit_test.h"
#include <string.h>

#include "wc_event_filter.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char *const payload_text =
    "{\"type\":\"order\",\"total\":150,\"ratio\":0.5,\"country\":\"FR\",\"vip\":true,"
    "\"note\":null,\"order\":{\"id\":\"o-1\",\"items\":3,\"customer\":{\"tier\":\"gold\"}},"
    "\"tags\":[\"a\",\"b\"]}";

/* Each filter against the payload above, and what it must decide. */
static const struct {
    const char *filter;
    bool match;
} cases[] = {
    {"{\"field\":\"country\",\"eq\":\"FR\"}", true},
    {"{\"field\":\"country\",\"eq\":\"DE\"}", false},
    {"{\"field\":\"country\",\"ne\":\"DE\"}", true},
    {"{\"field\":\"missing\",\"ne\":\"DE\"}", false},
    {"{\"field\":\"total\",\"eq\":150.0}", true},
    {"{\"field\":\"total\",\"gt\":100}", true},
    {"{\"field\":\"total\",\"gt\":150}", false},
    {"{\"field\":\"total\",\"gte\":150}", true},
    {"{\"field\":\"ratio\",\"lt\":1}", true},
    {"{\"field\":\"ratio\",\"lte\":0.4}", false},
    {"{\"field\":\"total\",\"gt\":\"100\"}", false},
    {"{\"field\":\"country\",\"lt\":\"GB\"}", true},
    {"{\"field\":\"country\",\"in\":[\"DE\",\"FR\"]}", true},
    {"{\"field\":\"country\",\"in\":[\"DE\",\"IT\"]}", false},
    {"{\"field\":\"order.customer.tier\",\"eq\":\"gold\"}", true},
    {"{\"field\":\"order.items\",\"in\":[1,2,3]}", true},
    {"{\"field\":\"order.id.deeper\",\"exists\":true}", false},
    {"{\"field\":\"order.customer\",\"exists\":true}", true},
    {"{\"field\":\"order.coupon\",\"exists\":false}", true},
    {"{\"field\":\"note\",\"exists\":true}", true},
    {"{\"field\":\"note\",\"eq\":null}", true},
    {"{\"field\":\"vip\",\"eq\":true}", true},
    {"{\"field\":\"vip\",\"eq\":\"true\"}", false},
    {"{\"field\":\"tags\",\"eq\":[\"a\",\"b\"]}", true},
    {"{\"field\":\"missing\",\"gt\":0}", false},
    {"{\"and\":[{\"field\":\"country\",\"eq\":\"FR\"},{\"field\":\"total\",\"gt\":100}]}", true},
    {"{\"and\":[{\"field\":\"country\",\"eq\":\"FR\"},{\"field\":\"total\",\"gt\":500}]}", false},
    {"{\"or\":[{\"field\":\"country\",\"eq\":\"DE\"},{\"field\":\"vip\",\"eq\":true}]}", true},
    {"{\"or\":[{\"field\":\"country\",\"eq\":\"DE\"},{\"field\":\"vip\",\"eq\":false}]}", false},
    {"{\"not\":{\"field\":\"country\",\"eq\":\"FR\"}}", false},
    {"{\"not\":{\"field\":\"missing\",\"eq\":1}}", true},
    {"{\"and\":[{\"or\":[{\"field\":\"a\",\"exists\":true},{\"field\":\"order.items\",\"gte\":3}]},"
     "{\"not\":{\"field\":\"order.customer.tier\",\"in\":[\"silver\"]}}]}",
     true},
};

static void decides_each_case(void **state)
{
    (void)state;
    json_object *payload = json_tokener_parse(payload_text);
    assert_non_null(payload);
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_object *filter = json_tokener_parse(cases[i].filter);
        wc_field_errors_t errs = {0};
        if (filter == NULL || !wc_event_filter_check(filter, &errs)) {
            fail_msg("case %zu refused: %s", i, filter == NULL ? "not JSON" : errs.items[0].message);
        }
        if (wc_event_filter_match(filter, payload) != cases[i].match) {
            fail_msg("case %zu (%s): want %s", i, cases[i].filter,
                     cases[i].match ? "a match" : "no match");
        }
        json_object_put(filter);
    }
    json_object_put(payload);
}

/* Filters refused at registration, with the place and the rule named. */
static const struct {
    const char *filter;
    const char *where;
    const char *rule;
} refused[] = {
    {"[]", "filter", "type"},
    {"{\"eq\":1}", "filter.field", "required"},
    {"{\"field\":\"\",\"eq\":1}", "filter.field", "path"},
    {"{\"field\":\"a..b\",\"eq\":1}", "filter.field", "path"},
    {"{\"field\":7,\"eq\":1}", "filter.field", "path"},
    {"{\"field\":\"a\",\"regex\":\"x\"}", "filter.regex", "unknown"},
    {"{\"field\":\"a\"}", "filter", "operator"},
    {"{\"field\":\"a\",\"eq\":1,\"ne\":2}", "filter", "operator"},
    {"{\"field\":\"a\",\"gt\":true}", "filter.gt", "type"},
    {"{\"field\":\"a\",\"in\":[]}", "filter.in", "type"},
    {"{\"field\":\"a\",\"exists\":1}", "filter.exists", "type"},
    {"{\"and\":[]}", "filter.and", "type"},
    {"{\"or\":[{\"field\":\"a\",\"eq\":1},3]}", "filter.or[1]", "type"},
    {"{\"and\":[{\"field\":\"a\",\"eq\":1}],\"field\":\"b\"}", "filter", "operator"},
    {"{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"not\":{\"field\":\"a\","
     "\"eq\":1}}}}}}}}}",
     "filter.not.not.not.not.not.not.not.not", "depth"},
};

static void refuses_bad_filters(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(refused); i++) {
        json_object *filter = json_tokener_parse(refused[i].filter);
        wc_field_errors_t errs = {0};
        if (wc_event_filter_check(filter, &errs)) {
            fail_msg("case %zu accepted: %s", i, refused[i].filter);
        }
        const wc_field_error_t *e = &errs.items[0];
        if (errs.count != 1 || strcmp(e->field, refused[i].where) != 0 ||
            strcmp(e->rule, refused[i].rule) != 0) {
            fail_msg("case %zu: got %s/%s, want %s/%s", i, e->field, e->rule, refused[i].where,
                     refused[i].rule);
        }
        json_object_put(filter);
    }
}

/* More than 64 parts is refused even when shallow. */
static void bounds_the_size(void **state)
{
    (void)state;
    json_object *list = json_object_new_array();
    for (int i = 0; i < 70; i++) {
        json_object *leaf = json_object_new_object();
        json_object_object_add(leaf, "field", json_object_new_string("a"));
        json_object_object_add(leaf, "eq", json_object_new_int(i));
        json_object_array_add(list, leaf);
    }
    json_object *filter = json_object_new_object();
    json_object_object_add(filter, "or", list);
    wc_field_errors_t errs = {0};
    assert_false(wc_event_filter_check(filter, &errs));
    assert_string_equal(errs.items[0].rule, "size");
    json_object_put(filter);
}

UNIT_TEST_MAIN(cmocka_unit_test(decides_each_case), cmocka_unit_test(refuses_bad_filters),
               cmocka_unit_test(bounds_the_size))
