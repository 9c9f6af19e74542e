#include "response.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "wc_json.h"

api_response_t api_ok(unsigned status, json_object *data, const char *message)
{
    api_response_t res = {.status = status, .body = json_object_new_object()};
    json_object_object_add(res.body, "success", json_object_new_boolean(1));
    json_object_object_add(res.body, "data", data);
    if (message != NULL) {
        json_object_object_add(res.body, "message", json_object_new_string(message));
    }
    return res;
}

api_response_t api_error(unsigned status, const char *message)
{
    api_response_t res = {.status = status, .body = json_object_new_object()};
    json_object_object_add(res.body, "success", json_object_new_boolean(0));
    json_object_object_add(res.body, "message", json_object_new_string(message));
    return res;
}

api_response_t api_validation_error(const wc_field_errors_t *errs)
{
    api_response_t res = api_error(400, "Validation failed");
    json_object_object_add(res.body, "errors", wc_field_errors_to_json(errs));
    return res;
}

api_response_t api_field_error(const char *field, const char *rule, const char *message)
{
    wc_field_errors_t errs = {0};
    wc_field_errors_add(&errs, field, rule, "%s", message);
    return api_validation_error(&errs);
}

api_response_t api_unavailable(const char *what)
{
    char message[160];
    snprintf(message, sizeof(message), "%s is unavailable; retry later", what);
    api_response_t res = api_error(503, message);
    api_response_header(&res, "Retry-After", "5");
    return res;
}

api_response_t api_store_failure(wc_store_status_t status, const char *not_found)
{
    return status == WC_STORE_ERROR ? api_unavailable("the database") : api_error(404, not_found);
}

api_response_t api_text(unsigned status, char *text, const char *content_type)
{
    api_response_t res = {.status = status, .text = text, .content_type = content_type};
    return res;
}

void api_response_header(api_response_t *res, const char *name, const char *value)
{
    if (res->header_count >= API_MAX_RESPONSE_HEADERS) {
        return;
    }
    res->headers[res->header_count].name = name;
    snprintf(res->headers[res->header_count].value, sizeof(res->headers[0].value), "%s", value);
    res->header_count++;
}

bool api_is_json_content_type(const api_request_t *req)
{
    const char *value = api_request_header(req, "Content-Type");
    if (value == NULL) {
        return false;
    }
    size_t n = strlen("application/json");
    return strncasecmp(value, "application/json", n) == 0 &&
           (value[n] == '\0' || value[n] == ';' || value[n] == ' ');
}

bool api_parse_json_body(const api_request_t *req, json_object **out, api_response_t *res)
{
    *out = NULL;
    if (!api_is_json_content_type(req)) {
        *res = api_error(415, "Content-Type must be application/json");
        return false;
    }
    const char *why = NULL;
    *out = wc_json_parse_strict(req->body, req->body_len, &why);
    if (*out == NULL) {
        wc_field_errors_t errs = {0};
        wc_field_errors_add(&errs, "body", "json", "malformed JSON: %s", why);
        *res = api_validation_error(&errs);
        json_object_object_add(res->body, "message", json_object_new_string("Malformed JSON"));
        return false;
    }
    return true;
}

api_response_t api_with_stats_max_age(const wc_config_t *cfg, api_response_t res)
{
    if (cfg->api_stats_cache_seconds > 0) {
        char value[48];
        snprintf(value, sizeof(value), "private, max-age=%d", (int)cfg->api_stats_cache_seconds);
        api_response_header(&res, "Cache-Control", value);
    }
    return res;
}
