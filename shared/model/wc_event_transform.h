/*
 * Endpoint transformations: the body an endpoint receives, made from the
 * event it matched (docs/API.md "Transformations"). The input is the event's
 * envelope {"id", "type", "timestamp", "data"}; a transformation is
 *
 *   {"select": "<JSON Pointer>", "template": <JSON value>}   (either or both)
 *
 * `select` (RFC 6901) narrows the input to one value. `template`, when
 * given, is a JSON value copied as it is except for its strings: a string
 * that is exactly "{{<pointer>}}" becomes the value the pointer selects (any
 * JSON type, null when absent), and "{{<pointer>}}" inside longer text is
 * replaced by that value's text (a string as it is, anything else as
 * compact JSON, nothing when absent). Pointers in the template read the
 * selected value. The output is JSON by construction, and bounded: the
 * template has at most WC_TRANSFORM_TEMPLATE_MAX bytes and
 * WC_TRANSFORM_PLACEHOLDERS_MAX placeholders, each copying at most the
 * event's payload.
 */
#ifndef WC_EVENT_TRANSFORM_H
#define WC_EVENT_TRANSFORM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "wc_notification.h"

#define WC_TRANSFORM_TEMPLATE_MAX 8192
#define WC_TRANSFORM_PLACEHOLDERS_MAX 16
#define WC_TRANSFORM_POINTER_MAX 256

/* Checks a transformation. On failure returns false with one error in
 * `errs`: the field names the place (e.g. "transformation.select"), the rule
 * one of type, unknown, required, pointer, placeholder, size. */
bool wc_event_transform_check(json_object *transformation, wc_field_errors_t *errs);

/* Sets *body to the body for `event` (the envelope above) under a
 * transformation that wc_event_transform_check accepted; `transformation`
 * NULL gives the envelope itself. *body is a new reference, or NULL for JSON
 * null (json-c's null). Returns 0, or -1 when out of memory. */
int wc_event_transform_apply(json_object *transformation, json_object *event, json_object **body);

#endif
