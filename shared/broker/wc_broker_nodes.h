/*
 * The RabbitMQ nodes a process may connect to: WAVECOM_AMQP_URL holds one
 * amqp:// URL or several separated by commas, the nodes of one cluster.
 *
 * A process starts at a node of its own (wc_broker_nodes_first), so the
 * connections of many processes spread over the cluster instead of all
 * landing on the first node, and moves to the next node in the list when its
 * connection is lost (docs/ARCHITECTURE.md §5, "Several nodes").
 */
#ifndef WC_BROKER_NODES_H
#define WC_BROKER_NODES_H

#include <stddef.h>

/* Most nodes in a list, and the longest URL of one. */
#define WC_BROKER_NODES_MAX 16
#define WC_BROKER_NODE_URL_MAX 512

typedef struct {
    size_t count;
    char urls[WC_BROKER_NODES_MAX][WC_BROKER_NODE_URL_MAX];
} wc_broker_nodes_t;

/* Splits `list` at its commas into `out`; blanks around each URL are
 * ignored. Every URL must be a valid amqp:// or amqps:// URL. Returns 0, or
 * -1 with the reason in `err` (which names the position of the bad URL, never
 * the URL itself: it may carry a password). */
int wc_broker_nodes_parse(const char *list, wc_broker_nodes_t *out, char *err, size_t err_len);

/* The index of the node a process with `spread` (its pid, say) tries first:
 * spread modulo count. 0 when count is 0. */
size_t wc_broker_nodes_first(size_t count, unsigned long spread);

/* The node after `current`, wrapping round. */
size_t wc_broker_nodes_next(size_t count, size_t current);

#endif
