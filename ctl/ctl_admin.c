/*
 * wavecomctl tenant ... and apikey ...: the tenants and their API keys. A key
 * is printed once, at creation; only its SHA-256 is stored.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wc_store_ops.h"
#include "wc_time.h"

static const char *const roles[] = {"admin", "operator", "sender", "viewer", NULL};

static void tenant_usage(FILE *out)
{
    fprintf(out, "Usage:\n"
                 "  wavecomctl tenant create --name NAME [--json]\n"
                 "      Creates a tenant and prints its id.\n"
                 "  wavecomctl tenant list [--json]\n"
                 "      Every tenant: id, name, enabled or disabled, created at.\n"
                 "  wavecomctl tenant disable ID [--json]\n"
                 "      Disables a tenant: its API keys stop working (within the API's\n"
                 "      WAVECOM_API_AUTH_CACHE_SECONDS). Its notifications are kept.\n"
                 "  wavecomctl tenant limits ID [--rps N] [--nps N] [--in-flight N] [--json]\n"
                 "      Sets the tenant's own requests/s, notifications/s and in-flight quota\n"
                 "      (0: unlimited; a limit not given returns to its WAVECOM_* default).\n"
                 "  wavecomctl tenant quota ID [--monthly N] [--email N] ... [--critical-exempt]\n"
                 "      Sets the tenant's monthly quota (see tenant quota --help).\n"
                 "  wavecomctl tenant secret ID\n"
                 "      Prints the tenant's webhook signing secret (whsec_...), to hand to the\n"
                 "      tenant; decrypted with WAVECOM_SECRETS_KEY when it is stored sealed.\n"
                 "Every change, and every secret shown, is recorded in the audit trail\n"
                 "(GET /api/audit).\n");
}

/* Records a change made from the command line in the audit trail. */
static void audit(ctl_t *ctl, const char *action, const char *target, const char *tenant,
                  const char *detail)
{
    const wc_audit_event_t event = {
        .actor = ctl->actor, .action = action, .target = target, .tenant_id = tenant, .detail = detail};
    if (wc_store_audit_append(ctl->store, &event) != WC_STORE_OK) {
        ctl_error("warning: %s on %s done, but not recorded in the audit trail", action, target);
    }
}

static void apikey_usage(FILE *out)
{
    fprintf(out, "Usage:\n"
                 "  wavecomctl apikey create --tenant ID [--role ROLE] [--name NAME] [--json]\n"
                 "      Creates an API key and prints it. It is shown this once: only its\n"
                 "      SHA-256 is stored. ROLE is admin, operator, sender (default) or viewer.\n"
                 "  wavecomctl apikey list [--tenant ID] [--stale] [--json]\n"
                 "      The keys (by hint, their first 12 characters; never the key itself),\n"
                 "      with their last use and their counts of the last 30 days. --stale:\n"
                 "      only keys older than 30 days and unused for 30 days.\n"
                 "  wavecomctl apikey usage KEY|HINT [--days N] [--json]\n"
                 "      The key's usage per UTC day (see apikey usage --help).\n"
                 "  wavecomctl apikey quota KEY|HINT [--monthly N] [--email N] ... [--json]\n"
                 "      Sets the key's monthly quota (see apikey quota --help).\n"
                 "  wavecomctl apikey revoke KEY|HINT [--json]\n"
                 "      Revokes a key, named whole or by the hint `apikey list` shows.\n");
}

static int tenant_create(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--name", .has_value = true}, {.name = "--json"}, {.name = "--help"}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, 3, tenant_usage, &pos, 0);
    if (parsed != 0) {
        return parsed;
    }
    const char *name = opts[0].value;
    if (name == NULL || name[0] == '\0' || strlen(name) > 200) {
        ctl_error("tenant create needs --name NAME (1 to 200 characters)");
        return CTL_EXIT_USAGE;
    }
    wc_store_t *store = ctl_store(ctl);
    if (store == NULL) {
        return CTL_EXIT_INFRA;
    }
    char id[25];
    if (wc_store_create_tenant(store, name, id) != WC_STORE_OK) {
        ctl_error("could not create the tenant (is the database up?)");
        return CTL_EXIT_INFRA;
    }
    if (opts[1].present) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(id));
        json_object_object_add(out, "name", json_object_new_string(name));
        ctl_print_json(out);
    } else {
        printf("%s\n", id);
    }
    audit(ctl, "tenant.create", id, id, name);
    fprintf(stderr, "tenant \"%s\" created\n", name);
    return 0;
}

static bool role_valid(const char *role)
{
    for (const char *const *r = roles; *r != NULL; r++) {
        if (strcmp(*r, role) == 0) {
            return true;
        }
    }
    return false;
}

static int apikey_create(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--tenant", .has_value = true},
                        {.name = "--role", .has_value = true},
                        {.name = "--name", .has_value = true},
                        {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, 5, apikey_usage, &pos, 0);
    if (parsed != 0) {
        return parsed;
    }
    const char *tenant = opts[0].value;
    const char *role = opts[1].value != NULL ? opts[1].value : "sender";
    const char *name = opts[2].value != NULL ? opts[2].value : "";
    if (tenant == NULL) {
        ctl_error("apikey create needs --tenant ID");
        return CTL_EXIT_USAGE;
    }
    if (!role_valid(role)) {
        ctl_error("--role must be admin, operator, sender or viewer");
        return CTL_EXIT_USAGE;
    }
    wc_store_t *store = ctl_store(ctl);
    if (store == NULL) {
        return CTL_EXIT_INFRA;
    }
    char key[128];
    switch (wc_store_create_api_key(store, tenant, role, name, key, sizeof(key))) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        ctl_error("no enabled tenant with id \"%s\"", tenant);
        return CTL_EXIT_NOT_FOUND;
    default:
        ctl_error("could not create the API key (is the database up?)");
        return CTL_EXIT_INFRA;
    }
    if (opts[3].present) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "key", json_object_new_string(key));
        json_object_object_add(out, "tenant", json_object_new_string(tenant));
        json_object_object_add(out, "role", json_object_new_string(role));
        ctl_print_json(out);
    } else {
        printf("%s\n", key);
    }
    char hint[13];
    snprintf(hint, sizeof(hint), "%.12s", key);
    audit(ctl, "apikey.create", hint, tenant, role);
    fprintf(stderr, "API key created for tenant %s with role %s; it is not shown again\n", tenant,
            role);
    return 0;
}

/* What a list shows of a stored document: the row's member `key` holds the
 * document's field `field`, read as `kind`. */
typedef enum { FIELD_STRING, FIELD_BOOL, FIELD_DATE } field_kind_t;
typedef struct {
    const char *key;
    const char *field;
    field_kind_t kind;
} list_field_t;

/* The field as JSON: a string, a boolean (false when absent), an ISO 8601
 * date; null when absent or of another type. */
static json_object *field_json(const bson_t *doc, const list_field_t *f)
{
    bson_iter_t iter;
    bool found = bson_iter_init_find(&iter, doc, f->field);
    switch (f->kind) {
    case FIELD_STRING: {
        const char *v = wc_doc_string(doc, f->field);
        return v != NULL ? json_object_new_string(v) : NULL;
    }
    case FIELD_BOOL:
        return json_object_new_boolean(found && BSON_ITER_HOLDS_BOOL(&iter) && bson_iter_bool(&iter));
    case FIELD_DATE: {
        char text[WC_ISO8601_LEN];
        if (!found || !BSON_ITER_HOLDS_DATE_TIME(&iter) ||
            wc_time_format_iso8601(bson_iter_date_time(&iter), text, sizeof(text)) != 0) {
            return NULL;
        }
        return json_object_new_string(text);
    }
    }
    return NULL;
}

/* The documents as list rows, one member per field; frees the documents. */
static json_object *rows_of(bson_t **docs, size_t n, const list_field_t *fields, size_t n_fields)
{
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_new_object();
        for (size_t f = 0; f < n_fields; f++) {
            json_object_object_add(row, fields[f].key, field_json(docs[i], &fields[f]));
        }
        json_object_array_add(rows, row);
    }
    wc_store_docs_free(docs, n);
    return rows;
}

static bool row_is(json_object *row, const char *key)
{
    return strcmp(ctl_row_text(row, key), "true") == 0;
}

/* Parses the options of a command that takes `n_words` words, --json and
 * --help. Returns 0 to go on, else what the command returns. */
static int simple_parse(int argc, char **argv, ctl_words_t *words, size_t n_words, bool *json,
                        void (*usage)(FILE *), const char *what)
{
    ctl_opt_t opts[] = {{.name = "--help"}, {.name = "--json"}};
    int parsed = ctl_parse_command(argc, argv, opts, 2, usage, words, n_words);
    if (parsed != 0) {
        return parsed;
    }
    if (words->n != n_words) {
        ctl_error("%s", what);
        return CTL_EXIT_USAGE;
    }
    *json = opts[1].present;
    return 0;
}

/* simple_parse, then the store (ctl->store) for a command that needs it. */
static int parse_and_connect(ctl_t *ctl, int argc, char **argv, ctl_words_t *words,
                             size_t n_words, bool *json, void (*usage)(FILE *), const char *what)
{
    int rc = simple_parse(argc, argv, words, n_words, json, usage, what);
    if (rc == 0 && ctl_store(ctl) == NULL) {
        rc = CTL_EXIT_INFRA;
    }
    return rc;
}

static const char *tenant_state(json_object *row)
{
    return row_is(row, "disabled") ? "disabled" : "enabled";
}

static int tenant_list(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    ctl_words_t pos;
    int rc = parse_and_connect(ctl, argc, argv, &pos, 0, &json, tenant_usage,
                               "tenant list takes no arguments");
    if (rc != 0) {
        return rc;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_list_tenants(ctl->store, &docs, &n) != WC_STORE_OK) {
        ctl_error("the database failed while listing tenants");
        return CTL_EXIT_INFRA;
    }
    static const list_field_t fields[] = {{"id", "_id", FIELD_STRING},
                                          {"name", "name", FIELD_STRING},
                                          {"disabled", "disabled", FIELD_BOOL},
                                          {"createdAt", "createdAt", FIELD_DATE}};
    json_object *rows = rows_of(docs, n, fields, CTL_COUNT(fields));
    if (json) {
        ctl_print_json(rows);
        return 0;
    }
    static const ctl_column_t columns[] = {{"ID", -24, 0, "id", NULL},
                                           {"STATE", -8, 0, NULL, tenant_state},
                                           {"CREATED AT", -24, 0, "createdAt", NULL},
                                           {"NAME", 0, 0, "name", NULL}};
    ctl_print_table(rows, columns, CTL_COUNT(columns), "  ");
    json_object_put(rows);
    return 0;
}

static int tenant_disable(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    ctl_words_t pos;
    int rc = parse_and_connect(ctl, argc, argv, &pos, 1, &json, tenant_usage,
                               "tenant disable takes one tenant id");
    if (rc != 0) {
        return rc;
    }
    rc = ctl_store_exit(wc_store_disable_tenant(ctl->store, pos.word[0], wc_time_now_ms()),
                        "tenant", pos.word[0], NULL, "disabling");
    if (rc != 0) {
        return rc;
    }
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(pos.word[0]));
        json_object_object_add(out, "disabled", json_object_new_boolean(1));
        ctl_print_json(out);
    } else {
        printf("%s disabled\n", pos.word[0]);
    }
    audit(ctl, "tenant.disable", pos.word[0], pos.word[0], NULL);
    return 0;
}

static const char *key_state(json_object *row)
{
    return row_is(row, "revoked") ? "revoked" : row_is(row, "stale") ? "stale" : "active";
}

static int apikey_list(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--tenant", .has_value = true},
                        {.name = "--stale"},
                        {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t none;
    int parsed = ctl_parse_command(argc, argv, opts, 4, apikey_usage, &none, 0);
    if (parsed != 0) {
        return parsed;
    }
    const char *tenant = opts[0].present ? opts[0].value : NULL;
    bool json = opts[2].present || ctl->json;
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_list_api_keys(ctl->store, tenant, &docs, &n) != WC_STORE_OK) {
        ctl_error("the database failed while listing API keys");
        return CTL_EXIT_INFRA;
    }
    static const list_field_t fields[] = {
        {"hint", "hint", FIELD_STRING},        {"tenant", "tenantId", FIELD_STRING},
        {"role", "role", FIELD_STRING},        {"name", "name", FIELD_STRING},
        {"revoked", "revoked", FIELD_BOOL},    {"createdAt", "createdAt", FIELD_DATE}};
    json_object *rows = rows_of(docs, n, fields, CTL_COUNT(fields));
    if (ctl_keys_add_usage(ctl, rows) != 0) {
        json_object_put(rows);
        ctl_error("the database failed while reading the keys' usage");
        return CTL_EXIT_INFRA;
    }
    if (opts[1].present) {
        /* Only the stale ones: keys that could be revoked without anyone noticing. */
        json_object *stale = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(rows); i++) {
            json_object *row = json_object_array_get_idx(rows, i);
            if (row_is(row, "stale") && !row_is(row, "revoked")) {
                json_object_array_add(stale, json_object_get(row));
            }
        }
        json_object_put(rows);
        rows = stale;
    }
    if (json) {
        ctl_print_json(rows);
        return 0;
    }
    static const ctl_column_t columns[] = {
        {"HINT", -12, 0, "hint", NULL},           {"TENANT", -24, 0, "tenant", NULL},
        {"ROLE", -8, 0, "role", NULL},            {"STATE", -7, 0, NULL, key_state},
        {"CREATED AT", -24, 0, "createdAt", NULL}, {"LAST USED", -24, 0, "lastUsedAt", NULL},
        {"FROM", -15, 0, "lastUsedFrom", NULL},   {"REQ 30D", 8, 0, "requests30d", NULL},
        {"SENT 30D", 8, 0, "accepted30d", NULL},  {"REF 30D", 8, 0, "refused30d", NULL},
        {"NAME", 0, 0, "name", NULL}};
    ctl_print_table(rows, columns, CTL_COUNT(columns), "  ");
    json_object_put(rows);
    return 0;
}

static int apikey_revoke(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    ctl_words_t pos;
    int rc = simple_parse(argc, argv, &pos, 1, &json, apikey_usage,
                          "apikey revoke takes one key, or the hint apikey list shows");
    if (rc != 0) {
        return rc;
    }
    if (!ctl_key_named(pos.word[0])) {
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    rc = ctl_key_lookup_exit(wc_store_revoke_api_key(ctl->store, pos.word[0], wc_time_now_ms()),
                             pos.word[0], "revoking the key");
    if (rc != 0) {
        return rc;
    }
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "revoked", json_object_new_boolean(1));
        ctl_print_json(out);
    } else {
        /* Echo only the hint: the command line may hold the whole key. */
        printf("%.12s revoked\n", pos.word[0]);
    }
    char hint[13];
    snprintf(hint, sizeof(hint), "%.12s", pos.word[0]);
    audit(ctl, "apikey.revoke", hint, NULL, NULL);
    return 0;
}

static int tenant_secret(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    ctl_words_t pos;
    int rc = parse_and_connect(ctl, argc, argv, &pos, 1, &json, tenant_usage,
                               "tenant secret takes one tenant id");
    if (rc != 0) {
        return rc;
    }
    char secret[256];
    rc = ctl_store_exit(
        wc_store_tenant_webhook_secret(ctl->store, pos.word[0], secret, sizeof(secret)), "tenant",
        pos.word[0], "or its secret cannot be opened with WAVECOM_SECRETS_KEY",
        "reading the secret of");
    if (rc != 0) {
        return rc;
    }
    audit(ctl, "tenant.secret.show", pos.word[0], pos.word[0], NULL);
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(pos.word[0]));
        json_object_object_add(out, "webhookSecret", json_object_new_string(secret));
        ctl_print_json(out);
    } else {
        printf("%s\n", secret);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

/* Parses a limit option: -1 when absent, else 0..1e9. */
static int limit_value(const ctl_opt_t *opt, int *out)
{
    *out = -1;
    if (!opt->present) {
        return 0;
    }
    char *end = NULL;
    long v = strtol(opt->value, &end, 10);
    if (end == opt->value || *end != '\0' || v < 0 || v > 1000000000) {
        ctl_error("%s must be a whole number from 0 to 1000000000", opt->name);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int tenant_limits(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--rps", .has_value = true},
                        {.name = "--nps", .has_value = true},
                        {.name = "--in-flight", .has_value = true},
                        {.name = "--json"},
                        {.name = "--help"}};
    ctl_words_t pos;
    int parsed = ctl_parse_command(argc, argv, opts, 5, tenant_usage, &pos, 1);
    if (parsed != 0) {
        return parsed;
    }
    wc_tenant_limits_t l;
    if (pos.n != 1) {
        ctl_error("tenant limits takes one tenant id");
        return CTL_EXIT_USAGE;
    }
    if (limit_value(&opts[0], &l.requests_per_second) != 0 ||
        limit_value(&opts[1], &l.notifications_per_second) != 0 ||
        limit_value(&opts[2], &l.max_in_flight) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    int rc = ctl_store_exit(wc_store_set_tenant_limits(ctl->store, pos.word[0], &l), "tenant",
                            pos.word[0], NULL, "setting the limits of");
    if (rc != 0) {
        return rc;
    }
    char detail[96];
    snprintf(detail, sizeof(detail), "rps=%d nps=%d inFlight=%d", l.requests_per_second,
             l.notifications_per_second, l.max_in_flight);
    audit(ctl, "tenant.limits", pos.word[0], pos.word[0], detail);
    if (opts[3].present) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(pos.word[0]));
        json_object_object_add(out, "requestsPerSecond", json_object_new_int(l.requests_per_second));
        json_object_object_add(out, "notificationsPerSecond",
                               json_object_new_int(l.notifications_per_second));
        json_object_object_add(out, "maxInFlight", json_object_new_int(l.max_in_flight));
        ctl_print_json(out);
    } else {
        printf("%s limits: %s (-1: the default)\n", pos.word[0], detail);
    }
    return 0;
}

int ctl_tenant_main(ctl_t *ctl, int argc, char **argv)
{
    static const ctl_subcommand_t subcommands[] = {{"create", tenant_create},
                                                   {"list", tenant_list},
                                                   {"disable", tenant_disable},
                                                   {"limits", tenant_limits},
                                                   {"quota", ctl_tenant_quota},
                                                   {"secret", tenant_secret}};
    return ctl_dispatch(ctl, argc, argv, "tenant", subcommands,
                        CTL_COUNT(subcommands), tenant_usage);
}

int ctl_apikey_main(ctl_t *ctl, int argc, char **argv)
{
    static const ctl_subcommand_t subcommands[] = {
        {"create", apikey_create}, {"list", apikey_list}, {"revoke", apikey_revoke},
        {"usage", ctl_apikey_usage}, {"quota", ctl_apikey_quota}};
    return ctl_dispatch(ctl, argc, argv, "apikey", subcommands,
                        CTL_COUNT(subcommands), apikey_usage);
}
