/*
 * wavecomctl notification show|cancel ID: one notification, whatever its
 * tenant, as the API shows it, with its audit trail.
 */
#include <string.h>

#include "ctl.h"
#include "wc_lifecycle.h"
#include "wc_store_ops.h"
#include "wc_store_system_events.h"
#include "wc_store_trail.h"
#include "wc_time.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage:\n"
                 "  wavecomctl notification show ID [--json]\n"
                 "      The document (recipient in full: an operator's view) and its audit trail.\n"
                 "  wavecomctl notification cancel ID [--reason TEXT] [--json]\n"
                 "      Cancels a notification not yet being delivered (SCHEDULED, PENDING,\n"
                 "      QUEUED or RETRYING), with an audit entry naming the operator.\n");
}

/* The trail as the API shows it; an empty one when the database failed
 * (said on stderr). */
static json_object *trail_json(ctl_t *ctl, const bson_t *doc)
{
    json_object *logs = wc_store_trail_read(ctl->store, doc);
    if (logs == NULL) {
        fprintf(stderr, "wavecomctl: the audit trail could not be read\n");
        logs = json_object_new_array();
    }
    return logs;
}

static json_object *document_json(ctl_t *ctl, const bson_t *doc)
{
    json_object *out = json_object_new_object();
    json_object_object_add(out, "notification", wc_notification_to_api_json(doc));
    json_object_object_add(out, "logs", trail_json(ctl, doc));
    return out;
}

static void print_text(ctl_t *ctl, const bson_t *doc)
{
    json_object *api = wc_notification_to_api_json(doc);
    json_object_object_foreach(api, key, value)
    {
        printf("%-18s %s\n", key, value != NULL ? json_object_get_string(value) : "-");
    }
    json_object_put(api);
    json_object *logs = trail_json(ctl, doc);
    printf("\nAudit trail:\n");
    for (size_t i = 0; i < json_object_array_length(logs); i++) {
        json_object *e = json_object_array_get_idx(logs, i);
        json_object *ts = NULL, *st = NULL, *actor = NULL, *msg = NULL;
        json_object_object_get_ex(e, "timestamp", &ts);
        json_object_object_get_ex(e, "status", &st);
        json_object_object_get_ex(e, "actor", &actor);
        json_object_object_get_ex(e, "message", &msg);
        printf("  %-24s %-10s %-28s %s\n", ts != NULL ? json_object_get_string(ts) : "-",
               st != NULL ? json_object_get_string(st) : "-",
               actor != NULL ? json_object_get_string(actor) : "-",
               msg != NULL ? json_object_get_string(msg) : "-");
    }
    json_object_put(logs);
}

static int show(ctl_t *ctl, const bson_oid_t *id, const char *text)
{
    bson_t *doc = NULL;
    int rc = ctl_store_exit(wc_store_find_notification(ctl->store, id, &doc), "notification", text,
                            NULL, "reading");
    if (rc != 0) {
        return rc;
    }
    if (ctl->json) {
        ctl_print_json(document_json(ctl, doc));
    } else {
        print_text(ctl, doc);
    }
    bson_destroy(doc);
    return 0;
}

static int cancel(ctl_t *ctl, const bson_oid_t *id, const char *text, const char *reason)
{
    char message[320];
    snprintf(message, sizeof(message), "Cancelled by operator%s%s", reason != NULL ? ": " : "",
             reason != NULL ? reason : "");
    int64_t now = wc_time_now_ms();
    bson_t *set = BCON_NEW("cancelledAt", BCON_DATE_TIME(now));
    const wc_transition_t t = {
        .to = WC_STATUS_CANCELLED,
        .audit = {.actor = ctl->actor, .message = message},
        .set = set,
    };
    /* One findAndModify per cancellable status: each filter is an equality
     * on _id and status, which every backend serves by index, and the
     * status match makes the change atomic against a worker's claim. */
    wc_status_t cancellable[WC_STATUS_COUNT];
    size_t n_cancellable = wc_status_sources(WC_STATUS_CANCELLED, cancellable);
    wc_store_status_t s = WC_STORE_NOT_FOUND;
    bson_t *doc = NULL;
    for (size_t i = 0; i < n_cancellable && s == WC_STORE_NOT_FOUND; i++) {
        bson_t *filter = wc_store_id_filter(id, wc_status_name(cancellable[i]));
        s = wc_store_transition(ctl->store, filter, &t, now, &doc);
        bson_destroy(filter);
    }
    bson_destroy(set);
    if (s == WC_STORE_ERROR) {
        ctl_error("the database failed while cancelling %s", text);
        return CTL_EXIT_INFRA;
    }
    if (s == WC_STORE_NOT_FOUND) {
        s = wc_store_find_notification(ctl->store, id, &doc);
        if (s == WC_STORE_NOT_FOUND) {
            ctl_error("no notification with id %s", text);
            return CTL_EXIT_NOT_FOUND;
        }
        if (s != WC_STORE_OK) {
            ctl_error("the database failed while reading %s", text);
            return CTL_EXIT_INFRA;
        }
        const char *status = wc_doc_string(doc, "status");
        bool already = status != NULL && strcmp(status, "CANCELLED") == 0;
        if (!already) {
            ctl_error("%s is %s and can no longer be cancelled", text, status != NULL ? status : "?");
            bson_destroy(doc);
            return CTL_EXIT_USAGE;
        }
        fprintf(stderr, "%s was already cancelled\n", text);
    } else {
        fprintf(stderr, "%s cancelled\n", text);
        wc_store_system_event_note(ctl->store, doc, "CANCELLED");
    }
    if (ctl->json) {
        ctl_print_json(document_json(ctl, doc));
    } else {
        printf("%s CANCELLED\n", text);
    }
    bson_destroy(doc);
    return 0;
}

int ctl_notification_main(ctl_t *ctl, int argc, char **argv)
{
    static const char *const subcommands[] = {"show", "cancel", NULL};
    int rc = 0;
    const char *sub = ctl_subcommand_word(argc, argv, "notification", subcommands, usage, &rc);
    if (sub == NULL) {
        return rc;
    }
    bool is_show = strcmp(sub, "show") == 0;
    ctl_opt_t opts[] = {{.name = "--help"}, {.name = "--json"}, {.name = "--reason", .has_value = true}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, 3, usage, &pos, 1);
    if (parsed != 0) {
        return parsed;
    }
    ctl->json = opts[1].present;
    bson_oid_t id;
    if (pos.n != 1 || !ctl_parse_oid(pos.word[0], &id)) {
        ctl_error("notification %s takes one id (24 hex digits)", sub);
        return CTL_EXIT_USAGE;
    }
    if (is_show && opts[2].present) {
        ctl_error("--reason belongs to notification cancel");
        return CTL_EXIT_USAGE;
    }
    if (opts[2].present && (opts[2].value[0] == '\0' || strlen(opts[2].value) > 200)) {
        ctl_error("--reason must be 1 to 200 characters");
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    return is_show ? show(ctl, &id, pos.word[0]) : cancel(ctl, &id, pos.word[0], opts[2].value);
}
