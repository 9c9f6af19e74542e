/*
 * Idempotency-Key: the same key from the same tenant within 24 hours answers
 * with the notification the first request created, and creates nothing.
 *
 * The key is claimed by inserting a record with _id "<tenant>:<key>" (a
 * unique key, docs/ARCHITECTURE.md §3) in the group commit, before the
 * notification itself. A request that loses that insert comes here, after
 * its commit, to find out what the winner made of the key.
 */
#ifndef API_IDEMPOTENCY_H
#define API_IDEMPOTENCY_H

#include <bson/bson.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.h"

#define API_IDEMPOTENCY_KEY_MAX 255

/* A key is 1 to 255 characters of visible ASCII (0x21-0x7e). */
bool api_idempotency_key_valid(const char *key);

/* The SHA-256 (hex) of the canonical JSON of `body`: what "the same request"
 * means. Returns 0, or -1 when out of memory. */
int api_idempotency_hash(json_object *body, char out[65]);

typedef enum {
    API_IDEM_REPLAY,             /* *doc is the notification the key created */
    API_IDEM_MISMATCH,           /* the key was used with a different request: 409 */
    API_IDEM_IN_PROGRESS,        /* the first request has not stored its notification yet: 409 */
    API_IDEM_RETRY,              /* the key is free again (expired or orphaned): create anew */
    API_IDEM_DB_UNAVAILABLE,     /* 503 */
    API_IDEM_BROKER_UNAVAILABLE, /* 503 */
} api_idem_outcome_t;

/* Resolves a key that was found taken. Waits (until `deadline_ms` at most) for
 * a first request still being committed; a notification still PENDING then
 * (its publish failed or is slow) is published here, so that a 200 carries
 * the same promise as a 201. On API_IDEM_REPLAY *doc is a new document the
 * caller destroys. */
api_idem_outcome_t api_idempotency_resolve(api_context_t *ctx, const char *tenant_id,
                                           const char *key, const char *request_hash,
                                           int64_t deadline_ms, bson_t **doc);

#endif
