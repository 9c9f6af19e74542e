/*
 * A notification's queue message on its way to the broker: the one place that
 * turns a queue message, or the stored document it comes from, into what the
 * broker is given (docs/ARCHITECTURE.md §5): the encoded body, exchange
 * "wavecom" and the routing key of its priority class unless the caller names
 * another destination (a retry tier, the DLQ), the notification id as the
 * message id (the batch publisher matches returns by it) and the correlation
 * id.
 *
 * The API, the worker and wavecomctl each hold a different publisher (a
 * mutex-guarded one with reconnects, a child's own connection, the CLI's), so
 * the publish step takes the caller's publisher as a function and an argument;
 * every one of them waits for the broker's confirm.
 */
#ifndef WC_PUBLISH_H
#define WC_PUBLISH_H

#include <bson/bson.h>
#include <stddef.h>

#include "wc_broker.h"
#include "wc_notification.h"

typedef struct {
    wc_queue_message_t queue; /* what the body encodes */
    char *body;               /* owned; wc_publish_release frees it */
    size_t body_len;
    const char *exchange;    /* static strings from wc_topology.h */
    const char *routing_key;
} wc_publish_t;

/* Prepares `msg` for `exchange` under `routing_key`; a NULL exchange means
 * WC_EXCHANGE and a NULL routing key the priority class of `msg`. Returns 0,
 * or -1 when the message cannot be encoded (then there is nothing to
 * release). */
int wc_publish_prepare(wc_publish_t *out, const wc_queue_message_t *msg, const char *exchange,
                       const char *routing_key);

/* Prepares the queue message of a stored document for its own priority
 * queue. Returns 0, or -1 when the document lacks a field the message needs. */
int wc_publish_prepare_document(wc_publish_t *out, const bson_t *doc);

/* The broker message for a prepared publish, pointing into `p` (which must
 * outlive it) and at `headers[0..header_count)`. */
wc_broker_message_t wc_publish_broker_message(const wc_publish_t *p,
                                              const wc_broker_header_t *headers,
                                              size_t header_count);

/* Frees the body; `p` may be released twice. */
void wc_publish_release(wc_publish_t *p);

/* A caller's publisher: publishes one message and waits for its confirm. */
typedef wc_broker_status_t (*wc_publish_fn)(void *publisher, const wc_broker_message_t *msg);

/* Publishes `msg` to `exchange`/`routing_key` (NULL as in wc_publish_prepare)
 * with the headers, through `publish`. WC_BROKER_ERROR when it cannot be
 * encoded. */
wc_broker_status_t wc_publish_queue_message(const wc_queue_message_t *msg, const char *exchange,
                                            const char *routing_key,
                                            const wc_broker_header_t *headers,
                                            size_t header_count, wc_publish_fn publish,
                                            void *publisher);

/* Publishes a stored document's queue message to its priority queue through
 * `publish`. WC_BROKER_ERROR when the document lacks a field. */
wc_broker_status_t wc_publish_document(const bson_t *doc, wc_publish_fn publish, void *publisher);

/* wc_broker_publish as a wc_publish_fn: `publisher` is a wc_broker_t. */
wc_broker_status_t wc_publish_with_broker(void *publisher, const wc_broker_message_t *msg);

#endif
