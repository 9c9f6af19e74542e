/*
 * Endpoint filters: which events an endpoint receives, judged on the event's
 * payload (docs/API.md "Filters"). A filter is JSON, never code: a tree of
 *
 *   {"field": "order.total", "<op>": <value>}   op: eq, ne, gt, gte, lt, lte, in, exists
 *   {"and": [<filter>, ...]}  {"or": [<filter>, ...]}  {"not": <filter>}
 *
 * `field` is a dotted path into nested objects of the payload. eq/ne compare
 * any JSON value (numbers by value, 1 == 1.0); gt/gte/lt/lte compare numbers
 * with numbers and strings with strings (bytewise); in takes an array of up
 * to WC_FILTER_IN_MAX values; exists takes true or false. A comparison on a
 * field the payload does not have is false (ne included); only
 * {"exists": false} is true there. The tree is bounded (WC_FILTER_MAX_DEPTH,
 * WC_FILTER_MAX_NODES), so evaluating it is bounded too.
 */
#ifndef WC_EVENT_FILTER_H
#define WC_EVENT_FILTER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "wc_notification.h"

#define WC_FILTER_MAX_DEPTH 8
#define WC_FILTER_MAX_NODES 64
#define WC_FILTER_IN_MAX 100
#define WC_FILTER_PATH_MAX 256
#define WC_FILTER_SEGMENTS_MAX 16

/* Checks `filter` against the grammar above. On failure returns false with
 * one error in `errs`: the field is the offending place under "filter" (e.g.
 * "filter.and[1].gt"), the rule one of type, unknown, required, depth, size,
 * path, operator. */
bool wc_event_filter_check(json_object *filter, wc_field_errors_t *errs);

/* Whether `payload` passes a filter that wc_event_filter_check accepted. */
bool wc_event_filter_match(json_object *filter, json_object *payload);

#endif
