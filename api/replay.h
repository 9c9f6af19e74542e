/*
 * Replaying a FAILED notification from the API, one way for both routes that
 * do it (POST /api/notifications/:id/replay and POST /api/dlq/replay), the way
 * a new notification goes in (docs/ARCHITECTURE.md §4, invariant 1):
 *   1. FAILED -> PENDING with its audit entry (wc_store_reopen_failed);
 *   2. its message published to its priority queue and confirmed;
 *   3. PENDING -> QUEUED.
 * When the publish fails it stays PENDING and the scheduler's sweep publishes
 * it again: nothing is lost. Its stale copy stays in the dead-letter queue
 * until `wavecomctl dlq replay` or `purge` finds it settled and acks it.
 */
#ifndef API_REPLAY_H
#define API_REPLAY_H

#include <stdbool.h>

#include "api.h"

typedef enum {
    API_REPLAY_QUEUED,     /* published and confirmed */
    API_REPLAY_PENDING,    /* reopened; the publish failed, the sweep will send it */
    API_REPLAY_NOT_FOUND,  /* no such notification in the tenant */
    API_REPLAY_NOT_FAILED, /* it exists in another status: *doc says which */
    API_REPLAY_DB_ERROR,
} api_replay_result_t;

/* Replays notification `id` of `tenant_id` by `actor`. An earlier replay that
 * stopped after step 1 (PENDING with replayedAt) is published again. *doc is
 * the document as it stands afterwards (NULL for NOT_FOUND and DB_ERROR); the
 * caller destroys it. */
api_replay_result_t api_replay_notification(api_context_t *ctx, const char *tenant_id,
                                            const bson_oid_t *id, const char *actor,
                                            bool keep_attempts, bson_t **doc);

#endif
