#include "unit_test.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wc_config.h"

static int clear_env(void **state)
{
    static const char *const vars[] = {"WAVECOM_API_PORT", "WAVECOM_QUEUE_TYPE", "WAVECOM_AMQP_URL",
                                       "WAVECOM_MONGODB_DB", "WAVECOM_WORKER_PROCESSES"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
    return 0;
}

static void defaults_apply_without_environment(void **state)
{
    wc_config_t cfg;
    char err[256] = "";
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.api_port, 5000);
    assert_string_equal(cfg.queue_type, "quorum");
    assert_string_equal(cfg.mongodb_db, "wavecom");
    assert_int_equal(cfg.max_retries, 3);
    assert_true(cfg.worker_processes >= 1); /* 0 means one per core */
    assert_int_equal(cfg.usage_flush_seconds, 5);
    assert_int_equal(cfg.usage_retention_days, 90);
    assert_int_equal(cfg.quota_chunk, 20);
}

static void environment_overrides_defaults(void **state)
{
    setenv("WAVECOM_API_PORT", "8080", 1);
    setenv("WAVECOM_QUEUE_TYPE", "classic", 1);
    setenv("WAVECOM_WORKER_PROCESSES", "3", 1);
    wc_config_t cfg;
    char err[256] = "";
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.api_port, 8080);
    assert_string_equal(cfg.queue_type, "classic");
    assert_int_equal(cfg.worker_processes, 3);
}

static void expect_rejected(const char *var, const char *value)
{
    setenv(var, value, 1);
    wc_config_t cfg;
    memset(&cfg, 0x5a, sizeof(cfg));
    wc_config_t before = cfg;
    char err[256] = "";
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), -1);
    /* The message names the variable, and nothing was applied. */
    if (strstr(err, var) == NULL) {
        fail_msg("error \"%s\" does not name %s", err, var);
    }
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    unsetenv(var);
}

static void bad_values_are_rejected_by_name(void **state)
{
    expect_rejected("WAVECOM_API_PORT", "http");
    expect_rejected("WAVECOM_API_PORT", "70000");
    expect_rejected("WAVECOM_API_PORT", "80x");
    expect_rejected("WAVECOM_QUEUE_TYPE", "stream");
    expect_rejected("WAVECOM_AMQP_URL", "http://localhost");
    expect_rejected("WAVECOM_AMQP_URL", "amqp://127.0.0.1:5682/,http://127.0.0.1:5683/");
    expect_rejected("WAVECOM_MONGODB_DB", "a/b");
    expect_rejected("WAVECOM_USAGE_FLUSH_SECONDS", "0");
    expect_rejected("WAVECOM_USAGE_RETENTION_DAYS", "0");
    expect_rejected("WAVECOM_QUOTA_CHUNK", "0");
    expect_rejected("WAVECOM_TEST_CLOCK_OFFSET_SECONDS", "40000000");
}

static void secrets_come_from_files(void **state)
{
    char path[] = "/tmp/wavecom-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "s3cret-token\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    setenv("WAVECOM_TWILIO_AUTH_TOKEN_FILE", path, 1);
    wc_config_t cfg;
    char err[256] = "";
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.twilio_auth_token, "s3cret-token"); /* without its line break */

    setenv("WAVECOM_TWILIO_AUTH_TOKEN", "also", 1);
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WAVECOM_TWILIO_AUTH_TOKEN_FILE"));
    unsetenv("WAVECOM_TWILIO_AUTH_TOKEN");

    setenv("WAVECOM_TWILIO_AUTH_TOKEN_FILE", "/nonexistent/secret", 1);
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WAVECOM_TWILIO_AUTH_TOKEN_FILE"));
    unsetenv("WAVECOM_TWILIO_AUTH_TOKEN_FILE");
    unlink(path);
}

/* The secrets of the table; a row that loses or gains the flag fails here. */
static const struct {
    const char *name;
    const char *value; /* valid, and easy to find in output */
} secrets[] = {
    {"WAVECOM_MONGODB_URI", "mongodb://app:hunter2mongo@127.0.0.1:27017"},
    {"WAVECOM_AMQP_URL", "amqp://app:hunter2amqp@127.0.0.1:5672/"},
    {"WAVECOM_SMTP_PASSWORD", "hunter2smtp"},
    {"WAVECOM_TWILIO_AUTH_TOKEN", "hunter2twilio"},
    {"WAVECOM_VONAGE_API_SECRET", "hunter2vonage"},
    {"WAVECOM_SECRETS_KEY", "abababababababababababababababababababababababababababababababab"},
    {"WAVECOM_JWT_SECRET", "hunter2jwt-0123456789abcdef0123456789"},
    {"WAVECOM_UNSUBSCRIBE_SECRET", "unsubscribe-0123456789abcdef0123456789"},
};
#define N_SECRETS (sizeof(secrets) / sizeof(secrets[0]))

static bool listed_secret(const char *name)
{
    for (size_t i = 0; i < N_SECRETS; i++) {
        if (strcmp(secrets[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

static int clear_secrets(void **state)
{
    for (size_t i = 0; i < N_SECRETS; i++) {
        unsetenv(secrets[i].name);
    }
    return clear_env(state);
}

static void every_secret_row_is_masked(void **state)
{
    for (size_t i = 0; i < N_SECRETS; i++) {
        setenv(secrets[i].name, secrets[i].value, 1);
    }
    wc_config_t cfg;
    char err[256] = "";
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), 0);
    size_t flagged = 0;
    for (size_t i = 0; i < wc_config_count(); i++) {
        const char *name = wc_config_name(i);
        char shown[WC_CONFIG_STR_MAX + 16];
        assert_int_equal(wc_config_display_value(&cfg, name, shown, sizeof(shown)), 0);
        if (wc_config_is_secret(name) != listed_secret(name)) {
            fail_msg("%s: secret flag %d", name, wc_config_is_secret(name));
        }
        if (wc_config_is_secret(name)) {
            flagged++;
            assert_string_equal(shown, WC_CONFIG_MASK);
        } else {
            assert_string_not_equal(shown, WC_CONFIG_MASK);
        }
        /* No row shows any secret's value, or a part of it. */
        for (size_t s = 0; s < N_SECRETS; s++) {
            if (strstr(shown, "hunter2") != NULL || strstr(shown, secrets[s].value) != NULL) {
                fail_msg("%s shows a secret: %s", name, shown);
            }
        }
    }
    assert_int_equal(flagged, N_SECRETS);
    /* A secret that is not set shows as empty, not as the mask. */
    clear_secrets(state);
    assert_int_equal(wc_config_load(&cfg, err, sizeof(err)), 0);
    char shown[64];
    assert_int_equal(wc_config_display_value(&cfg, "WAVECOM_SMTP_PASSWORD", shown, sizeof(shown)), 0);
    assert_string_equal(shown, "");
    assert_int_equal(wc_config_display_value(&cfg, "WAVECOM_API_PORT", shown, sizeof(shown)), 0);
    assert_string_equal(shown, "5000");
    assert_int_equal(wc_config_display_value(&cfg, "WAVECOM_NO_SUCH", shown, sizeof(shown)), -1);
}

/* The configuration table in docs/CONFIGURATION.md says which variables may
 * come from a file: exactly the secret rows. */
static void the_table_names_each_secrets_file(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    wc_config_print_markdown(out);
    assert_int_equal(fclose(out), 0);
    for (size_t i = 0; i < wc_config_count(); i++) {
        const char *name = wc_config_name(i);
        char row[96], note[160];
        snprintf(row, sizeof(row), "| `%s` |", name);
        snprintf(note, sizeof(note), "Secret: or from the file named by %s_FILE.", name);
        const char *start = strstr(text, row);
        assert_non_null(start);
        const char *end = strchr(start, '\n');
        assert_non_null(end);
        const char *found = strstr(start, note);
        bool in_row = found != NULL && found < end;
        if (in_row != wc_config_is_secret(name)) {
            fail_msg("%s: the table's secret note is %s", name, in_row ? "there" : "missing");
        }
    }
    free(text);
}

/* The rows a running worker master keeps until it restarts. */
static void a_non_reloadable_row_is_refused_on_reload(void **state)
{
    static const char *const fixed[] = {"WAVECOM_WORKER_PROCESSES", "WAVECOM_WORKER_METRICS_HOST",
                                        "WAVECOM_WORKER_METRICS_PORT"};
    size_t n_fixed = 0;
    for (size_t i = 0; i < wc_config_count(); i++) {
        const char *name = wc_config_name(i);
        bool listed = false;
        for (size_t f = 0; f < sizeof(fixed) / sizeof(fixed[0]); f++) {
            listed = listed || strcmp(fixed[f], name) == 0;
        }
        if (wc_config_is_reloadable(name) == listed) {
            fail_msg("%s: reloadable flag %d", name, wc_config_is_reloadable(name));
        }
        n_fixed += listed ? 1 : 0;
    }
    assert_int_equal(n_fixed, sizeof(fixed) / sizeof(fixed[0]));
    assert_false(wc_config_is_reloadable("WAVECOM_NO_SUCH"));

    wc_config_t current;
    char err[256] = "";
    assert_int_equal(wc_config_load(&current, err, sizeof(err)), 0);
    wc_config_t next = current;
    next.worker_processes = current.worker_processes + 1;
    next.worker_metrics_port = current.worker_metrics_port + 1;
    next.max_retries = current.max_retries == 3 ? 5 : 3;
    snprintf(next.smtp_host, sizeof(next.smtp_host), "%s", "mail.example.test");
    int old_processes = current.worker_processes;
    int old_port = current.worker_metrics_port;
    char kept[256];
    assert_int_equal(wc_config_reload(&current, &next, kept, sizeof(kept)), 2);
    assert_string_equal(kept, "WAVECOM_WORKER_PROCESSES, WAVECOM_WORKER_METRICS_PORT");
    /* The refused rows keep their values; the others take the new ones. */
    assert_int_equal(current.worker_processes, old_processes);
    assert_int_equal(current.worker_metrics_port, old_port);
    assert_int_equal(current.max_retries, next.max_retries);
    assert_string_equal(current.smtp_host, "mail.example.test");
    /* Nothing refused: nothing listed. */
    next = current;
    next.max_retries = 1;
    assert_int_equal(wc_config_reload(&current, &next, kept, sizeof(kept)), 0);
    assert_string_equal(kept, "");
    assert_int_equal(current.max_retries, 1);
}

UNIT_TEST_MAIN(cmocka_unit_test_setup(defaults_apply_without_environment, clear_env),
               cmocka_unit_test_setup_teardown(environment_overrides_defaults, clear_env,
                                               clear_env),
               cmocka_unit_test_setup(bad_values_are_rejected_by_name, clear_env),
               cmocka_unit_test_setup(secrets_come_from_files, clear_env),
               cmocka_unit_test_setup_teardown(every_secret_row_is_masked, clear_secrets,
                                               clear_secrets),
               cmocka_unit_test(the_table_names_each_secrets_file),
               cmocka_unit_test_setup(a_non_reloadable_row_is_refused_on_reload, clear_env))
