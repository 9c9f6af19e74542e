/*
 * What a template holds (docs/ARCHITECTURE.md §15), and its rules. A
 * version's content is
 *
 *   {"description": "..."?, "defaultLocale": "en",
 *    "locales": {"en": {"EMAIL": {...}, "SMS": {...}}, "pt-BR": {...}}}
 *
 * with, per locale, a body for any of the channels; `channel_parts` lists
 * what a channel's body holds, which notification field each part fills and
 * whether HTML escaping applies. Validation and rendering both read that
 * table, so a part is described once.
 */
#ifndef API_TEMPLATE_CONTENT_H
#define API_TEMPLATE_CONTENT_H

#include <json-c/json.h>
#include <stdbool.h>

#include "wc_mustache.h"
#include "wc_notification.h"

#define API_TEMPLATE_NAME_MAX 100
#define API_TEMPLATE_DESCRIPTION_MAX 500
#define API_TEMPLATE_LOCALES_MAX 20
#define API_TEMPLATE_LOCALE_MAX 35
#define API_TEMPLATE_PART_MAX_BYTES 8192 /* one Mustache template of a body */
#define API_TEMPLATE_CONTENT_MAX_BYTES 65536 /* a version, as JSON text */

typedef enum {
    API_PART_TEXT,       /* a string: one Mustache template */
    API_PART_STRING_MAP, /* an object of strings, each a Mustache template */
    API_PART_JSON,       /* an object or array whose every string is a Mustache template */
} api_part_kind_t;

typedef struct {
    const char *name;   /* in the template's body */
    const char *target; /* the notification field the rendering fills */
    api_part_kind_t kind;
    bool required;
    wc_mustache_mode_t mode;
} api_template_part_t;

#define API_TEMPLATE_PARTS_MAX 3

/* The parts of `channel`'s body, ended by a part whose name is NULL. */
const api_template_part_t *api_template_channel_parts(wc_channel_t channel);

/* A locale tag: a language of 2 or 3 lowercase letters, then subtags of 1 to
 * 8 letters or digits after '-' (en, pt-BR, zh-Hant-TW), at most
 * API_TEMPLATE_LOCALE_MAX characters. */
bool api_template_locale_valid(const char *tag);

/* A name: 1 to API_TEMPLATE_NAME_MAX of A-Z a-z 0-9 . _ - */
bool api_template_name_valid(const char *name);

/* Checks a version's content; each error names its field ("defaultLocale",
 * "locales.pt-BR.EMAIL.subject"...). True when `errs` stays empty. */
bool api_template_content_check(json_object *content, wc_field_errors_t *errs);

#endif
