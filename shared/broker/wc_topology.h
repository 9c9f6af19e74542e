/*
 * The RabbitMQ topology every WaveCom process declares at start (docs/ARCHITECTURE.md §5).
 *
 *   exchange "wavecom" (direct)
 *     -> "high_priority"      routing key "high_priority" (CRITICAL, HIGH)
 *     -> "notifications"      routing key "notifications" (MEDIUM, LOW)
 *     -> "notifications_dlq"  routing key "notifications_dlq" (permanent failures)
 *   one delay queue per retry tier (backoff step) and one for pacing: fanout
 *   exchange "wavecom.retry.<N>s" -> queue "retry.<N>s" (and
 *   "wavecom.pace.1s" -> "pace.1s") with a queue TTL of N seconds,
 *   dead-lettering back to "wavecom" under the routing key the message was
 *   published with, i.e. to its own priority class.
 *
 * Declaring is idempotent; deploy/rabbitmq-definitions.json mirrors it.
 */
#ifndef WC_TOPOLOGY_H
#define WC_TOPOLOGY_H

#include <amqp.h>
#include <json-c/json.h>
#include <stddef.h>

#define WC_EXCHANGE "wavecom"
#define WC_QUEUE_HIGH "high_priority"
#define WC_QUEUE_STANDARD "notifications"
#define WC_QUEUE_DLQ "notifications_dlq"

typedef struct {
    int seconds;
    const char *exchange;
    const char *queue;
} wc_delay_tier_t;

/* Every delay queue, shortest first: the pacing second (an endpoint's rate
 * limit holds a delivery for its slot, docs/ARCHITECTURE.md §14), then the
 * retry tiers. */
extern const wc_delay_tier_t wc_delay_tiers[];
extern const size_t wc_delay_tier_count;

/* The retry tiers alone, indexed by backoff step (wc_backoff.h). */
extern const wc_delay_tier_t *const wc_retry_tiers;
extern const size_t wc_retry_tier_count;

/* How the queues are declared: `queue_type` is "quorum" or "classic";
 * `quorum_group_size` > 0 gives quorum queues that many replicas when first
 * declared (x-quorum-initial-group-size; a cluster's size), 0 leaves it to
 * RabbitMQ. Every process of one deployment must declare the same: RabbitMQ
 * refuses to redeclare a queue with other arguments. */
typedef struct {
    const char *queue_type;
    int quorum_group_size;
} wc_topology_queues_t;

/* The topology as RabbitMQ definitions JSON ({"exchanges", "queues",
 * "bindings"} in vhost `vhost`), from the same tables the declaration uses.
 * Returns a new reference. */
json_object *wc_topology_definitions(const wc_topology_queues_t *queues, const char *vhost);

/* Declares everything on `channel`. Returns 0, or -1 with the broker's
 * reason in `err`. */
int wc_topology_declare(amqp_connection_state_t conn, amqp_channel_t channel,
                        const wc_topology_queues_t *queues, char *err, size_t err_len);

/* Describes an RPC reply that is not normal, for error messages. */
void wc_amqp_reply_describe(amqp_rpc_reply_t reply, char *buf, size_t len);

#endif
