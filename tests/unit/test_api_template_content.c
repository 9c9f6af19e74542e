/* What a template version may hold (api/template_content.c): locale tags,
 * names, and the content rules, each refusal naming its field and rule. */
#include "unit_test.h"
#include <stdio.h>
#include <string.h>

#include "template_content.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void judges_locale_tags(void **state)
{
    static const char *const good[] = {"en", "pt-BR", "zh-Hant-TW", "gsw", "es-419"};
    static const char *const bad[] = {"", "e", "EN", "english", "pt_BR", "pt-", "-pt", "pt--BR",
                                      "pt-abcdefghi", "en-US-", "en US", "x-a",
                                      "en-aaaaaaaa-bbbbbbbb-cccccccc-dddddddd"};
    for (size_t i = 0; i < COUNT(good); i++) {
        if (!api_template_locale_valid(good[i])) {
            fail_msg("refused %s", good[i]);
        }
    }
    for (size_t i = 0; i < COUNT(bad); i++) {
        if (api_template_locale_valid(bad[i])) {
            fail_msg("accepted %s", bad[i]);
        }
    }
}

static void judges_names(void **state)
{
    char longest[API_TEMPLATE_NAME_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[API_TEMPLATE_NAME_MAX] = '\0';
    assert_true(api_template_name_valid(longest));
    assert_true(api_template_name_valid("order-shipped_v2.final"));
    longest[API_TEMPLATE_NAME_MAX] = 'a';
    longest[API_TEMPLATE_NAME_MAX + 1] = '\0';
    assert_false(api_template_name_valid(longest));
    assert_false(api_template_name_valid(""));
    assert_false(api_template_name_valid("order shipped"));
    assert_false(api_template_name_valid("pedido/enviado"));
}

typedef struct {
    const char *content; /* JSON */
    const char *field;   /* NULL: valid */
    const char *rule;
} content_case_t;

static void checks_content(void **state)
{
    static const content_case_t cases[] = {
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"SMS\":{\"text\":\"Hi {{n}}\"}}}}", NULL,
         NULL},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"EMAIL\":{\"subject\":\"s\",\"text\":\"t\","
         "\"html\":\"<b>{{x}}</b>\"},\"PUSH\":{\"body\":\"b\",\"data\":{\"k\":\"{{v}}\"}},"
         "\"WEBHOOK\":{\"payload\":[{\"a\":[\"{{b}}\",1,true,null]}]}}}}",
         NULL, NULL},
        {"{\"locales\":{\"en\":{\"SMS\":{\"text\":\"x\"}}}}", "defaultLocale", "required"},
        {"{\"defaultLocale\":\"en\"}", "locales", "required"},
        {"{\"defaultLocale\":\"en\",\"locales\":{}}", "locales", "type"},
        {"{\"defaultLocale\":\"fr\",\"locales\":{\"en\":{\"SMS\":{\"text\":\"x\"}}}}",
         "defaultLocale", "exists"},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{}}}", "locales.en", "type"},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"sms\":{\"text\":\"x\"}}}}",
         "locales.en.sms", "enum"},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"EMAIL\":{\"text\":\"x\"}}}}",
         "locales.en.EMAIL.subject", "required"},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"SMS\":{\"text\":\"{{#a}}\"}}}}",
         "locales.en.SMS.text", "mustache"},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"PUSH\":{\"body\":\"b\",\"data\":[]}}}}",
         "locales.en.PUSH.data", "type"},
        {"{\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"WEBHOOK\":{\"payload\":{\"a\":"
         "{\"b\":\"{{/c}}\"}}}}}}",
         "locales.en.WEBHOOK.payload", "mustache"},
        {"{\"description\":5,\"defaultLocale\":\"en\",\"locales\":{\"en\":{\"SMS\":{\"text\":\"x\"}}}}",
         "description", "type"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_object *content = json_tokener_parse(cases[i].content);
        assert_non_null(content);
        wc_field_errors_t errs = {0};
        bool ok = api_template_content_check(content, &errs);
        json_object_put(content);
        if (cases[i].field == NULL) {
            if (!ok) {
                fail_msg("case %zu refused: %s %s", i, errs.items[0].field, errs.items[0].rule);
            }
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < errs.count; k++) {
            found = found || (strcmp(errs.items[k].field, cases[i].field) == 0 &&
                              strcmp(errs.items[k].rule, cases[i].rule) == 0);
        }
        if (ok || !found) {
            fail_msg("case %zu: expected %s/%s, got %zu errors (%s/%s)", i, cases[i].field,
                     cases[i].rule, errs.count, errs.count ? errs.items[0].field : "-",
                     errs.count ? errs.items[0].rule : "-");
        }
    }
}

/* Every channel has a table of parts, each filling a notification field. */
static void every_channel_has_parts(void **state)
{
    for (int c = 0; c < WC_CHANNEL_COUNT; c++) {
        const api_template_part_t *parts = api_template_channel_parts((wc_channel_t)c);
        assert_non_null(parts);
        size_t required = 0;
        for (const api_template_part_t *p = parts; p->name != NULL; p++) {
            assert_non_null(p->target);
            required += p->required;
        }
        assert_true(required >= 1);
    }
    /* Only EMAIL's HTML part escapes. */
    assert_int_equal(api_template_channel_parts(WC_CHANNEL_EMAIL)[2].mode, WC_MUSTACHE_HTML);
    assert_int_equal(api_template_channel_parts(WC_CHANNEL_EMAIL)[1].mode, WC_MUSTACHE_TEXT);
}

UNIT_TEST_MAIN(cmocka_unit_test(judges_locale_tags), cmocka_unit_test(judges_names),
               cmocka_unit_test(checks_content), cmocka_unit_test(every_channel_has_parts))
