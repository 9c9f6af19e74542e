#include "replay.h"

#include <string.h>

#include "publisher.h"
#include "wc_json.h"
#include "wc_log.h"
#include "wc_store_ops.h"
#include "wc_time.h"

/* NOT_FOUND from step 1: what the notification is instead. */
static api_replay_result_t look_instead(api_context_t *ctx, const char *tenant_id,
                                        const bson_oid_t *id, bson_t **doc)
{
    switch (wc_store_get_notification(ctx->store, tenant_id, id, doc)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        return API_REPLAY_NOT_FOUND;
    default:
        return API_REPLAY_DB_ERROR;
    }
    const char *status = wc_doc_string(*doc, "status");
    bool interrupted = status != NULL && strcmp(status, "PENDING") == 0 &&
                       bson_has_field(*doc, "replayedAt");
    return interrupted ? API_REPLAY_PENDING : API_REPLAY_NOT_FAILED;
}

api_replay_result_t api_replay_notification(api_context_t *ctx, const char *tenant_id,
                                            const bson_oid_t *id, const char *actor,
                                            bool keep_attempts, bson_t **doc)
{
    *doc = NULL;
    wc_store_status_t s = wc_store_reopen_failed(ctx->store, tenant_id, id, actor, keep_attempts,
                                                 wc_time_now_ms(), doc);
    if (s == WC_STORE_ERROR) {
        return API_REPLAY_DB_ERROR;
    }
    if (s != WC_STORE_OK) {
        api_replay_result_t instead = look_instead(ctx, tenant_id, id, doc);
        if (instead != API_REPLAY_PENDING) {
            return instead;
        }
    }
    if (api_publisher_publish_document(ctx->publisher, *doc) != WC_BROKER_OK) {
        char hex[25];
        bson_oid_to_string(id, hex);
        wc_log_warn("replayed %s stays PENDING: its publish failed; the sweep publishes it", hex);
        return API_REPLAY_PENDING;
    }
    bson_t *queued = NULL;
    if (wc_store_mark_queued(ctx->store, id, "api", wc_time_now_ms(), &queued) == WC_STORE_OK &&
        queued != NULL) {
        /* As it now stands: QUEUED, or taken by a worker already. */
        bson_destroy(*doc);
        *doc = queued;
    } else if (queued != NULL) {
        bson_destroy(queued);
    }
    return API_REPLAY_QUEUED;
}
