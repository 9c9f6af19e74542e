/*
 * libFuzzer harness: a queue message body as a worker receives it from
 * RabbitMQ. A message that decodes must survive encode + decode unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wc_notification.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_queue_message_t msg, back;
    const char *why = NULL;
    memset(&msg, 0, sizeof(msg));
    if (wc_queue_message_decode((const char *)data, size, &msg, &why) != 0) {
        return 0;
    }
    size_t len = 0;
    char *text = wc_queue_message_encode(&msg, &len);
    if (text == NULL) {
        return 0;
    }
    memset(&back, 0, sizeof(back));
    if (wc_queue_message_decode(text, len, &back, &why) != 0 || memcmp(&msg, &back, sizeof(msg)) != 0) {
        abort();
    }
    free(text);
    return 0;
}
