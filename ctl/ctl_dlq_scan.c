/*
 * Reading the dead-letter queue, for every wavecomctl dlq command: a consumer
 * with manual acks and no prefetch bound takes each message that was there
 * when the command started, once. A message the command acts on is acked only
 * after the action is durable; every other message stays unacked until the
 * connection closes, when the broker puts it back. So listing, --dry-run and a
 * filter that matches nothing leave the queue exactly as it was, and a command
 * that dies anywhere loses nothing.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl_dlq_scan.h"
#include "wc_signals.h"
#include "wc_time.h"
#include "wc_topology.h"

#define DLQ_IDLE_MS 2000 /* no delivery this long: the queue held less than counted */

/* ---- one DLQ message ---- */

void ctl_dlq_header_copy(const amqp_table_t *headers, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    for (int i = 0; i < headers->num_entries; i++) {
        const amqp_table_entry_t *e = &headers->entries[i];
        if (e->key.len != strlen(key) || memcmp(e->key.bytes, key, e->key.len) != 0) {
            continue;
        }
        if (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES) {
            snprintf(out, len, "%.*s", (int)e->value.value.bytes.len,
                     (const char *)e->value.value.bytes.bytes);
        } else if (e->value.kind == AMQP_FIELD_KIND_I32) {
            snprintf(out, len, "%d", (int)e->value.value.i32);
        } else if (e->value.kind == AMQP_FIELD_KIND_I64) {
            snprintf(out, len, "%lld", (long long)e->value.value.i64);
        }
        return;
    }
}

static void item_init(dlq_item_t *item, const amqp_envelope_t *env)
{
    memset(item, 0, sizeof(*item));
    item->env = env;
    const char *why = NULL;
    item->decoded = wc_queue_message_decode(env->message.body.bytes, env->message.body.len,
                                            &item->msg, &why) == 0 &&
                    ctl_parse_oid(item->msg.notification_id, &item->oid);
    const amqp_basic_properties_t *p = &env->message.properties;
    if ((p->_flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
        const amqp_table_t *h = &p->headers;
        ctl_dlq_header_copy(h, "x-wavecom-reason", item->reason, sizeof(item->reason));
        ctl_dlq_header_copy(h, "x-wavecom-attempts", item->attempts, sizeof(item->attempts));
        ctl_dlq_header_copy(h, "x-wavecom-failed-at", item->failed_at, sizeof(item->failed_at));
    }
    if (item->failed_at[0] == '\0' || wc_time_parse_iso8601(item->failed_at, &item->failed_at_ms) != 0) {
        item->failed_at_ms = -1;
    }
}

/* ---- which messages a command means ---- */

static bool filter_matches(const dlq_filter_t *f, const dlq_item_t *item)
{
    if (!item->decoded) {
        /* An undecodable message names no notification: only --all or an
         * unfiltered list reaches it, and replay leaves it where it is. */
        return f->n_ids == 0 && !ctl_dlq_filter_has_criteria(f);
    }
    if (f->n_ids > 0) {
        bool named = false;
        for (size_t i = 0; i < f->n_ids && !named; i++) {
            named = strcmp(f->ids[i], item->msg.notification_id) == 0;
        }
        if (!named) {
            return false;
        }
    }
    if (f->tenant != NULL && strcmp(f->tenant, item->msg.tenant_id) != 0) {
        return false;
    }
    if (f->endpoint != NULL && strcmp(f->endpoint, item->msg.endpoint_id) != 0) {
        return false;
    }
    if (f->type >= 0 && (int)item->msg.type != f->type) {
        return false;
    }
    if (f->error_text != NULL && strstr(item->reason, f->error_text) == NULL) {
        return false;
    }
    if (f->since_ms >= 0 && (item->failed_at_ms < 0 || item->failed_at_ms < f->since_ms)) {
        return false;
    }
    if (f->until_ms >= 0 && (item->failed_at_ms < 0 || item->failed_at_ms >= f->until_ms)) {
        return false;
    }
    return true;
}

bool ctl_dlq_filter_has_criteria(const dlq_filter_t *f)
{
    return f->tenant != NULL || f->endpoint != NULL || f->type >= 0 || f->error_text != NULL ||
           f->since_ms >= 0 || f->until_ms >= 0;
}

/* ---- reading the queue ---- */

/* SIGINT is blocked (main, before any thread exists) and looked for between
 * messages, so it can never cut a step of a replay in half, nor interrupt a
 * socket call; it waits on the wake-up descriptor (shared/util/wc_signals.h). */
bool ctl_dlq_interrupted(void)
{
    wc_signals_collect();
    return wc_signals_arrived(SIGINT);
}

/* Waits for the next delivery, up to DLQ_IDLE_MS, or until SIGINT. Returns 1
 * with *env, 0 when idle or interrupted, -1 when the connection failed. */
static int next_delivery(wc_broker_t *consumer, amqp_envelope_t *env)
{
    int64_t deadline = wc_time_monotonic_ms() + DLQ_IDLE_MS;
    for (;;) {
        if (ctl_dlq_interrupted()) {
            return 0;
        }
        int rc = wc_broker_next(consumer, 0, env);
        int64_t left = deadline - wc_time_monotonic_ms();
        if (rc != 0 || left <= 0) {
            return rc;
        }
        if (wc_broker_has_buffered(consumer)) {
            continue; /* a frame that was not a delivery; the next may be */
        }
        struct pollfd pfd[2] = {{.fd = wc_broker_fd(consumer), .events = POLLIN},
                                {.fd = wc_signals_fd(), .events = POLLIN}};
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR) {
            return -1;
        }
    }
}

int ctl_dlq_scan(ctl_t *ctl, const dlq_filter_t *f, visit_fn visit, void *arg)
{
    wc_broker_t *consumer = ctl_broker(ctl, false);
    if (consumer == NULL) {
        return CTL_EXIT_INFRA;
    }
    long depth = wc_broker_queue_depth(consumer, WC_QUEUE_DLQ);
    char err[512];
    if (depth < 0) {
        ctl_error("could not read the depth of %s", WC_QUEUE_DLQ);
        return CTL_EXIT_INFRA;
    }
    if (depth > 0 && wc_broker_consume(consumer, WC_QUEUE_DLQ, 0, err, sizeof(err)) != 0) {
        ctl_error("%s", err);
        return CTL_EXIT_INFRA;
    }
    int rc = 0;
    for (long seen = 0; seen < depth && rc == 0; seen++) {
        amqp_envelope_t env;
        int got = next_delivery(consumer, &env);
        if (got < 0) {
            ctl_error("lost the broker connection while reading %s", WC_QUEUE_DLQ);
            rc = CTL_EXIT_INFRA;
            break;
        }
        if (got == 0) {
            break;
        }
        dlq_item_t item;
        item_init(&item, &env);
        visit_t v = filter_matches(f, &item) ? visit(ctl, &item, arg) : VISIT_KEEP;
        if (v == VISIT_ACK && wc_broker_ack(consumer, env.delivery_tag) != 0) {
            ctl_error("could not ack a DLQ message; a rerun will find it and settle it");
            rc = CTL_EXIT_INFRA;
        } else if (v == VISIT_FAIL) {
            rc = CTL_EXIT_INFRA;
        }
        amqp_destroy_envelope(&env);
        if (v == VISIT_STOP) {
            break;
        }
    }
    if (rc == 0 && ctl_dlq_interrupted()) {
        rc = CTL_EXIT_INTERRUPTED;
    }
    /* Closing returns every message left unacked to the queue. */
    wc_broker_close(consumer);
    return rc;
}
