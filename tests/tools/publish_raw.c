/*
 * publish_raw: publishes one message body, as given, to the WaveCom exchange,
 * with publisher confirms. The poison-message test uses it to put on a queue
 * what the API would never publish.
 *
 * Usage: publish_raw ROUTING_KEY BODY   (broker from WAVECOM_AMQP_URL)
 *        publish_raw ROUTING_KEY -      (the body is read from stdin)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK 65536

/* Reads stdin whole into a new buffer. Returns NULL on failure. */
static char *read_stdin(size_t *len)
{
    size_t cap = READ_CHUNK, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
    }
    *len = n;
    return buf;
}

#include "wc_broker.h"
#include "wc_topology.h"

int main(int argc, char **argv)
{
    const char *url = getenv("WAVECOM_AMQP_URL");
    if (argc != 3 || url == NULL) {
        fprintf(stderr, "usage: WAVECOM_AMQP_URL=amqp://... publish_raw ROUTING_KEY BODY\n");
        return 2;
    }
    const char *queue_type = getenv("WAVECOM_QUEUE_TYPE");
    const wc_broker_options_t opts = {
        .url = url,
        .queue_type = queue_type != NULL ? queue_type : "quorum",
        .name = "publish_raw",
        .confirms = true,
        .timeout_ms = 10000,
    };
    wc_broker_t *broker = wc_broker_new(&opts);
    if (broker == NULL) {
        fprintf(stderr, "publish_raw: out of memory\n");
        return 1;
    }
    char *from_stdin = NULL;
    size_t body_len = strlen(argv[2]);
    if (strcmp(argv[2], "-") == 0 && (from_stdin = read_stdin(&body_len)) == NULL) {
        fprintf(stderr, "publish_raw: cannot read the body from stdin\n");
        wc_broker_free(broker);
        return 1;
    }
    char err[256];
    int rc = 1;
    if (wc_broker_ensure_open(broker, err, sizeof(err)) != 0) {
        fprintf(stderr, "publish_raw: %s\n", err);
    } else {
        const wc_broker_message_t msg = {
            .exchange = WC_EXCHANGE,
            .routing_key = argv[1],
            .body = from_stdin != NULL ? from_stdin : argv[2],
            .body_len = body_len,
        };
        wc_broker_status_t status = wc_broker_publish(broker, &msg);
        if (status == WC_BROKER_OK) {
            rc = 0;
        } else {
            fprintf(stderr, "publish_raw: not confirmed (status %d)\n", (int)status);
        }
    }
    wc_broker_free(broker);
    free(from_stdin);
    return rc;
}
