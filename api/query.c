#include "query.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_store.h"

typedef struct {
    const char *const *allowed;
    api_query_t *out;
    wc_field_errors_t *errs;
} collect_t;

static enum MHD_Result collect_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    collect_t *c = cls;
    char field[48];
    snprintf(field, sizeof(field), "%.40s", key);
    if (strlen(key) != key_size || (value != NULL && strlen(value) != value_size)) {
        wc_field_errors_add(c->errs, field, "nul", "query arguments must not contain NUL");
        return MHD_YES;
    }
    bool known = false;
    for (const char *const *a = c->allowed; a != NULL && *a != NULL; a++) {
        known = known || strcmp(*a, key) == 0;
    }
    if (!known) {
        wc_field_errors_add(c->errs, field, "unknown", "unknown query argument \"%.40s\"", key);
        return MHD_YES;
    }
    if (api_query_get(c->out, key) != NULL) {
        wc_field_errors_add(c->errs, field, "duplicate", "%s is given more than once", field);
        return MHD_YES;
    }
    if (c->out->count < API_QUERY_MAX_ARGS) {
        c->out->names[c->out->count] = key;
        c->out->values[c->out->count] = value != NULL ? value : "";
        c->out->count++;
    }
    return MHD_YES;
}

void api_query_collect(const api_request_t *req, const char *const *allowed, api_query_t *out,
                       wc_field_errors_t *errs)
{
    memset(out, 0, sizeof(*out));
    collect_t c = {.allowed = allowed, .out = out, .errs = errs};
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, collect_one, &c);
}

const char *api_query_get(const api_query_t *q, const char *name)
{
    for (int i = 0; i < q->count; i++) {
        if (strcmp(q->names[i], name) == 0) {
            return q->values[i];
        }
    }
    return NULL;
}

int64_t api_query_int(const api_query_t *q, const char *name, int64_t min, int64_t max,
                      int64_t fallback, wc_field_errors_t *errs)
{
    const char *text = api_query_get(q, name);
    if (text == NULL) {
        return fallback;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    bool digits_only = text[0] != '\0' && text[strspn(text, "-0123456789")] == '\0';
    if (!digits_only || end == text || *end != '\0') {
        wc_field_errors_add(errs, name, "type", "%s must be a whole number", name);
        return fallback;
    }
    if (errno == ERANGE || v < min || v > max) {
        wc_field_errors_add(errs, name, "range", "%s must be %lld to %lld", name, (long long)min,
                            (long long)max);
        return fallback;
    }
    return v;
}

const char *api_query_key_hint(const api_query_t *q, wc_field_errors_t *errs)
{
    const char *hint = api_query_get(q, "apiKey");
    if (hint != NULL && !wc_key_hint_valid(hint)) {
        wc_field_errors_add(errs, "apiKey", "format",
                            "apiKey must be a key hint: wck_ and 8 hex digits");
    }
    return hint;
}
