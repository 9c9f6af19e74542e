/* The response envelope of the WaveCom specification:
 * {"success": .., "data": .., "message": ..}. */
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

/* 400 for one field and rule. */
api_response_t api_field_error(const char *field, const char *rule, const char *message);

/* 503 with Retry-After: a dependency is down, the client should retry. */
api_response_t api_unavailable(const char *what);

/* The answer when reading or changing one document did not succeed: 404 with
 * `not_found` when it is missing or not the caller's (WC_STORE_NOT_FOUND,
 * WC_STORE_CONFLICT), 503 when the database failed. */
api_response_t api_store_failure(wc_store_status_t status, const char *not_found);

/* A text body (owned, malloc'd) of `content_type`, e.g. Prometheus metrics. */
api_response_t api_text(unsigned status, char *text, const char *content_type);

/* Adds a response header; silently ignored past API_MAX_RESPONSE_HEADERS. */
void api_response_header(api_response_t *res, const char *name, const char *value);

/* `res` with Cache-Control "private, max-age=N" for N =
 * WAVECOM_API_STATS_CACHE_SECONDS: the statistics are cached that long in the
 * API, so a browser may keep them as long before it revalidates. */
api_response_t api_with_stats_max_age(const wc_config_t *cfg, api_response_t res);

/* True when the request declares a JSON body (application/json, any params). */
bool api_is_json_content_type(const api_request_t *req);

/* Parses the body as strict JSON into *out, or returns false with the 400
 * (field "body", rule "json") or 415 to answer in *res. */
bool api_parse_json_body(const api_request_t *req, json_object **out, api_response_t *res);

#endif
