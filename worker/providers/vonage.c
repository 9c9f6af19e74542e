/*
 * SMS through the Vonage (formerly Nexmo) SMS API: a form POST to
 * {base}/sms/json with api_key, api_secret, from, to and text. The answer is
 * JSON whose messages[] each carry a status: "0" accepted (with its
 * message-id), "1" throttled and "5" an internal error worth retrying, any
 * other a refusal of this request. An HTTP 429 or 5xx, or no answer, is
 * transient as for every HTTP provider.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "wc_log.h"
#include "wc_notification.h"

typedef struct {
    const provider_env_t *env;
    char url[1024];
    char key[128];
    char secret[256];
    char from[64];
} vonage_t;

/* The statuses after which the same request may pass later: throttled,
 * internal error, communications failure. */
static const char *const transient_statuses[] = {"1", "5", "13"};

static bool transient_status(const char *status)
{
    for (size_t i = 0; i < sizeof(transient_statuses) / sizeof(transient_statuses[0]); i++) {
        if (strcmp(transient_statuses[i], status) == 0) {
            return true;
        }
    }
    return false;
}

static const char *member_string(json_object *obj, const char *name)
{
    json_object *v = NULL;
    return obj != NULL && json_object_object_get_ex(obj, name, &v) &&
                   json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Refines a 2xx answer from its first message's status. */
static void read_message_status(json_object *body, delivery_result_t *result)
{
    json_object *messages = NULL;
    json_object *first = body != NULL && json_object_object_get_ex(body, "messages", &messages) &&
                                 json_object_is_type(messages, json_type_array) &&
                                 json_object_array_length(messages) > 0
                             ? json_object_array_get_idx(messages, 0)
                             : NULL;
    const char *status = member_string(first, "status");
    if (status == NULL) {
        provider_fail(result, DELIVERY_TRANSIENT, "Vonage answered without a message status");
        return;
    }
    const char *error = member_string(first, "error-text");
    if (strcmp(status, "0") == 0) {
        const char *id = member_string(first, "message-id");
        snprintf(result->provider_message_id, sizeof(result->provider_message_id), "%s",
                 id != NULL ? id : "");
        snprintf(result->detail, sizeof(result->detail), "status 0, message-id %s",
                 id != NULL ? id : "(none)");
        return;
    }
    provider_fail(result, transient_status(status) ? DELIVERY_TRANSIENT : DELIVERY_PERMANENT,
                  "status %.8s: %.400s", status, error != NULL ? error : "");
}

static void on_done(http_call_t *call, void *arg)
{
    provider_job_t *job = arg;
    delivery_result_t result;
    json_object *body = provider_answer_begin(call, &result);
    if (result.outcome == DELIVERY_OK) {
        read_message_status(body, &result);
    }
    provider_answer_done(job, call, body, &result);
}

static void vonage_start(provider_t *self, provider_job_t *job)
{
    vonage_t *v = self->state;
    const char *to = wc_doc_string(job->doc, "recipient");
    const char *text = wc_doc_string(job->doc, "message");
    if (to == NULL || text == NULL) {
        provider_job_fail(job, DELIVERY_PERMANENT, "document lacks a recipient or message");
        return;
    }
    /* Vonage takes the number without its '+'. */
    const char *digits = to[0] == '+' ? to + 1 : to;
    enum { FORM_MAX = 40000 }; /* 1,600 characters of UTF-8, escaped, and the rest */
    char *form = malloc(FORM_MAX);
    size_t used = 0;
    if (form == NULL || provider_form_append(form, FORM_MAX, &used, "api_key", v->key) != 0 ||
        provider_form_append(form, FORM_MAX, &used, "api_secret", v->secret) != 0 ||
        provider_form_append(form, FORM_MAX, &used, "from", v->from) != 0 ||
        provider_form_append(form, FORM_MAX, &used, "to", digits) != 0 ||
        provider_form_append(form, FORM_MAX, &used, "text", text) != 0 ||
        provider_form_append(form, FORM_MAX, &used, "client-ref", job->id) != 0) {
        free(form);
        provider_job_fail(job, DELIVERY_PERMANENT, "message too large to encode");
        return;
    }
    http_call_t *call = http_call_new(v->env->http, v->url, form, used);
    free(form);
    char id_header[80];
    snprintf(id_header, sizeof(id_header), "X-WaveCom-Notification-Id: %s", job->id);
    bool built = call != NULL &&
                 http_call_header(call, "Content-Type: application/x-www-form-urlencoded") == 0 &&
                 http_call_header(call, "Accept: application/json") == 0 &&
                 http_call_header(call, id_header) == 0;
    provider_start_call(v->env->http, built, call, on_done, job, NULL, job);
}

provider_t *provider_vonage_new(const provider_env_t *env)
{
    const wc_config_t *cfg = env->cfg;
    if (cfg->vonage_api_key[0] == '\0') {
        wc_log_info("Vonage SMS disabled: WAVECOM_VONAGE_API_KEY is empty");
        return NULL;
    }
    if (cfg->vonage_api_secret[0] == '\0' || cfg->vonage_from[0] == '\0') {
        wc_log_error("Vonage SMS disabled: WAVECOM_VONAGE_API_SECRET and WAVECOM_VONAGE_FROM are "
                     "required");
        return NULL;
    }
    vonage_t *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    v->env = env;
    snprintf(v->url, sizeof(v->url), "%s/sms/json", cfg->vonage_url);
    snprintf(v->key, sizeof(v->key), "%s", cfg->vonage_api_key);
    snprintf(v->secret, sizeof(v->secret), "%s", cfg->vonage_api_secret);
    snprintf(v->from, sizeof(v->from), "%s", cfg->vonage_from);
    provider_t *p = provider_new("vonage", v, vonage_start, NULL);
    if (p == NULL) {
        free(v);
    }
    return p;
}
