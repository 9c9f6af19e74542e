/*
 * libFuzzer harness: a POST /api/notifications body, as the API handles it —
 * strict JSON parsing, validation of every channel's rules, and for a valid
 * request the stored document, the API's view of it and the queue message
 * round trip. Any crash, leak or undefined behaviour is a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wc_json.h"
#include "wc_notification.h"
#include "wc_store_trail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    json_object *body = wc_json_parse_strict((const char *)data, size, &why);
    if (body == NULL) {
        return 0;
    }
    /* The first byte decides the deployment's options, so both are explored. */
    const wc_validation_options_t opts = {
        .allow_http_webhooks = size > 0 && (data[0] & 1) != 0,
        .now_ms = 1700000000000LL,
    };
    wc_notification_request_t req;
    wc_field_errors_t errs = {0};
    if (!wc_notification_validate_opts(body, &opts, &req, &errs)) {
        json_object_put(wc_field_errors_to_json(&errs));
        json_object_put(body);
        return 0;
    }
    bson_oid_t id;
    bson_oid_init_from_string(&id, "0123456789abcdef01234567");
    bson_t *doc = wc_notification_new_document(&req, &id, "tenant", 3, "corr", opts.now_ms);
    if (doc != NULL) {
        json_object_put(wc_notification_to_api_json(doc));
        wc_trail_entry_t created[2];
        size_t n = wc_trail_entries_of_new(doc, created);
        if (n == 0) {
            abort(); /* every new document carries its creation's trail */
        }
        bson_destroy(wc_trail_entry_document(&created[n - 1]));
        wc_queue_message_t msg, back;
        if (wc_queue_message_from_document(doc, &msg) == 0) {
            size_t len = 0;
            char *text = wc_queue_message_encode(&msg, &len);
            if (text == NULL || wc_queue_message_decode(text, len, &back, &why) != 0 ||
                memcmp(&msg, &back, sizeof(msg)) != 0) {
                abort(); /* what we encode we must read back unchanged */
            }
            free(text);
        }
        bson_destroy(doc);
    }
    size_t canonical_len = 0;
    free(wc_json_canonical(body, &canonical_len));
    json_object_put(body);
    return 0;
}
