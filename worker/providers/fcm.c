/*
 * PUSH to Android and web through FCM HTTP v1. The OAuth2 access token comes
 * from a service-account JWT (RS256) exchanged at the account's token_uri and
 * is reused until shortly before it expires. UNREGISTERED and INVALID_ARGUMENT
 * are permanent; UNAVAILABLE, INTERNAL and QUOTA_EXCEEDED are retried, the
 * last no sooner than a minute, as FCM asks.
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

#define FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"
/* Renew this long before the token's own expiry. */
#define TOKEN_MARGIN_SECONDS 300
#define QUOTA_BACKOFF_MS 60000

typedef struct {
    const provider_env_t *env;
    EVP_PKEY *key;
    char client_email[256];
    char token_uri[512];
    char send_url[1024];
    char access_token[2048];
    time_t token_expires;
} fcm_t;

static int read_string(json_object *obj, const char *key, char *out, size_t len)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string)) {
        return -1;
    }
    size_t n = (size_t)json_object_get_string_len(v);
    if (n >= len || memchr(json_object_get_string(v), '\0', n) != NULL) {
        return -1;
    }
    memcpy(out, json_object_get_string(v), n + 1);
    return 0;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    char *buf = userdata;
    size_t have = strlen(buf);
    size_t n = size * nmemb;
    size_t take = have + n < 8191 ? n : 8191 - have;
    memcpy(buf + have, data, take);
    buf[have + take] = '\0';
    return n;
}

/* Exchanges a fresh service-account assertion for an access token. This is
 * one blocking round trip about once an hour. */
static int refresh_token(fcm_t *f)
{
    time_t now = time(NULL);
    if (f->access_token[0] != '\0' && now < f->token_expires - TOKEN_MARGIN_SECONDS) {
        return 0;
    }
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(f->client_email));
    json_object_object_add(claims, "scope", json_object_new_string(FCM_SCOPE));
    json_object_object_add(claims, "aud", json_object_new_string(f->token_uri));
    json_object_object_add(claims, "iat", json_object_new_int64(now));
    json_object_object_add(claims, "exp", json_object_new_int64(now + 3600));
    char *jwt = wc_jwt_sign("RS256", f->key, NULL, claims);
    json_object_put(claims);
    if (jwt == NULL) {
        wc_log_error("FCM: cannot sign the service-account assertion");
        return -1;
    }

    int rc = -1;
    CURL *easy = curl_easy_init();
    char *form = NULL;
    char *response = calloc(1, 8192);
    char *escaped = curl_easy_escape(NULL, jwt, 0);
    if (easy == NULL || response == NULL || escaped == NULL ||
        asprintf(&form, "grant_type=%s&assertion=%s",
                 "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", escaped) < 0) {
        form = NULL;
        goto out;
    }
    curl_easy_setopt(easy, CURLOPT_URL, f->token_uri);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)f->env->cfg->provider_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (f->env->cfg->provider_ca_file[0] != '\0') {
        curl_easy_setopt(easy, CURLOPT_CAINFO, f->env->cfg->provider_ca_file);
    }
    CURLcode res = curl_easy_perform(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    const char *why = NULL;
    json_object *body = res == CURLE_OK ? wc_json_parse_strict(response, strlen(response), &why) : NULL;
    json_object *expires = NULL;
    if (status == 200 && body != NULL &&
        read_string(body, "access_token", f->access_token, sizeof(f->access_token)) == 0) {
        long lifetime = json_object_object_get_ex(body, "expires_in", &expires)
                            ? (long)json_object_get_int64(expires)
                            : 3600;
        f->token_expires = now + lifetime;
        rc = 0;
    } else {
        f->access_token[0] = '\0';
        wc_log_error("FCM: token exchange at %s failed: %s HTTP %ld %.200s", f->token_uri,
                     curl_easy_strerror(res), status, response);
    }
    json_object_put(body);
out:
    curl_free(escaped);
    free(form);
    free(response);
    if (easy != NULL) {
        curl_easy_cleanup(easy);
    }
    free(jwt);
    return rc;
}

/* The error status FCM put in {"error":{"status":..,"details":[{"errorCode":..}]}}. */
static void fcm_error_codes(json_object *body, const char **status, const char **code)
{
    *status = "";
    *code = "";
    json_object *err = NULL;
    json_object *v = NULL;
    if (body == NULL || !json_object_object_get_ex(body, "error", &err)) {
        return;
    }
    if (json_object_object_get_ex(err, "status", &v) && json_object_is_type(v, json_type_string)) {
        *status = json_object_get_string(v);
    }
    json_object *details = NULL;
    if (json_object_object_get_ex(err, "details", &details) &&
        json_object_is_type(details, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(details); i++) {
            json_object *d = json_object_array_get_idx(details, i);
            if (json_object_object_get_ex(d, "errorCode", &v) &&
                json_object_is_type(v, json_type_string)) {
                *code = json_object_get_string(v);
            }
        }
    }
}

/* What a finished send needs: the job, and the provider to drop a refused token. */
typedef struct {
    fcm_t *fcm;
    provider_job_t *job;
} fcm_call_t;

static void on_done(http_call_t *call, void *arg)
{
    fcm_call_t *ctx = arg;
    provider_job_t *job = ctx->job;
    fcm_t *f = ctx->fcm;
    free(ctx);
    delivery_result_t result;
    json_object *body = provider_answer_begin(call, &result);
    if (result.outcome == DELIVERY_OK) {
        json_object *name = NULL;
        if (body != NULL && json_object_object_get_ex(body, "name", &name)) {
            snprintf(result.provider_message_id, sizeof(result.provider_message_id), "%s",
                     json_object_get_string(name));
        }
    } else {
        const char *status = NULL;
        const char *code = NULL;
        fcm_error_codes(body, &status, &code);
        if (strcmp(code, "UNREGISTERED") == 0 || strcmp(code, "INVALID_ARGUMENT") == 0 ||
            strcmp(status, "INVALID_ARGUMENT") == 0 || strcmp(code, "SENDER_ID_MISMATCH") == 0) {
            result.outcome = DELIVERY_PERMANENT;
            result.suppress = delivery_policy_suppression_fcm(code);
        } else if (strcmp(code, "QUOTA_EXCEEDED") == 0 || call->status == 429) {
            result.outcome = DELIVERY_TRANSIENT;
            if (result.retry_after_ms < QUOTA_BACKOFF_MS) {
                result.retry_after_ms = QUOTA_BACKOFF_MS;
            }
        } else if (call->status == 401) {
            /* Our token was refused: fetch a new one for the retry. */
            f->access_token[0] = '\0';
            result.outcome = DELIVERY_TRANSIENT;
        }
    }
    provider_answer_done(job, call, body, &result);
}

static void fcm_start(provider_t *self, provider_job_t *job)
{
    fcm_t *f = self->state;
    const bson_t *doc = job->doc;
    const char *token = wc_doc_string(doc, "recipient");
    const char *text = wc_doc_string(doc, "message");
    const char *title = wc_doc_string(doc, "title");
    if (token == NULL || text == NULL) {
        provider_job_fail(job, DELIVERY_PERMANENT, "document lacks a device token or message");
        return;
    }
    if (refresh_token(f) != 0) {
        provider_job_fail(job, DELIVERY_TRANSIENT, "no FCM access token (token exchange failed)");
        return;
    }

    json_object *notification = json_object_new_object();
    if (title != NULL) {
        json_object_object_add(notification, "title", json_object_new_string(title));
    }
    json_object_object_add(notification, "body", json_object_new_string(text));
    json_object *data = json_object_new_object();
    bson_iter_t iter, child;
    if (bson_iter_init_find(&iter, doc, "data") && BSON_ITER_HOLDS_DOCUMENT(&iter) &&
        bson_iter_recurse(&iter, &child)) {
        while (bson_iter_next(&child)) {
            if (BSON_ITER_HOLDS_UTF8(&child)) {
                json_object_object_add(data, bson_iter_key(&child),
                                       json_object_new_string(bson_iter_utf8(&child, NULL)));
            }
        }
    }
    /* FCM data values are strings; the id lets the app and the double deduplicate. */
    json_object_object_add(data, "notificationId", json_object_new_string(job->id));
    json_object *message = json_object_new_object();
    json_object_object_add(message, "token", json_object_new_string(token));
    json_object_object_add(message, "notification", notification);
    json_object_object_add(message, "data", data);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "message", message);
    size_t len = 0;
    const char *text_body = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    http_call_t *call = http_call_new(f->env->http, f->send_url, text_body, len);
    json_object_put(root);
    char auth[2100];
    char id_header[80];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->access_token);
    snprintf(id_header, sizeof(id_header), "X-WaveCom-Notification-Id: %s", job->id);
    fcm_call_t *ctx = malloc(sizeof(*ctx));
    bool built = ctx != NULL && call != NULL &&
                 http_call_header(call, "Content-Type: application/json") == 0 &&
                 http_call_header(call, auth) == 0 && http_call_header(call, id_header) == 0;
    if (ctx != NULL) {
        *ctx = (fcm_call_t){.fcm = f, .job = job};
    }
    provider_start_call(f->env->http, built, call, on_done, ctx, ctx, job);
}

static void fcm_free(void *state)
{
    fcm_t *f = state;
    EVP_PKEY_free(f->key);
    free(f);
}

provider_t *provider_fcm_new(const provider_env_t *env)
{
    const wc_config_t *cfg = env->cfg;
    if (cfg->fcm_service_account_file[0] == '\0') {
        wc_log_info("FCM disabled: WAVECOM_FCM_SERVICE_ACCOUNT_FILE is empty");
        return NULL;
    }
    size_t len = 0;
    char *text = provider_read_file(cfg->fcm_service_account_file, &len);
    if (text == NULL) {
        wc_log_error("FCM disabled: cannot read WAVECOM_FCM_SERVICE_ACCOUNT_FILE %s",
                     cfg->fcm_service_account_file);
        return NULL;
    }
    const char *why = NULL;
    json_object *account = wc_json_parse_strict(text, len, &why);
    free(text);
    fcm_t *f = calloc(1, sizeof(*f));
    provider_t *p = f != NULL ? provider_new("fcm", f, fcm_start, fcm_free) : NULL;
    char project[256];
    char pem[8192];
    if (account == NULL || f == NULL || p == NULL ||
        read_string(account, "client_email", f->client_email, sizeof(f->client_email)) != 0 ||
        read_string(account, "token_uri", f->token_uri, sizeof(f->token_uri)) != 0 ||
        read_string(account, "project_id", project, sizeof(project)) != 0 ||
        read_string(account, "private_key", pem, sizeof(pem)) != 0 ||
        (f->key = wc_pem_private_key(pem, strlen(pem))) == NULL) {
        wc_log_error("FCM disabled: %s is not a service-account file with a usable private key",
                     cfg->fcm_service_account_file);
        json_object_put(account);
        free(f);
        free(p);
        return NULL;
    }
    json_object_put(account);
    f->env = env;
    snprintf(f->send_url, sizeof(f->send_url), "%s/v1/projects/%s/messages:send", cfg->fcm_url,
             project);
    return p;
}
