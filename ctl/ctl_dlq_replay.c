/*
 * wavecomctl dlq replay and dlq purge.
 *
 * Replay of one message, in this order (docs/OPERATIONS.md, "Operating: wavecomctl"):
 *   1. the document FAILED -> QUEUED, in one findAndModify with its audit
 *      entry (retryCount reset unless --keep-attempts);
 *   2. the message published to its own priority queue, confirmed;
 *   3. the DLQ message acked.
 * A rerun after a crash between the steps finds the document QUEUED and
 * publishes again (the worker's claim makes a second copy harmless); a
 * document that is live or settled elsewhere (SENT, CANCELLED, PROCESSING,
 * ...) only has its stale DLQ copy acked. The DLQ is read by ctl_dlq_scan
 * (ctl_dlq.c), which acks nothing a visitor here did not ask it to.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_dlq_replay.h"
#include "wc_signals.h"
#include "wc_time.h"
#include "wc_store_ops.h"
#include "wc_publish.h"


/* ---- dlq replay and purge ---- */

/* replay and purge act on ids, or a filter, or --all: exactly one of them. */
static int check_selection(const char *cmd, const dlq_filter_t *f)
{
    int kinds = (f->n_ids > 0) + ctl_dlq_filter_has_criteria(f) + f->all;
    if (kinds == 0) {
        ctl_error("dlq %s needs ids, a filter (--tenant, --type, --error, --since, --until) or --all",
                  cmd);
        return CTL_EXIT_USAGE;
    }
    if (kinds > 1) {
        ctl_error("dlq %s takes ids, a filter or --all, not more than one of them", cmd);
        return CTL_EXIT_USAGE;
    }
    return 0;
}

typedef enum {
    OUT_DONE,      /* replayed, or purged */
    OUT_AGAIN,     /* the document was already QUEUED: published again */
    OUT_SETTLED,   /* the notification lives or ended elsewhere: stale DLQ copy acked */
    OUT_LEFT,      /* left in the DLQ, with why */
    OUT_WOULD,     /* --dry-run */
    OUT_COUNT
} outcome_t;

static const char *const outcome_names[OUT_COUNT] = {"done", "republished", "settled", "left",
                                                     "would"};

typedef struct {
    bool purge;
    bool dry_run;
    bool keep_attempts;
    double rate; /* messages per second; 0 for no limit */
    int64_t started_ms;
    long handled;
    json_object *results[OUT_COUNT];
} act_state_t;

static void record(ctl_t *ctl, act_state_t *st, outcome_t out, const dlq_item_t *item,
                   const char *detail)
{
    const char *id = item->decoded ? item->msg.notification_id : "(undecodable)";
    json_object *entry = json_object_new_object();
    json_object_object_add(entry, "id", json_object_new_string(id));
    json_object_object_add(entry, "detail", json_object_new_string(detail));
    json_object_array_add(st->results[out], entry);
    if ((out == OUT_DONE || out == OUT_AGAIN) && item->decoded) {
        /* Each replay and purge is an administrative action on the tenant. */
        const wc_audit_event_t event = {.actor = ctl->actor,
                                        .action = st->purge ? "dlq.purge" : "dlq.replay",
                                        .target = id,
                                        .tenant_id = item->msg.tenant_id,
                                        .detail = detail};
        (void)wc_store_audit_append(ctl->store, &event);
    }
    if (!ctl->json) {
        printf("%-11s %s  %s\n", outcome_names[out], id, detail);
        fflush(stdout);
    }
}

/* Spaces messages 1/rate seconds apart, measured from the start. */
static void throttle(act_state_t *st)
{
    if (st->rate <= 0) {
        return;
    }
    int64_t due = st->started_ms + (int64_t)((double)st->handled * 1000.0 / st->rate);
    int64_t wait = due - wc_time_monotonic_ms();
    while (wait > 0 && !ctl_dlq_interrupted()) {
        wc_signals_wait(wait < INT_MAX ? (int)wait : INT_MAX); /* SIGINT ends it at once */
        wait = due - wc_time_monotonic_ms();
    }
}

/* Step 2: the document's message to its own priority queue, confirmed. */
static int republish(ctl_t *ctl, const bson_t *doc)
{
    wc_broker_t *publisher = ctl_broker(ctl, true);
    if (publisher == NULL) {
        return -1;
    }
    return wc_publish_document(doc, wc_publish_with_broker, publisher) == WC_BROKER_OK ? 0 : -1;
}

/* Step 1: FAILED -> PENDING with the operator's audit entry; after the
 * confirmed publish, step 3 records QUEUED (a failed publish leaves it PENDING
 * for the API's sweep, never QUEUED without a message). */
static wc_store_status_t reopen_document(ctl_t *ctl, const act_state_t *st,
                                         const dlq_item_t *item, bson_t **doc)
{
    return wc_store_reopen_failed(ctl->store, NULL, &item->oid, ctl->actor, st->keep_attempts,
                                  wc_time_now_ms(), doc);
}

/* The document as it stands; its status in *status ("" when there is none). */
static wc_store_status_t current_status(ctl_t *ctl, const dlq_item_t *item, bson_t **doc,
                                        char *status, size_t len)
{
    status[0] = '\0';
    wc_store_status_t s = wc_store_get_notification(ctl->store, item->msg.tenant_id, &item->oid, doc);
    if (s == WC_STORE_OK) {
        const char *v = wc_doc_string(*doc, "status");
        snprintf(status, len, "%s", v != NULL ? v : "");
    }
    return s;
}

static visit_t replay_one(ctl_t *ctl, act_state_t *st, const dlq_item_t *item)
{
    bson_t *doc = NULL;
    char status[32];
    wc_store_status_t s = reopen_document(ctl, st, item, &doc);
    outcome_t out = OUT_DONE;
    if (s == WC_STORE_NOT_FOUND) {
        s = current_status(ctl, item, &doc, status, sizeof(status));
        if (s == WC_STORE_NOT_FOUND) {
            record(ctl, st, OUT_LEFT, item, "no such document; left in the DLQ");
            return VISIT_KEEP;
        }
        bool interrupted = s == WC_STORE_OK && strcmp(status, "PENDING") == 0 &&
                           bson_has_field(doc, "replayedAt");
        if (s == WC_STORE_OK && !interrupted) {
            char detail[96];
            snprintf(detail, sizeof(detail), "already %s; stale DLQ copy removed", status);
            record(ctl, st, OUT_SETTLED, item, detail);
            bson_destroy(doc);
            return VISIT_ACK;
        }
        /* PENDING after a replay: an earlier one stopped after step 1; the
         * publish may not have happened, so it happens again. */
        out = OUT_AGAIN;
    }
    if (s != WC_STORE_OK) {
        ctl_error("the database failed on %s; stopped, nothing else changed",
                  item->msg.notification_id);
        bson_destroy(doc);
        return VISIT_FAIL;
    }
    int pub = republish(ctl, doc);
    bson_destroy(doc);
    if (pub != 0) {
        ctl_error("the publish of %s was not confirmed; stopped. It is PENDING (the API's sweep "
                  "publishes it) and still in the DLQ: run the replay again to be sure",
                  item->msg.notification_id);
        return VISIT_FAIL;
    }
    bson_t *queued = NULL;
    if (wc_store_mark_queued(ctl->store, &item->oid, ctl->actor, wc_time_now_ms(), &queued) !=
        WC_STORE_OK) {
        /* Published and confirmed: the promise holds; the worker records its
         * own progress from PENDING as well. */
        ctl_error("warning: %s is published but recording QUEUED failed", item->msg.notification_id);
    }
    if (queued != NULL) {
        bson_destroy(queued);
    }
    record(ctl, st, out, item, out == OUT_AGAIN ? "was PENDING after a replay; published again"
                                                : "FAILED -> PENDING, republished, QUEUED");
    return VISIT_ACK;
}

static visit_t purge_one(ctl_t *ctl, act_state_t *st, const dlq_item_t *item)
{
    bson_t *filter = wc_store_id_filter(&item->oid, "FAILED");
    int64_t now = wc_time_now_ms();
    bson_t *set = BCON_NEW("purgedAt", BCON_DATE_TIME(now));
    const wc_transition_t t = {
        .to = WC_STATUS_FAILED,
        .audit = {.actor = ctl->actor, .message = "Purged from the dead-letter queue by operator"},
        .set = set,
    };
    wc_store_status_t s = wc_store_transition(ctl->store, filter, &t, now, NULL);
    bson_destroy(set);
    bson_destroy(filter);
    if (s == WC_STORE_OK) {
        record(ctl, st, OUT_DONE, item, "purged; the document stays FAILED");
        return VISIT_ACK;
    }
    bson_t *doc = NULL;
    char status[32];
    if (s == WC_STORE_NOT_FOUND) {
        s = current_status(ctl, item, &doc, status, sizeof(status));
        bson_destroy(doc);
    }
    if (s == WC_STORE_ERROR) {
        ctl_error("the database failed on %s; stopped", item->msg.notification_id);
        return VISIT_FAIL;
    }
    if (s == WC_STORE_NOT_FOUND || strcmp(status, "QUEUED") == 0) {
        /* QUEUED means a replay stopped between its steps: acking here could
         * drop the only copy. */
        record(ctl, st, OUT_LEFT, item,
               s == WC_STORE_NOT_FOUND ? "no such document; left in the DLQ"
                                       : "QUEUED by an unfinished replay; run the replay again");
        return VISIT_KEEP;
    }
    char detail[96];
    snprintf(detail, sizeof(detail), "already %s; stale DLQ copy removed", status);
    record(ctl, st, OUT_SETTLED, item, detail);
    return VISIT_ACK;
}

static visit_t act_visit(ctl_t *ctl, const dlq_item_t *item, void *arg)
{
    act_state_t *st = arg;
    if (!item->decoded) {
        record(ctl, st, OUT_LEFT, item, "undecodable message; left in the DLQ");
        return VISIT_KEEP;
    }
    if (st->dry_run) {
        char detail[640];
        snprintf(detail, sizeof(detail), "would %s (%s)", st->purge ? "purge" : "replay",
                 item->reason);
        record(ctl, st, OUT_WOULD, item, detail);
        return VISIT_KEEP;
    }
    throttle(st);
    st->handled++;
    return st->purge ? purge_one(ctl, st, item) : replay_one(ctl, st, item);
}

static int parse_rate(const ctl_opt_t *opt, double *out)
{
    *out = 0;
    if (!opt->present) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(opt->value, &end);
    /* "50" or "50/s". */
    if (end != NULL && strcmp(end, "/s") == 0) {
        end += 2;
    }
    if (errno != 0 || end == opt->value || *end != '\0' || !(v > 0) || v > 100000) {
        ctl_error("--rate wants messages per second, e.g. 50 or 50/s, not \"%s\"", opt->value);
        return CTL_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

/* Purge destroys the chance to replay: without --yes it asks, and only a
 * person at a terminal can answer. */
static int confirm_purge(bool yes)
{
    if (yes) {
        return 0;
    }
    if (!isatty(STDIN_FILENO)) {
        ctl_error("dlq purge asks for confirmation and stdin is not a terminal; pass --yes");
        return CTL_EXIT_USAGE;
    }
    fprintf(stderr, "Purge the matching dead-lettered notifications? They stay FAILED and can no "
                    "longer be replayed from the DLQ. Type yes: ");
    char answer[16];
    if (fgets(answer, sizeof(answer), stdin) == NULL || strcmp(answer, "yes\n") != 0) {
        ctl_error("purge not confirmed; nothing changed");
        return CTL_EXIT_USAGE;
    }
    return 0;
}

static void print_summary(ctl_t *ctl, act_state_t *st, int rc)
{
    if (ctl->json) {
        json_object *out = json_object_new_object();
        for (int i = 0; i < OUT_COUNT; i++) {
            json_object_object_add(out, outcome_names[i], json_object_get(st->results[i]));
        }
        json_object_object_add(out, "interrupted", json_object_new_boolean(rc == CTL_EXIT_INTERRUPTED));
        ctl_print_json(out);
    }
    size_t n[OUT_COUNT];
    for (int i = 0; i < OUT_COUNT; i++) {
        n[i] = json_object_array_length(st->results[i]);
    }
    if (st->dry_run) {
        fprintf(stderr, "dry run: %zu message(s) would be %s; nothing changed\n", n[OUT_WOULD],
                st->purge ? "purged" : "replayed");
    } else {
        fprintf(stderr, "%s %zu, published again %zu, stale copies removed %zu, left in the DLQ %zu%s\n",
                st->purge ? "purged" : "replayed", n[OUT_DONE], n[OUT_AGAIN], n[OUT_SETTLED],
                n[OUT_LEFT], rc == CTL_EXIT_INTERRUPTED ? " (interrupted: run again to go on)" : "");
    }
}

int ctl_dlq_act(ctl_t *ctl, ctl_opt_t *opts, const dlq_filter_t *f, bool purge)
{
    const char *cmd = purge ? "purge" : "replay";
    int rc = check_selection(cmd, f);
    act_state_t st = {.purge = purge, .dry_run = opts[O_DRY_RUN].present,
                      .keep_attempts = opts[O_KEEP_ATTEMPTS].present};
    if (rc == 0 && purge && (opts[O_KEEP_ATTEMPTS].present || opts[O_RATE].present)) {
        ctl_error("--keep-attempts and --rate belong to dlq replay");
        rc = CTL_EXIT_USAGE;
    }
    if (rc == 0 && !purge && opts[O_YES].present) {
        ctl_error("--yes belongs to dlq purge (replay needs no confirmation)");
        rc = CTL_EXIT_USAGE;
    }
    if (rc == 0 && opts[O_DRY_RUN].present && opts[O_YES].present) {
        ctl_error("--dry-run and --yes contradict each other");
        rc = CTL_EXIT_USAGE;
    }
    if (rc == 0 && opts[O_LIMIT].present) {
        ctl_error("--limit belongs to dlq list");
        rc = CTL_EXIT_USAGE;
    }
    if (rc == 0) {
        rc = parse_rate(&opts[O_RATE], &st.rate);
    }
    if (rc == 0 && purge && !st.dry_run) {
        rc = confirm_purge(opts[O_YES].present);
    }
    if (rc != 0) {
        return rc;
    }
    /* Every connection is made before the first message is touched: an
     * unreachable service fails the command with nothing changed. */
    if (ctl_store(ctl) == NULL || ctl_broker(ctl, false) == NULL ||
        (!st.dry_run && !purge && ctl_broker(ctl, true) == NULL)) {
        return CTL_EXIT_INFRA;
    }
    for (int i = 0; i < OUT_COUNT; i++) {
        st.results[i] = json_object_new_array();
    }
    st.started_ms = wc_time_monotonic_ms();
    rc = ctl_dlq_scan(ctl, f, act_visit, &st);
    print_summary(ctl, &st, rc);
    for (int i = 0; i < OUT_COUNT; i++) {
        json_object_put(st.results[i]);
    }
    return rc;
}
