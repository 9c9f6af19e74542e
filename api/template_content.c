#include "template_content.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const api_template_part_t email_parts[] = {
    {"subject", "subject", API_PART_TEXT, true, WC_MUSTACHE_TEXT},
    {"text", "message", API_PART_TEXT, true, WC_MUSTACHE_TEXT},
    {"html", "html", API_PART_TEXT, false, WC_MUSTACHE_HTML},
    {NULL, NULL, API_PART_TEXT, false, WC_MUSTACHE_TEXT},
};
static const api_template_part_t sms_parts[] = {
    {"text", "message", API_PART_TEXT, true, WC_MUSTACHE_TEXT},
    {NULL, NULL, API_PART_TEXT, false, WC_MUSTACHE_TEXT},
};
static const api_template_part_t push_parts[] = {
    {"title", "title", API_PART_TEXT, false, WC_MUSTACHE_TEXT},
    {"body", "message", API_PART_TEXT, true, WC_MUSTACHE_TEXT},
    {"data", "data", API_PART_STRING_MAP, false, WC_MUSTACHE_TEXT},
    {NULL, NULL, API_PART_TEXT, false, WC_MUSTACHE_TEXT},
};
static const api_template_part_t webhook_parts[] = {
    {"payload", "payload", API_PART_JSON, true, WC_MUSTACHE_TEXT},
    {"description", "message", API_PART_TEXT, false, WC_MUSTACHE_TEXT},
    {NULL, NULL, API_PART_TEXT, false, WC_MUSTACHE_TEXT},
};
static const api_template_part_t *const channel_parts[WC_CHANNEL_COUNT] = {
    [WC_CHANNEL_EMAIL] = email_parts,
    [WC_CHANNEL_SMS] = sms_parts,
    [WC_CHANNEL_PUSH] = push_parts,
    [WC_CHANNEL_WEBHOOK] = webhook_parts,
};

const api_template_part_t *api_template_channel_parts(wc_channel_t channel)
{
    return channel_parts[channel];
}

bool api_template_locale_valid(const char *tag)
{
    size_t len = strlen(tag);
    if (len < 2 || len > API_TEMPLATE_LOCALE_MAX) {
        return false;
    }
    size_t i = 0;
    while (i < len && tag[i] >= 'a' && tag[i] <= 'z') {
        i++;
    }
    if (i < 2 || i > 3) {
        return false;
    }
    while (i < len) {
        if (tag[i] != '-') {
            return false;
        }
        size_t start = ++i;
        while (i < len && isalnum((unsigned char)tag[i])) {
            i++;
        }
        if (i == start || i - start > 8) {
            return false;
        }
    }
    return true;
}

bool api_template_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > API_TEMPLATE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

/* One Mustache template: a string without NUL, within the size, that parses. */
static void check_template_string(json_object *value, const char *field, wc_field_errors_t *errs)
{
    if (!json_object_is_type(value, json_type_string)) {
        wc_field_errors_add(errs, field, "type", "%s must be a string", field);
        return;
    }
    const char *text = json_object_get_string(value);
    size_t len = (size_t)json_object_get_string_len(value);
    if (strlen(text) != len) {
        wc_field_errors_add(errs, field, "nul", "%s must not contain NUL characters", field);
        return;
    }
    if (len > API_TEMPLATE_PART_MAX_BYTES) {
        wc_field_errors_add(errs, field, "size", "%s must be at most %d bytes", field,
                            API_TEMPLATE_PART_MAX_BYTES);
        return;
    }
    char why[128];
    if (wc_mustache_check(text, why, sizeof(why)) != WC_MUSTACHE_OK) {
        wc_field_errors_add(errs, field, "mustache", "%s is not a valid Mustache template: %s",
                            field, why);
    }
}

/* Every string of a webhook body, at any depth, is a template. */
static void check_json_templates(json_object *value, const char *field, int depth,
                                 wc_field_errors_t *errs)
{
    if (depth > WC_MUSTACHE_DATA_DEPTH_MAX) {
        wc_field_errors_add(errs, field, "depth", "%s nests deeper than %d levels", field,
                            WC_MUSTACHE_DATA_DEPTH_MAX);
        return;
    }
    if (json_object_is_type(value, json_type_string)) {
        check_template_string(value, field, errs);
    } else if (json_object_is_type(value, json_type_array)) {
        size_t n = json_object_array_length(value);
        for (size_t i = 0; i < n && errs->count < WC_FIELD_ERRORS_MAX; i++) {
            check_json_templates(json_object_array_get_idx(value, i), field, depth + 1, errs);
        }
    } else if (json_object_is_type(value, json_type_object)) {
        json_object_object_foreach(value, key, member)
        {
            (void)key;
            check_json_templates(member, field, depth + 1, errs);
        }
    }
}

static void check_part(const api_template_part_t *part, json_object *value, const char *field,
                       wc_field_errors_t *errs)
{
    switch (part->kind) {
    case API_PART_TEXT:
        check_template_string(value, field, errs);
        break;
    case API_PART_STRING_MAP:
        if (!json_object_is_type(value, json_type_object)) {
            wc_field_errors_add(errs, field, "type", "%s must be an object of strings", field);
            return;
        }
        json_object_object_foreach(value, key, member)
        {
            (void)key;
            check_template_string(member, field, errs);
        }
        break;
    case API_PART_JSON:
        if (!json_object_is_type(value, json_type_object) &&
            !json_object_is_type(value, json_type_array)) {
            wc_field_errors_add(errs, field, "type", "%s must be an object or an array", field);
            return;
        }
        check_json_templates(value, field, 0, errs);
        break;
    }
}

static void check_channel_body(wc_channel_t channel, json_object *body, const char *prefix,
                               wc_field_errors_t *errs)
{
    if (!json_object_is_type(body, json_type_object)) {
        wc_field_errors_add(errs, prefix, "type", "%s must be an object", prefix);
        return;
    }
    const api_template_part_t *parts = api_template_channel_parts(channel);
    char field[128];
    json_object_object_foreach(body, key, member)
    {
        const api_template_part_t *part = NULL;
        for (const api_template_part_t *p = parts; p->name != NULL; p++) {
            part = part != NULL ? part : (strcmp(p->name, key) == 0 ? p : NULL);
        }
        snprintf(field, sizeof(field), "%.100s.%.20s", prefix, key);
        if (part == NULL) {
            wc_field_errors_add(errs, field, "unknown", "unknown field \"%.20s\" in a %s body",
                                key, wc_channel_name(channel));
        } else {
            check_part(part, member, field, errs);
        }
    }
    for (const api_template_part_t *p = parts; p->name != NULL; p++) {
        if (p->required && !json_object_object_get_ex(body, p->name, NULL)) {
            snprintf(field, sizeof(field), "%.100s.%.20s", prefix, p->name);
            wc_field_errors_add(errs, field, "required", "%s is required", field);
        }
    }
}

static void check_locale(const char *tag, json_object *bodies, wc_field_errors_t *errs)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "locales.%.36s", tag);
    if (!api_template_locale_valid(tag)) {
        wc_field_errors_add(errs, prefix, "locale",
                            "locale keys must be tags such as en or pt-BR (a 2 or 3 letter "
                            "language, then -subtags)");
        return;
    }
    if (!json_object_is_type(bodies, json_type_object) || json_object_object_length(bodies) == 0) {
        wc_field_errors_add(errs, prefix, "type",
                            "%s must be an object with a body for at least one channel", prefix);
        return;
    }
    json_object_object_foreach(bodies, key, body)
    {
        wc_channel_t channel;
        char field[128];
        snprintf(field, sizeof(field), "%s.%.20s", prefix, key);
        if (wc_channel_parse(key, &channel) != 0) {
            wc_field_errors_add(errs, field, "enum",
                                "a locale's bodies are named EMAIL, SMS, PUSH or WEBHOOK");
            continue;
        }
        check_channel_body(channel, body, field, errs);
    }
}

bool api_template_content_check(json_object *content, wc_field_errors_t *errs)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(content, "description", &v) &&
        (!json_object_is_type(v, json_type_string) ||
         json_object_get_string_len(v) > API_TEMPLATE_DESCRIPTION_MAX)) {
        wc_field_errors_add(errs, "description", "type", "description must be a string of at "
                            "most %d bytes", API_TEMPLATE_DESCRIPTION_MAX);
    }
    json_object *locales = NULL;
    if (!json_object_object_get_ex(content, "locales", &locales)) {
        wc_field_errors_add(errs, "locales", "required", "locales is required");
    } else if (!json_object_is_type(locales, json_type_object) ||
               json_object_object_length(locales) == 0 ||
               json_object_object_length(locales) > API_TEMPLATE_LOCALES_MAX) {
        wc_field_errors_add(errs, "locales", "type",
                            "locales must be an object of 1 to %d locales", API_TEMPLATE_LOCALES_MAX);
        locales = NULL;
    } else {
        json_object_object_foreach(locales, tag, bodies)
        {
            check_locale(tag, bodies, errs);
        }
    }
    const char *fallback = NULL;
    if (!json_object_object_get_ex(content, "defaultLocale", &v)) {
        wc_field_errors_add(errs, "defaultLocale", "required", "defaultLocale is required");
    } else if (!json_object_is_type(v, json_type_string) ||
               !api_template_locale_valid(json_object_get_string(v))) {
        wc_field_errors_add(errs, "defaultLocale", "locale",
                            "defaultLocale must be a locale tag such as en or pt-BR");
    } else {
        fallback = json_object_get_string(v);
    }
    if (fallback != NULL && locales != NULL && !json_object_object_get_ex(locales, fallback, NULL)) {
        wc_field_errors_add(errs, "defaultLocale", "exists",
                            "defaultLocale must be one of the template's locales");
    }
    if (errs->count == 0) {
        size_t size = 0;
        json_object_to_json_string_length(content, JSON_C_TO_STRING_PLAIN, &size);
        if (size > API_TEMPLATE_CONTENT_MAX_BYTES) {
            wc_field_errors_add(errs, "locales", "size",
                                "a template version must be at most %d bytes of JSON",
                                API_TEMPLATE_CONTENT_MAX_BYTES);
        }
    }
    return errs->count == 0;
}
