/*
 * SMS through a Twilio-compatible Messages API: a form POST to
 * /2010-04-01/Accounts/{sid}/Messages.json with basic auth; 201 carries the
 * message sid. Twilio's error codes for numbers that can never receive (invalid,
 * unsubscribed, not a mobile) are permanent; 429 and 5xx are worth retrying.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery_policy.h"
#include "provider.h"
#include "wc_log.h"
#include "wc_notification.h"

typedef struct {
    const provider_env_t *env;
    char url[1024];
    char sid[128];
    char token[256];
    char from[64];
} twilio_t;

/* Codes after which the same request can never succeed. */
static const int permanent_codes[] = {21211, 21214, 21408, 21610, 21612, 21614, 21606, 21602};

static bool permanent_code(int code)
{
    for (size_t i = 0; i < sizeof(permanent_codes) / sizeof(permanent_codes[0]); i++) {
        if (permanent_codes[i] == code) {
            return true;
        }
    }
    return false;
}

static void on_done(http_call_t *call, void *arg)
{
    provider_job_t *job = arg;
    delivery_result_t result;
    json_object *body = provider_answer_begin(call, &result);
    json_object *v = NULL;
    if (result.outcome == DELIVERY_OK) {
        if (body != NULL && json_object_object_get_ex(body, "sid", &v) &&
            json_object_is_type(v, json_type_string)) {
            snprintf(result.provider_message_id, sizeof(result.provider_message_id), "%s",
                     json_object_get_string(v));
            snprintf(result.detail, sizeof(result.detail), "HTTP %ld, sid %s", call->status,
                     json_object_get_string(v));
        }
    } else if (body != NULL && json_object_object_get_ex(body, "code", &v)) {
        int code = json_object_get_int(v);
        if (permanent_code(code)) {
            result.outcome = DELIVERY_PERMANENT;
            result.suppress = delivery_policy_suppression_twilio(code);
        } else if (call->status == 429) {
            result.outcome = DELIVERY_TRANSIENT; /* always safe to retry */
        }
    }
    provider_answer_done(job, call, body, &result);
}

static void twilio_start(provider_t *self, provider_job_t *job)
{
    twilio_t *t = self->state;
    const bson_t *doc = job->doc;
    const char *to = wc_doc_string(doc, "recipient");
    const char *text = wc_doc_string(doc, "message");
    if (to == NULL || text == NULL) {
        provider_job_fail(job, DELIVERY_PERMANENT, "document lacks a recipient or message");
        return;
    }

    /* 1,600 characters of UTF-8 escape to at most ~29 KiB. */
    enum { FORM_MAX = 40000 };
    char *form = malloc(FORM_MAX);
    size_t used = 0;
    bool service = strncmp(t->from, "MG", 2) == 0;
    if (form == NULL || provider_form_append(form, FORM_MAX, &used, "To", to) != 0 ||
        provider_form_append(form, FORM_MAX, &used, service ? "MessagingServiceSid" : "From", t->from) != 0 ||
        provider_form_append(form, FORM_MAX, &used, "Body", text) != 0) {
        free(form);
        provider_job_fail(job, DELIVERY_PERMANENT, "message too large to encode");
        return;
    }
    http_call_t *call = http_call_new(t->env->http, t->url, form, used);
    free(form);
    char id_header[80];
    snprintf(id_header, sizeof(id_header), "X-WaveCom-Notification-Id: %s", job->id);
    if (call == NULL ||
        http_call_header(call, "Content-Type: application/x-www-form-urlencoded") != 0 ||
        http_call_header(call, "Accept: application/json") != 0 ||
        http_call_header(call, id_header) != 0) {
        http_call_free(call);
        provider_job_fail(job, DELIVERY_TRANSIENT, "out of memory");
        return;
    }
    http_call_basic_auth(call, t->sid, t->token);
    provider_start_call(t->env->http, true, call, on_done, job, NULL, job);
}

provider_t *provider_twilio_new(const provider_env_t *env)
{
    const wc_config_t *cfg = env->cfg;
    if (cfg->twilio_account_sid[0] == '\0') {
        wc_log_info("SMS disabled: WAVECOM_TWILIO_ACCOUNT_SID is empty");
        return NULL;
    }
    if (cfg->twilio_auth_token[0] == '\0' || cfg->twilio_from[0] == '\0') {
        wc_log_error("SMS disabled: WAVECOM_TWILIO_AUTH_TOKEN and WAVECOM_TWILIO_FROM are required");
        return NULL;
    }
    twilio_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->env = env;
    snprintf(t->url, sizeof(t->url), "%s/2010-04-01/Accounts/%s/Messages.json", cfg->twilio_url,
             cfg->twilio_account_sid);
    snprintf(t->sid, sizeof(t->sid), "%s", cfg->twilio_account_sid);
    snprintf(t->token, sizeof(t->token), "%s", cfg->twilio_auth_token);
    snprintf(t->from, sizeof(t->from), "%s", cfg->twilio_from);
    provider_t *p = provider_new("twilio", t, twilio_start, NULL);
    if (p == NULL) {
        free(t);
    }
    return p;
}
