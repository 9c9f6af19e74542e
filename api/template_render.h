/*
 * Rendering at intake (docs/ARCHITECTURE.md §15): a notification that names
 * a template ("templateId", with "version", "locale" and "data" optional)
 * becomes the notification its rendered content makes, before validation,
 * so every rule of the notification applies to what was rendered, and the
 * stored document holds that content and a reference to the template
 * version, never the template itself: a later edit changes nothing sent.
 *
 * The locale is chosen along a fallback chain: the locale asked for, then
 * that tag with its last subtag dropped, and so on (pt-BR, then pt), then
 * the template's default locale; the first of them with a body for the
 * notification's channel is used.
 */
#ifndef API_TEMPLATE_RENDER_H
#define API_TEMPLATE_RENDER_H

#include <json-c/json.h>

#include "api.h"
#include "wc_notification.h"

/* The templates one request has read, so that a batch reads each once. Not
 * shared between threads. */
typedef struct api_template_cache api_template_cache_t;

api_template_cache_t *api_template_cache_new(void);
void api_template_cache_free(api_template_cache_t *cache);

typedef enum {
    API_TEMPLATE_NONE,        /* the body names no template: use it as it is */
    API_TEMPLATE_RENDERED,    /* *expanded and *ref are set */
    API_TEMPLATE_INVALID,     /* `errs` says why (a 400) */
    API_TEMPLATE_UNAVAILABLE, /* the database failed (a 503) */
} api_template_outcome_t;

/*
 * Renders the template `body` names for `tenant_id`. On RENDERED, *expanded
 * is a new object: `body` without templateId, version, locale and data, with
 * the rendered fields (subject, message, html, title, data, payload) in
 * their place; *ref is a new object {"id", "version", "locale"} plus, for
 * SMS, {"smsEncoding", "smsSegments"}: the caller stores it with the
 * notification. `cache` may be NULL. Errors name the request's fields:
 * templateId, version, locale, data (rule "missing" lists the variables the
 * template needs and the data lacks), message (rule "segments" for an SMS
 * rendered past WC_SMS_SEGMENTS_MAX).
 */
api_template_outcome_t api_template_expand(api_context_t *ctx, const char *tenant_id,
                                           api_template_cache_t *cache, json_object *body,
                                           json_object **expanded, json_object **ref,
                                           wc_field_errors_t *errs);

#endif
