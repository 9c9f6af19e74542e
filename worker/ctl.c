/*
 * wavecomctl: the operator's command line. Settings come from the same
 * WAVECOM_* environment as the services. What a script needs (an id, a key)
 * goes to stdout alone; everything said to a person goes to stderr.
 *
 * Exit codes: 0 done, 1 the database or broker failed, 2 usage error,
 * 3 not found.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>

#include "wc_config.h"
#include "wc_log.h"
#include "wc_store.h"
#include "wc_topology.h"

#define EXIT_INFRA 1
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 3

static const char *const roles[] = {"admin", "operator", "sender", "viewer", NULL};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  wavecomctl tenant create --name NAME\n"
            "      Creates a tenant and prints its id.\n"
            "  wavecomctl apikey create --tenant ID [--role ROLE] [--name NAME]\n"
            "      Creates an API key and prints it. It is shown this once: only its\n"
            "      SHA-256 is stored. ROLE is admin, operator, sender (default) or viewer.\n"
            "  wavecomctl config-table\n"
            "      Prints the WAVECOM_* configuration table as Markdown.\n"
            "  wavecomctl topology [--vhost VHOST]\n"
            "      Prints the RabbitMQ topology WaveCom declares, as a definitions file.\n\n");
    wc_config_print_help(out);
}

/* Finds "--flag value" among argv[from..]; NULL when absent. Sets *bad when
 * the flag is given without a value or an unknown flag appears. */
static const char *flag_value(int argc, char **argv, int from, const char *flag,
                              const char *const *known, bool *bad)
{
    const char *value = NULL;
    for (int i = from; i < argc; i++) {
        bool is_known = false;
        for (const char *const *k = known; *k != NULL; k++) {
            is_known = is_known || strcmp(argv[i], *k) == 0;
        }
        if (!is_known) {
            fprintf(stderr, "wavecomctl: unknown argument \"%s\"\n", argv[i]);
            *bad = true;
            return NULL;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "wavecomctl: %s needs a value\n", argv[i]);
            *bad = true;
            return NULL;
        }
        if (strcmp(argv[i], flag) == 0) {
            value = argv[i + 1];
        }
        i++;
    }
    return value;
}

static int tenant_create(wc_store_t *store, int argc, char **argv)
{
    static const char *const known[] = {"--name", NULL};
    bool bad = false;
    const char *name = flag_value(argc, argv, 3, "--name", known, &bad);
    if (bad || name == NULL || name[0] == '\0' || strlen(name) > 200) {
        fprintf(stderr, "wavecomctl: tenant create needs --name NAME (1 to 200 characters)\n");
        return EXIT_USAGE;
    }
    char id[25];
    if (wc_store_create_tenant(store, name, id) != WC_STORE_OK) {
        fprintf(stderr, "wavecomctl: could not create the tenant (is the database up?)\n");
        return EXIT_INFRA;
    }
    printf("%s\n", id);
    fprintf(stderr, "tenant \"%s\" created\n", name);
    return 0;
}

static int apikey_create(wc_store_t *store, int argc, char **argv)
{
    static const char *const known[] = {"--tenant", "--role", "--name", NULL};
    bool bad = false;
    const char *tenant = flag_value(argc, argv, 3, "--tenant", known, &bad);
    const char *role = bad ? NULL : flag_value(argc, argv, 3, "--role", known, &bad);
    const char *name = bad ? NULL : flag_value(argc, argv, 3, "--name", known, &bad);
    if (bad || tenant == NULL) {
        fprintf(stderr, "wavecomctl: apikey create needs --tenant ID\n");
        return EXIT_USAGE;
    }
    role = role != NULL ? role : "sender";
    bool role_ok = false;
    for (const char *const *r = roles; *r != NULL; r++) {
        role_ok = role_ok || strcmp(*r, role) == 0;
    }
    if (!role_ok) {
        fprintf(stderr, "wavecomctl: --role must be admin, operator, sender or viewer\n");
        return EXIT_USAGE;
    }
    char key[128];
    switch (wc_store_create_api_key(store, tenant, role, name != NULL ? name : "", key,
                                    sizeof(key))) {
    case WC_STORE_OK:
        printf("%s\n", key);
        fprintf(stderr, "API key created for tenant %s with role %s; it is not shown again\n",
                tenant, role);
        return 0;
    case WC_STORE_NOT_FOUND:
        fprintf(stderr, "wavecomctl: no enabled tenant with id \"%s\"\n", tenant);
        return EXIT_NOT_FOUND;
    default:
        fprintf(stderr, "wavecomctl: could not create the API key (is the database up?)\n");
        return EXIT_INFRA;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "config-table") == 0) {
        wc_config_print_markdown(stdout);
        return 0;
    }
    if (strcmp(argv[1], "topology") == 0) {
        static const char *const known[] = {"--vhost", NULL};
        bool bad = false;
        const char *vhost = flag_value(argc, argv, 2, "--vhost", known, &bad);
        wc_config_t cfg;
        char err[512];
        if (bad || wc_config_load(&cfg, err, sizeof(err)) != 0) {
            if (!bad) {
                fprintf(stderr, "wavecomctl: configuration error: %s\n", err);
            }
            return EXIT_USAGE;
        }
        json_object *defs = wc_topology_definitions(cfg.queue_type, vhost != NULL ? vhost : "/");
        printf("%s\n", json_object_to_json_string_ext(defs, JSON_C_TO_STRING_PRETTY |
                                                                JSON_C_TO_STRING_SPACED |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(defs);
        return 0;
    }
    bool tenant_cmd = argc >= 3 && strcmp(argv[1], "tenant") == 0 && strcmp(argv[2], "create") == 0;
    bool apikey_cmd = argc >= 3 && strcmp(argv[1], "apikey") == 0 && strcmp(argv[2], "create") == 0;
    if (!tenant_cmd && !apikey_cmd) {
        fprintf(stderr, "wavecomctl: unknown command \"%s%s%s\"; see wavecomctl --help\n", argv[1],
                argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
        return EXIT_USAGE;
    }

    wc_config_t cfg;
    char err[512];
    if (wc_config_load(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "wavecomctl: configuration error: %s\n", err);
        return EXIT_USAGE;
    }
    wc_log_level_t level = WC_LOG_WARN;
    wc_log_init("ctl", level);

    mongoc_init();
    int rc = EXIT_INFRA;
    wc_store_t *store = wc_store_open(cfg.mongodb_uri, cfg.mongodb_db, "wavecomctl", err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "wavecomctl: WAVECOM_MONGODB_URI: %s\n", err);
    } else {
        rc = tenant_cmd ? tenant_create(store, argc, argv) : apikey_create(store, argc, argv);
    }
    wc_store_close(store);
    mongoc_cleanup();
    return rc;
}
