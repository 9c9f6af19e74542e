/*
 * The circuit breakers of one host, in memory the master maps shared before
 * it forks, so every child sees the same provider health and a restarted
 * child inherits it. SMTP, Twilio, FCM and APNs have one breaker each;
 * webhooks have one per target host (hashed onto a fixed set of slots), so
 * that one client's failing endpoint cannot stop every other client's.
 */
#ifndef WORKER_BREAKERS_H
#define WORKER_BREAKERS_H

#include <stddef.h>

#include "provider_table.h"
#include "wc_breaker.h"

/* Slots 0 to PROVIDER_ONE_BREAKER_COUNT - 1 are the breakers of the providers
 * that have one of their own (the slot is the provider's kind,
 * provider_table.h); the webhook slots follow. */
enum {
    BREAKER_WEBHOOK_FIRST = PROVIDER_ONE_BREAKER_COUNT,
    BREAKER_WEBHOOK_SLOTS = 64,
    BREAKER_COUNT = BREAKER_WEBHOOK_FIRST + BREAKER_WEBHOOK_SLOTS,
};

typedef struct {
    wc_breaker_t slots[BREAKER_COUNT];
} worker_breakers_t;

/* Maps zeroed shared memory for the breakers (all closed). NULL on failure. */
worker_breakers_t *worker_breakers_map(void);
void worker_breakers_unmap(worker_breakers_t *breakers);

/* The slot of the webhook breaker for the host of `url`. */
int worker_breaker_for_webhook(const char *url);

/* A short name for a slot, for logs and metrics ("smtp", "webhook:17"). */
void worker_breaker_name(int slot, char *out, size_t len);

#endif
