/*
 * The API's background loop, one thread per instance (several instances may
 * run it at once: every take is an atomic findAndModify):
 *
 *   - releases due SCHEDULED notifications: SCHEDULED -> PENDING (one
 *     findAndModify each, so no two instances release the same one), then
 *     publishes them with one batch of confirms and records QUEUED;
 *   - republishes PENDING notifications whose publish was never confirmed for
 *     WAVECOM_PENDING_REPUBLISH_SECONDS (the API died between the insert and
 *     the confirm, the broker refused, or a release above was interrupted);
 *     a duplicate message is harmless, the worker's claim drops it;
 *   - deletes idempotency records older than 24 hours.
 */
#ifndef API_SCHEDULER_H
#define API_SCHEDULER_H

#include "api.h"

typedef struct api_scheduler api_scheduler_t;

/* Starts the loop; NULL after logging why. */
api_scheduler_t *api_scheduler_start(api_context_t *ctx);

/* Stops the loop after its current round and frees it. */
void api_scheduler_stop(api_scheduler_t *scheduler);

#endif
