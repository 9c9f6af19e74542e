/*
 * wavecomctl dlq list|show|replay|purge: the dead-letter queue. This file
 * parses the commands, lists and shows; ctl_dlq_scan.c reads the DLQ for every
 * command, ctl_dlq_replay.c replays and purges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dlq_scan.h"
#include "ctl_dlq_replay.h"
#include "wc_store_trail.h"
#include "wc_time.h"

#define DLQ_LIST_DEFAULT_LIMIT 100

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
        [O_YES] = {"--yes", false},             [O_ENDPOINT] = {"--endpoint", true},
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
    f->endpoint = opts[O_ENDPOINT].value;
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
    bson_oid_t endpoint_oid;
    if (f->endpoint != NULL && !ctl_parse_oid(f->endpoint, &endpoint_oid)) {
        ctl_error("--endpoint wants an endpoint id (24 hex digits), not \"%s\"", f->endpoint);
        return CTL_EXIT_USAGE;
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

static void print_rows_text(json_object *rows)
{
    static const ctl_column_t columns[] = {
        {"ID", -24, 0, "id", NULL},           {"TENANT", -24, 0, "tenant", NULL},
        {"TYPE", -7, 0, "type", NULL},        {"RECIPIENT", -20, 0, "recipient", NULL},
        {"STATUS", -8, 0, "status", NULL},    {"ATT", -3, 0, "attempts", NULL},
        {"FAILED AT", -24, 0, "failedAt", NULL}, {"ERROR", 0, 80, "error", NULL}};
    ctl_print_table(rows, columns, CTL_COUNT(columns), "  ");
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
        ctl_dlq_header_copy(&p->headers, key, value, sizeof(value));
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
            "FILTER: --tenant ID, --endpoint ID (an event endpoint's deliveries), --type\n"
            "  EMAIL|SMS|PUSH|WEBHOOK, --error TEXT (part of the reason), --since TIME,\n"
            "  --until TIME (ISO 8601, on the failed-at time).\n");
}

int ctl_dlq_main(ctl_t *ctl, int argc, char **argv)
{
    static const char *const subcommands[] = {"list", "show", "replay", "purge", NULL};
    int rc = 0;
    const char *sub = ctl_subcommand_word(argc, argv, "dlq", subcommands, dlq_usage, &rc);
    if (sub == NULL) {
        return rc;
    }
    bool list = strcmp(sub, "list") == 0;
    bool show = strcmp(sub, "show") == 0;
    bool purge = strcmp(sub, "purge") == 0;
    ctl_opt_t opts[O_COUNT];
    options_init(opts);
    ctl_words_t ids;
    int parsed = ctl_parse_command(argc, argv, opts, O_COUNT, dlq_usage, &ids, CTL_OPT_VALUES_MAX);
    if (parsed != 0) {
        return parsed;
    }
    ctl->json = opts[O_JSON].present;
    dlq_filter_t f;
    if (filter_from_options(opts, ids.word, ids.n, &f) != 0) {
        return CTL_EXIT_USAGE;
    }
    if ((list || show) && (opts[O_DRY_RUN].present || opts[O_KEEP_ATTEMPTS].present ||
                           opts[O_RATE].present || opts[O_YES].present)) {
        ctl_error("dlq %s only reads; --dry-run, --keep-attempts, --rate and --yes do not apply",
                  sub);
        return CTL_EXIT_USAGE;
    }
    if (list) {
        if (ids.n > 0 || f.all) {
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
