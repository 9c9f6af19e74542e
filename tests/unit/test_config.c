#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_apply_without_environment, clear_env),
        cmocka_unit_test_setup_teardown(environment_overrides_defaults, clear_env, clear_env),
        cmocka_unit_test_setup(bad_values_are_rejected_by_name, clear_env),
        cmocka_unit_test_setup(secrets_come_from_files, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
