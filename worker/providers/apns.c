/*
 * PUSH to Apple devices through APNs: HTTP/2 POST /3/device/<token> with a
 * provider token — an ES256 JWT {iss: team, iat} with the key id — reused for
 * 40 minutes (APNs refuses tokens older than an hour and answers 429
 * TooManyProviderTokenUpdates to a client that renews more than every 20).
 * The apns-id is derived from the notification id, so a retry carries the
 * same id. 410 (device gone) and 400 (bad request) are permanent.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery_policy.h"
#include "provider.h"
#include "wc_json.h"
#include "wc_jwt.h"
#include "wc_log.h"
#include "wc_notification.h"

#define TOKEN_LIFETIME_SECONDS (40 * 60)

typedef struct {
    const provider_env_t *env;
    EVP_PKEY *key;
    char base_url[512];
    char key_id[32];
    char team_id[32];
    char topic[256];
    char token[1024];
    time_t token_issued;
} apns_t;

typedef struct {
    apns_t *apns;
    provider_job_t *job;
    char apns_id[40];
} apns_call_t;

static int provider_token(apns_t *a)
{
    time_t now = time(NULL);
    if (a->token[0] != '\0' && now - a->token_issued < TOKEN_LIFETIME_SECONDS) {
        return 0;
    }
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(a->team_id));
    json_object_object_add(claims, "iat", json_object_new_int64(now));
    char *jwt = wc_jwt_sign("ES256", a->key, a->key_id, claims);
    json_object_put(claims);
    if (jwt == NULL || strlen(jwt) >= sizeof(a->token)) {
        free(jwt);
        wc_log_error("APNs: cannot sign the provider token");
        return -1;
    }
    snprintf(a->token, sizeof(a->token), "%s", jwt);
    a->token_issued = now;
    free(jwt);
    return 0;
}

/* "apns-id" must be a UUID; the 24 hex digits of the id fill its tail. */
static void apns_id_for(const char *id, char out[40])
{
    snprintf(out, 40, "00000000-%.4s-%.4s-%.4s-%.12s", id, id + 4, id + 8, id + 12);
}

static const char *reason_of(json_object *body)
{
    json_object *v = NULL;
    if (body != NULL && json_object_object_get_ex(body, "reason", &v) &&
        json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return "";
}

static void on_done(http_call_t *call, void *arg)
{
    apns_call_t *ctx = arg;
    provider_job_t *job = ctx->job;
    delivery_result_t result;
    json_object *body = provider_answer_begin(call, &result);
    const char *reason = reason_of(body);
    if (result.outcome == DELIVERY_OK) {
        snprintf(result.provider_message_id, sizeof(result.provider_message_id), "%s",
                 ctx->apns_id);
        snprintf(result.detail, sizeof(result.detail), "HTTP %ld, apns-id %s", call->status,
                 ctx->apns_id);
    } else if (call->status == 403 && (strcmp(reason, "ExpiredProviderToken") == 0 ||
                                       strcmp(reason, "InvalidProviderToken") == 0)) {
        /* Sign a new token for the retry. */
        ctx->apns->token[0] = '\0';
        result.outcome = DELIVERY_TRANSIENT;
    } else if (call->status == 410 || call->status == 400 || call->status == 413) {
        result.outcome = DELIVERY_PERMANENT;
        result.suppress = delivery_policy_suppression_apns(call->status, reason);
    }
    free(ctx);
    provider_answer_done(job, call, body, &result);
}

static json_object *payload_for(const bson_t *doc, const char *id)
{
    json_object *alert = json_object_new_object();
    const char *title = wc_doc_string(doc, "title");
    if (title != NULL) {
        json_object_object_add(alert, "title", json_object_new_string(title));
    }
    json_object_object_add(alert, "body", json_object_new_string(wc_doc_string(doc, "message")));
    json_object *aps = json_object_new_object();
    json_object_object_add(aps, "alert", alert);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "aps", aps);
    bson_iter_t iter, child;
    if (bson_iter_init_find(&iter, doc, "data") && BSON_ITER_HOLDS_DOCUMENT(&iter) &&
        bson_iter_recurse(&iter, &child)) {
        while (bson_iter_next(&child)) {
            if (strcmp(bson_iter_key(&child), "aps") != 0) {
                json_object_object_add(root, bson_iter_key(&child), wc_json_from_bson_value(&child));
            }
        }
    }
    json_object_object_add(root, "notificationId", json_object_new_string(id));
    return root;
}

static void apns_start(provider_t *self, provider_job_t *job)
{
    apns_t *a = self->state;
    const bson_t *doc = job->doc;
    const char *id = job->id;
    const char *device = wc_doc_string(doc, "recipient");
    if (device == NULL || wc_doc_string(doc, "message") == NULL || strlen(device) > 200) {
        provider_job_fail(job, DELIVERY_PERMANENT, "document lacks a device token or message");
        return;
    }
    if (provider_token(a) != 0) {
        provider_job_fail(job, DELIVERY_TRANSIENT, "cannot sign an APNs provider token");
        return;
    }
    char url[1024];
    snprintf(url, sizeof(url), "%s/3/device/%s", a->base_url, device);
    json_object *payload = payload_for(doc, id);
    size_t len = 0;
    const char *body = json_object_to_json_string_length(
        payload, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_call_t *call = http_call_new(a->env->http, url, body, len);
    json_object_put(payload);

    apns_call_t *ctx = calloc(1, sizeof(*ctx));
    const char *priority = wc_doc_string(doc, "priority");
    bool urgent = priority != NULL && (strcmp(priority, "CRITICAL") == 0 || strcmp(priority, "HIGH") == 0);
    char auth[1100], topic[300], apns_id[80], expiration[64];
    if (ctx == NULL || call == NULL) {
        provider_start_call(a->env->http, false, call, on_done, ctx, ctx, job);
        return;
    }
    ctx->apns = a;
    ctx->job = job;
    apns_id_for(id, ctx->apns_id);
    snprintf(auth, sizeof(auth), "authorization: bearer %s", a->token);
    snprintf(topic, sizeof(topic), "apns-topic: %s", a->topic);
    snprintf(apns_id, sizeof(apns_id), "apns-id: %s", ctx->apns_id);
    /* Keep trying to reach the device for a day, then let it go. */
    snprintf(expiration, sizeof(expiration), "apns-expiration: %lld", (long long)time(NULL) + 86400);
    bool built =
        http_call_header(call, auth) == 0 && http_call_header(call, topic) == 0 &&
        http_call_header(call, apns_id) == 0 && http_call_header(call, expiration) == 0 &&
        http_call_header(call, "apns-push-type: alert") == 0 &&
        http_call_header(call, urgent ? "apns-priority: 10" : "apns-priority: 5") == 0 &&
        http_call_header(call, "content-type: application/json") == 0;
    http_call_want_http2(call);
    provider_start_call(a->env->http, built, call, on_done, ctx, ctx, job);
}

static void apns_free(void *state)
{
    apns_t *a = state;
    EVP_PKEY_free(a->key);
    free(a);
}

provider_t *provider_apns_new(const provider_env_t *env)
{
    const wc_config_t *cfg = env->cfg;
    if (cfg->apns_key_file[0] == '\0') {
        wc_log_info("APNs disabled: WAVECOM_APNS_KEY_FILE is empty");
        return NULL;
    }
    if (cfg->apns_key_id[0] == '\0' || cfg->apns_team_id[0] == '\0' || cfg->apns_topic[0] == '\0') {
        wc_log_error("APNs disabled: WAVECOM_APNS_KEY_ID, WAVECOM_APNS_TEAM_ID and "
                     "WAVECOM_APNS_TOPIC are required");
        return NULL;
    }
    size_t len = 0;
    char *pem = provider_read_file(cfg->apns_key_file, &len);
    EVP_PKEY *key = pem != NULL ? wc_pem_private_key(pem, len) : NULL;
    free(pem);
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        wc_log_error("APNs disabled: WAVECOM_APNS_KEY_FILE %s is not an EC private key",
                     cfg->apns_key_file);
        EVP_PKEY_free(key);
        return NULL;
    }
    apns_t *a = calloc(1, sizeof(*a));
    provider_t *p = a != NULL ? provider_new("apns", a, apns_start, apns_free) : NULL;
    if (p == NULL) {
        EVP_PKEY_free(key);
        free(a);
        return NULL;
    }
    a->env = env;
    a->key = key;
    snprintf(a->base_url, sizeof(a->base_url), "%s", cfg->apns_url);
    snprintf(a->key_id, sizeof(a->key_id), "%s", cfg->apns_key_id);
    snprintf(a->team_id, sizeof(a->team_id), "%s", cfg->apns_team_id);
    snprintf(a->topic, sizeof(a->topic), "%s", cfg->apns_topic);
    return p;
}
