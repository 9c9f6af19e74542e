#include "unit_test.h"
#include <string.h>

#include "wc_event_transform.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char *const event_text =
    "{\"id\":\"evt-1\",\"type\":\"order.paid\",\"timestamp\":\"2026-01-01T00:00:00.000Z\","
    "\"data\":{\"order\":{\"id\":\"o-9\",\"total\":42,\"lines\":[{\"sku\":\"x\"}]},\"a/b\":1}}";

/* A transformation and the compact JSON it must produce from the event above. */
static const struct {
    const char *transformation;
    const char *body;
} cases[] = {
    {"{\"select\":\"/data/order\"}", "{\"id\":\"o-9\",\"total\":42,\"lines\":[{\"sku\":\"x\"}]}"},
    {"{\"select\":\"/data/order/total\"}", "42"},
    {"{\"select\":\"/data/nothing\"}", "null"},
    {"{\"select\":\"/data/a~1b\"}", "1"},
    {"{\"template\":{\"text\":\"Order {{/data/order/id}} paid: {{/data/order/total}}\"}}",
     "{\"text\":\"Order o-9 paid: 42\"}"},
    {"{\"template\":{\"order\":\"{{/data/order/lines}}\",\"kind\":\"{{/type}}\"}}",
     "{\"order\":[{\"sku\":\"x\"}],\"kind\":\"order.paid\"}"},
    {"{\"select\":\"/data\",\"template\":[\"{{/order/id}}\",\"{{/missing}}\",7]}",
     "[\"o-9\",null,7]"},
    {"{\"template\":{\"m\":\"[{{/data/missing}}]\",\"w\":\"{{}}\"}}", NULL},
};

static void produces_each_body(void **state)
{
    (void)state;
    json_object *event = json_tokener_parse(event_text);
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_object *t = json_tokener_parse(cases[i].transformation);
        wc_field_errors_t errs = {0};
        if (t == NULL || !wc_event_transform_check(t, &errs)) {
            fail_msg("case %zu refused: %s", i, t == NULL ? "not JSON" : errs.items[0].message);
        }
        json_object *body = NULL;
        assert_int_equal(wc_event_transform_apply(t, event, &body), 0);
        const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        if (cases[i].body != NULL && strcmp(text, cases[i].body) != 0) {
            fail_msg("case %zu: got %s, want %s", i, text, cases[i].body);
        }
        if (cases[i].body == NULL) {
            /* The whole envelope, embedded as text, and an absent value as nothing. */
            json_object *m = json_object_object_get(body, "m");
            json_object *w = json_object_object_get(body, "w");
            assert_string_equal(json_object_get_string(m), "[]");
            assert_non_null(w);
            assert_true(json_object_is_type(w, json_type_object));
        }
        json_object_put(body);
        json_object_put(t);
    }
    json_object *whole = NULL;
    assert_int_equal(wc_event_transform_apply(NULL, event, &whole), 0);
    assert_true(json_object_equal(whole, event));
    json_object_put(whole);
    json_object_put(event);
}

static const struct {
    const char *transformation;
    const char *where;
    const char *rule;
} refused[] = {
    {"\"x\"", "transformation", "type"},
    {"{}", "transformation", "required"},
    {"{\"select\":\"/a\",\"code\":\"x\"}", "transformation.code", "unknown"},
    {"{\"select\":\"a\"}", "transformation.select", "pointer"},
    {"{\"select\":\"/a~2\"}", "transformation.select", "pointer"},
    {"{\"select\":3}", "transformation.select", "pointer"},
    {"{\"template\":\"{{/a\"}", "transformation.template", "placeholder"},
    {"{\"template\":\"{{a}}\"}", "transformation.template", "placeholder"},
    {"{\"template\":\"{{/1}}{{/2}}{{/3}}{{/4}}{{/5}}{{/6}}{{/7}}{{/8}}{{/9}}{{/10}}{{/11}}"
     "{{/12}}{{/13}}{{/14}}{{/15}}{{/16}}{{/17}}\"}",
     "transformation.template", "size"},
};

static void refuses_bad_transformations(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(refused); i++) {
        json_object *t = json_tokener_parse(refused[i].transformation);
        wc_field_errors_t errs = {0};
        if (wc_event_transform_check(t, &errs)) {
            fail_msg("case %zu accepted: %s", i, refused[i].transformation);
        }
        const wc_field_error_t *e = &errs.items[0];
        if (errs.count != 1 || strcmp(e->field, refused[i].where) != 0 ||
            strcmp(e->rule, refused[i].rule) != 0) {
            fail_msg("case %zu: got %s/%s, want %s/%s", i, e->field, e->rule, refused[i].where,
                     refused[i].rule);
        }
        json_object_put(t);
    }
    /* A template over the size bound. */
    json_object *big = json_object_new_object();
    char text[WC_TRANSFORM_TEMPLATE_MAX + 10];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    json_object_object_add(big, "template", json_object_new_string(text));
    wc_field_errors_t errs = {0};
    assert_false(wc_event_transform_check(big, &errs));
    assert_string_equal(errs.items[0].rule, "size");
    json_object_put(big);
}

UNIT_TEST_MAIN(cmocka_unit_test(produces_each_body), cmocka_unit_test(refuses_bad_transformations))
