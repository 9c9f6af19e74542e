#include "wc_broker_nodes.h"

#include <stdio.h>
#include <string.h>

#include <amqp.h>

static const char BLANKS[] = " \t";

/* Copies [start, end) with its surrounding blanks trimmed into out->urls[i]
 * and checks it parses as an AMQP URL. */
static int take_url(const char *start, const char *end, wc_broker_nodes_t *out, size_t i,
                    char *err, size_t err_len)
{
    while (start < end && strchr(BLANKS, *start) != NULL) {
        start++;
    }
    while (end > start && strchr(BLANKS, end[-1]) != NULL) {
        end--;
    }
    size_t len = (size_t)(end - start);
    if (len == 0) {
        snprintf(err, err_len, "URL %zu of the list is empty", i + 1);
        return -1;
    }
    if (len >= WC_BROKER_NODE_URL_MAX) {
        snprintf(err, err_len, "URL %zu of the list is longer than %d characters", i + 1,
                 WC_BROKER_NODE_URL_MAX - 1);
        return -1;
    }
    memcpy(out->urls[i], start, len);
    out->urls[i][len] = '\0';
    if (strncmp(out->urls[i], "amqp://", 7) != 0 && strncmp(out->urls[i], "amqps://", 8) != 0) {
        snprintf(err, err_len, "URL %zu of the list must start with amqp:// or amqps://", i + 1);
        return -1;
    }
    /* amqp_parse_url writes into its argument. */
    char scratch[WC_BROKER_NODE_URL_MAX];
    memcpy(scratch, out->urls[i], len + 1);
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(scratch, &info) != AMQP_STATUS_OK) {
        snprintf(err, err_len, "URL %zu of the list is not a valid amqp:// URL", i + 1);
        return -1;
    }
    return 0;
}

int wc_broker_nodes_parse(const char *list, wc_broker_nodes_t *out, char *err, size_t err_len)
{
    out->count = 0;
    const char *start = list;
    for (;;) {
        const char *comma = strchr(start, ',');
        const char *end = comma != NULL ? comma : start + strlen(start);
        if (out->count == WC_BROKER_NODES_MAX) {
            snprintf(err, err_len, "more than %d URLs", WC_BROKER_NODES_MAX);
            out->count = 0;
            return -1;
        }
        if (take_url(start, end, out, out->count, err, err_len) != 0) {
            out->count = 0;
            return -1;
        }
        out->count++;
        if (comma == NULL) {
            return 0;
        }
        start = comma + 1;
    }
}

size_t wc_broker_nodes_first(size_t count, unsigned long spread)
{
    return count == 0 ? 0 : (size_t)(spread % count);
}

size_t wc_broker_nodes_next(size_t count, size_t current)
{
    return count == 0 ? 0 : (current + 1) % count;
}
