/*
 * What the dlq commands share: the DLQ message, the filter, the options, and
 * the scan that reads the queue (ctl_dlq_scan.c). ctl_dlq.c parses the
 * commands, lists and shows; ctl_dlq_replay.c replays and purges. Private to
 * wavecomctl.
 */
#ifndef WAVECOM_CTL_DLQ_SCAN_H
#define WAVECOM_CTL_DLQ_SCAN_H

#include <stdint.h>

#include "ctl.h"

/* One DLQ message, decoded as far as it goes. */
typedef struct {
    const amqp_envelope_t *env;
    bool decoded;
    wc_queue_message_t msg;
    bson_oid_t oid;
    char reason[512];
    char attempts[16];
    char failed_at[48];
    int64_t failed_at_ms; /* -1 when the header is missing */
} dlq_item_t;

/* Which messages a command means. */
typedef struct {
    const char *const *ids;
    size_t n_ids;
    const char *tenant;
    const char *endpoint; /* an event endpoint's id: its deliveries only */
    int type; /* a wc_channel_t, or -1 */
    const char *error_text;
    int64_t since_ms; /* failed at or after; -1 for no bound */
    int64_t until_ms; /* failed before; -1 for no bound */
    bool all;
} dlq_filter_t;

/* The options every dlq command shares, in this order. */
enum { O_HELP, O_JSON, O_TENANT, O_TYPE, O_ERROR, O_SINCE, O_UNTIL, O_ALL, O_LIMIT, O_DRY_RUN,
       O_KEEP_ATTEMPTS, O_RATE, O_YES, O_ENDPOINT, O_COUNT };

/* What a visitor decides about one message. */
typedef enum {
    VISIT_KEEP, /* leave it in the DLQ (returned when the scan ends) */
    VISIT_ACK,  /* done with it: remove it from the DLQ */
    VISIT_STOP, /* leave it, and read no further */
    VISIT_FAIL, /* leave it, and fail the command (the visitor said why) */
} visit_t;

typedef visit_t (*visit_fn)(ctl_t *ctl, const dlq_item_t *item, void *arg);

/* Visits each message that was in the DLQ when the scan started and matches
 * `f` (ids, criteria; --all matches all). A message the visitor keeps, and
 * every message that does not match, goes back to the DLQ when the scan's
 * connection closes. Returns 0, CTL_EXIT_INFRA or CTL_EXIT_INTERRUPTED. */
int ctl_dlq_scan(ctl_t *ctl, const dlq_filter_t *f, visit_fn visit, void *arg);

/* True once SIGINT is pending (it is blocked; see ctl.c). */
bool ctl_dlq_interrupted(void);

/* True when `f` has a criterion besides ids and --all. */
bool ctl_dlq_filter_has_criteria(const dlq_filter_t *f);

/* Copies the header `key` of a DLQ message into `out`: its text, or its
 * number; "" when it is absent or of another kind. */
void ctl_dlq_header_copy(const amqp_table_t *headers, const char *key, char *out, size_t len);

#endif
