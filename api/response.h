/* The seed's response envelope: {"success": .., "data": .., "message": ..}. */
#ifndef API_RESPONSE_H
#define API_RESPONSE_H

#include "api.h"
#include "wc_notification.h"

/* 2xx with `data` (ownership taken) and an optional human message. */
api_response_t api_ok(unsigned status, json_object *data, const char *message);

/* An error without field details. */
api_response_t api_error(unsigned status, const char *message);

/* 400 naming each field and the rule it broke. */
api_response_t api_validation_error(const wc_field_errors_t *errs);

/* 503 with Retry-After: a dependency is down, the client should retry. */
api_response_t api_unavailable(const char *what);

/* Adds a response header; silently ignored past API_MAX_RESPONSE_HEADERS. */
void api_response_header(api_response_t *res, const char *name, const char *value);

#endif
