#include "wc_broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "wc_broker_nodes.h"
#include "wc_log.h"
#include "wc_time.h"
#include "wc_topology.h"

#define CHANNEL 1
#define MAX_HEADERS 16

struct wc_broker {
    wc_broker_nodes_t *nodes; /* the cluster's nodes, from the URL list */
    size_t node;              /* the one connected to, or to try first */
    char peer[300];           /* host:port of the open connection, for the log */
    char *queue_type;
    int quorum_group_size;
    char *name;
    bool confirms;
    int heartbeat_seconds;
    int timeout_ms;
    int64_t deadline_ms; /* monotonic; no wait goes past it; 0 for none */

    amqp_connection_state_t conn; /* NULL while closed */
    uint64_t next_publish_tag;    /* delivery tag the broker gives the next publish */
};

wc_broker_t *wc_broker_new(const wc_broker_options_t *opts)
{
    wc_broker_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->nodes = malloc(sizeof(*b->nodes));
    b->queue_type = strdup(opts->queue_type);
    b->name = strdup(opts->name);
    if (b->nodes == NULL || b->queue_type == NULL || b->name == NULL) {
        wc_broker_free(b);
        return NULL;
    }
    char err[256];
    if (wc_broker_nodes_parse(opts->url, b->nodes, err, sizeof(err)) != 0) {
        wc_log_error("WAVECOM_AMQP_URL: %s", err);
        wc_broker_free(b);
        return NULL;
    }
    /* Each process starts at a node of its own: the pid spreads the API's
     * and every worker child's connections over the cluster. */
    b->node = wc_broker_nodes_first(b->nodes->count, (unsigned long)getpid());
    b->quorum_group_size = opts->quorum_group_size;
    b->confirms = opts->confirms;
    b->heartbeat_seconds = opts->heartbeat_seconds;
    b->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    return b;
}

void wc_broker_free(wc_broker_t *b)
{
    if (b == NULL) {
        return;
    }
    wc_broker_close(b);
    free(b->nodes);
    free(b->queue_type);
    free(b->name);
    free(b);
}

bool wc_broker_is_open(const wc_broker_t *b) { return b->conn != NULL; }

void wc_broker_close(wc_broker_t *b)
{
    if (b->conn == NULL) {
        return;
    }
    /* Polite close first; destroy regardless (the peer may be gone). */
    amqp_channel_close(b->conn, CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(b->conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(b->conn);
    b->conn = NULL;
}

static struct timeval ms_to_timeval(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* The longest the next wait may take: the timeout, or less when the caller's
 * deadline (wc_broker_set_deadline) is nearer. At least 1 ms, so a wait past
 * the deadline fails at once instead of never being tried. */
static int wait_bound_ms(const wc_broker_t *b)
{
    if (b->deadline_ms == 0) {
        return b->timeout_ms;
    }
    int64_t left = b->deadline_ms - wc_time_monotonic_ms();
    if (left < 1) {
        return 1;
    }
    return left < b->timeout_ms ? (int)left : b->timeout_ms;
}

void wc_broker_set_deadline(wc_broker_t *b, int64_t deadline_ms)
{
    b->deadline_ms = deadline_ms;
}

/* rabbitmq-c writes a publish with no deadline: a broker that stops reading
 * (a resource alarm blocks the connection) would hold the writer for ever
 * once the socket buffers fill. The kernel ends such a connection instead
 * when sent data stays unacknowledged, or unsent behind a zero window, for
 * twice the broker timeout; the write then fails like any lost connection. */
static void bound_unacknowledged_data(int fd, int timeout_ms)
{
    unsigned int user_timeout_ms = (unsigned int)timeout_ms * 2;
    if (fd < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms)) != 0) {
        wc_log_warn("cannot bound the AMQP socket's unacknowledged data (TCP_USER_TIMEOUT)");
    }
}

static int fail_open(wc_broker_t *b, char *err, size_t err_len, const char *what,
                     amqp_rpc_reply_t reply)
{
    char why[256];
    wc_amqp_reply_describe(reply, why, sizeof(why));
    snprintf(err, err_len, "%s: %.160s", what, why);
    amqp_destroy_connection(b->conn);
    b->conn = NULL;
    return -1;
}

/* Opens the connection to the node `b->node`. Returns 0 or -1 with `err`. */
static int open_node(wc_broker_t *b, char *err, size_t err_len)
{
    /* amqp_parse_url writes into its argument. */
    char url[WC_BROKER_NODE_URL_MAX];
    snprintf(url, sizeof(url), "%s", b->nodes->urls[b->node]);
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
        snprintf(err, err_len, "WAVECOM_AMQP_URL is not a valid amqp:// URL");
        return -1;
    }
    snprintf(b->peer, sizeof(b->peer), "%s:%d", info.host, info.port);
    const char *vhost = info.vhost[0] == '\0' ? "/" : info.vhost;

    b->conn = amqp_new_connection();
    if (b->conn == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    amqp_socket_t *sock = info.ssl ? amqp_ssl_socket_new(b->conn) : amqp_tcp_socket_new(b->conn);
    if (sock == NULL) {
        amqp_destroy_connection(b->conn);
        b->conn = NULL;
        snprintf(err, err_len, "cannot create a socket");
        return -1;
    }
    struct timeval timeout = ms_to_timeval(wait_bound_ms(b));
    int rc = amqp_socket_open_noblock(sock, info.host, info.port, &timeout);
    if (rc != AMQP_STATUS_OK) {
        snprintf(err, err_len, "connecting to %s:%d: %s", info.host, info.port,
                 amqp_error_string2(rc));
        amqp_destroy_connection(b->conn);
        b->conn = NULL;
        return -1;
    }
    amqp_set_handshake_timeout(b->conn, &timeout);
    amqp_set_rpc_timeout(b->conn, &timeout);
    bound_unacknowledged_data(amqp_get_sockfd(b->conn), b->timeout_ms);

    /* Asking for connection.blocked lets a publisher fail at once when a
     * memory or disk alarm stops publishes, instead of at the confirm timeout. */
    amqp_table_entry_t capabilities[1] = {
        {.key = amqp_cstring_bytes("connection.blocked"),
         .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value.boolean = 1}},
    };
    amqp_table_entry_t props[2] = {
        {.key = amqp_cstring_bytes("connection_name"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(b->name)}},
        {.key = amqp_cstring_bytes("capabilities"),
         .value = {.kind = AMQP_FIELD_KIND_TABLE,
                   .value.table = {.num_entries = 1, .entries = capabilities}}},
    };
    amqp_table_t client_props = {.num_entries = 2, .entries = props};
    amqp_rpc_reply_t reply =
        amqp_login_with_properties(b->conn, vhost, 0, 131072, b->heartbeat_seconds, &client_props,
                                   AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        return fail_open(b, err, err_len, "logging in to RabbitMQ", reply);
    }
    amqp_channel_open(b->conn, CHANNEL);
    reply = amqp_get_rpc_reply(b->conn);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        return fail_open(b, err, err_len, "opening a channel", reply);
    }
    const wc_topology_queues_t queues = {b->queue_type, b->quorum_group_size};
    if (wc_topology_declare(b->conn, CHANNEL, &queues, err, err_len) != 0) {
        amqp_destroy_connection(b->conn);
        b->conn = NULL;
        return -1;
    }
    if (b->confirms) {
        amqp_confirm_select(b->conn, CHANNEL);
        reply = amqp_get_rpc_reply(b->conn);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            return fail_open(b, err, err_len, "enabling publisher confirms", reply);
        }
    }
    b->next_publish_tag = 1;
    /* The connection outlives the caller's deadline: later RPCs get the
     * whole timeout. */
    struct timeval rpc_timeout = ms_to_timeval(b->timeout_ms);
    amqp_set_rpc_timeout(b->conn, &rpc_timeout);
    return 0;
}

int wc_broker_ensure_open(wc_broker_t *b, char *err, size_t err_len)
{
    if (b->conn != NULL) {
        return 0;
    }
    /* Every node once, from the current one on; the caller backs off when
     * none answers. */
    for (size_t tried = 0; tried < b->nodes->count; tried++) {
        char why[256];
        if (open_node(b, why, sizeof(why)) == 0) {
            wc_log_info("RabbitMQ connection %s open to node %s", b->name, b->peer);
            return 0;
        }
        if (b->nodes->count == 1) {
            snprintf(err, err_len, "%s", why);
            return -1;
        }
        wc_log_warn("RabbitMQ node %s refused connection %s: %s", b->peer, b->name, why);
        snprintf(err, err_len, "no RabbitMQ node of %zu could be used; the last: %s",
                 b->nodes->count, why);
        b->node = wc_broker_nodes_next(b->nodes->count, b->node);
    }
    return -1;
}

const char *wc_broker_peer(const wc_broker_t *b)
{
    return b->conn != NULL ? b->peer : "";
}

/* The broker failed us: nothing on this connection can be trusted any more. */
static wc_broker_status_t broken(wc_broker_t *b, const char *why)
{
    wc_log_warn("RabbitMQ connection %s to node %s lost: %s", b->name, b->peer, why);
    if (b->conn != NULL) {
        amqp_destroy_connection(b->conn);
        b->conn = NULL;
    }
    /* The node may be the one that failed: the next attempt starts at the
     * next node of the list. */
    b->node = wc_broker_nodes_next(b->nodes->count, b->node);
    return WC_BROKER_ERROR;
}

wc_broker_status_t wc_broker_publish(wc_broker_t *b, const wc_broker_message_t *msg)
{
    wc_broker_status_t status;
    return wc_broker_publish_batch(b, msg, 1, &status);
}

int wc_broker_consume(wc_broker_t *b, const char *queue, int prefetch, char *err, size_t err_len)
{
    if (b->conn == NULL) {
        snprintf(err, err_len, "not connected");
        return -1;
    }
    /* Prefetch applies to each consumer on the channel (global=false). */
    amqp_basic_qos(b->conn, CHANNEL, 0, (uint16_t)prefetch, 0);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(b->conn);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
        amqp_basic_consume(b->conn, CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                           amqp_empty_table);
        reply = amqp_get_rpc_reply(b->conn);
    }
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        char why[256];
        wc_amqp_reply_describe(reply, why, sizeof(why));
        snprintf(err, err_len, "consuming %s: %s", queue, why);
        broken(b, why);
        return -1;
    }
    return 0;
}

int wc_broker_next(wc_broker_t *b, int timeout_ms, amqp_envelope_t *env)
{
    if (b->conn == NULL) {
        return -1;
    }
    amqp_maybe_release_buffers(b->conn);
    struct timeval tv = ms_to_timeval(timeout_ms);
    amqp_rpc_reply_t reply = amqp_consume_message(b->conn, env, &tv, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
        return 1;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT) {
        return 0;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        /* A method other than a delivery: the broker cancelled us or closed. */
        amqp_frame_t frame;
        if (amqp_simple_wait_frame_noblock(b->conn, &frame, &tv) == AMQP_STATUS_OK &&
            frame.frame_type == AMQP_FRAME_METHOD &&
            (frame.payload.method.id == AMQP_BASIC_ACK_METHOD)) {
            return 0; /* a stray confirm; harmless */
        }
        broken(b, "unexpected frame while consuming (consumer cancelled or channel closed)");
        return -1;
    }
    char why[256];
    wc_amqp_reply_describe(reply, why, sizeof(why));
    broken(b, why);
    return -1;
}

int wc_broker_ack(wc_broker_t *b, uint64_t delivery_tag)
{
    if (b->conn == NULL) {
        return -1;
    }
    int rc = amqp_basic_ack(b->conn, CHANNEL, delivery_tag, 0);
    if (rc != AMQP_STATUS_OK) {
        broken(b, amqp_error_string2(rc));
        return -1;
    }
    return 0;
}

int wc_broker_reject(wc_broker_t *b, uint64_t delivery_tag, bool requeue)
{
    if (b->conn == NULL) {
        return -1;
    }
    int rc = amqp_basic_reject(b->conn, CHANNEL, delivery_tag, requeue);
    if (rc != AMQP_STATUS_OK) {
        broken(b, amqp_error_string2(rc));
        return -1;
    }
    return 0;
}

int wc_broker_fd(const wc_broker_t *b)
{
    return b->conn != NULL ? amqp_get_sockfd(b->conn) : -1;
}

bool wc_broker_has_buffered(const wc_broker_t *b)
{
    return b->conn != NULL && (amqp_data_in_buffer(b->conn) || amqp_frames_enqueued(b->conn));
}

int wc_broker_queue_stats(wc_broker_t *b, const char *queue, long *messages, long *consumers)
{
    if (b->conn == NULL) {
        return -1;
    }
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(b->conn, CHANNEL, amqp_cstring_bytes(queue),
                                                     1, 0, 0, 0, amqp_empty_table);
    if (ok == NULL) {
        broken(b, "passive declare failed");
        return -1;
    }
    *messages = (long)ok->message_count;
    *consumers = (long)ok->consumer_count;
    return 0;
}

long wc_broker_queue_depth(wc_broker_t *b, const char *queue)
{
    long messages = 0, consumers = 0;
    return wc_broker_queue_stats(b, queue, &messages, &consumers) == 0 ? messages : -1;
}

/* ---- Batched confirms (intake API) ---- */

/* Publishes one persistent, mandatory message without waiting for its
 * confirm. Returns an AMQP status. */
static int publish_unconfirmed(wc_broker_t *b, const wc_broker_message_t *msg)
{
    amqp_table_entry_t entries[MAX_HEADERS];
    for (size_t i = 0; i < msg->header_count; i++) {
        entries[i].key = amqp_cstring_bytes(msg->headers[i].key);
        entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[i].value.value.bytes = amqp_cstring_bytes(msg->headers[i].value);
    }
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_TIMESTAMP_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.timestamp = (uint64_t)(wc_time_now_ms() / 1000);
    if (msg->message_id != NULL) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = amqp_cstring_bytes(msg->message_id);
    }
    if (msg->correlation_id != NULL && msg->correlation_id[0] != '\0') {
        props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = amqp_cstring_bytes(msg->correlation_id);
    }
    if (msg->header_count > 0) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers.num_entries = (int)msg->header_count;
        props.headers.entries = entries;
    }
    amqp_bytes_t body = {.len = msg->body_len, .bytes = (void *)msg->body};
    return amqp_basic_publish(b->conn, CHANNEL, amqp_cstring_bytes(msg->exchange),
                              amqp_cstring_bytes(msg->routing_key), 1, 0, &props, body);
}

/* The settling state of one batch: which messages the broker has answered. */
typedef struct {
    const wc_broker_message_t *msgs;
    wc_broker_status_t *statuses;
    bool *settled;
    bool *returned;
    size_t n;
    size_t low;       /* every index below is settled */
    size_t unsettled; /* how many are not */
    uint64_t first_tag;
} batch_state_t;

static void settle(batch_state_t *st, uint64_t tag, bool multiple, bool ack)
{
    if (tag < st->first_tag) {
        return; /* not ours (none can be: a timed-out batch closes the connection) */
    }
    size_t last = (size_t)(tag - st->first_tag);
    if (last >= st->n) {
        last = st->n - 1;
    }
    size_t from = multiple ? st->low : last;
    for (size_t i = from; i <= last; i++) {
        if (st->settled[i]) {
            continue;
        }
        st->settled[i] = true;
        st->unsettled--;
        st->statuses[i] = !ack ? WC_BROKER_NACKED
                               : (st->returned[i] ? WC_BROKER_UNROUTABLE : WC_BROKER_OK);
    }
    while (st->low < st->n && st->settled[st->low]) {
        st->low++;
    }
}

/* A basic.return: marks the message it names (by message_id) unroutable-to-be. */
static int note_returned(wc_broker_t *b, batch_state_t *st, amqp_channel_t channel)
{
    amqp_message_t message;
    amqp_rpc_reply_t reply = amqp_read_message(b->conn, channel, &message, 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        return -1;
    }
    if (st->n == 1) {
        st->returned[0] = true; /* a batch of one needs no id to match */
    } else if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        amqp_bytes_t id = message.properties.message_id;
        for (size_t i = st->low; i < st->n; i++) {
            if (!st->settled[i] && strlen(st->msgs[i].message_id) == id.len &&
                memcmp(st->msgs[i].message_id, id.bytes, id.len) == 0) {
                st->returned[i] = true;
                break;
            }
        }
    }
    amqp_destroy_message(&message);
    return 0;
}

static wc_broker_status_t await_batch(wc_broker_t *b, batch_state_t *st)
{
    int64_t deadline = wc_time_monotonic_ms() + wait_bound_ms(b);
    while (st->unsettled > 0) {
        int64_t left = deadline - wc_time_monotonic_ms();
        if (left <= 0) {
            return broken(b, "timed out waiting for publisher confirms");
        }
        struct timeval tv = ms_to_timeval((int)left);
        amqp_frame_t frame;
        int rc = amqp_simple_wait_frame_noblock(b->conn, &frame, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) {
            continue;
        }
        if (rc != AMQP_STATUS_OK) {
            return broken(b, amqp_error_string2(rc));
        }
        if (frame.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const amqp_basic_ack_t *ack = frame.payload.method.decoded;
            settle(st, ack->delivery_tag, ack->multiple, true);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const amqp_basic_nack_t *nack = frame.payload.method.decoded;
            settle(st, nack->delivery_tag, nack->multiple, false);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD:
            if (note_returned(b, st, frame.channel) != 0) {
                return broken(b, "reading a returned message");
            }
            break;
        case AMQP_CONNECTION_BLOCKED_METHOD:
            /* The broker stopped reading our publishes. Waiting out the
             * alarm would hold the caller; the unsettled stay unknown. */
            broken(b, "publishes blocked by the broker (memory or disk alarm)");
            return WC_BROKER_BLOCKED;
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            return broken(b, "closed by the broker while publishing");
        default:
            break;
        }
    }
    return WC_BROKER_OK;
}

wc_broker_status_t wc_broker_publish_batch(wc_broker_t *b, const wc_broker_message_t *msgs,
                                           size_t n, wc_broker_status_t *statuses)
{
    for (size_t i = 0; i < n; i++) {
        statuses[i] = WC_BROKER_ERROR;
    }
    if (n == 0) {
        return WC_BROKER_OK;
    }
    if (b->conn == NULL) {
        return WC_BROKER_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].header_count > MAX_HEADERS || (msgs[i].message_id == NULL && n > 1)) {
            return WC_BROKER_ERROR;
        }
    }
    batch_state_t st = {.msgs = msgs, .statuses = statuses, .n = n, .unsettled = n,
                        .first_tag = b->next_publish_tag};
    st.settled = calloc(n, sizeof(bool));
    st.returned = calloc(n, sizeof(bool));
    wc_broker_status_t result = WC_BROKER_ERROR;
    if (st.settled == NULL || st.returned == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = publish_unconfirmed(b, &msgs[i]);
        if (rc != AMQP_STATUS_OK) {
            broken(b, amqp_error_string2(rc));
            goto out;
        }
        b->next_publish_tag++;
    }
    if (!b->confirms) {
        for (size_t i = 0; i < n; i++) {
            statuses[i] = WC_BROKER_OK;
        }
        result = WC_BROKER_OK;
        goto out;
    }
    wc_broker_status_t settled = await_batch(b, &st);
    if (settled != WC_BROKER_OK) {
        for (size_t i = 0; i < n; i++) {
            if (!st.settled[i]) {
                statuses[i] = settled; /* ERROR or BLOCKED: the outcome is unknown */
            }
        }
        result = settled;
        goto out;
    }
    result = WC_BROKER_OK;
    for (size_t i = 0; i < n && result == WC_BROKER_OK; i++) {
        result = statuses[i];
    }
    if (result == WC_BROKER_NACKED) {
        /* A channel that opened while a quorum queue's leader was dying can
         * go on nacking every publish to it after a new leader is elected
         * (seen with RabbitMQ 3.10 in a 3-node cluster: a minute of nacks on
         * a connection opened 23 ms after the leader's node was killed; with
         * a new connection after each nack they ended within a second). The
         * next publish gets a new connection, on the same node. */
        wc_log_warn("RabbitMQ connection %s to node %s: publishes nacked; reconnecting",
                    b->name, b->peer);
        wc_broker_close(b);
    }
out:
    free(st.settled);
    free(st.returned);
    return result;
}
