#include "wc_event_transform.h"

#include <json-c/json_pointer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(wc_field_errors_t *errs, const char *where, const char *rule, const char *why)
{
    wc_field_errors_add(errs, where, rule, "%s: %s", where, why);
    return false;
}

/* RFC 6901: empty (the whole value) or "/"-separated tokens where "~" is
 * followed only by 0 or 1. */
static bool pointer_valid(const char *p, size_t len)
{
    if (len > WC_TRANSFORM_POINTER_MAX || (len > 0 && p[0] != '/')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)p[i] < 0x20 ||
            (p[i] == '~' && (i + 1 >= len || (p[i + 1] != '0' && p[i + 1] != '1')))) {
            return false;
        }
    }
    return true;
}

/* Calls `each(pointer, len, arg)` for every "{{pointer}}" of `text`; returns
 * the number found, or -1 for an unclosed "{{". */
static int placeholders(const char *text, bool (*each)(const char *, size_t, void *), void *arg)
{
    int n = 0;
    const char *p = text;
    const char *open = NULL;
    while ((open = strstr(p, "{{")) != NULL) {
        const char *close = strstr(open + 2, "}}");
        if (close == NULL) {
            return -1;
        }
        if (each != NULL && !each(open + 2, (size_t)(close - open - 2), arg)) {
            return -1;
        }
        n++;
        p = close + 2;
    }
    return n;
}

static bool pointer_ok(const char *p, size_t len, void *arg)
{
    (void)arg;
    return pointer_valid(p, len);
}

/* Counts the template's placeholders into *count; false for a bad one. */
static bool check_template(json_object *t, int *count)
{
    switch (json_object_get_type(t)) {
    case json_type_string: {
        int n = placeholders(json_object_get_string(t), pointer_ok, NULL);
        if (n < 0) {
            return false;
        }
        *count += n;
        return true;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(t); i++) {
            if (!check_template(json_object_array_get_idx(t, i), count)) {
                return false;
            }
        }
        return true;
    case json_type_object: {
        json_object_object_foreach(t, key, value)
        {
            (void)key;
            if (!check_template(value, count)) {
                return false;
            }
        }
        return true;
    }
    default:
        return true;
    }
}

bool wc_event_transform_check(json_object *t, wc_field_errors_t *errs)
{
    if (!json_object_is_type(t, json_type_object)) {
        return refuse(errs, "transformation", "type", "must be an object");
    }
    json_object *select = NULL, *tmpl = NULL;
    json_object_object_foreach(t, key, value)
    {
        (void)value;
        if (strcmp(key, "select") != 0 && strcmp(key, "template") != 0) {
            char at[128];
            snprintf(at, sizeof(at), "transformation.%.64s", key);
            return refuse(errs, at, "unknown", "a transformation has only select and template");
        }
    }
    bool has_select = json_object_object_get_ex(t, "select", &select);
    bool has_template = json_object_object_get_ex(t, "template", &tmpl);
    if (!has_select && !has_template) {
        return refuse(errs, "transformation", "required", "give select, template or both");
    }
    if (has_select && (!json_object_is_type(select, json_type_string) ||
                       !pointer_valid(json_object_get_string(select),
                                      (size_t)json_object_get_string_len(select)))) {
        return refuse(errs, "transformation.select", "pointer",
                      "must be a JSON Pointer (RFC 6901) of at most 256 characters");
    }
    if (has_template) {
        size_t len = 0;
        json_object_to_json_string_length(tmpl, JSON_C_TO_STRING_PLAIN, &len);
        if (len > WC_TRANSFORM_TEMPLATE_MAX) {
            return refuse(errs, "transformation.template", "size",
                          "a template has at most 8192 bytes of JSON");
        }
        int count = 0;
        if (!check_template(tmpl, &count)) {
            return refuse(errs, "transformation.template", "placeholder",
                          "each {{...}} holds a JSON Pointer (empty or starting with /) and is "
                          "closed");
        }
        if (count > WC_TRANSFORM_PLACEHOLDERS_MAX) {
            return refuse(errs, "transformation.template", "size",
                          "a template has at most 16 placeholders");
        }
    }
    return true;
}

/* ---- application ---- */

/* The value at a pointer of `len` bytes, borrowed; NULL when absent. */
static json_object *resolve(json_object *from, const char *p, size_t len)
{
    char pointer[WC_TRANSFORM_POINTER_MAX + 1];
    if (len > WC_TRANSFORM_POINTER_MAX) {
        return NULL;
    }
    memcpy(pointer, p, len);
    pointer[len] = '\0';
    if (len == 0) {
        return from;
    }
    json_object *out = NULL;
    return json_pointer_get(from, pointer, &out) == 0 ? out : NULL;
}

static json_object *copy(json_object *v)
{
    json_object *out = NULL;
    if (v == NULL) {
        return NULL;
    }
    return json_object_deep_copy(v, &out, NULL) == 0 ? out : NULL;
}

/* The text of a string with its placeholders filled in; NULL when out of memory. */
static json_object *fill_text(const char *text, json_object *from)
{
    size_t cap = strlen(text) + 1, used = 0;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, "{{");
        const char *close = open != NULL ? strstr(open + 2, "}}") : NULL;
        const char *piece = p;
        size_t piece_len = close != NULL ? (size_t)(open - p) : strlen(p);
        const char *value = "";
        json_object *v = close != NULL ? resolve(from, open + 2, (size_t)(close - open - 2)) : NULL;
        if (v != NULL) {
            value = json_object_is_type(v, json_type_string)
                        ? json_object_get_string(v)
                        : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        }
        size_t value_len = strlen(value);
        if (used + piece_len + value_len + 1 > cap) {
            cap = used + piece_len + value_len + 1;
            char *grown = realloc(out, cap);
            if (grown == NULL) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + used, piece, piece_len);
        used += piece_len;
        memcpy(out + used, value, value_len);
        used += value_len;
        out[used] = '\0';
        if (close == NULL) {
            break;
        }
        p = close + 2;
    }
    json_object *s = json_object_new_string_len(out, (int)used);
    free(out);
    return s;
}

/* A new value: `t` with its placeholders filled from `from`. A NULL result
 * is JSON null (an absent value) unless *oom was set. */
static json_object *fill(json_object *t, json_object *from, bool *oom)
{
    switch (json_object_get_type(t)) {
    case json_type_string: {
        const char *text = json_object_get_string(t);
        size_t len = (size_t)json_object_get_string_len(t);
        if (len >= 4 && strncmp(text, "{{", 2) == 0 && strcmp(text + len - 2, "}}") == 0 &&
            placeholders(text, NULL, NULL) == 1) {
            json_object *v = resolve(from, text + 2, len - 4);
            json_object *c = copy(v);
            *oom |= v != NULL && c == NULL;
            return c;
        }
        json_object *s = fill_text(text, from);
        *oom |= s == NULL;
        return s;
    }
    case json_type_array: {
        json_object *a = json_object_new_array();
        if (a == NULL) {
            *oom = true;
            return NULL;
        }
        for (size_t i = 0; i < json_object_array_length(t) && !*oom; i++) {
            json_object_array_add(a, fill(json_object_array_get_idx(t, i), from, oom));
        }
        return a;
    }
    case json_type_object: {
        json_object *o = json_object_new_object();
        if (o == NULL) {
            *oom = true;
            return NULL;
        }
        json_object_object_foreach(t, key, value)
        {
            if (*oom) {
                break;
            }
            json_object_object_add(o, key, fill(value, from, oom));
        }
        return o;
    }
    default: {
        json_object *c = copy(t);
        *oom |= c == NULL;
        return c;
    }
    }
}

int wc_event_transform_apply(json_object *t, json_object *event, json_object **body)
{
    json_object *from = event;
    json_object *select = NULL, *tmpl = NULL;
    *body = NULL;
    if (t != NULL && json_object_object_get_ex(t, "select", &select)) {
        from = resolve(event, json_object_get_string(select),
                       (size_t)json_object_get_string_len(select));
    }
    if (t == NULL || !json_object_object_get_ex(t, "template", &tmpl)) {
        /* An absent selection is sent as JSON null. */
        *body = copy(from);
        return from != NULL && *body == NULL ? -1 : 0;
    }
    bool oom = false;
    *body = fill(tmpl, from, &oom);
    if (oom) {
        json_object_put(*body);
        *body = NULL;
        return -1;
    }
    return 0;
}
