#include "wc_publish.h"

#include <stdlib.h>
#include <string.h>

#include "wc_topology.h"

int wc_publish_prepare(wc_publish_t *out, const wc_queue_message_t *msg, const char *exchange,
                       const char *routing_key)
{
    memset(out, 0, sizeof(*out));
    out->queue = *msg;
    out->body = wc_queue_message_encode(msg, &out->body_len);
    if (out->body == NULL) {
        return -1;
    }
    out->exchange = exchange != NULL ? exchange : WC_EXCHANGE;
    out->routing_key = routing_key != NULL ? routing_key : wc_priority_routing_key(msg->priority);
    return 0;
}

int wc_publish_prepare_document(wc_publish_t *out, const bson_t *doc)
{
    wc_queue_message_t msg;
    if (wc_queue_message_from_document(doc, &msg) != 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return wc_publish_prepare(out, &msg, NULL, NULL);
}

wc_broker_message_t wc_publish_broker_message(const wc_publish_t *p,
                                              const wc_broker_header_t *headers,
                                              size_t header_count)
{
    return (wc_broker_message_t){
        .exchange = p->exchange,
        .routing_key = p->routing_key,
        .body = p->body,
        .body_len = p->body_len,
        .message_id = p->queue.notification_id,
        .correlation_id = p->queue.correlation_id,
        .headers = headers,
        .header_count = header_count,
    };
}

void wc_publish_release(wc_publish_t *p)
{
    free(p->body);
    p->body = NULL;
    p->body_len = 0;
}

wc_broker_status_t wc_publish_queue_message(const wc_queue_message_t *msg, const char *exchange,
                                            const char *routing_key,
                                            const wc_broker_header_t *headers,
                                            size_t header_count, wc_publish_fn publish,
                                            void *publisher)
{
    wc_publish_t p;
    if (wc_publish_prepare(&p, msg, exchange, routing_key) != 0) {
        return WC_BROKER_ERROR;
    }
    const wc_broker_message_t m = wc_publish_broker_message(&p, headers, header_count);
    wc_broker_status_t status = publish(publisher, &m);
    wc_publish_release(&p);
    return status;
}

wc_broker_status_t wc_publish_document(const bson_t *doc, wc_publish_fn publish, void *publisher)
{
    wc_queue_message_t msg;
    if (wc_queue_message_from_document(doc, &msg) != 0) {
        return WC_BROKER_ERROR;
    }
    return wc_publish_queue_message(&msg, NULL, NULL, NULL, 0, publish, publisher);
}

wc_broker_status_t wc_publish_with_broker(void *publisher, const wc_broker_message_t *msg)
{
    return wc_broker_publish(publisher, msg);
}
