/*
 * One AMQP connection with one channel, for publishing with publisher
 * confirms or for consuming with manual acks.
 *
 * rabbitmq-c connections are not thread-safe: a wc_broker_t belongs to one
 * thread at a time (the API guards its publisher with a mutex). rabbitmq-c has
 * no recovery of its own; after WC_BROKER_ERROR the connection is closed and
 * wc_broker_ensure_open() opens a new one, declaring the topology again.
 * Nothing waits without bound: connecting, RPCs and confirm waits end at
 * timeout_ms, and a write the broker stopped reading at twice that (the
 * kernel's TCP_USER_TIMEOUT).
 *
 * The URL may list the nodes of a cluster (wc_broker_nodes.h). A handle
 * starts at a node chosen by its process id; a lost connection moves it to
 * the next node, and wc_broker_ensure_open tries every node once from there. A connection asks for connection.blocked, so a
 * resource alarm fails a confirm wait at once (WC_BROKER_BLOCKED).
 */
#ifndef WC_BROKER_H
#define WC_BROKER_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wc_broker wc_broker_t;

typedef enum {
    WC_BROKER_OK = 0,
    WC_BROKER_NACKED,     /* the broker refused the message (e.g. a queue's overflow) */
    WC_BROKER_UNROUTABLE, /* no queue is bound for the routing key */
    WC_BROKER_ERROR,      /* connection lost or timed out; the outcome is unknown */
    WC_BROKER_BLOCKED,    /* the broker blocked publishes (resource alarm); connection closed,
                             the outcome is unknown and retrying now would block again */
} wc_broker_status_t;

typedef struct {
    const char *url;        /* amqp://user:pass@host:port/vhost, or several separated by
                               commas (one cluster); an empty vhost means "/" */
    const char *queue_type; /* "quorum" or "classic" */
    int quorum_group_size;  /* replicas of a new quorum queue; 0: RabbitMQ's default */
    const char *name;       /* shown in the management UI */
    bool confirms;          /* put the channel in confirm mode */
    int heartbeat_seconds;  /* 0 disables heartbeats */
    int timeout_ms;         /* bound on connecting, RPCs and confirm waits */
} wc_broker_options_t;

/* Creates a broker handle; no connection is made until wc_broker_ensure_open.
 * The strings in `opts` are copied. Returns NULL when out of memory or when
 * the URL list is invalid (logged). */
wc_broker_t *wc_broker_new(const wc_broker_options_t *opts);
void wc_broker_free(wc_broker_t *broker);

/* Connects, logs in, opens the channel, declares the topology and enables
 * confirms, unless already open; tries each node of the list once, from the
 * current one on. Returns 0, or -1 with the reason in `err`. */
int wc_broker_ensure_open(wc_broker_t *broker, char *err, size_t err_len);

/* host:port of the node the open connection goes to; "" while closed. */
const char *wc_broker_peer(const wc_broker_t *broker);
bool wc_broker_is_open(const wc_broker_t *broker);
void wc_broker_close(wc_broker_t *broker);

typedef struct {
    const char *key;
    const char *value;
} wc_broker_header_t;

typedef struct {
    const char *exchange;
    const char *routing_key;
    const void *body;
    size_t body_len;
    const char *message_id;     /* may be NULL */
    const char *correlation_id; /* may be NULL */
    const wc_broker_header_t *headers;
    size_t header_count;
} wc_broker_message_t;

/* Publishes a persistent, mandatory message and, on a confirming channel,
 * waits for the broker's ack. On WC_BROKER_ERROR the connection is closed,
 * and on WC_BROKER_NACKED too (the next call opens a new one). */
wc_broker_status_t wc_broker_publish(wc_broker_t *broker, const wc_broker_message_t *msg);

/* Starts consuming `queue` with manual acks and at most `prefetch` unacked
 * deliveries. Returns 0 or -1. */
int wc_broker_consume(wc_broker_t *broker, const char *queue, int prefetch, char *err,
                      size_t err_len);

/* Waits up to `timeout_ms` for a delivery. Returns 1 with `env` filled (free
 * it with amqp_destroy_envelope), 0 on timeout, -1 when the connection
 * failed (it is then closed). */
int wc_broker_next(wc_broker_t *broker, int timeout_ms, amqp_envelope_t *env);

/* Acknowledges, or rejects (requeue or not), one delivery. Returns 0 or -1. */
int wc_broker_ack(wc_broker_t *broker, uint64_t delivery_tag);
int wc_broker_reject(wc_broker_t *broker, uint64_t delivery_tag, bool requeue);

/* The socket of the open connection, for poll(); -1 when closed. */
int wc_broker_fd(const wc_broker_t *broker);

/* True when rabbitmq-c holds received data not yet handed out, so a poll on
 * the socket would not wake for it. */
bool wc_broker_has_buffered(const wc_broker_t *broker);

/* Messages ready in `queue` (passive declare). Returns -1 when unknown. */
long wc_broker_queue_depth(wc_broker_t *broker, const char *queue);

/* Messages ready in `queue` and its consumers (passive declare). Returns 0,
 * or -1 when the queue is missing or the connection failed (it is then
 * closed). */
int wc_broker_queue_stats(wc_broker_t *broker, const char *queue, long *messages, long *consumers);

/* Until called again with 0, no connect, handshake or confirm wait of
 * `broker` goes past `deadline_ms` (monotonic, wc_time_monotonic_ms): one
 * bound for a caller that may open a connection and publish twice. */
void wc_broker_set_deadline(wc_broker_t *broker, int64_t deadline_ms);

/* ---- Batched confirms (intake API) ---- */

/* Publishes msgs[0..n) like wc_broker_publish, then reads acks and nacks
 * (honouring `multiple`) until all n are settled or timeout_ms passes, so n
 * messages cost one confirm round trip. statuses[i] is OK, NACKED, UNROUTABLE
 * (a basic.return named its message_id), or ERROR when unsettled at the
 * deadline or when the connection failed (it is then closed, and the outcome
 * of those is unknown: republish them; a duplicate is harmless, the worker's
 * claim drops it). In a batch of more than one, every message must carry a
 * message_id, which is how a returned message is matched. Returns OK when every message is OK, else the
 * first non-OK status; after a nack the connection is closed. */
wc_broker_status_t wc_broker_publish_batch(wc_broker_t *broker, const wc_broker_message_t *msgs,
                                           size_t n, wc_broker_status_t *statuses);

#endif
