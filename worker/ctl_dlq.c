/*
 * wavecomctl dlq list|show|replay|purge: the dead-letter queue. This file
 * reads the DLQ, lists and shows; ctl_dlq_replay.c replays and purges.
 *
 * Every command reads the DLQ the same way: a consumer with manual acks and no
 * prefetch bound takes each message that was there when the command started,
 * once. A message the command acts on is acked only after the action is
 * durable; every other message stays unacked until the connection closes,
 * when the broker puts it back. So listing, --dry-run and a filter that
 * matches nothing leave the queue exactly as it was, and a command that dies
 * anywhere loses nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dlq.h"
#include "wc_store_trail.h"
#include "wc_time.h"
#include "wc_topology.h"

#define DLQ_LIST_DEFAULT_LIMIT 100
#define DLQ_IDLE_MS 2000 /* no delivery this long: the queue held less than counted */
#define DLQ_POLL_MS 200  /* how often a wait looks at SIGINT */

/* ---- one DLQ message ---- */

static void header_copy(const amqp_table_t *headers, const char *key, char *out, size_t len)
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
        header_copy(&p->headers, "x-wavecom-reason", item->reason, sizeof(item->reason));
        header_copy(&p->headers, "x-wavecom-attempts", item->attempts, sizeof(item->attempts));
        header_copy(&p->headers, "x-wavecom-failed-at", item->failed_at, sizeof(item->failed_at));
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
        return f->n_ids == 0 && f->tenant == NULL && f->type < 0 && f->error_text == NULL &&
               f->since_ms < 0 && f->until_ms < 0;
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

static void options_init(ctl_opt_t *opts)
{
    static const struct {
        const char *name;
        bool has_value;
    } spec[O_COUNT] = {
        [O_HELP] = {"--help", false},          [O_JSON] = {"--json", false},
        [O_TENANT] = {"--tenant", true},       [O_TYPE] = {"--type", true},
        [O_ERROR] = {"--error", true},         [O_SINCE] = {"--since", true},
        [O_UNTIL] = {"--until", true},         [O_ALL] = {"--all", false},
        [O_LIMIT] = {"--limit", true},         [O_DRY_RUN] = {"--dry-run", false},
        [O_KEEP_ATTEMPTS] = {"--keep-attempts", false}, [O_RATE] = {"--rate", true},
        [O_YES] = {"--yes", false},
    };
    memset(opts, 0, sizeof(ctl_opt_t) * O_COUNT);
    for (int i = 0; i < O_COUNT; i++) {
        opts[i].name = spec[i].name;
        opts[i].has_value = spec[i].has_value;
    }
}

static int parse_time_option(const ctl_opt_t *opt, int64_t *out)
{
    *out = -1;
    if (!opt->present) {
        return 0;
    }
    if (wc_time_parse_iso8601(opt->value, out) != 0) {
        ctl_error("%s wants an ISO 8601 time such as 2026-01-31T12:00:00Z, not \"%s\"", opt->name,
                  opt->value);
        return CTL_EXIT_USAGE;
    }
    return 0;
}

/* Fills `f` from the options and the ids given as words. */
static int filter_from_options(ctl_opt_t *opts, const char **ids, size_t n_ids, dlq_filter_t *f)
{
    memset(f, 0, sizeof(*f));
    f->ids = ids;
    f->n_ids = n_ids;
    f->tenant = opts[O_TENANT].value;
    f->error_text = opts[O_ERROR].value;
    f->all = opts[O_ALL].present;
    f->type = -1;
    for (size_t i = 0; i < n_ids; i++) {
        bson_oid_t oid;
        if (!ctl_parse_oid(ids[i], &oid)) {
            ctl_error("\"%s\" is not a notification id (24 hex digits)", ids[i]);
            return CTL_EXIT_USAGE;
        }
    }
    if (opts[O_TYPE].present) {
        wc_channel_t type;
        if (wc_channel_parse(opts[O_TYPE].value, &type) != 0) {
            ctl_error("--type must be EMAIL, SMS, PUSH or WEBHOOK, not \"%s\"", opts[O_TYPE].value);
            return CTL_EXIT_USAGE;
        }
        f->type = (int)type;
    }
    if (parse_time_option(&opts[O_SINCE], &f->since_ms) != 0 ||
        parse_time_option(&opts[O_UNTIL], &f->until_ms) != 0) {
        return CTL_EXIT_USAGE;
    }
    return 0;
}

bool ctl_dlq_filter_has_criteria(const dlq_filter_t *f)
{
    return f->tenant != NULL || f->type >= 0 || f->error_text != NULL || f->since_ms >= 0 ||
           f->until_ms >= 0;
}

/* ---- reading the queue ---- */

/* SIGINT is blocked (main, before any thread exists) and looked for between
 * messages, so it can never cut a step of a replay in half, nor interrupt a
 * socket call. */
bool ctl_dlq_interrupted(void)
{
    sigset_t pending;
    return sigpending(&pending) == 0 && sigismember(&pending, SIGINT) == 1;
}

/* Waits for the next delivery, looking at SIGINT every DLQ_POLL_MS. Returns
 * 1 with *env, 0 when idle or interrupted, -1 when the connection failed. */
static int next_delivery(wc_broker_t *consumer, amqp_envelope_t *env)
{
    for (int waited = 0; waited < DLQ_IDLE_MS; waited += DLQ_POLL_MS) {
        if (ctl_dlq_interrupted()) {
            return 0;
        }
        int rc = wc_broker_next(consumer, DLQ_POLL_MS, env);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
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

/* ---- output ---- */

/* One row of list output, with the document when it could be read. */
static json_object *item_row(ctl_t *ctl, const dlq_item_t *item)
{
    json_object *row = json_object_new_object();
    if (!item->decoded) {
        json_object_object_add(row, "id", NULL);
        json_object_object_add(row, "error", json_object_new_string(item->reason));
        json_object_object_add(row, "undecodable", json_object_new_boolean(1));
        return row;
    }
    json_object_object_add(row, "id", json_object_new_string(item->msg.notification_id));
    json_object_object_add(row, "tenant", json_object_new_string(item->msg.tenant_id));
    json_object_object_add(row, "type", json_object_new_string(wc_channel_name(item->msg.type)));
    json_object_object_add(row, "priority",
                           json_object_new_string(wc_priority_name(item->msg.priority)));
    char masked[128] = "?";
    const char *status = "?";
    bson_t *doc = NULL;
    if (wc_store_get_notification(ctl->store, item->msg.tenant_id, &item->oid, &doc) == WC_STORE_OK) {
        ctl_mask_recipient(wc_doc_string(doc, "recipient"), masked, sizeof(masked));
        status = wc_doc_string(doc, "status");
    }
    json_object_object_add(row, "recipient", json_object_new_string(masked));
    json_object_object_add(row, "status", json_object_new_string(status != NULL ? status : "?"));
    json_object_object_add(row, "attempts", json_object_new_int(atoi(item->attempts)));
    json_object_object_add(row, "error", json_object_new_string(item->reason));
    json_object_object_add(row, "failedAt", json_object_new_string(item->failed_at));
    bson_destroy(doc);
    return row;
}

static const char *row_str(json_object *row, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(row, key, &v) && v != NULL ? json_object_get_string(v) : "-";
}

static void print_rows_text(json_object *rows)
{
    printf("%-24s  %-24s  %-7s  %-20s  %-8s  %-3s  %-24s  %s\n", "ID", "TENANT", "TYPE",
           "RECIPIENT", "STATUS", "ATT", "FAILED AT", "ERROR");
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        printf("%-24s  %-24s  %-7s  %-20s  %-8s  %-3s  %-24s  %.80s\n", row_str(row, "id"),
               row_str(row, "tenant"), row_str(row, "type"), row_str(row, "recipient"),
               row_str(row, "status"), row_str(row, "attempts"), row_str(row, "failedAt"),
               row_str(row, "error"));
    }
}

/* ---- dlq list ---- */

typedef struct {
    json_object *rows;
    long limit;
} list_state_t;

static visit_t list_visit(ctl_t *ctl, const dlq_item_t *item, void *arg)
{
    list_state_t *st = arg;
    json_object_array_add(st->rows, item_row(ctl, item));
    return (long)json_object_array_length(st->rows) >= st->limit ? VISIT_STOP : VISIT_KEEP;
}

static int parse_limit(const ctl_opt_t *opt, long *out)
{
    *out = DLQ_LIST_DEFAULT_LIMIT;
    if (!opt->present) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(opt->value, &end, 10);
    if (errno != 0 || end == opt->value || *end != '\0' || v < 1 || v > 100000) {
        ctl_error("--limit must be a number from 1 to 100000, not \"%s\"", opt->value);
        return CTL_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

static int dlq_list(ctl_t *ctl, ctl_opt_t *opts, const dlq_filter_t *f)
{
    list_state_t st = {.rows = json_object_new_array()};
    int rc = parse_limit(&opts[O_LIMIT], &st.limit);
    if (rc == 0 && (ctl_store(ctl) == NULL)) {
        rc = CTL_EXIT_INFRA;
    }
    if (rc == 0) {
        rc = ctl_dlq_scan(ctl, f, list_visit, &st);
    }
    if (rc == 0 && ctl->json) {
        ctl_print_json(st.rows);
        return 0;
    }
    if (rc == 0) {
        print_rows_text(st.rows);
        fprintf(stderr, "%zu message(s) listed\n", json_object_array_length(st.rows));
    }
    json_object_put(st.rows);
    return rc;
}

/* ---- dlq show ---- */

typedef struct {
    json_object *found;
} show_state_t;

static json_object *headers_json(const amqp_envelope_t *env)
{
    json_object *out = json_object_new_object();
    const amqp_basic_properties_t *p = &env->message.properties;
    if ((p->_flags & AMQP_BASIC_HEADERS_FLAG) == 0) {
        return out;
    }
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        char key[128];
        char value[1024];
        snprintf(key, sizeof(key), "%.*s", (int)e->key.len, (const char *)e->key.bytes);
        header_copy(&p->headers, key, value, sizeof(value));
        json_object_object_add(out, key, json_object_new_string(value));
    }
    return out;
}

static visit_t show_visit(ctl_t *ctl, const dlq_item_t *item, void *arg)
{
    show_state_t *st = arg;
    json_object *out = json_object_new_object();
    json_object *message = json_object_new_object();
    json_object_object_add(message, "body",
                           json_object_new_string_len(item->env->message.body.bytes,
                                                      (int)item->env->message.body.len));
    json_object_object_add(message, "routingKey",
                           json_object_new_string_len(item->env->routing_key.bytes,
                                                      (int)item->env->routing_key.len));
    json_object_object_add(message, "redelivered", json_object_new_boolean(item->env->redelivered));
    json_object_object_add(message, "headers", headers_json(item->env));
    json_object_object_add(out, "message", message);
    bson_t *doc = NULL;
    wc_store_status_t s = wc_store_get_notification(ctl->store, item->msg.tenant_id, &item->oid, &doc);
    if (s == WC_STORE_ERROR) {
        ctl_error("the database failed while reading %s", item->msg.notification_id);
        json_object_put(out);
        return VISIT_FAIL;
    }
    json_object_object_add(out, "document", doc != NULL ? wc_notification_to_api_json(doc) : NULL);
    json_object_object_add(out, "trail", doc != NULL ? wc_store_trail_read(ctl->store, doc) : NULL);
    bson_destroy(doc);
    st->found = out;
    return VISIT_STOP;
}

static int dlq_show(ctl_t *ctl, const dlq_filter_t *f)
{
    if (f->n_ids != 1 || ctl_dlq_filter_has_criteria(f) || f->all) {
        ctl_error("dlq show takes exactly one notification id");
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    show_state_t st = {NULL};
    int rc = ctl_dlq_scan(ctl, f, show_visit, &st);
    if (rc != 0) {
        json_object_put(st.found);
        return rc;
    }
    if (st.found == NULL) {
        ctl_error("%s is not in the dead-letter queue", f->ids[0]);
        return CTL_EXIT_NOT_FOUND;
    }
    /* The whole message, document and trail: JSON is the readable form too. */
    ctl_print_json(st.found);
    return 0;
}

/* ---- dispatch ---- */

static void dlq_usage(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  wavecomctl dlq list [FILTER] [--limit N] [--json]\n"
            "      The dead-lettered notifications: id, tenant, type, masked recipient,\n"
            "      status, attempts, failed at, error. Changes nothing.\n"
            "  wavecomctl dlq show ID [--json]\n"
            "      The DLQ message (body, headers), the document and its audit trail.\n"
            "  wavecomctl dlq replay (ID... | FILTER | --all) [--dry-run] [--keep-attempts]\n"
            "                        [--rate N/s] [--json]\n"
            "      Each message: document FAILED -> QUEUED (audit entry; attempts reset\n"
            "      unless --keep-attempts), republished to its priority queue with a\n"
            "      confirm, then removed from the DLQ. Safe to interrupt (Ctrl-C stops after\n"
            "      the current message) and to run again.\n"
            "  wavecomctl dlq purge (ID... | FILTER | --all) [--dry-run] [--yes] [--json]\n"
            "      Removes messages from the DLQ; the documents stay FAILED with an audit\n"
            "      entry. Asks for confirmation unless --yes (refuses when stdin is not a\n"
            "      terminal).\n"
            "FILTER: --tenant ID, --type EMAIL|SMS|PUSH|WEBHOOK, --error TEXT (part of the\n"
            "  reason), --since TIME, --until TIME (ISO 8601, on the failed-at time).\n");
}

int ctl_dlq_main(ctl_t *ctl, int argc, char **argv)
{
    const char *sub = argc >= 3 ? argv[2] : NULL;
    if (sub == NULL || strcmp(sub, "--help") == 0) {
        dlq_usage(sub == NULL ? stderr : stdout);
        return sub == NULL ? CTL_EXIT_USAGE : 0;
    }
    bool list = strcmp(sub, "list") == 0;
    bool show = strcmp(sub, "show") == 0;
    bool replay = strcmp(sub, "replay") == 0;
    bool purge = strcmp(sub, "purge") == 0;
    if (!list && !show && !replay && !purge) {
        ctl_error("unknown command \"dlq %s\"; see wavecomctl dlq --help", sub);
        return CTL_EXIT_USAGE;
    }
    ctl_opt_t opts[O_COUNT];
    options_init(opts);
    const char *ids[CTL_OPT_VALUES_MAX];
    size_t n_ids = 0;
    if (ctl_parse(argc, argv, 3, opts, O_COUNT, ids, CTL_OPT_VALUES_MAX, &n_ids) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[O_HELP].present) {
        dlq_usage(stdout);
        return 0;
    }
    ctl->json = opts[O_JSON].present;
    dlq_filter_t f;
    if (filter_from_options(opts, ids, n_ids, &f) != 0) {
        return CTL_EXIT_USAGE;
    }
    if ((list || show) && (opts[O_DRY_RUN].present || opts[O_KEEP_ATTEMPTS].present ||
                           opts[O_RATE].present || opts[O_YES].present)) {
        ctl_error("dlq %s only reads; --dry-run, --keep-attempts, --rate and --yes do not apply",
                  sub);
        return CTL_EXIT_USAGE;
    }
    if (list) {
        if (n_ids > 0 || f.all) {
            ctl_error("dlq list takes filters, not ids or --all (see dlq show ID)");
            return CTL_EXIT_USAGE;
        }
        return dlq_list(ctl, opts, &f);
    }
    if (show) {
        return dlq_show(ctl, &f);
    }
    return ctl_dlq_act(ctl, opts, &f, purge);
}
