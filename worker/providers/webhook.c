/*
 * WEBHOOK: a POST of the notification's JSON payload, signed per the
 * Standard Webhooks scheme with the tenant's secret: webhook-id (the
 * notification id, the same on every retry, so receivers can deduplicate),
 * webhook-timestamp, and webhook-signature "v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>". 2xx is success and 410 means the endpoint is gone for
 * good; anything else, redirects included (they are not followed), is retried.
 * On every attempt the target's name is resolved once, refused (for good)
 * when any address is one webhooks may not reach (wc_netguard.h; loopback
 * only with WAVECOM_WEBHOOK_ALLOW_LOOPBACK=1), and the transfer pinned to the
 * checked address; the socket it opens is checked again.
 *
 * A delivery of an event (docs/ARCHITECTURE.md §14) carries `endpointId`: it
 * is signed with that endpoint's secret instead of the tenant's, and while a
 * rotated secret's grace period lasts with the previous one too, the two
 * signatures separated by a space ("v1,<new> v1,<old>"), so that a receiver
 * holding either secret accepts it. Its `headers` are sent as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider.h"
#include "wc_crypto.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_netguard.h"
#include "wc_notification.h"
#include "wc_store_endpoints.h"
#include "wc_time.h"

/* Secrets are cached per tenant for a minute: a rotated secret applies soon,
 * and a burst to one tenant costs one lookup. */
#define SECRET_CACHE_SIZE 64
#define SECRET_TTL_SECONDS 60

typedef struct {
    char tenant[64];
    char secret[128];
    time_t fetched;
} secret_entry_t;

/* An endpoint's secrets, cached like the tenants' but also refreshed as soon
 * as a delivery names a newer revision of the endpoint (a rotation or an
 * edit made after the cached read). */
typedef struct {
    char endpoint[25];
    int64_t rev;
    char current[WC_WEBHOOK_SECRET_SIZE];
    char previous[WC_WEBHOOK_SECRET_SIZE];
    time_t fetched;
} endpoint_entry_t;

typedef struct {
    const provider_env_t *env;
    secret_entry_t cache[SECRET_CACHE_SIZE];
    size_t next_slot;
    endpoint_entry_t endpoints[SECRET_CACHE_SIZE];
    size_t next_endpoint_slot;
} webhook_t;

static const char *tenant_secret(webhook_t *w, const char *tenant)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < SECRET_CACHE_SIZE; i++) {
        secret_entry_t *e = &w->cache[i];
        if (e->tenant[0] != '\0' && strcmp(e->tenant, tenant) == 0 &&
            now - e->fetched < SECRET_TTL_SECONDS) {
            return e->secret;
        }
    }
    secret_entry_t *slot = &w->cache[w->next_slot];
    w->next_slot = (w->next_slot + 1) % SECRET_CACHE_SIZE;
    if (strlen(tenant) >= sizeof(slot->tenant) ||
        wc_store_tenant_webhook_secret(w->env->store, tenant, slot->secret, sizeof(slot->secret)) !=
            WC_STORE_OK) {
        slot->tenant[0] = '\0';
        return NULL;
    }
    snprintf(slot->tenant, sizeof(slot->tenant), "%s", tenant);
    slot->fetched = now;
    return slot->secret;
}

static const endpoint_entry_t *endpoint_secrets(webhook_t *w, const char *endpoint, int64_t rev)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < SECRET_CACHE_SIZE; i++) {
        endpoint_entry_t *e = &w->endpoints[i];
        if (e->endpoint[0] != '\0' && strcmp(e->endpoint, endpoint) == 0 && e->rev >= rev &&
            now - e->fetched < SECRET_TTL_SECONDS) {
            return e;
        }
    }
    endpoint_entry_t *slot = &w->endpoints[w->next_endpoint_slot];
    w->next_endpoint_slot = (w->next_endpoint_slot + 1) % SECRET_CACHE_SIZE;
    if (strlen(endpoint) >= sizeof(slot->endpoint) ||
        wc_store_endpoint_secrets(w->env->store, endpoint, wc_time_now_ms(), slot->current,
                                  slot->previous, &slot->rev) != WC_STORE_OK) {
        slot->endpoint[0] = '\0';
        return NULL;
    }
    snprintf(slot->endpoint, sizeof(slot->endpoint), "%s", endpoint);
    slot->fetched = now;
    return slot;
}

/* "v1,<base64>" for `secret` ("whsec_<base64 key>"). Returns 0 or -1. */
static int sign(const char *secret, const char *id, long long ts, const char *body, size_t len,
                char *out, size_t out_len)
{
    unsigned char key[256];
    const char *encoded = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    int key_len = wc_base64_decode(encoded, key, sizeof(key));
    if (key_len <= 0) {
        return -1;
    }
    char prefix[128];
    int plen = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, ts);
    char *content = malloc((size_t)plen + len);
    if (content == NULL) {
        return -1;
    }
    memcpy(content, prefix, (size_t)plen);
    memcpy(content + plen, body, len);
    unsigned char mac[32];
    wc_hmac_sha256(key, (size_t)key_len, content, (size_t)plen + len, mac);
    free(content);
    memcpy(out, "v1,", 3);
    return wc_base64_encode(mac, sizeof(mac), out + 3, out_len - 3) < 0 ? -1 : 0;
}

/* The endpoint's own headers (checked at registration: token names, no
 * control characters in values, none the delivery sets itself). */
static bool add_endpoint_headers(http_call_t *call, const bson_t *doc)
{
    bson_iter_t it, headers;
    if (!bson_iter_init_find(&it, doc, "headers") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &headers)) {
        return true;
    }
    while (bson_iter_next(&headers)) {
        if (!BSON_ITER_HOLDS_UTF8(&headers)) {
            continue;
        }
        char line[1200];
        int n = snprintf(line, sizeof(line), "%s: %s", bson_iter_key(&headers),
                         bson_iter_utf8(&headers, NULL));
        if (n < 0 || (size_t)n >= sizeof(line) || http_call_header(call, line) != 0) {
            return false;
        }
    }
    return true;
}

static void on_done(http_call_t *call, void *arg)
{
    provider_job_t *job = arg;
    delivery_result_t result;
    memset(&result, 0, sizeof(result));
    provider_classify_http(call, &result);
    if (result.outcome == DELIVERY_OK) {
        snprintf(result.provider_message_id, sizeof(result.provider_message_id), "%s",
                 job->id);
    } else if (call->result == CURLE_OK) {
        /* Only 410 says the endpoint is gone; a receiver's other 4xx may be a
         * deploy in progress on its side. */
        result.outcome = call->status == 410 ? DELIVERY_PERMANENT : DELIVERY_TRANSIENT;
    }
    http_call_free(call);
    provider_job_complete(job, &result);
}

static void webhook_start(provider_t *self, provider_job_t *job)
{
    webhook_t *w = self->state;
    const bson_t *doc = job->doc;
    const char *id = job->id;
    const char *url = wc_doc_string(doc, "recipient");
    const char *tenant = wc_doc_string(doc, "tenantId");
    if (url == NULL || tenant == NULL) {
        provider_job_fail(job, DELIVERY_PERMANENT, "document lacks a URL or tenant");
        return;
    }
    char pin[512] = "";
    char why[256];
    bool allow_loopback = w->env->cfg->webhook_allow_loopback != 0;
    switch (wc_guard_webhook_url(url, allow_loopback, pin, sizeof(pin), why, sizeof(why))) {
    case WC_GUARD_OK:
        break;
    case WC_GUARD_UNRESOLVED:
        provider_job_fail(job, DELIVERY_TRANSIENT, "%s", why);
        return;
    case WC_GUARD_BLOCKED: {
        delivery_result_t refused = {.destination_refused = true};
        provider_fail(&refused, DELIVERY_PERMANENT, "%s", why);
        provider_job_complete(job, &refused);
        return;
    }
    case WC_GUARD_BAD_URL:
        provider_job_fail(job, DELIVERY_PERMANENT, "%s", why);
        return;
    }
    const char *endpoint = wc_doc_string(doc, "endpointId");
    const char *secret = NULL, *previous = NULL;
    if (endpoint != NULL) {
        bson_iter_t rev;
        const endpoint_entry_t *e = endpoint_secrets(
            w, endpoint, bson_iter_init_find(&rev, doc, "endpointRev") ? bson_iter_as_int64(&rev) : 0);
        if (e == NULL) {
            provider_job_fail(job, DELIVERY_TRANSIENT, "no signing secret for endpoint %s", endpoint);
            return;
        }
        secret = e->current;
        previous = e->previous;
    } else if ((secret = tenant_secret(w, tenant)) == NULL) {
        provider_job_fail(job, DELIVERY_TRANSIENT, "no webhook signing secret for tenant %s", tenant);
        return;
    }

    json_object *payload = NULL;
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "payload")) {
        payload = wc_json_from_bson_value(&iter);
    } else {
        payload = json_object_new_object();
        json_object_object_add(payload, "notificationId", json_object_new_string(id));
        const char *message = wc_doc_string(doc, "message");
        if (message != NULL) {
            json_object_object_add(payload, "message", json_object_new_string(message));
        }
    }
    size_t len = 0;
    const char *body = json_object_to_json_string_length(
        payload, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    long long ts = (long long)time(NULL);
    char signature[80], second[80] = "";
    char h_id[80], h_ts[64], h_sig[200];
    http_call_t *call = NULL;
    if (sign(secret, id, ts, body, len, signature, sizeof(signature)) != 0 ||
        (previous != NULL && previous[0] != '\0' &&
         sign(previous, id, ts, body, len, second, sizeof(second)) != 0)) {
        json_object_put(payload);
        provider_job_fail(job, DELIVERY_PERMANENT, "the webhook secret is malformed");
        return;
    }
    call = http_call_new(w->env->http, url, body, len);
    json_object_put(payload);
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s%s%s", signature,
             second[0] != '\0' ? " " : "", second);
    bool built = call != NULL && http_call_header(call, "Content-Type: application/json") == 0 &&
                 http_call_header(call, h_id) == 0 && http_call_header(call, h_ts) == 0 &&
                 http_call_header(call, h_sig) == 0 && add_endpoint_headers(call, doc) &&
                 http_call_pin(call, pin) == 0;
    if (built) {
        http_call_guard(call, allow_loopback);
    }
    provider_start_call(w->env->http, built, call, on_done, job, NULL, job);
}

provider_t *provider_webhook_new(const provider_env_t *env)
{
    webhook_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->env = env;
    provider_t *p = provider_new("webhook", w, webhook_start, NULL);
    if (p == NULL) {
        free(w);
    }
    return p;
}
