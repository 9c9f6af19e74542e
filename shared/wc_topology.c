#include "wc_topology.h"

#include <stdio.h>
#include <string.h>

#include <amqp_framing.h>

/* The seed's backoff: 5 s, 25 s, 125 s. */
const wc_retry_tier_t wc_retry_tiers[] = {
    {5, "wavecom.retry.5s", "retry.5s"},
    {25, "wavecom.retry.25s", "retry.25s"},
    {125, "wavecom.retry.125s", "retry.125s"},
};
const size_t wc_retry_tier_count = sizeof(wc_retry_tiers) / sizeof(wc_retry_tiers[0]);

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

#define MAX_QUEUE_ARGS 5

static int declare_queue(amqp_connection_state_t conn, amqp_channel_t ch, const char *name,
                         const char *queue_type, const wc_retry_tier_t *tier, char *err,
                         size_t err_len)
{
    amqp_table_entry_t entries[MAX_QUEUE_ARGS];
    int n = 0;
    entries[n].key = amqp_cstring_bytes("x-queue-type");
    entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[n++].value.value.bytes = amqp_cstring_bytes(queue_type);
    if (tier != NULL) {
        entries[n].key = amqp_cstring_bytes("x-message-ttl");
        entries[n].value.kind = AMQP_FIELD_KIND_I32;
        entries[n++].value.value.i32 = tier->seconds * 1000;
        entries[n].key = amqp_cstring_bytes("x-dead-letter-exchange");
        entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[n++].value.value.bytes = amqp_cstring_bytes(WC_EXCHANGE);
        if (strcmp(queue_type, "quorum") == 0) {
            /* Quorum queues dead-letter at-most-once unless asked; a retry
             * that expires while the broker fails would otherwise be lost. */
            entries[n].key = amqp_cstring_bytes("x-dead-letter-strategy");
            entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
            entries[n++].value.value.bytes = amqp_cstring_bytes("at-least-once");
            entries[n].key = amqp_cstring_bytes("x-overflow");
            entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
            entries[n++].value.value.bytes = amqp_cstring_bytes("reject-publish");
        }
    }
    amqp_table_t args = {.num_entries = n, .entries = entries};
    amqp_queue_declare(conn, ch, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
    char what[128];
    snprintf(what, sizeof(what), "declaring queue %s", name);
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

int wc_topology_declare(amqp_connection_state_t conn, amqp_channel_t ch, const char *queue_type,
                        char *err, size_t err_len)
{
    static const char *const main_queues[] = {WC_QUEUE_HIGH, WC_QUEUE_STANDARD, WC_QUEUE_DLQ};

    if (declare_exchange(conn, ch, WC_EXCHANGE, "direct", err, err_len) != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(main_queues) / sizeof(main_queues[0]); i++) {
        if (declare_queue(conn, ch, main_queues[i], queue_type, NULL, err, err_len) != 0 ||
            bind_queue(conn, ch, main_queues[i], WC_EXCHANGE, main_queues[i], err, err_len) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < wc_retry_tier_count; i++) {
        const wc_retry_tier_t *tier = &wc_retry_tiers[i];
        if (declare_exchange(conn, ch, tier->exchange, "fanout", err, err_len) != 0 ||
            declare_queue(conn, ch, tier->queue, queue_type, tier, err, err_len) != 0 ||
            bind_queue(conn, ch, tier->queue, tier->exchange, "", err, err_len) != 0) {
            return -1;
        }
    }
    return 0;
}
