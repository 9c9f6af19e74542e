/*
 * A request's validated notifications on their way through the group commit:
 * POST /api/notifications submits one, POST /api/notifications/batch many.
 *
 * The submission owns the documents and queue messages, hands them to the
 * intake as one job, defers the HTTP response while the job is committed,
 * and afterwards turns each item's outcome into a per-item result, resolving
 * taken Idempotency-Keys (which may mean committing some items again).
 */
#ifndef API_SUBMISSION_H
#define API_SUBMISSION_H

#include <json-c/json.h>
#include <stddef.h>

#include "api.h"
#include "wc_notification.h"

typedef struct api_submission api_submission_t;

/* What became of one notification. */
typedef struct {
    unsigned code;            /* 201 created, 200 replayed, 409 conflict, 503 unavailable */
    json_object *notification; /* for 200/201: the notification as the API shows it (owned) */
    char message[160];         /* for 409/503 */
    bool retry_after;          /* for 409 in progress and 503: the client should retry */
} api_item_result_t;

/* Builds the final response from the results, on an HTTP thread. */
typedef api_response_t (*api_submission_respond_t)(api_submission_t *sub, void *arg);

/* A submission of up to `capacity` notifications for `principal`'s tenant. */
api_submission_t *api_submission_new(api_context_t *ctx, const wc_principal_t *principal,
                                     const api_request_t *req, size_t capacity);

/* Adds a validated notification (nreq->idempotency_key set or NULL;
 * `request_hash` is the hash of its JSON when a key is set). Returns 0, or -1
 * when it cannot be stored as BSON or memory runs out. */
int api_submission_add(api_submission_t *sub, const wc_notification_request_t *nreq,
                       const char *request_hash);

size_t api_submission_count(const api_submission_t *sub);
const api_item_result_t *api_submission_result(const api_submission_t *sub, size_t i);

/* Hands the submission to the server as a deferred response. `respond(sub,
 * arg)` builds the answer once every item has its result; `free_arg(arg)`
 * runs when the submission is released. Takes ownership of `sub`. */
api_response_t api_submission_defer(api_submission_t *sub, api_submission_respond_t respond,
                                     void *arg, void (*free_arg)(void *arg));

/* Frees a submission that was never deferred. */
void api_submission_free(api_submission_t *sub);

#endif
