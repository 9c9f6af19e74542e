/*
 * One small interface for every delivery channel. A provider starts the
 * delivery of a claimed notification and later reports how it went, exactly
 * once, through provider_job_complete — in terms the retry policy
 * (delivery_policy.h) understands. The job carries the function that takes the
 * report, so the providers depend on this header alone and not on the
 * worker's delivery code that calls them.
 * Every report happens on the worker's loop thread: HTTP providers report
 * from http_client_run when the response arrives; SMTP, whose sessions run
 * on threads of their own, reports from on_ready once its descriptor woke
 * the loop.
 */
#ifndef WORKER_PROVIDER_H
#define WORKER_PROVIDER_H

#include <bson/bson.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "http_client.h"
#include "wc_config.h"
#include "wc_store.h"
#include "wc_suppression.h"

typedef enum {
    DELIVERY_OK,        /* accepted by the provider */
    DELIVERY_TRANSIENT, /* may succeed later: timeouts, 4xx SMTP, 5xx HTTP, 429 */
    DELIVERY_PERMANENT, /* will never succeed: invalid recipient, rejected content */
} delivery_outcome_t;

typedef struct {
    delivery_outcome_t outcome;
    bool not_attempted;            /* refused locally (breaker open): no attempt is spent */
    bool destination_refused;      /* the SSRF guard refused the target: never retried */
    long retry_after_ms;           /* the provider asked for at least this pause; 0 if not */
    /* A permanent answer that says the recipient must not be tried again
     * (delivery_policy_suppression_*): the worker puts it on the tenant's
     * suppression list. WC_SUPPRESS_NONE (0) otherwise. */
    wc_suppress_reason_t suppress;
    char provider_message_id[320]; /* the provider's id for the message, when accepted */
    char detail[512];              /* the provider's answer, for the audit trail */
} delivery_result_t;

/* One delivery as a provider sees it, filled in by the worker before start;
 * all of it stays valid until the job completes. */
typedef struct provider_job provider_job_t;
struct provider_job {
    const bson_t *doc; /* the claimed notification */
    const char *id;    /* its id, 24 hex digits */
    /* The worker's; providers call provider_job_complete instead. */
    void (*complete)(provider_job_t *job, const delivery_result_t *result);
};

/* Reports the outcome of a started job. Must be called exactly once, on the
 * worker's loop thread. */
static inline void provider_job_complete(provider_job_t *job, const delivery_result_t *result)
{
    job->complete(job, result);
}

typedef struct provider provider_t;

struct provider {
    const char *name;
    /* Starts delivering the job's document; never blocks longer than the
     * provider's configured timeouts. */
    void (*start)(provider_t *self, provider_job_t *job);
    /* Optional, NULL when unused: a descriptor the worker's loop polls for
     * reading beside its transfers, and what the loop runs (on its own
     * thread) after each wait, readable or not, so that a provider working
     * on other threads can report its finished jobs. */
    int (*ready_fd)(provider_t *self);
    void (*on_ready)(provider_t *self);
    /* Frees `state` (provider_free calls it, only when no job of this
     * provider is in flight); NULL when the state is one allocation that
     * owns nothing. */
    void (*free_state)(void *state);
    void *state;
};

/* Frees the provider and its state; NULL is allowed. */
void provider_free(provider_t *p);

/* What the providers share in one worker child. */
typedef struct {
    const wc_config_t *cfg;
    http_client_t *http;
    wc_store_t *store;
} provider_env_t;

/* Each returns NULL when the channel is not configured (the reason is
 * logged); a notification for it then fails with that reason. */
provider_t *provider_smtp_new(const provider_env_t *env);
/* The second relay (WAVECOM_SMTP2_HOST); NULL when none is configured. */
provider_t *provider_smtp2_new(const provider_env_t *env);
provider_t *provider_twilio_new(const provider_env_t *env);
provider_t *provider_vonage_new(const provider_env_t *env);
provider_t *provider_fcm_new(const provider_env_t *env);
provider_t *provider_apns_new(const provider_env_t *env);
provider_t *provider_webhook_new(const provider_env_t *env);

/* A provider named `name` (a static string) over `state`, with `start` and
 * `free_state` (may be NULL); NULL when out of memory, `state` then still the
 * caller's. */
provider_t *provider_new(const char *name, void *state,
                         void (*start)(provider_t *self, provider_job_t *job),
                         void (*free_state)(void *state));

/* Helpers for the HTTP providers (providers/common.c). */

/* Sets `result` from a finished call whose status says nothing more specific:
 * 2xx ok, 408/429/5xx and transport errors transient, other 4xx permanent. */
void provider_classify_http(const http_call_t *call, delivery_result_t *result);

/* The start of an HTTP provider's answer handling: `result` zeroed and
 * classified by provider_classify_http, and the response body parsed as
 * JSON (NULL when it is empty or not JSON). The provider refines `result`
 * from the body, then ends with provider_answer_done. */
json_object *provider_answer_begin(const http_call_t *call, delivery_result_t *result);

/* Releases `body` and `call`, then completes `job` with `result`. */
void provider_answer_done(provider_job_t *job, http_call_t *call, json_object *body,
                          const delivery_result_t *result);

/* Starts `call`, which reports to `done(call, arg)`, when `built` (its
 * request could be put together). Otherwise, or when it cannot start, frees
 * `owned` (may be NULL) and `call` (may be NULL) and fails `job` as
 * transient. */
void provider_start_call(http_client_t *http, bool built, http_call_t *call, http_done_fn done,
                         void *arg, void *owned, provider_job_t *job);

/* Appends "name=value" (value form-encoded, '&' between pairs) to the form
 * in `buf` of `len` bytes whose first `*used` are taken. Returns 0, or -1
 * when it does not fit (the form is then unusable). */
int provider_form_append(char *buf, size_t len, size_t *used, const char *name, const char *value);

/* Fills `result` as a failure with a formatted detail. */
void provider_fail(delivery_result_t *result, delivery_outcome_t outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Completes `job` as a failure with a formatted detail: for a job that
 * cannot even be started. */
void provider_job_fail(provider_job_t *job, delivery_outcome_t outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole small file (at most 64 KiB) into a new NUL-terminated string. */
char *provider_read_file(const char *path, size_t *len);

#endif
