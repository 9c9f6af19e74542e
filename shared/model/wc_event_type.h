/*
 * Event type names and the patterns endpoints subscribe with. A type is 1 to
 * WC_EVENT_TYPE_MAX characters: names of letters, digits, '_' and '-'
 * joined by dots ("invoice.paid"). A pattern is a type (exact match),
 * "<type>.*" (every type under that prefix, at any depth) or "*" (every
 * type).
 */
#ifndef WC_EVENT_TYPE_H
#define WC_EVENT_TYPE_H

#include <stdbool.h>

#define WC_EVENT_TYPE_MAX 128

bool wc_event_type_valid(const char *type);
bool wc_event_pattern_valid(const char *pattern);

/* Whether a valid `pattern` covers a valid `type`. */
bool wc_event_pattern_matches(const char *pattern, const char *type);

#endif
