/*
 * A confirming publisher: one RabbitMQ connection guarded by a mutex (a
 * rabbitmq-c connection is never used by two threads at once). The API has
 * one shared by health, statistics, the scheduler and replays, and one per
 * group-commit thread.
 */
#ifndef API_PUBLISHER_H
#define API_PUBLISHER_H

#include <bson/bson.h>
#include <stdbool.h>

#include "wc_broker.h"
#include "wc_config.h"

typedef struct api_publisher api_publisher_t;

/* `name` shows in the RabbitMQ management UI. */
api_publisher_t *api_publisher_new(const wc_config_t *cfg, const char *name);
void api_publisher_free(api_publisher_t *publisher);

/* Every call below first opens the connection if it is closed. While the
 * broker is unreachable the attempts back off (250 ms doubling to 5 s) and
 * calls in between fail at once with WC_BROKER_ERROR. */

/* Both publish calls below return within WAVECOM_PUBLISH_TIMEOUT_SECONDS,
 * connecting, both attempts and the confirm waits included. */

/* Publishes and waits for the broker's confirm. A lost connection is
 * reopened once and the publish repeated (not a blocked one: it would block
 * again): a duplicate is harmless (the worker's claim drops it), a message
 * never confirmed is not. */
wc_broker_status_t api_publisher_publish(api_publisher_t *publisher, const wc_broker_message_t *msg);

/* Publishes a stored document's queue message to its priority queue
 * (wc_publish_document) as api_publisher_publish does. WC_BROKER_ERROR also
 * when the document lacks a field the message needs. */
wc_broker_status_t api_publisher_publish_document(api_publisher_t *publisher, const bson_t *doc);

/* Publishes msgs[0..n) with one confirm round trip (wc_broker_publish_batch).
 * The messages whose outcome was unknown (connection lost) are published
 * again once on a new connection. statuses[i] as wc_broker_publish_batch. */
wc_broker_status_t api_publisher_publish_batch(api_publisher_t *publisher,
                                               const wc_broker_message_t *msgs, size_t n,
                                               wc_broker_status_t *statuses);

/* True when a publish of this process met a broker blocking publishes
 * (memory or disk alarm) in the last seconds, and none succeeded since. The
 * broker still answers other calls then, so the probe alone cannot tell. */
bool api_publisher_blocked(void);

/* False when a publish now would fail without trying: the broker is
 * unreachable and the next connection attempt is not due yet, or it is
 * blocking publishes (api_publisher_blocked). Costs no round trip. */
bool api_publisher_ready(api_publisher_t *publisher);

/* True when the broker answers a round trip now. */
bool api_publisher_probe(api_publisher_t *publisher);

/* The queues whose depth the API reports. */
typedef struct {
    long high_priority;
    long standard;
    long retry; /* every retry tier together */
    long dlq;
} api_queue_depths_t;

/* Reads the depth of every queue; -1 for one the broker could not tell.
 * Returns false when the broker is unreachable. */
bool api_publisher_queue_depths(api_publisher_t *publisher, api_queue_depths_t *out);

#endif
