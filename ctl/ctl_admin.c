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
    const char *pos[1];
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 3, opts, 3, pos, 0, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[2].present) {
        tenant_usage(stdout);
        return 0;
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
    const char *pos[1];
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 3, opts, 5, pos, 0, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[4].present) {
        apikey_usage(stdout);
        return 0;
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

/* A string field of `doc` as JSON, or null. */
static json_object *doc_str(const bson_t *doc, const char *key)
{
    const char *v = wc_doc_string(doc, key);
    return v != NULL ? json_object_new_string(v) : NULL;
}

static json_object *doc_bool(const bson_t *doc, const char *key)
{
    bson_iter_t iter;
    bool v = bson_iter_init_find(&iter, doc, key) && BSON_ITER_HOLDS_BOOL(&iter) &&
             bson_iter_bool(&iter);
    return json_object_new_boolean(v);
}

static json_object *doc_date(const bson_t *doc, const char *key)
{
    bson_iter_t iter;
    char text[WC_ISO8601_LEN];
    if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_DATE_TIME(&iter) ||
        wc_time_format_iso8601(bson_iter_date_time(&iter), text, sizeof(text)) != 0) {
        return NULL;
    }
    return json_object_new_string(text);
}

static const char *row_get(json_object *row, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(row, key, &v) && v != NULL ? json_object_get_string(v) : "-";
}

/* Parses the options of a command that takes `n_pos_want` words, --json,
 * --help and `extra` (may be NULL). Returns -1 when done (help shown), or an
 * exit code. */
static int simple_parse(int argc, char **argv, const char *extra, const char **pos,
                        size_t n_pos_want, const char **extra_value, bool *json,
                        void (*usage)(FILE *), const char *what)
{
    ctl_opt_t opts[] = {{.name = "--help"}, {.name = "--json"}, {.name = extra, .has_value = true}};
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 3, opts, extra != NULL ? 3 : 2, pos, n_pos_want, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[0].present) {
        usage(stdout);
        return -1;
    }
    if (n_pos != n_pos_want) {
        ctl_error("%s", what);
        return CTL_EXIT_USAGE;
    }
    *json = opts[1].present;
    if (extra_value != NULL) {
        *extra_value = opts[2].value;
    }
    return 0;
}

static int tenant_list(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    int rc = simple_parse(argc, argv, NULL, NULL, 0, NULL, &json, tenant_usage,
                          "tenant list takes no arguments");
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    bson_t **docs = NULL;
    size_t n = 0;
    if (wc_store_list_tenants(ctl->store, &docs, &n) != WC_STORE_OK) {
        ctl_error("the database failed while listing tenants");
        return CTL_EXIT_INFRA;
    }
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_new_object();
        json_object_object_add(row, "id", doc_str(docs[i], "_id"));
        json_object_object_add(row, "name", doc_str(docs[i], "name"));
        json_object_object_add(row, "disabled", doc_bool(docs[i], "disabled"));
        json_object_object_add(row, "createdAt", doc_date(docs[i], "createdAt"));
        json_object_array_add(rows, row);
    }
    wc_store_docs_free(docs, n);
    if (json) {
        ctl_print_json(rows);
        return 0;
    }
    printf("%-24s  %-8s  %-24s  %s\n", "ID", "STATE", "CREATED AT", "NAME");
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        printf("%-24s  %-8s  %-24s  %s\n", row_get(row, "id"),
               strcmp(row_get(row, "disabled"), "true") == 0 ? "disabled" : "enabled",
               row_get(row, "createdAt"), row_get(row, "name"));
    }
    json_object_put(rows);
    return 0;
}

static int tenant_disable(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    const char *pos[1];
    int rc = simple_parse(argc, argv, NULL, pos, 1, NULL, &json, tenant_usage,
                          "tenant disable takes one tenant id");
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    switch (wc_store_disable_tenant(ctl->store, pos[0], wc_time_now_ms())) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        ctl_error("no tenant with id \"%s\"", pos[0]);
        return CTL_EXIT_NOT_FOUND;
    default:
        ctl_error("the database failed while disabling %s", pos[0]);
        return CTL_EXIT_INFRA;
    }
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(pos[0]));
        json_object_object_add(out, "disabled", json_object_new_boolean(1));
        ctl_print_json(out);
    } else {
        printf("%s disabled\n", pos[0]);
    }
    audit(ctl, "tenant.disable", pos[0], pos[0], NULL);
    return 0;
}

static int apikey_list(ctl_t *ctl, int argc, char **argv)
{
    ctl_opt_t opts[] = {{.name = "--tenant", .has_value = true},
                        {.name = "--stale"},
                        {.name = "--json"},
                        {.name = "--help"}};
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 3, opts, 4, NULL, 0, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[3].present) {
        apikey_usage(stdout);
        return 0;
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
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *row = json_object_new_object();
        json_object_object_add(row, "hint", doc_str(docs[i], "hint"));
        json_object_object_add(row, "tenant", doc_str(docs[i], "tenantId"));
        json_object_object_add(row, "role", doc_str(docs[i], "role"));
        json_object_object_add(row, "name", doc_str(docs[i], "name"));
        json_object_object_add(row, "revoked", doc_bool(docs[i], "revoked"));
        json_object_object_add(row, "createdAt", doc_date(docs[i], "createdAt"));
        json_object_array_add(rows, row);
    }
    wc_store_docs_free(docs, n);
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
            if (strcmp(row_get(row, "stale"), "true") == 0 &&
                strcmp(row_get(row, "revoked"), "true") != 0) {
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
    printf("%-12s  %-24s  %-8s  %-7s  %-24s  %-24s  %-15s  %8s  %8s  %8s  %s\n", "HINT", "TENANT",
           "ROLE", "STATE", "CREATED AT", "LAST USED", "FROM", "REQ 30D", "SENT 30D", "REF 30D",
           "NAME");
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        const char *state = strcmp(row_get(row, "revoked"), "true") == 0 ? "revoked"
                            : strcmp(row_get(row, "stale"), "true") == 0 ? "stale"
                                                                          : "active";
        printf("%-12s  %-24s  %-8s  %-7s  %-24s  %-24s  %-15s  %8s  %8s  %8s  %s\n",
               row_get(row, "hint"), row_get(row, "tenant"), row_get(row, "role"), state,
               row_get(row, "createdAt"), row_get(row, "lastUsedAt"), row_get(row, "lastUsedFrom"),
               row_get(row, "requests30d"), row_get(row, "accepted30d"), row_get(row, "refused30d"),
               row_get(row, "name"));
    }
    json_object_put(rows);
    return 0;
}

static int apikey_revoke(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    const char *pos[1];
    int rc = simple_parse(argc, argv, NULL, pos, 1, NULL, &json, apikey_usage,
                          "apikey revoke takes one key, or the hint apikey list shows");
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    if (strncmp(pos[0], "wck_", 4) != 0 || strlen(pos[0]) < 12) {
        ctl_error("\"%.16s\" is neither an API key nor a key hint (wck_ and 8 or more hex digits)",
                  pos[0]);
        return CTL_EXIT_USAGE;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    switch (wc_store_revoke_api_key(ctl->store, pos[0], wc_time_now_ms())) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        ctl_error("no API key matches \"%.16s\"", pos[0]);
        return CTL_EXIT_NOT_FOUND;
    case WC_STORE_CONFLICT:
        ctl_error("the hint \"%s\" matches more than one key; give the whole key", pos[0]);
        return CTL_EXIT_USAGE;
    default:
        ctl_error("the database failed while revoking the key");
        return CTL_EXIT_INFRA;
    }
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "revoked", json_object_new_boolean(1));
        ctl_print_json(out);
    } else {
        /* Echo only the hint: the command line may hold the whole key. */
        printf("%.12s revoked\n", pos[0]);
    }
    char hint[13];
    snprintf(hint, sizeof(hint), "%.12s", pos[0]);
    audit(ctl, "apikey.revoke", hint, NULL, NULL);
    return 0;
}

static int tenant_secret(ctl_t *ctl, int argc, char **argv)
{
    bool json = false;
    const char *pos[1];
    int rc = simple_parse(argc, argv, NULL, pos, 1, NULL, &json, tenant_usage,
                          "tenant secret takes one tenant id");
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    if (ctl_store(ctl) == NULL) {
        return CTL_EXIT_INFRA;
    }
    char secret[256];
    switch (wc_store_tenant_webhook_secret(ctl->store, pos[0], secret, sizeof(secret))) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        ctl_error("no tenant with id \"%s\", or its secret cannot be opened with "
                  "WAVECOM_SECRETS_KEY",
                  pos[0]);
        return CTL_EXIT_NOT_FOUND;
    default:
        ctl_error("the database failed while reading the secret of %s", pos[0]);
        return CTL_EXIT_INFRA;
    }
    audit(ctl, "tenant.secret.show", pos[0], pos[0], NULL);
    if (json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(pos[0]));
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
    const char *pos[1];
    size_t n_pos = 0;
    if (ctl_parse(argc, argv, 3, opts, 5, pos, 1, &n_pos) != 0) {
        return CTL_EXIT_USAGE;
    }
    if (opts[4].present) {
        tenant_usage(stdout);
        return 0;
    }
    wc_tenant_limits_t l;
    if (n_pos != 1) {
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
    switch (wc_store_set_tenant_limits(ctl->store, pos[0], &l)) {
    case WC_STORE_OK:
        break;
    case WC_STORE_NOT_FOUND:
        ctl_error("no tenant with id \"%s\"", pos[0]);
        return CTL_EXIT_NOT_FOUND;
    default:
        ctl_error("the database failed while setting the limits of %s", pos[0]);
        return CTL_EXIT_INFRA;
    }
    char detail[96];
    snprintf(detail, sizeof(detail), "rps=%d nps=%d inFlight=%d", l.requests_per_second,
             l.notifications_per_second, l.max_in_flight);
    audit(ctl, "tenant.limits", pos[0], pos[0], detail);
    if (opts[3].present) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "id", json_object_new_string(pos[0]));
        json_object_object_add(out, "requestsPerSecond", json_object_new_int(l.requests_per_second));
        json_object_object_add(out, "notificationsPerSecond",
                               json_object_new_int(l.notifications_per_second));
        json_object_object_add(out, "maxInFlight", json_object_new_int(l.max_in_flight));
        ctl_print_json(out);
    } else {
        printf("%s limits: %s (-1: the default)\n", pos[0], detail);
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
                        sizeof(subcommands) / sizeof(subcommands[0]), tenant_usage);
}

int ctl_apikey_main(ctl_t *ctl, int argc, char **argv)
{
    static const ctl_subcommand_t subcommands[] = {
        {"create", apikey_create}, {"list", apikey_list}, {"revoke", apikey_revoke},
        {"usage", ctl_apikey_usage}, {"quota", ctl_apikey_quota}};
    return ctl_dispatch(ctl, argc, argv, "apikey", subcommands,
                        sizeof(subcommands) / sizeof(subcommands[0]), apikey_usage);
}
