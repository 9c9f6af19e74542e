/*
 * The body of POST and PATCH /api/endpoints, checked field by field
 * (docs/API.md "Endpoints"). Every violation is reported as field + rule;
 * nothing is stored unless the whole body passes.
 */
#ifndef API_ENDPOINT_BODY_H
#define API_ENDPOINT_BODY_H

#include <bson/bson.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "wc_notification.h"

#define API_ENDPOINT_DESCRIPTION_MAX 512
#define API_ENDPOINT_TYPES_MAX 50
#define API_ENDPOINT_HEADERS_MAX 20
#define API_ENDPOINT_HEADER_VALUE_MAX 1024
#define API_ENDPOINT_RATE_MAX 10000

/* Checks `body`: on create (`partial` false) url and eventTypes are
 * required and enabled defaults to true; on update only what is given is
 * checked. Appends the fields to store to `fields` (filter, transformation,
 * headers and rateLimit may be null: absent). Returns true when `errs`
 * stayed empty. The URL's address is not checked here (that needs the
 * network: handler_endpoints.c). */
bool api_endpoint_body_check(json_object *body, bool partial, bool allow_http, bson_t *fields,
                             wc_field_errors_t *errs);

#endif
