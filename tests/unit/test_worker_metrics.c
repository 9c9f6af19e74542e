#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"

/* Renders the series into a new string the caller frees. */
static char *render(const worker_metrics_t *m, const worker_breakers_t *b)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(worker_metrics_render(m, b, out), 0);
    assert_int_equal(fclose(out), 0);
    return text;
}

static void assert_has_line(const char *text, const char *line)
{
    char wanted[256];
    snprintf(wanted, sizeof(wanted), "\n%s\n", line);
    if (strstr(text, wanted) == NULL) {
        fail_msg("missing line %s in:\n%s", line, text);
    }
}

/* The master's shared memory that a test counts into: mapped before the test, unmapped after. */
typedef struct {
    worker_metrics_t *metrics;
    worker_breakers_t *breakers;
} shared_maps_t;

static int unmap_shared(void **state)
{
    shared_maps_t *maps = *state;
    worker_metrics_unmap(maps->metrics);
    worker_breakers_unmap(maps->breakers);
    return 0;
}

static int map_shared(void **state)
{
    static shared_maps_t maps;
    maps.metrics = worker_metrics_map();
    maps.breakers = worker_breakers_map();
    *state = &maps;
    if (maps.metrics == NULL || maps.breakers == NULL) {
        unmap_shared(state); /* cmocka runs no teardown after a failed setup */
        return -1;
    }
    return 0;
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(worker_metrics_write_label(out, "a\\b\"c\nd"), 0);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(text, "a\\\\b\\\"c\\nd");
    free(text);
}

static void histograms_are_cumulative_and_count_every_observation(void **state)
{
    const shared_maps_t *maps = *state;
    worker_metrics_t *m = maps->metrics;
    const worker_breakers_t *b = maps->breakers;
    worker_metrics_observe_processing(m, 5);      /* on the 0.005 bound: in that bucket */
    worker_metrics_observe_processing(m, 300);    /* 0.5 */
    worker_metrics_observe_processing(m, 120000); /* beyond the last bound: +Inf only */
    worker_metrics_observe_provider(m, PROVIDER_TWILIO, WORKER_PROVIDER_TRANSIENT, 20);
    char *text = render(m, b);
    assert_has_line(text, "notification_processing_duration_seconds_bucket{le=\"0.005\"} 1");
    assert_has_line(text, "notification_processing_duration_seconds_bucket{le=\"0.25\"} 1");
    assert_has_line(text, "notification_processing_duration_seconds_bucket{le=\"0.5\"} 2");
    assert_has_line(text, "notification_processing_duration_seconds_bucket{le=\"60\"} 2");
    assert_has_line(text, "notification_processing_duration_seconds_bucket{le=\"+Inf\"} 3");
    assert_has_line(text, "notification_processing_duration_seconds_count 3");
    assert_has_line(text, "notification_processing_duration_seconds_sum 120.305000");
    assert_has_line(text, "provider_request_duration_seconds_count{provider=\"twilio\"} 1");
    assert_has_line(text, "provider_requests_total{provider=\"twilio\",outcome=\"transient\"} 1");
    assert_has_line(text, "# TYPE notification_processing_duration_seconds histogram");
    free(text);
}

/* What a child adds survives the child: the memory is the master's. */
static void counts_of_a_dead_child_remain(void **state)
{
    const shared_maps_t *maps = *state;
    worker_metrics_t *m = maps->metrics;
    const worker_breakers_t *b = maps->breakers;
    worker_metrics_count_sent(m, WC_CHANNEL_SMS);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        worker_metrics_count_sent(m, WC_CHANNEL_SMS);
        worker_metrics_count_failed(m, WC_CHANNEL_EMAIL);
        worker_metrics_count_retry(m, 1);
        worker_metrics_set_in_flight(m, 3, 7);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    worker_metrics_count_restart(m);
    worker_metrics_count_retry(m, WORKER_METRICS_MAX_TIERS); /* out of range: ignored */
    char *text = render(m, b);
    assert_has_line(text, "notifications_sent_total{type=\"SMS\"} 2");
    assert_has_line(text, "notifications_failed_total{type=\"EMAIL\"} 1");
    assert_has_line(text, "notification_retries_total{tier=\"25s\"} 1");
    assert_has_line(text, "deliveries_in_flight 7");
    assert_has_line(text, "worker_child_restarts_total 1");
    assert_has_line(text, "circuit_breaker_state{provider=\"smtp\"} 0");
    assert_null(strstr(text, "webhook:"));
    free(text);
}

UNIT_TEST_MAIN(cmocka_unit_test(label_values_are_escaped),
               cmocka_unit_test_setup_teardown(
                   histograms_are_cumulative_and_count_every_observation, map_shared, unmap_shared),
               cmocka_unit_test_setup_teardown(counts_of_a_dead_child_remain, map_shared,
                                               unmap_shared))
