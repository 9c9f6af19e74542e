/* The Mustache renderer (api/wc_mustache.h). The table holds the cases of the
 * Mustache specification for the features templates use (interpolation,
 * escaping, sections, inverted sections, dotted names, comments, delimiters),
 * with the spec's expected output; where the spec expects a name that is not
 * in the data to render nothing, the rendering is the same and the name is
 * reported missing, which is how templates are strict. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_mustache.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define OUT_MAX 65536

typedef struct {
    const char *name;
    const char *tmpl;
    const char *data; /* JSON */
    wc_mustache_mode_t mode;
    const char *expected;
    const char *missing; /* the names reported missing, comma-separated; NULL for none */
} render_case_t;

static const render_case_t cases[] = {
    /* Interpolation */
    {"no tags", "Hello from {Mustache}!\n", "{}", WC_MUSTACHE_HTML, "Hello from {Mustache}!\n", NULL},
    {"basic", "Hello, {{subject}}!", "{\"subject\":\"world\"}", WC_MUSTACHE_HTML, "Hello, world!",
     NULL},
    {"html escaping", "These characters should be HTML escaped: {{forbidden}}",
     "{\"forbidden\":\"& \\\" < >\"}", WC_MUSTACHE_HTML,
     "These characters should be HTML escaped: &amp; &quot; &lt; &gt;", NULL},
    {"triple mustache", "{{{forbidden}}}", "{\"forbidden\":\"& \\\" < >\"}", WC_MUSTACHE_HTML,
     "& \" < >", NULL},
    {"ampersand", "{{&forbidden}}", "{\"forbidden\":\"& \\\" < >\"}", WC_MUSTACHE_HTML, "& \" < >",
     NULL},
    {"integer", "\"{{mph}} miles an hour!\"", "{\"mph\":85}", WC_MUSTACHE_TEXT,
     "\"85 miles an hour!\"", NULL},
    {"decimal", "\"{{power}} jiggawatts!\"", "{\"power\":1.21}", WC_MUSTACHE_TEXT,
     "\"1.21 jiggawatts!\"", NULL},
    {"null", "I ({{cannot}}) be seen!", "{\"cannot\":null}", WC_MUSTACHE_TEXT, "I () be seen!",
     NULL},
    {"context miss", "I ({{cannot}}) be seen!", "{}", WC_MUSTACHE_TEXT, "I () be seen!", "cannot"},
    {"surrounding whitespace", "| {{string}} |", "{\"string\":\"---\"}", WC_MUSTACHE_TEXT,
     "| --- |", NULL},
    {"padding", "|{{ string }}|", "{\"string\":\"---\"}", WC_MUSTACHE_TEXT, "|---|", NULL},
    {"standalone interpolation", "  {{string}}\n", "{\"string\":\"---\"}", WC_MUSTACHE_TEXT,
     "  ---\n", NULL},
    /* Dotted names */
    {"dotted basic", "\"{{person.name}}\" == \"{{#person}}{{name}}{{/person}}\"",
     "{\"person\":{\"name\":\"Joe\"}}", WC_MUSTACHE_TEXT, "\"Joe\" == \"Joe\"", NULL},
    {"dotted arbitrary depth", "\"{{a.b.c.d.e.name}}\" == \"Phil\"",
     "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"name\":\"Phil\"}}}}}}", WC_MUSTACHE_TEXT,
     "\"Phil\" == \"Phil\"", NULL},
    {"dotted broken chain", "\"{{a.b.c}}\" == \"\"", "{\"a\":{}}", WC_MUSTACHE_TEXT,
     "\"\" == \"\"", "a.b.c"},
    {"dotted broken chain resolution", "\"{{a.b.c.name}}\" == \"\"",
     "{\"a\":{\"b\":{}},\"c\":{\"name\":\"Jim\"}}", WC_MUSTACHE_TEXT, "\"\" == \"\"", "a.b.c.name"},
    {"dotted initial resolution", "\"{{#a}}{{b.c.d.e.name}}{{/a}}\" == \"Phil\"",
     "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"name\":\"Phil\"}}}}},"
     "\"b\":{\"c\":{\"d\":{\"e\":{\"name\":\"Wrong\"}}}}}",
     WC_MUSTACHE_TEXT, "\"Phil\" == \"Phil\"", NULL},
    {"dotted context precedence", "{{#a}}{{b.c}}{{/a}}", "{\"a\":{\"b\":{}},\"b\":{\"c\":\"ERROR\"}}",
     WC_MUSTACHE_TEXT, "", "b.c"},
    {"implicit iterator", "\"{{#list}}({{.}}){{/list}}\"", "{\"list\":[\"a\",\"b\",\"c\"]}",
     WC_MUSTACHE_TEXT, "\"(a)(b)(c)\"", NULL},
    /* Sections */
    {"section truthy", "\"{{#boolean}}This should be rendered.{{/boolean}}\"", "{\"boolean\":true}",
     WC_MUSTACHE_TEXT, "\"This should be rendered.\"", NULL},
    {"section falsey", "\"{{#boolean}}This should not be rendered.{{/boolean}}\"",
     "{\"boolean\":false}", WC_MUSTACHE_TEXT, "\"\"", NULL},
    {"section null is falsey", "\"{{#null}}This should not be rendered.{{/null}}\"",
     "{\"null\":null}", WC_MUSTACHE_TEXT, "\"\"", NULL},
    {"section context", "\"{{#context}}Hi {{name}}.{{/context}}\"",
     "{\"context\":{\"name\":\"Joe\"}}", WC_MUSTACHE_TEXT, "\"Hi Joe.\"", NULL},
    {"section parent contexts", "\"{{#sec}}{{a}}, {{b}}, {{c.d}}{{/sec}}\"",
     "{\"a\":\"foo\",\"b\":\"wrong\",\"sec\":{\"b\":\"bar\"},\"c\":{\"d\":\"baz\"}}",
     WC_MUSTACHE_TEXT, "\"foo, bar, baz\"", NULL},
    {"section list", "\"{{#list}}{{item}}{{/list}}\"",
     "{\"list\":[{\"item\":1},{\"item\":2},{\"item\":3}]}", WC_MUSTACHE_TEXT, "\"123\"", NULL},
    {"section empty list", "\"{{#list}}Yay lists!{{/list}}\"", "{\"list\":[]}", WC_MUSTACHE_TEXT,
     "\"\"", NULL},
    {"section nested", "| A {{#bool}}B {{#bool}}C{{/bool}} D{{/bool}} E |", "{\"bool\":true}",
     WC_MUSTACHE_TEXT, "| A B C D E |", NULL},
    {"section dotted names", "\"{{#a.b.c}}Here{{/a.b.c}}\" == \"Here\"",
     "{\"a\":{\"b\":{\"c\":true}}}", WC_MUSTACHE_TEXT, "\"Here\" == \"Here\"", NULL},
    {"section standalone lines", "| This Is\n{{#boolean}}\n|\n{{/boolean}}\n| A Line\n",
     "{\"boolean\":true}", WC_MUSTACHE_TEXT, "| This Is\n|\n| A Line\n", NULL},
    {"section unreached names", "{{#show}}{{secret}}{{/show}}ok", "{\"show\":false}",
     WC_MUSTACHE_TEXT, "ok", NULL},
    /* Inverted sections */
    {"inverted falsey", "\"{{^boolean}}This should be rendered.{{/boolean}}\"",
     "{\"boolean\":false}", WC_MUSTACHE_TEXT, "\"This should be rendered.\"", NULL},
    {"inverted truthy", "\"{{^boolean}}This should not be rendered.{{/boolean}}\"",
     "{\"boolean\":true}", WC_MUSTACHE_TEXT, "\"\"", NULL},
    {"inverted list", "\"{{^list}}{{n}}{{/list}}\"", "{\"list\":[{\"n\":1},{\"n\":2}]}",
     WC_MUSTACHE_TEXT, "\"\"", NULL},
    {"inverted empty list", "\"{{^list}}Yay lists!{{/list}}\"", "{\"list\":[]}", WC_MUSTACHE_TEXT,
     "\"Yay lists!\"", NULL},
    {"inverted missing", "[{{^missing}}Found key 'missing'!{{/missing}}]", "{}", WC_MUSTACHE_TEXT,
     "[Found key 'missing'!]", "missing"},
    {"inverted dotted falsey", "\"{{^a.b.c}}Not Here{{/a.b.c}}\" == \"Not Here\"",
     "{\"a\":{\"b\":{\"c\":false}}}", WC_MUSTACHE_TEXT, "\"Not Here\" == \"Not Here\"", NULL},
    /* Comments and delimiters */
    {"comment inline", "12345{{! Comment Block! }}67890", "{}", WC_MUSTACHE_TEXT, "1234567890",
     NULL},
    {"set delimiters", "{{=<% %>=}}(<%text%>)", "{\"text\":\"Hey!\"}", WC_MUSTACHE_TEXT, "(Hey!)",
     NULL},
    /* What templates add: text parts keep data verbatim, HTML parts escape it;
     * a partial is never looked up, so data cannot become a template. */
    {"text keeps markup", "Hi {{name}}", "{\"name\":\"<script>alert(1)</script>\"}",
     WC_MUSTACHE_TEXT, "Hi <script>alert(1)</script>", NULL},
    {"html escapes markup", "<p>Hi {{name}}</p>", "{\"name\":\"<script>alert('x')</script>\"}",
     WC_MUSTACHE_HTML, "<p>Hi &lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;</p>", NULL},
    {"partials are not looked up", "[{{>part}}]", "{\"part\":\"{{secret}}\",\"secret\":\"s\"}",
     WC_MUSTACHE_TEXT, "[]", NULL},
    {"unicode passes through", "Olá {{name}} €", "{\"name\":\"João 😀\"}", WC_MUSTACHE_TEXT,
     "Olá João 😀 €", NULL},
};

static void renders_each_case(void **state)
{
    for (size_t i = 0; i < COUNT(cases); i++) {
        const render_case_t *c = &cases[i];
        json_object *data = json_tokener_parse(c->data);
        if (data == NULL) {
            fail_msg("%s: the case's data is not JSON", c->name);
        }
        char *out = NULL;
        char why[128];
        wc_mustache_missing_t missing;
        wc_mustache_status_t status =
            wc_mustache_render(c->tmpl, data, c->mode, OUT_MAX, &out, &missing, why, sizeof(why));
        json_object_put(data);
        wc_mustache_status_t want = c->missing != NULL ? WC_MUSTACHE_MISSING : WC_MUSTACHE_OK;
        if (status != want || out == NULL) {
            fail_msg("%s: status %d, expected %d (%s)", c->name, (int)status, (int)want, why);
        }
        if (strcmp(out, c->expected) != 0) {
            fail_msg("%s: rendered [%s], expected [%s]", c->name, out, c->expected);
        }
        char names[256] = "";
        for (size_t k = 0; k < missing.count; k++) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof(names) - used, "%s%s", k > 0 ? "," : "",
                     missing.names[k]);
        }
        if (strcmp(names, c->missing != NULL ? c->missing : "") != 0) {
            fail_msg("%s: missing [%s], expected [%s]", c->name, names,
                     c->missing != NULL ? c->missing : "");
        }
        free(out);
    }
}

static void refuses_bad_syntax(void **state)
{
    static const char *const bad[] = {"{{#open}}never closed", "{{/close}}never opened",
                                      "{{#a}}x{{/b}}", "{{unterminated", "{{=<% %>"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        char why[128];
        if (wc_mustache_check(bad[i], why, sizeof(why)) != WC_MUSTACHE_SYNTAX || why[0] == '\0') {
            fail_msg("accepted %s", bad[i]);
        }
        char *out = (char *)"untouched";
        assert_int_equal(wc_mustache_render(bad[i], NULL, WC_MUSTACHE_TEXT, OUT_MAX, &out, NULL,
                                            why, sizeof(why)),
                         WC_MUSTACHE_SYNTAX);
        assert_null(out);
    }
    char why[128];
    assert_int_equal(wc_mustache_check("Hi {{#a}}{{b}}{{/a}}", why, sizeof(why)), WC_MUSTACHE_OK);
}

static void reports_missing_names_once_and_up_to_the_maximum(void **state)
{
    char tmpl[512] = "{{a}}{{a}}";
    for (int i = 0; i < WC_MUSTACHE_MISSING_MAX + 2; i++) {
        size_t used = strlen(tmpl);
        snprintf(tmpl + used, sizeof(tmpl) - used, "{{n%d}}", i);
    }
    char *out = NULL;
    wc_mustache_missing_t missing;
    assert_int_equal(wc_mustache_render(tmpl, NULL, WC_MUSTACHE_TEXT, OUT_MAX, &out, &missing,
                                        NULL, 0),
                     WC_MUSTACHE_MISSING);
    assert_int_equal(missing.count, WC_MUSTACHE_MISSING_MAX);
    assert_true(missing.more);
    assert_string_equal(missing.names[0], "a");
    assert_string_equal(missing.names[1], "n0");
    free(out);
}

static void bounds_the_output(void **state)
{
    json_object *data = json_tokener_parse("{\"l\":[1,2,3,4,5,6,7,8,9,10]}");
    char *out = NULL;
    char why[128];
    assert_int_equal(wc_mustache_render("{{#l}}0123456789{{/l}}", data, WC_MUSTACHE_TEXT, 99, &out,
                                        NULL, why, sizeof(why)),
                     WC_MUSTACHE_TOO_LARGE);
    assert_null(out);
    assert_int_equal(wc_mustache_render("{{#l}}0123456789{{/l}}", data, WC_MUSTACHE_TEXT, 100,
                                        &out, NULL, why, sizeof(why)),
                     WC_MUSTACHE_OK);
    assert_int_equal(strlen(out), 100);
    free(out);
    json_object_put(data);
}

static void refuses_data_nested_too_deep(void **state)
{
    char json[256] = "";
    for (int i = 0; i <= WC_MUSTACHE_DATA_DEPTH_MAX + 1; i++) {
        strcat(json, "{\"a\":");
    }
    strcat(json, "1");
    for (int i = 0; i <= WC_MUSTACHE_DATA_DEPTH_MAX + 1; i++) {
        strcat(json, "}");
    }
    json_object *data = json_tokener_parse(json);
    assert_non_null(data);
    char *out = NULL;
    assert_int_equal(wc_mustache_render("x", data, WC_MUSTACHE_TEXT, OUT_MAX, &out, NULL, NULL, 0),
                     WC_MUSTACHE_TOO_DEEP);
    assert_null(out);
    json_object_put(data);
}

/* The deepest nesting a template part of 8 KiB can hold renders on a thread's
 * stack (the library recurses once per level). */
static void renders_the_deepest_nesting_a_part_can_hold(void **state)
{
    enum { PART_MAX = 8192 };
    static char tmpl[PART_MAX + 1];
    size_t levels = PART_MAX / (sizeof("{{#t}}{{/t}}") - 1);
    size_t used = 0;
    for (size_t i = 0; i < levels; i++) {
        used += (size_t)snprintf(tmpl + used, sizeof(tmpl) - used, "{{#t}}");
    }
    for (size_t i = 0; i < levels; i++) {
        used += (size_t)snprintf(tmpl + used, sizeof(tmpl) - used, "{{/t}}");
    }
    json_object *data = json_tokener_parse("{\"t\":true}");
    char *out = NULL;
    assert_int_equal(wc_mustache_render(tmpl, data, WC_MUSTACHE_TEXT, OUT_MAX, &out, NULL, NULL, 0),
                     WC_MUSTACHE_OK);
    assert_string_equal(out, "");
    free(out);
    json_object_put(data);
}

UNIT_TEST_MAIN(cmocka_unit_test(renders_each_case), cmocka_unit_test(refuses_bad_syntax),
               cmocka_unit_test(reports_missing_names_once_and_up_to_the_maximum),
               cmocka_unit_test(bounds_the_output), cmocka_unit_test(refuses_data_nested_too_deep),
               cmocka_unit_test(renders_the_deepest_nesting_a_part_can_hold))
