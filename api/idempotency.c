#include "idempotency.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wc_crypto.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_notification.h"
#include "wc_time.h"

/* A key whose notification has not appeared this long after the key was
 * claimed belongs to a request that died between the two inserts. Longer than
 * the driver's socket timeout, so that a write still in flight on the server
 * cannot land after the key is handed to someone else. */
#define ORPHAN_AFTER_MS 30000

/* How often a waiting replay looks again. */
#define POLL_MS 25

bool api_idempotency_key_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > API_IDEMPOTENCY_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

int api_idempotency_hash(json_object *body, char out[65])
{
    size_t len = 0;
    char *canonical = wc_json_canonical(body, &len);
    if (canonical == NULL) {
        return -1;
    }
    wc_sha256_hex(canonical, len, out);
    free(canonical);
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Publishes a notification found PENDING and records QUEUED. On success *doc
 * is replaced by the document as it now stands. */
static api_idem_outcome_t publish_pending(api_context_t *ctx, const bson_oid_t *id, bson_t **doc)
{
    if (api_publisher_publish_document(ctx->publisher, *doc) != WC_BROKER_OK) {
        return API_IDEM_BROKER_UNAVAILABLE;
    }
    bson_t *after = NULL;
    if (wc_store_mark_queued(ctx->store, id, "api", wc_time_now_ms(), &after) == WC_STORE_OK &&
        after != NULL) {
        bson_destroy(*doc);
        *doc = after;
    }
    return API_IDEM_REPLAY;
}

api_idem_outcome_t api_idempotency_resolve(api_context_t *ctx, const char *tenant_id,
                                           const char *key, const char *request_hash,
                                           int64_t deadline_ms, bson_t **doc)
{
    *doc = NULL;
    for (;;) {
        int64_t now = wc_time_now_ms();
        wc_idempotency_record_t record;
        switch (wc_store_idempotency_get(ctx->store, tenant_id, key, &record)) {
        case WC_STORE_OK:
            break;
        case WC_STORE_NOT_FOUND:
            return API_IDEM_RETRY; /* released or purged since our commit */
        default:
            return API_IDEM_DB_UNAVAILABLE;
        }
        bool expired = record.created_at_ms < now - WC_IDEMPOTENCY_TTL_MS;
        if (expired) {
            /* Free it unless someone took it over meanwhile; either way the
             * next attempt settles who owns it. */
            wc_store_idempotency_release(ctx->store, tenant_id, key, record.notification_id);
            return API_IDEM_RETRY;
        }
        bool same_request = strcmp(record.request_hash, request_hash) == 0;
        if (!bson_oid_is_valid(record.notification_id, strlen(record.notification_id))) {
            return API_IDEM_DB_UNAVAILABLE;
        }
        bson_oid_t id;
        bson_oid_init_from_string(&id, record.notification_id);
        wc_store_status_t found = wc_store_get_notification(ctx->store, tenant_id, &id, doc);
        if (found == WC_STORE_ERROR) {
            return API_IDEM_DB_UNAVAILABLE;
        }
        if (found == WC_STORE_OK) {
            if (!same_request) {
                bson_destroy(*doc);
                *doc = NULL;
                return API_IDEM_MISMATCH;
            }
            const char *status = wc_doc_string(*doc, "status");
            if (status == NULL || strcmp(status, "PENDING") != 0) {
                return API_IDEM_REPLAY;
            }
            if (now >= deadline_ms) {
                return publish_pending(ctx, &id, doc);
            }
            bson_destroy(*doc);
            *doc = NULL;
        } else if (now - record.created_at_ms > ORPHAN_AFTER_MS) {
            /* The request that took the key never stored its notification:
             * the key was never really used, whatever this request holds. */
            wc_store_idempotency_release(ctx->store, tenant_id, key, record.notification_id);
            return API_IDEM_RETRY;
        } else if (!same_request) {
            return API_IDEM_MISMATCH;
        } else if (now >= deadline_ms) {
            return API_IDEM_IN_PROGRESS;
        }
        sleep_ms(POLL_MS);
    }
}
