/*
 * wavecomctl suppressions: a tenant's suppression list (docs/ARCHITECTURE.md
 * §16), as the API's /api/suppressions shows and changes it.
 *
 *   wavecomctl suppressions list   --tenant ID [--channel CHANNEL] [--limit N] [--json]
 *   wavecomctl suppressions add    --tenant ID CHANNEL RECIPIENT [--reason REASON] [--json]
 *   wavecomctl suppressions remove --tenant ID CHANNEL RECIPIENT [--json]
 *
 * Unlike the other lists, this one shows whole recipients: an operator
 * removes an entry by naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wc_json.h"
#include "wc_recipient.h"
#include "wc_store_suppressions.h"
#include "wc_time.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 10000

static void suppressions_usage(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  wavecomctl suppressions list --tenant ID [--channel EMAIL|SMS|PUSH] [--limit N]\n"
            "      [--json]\n"
            "      The tenant's suppression list: channel, recipient, reason, source, when.\n"
            "  wavecomctl suppressions add --tenant ID CHANNEL RECIPIENT [--reason REASON]\n"
            "      [--json]\n"
            "      Puts RECIPIENT on the list (REASON: " WC_SUPPRESS_REASON_NAMES
            ";\n"
            "      default manual); its notifications end SUPPRESSED, never sent.\n"
            "  wavecomctl suppressions remove --tenant ID CHANNEL RECIPIENT [--json]\n"
            "      Takes RECIPIENT off the list: its next notification is sent again.\n"
            "Every change is recorded in the audit trail (GET /api/audit).\n");
}

static bool parse_channel(const char *name, wc_channel_t *out)
{
    if (name == NULL || wc_channel_parse(name, out) != 0 || *out == WC_CHANNEL_WEBHOOK) {
        ctl_error("CHANNEL must be EMAIL, SMS or PUSH, not \"%s\"", name != NULL ? name : "");
        return false;
    }
    return true;
}

static bool recipient_fits(wc_channel_t channel, const char *recipient)
{
    switch (channel) {
    case WC_CHANNEL_EMAIL:
        return wc_email_address_valid(recipient);
    case WC_CHANNEL_SMS:
        return wc_e164_valid(recipient);
    default:
        return wc_push_token_valid(recipient, WC_PUSH_FCM) ||
               wc_push_token_valid(recipient, WC_PUSH_APNS);
    }
}

static void audit(ctl_t *ctl, const char *action, const char *tenant, const char *target,
                  const char *detail)
{
    const wc_audit_event_t event = {
        .actor = ctl->actor, .action = action, .target = target, .tenant_id = tenant, .detail = detail};
    if (wc_store_audit_append(ctl->store, &event) != WC_STORE_OK) {
        ctl_error("warning: %s on %s done, but not recorded in the audit trail", action, target);
    }
}

static json_object *row_of(const bson_t *doc)
{
    json_object *row = json_object_new_object();
    static const char *const fields[] = {"channel", "recipient", "reason", "source"};
    for (size_t i = 0; i < CTL_COUNT(fields); i++) {
        const char *v = wc_doc_string(doc, fields[i]);
        json_object_object_add(row, fields[i], json_object_new_string(v != NULL ? v : ""));
    }
    json_object_object_add(row, "updatedAt", wc_json_date(wc_doc_date(doc, "updatedAt", 0)));
    return row;
}

static int suppressions_list(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--tenant", .has_value = true},
                        {.name = "--channel", .has_value = true},
                        {.name = "--limit", .has_value = true},
                        {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t none;
    int parsed = ctl_parse_command(argc, argv, opts, CTL_COUNT(opts), suppressions_usage, &none, 0);
    if (parsed != 0) {
        return parsed;
    }
    wc_channel_t channel = WC_CHANNEL_EMAIL;
    long limit = LIST_LIMIT_DEFAULT;
    char *end = NULL;
    if (!opts[0].present) {
        ctl_error("suppressions list needs --tenant ID");
        return CTL_EXIT_USAGE;
    }
    if (opts[1].present && !parse_channel(opts[1].value, &channel)) {
        return CTL_EXIT_USAGE;
    }
    if (opts[2].present) {
        limit = strtol(opts[2].value, &end, 10);
        if (end == opts[2].value || *end != '\0' || limit < 1 || limit > LIST_LIMIT_MAX) {
            ctl_error("--limit must be 1 to %d", LIST_LIMIT_MAX);
            return CTL_EXIT_USAGE;
        }
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_suppression_list(ctl->store, opts[0].value, opts[1].present ? (int)channel : -1, 0,
                                  limit, &docs, &n) != WC_STORE_OK) {
        ctl_error("the database failed while listing suppressions");
        return CTL_EXIT_INFRA;
    }
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(rows, row_of(docs[i]));
    }
    wc_store_docs_free(docs, n);
    if (opts[3].present || ctl->json) {
        ctl_print_json(rows);
        return 0;
    }
    static const ctl_column_t cols[] = {
        {"CHANNEL", -7, 0, "channel", NULL},     {"RECIPIENT", -40, 0, "recipient", NULL},
        {"REASON", -14, 0, "reason", NULL},      {"SOURCE", -16, 0, "source", NULL},
        {"UPDATED", 0, 0, "updatedAt", NULL},
    };
    ctl_print_table(rows, cols, CTL_COUNT(cols), "  ");
    json_object_put(rows);
    return 0;
}

/* add and remove: --tenant ID CHANNEL RECIPIENT. */
static int change(ctl_t *ctl, int argc, char **argv, bool add)
{
    ctl_opt_t opts[] = {{.name = "--tenant", .has_value = true},
                        {.name = "--reason", .has_value = true},
                        {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t words;
    int parsed = ctl_parse_command(argc, argv, opts, CTL_COUNT(opts), suppressions_usage, &words, 2);
    if (parsed != 0) {
        return parsed;
    }
    wc_channel_t channel = WC_CHANNEL_EMAIL;
    wc_suppress_reason_t reason = WC_SUPPRESS_MANUAL;
    if (!opts[0].present || words.n != 2) {
        ctl_error("suppressions %s needs --tenant ID CHANNEL RECIPIENT", add ? "add" : "remove");
        return CTL_EXIT_USAGE;
    }
    if (!parse_channel(words.word[0], &channel)) {
        return CTL_EXIT_USAGE;
    }
    const char *recipient = words.word[1];
    if (!recipient_fits(channel, recipient)) {
        ctl_error("\"%s\" is not a valid %s recipient", recipient, wc_channel_name(channel));
        return CTL_EXIT_USAGE;
    }
    if (opts[1].present && (!add || wc_suppress_reason_parse(opts[1].value, &reason) != 0)) {
        ctl_error(add ? "--reason must be one of " WC_SUPPRESS_REASON_NAMES
                      : "suppressions remove takes no --reason");
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    const char *tenant = opts[0].value;
    char target[WC_SUPPRESSION_ID_LEN];
    snprintf(target, sizeof(target), "%s:%s", wc_channel_name(channel), recipient);
    wc_store_status_t status;
    if (add) {
        status = wc_store_suppression_put(ctl->store, tenant, channel, recipient, reason,
                                          "wavecomctl", wc_time_now_ms(), NULL);
    } else {
        status = wc_store_suppression_delete(ctl->store, tenant, channel, recipient);
    }
    int rc = ctl_store_exit(status, "suppression", target, NULL, add ? "adding" : "removing");
    if (rc != 0) {
        return rc;
    }
    audit(ctl, add ? "suppression.add" : "suppression.remove", tenant, target,
          add ? wc_suppress_reason_name(reason) : NULL);
    if (opts[2].present || ctl->json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "channel", json_object_new_string(wc_channel_name(channel)));
        json_object_object_add(out, "recipient", json_object_new_string(recipient));
        json_object_object_add(out, add ? "suppressed" : "removed", json_object_new_boolean(1));
        if (add) {
            json_object_object_add(out, "reason",
                                   json_object_new_string(wc_suppress_reason_name(reason)));
        }
        ctl_print_json(out);
    } else {
        printf("%s %s\n", target, add ? "suppressed" : "removed from the suppression list");
    }
    return 0;
}

static int suppressions_add(ctl_t *ctl, int argc, char **argv) { return change(ctl, argc, argv, true); }

static int suppressions_remove(ctl_t *ctl, int argc, char **argv)
{
    return change(ctl, argc, argv, false);
}

int ctl_suppressions_main(ctl_t *ctl, int argc, char **argv)
{
    static const ctl_subcommand_t subcommands[] = {
        {"list", suppressions_list}, {"add", suppressions_add}, {"remove", suppressions_remove}};
    return ctl_dispatch(ctl, argc, argv, "suppressions", subcommands, CTL_COUNT(subcommands),
                        suppressions_usage);
}
