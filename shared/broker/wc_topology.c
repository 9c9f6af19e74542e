#include "wc_topology.h"

#include <stdio.h>
#include <string.h>

#include <amqp_framing.h>

/* The pacing second, then the backoff of the WaveCom specification: 5 s,
 * 25 s, 125 s (docs/ARCHITECTURE.md §5). */
const wc_delay_tier_t wc_delay_tiers[] = {
    {1, "wavecom.pace.1s", "pace.1s"},
    {5, "wavecom.retry.5s", "retry.5s"},
    {25, "wavecom.retry.25s", "retry.25s"},
    {125, "wavecom.retry.125s", "retry.125s"},
};
const size_t wc_delay_tier_count = sizeof(wc_delay_tiers) / sizeof(wc_delay_tiers[0]);
const wc_delay_tier_t *const wc_retry_tiers = &wc_delay_tiers[1];
const size_t wc_retry_tier_count = sizeof(wc_delay_tiers) / sizeof(wc_delay_tiers[0]) - 1;

void wc_amqp_reply_describe(amqp_rpc_reply_t reply, char *buf, size_t len)
{
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(buf, len, "ok");
        return;
    case AMQP_RESPONSE_NONE:
        snprintf(buf, len, "missing RPC reply");
        return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(buf, len, "%s", amqp_error_string2(reply.library_error));
        return;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const amqp_connection_close_t *m = reply.reply.decoded;
            snprintf(buf, len, "connection closed by broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *m = reply.reply.decoded;
            snprintf(buf, len, "channel closed by broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            snprintf(buf, len, "unexpected broker method 0x%08X", reply.reply.id);
        }
        return;
    }
    snprintf(buf, len, "unknown reply type");
}

static int check(amqp_connection_state_t conn, const char *what, char *err, size_t err_len)
{
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
        return 0;
    }
    char why[256];
    wc_amqp_reply_describe(reply, why, sizeof(why));
    snprintf(err, err_len, "%s: %s", what, why);
    return -1;
}

/* Every queue and the arguments it is declared with. */
typedef struct {
    const char *name;
    const wc_delay_tier_t *tier; /* NULL for the main queues */
} queue_spec_t;

#define MAX_QUEUE_ARGS 6

typedef struct {
    const char *key;
    const char *text; /* a string argument, or NULL for the integer */
    int number;
} queue_arg_t;

/* The arguments of a queue; returns how many. Delay queues expire messages
 * after their delay and dead-letter them back to the main exchange under the
 * routing key they were published with. */
static int queue_args(const queue_spec_t *q, const wc_topology_queues_t *queues,
                      queue_arg_t args[MAX_QUEUE_ARGS])
{
    const char *queue_type = queues->queue_type;
    int n = 0;
    args[n++] = (queue_arg_t){"x-queue-type", queue_type, 0};
    if (strcmp(queue_type, "quorum") == 0 && queues->quorum_group_size > 0) {
        /* One replica per node of the cluster, so that a node's death
         * leaves a majority of every queue's replicas. */
        args[n++] = (queue_arg_t){"x-quorum-initial-group-size", NULL, queues->quorum_group_size};
    }
    if (q->tier != NULL) {
        args[n++] = (queue_arg_t){"x-message-ttl", NULL, q->tier->seconds * 1000};
        args[n++] = (queue_arg_t){"x-dead-letter-exchange", WC_EXCHANGE, 0};
        if (strcmp(queue_type, "quorum") == 0) {
            /* Quorum queues dead-letter at-most-once unless asked; a retry
             * that expires while the broker fails would otherwise be lost. */
            args[n++] = (queue_arg_t){"x-dead-letter-strategy", "at-least-once", 0};
            args[n++] = (queue_arg_t){"x-overflow", "reject-publish", 0};
        }
    }
    return n;
}

static const char *const main_queues[] = {WC_QUEUE_HIGH, WC_QUEUE_STANDARD, WC_QUEUE_DLQ};
#define MAIN_QUEUE_COUNT (sizeof(main_queues) / sizeof(main_queues[0]))

static int declare_queue(amqp_connection_state_t conn, amqp_channel_t ch, const queue_spec_t *q,
                         const wc_topology_queues_t *queues, char *err, size_t err_len)
{
    queue_arg_t args[MAX_QUEUE_ARGS];
    amqp_table_entry_t entries[MAX_QUEUE_ARGS];
    int n = queue_args(q, queues, args);
    for (int i = 0; i < n; i++) {
        entries[i].key = amqp_cstring_bytes(args[i].key);
        if (args[i].text != NULL) {
            entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
            entries[i].value.value.bytes = amqp_cstring_bytes(args[i].text);
        } else {
            entries[i].value.kind = AMQP_FIELD_KIND_I32;
            entries[i].value.value.i32 = args[i].number;
        }
    }
    amqp_table_t table = {.num_entries = n, .entries = entries};
    amqp_queue_declare(conn, ch, amqp_cstring_bytes(q->name), 0, 1, 0, 0, table);
    char what[128];
    snprintf(what, sizeof(what), "declaring queue %s", q->name);
    return check(conn, what, err, err_len);
}

static int declare_exchange(amqp_connection_state_t conn, amqp_channel_t ch, const char *name,
                            const char *type, char *err, size_t err_len)
{
    amqp_exchange_declare(conn, ch, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0, 1, 0, 0,
                          amqp_empty_table);
    char what[128];
    snprintf(what, sizeof(what), "declaring exchange %s", name);
    return check(conn, what, err, err_len);
}

static int bind_queue(amqp_connection_state_t conn, amqp_channel_t ch, const char *queue,
                      const char *exchange, const char *key, char *err, size_t err_len)
{
    amqp_queue_bind(conn, ch, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes(key), amqp_empty_table);
    char what[160];
    snprintf(what, sizeof(what), "binding %s to %s", queue, exchange);
    return check(conn, what, err, err_len);
}

int wc_topology_declare(amqp_connection_state_t conn, amqp_channel_t ch,
                        const wc_topology_queues_t *queues, char *err, size_t err_len)
{
    if (declare_exchange(conn, ch, WC_EXCHANGE, "direct", err, err_len) != 0) {
        return -1;
    }
    for (size_t i = 0; i < MAIN_QUEUE_COUNT; i++) {
        const queue_spec_t q = {main_queues[i], NULL};
        if (declare_queue(conn, ch, &q, queues, err, err_len) != 0 ||
            bind_queue(conn, ch, q.name, WC_EXCHANGE, q.name, err, err_len) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < wc_delay_tier_count; i++) {
        const queue_spec_t q = {wc_delay_tiers[i].queue, &wc_delay_tiers[i]};
        if (declare_exchange(conn, ch, q.tier->exchange, "fanout", err, err_len) != 0 ||
            declare_queue(conn, ch, &q, queues, err, err_len) != 0 ||
            bind_queue(conn, ch, q.name, q.tier->exchange, "", err, err_len) != 0) {
            return -1;
        }
    }
    return 0;
}

static json_object *definition_exchange(const char *name, const char *type, const char *vhost)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "name", json_object_new_string(name));
    json_object_object_add(e, "vhost", json_object_new_string(vhost));
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_add(e, "durable", json_object_new_boolean(1));
    json_object_object_add(e, "auto_delete", json_object_new_boolean(0));
    json_object_object_add(e, "internal", json_object_new_boolean(0));
    json_object_object_add(e, "arguments", json_object_new_object());
    return e;
}

static json_object *definition_queue(const queue_spec_t *q, const wc_topology_queues_t *queues,
                                     const char *vhost)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "name", json_object_new_string(q->name));
    json_object_object_add(obj, "vhost", json_object_new_string(vhost));
    json_object_object_add(obj, "durable", json_object_new_boolean(1));
    json_object_object_add(obj, "auto_delete", json_object_new_boolean(0));
    json_object *arguments = json_object_new_object();
    queue_arg_t args[MAX_QUEUE_ARGS];
    int n = queue_args(q, queues, args);
    for (int i = 0; i < n; i++) {
        json_object_object_add(arguments, args[i].key,
                               args[i].text != NULL ? json_object_new_string(args[i].text)
                                                    : json_object_new_int(args[i].number));
    }
    json_object_object_add(obj, "arguments", arguments);
    return obj;
}

static json_object *definition_binding(const char *source, const char *queue, const char *key,
                                       const char *vhost)
{
    json_object *b = json_object_new_object();
    json_object_object_add(b, "source", json_object_new_string(source));
    json_object_object_add(b, "vhost", json_object_new_string(vhost));
    json_object_object_add(b, "destination", json_object_new_string(queue));
    json_object_object_add(b, "destination_type", json_object_new_string("queue"));
    json_object_object_add(b, "routing_key", json_object_new_string(key));
    json_object_object_add(b, "arguments", json_object_new_object());
    return b;
}

json_object *wc_topology_definitions(const wc_topology_queues_t *declared, const char *vhost)
{
    json_object *exchanges = json_object_new_array();
    json_object *queues = json_object_new_array();
    json_object *bindings = json_object_new_array();
    json_object_array_add(exchanges, definition_exchange(WC_EXCHANGE, "direct", vhost));
    for (size_t i = 0; i < MAIN_QUEUE_COUNT; i++) {
        const queue_spec_t q = {main_queues[i], NULL};
        json_object_array_add(queues, definition_queue(&q, declared, vhost));
        json_object_array_add(bindings, definition_binding(WC_EXCHANGE, q.name, q.name, vhost));
    }
    for (size_t i = 0; i < wc_delay_tier_count; i++) {
        const queue_spec_t q = {wc_delay_tiers[i].queue, &wc_delay_tiers[i]};
        json_object_array_add(exchanges, definition_exchange(q.tier->exchange, "fanout", vhost));
        json_object_array_add(queues, definition_queue(&q, declared, vhost));
        json_object_array_add(bindings, definition_binding(q.tier->exchange, q.name, "", vhost));
    }
    json_object *defs = json_object_new_object();
    json_object_object_add(defs, "exchanges", exchanges);
    json_object_object_add(defs, "queues", queues);
    json_object_object_add(defs, "bindings", bindings);
    return defs;
}
