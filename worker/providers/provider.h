/*
 * One small interface for every delivery channel: send one notification and
 * say how it went, in terms the retry policy understands.
 */
#ifndef WORKER_PROVIDER_H
#define WORKER_PROVIDER_H

#include <bson/bson.h>

#include "wc_config.h"

typedef enum {
    DELIVERY_OK,        /* accepted by the provider */
    DELIVERY_TRANSIENT, /* may succeed later: timeouts, 4xx SMTP, 5xx HTTP, 429 */
    DELIVERY_PERMANENT, /* will never succeed: invalid recipient, rejected content */
} delivery_outcome_t;

typedef struct {
    delivery_outcome_t outcome;
    char provider_message_id[320]; /* the provider's id for the message, when accepted */
    char detail[512];              /* the provider's answer, for the audit trail */
} delivery_result_t;

typedef struct provider provider_t;

struct provider {
    const char *name;
    /* Delivers the claimed notification `doc`. Never blocks longer than the
     * provider's configured timeouts. */
    void (*send)(provider_t *self, const bson_t *doc, delivery_result_t *result);
    void (*destroy)(provider_t *self);
    void *state;
};

/* The SMTP provider (libesmtp). Returns NULL after logging why. */
provider_t *provider_smtp_new(const wc_config_t *cfg);

#endif
