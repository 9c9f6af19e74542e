#include "template_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_content.h"
#include "wc_mustache.h"
#include "wc_sms_segments.h"
#include "wc_store_templates.h"

/* The longest one rendered part may be, in bytes; the notification's own
 * limits (in characters) are checked on the result afterwards. */
#define RENDERED_PART_MAX_BYTES 65536
/* How many templates one request keeps read. */
#define CACHE_MAX 16

struct api_template_cache {
    size_t n;
    bson_oid_t ids[CACHE_MAX];
    bson_t *docs[CACHE_MAX];
};

api_template_cache_t *api_template_cache_new(void)
{
    return calloc(1, sizeof(api_template_cache_t));
}

void api_template_cache_free(api_template_cache_t *cache)
{
    if (cache == NULL) {
        return;
    }
    for (size_t i = 0; i < cache->n; i++) {
        bson_destroy(cache->docs[i]);
    }
    free(cache);
}

/* The request fields a template stands in for. */
static const char *const request_fields[] = {"templateId", "version", "locale", "data", NULL};
/* The content fields a template fills, which a request naming one leaves out. */
static const char *const rendered_fields[] = {"subject", "message", "html", "title", "payload",
                                              NULL};

/* The template document, read once per request; *owned tells the caller to
 * destroy it (when the cache is full or absent). */
static wc_store_status_t load(api_context_t *ctx, const char *tenant_id,
                              api_template_cache_t *cache, const bson_oid_t *id,
                              const bson_t **doc, bson_t **owned)
{
    *owned = NULL;
    for (size_t i = 0; cache != NULL && i < cache->n; i++) {
        if (bson_oid_equal(&cache->ids[i], id)) {
            *doc = cache->docs[i];
            return WC_STORE_OK;
        }
    }
    bson_t *read = NULL;
    wc_store_status_t status = wc_store_template_get(ctx->store, tenant_id, id, &read);
    if (status != WC_STORE_OK) {
        return status;
    }
    if (cache != NULL && cache->n < CACHE_MAX) {
        bson_oid_copy(id, &cache->ids[cache->n]);
        cache->docs[cache->n++] = read;
    } else {
        *owned = read;
    }
    *doc = read;
    return WC_STORE_OK;
}

/* The bodies of the first locale of the chain with one for `channel`. */
static json_object *choose_locale(json_object *content, const char *asked, wc_channel_t channel,
                                  char *chosen, size_t chosen_len)
{
    json_object *locales = NULL, *fallback = NULL, *bodies = NULL;
    if (!json_object_object_get_ex(content, "locales", &locales)) {
        return NULL;
    }
    const char *channel_name = wc_channel_name(channel);
    char tag[API_TEMPLATE_LOCALE_MAX + 1];
    snprintf(tag, sizeof(tag), "%s", asked != NULL ? asked : "");
    while (tag[0] != '\0') {
        if (json_object_object_get_ex(locales, tag, &bodies) &&
            json_object_object_get_ex(bodies, channel_name, NULL)) {
            snprintf(chosen, chosen_len, "%s", tag);
            return bodies;
        }
        char *dash = strrchr(tag, '-');
        if (dash == NULL) {
            break;
        }
        *dash = '\0';
    }
    if (json_object_object_get_ex(content, "defaultLocale", &fallback) &&
        json_object_object_get_ex(locales, json_object_get_string(fallback), &bodies) &&
        json_object_object_get_ex(bodies, channel_name, NULL)) {
        snprintf(chosen, chosen_len, "%s", json_object_get_string(fallback));
        return bodies;
    }
    return NULL;
}

typedef struct {
    json_object *data;
    wc_mustache_missing_t missing; /* every part's missing names together */
    wc_field_errors_t *errs;
    const char *field; /* the request field a failure is reported under */
    bool failed;
} render_t;

static void add_missing(render_t *r, const wc_mustache_missing_t *m)
{
    for (size_t i = 0; i < m->count; i++) {
        bool seen = false;
        for (size_t k = 0; k < r->missing.count; k++) {
            seen = seen || strcmp(r->missing.names[k], m->names[i]) == 0;
        }
        if (seen) {
            continue;
        }
        if (r->missing.count == WC_MUSTACHE_MISSING_MAX) {
            r->missing.more = 1;
            break;
        }
        snprintf(r->missing.names[r->missing.count++], WC_MUSTACHE_NAME_MAX, "%s", m->names[i]);
    }
    r->missing.more = r->missing.more || m->more;
}

/* One template string rendered; NULL after a failure (recorded in `r`). */
static json_object *render_string(render_t *r, json_object *tmpl, wc_mustache_mode_t mode)
{
    char *out = NULL;
    char why[160];
    wc_mustache_missing_t missing;
    wc_mustache_status_t status = wc_mustache_render(json_object_get_string(tmpl), r->data, mode,
                                                     RENDERED_PART_MAX_BYTES, &out, &missing,
                                                     why, sizeof(why));
    switch (status) {
    case WC_MUSTACHE_OK:
        break;
    case WC_MUSTACHE_MISSING:
        add_missing(r, &missing);
        break;
    case WC_MUSTACHE_TOO_DEEP:
        wc_field_errors_add(r->errs, "data", "depth", "data must nest at most %d levels deep",
                            WC_MUSTACHE_DATA_DEPTH_MAX);
        r->failed = true;
        return NULL;
    case WC_MUSTACHE_TOO_LARGE:
        wc_field_errors_add(r->errs, r->field, "length",
                            "%s rendered is longer than %d bytes", r->field,
                            RENDERED_PART_MAX_BYTES);
        r->failed = true;
        return NULL;
    case WC_MUSTACHE_SYNTAX:
    case WC_MUSTACHE_NO_MEMORY:
        wc_field_errors_add(r->errs, "templateId", "render", "the template cannot be rendered: %s",
                            why);
        r->failed = true;
        return NULL;
    }
    json_object *text = json_object_new_string(out);
    free(out);
    return text;
}

/* A webhook body with every string rendered; keys and other values kept. */
static json_object *render_json(render_t *r, json_object *value)
{
    if (json_object_is_type(value, json_type_string)) {
        return render_string(r, value, WC_MUSTACHE_TEXT);
    }
    if (json_object_is_type(value, json_type_array)) {
        size_t n = json_object_array_length(value);
        json_object *copy = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n && !r->failed; i++) {
            json_object_array_add(copy, render_json(r, json_object_array_get_idx(value, i)));
        }
        return copy;
    }
    if (json_object_is_type(value, json_type_object)) {
        json_object *copy = json_object_new_object();
        json_object_object_foreach(value, key, member)
        {
            if (r->failed) {
                break;
            }
            json_object_object_add(copy, key, render_json(r, member));
        }
        return copy;
    }
    return json_object_get(value);
}

static json_object *render_part(render_t *r, const api_template_part_t *part, json_object *tmpl)
{
    r->field = part->target;
    switch (part->kind) {
    case API_PART_TEXT:
        return render_string(r, tmpl, part->mode);
    case API_PART_STRING_MAP: {
        json_object *copy = json_object_new_object();
        json_object_object_foreach(tmpl, key, member)
        {
            json_object_object_add(copy, key, render_string(r, member, part->mode));
        }
        return copy;
    }
    case API_PART_JSON:
        return render_json(r, tmpl);
    }
    return NULL;
}

/* Checks the request's own template fields; false after recording errors. */
static bool check_request(json_object *body, bson_oid_t *id, int64_t *version, const char **locale,
                          json_object **data, wc_channel_t *channel, wc_field_errors_t *errs)
{
    json_object *v = NULL;
    json_object_object_get_ex(body, "templateId", &v);
    const char *hex = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    if (strlen(hex) != 24 || !bson_oid_is_valid(hex, 24)) {
        wc_field_errors_add(errs, "templateId", "objectid",
                            "templateId must be 24 hexadecimal characters");
    } else {
        bson_oid_init_from_string(id, hex);
    }
    *version = 0;
    if (json_object_object_get_ex(body, "version", &v)) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
            json_object_get_int64(v) > WC_TEMPLATE_VERSIONS_MAX) {
            wc_field_errors_add(errs, "version", "range", "version must be a whole number 1 to %d",
                                WC_TEMPLATE_VERSIONS_MAX);
        } else {
            *version = json_object_get_int64(v);
        }
    }
    *locale = NULL;
    if (json_object_object_get_ex(body, "locale", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            !api_template_locale_valid(json_object_get_string(v))) {
            wc_field_errors_add(errs, "locale", "locale",
                                "locale must be a tag such as en or pt-BR");
        } else {
            *locale = json_object_get_string(v);
        }
    }
    *data = NULL;
    if (json_object_object_get_ex(body, "data", &v)) {
        if (!json_object_is_type(v, json_type_object)) {
            wc_field_errors_add(errs, "data", "type",
                                "data must be an object: the template's variables");
        } else {
            *data = v;
        }
    }
    for (const char *const *f = rendered_fields; *f != NULL; f++) {
        if (json_object_object_get_ex(body, *f, NULL)) {
            wc_field_errors_add(errs, *f, "unexpected",
                                "%s comes from the template; leave it out when templateId is "
                                "given", *f);
        }
    }
    if (!json_object_object_get_ex(body, "type", &v)) {
        wc_field_errors_add(errs, "type", "required", "type is required");
    } else if (!json_object_is_type(v, json_type_string) ||
               wc_channel_parse(json_object_get_string(v), channel) != 0) {
        wc_field_errors_add(errs, "type", "enum", "type must be one of EMAIL, SMS, PUSH, WEBHOOK");
    }
    return errs->count == 0;
}

/* The reference stored with the notification; for SMS the segments, or an
 * error past the maximum. */
static json_object *reference(const bson_oid_t *id, int64_t version, const char *locale,
                              wc_channel_t channel, json_object *expanded, wc_field_errors_t *errs)
{
    char hex[25];
    bson_oid_to_string(id, hex);
    json_object *ref = json_object_new_object();
    json_object_object_add(ref, "id", json_object_new_string(hex));
    json_object_object_add(ref, "version", json_object_new_int64(version));
    json_object_object_add(ref, "locale", json_object_new_string(locale));
    json_object *message = NULL;
    if (channel != WC_CHANNEL_SMS || !json_object_object_get_ex(expanded, "message", &message)) {
        return ref;
    }
    wc_sms_count_t count;
    if (wc_sms_count(json_object_get_string(message), (size_t)json_object_get_string_len(message),
                     &count) != 0) {
        wc_field_errors_add(errs, "message", "utf8", "the rendered SMS is not valid UTF-8");
    } else if (count.segments > WC_SMS_SEGMENTS_MAX) {
        wc_field_errors_add(errs, "message", "segments",
                            "the rendered SMS takes %zu segments (%s); at most %d",
                            count.segments, wc_sms_encoding_name(count.encoding),
                            WC_SMS_SEGMENTS_MAX);
    }
    json_object_object_add(ref, "smsEncoding",
                           json_object_new_string(wc_sms_encoding_name(count.encoding)));
    json_object_object_add(ref, "smsSegments", json_object_new_int64((int64_t)count.segments));
    return ref;
}

api_template_outcome_t api_template_expand(api_context_t *ctx, const char *tenant_id,
                                           api_template_cache_t *cache, json_object *body,
                                           json_object **expanded, json_object **ref,
                                           wc_field_errors_t *errs)
{
    *expanded = NULL;
    *ref = NULL;
    if (!json_object_is_type(body, json_type_object) ||
        !json_object_object_get_ex(body, "templateId", NULL)) {
        return API_TEMPLATE_NONE;
    }
    bson_oid_t id;
    int64_t version = 0;
    const char *asked = NULL;
    json_object *data = NULL;
    wc_channel_t channel = WC_CHANNEL_EMAIL;
    if (!check_request(body, &id, &version, &asked, &data, &channel, errs)) {
        return API_TEMPLATE_INVALID;
    }
    const bson_t *doc = NULL;
    bson_t *owned = NULL;
    switch (load(ctx, tenant_id, cache, &id, &doc, &owned)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
    case WC_STORE_CONFLICT:
        wc_field_errors_add(errs, "templateId", "exists", "no template of this tenant has this id");
        return API_TEMPLATE_INVALID;
    case WC_STORE_ERROR:
        return API_TEMPLATE_UNAVAILABLE;
    }
    int64_t found = 0, created = 0;
    const char *text = wc_template_version_content(doc, version, &found, &created);
    json_object *content = text != NULL ? json_tokener_parse(text) : NULL;
    bson_destroy(owned);
    if (content == NULL) {
        wc_field_errors_add(errs, "version", "exists", "the template has no version %lld",
                            (long long)version);
        return API_TEMPLATE_INVALID;
    }
    char locale[API_TEMPLATE_LOCALE_MAX + 1] = "";
    json_object *bodies = choose_locale(content, asked, channel, locale, sizeof(locale));
    json_object *channel_body = NULL;
    if (bodies == NULL || !json_object_object_get_ex(bodies, wc_channel_name(channel),
                                                     &channel_body)) {
        wc_field_errors_add(errs, "type", "template_channel",
                            "the template has no %s body for this locale, its fallbacks or its "
                            "default locale", wc_channel_name(channel));
        json_object_put(content);
        return API_TEMPLATE_INVALID;
    }
    json_object *out = json_object_new_object();
    json_object_object_foreach(body, key, value)
    {
        bool template_field = false;
        for (const char *const *f = request_fields; *f != NULL; f++) {
            template_field = template_field || strcmp(*f, key) == 0;
        }
        if (!template_field) {
            json_object_object_add(out, key, json_object_get(value));
        }
    }
    render_t r = {.data = data, .errs = errs};
    for (const api_template_part_t *part = api_template_channel_parts(channel);
         part->name != NULL && !r.failed; part++) {
        json_object *tmpl = NULL;
        if (!json_object_object_get_ex(channel_body, part->name, &tmpl)) {
            continue;
        }
        json_object *rendered = render_part(&r, part, tmpl);
        /* An optional part that renders empty is left out, not sent empty. */
        if (rendered != NULL && !part->required && json_object_is_type(rendered, json_type_string) &&
            json_object_get_string_len(rendered) == 0) {
            json_object_put(rendered);
            continue;
        }
        if (rendered != NULL) {
            json_object_object_add(out, part->target, rendered);
        }
    }
    json_object_put(content);
    if (!r.failed && r.missing.count > 0) {
        char names[WC_MUSTACHE_MISSING_MAX * WC_MUSTACHE_NAME_MAX] = "";
        for (size_t i = 0; i < r.missing.count; i++) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof(names) - used, "%s%s", i > 0 ? ", " : "",
                     r.missing.names[i]);
        }
        wc_field_errors_add(errs, "data", "missing", "data lacks the template's variables: %s%s",
                            names, r.missing.more ? ", ..." : "");
    }
    json_object *reference_out =
        errs->count == 0 ? reference(&id, found, locale, channel, out, errs) : NULL;
    if (errs->count > 0) {
        json_object_put(reference_out);
        json_object_put(out);
        return API_TEMPLATE_INVALID;
    }
    *expanded = out;
    *ref = reference_out;
    return API_TEMPLATE_RENDERED;
}
