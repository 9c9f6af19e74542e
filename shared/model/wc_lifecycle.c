#include "wc_lifecycle.h"

#include <stdint.h>

/* moves[from][to]: the table of wc_lifecycle.h. */
static const bool moves[WC_STATUS_COUNT][WC_STATUS_COUNT] = {
    [WC_STATUS_SCHEDULED] = {[WC_STATUS_PENDING] = true, [WC_STATUS_CANCELLED] = true},
    [WC_STATUS_PENDING] = {[WC_STATUS_QUEUED] = true, [WC_STATUS_PROCESSING] = true,
                           [WC_STATUS_CANCELLED] = true},
    [WC_STATUS_QUEUED] = {[WC_STATUS_PROCESSING] = true, [WC_STATUS_CANCELLED] = true},
    [WC_STATUS_RETRYING] = {[WC_STATUS_PROCESSING] = true, [WC_STATUS_CANCELLED] = true},
    [WC_STATUS_PROCESSING] = {[WC_STATUS_PROCESSING] = true, [WC_STATUS_SENT] = true,
                              [WC_STATUS_RETRYING] = true, [WC_STATUS_FAILED] = true,
                              [WC_STATUS_SUPPRESSED] = true},
    [WC_STATUS_FAILED] = {[WC_STATUS_PENDING] = true},
    [WC_STATUS_SENT] = {0},
    [WC_STATUS_CANCELLED] = {0},
    [WC_STATUS_SUPPRESSED] = {0},
};

static bool in_enum(int status) { return status >= 0 && status < WC_STATUS_COUNT; }

bool wc_status_may_move(wc_status_t from, wc_status_t to)
{
    return in_enum((int)from) && in_enum((int)to) && moves[from][to];
}

size_t wc_status_sources(wc_status_t to, wc_status_t out[WC_STATUS_COUNT])
{
    size_t n = 0;
    for (int from = 0; from < WC_STATUS_COUNT; from++) {
        if (wc_status_may_move((wc_status_t)from, to)) {
            out[n++] = (wc_status_t)from;
        }
    }
    return n;
}

bool wc_status_append_sources(bson_t *filter, const char *key, wc_status_t to)
{
    wc_status_t sources[WC_STATUS_COUNT];
    size_t n = wc_status_sources(to, sources);
    bson_t cond;
    bson_t list;
    bool ok = bson_append_document_begin(filter, key, -1, &cond) &&
              bson_append_array_begin(&cond, "$in", -1, &list);
    for (size_t i = 0; ok && i < n; i++) {
        char buf[16];
        const char *index = NULL;
        bson_uint32_to_string((uint32_t)i, &index, buf, sizeof(buf));
        ok = bson_append_utf8(&list, index, -1, wc_status_name(sources[i]), -1);
    }
    ok = ok && bson_append_array_end(&cond, &list) && bson_append_document_end(filter, &cond);
    return ok;
}
