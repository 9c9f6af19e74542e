/*
 * Handling of one queue message: decode, claim, deliver, record, and only
 * then acknowledge.
 */
#ifndef WORKER_DELIVERY_H
#define WORKER_DELIVERY_H

#include <amqp.h>

#include "providers/provider.h"
#include "wc_broker.h"
#include "wc_config.h"
#include "wc_store.h"

typedef struct {
    const wc_config_t *cfg;
    wc_store_t *store;
    wc_broker_t *consumer;  /* the channel the message came from; acks go here */
    wc_broker_t *publisher; /* confirming channel for retries and the DLQ */
    provider_t *email;
    char owner[128]; /* "worker:<host>:<pid>", the lease holder's name */
} delivery_context_t;

/* Handles one delivery and acks or rejects it. Returns 0, or -1 when the
 * consumer connection failed (the caller reconnects; the broker redelivers
 * whatever was not acked). */
int delivery_handle(delivery_context_t *ctx, const amqp_envelope_t *env);

#endif
