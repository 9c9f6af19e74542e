#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_policy.h"
#include "provider.h"
#include "wc_json.h"

#define MAX_FILE 65536

void provider_fail(delivery_result_t *result, delivery_outcome_t outcome, const char *fmt, ...)
{
    result->outcome = outcome;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->detail, sizeof(result->detail), fmt, ap);
    va_end(ap);
}

provider_t *provider_new(const char *name, void *state,
                         void (*start)(provider_t *self, provider_job_t *job),
                         void (*free_state)(void *state))
{
    provider_t *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        *p = (provider_t){.name = name, .start = start, .free_state = free_state, .state = state};
    }
    return p;
}

void provider_free(provider_t *p)
{
    if (p == NULL) {
        return;
    }
    if (p->free_state != NULL) {
        p->free_state(p->state);
    } else {
        free(p->state);
    }
    free(p);
}

void provider_start_call(http_client_t *http, bool built, http_call_t *call, http_done_fn done,
                         void *arg, void *owned, provider_job_t *job)
{
    if (built && http_client_start(http, call, done, arg) == 0) {
        return;
    }
    free(owned);
    http_call_free(call);
    provider_job_fail(job, DELIVERY_TRANSIENT, "cannot start the HTTP request");
}

json_object *provider_answer_begin(const http_call_t *call, delivery_result_t *result)
{
    memset(result, 0, sizeof(*result));
    provider_classify_http(call, result);
    const char *why = NULL; /* a body that is not JSON is simply not read */
    return call->response != NULL && call->response_len > 0
               ? wc_json_parse_strict(call->response, call->response_len, &why)
               : NULL;
}

void provider_answer_done(provider_job_t *job, http_call_t *call, json_object *body,
                          const delivery_result_t *result)
{
    json_object_put(body);
    http_call_free(call);
    provider_job_complete(job, result);
}

void provider_job_fail(provider_job_t *job, delivery_outcome_t outcome, const char *fmt, ...)
{
    delivery_result_t result = {.outcome = outcome};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result.detail, sizeof(result.detail), fmt, ap);
    va_end(ap);
    provider_job_complete(job, &result);
}

void provider_classify_http(const http_call_t *call, delivery_result_t *result)
{
    if (call->destination_refused) {
        result->destination_refused = true;
        provider_fail(result, DELIVERY_PERMANENT,
                      "webhook target blocked at connect time: a refused address");
        return;
    }
    if (call->result != CURLE_OK) {
        provider_fail(result, delivery_policy_classify_http(0, true), "transport error: %s",
                      call->error[0] != '\0' ? call->error : curl_easy_strerror(call->result));
        return;
    }
    long s = call->status;
    result->outcome = delivery_policy_classify_http(s, false);
    if (call->retry_after_seconds > 0) {
        result->retry_after_ms = call->retry_after_seconds * 1000;
    }
    snprintf(result->detail, sizeof(result->detail), "HTTP %ld %.400s", s,
             call->response != NULL ? call->response : "");
    /* One line in the trail. */
    for (char *p = result->detail; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
}

int provider_form_append(char *buf, size_t len, size_t *used, const char *name, const char *value)
{
    char *escaped = curl_easy_escape(NULL, value, 0);
    if (escaped == NULL) {
        return -1;
    }
    int n = snprintf(buf + *used, len - *used, "%s%s=%s", *used > 0 ? "&" : "", name, escaped);
    curl_free(escaped);
    if (n < 0 || (size_t)n >= len - *used) {
        return -1;
    }
    *used += (size_t)n;
    return 0;
}

char *provider_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > MAX_FILE) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return buf;
}
