#include "response.h"

#include <stdio.h>

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

api_response_t api_unavailable(const char *what)
{
    char message[160];
    snprintf(message, sizeof(message), "%s is unavailable; retry later", what);
    api_response_t res = api_error(503, message);
    api_response_header(&res, "Retry-After", "5");
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
