/* api/recent_minutes.c against a reader that serves a table of minutes and
 * records what it was asked: a request within one minute reads only the
 * two newest minutes, the closed ones are read again when the window moves,
 * the sum is the same as reading the whole window, a failed read is not
 * kept, and a full cache evicts the tenant used least recently. */
#include "unit_test.h"

#include <string.h>

#include "recent_minutes.h"

#define MINUTE 60000LL
#define NOW (1000LL * 60 * MINUTE + 30000) /* half past the start of a minute */

typedef struct {
    int64_t created[2 * API_RECENT_MINUTES + 4]; /* by minute, from BASE */
    int64_t processing_ms;                       /* every delivery took this long */
    int reads;
    int64_t last_since, last_until;
    int fail_next;
} source_t;

/* The minute the table starts at: early enough for two windows. */
#define BASE ((NOW / MINUTE - 2 * API_RECENT_MINUTES) * MINUTE)

static wc_store_status_t fake_read(void *arg, const char *tenant_id, int64_t since, int64_t until,
                                   void (*each)(const wc_throughput_minute_t *, void *),
                                   void *each_arg, wc_duration_histogram_t *times)
{
    source_t *s = arg;
    (void)tenant_id;
    s->reads++;
    s->last_since = since;
    s->last_until = until;
    if (s->fail_next > 0) {
        s->fail_next--;
        return WC_STORE_ERROR;
    }
    for (int64_t m = since; m < until; m += MINUTE) {
        int64_t i = (m - BASE) / MINUTE;
        if (i < 0 || i >= (int64_t)(sizeof(s->created) / sizeof(s->created[0])) ||
            s->created[i] == 0) {
            continue;
        }
        wc_throughput_minute_t row = {.start_ms = m, .created = s->created[i],
                                      .sent = s->created[i]};
        if (each != NULL) {
            each(&row, each_arg);
        }
        if (times != NULL) {
            wc_duration_histogram_add(times, s->processing_ms, s->created[i]);
        }
    }
    return WC_STORE_OK;
}

static void add_created(const wc_throughput_minute_t *m, void *arg)
{
    *(int64_t *)arg += m->created;
}

/* What reading the whole window at `now` straight from the source gives. */
static int64_t whole_window(source_t *s, int64_t now, wc_duration_histogram_t *times)
{
    int64_t start, end, total = 0;
    api_recent_window(now, &start, &end);
    int reads = s->reads;
    assert_int_equal(fake_read(s, "t", start, end, add_created, &total, times), WC_STORE_OK);
    s->reads = reads;
    return total;
}

/* A source with every minute filled, and a cache of `tenants` over it. */
static api_recent_minutes_t *cache_over(source_t *s, size_t tenants)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < sizeof(s->created) / sizeof(s->created[0]); i++) {
        s->created[i] = (int64_t)(i % 7) + 1;
    }
    s->processing_ms = 250;
    api_recent_minutes_t *c = api_recent_minutes_new(tenants, fake_read, s);
    assert_non_null(c);
    return c;
}

static void a_request_within_the_minute_reads_only_the_newest_two(void **state)
{
    (void)state;
    source_t s;
    api_recent_minutes_t *c = cache_over(&s, 4);
    int64_t start, end;
    api_recent_window(NOW, &start, &end);

    wc_duration_histogram_t times = {0}, expected_times = {0};
    int64_t total = 0;
    assert_int_equal(api_recent_minutes_read(c, "t", NOW, add_created, &total, &times),
                     WC_STORE_OK);
    assert_int_equal(s.reads, 2); /* the closed minutes, then the open ones */
    assert_int_equal(total, whole_window(&s, NOW, &expected_times));
    assert_int_equal(times.n, expected_times.n);
    assert_int_equal(times.sum_ms, expected_times.sum_ms);

    /* A change in the current minute shows at once; one read, of two minutes. */
    s.created[(end - MINUTE - BASE) / MINUTE] += 100;
    total = 0;
    memset(&times, 0, sizeof(times));
    assert_int_equal(api_recent_minutes_read(c, "t", NOW + 20000, add_created, &total, &times),
                     WC_STORE_OK);
    assert_int_equal(s.reads, 3);
    assert_int_equal(s.last_since, end - 2 * MINUTE);
    assert_int_equal(s.last_until, end);
    memset(&expected_times, 0, sizeof(expected_times));
    assert_int_equal(total, whole_window(&s, NOW, &expected_times));
    assert_int_equal(times.n, expected_times.n);
    api_recent_minutes_free(c);
}

static void the_closed_minutes_are_read_again_when_the_window_moves(void **state)
{
    (void)state;
    source_t s;
    api_recent_minutes_t *c = cache_over(&s, 4);
    int64_t total = 0;
    assert_int_equal(api_recent_minutes_read(c, "t", NOW, add_created, &total, NULL),
                     WC_STORE_OK);
    /* A late change to a minute already closed is not seen in this minute ... */
    int64_t start, end;
    api_recent_window(NOW, &start, &end);
    s.created[(start + 5 * MINUTE - BASE) / MINUTE] += 1000;
    int64_t same_minute = 0;
    assert_int_equal(api_recent_minutes_read(c, "t", NOW + 1000, add_created, &same_minute, NULL),
                     WC_STORE_OK);
    assert_int_equal(same_minute, total);
    /* ... and is once the window moves on: the closed part is read again. */
    int reads = s.reads;
    int64_t next = 0;
    assert_int_equal(api_recent_minutes_read(c, "t", NOW + MINUTE, add_created, &next, NULL),
                     WC_STORE_OK);
    assert_int_equal(s.reads, reads + 2);
    assert_int_equal(next, whole_window(&s, NOW + MINUTE, &(wc_duration_histogram_t){0}));
    api_recent_minutes_free(c);
}

static void a_failed_read_is_returned_and_not_kept(void **state)
{
    (void)state;
    source_t s;
    api_recent_minutes_t *c = cache_over(&s, 4);
    int64_t total = 0;
    s.fail_next = 1;
    assert_int_equal(api_recent_minutes_read(c, "t", NOW, add_created, &total, NULL),
                     WC_STORE_ERROR);
    assert_int_equal(s.reads, 1);
    total = 0;
    assert_int_equal(api_recent_minutes_read(c, "t", NOW, add_created, &total, NULL),
                     WC_STORE_OK);
    assert_int_equal(s.reads, 3); /* the closed part was read again */
    assert_int_equal(total, whole_window(&s, NOW, &(wc_duration_histogram_t){0}));
    api_recent_minutes_free(c);
}

static void a_full_cache_evicts_the_tenant_used_least_recently(void **state)
{
    (void)state;
    source_t s;
    api_recent_minutes_t *c = cache_over(&s, 2);
    const char *order[] = {"a", "b", "a", "c", "a", "b"};
    const int reads_after[] = {2, 4, 5, 7, 8, 10}; /* "b" was evicted by "c" */
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        assert_int_equal(api_recent_minutes_read(c, order[i], NOW, NULL, NULL, NULL),
                         WC_STORE_OK);
        assert_int_equal(s.reads, reads_after[i]);
    }
    /* A tenant id too long to key on is read whole, in one read. */
    char long_id[200];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(api_recent_minutes_read(c, long_id, NOW, NULL, NULL, NULL), WC_STORE_OK);
    assert_int_equal(s.reads, 11);
    api_recent_minutes_free(c);
}

UNIT_TEST_MAIN(cmocka_unit_test(a_request_within_the_minute_reads_only_the_newest_two),
               cmocka_unit_test(the_closed_minutes_are_read_again_when_the_window_moves),
               cmocka_unit_test(a_failed_read_is_returned_and_not_kept),
               cmocka_unit_test(a_full_cache_evicts_the_tenant_used_least_recently))
