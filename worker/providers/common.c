#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_policy.h"
#include "provider.h"

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
                         void (*destroy)(provider_t *self))
{
    provider_t *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        *p = (provider_t){.name = name, .start = start, .destroy = destroy, .state = state};
    }
    return p;
}

void provider_destroy_plain(provider_t *self)
{
    if (self != NULL) {
        free(self->state);
        free(self);
    }
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
