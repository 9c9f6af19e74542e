/*
 * Query-string arguments, checked against the names an endpoint documents:
 * an unknown name, a repeated one, or a value with a NUL byte is a 400 that
 * names it, like an unknown body field.
 */
#ifndef API_QUERY_H
#define API_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "wc_notification.h"

#define API_QUERY_MAX_ARGS 16

typedef struct {
    const char *names[API_QUERY_MAX_ARGS];
    const char *values[API_QUERY_MAX_ARGS];
    int count;
} api_query_t;

/* Collects the arguments of `req`, allowing only `allowed` (NULL-terminated;
 * NULL allows none). Adds a violation to `errs` for each problem. */
void api_query_collect(const api_request_t *req, const char *const *allowed, api_query_t *out,
                       wc_field_errors_t *errs);

/* The value of `name`, or NULL. An argument without "=" has value "". */
const char *api_query_get(const api_query_t *q, const char *name);

/* Parses a decimal integer argument in [min, max]; `fallback` when absent.
 * Adds rule "type" (not a whole number) or "range" to `errs`. */
int64_t api_query_int(const api_query_t *q, const char *name, int64_t min, int64_t max,
                      int64_t fallback, wc_field_errors_t *errs);

/* The key hint given as argument "apiKey" ("wck_" and 8 hex digits), or NULL
 * when absent; a malformed one adds rule "format" to `errs` (and is
 * returned as given). */
const char *api_query_key_hint(const api_query_t *q, wc_field_errors_t *errs);

#endif
