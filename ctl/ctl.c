/*
 * wavecomctl: the operator's command line. Settings come from the same
 * WAVECOM_* environment as the services. This file dispatches to the command
 * groups and holds what they share: option parsing, connections, output.
 *
 * Exit codes: 0 done, 1 the database or broker failed, 2 usage error,
 * 3 not found, 130 interrupted (SIGINT) between two items.
 */
#include <ctype.h>
#include <limits.h>
#include <mongoc/mongoc.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "wc_log.h"
#include "wc_signals.h"
#include "wc_topology.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wavecomctl COMMAND [ARGS] [--json]   (each command takes --help)\n\n"
            "  dlq list|show|replay|purge     the dead-letter queue\n"
            "  notification show|cancel ID    one notification and its audit trail\n"
            "  tenant create|list|disable     tenants\n"
            "  apikey create|list|revoke      API keys (shown once, stored hashed)\n"
            "  queues                         depth and consumers of every WaveCom queue\n"
            "  counters reconcile             recount notifications, repair the read counters\n"
            "  suppressions list|add|remove   a tenant's suppression list\n"
            "  config-table                   the WAVECOM_* configuration table as Markdown\n"
            "  topology [--vhost VHOST]       the RabbitMQ topology as a definitions file\n\n"
            "Exit codes: 0 done, 1 broker or database failure, 2 usage error, 3 not found,\n"
            "130 interrupted.\n\n");
    wc_config_print_help(out);
}

void ctl_error(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One line, whatever a server's message contained. */
    for (char *p = line; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    fprintf(stderr, "wavecomctl: %s\n", line);
}

int ctl_dispatch(ctl_t *ctl, int argc, char **argv, const char *group,
                 const ctl_subcommand_t *subcommands, size_t n, void (*print_usage)(FILE *out))
{
    for (size_t i = 0; argc >= 3 && i < n; i++) {
        if (strcmp(argv[2], subcommands[i].name) == 0) {
            return subcommands[i].run(ctl, argc, argv);
        }
    }
    if (argc >= 3 && strcmp(argv[2], "--help") == 0) {
        print_usage(stdout);
        return 0;
    }
    ctl_error("unknown command \"%s%s%s\"; see wavecomctl %s --help", group, argc >= 3 ? " " : "",
              argc >= 3 ? argv[2] : "", group);
    return CTL_EXIT_USAGE;
}

const char *ctl_subcommand_word(int argc, char **argv, const char *group,
                                const char *const *names, void (*print_usage)(FILE *out),
                                int *exit_code)
{
    const char *sub = argc >= 3 ? argv[2] : NULL;
    *exit_code = CTL_EXIT_USAGE;
    if (sub == NULL || strcmp(sub, "--help") == 0) {
        print_usage(sub == NULL ? stderr : stdout);
        *exit_code = sub == NULL ? CTL_EXIT_USAGE : 0;
        return NULL;
    }
    for (const char *const *name = names; *name != NULL; name++) {
        if (strcmp(sub, *name) == 0) {
            return sub;
        }
    }
    ctl_error("unknown command \"%s %s\"; see wavecomctl %s --help", group, sub, group);
    return NULL;
}

ctl_opt_t *ctl_opt(ctl_opt_t *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

int ctl_parse(int argc, char **argv, int from, ctl_opt_t *opts, size_t n_opts,
              const char **positional, size_t max_pos, size_t *n_pos)
{
    *n_pos = 0;
    for (int i = from; i < argc; i++) {
        const char *word = argv[i];
        if (strncmp(word, "--", 2) != 0 || strcmp(word, "--") == 0) {
            if (*n_pos >= max_pos) {
                ctl_error("unexpected argument \"%s\"", word);
                return CTL_EXIT_USAGE;
            }
            positional[(*n_pos)++] = word;
            continue;
        }
        ctl_opt_t *opt = ctl_opt(opts, n_opts, word);
        if (opt == NULL) {
            ctl_error("unknown option \"%s\"", word);
            return CTL_EXIT_USAGE;
        }
        opt->present = true;
        if (!opt->has_value) {
            continue;
        }
        if (i + 1 >= argc) {
            ctl_error("%s needs a value", word);
            return CTL_EXIT_USAGE;
        }
        opt->value = argv[++i];
        if (opt->count >= CTL_OPT_VALUES_MAX) {
            ctl_error("%s given more than %d times", word, CTL_OPT_VALUES_MAX);
            return CTL_EXIT_USAGE;
        }
        opt->values[opt->count++] = opt->value;
    }
    return 0;
}

wc_store_t *ctl_store(ctl_t *ctl)
{
    if (ctl->store != NULL) {
        return ctl->store;
    }
    char err[512];
    ctl->store = wc_store_open(ctl->cfg.mongodb_uri, ctl->cfg.mongodb_db, "wavecomctl", err,
                               sizeof(err));
    if (ctl->store == NULL) {
        ctl_error("WAVECOM_MONGODB_URI: %s", err);
        return NULL;
    }
    (void)wc_store_set_secrets_key(ctl->store, ctl->cfg.secrets_key); /* checked by the config */
    /* Ping first, so that a command fails before it has touched anything. */
    if (!wc_store_ping(ctl->store)) {
        ctl_error("the database at WAVECOM_MONGODB_URI does not answer");
        wc_store_close(ctl->store);
        ctl->store = NULL;
    }
    return ctl->store;
}

wc_broker_t *ctl_broker(ctl_t *ctl, bool confirms)
{
    wc_broker_t **slot = confirms ? &ctl->publisher : &ctl->consumer;
    if (*slot == NULL) {
        const wc_broker_options_t opts = {
            .url = ctl->cfg.amqp_url,
            .queue_type = ctl->cfg.queue_type,
            .quorum_group_size = ctl->cfg.quorum_group_size,
            .name = confirms ? "wavecomctl publisher" : "wavecomctl reader",
            .confirms = confirms,
            .heartbeat_seconds = 0,
            .timeout_ms = 10000,
        };
        *slot = wc_broker_new(&opts);
        if (*slot == NULL) {
            ctl_error("out of memory");
            return NULL;
        }
    }
    char err[512];
    if (wc_broker_ensure_open(*slot, err, sizeof(err)) != 0) {
        ctl_error("the broker at WAVECOM_AMQP_URL: %s", err);
        return NULL;
    }
    return *slot;
}

void ctl_close(ctl_t *ctl)
{
    if (ctl->consumer != NULL) {
        wc_broker_free(ctl->consumer);
    }
    if (ctl->publisher != NULL) {
        wc_broker_free(ctl->publisher);
    }
    wc_store_close(ctl->store);
    ctl->consumer = ctl->publisher = NULL;
    ctl->store = NULL;
}

void ctl_print_json(json_object *value)
{
    printf("%s\n", json_object_to_json_string_ext(value, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(value);
}

void ctl_mask_recipient(const char *recipient, char *out, size_t out_len)
{
    if (recipient == NULL || recipient[0] == '\0') {
        snprintf(out, out_len, "-");
        return;
    }
    size_t len = strlen(recipient);
    const char *at = strchr(recipient, '@');
    if (at != NULL && strstr(recipient, "://") == NULL) {
        snprintf(out, out_len, "%c***%s", recipient[0], at);
    } else if (recipient[0] == '+' && len > 4) {
        snprintf(out, out_len, "+***%s", recipient + len - 4);
    } else if (len > 12) {
        /* A device token or URL: enough to tell two apart, not to use one. */
        snprintf(out, out_len, "%.8s***%s", recipient, recipient + len - 4);
    } else {
        snprintf(out, out_len, "***");
    }
}

bool ctl_parse_oid(const char *text, bson_oid_t *oid)
{
    if (text == NULL || strlen(text) != 24) {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (!isxdigit((unsigned char)*p)) {
            return false;
        }
    }
    bson_oid_init_from_string(oid, text);
    return true;
}

int ctl_parse_command(int argc, char **argv, ctl_opt_t *opts, size_t n_opts,
                      void (*print_usage)(FILE *), ctl_words_t *words, size_t max_words)
{
    if (max_words > CTL_OPT_VALUES_MAX) {
        max_words = CTL_OPT_VALUES_MAX;
    }
    if (ctl_parse(argc, argv, 3, opts, n_opts, words->word, max_words, &words->n) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (ctl_opt(opts, n_opts, "--help")->present) {
        print_usage(stdout);
        return CTL_HELP_SHOWN;
    }
    return 0;
}

int ctl_store_exit(wc_store_status_t status, const char *kind, const char *id,
                   const char *or_else, const char *doing)
{
    switch (status) {
    case WC_STORE_OK:
        return 0;
    case WC_STORE_NOT_FOUND:
        ctl_error("no %s with id \"%s\"%s%s", kind, id, or_else != NULL ? ", " : "",
                  or_else != NULL ? or_else : "");
        return CTL_EXIT_NOT_FOUND;
    default:
        ctl_error("the database failed while %s %s", doing, id);
        return CTL_EXIT_INFRA;
    }
}

const char *ctl_row_text(json_object *row, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(row, key, &v) && v != NULL ? json_object_get_string(v) : "-";
}

static void print_cell(const ctl_column_t *col, const char *text, bool first, const char *gap)
{
    int precision = col->max_chars > 0 ? col->max_chars : INT_MAX;
    printf("%s%*.*s", first ? "" : gap, col->width, precision, text);
}

void ctl_print_table(json_object *rows, const ctl_column_t *cols, size_t n_cols, const char *gap)
{
    for (size_t c = 0; c < n_cols; c++) {
        print_cell(&cols[c], cols[c].header, c == 0, gap);
    }
    printf("\n");
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        for (size_t c = 0; c < n_cols; c++) {
            const char *text =
                cols[c].cell != NULL ? cols[c].cell(row) : ctl_row_text(row, cols[c].key);
            print_cell(&cols[c], text, c == 0, gap);
        }
        printf("\n");
    }
}

bool ctl_key_named(const char *text)
{
    if (strncmp(text, "wck_", 4) != 0 || strlen(text) < 12) {
        ctl_error("\"%.16s\" is neither an API key nor a key hint (wck_ and 8 or more hex digits)",
                  text);
        return false;
    }
    return true;
}

int ctl_key_lookup_exit(wc_store_status_t status, const char *text, const char *doing)
{
    switch (status) {
    case WC_STORE_OK:
        return 0;
    case WC_STORE_NOT_FOUND:
        ctl_error("no API key matches \"%.16s\"", text);
        return CTL_EXIT_NOT_FOUND;
    case WC_STORE_CONFLICT:
        ctl_error("the hint \"%.12s\" matches more than one key; give the whole key", text);
        return CTL_EXIT_USAGE;
    default:
        ctl_error("the database failed while %s", doing);
        return CTL_EXIT_INFRA;
    }
}

static void set_actor(ctl_t *ctl)
{
    const char *user = getenv("USER");
    if (user == NULL || user[0] == '\0') {
        const struct passwd *pw = getpwuid(getuid());
        user = pw != NULL ? pw->pw_name : "unknown";
    }
    snprintf(ctl->actor, sizeof(ctl->actor), "wavecomctl:%s", user);
}

/* Commands that need no connection at all. Returns -1 when `cmd` is not one. */
static int offline_command(int argc, char **argv)
{
    if (strcmp(argv[1], "config-table") == 0) {
        wc_config_print_markdown(stdout);
        return 0;
    }
    if (strcmp(argv[1], "topology") != 0) {
        return -1;
    }
    ctl_opt_t opts[] = {{.name = "--vhost", .has_value = true}, {.name = "--help"}};
    const char *pos[1];
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 2, opts, 2, pos, 0, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[1].present) {
        printf("Usage: wavecomctl topology [--vhost VHOST]\n");
        return 0;
    }
    wc_config_t cfg;
    char err[512];
    if (wc_config_load(&cfg, err, sizeof(err)) != 0) {
        ctl_error("configuration error: %s", err);
        return CTL_EXIT_USAGE;
    }
    const wc_topology_queues_t queues = {cfg.queue_type, cfg.quorum_group_size};
    ctl_print_json(wc_topology_definitions(&queues, opts[0].value != NULL ? opts[0].value : "/"));
    return 0;
}

typedef int (*group_fn)(ctl_t *ctl, int argc, char **argv);

static group_fn find_group(const char *name)
{
    static const struct {
        const char *name;
        group_fn fn;
    } groups[] = {
        {"dlq", ctl_dlq_main},       {"notification", ctl_notification_main},
        {"tenant", ctl_tenant_main}, {"apikey", ctl_apikey_main},
        {"queues", ctl_queues_main}, {"counters", ctl_counters_main},
        {"suppressions", ctl_suppressions_main},
    };
    for (size_t i = 0; i < CTL_COUNT(groups); i++) {
        if (strcmp(groups[i].name, name) == 0) {
            return groups[i].fn;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : 0;
    }
    int rc = offline_command(argc, argv);
    if (rc >= 0) {
        return rc;
    }
    group_fn group = find_group(argv[1]);
    if (group == NULL) {
        ctl_error("unknown command \"%s\"; see wavecomctl --help", argv[1]);
        return CTL_EXIT_USAGE;
    }

    ctl_t ctl;
    memset(&ctl, 0, sizeof(ctl));
    char err[512];
    if (wc_config_load(&ctl.cfg, err, sizeof(err)) != 0) {
        ctl_error("configuration error: %s", err);
        return CTL_EXIT_USAGE;
    }
    set_actor(&ctl);
    /* The services' JSON log lines would double every error this tool
     * already reports in one line of its own. */
    wc_log_init("ctl", (wc_log_level_t)(WC_LOG_ERROR + 1));

    /* SIGINT waits on the wake-up descriptor until a command looks for it
     * between two items (dlq replay stops cleanly after the current
     * message). It is blocked here, before libmongoc starts its monitoring
     * threads, because a signal goes to any thread that does not block it. */
    const int interrupt[] = {SIGINT};
    if (wc_signals_open(interrupt, 1) != 0) {
        ctl_error("cannot take SIGINT through a signalfd");
        return CTL_EXIT_INFRA;
    }
    mongoc_init();
    rc = group(&ctl, argc, argv);
    if (rc == CTL_HELP_SHOWN) {
        rc = 0; /* a subcommand's --help, printed */
    }
    ctl_close(&ctl);
    mongoc_cleanup();
    return rc;
}
