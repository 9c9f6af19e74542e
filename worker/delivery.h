/*
 * Handling of queue messages in a worker child: decode, claim, hand to the
 * channel's provider, and — when the provider reports — record the outcome
 * and only then acknowledge (docs/ARCHITECTURE.md §4, invariants 2 and 3).
 * Many jobs are in flight at once. Everything runs on the child's loop thread except the
 * database steps, which store_pool.h runs on threads of their own.
 */
#ifndef WORKER_DELIVERY_H
#define WORKER_DELIVERY_H

#include <amqp.h>
#include <stdbool.h>
#include <stdint.h>

#include "breakers.h"
#include "endpoint_batch.h"
#include "endpoint_health.h"
#include "endpoint_pace.h"
#include "metrics.h"
#include "provider_table.h"
#include "providers/provider.h"
#include "store_pool.h"
#include "trail_batch.h"
#include "wc_broker.h"
#include "wc_config.h"
#include "wc_store.h"

/* One message's delivery, from its claim to its settling (delivery.c). */
typedef struct delivery_job delivery_job_t;

/* Claims remembered after a database error (see failed_claims). */
#define DELIVERY_FAILED_CLAIMS 64

typedef struct {
    const wc_config_t *cfg;
    wc_store_t *store;
    store_pool_t *store_pool; /* claims and outcomes, off the loop thread */
    trail_batch_t *trail;     /* their audit trail entries, many to a write */
    wc_broker_t *consumer;  /* the channel messages come from; acks go here */
    wc_broker_t *publisher; /* confirming channel for retries and the DLQ */
    provider_t *providers[PROVIDER_COUNT]; /* NULL: channel not configured */
    /* The SMS providers in failover order (WAVECOM_SMS_PROVIDERS). */
    int sms_order[PROVIDER_COUNT];
    int sms_order_n;
    int email_order[PROVIDER_COUNT]; /* WAVECOM_EMAIL_PROVIDERS */
    int email_order_n;
    worker_breakers_t *breakers;
    worker_metrics_t *metrics; /* shared with the master and the other children */
    int slot;                  /* this child's slot, for its in-flight gauge */
    wc_breaker_policy_t breaker_policy;
    char owner[128];          /* "worker:<host>:<pid>", the lease holder's name */
    unsigned consumer_generation; /* bumped on every reconnect: older delivery tags are void */
    int in_flight;            /* messages taken and not yet settled */
    int64_t paused_until_ms;  /* a dependency failed: take no new messages until then */

    /* Known outcomes whose status write waits for the database
     * (docs/ARCHITECTURE.md §6): their messages stay unacked. One of them at
     * a time probes the database, on a timer with backoff; when it is
     * recorded the others are written at once. */
    delivery_job_t *waiting_head, *waiting_tail;
    int waiting_n;
    bool probe_in_flight;
    int64_t probe_at_ms;    /* monotonic; when the next probe goes */
    int probe_backoff_ms;

    /* Claims that met database errors, tried again here with the same token
     * (the message stays with this child) for up to a minute. */
    delivery_job_t *claim_retry_head;
    bool draining; /* set by the loop on SIGTERM: held claims give their messages back */
    /* Rate limits of event endpoints (endpoint_pace.h; NULL: not kept), and
     * the deliveries held here for a send slot under a second away. */
    endpoint_pace_t *pace;
    delivery_job_t *paced_head;
    /* Claimed deliveries of batching endpoints, waiting to go as one
     * request (endpoint_batch.h); sent at once on drain. */
    endpoint_batches_t batches;
    /* Event endpoints' attempts since the last flush (endpoint_health.h). */
    endpoint_health_t endpoint_health;

    /* Tokens of claims that failed with a database error, by notification:
     * the claim may have been applied with its reply lost, and the
     * redelivered message claims again with the same token, so that it finds
     * the claim its own instead of waiting out the lease. */
    struct {
        bson_oid_t oid;
        char token[WC_LEASE_TOKEN_LEN];
    } failed_claims[DELIVERY_FAILED_CLAIMS];
    size_t failed_claims_next;
} delivery_context_t;

/* Takes one delivery: queues the claim of its notification, after which the
 * delivery starts or the message is settled (duplicate, busy); a poison
 * message is settled at once. The envelope may be destroyed when this
 * returns. */
void delivery_accept(delivery_context_t *ctx, const amqp_envelope_t *env);

/* Runs what is due on the loop's clock: the next attempt to record the
 * outcomes waiting for the database, and giving up on those that waited
 * WAVECOM_OUTCOME_RETRY_SECONDS. Call on every turn of the loop. */
void delivery_tick(delivery_context_t *ctx);

/* How long the loop may sleep at monotonic `now`: `limit_ms`, or less when a
 * held delivery's send slot comes sooner. */
int delivery_next_due_ms(const delivery_context_t *ctx, int64_t now, int limit_ms);

/* Outcomes waiting for the database now (held messages). */
int delivery_outcomes_waiting(const delivery_context_t *ctx);

#endif
