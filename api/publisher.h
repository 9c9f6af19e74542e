/*
 * The API's one confirming publisher, shared by the HTTP threads under a
 * mutex (a rabbitmq-c connection is never used by two threads at once).
 */
#ifndef API_PUBLISHER_H
#define API_PUBLISHER_H

#include <stdbool.h>

#include "wc_broker.h"
#include "wc_config.h"

typedef struct api_publisher api_publisher_t;

api_publisher_t *api_publisher_new(const wc_config_t *cfg);
void api_publisher_free(api_publisher_t *publisher);

/* Publishes and waits for the broker's confirm. A lost connection is
 * reopened once and the publish repeated: a duplicate is harmless (the
 * worker's claim drops it), a message never confirmed is not. */
wc_broker_status_t api_publisher_publish(api_publisher_t *publisher, const wc_broker_message_t *msg);

/* True when the broker answers a round trip now. */
bool api_publisher_probe(api_publisher_t *publisher);

#endif
