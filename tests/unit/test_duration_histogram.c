/* wc_duration_histogram: buckets, percentiles within a bucket's width, and
 * histograms that add up as the stats counters add them. */
#include "unit_test.h"

#include <math.h>
#include <stdlib.h>

#include "wc_duration_histogram.h"

/* One bucket's width as a ratio: eight buckets per doubling. */
#define WIDTH 1.0905077326652577

static void every_duration_falls_inside_its_bucket(void **state)
{
    (void)state;
    int previous = 0;
    for (int64_t ms = 0; ms < 200000; ms += ms < 5000 ? 1 : 97) {
        int b = wc_duration_bucket(ms);
        assert_true(b >= previous); /* buckets never go back as durations grow */
        previous = b;
        assert_true((double)ms >= wc_duration_bucket_low(b));
        assert_true((double)ms < wc_duration_bucket_high(b) || ms <= 1);
    }
    assert_int_equal(wc_duration_bucket(-5), 0);
    assert_int_equal(wc_duration_bucket(256), 64); /* 2^8 starts bucket 8 * 8 */
    assert_int_equal(wc_duration_bucket(INT64_MAX), WC_DURATION_BUCKETS - 1);
}

static void an_empty_histogram_has_no_percentile_or_average(void **state)
{
    (void)state;
    wc_duration_histogram_t h = {0};
    assert_int_equal(wc_duration_histogram_percentile(&h, 50), -1);
    assert_int_equal(wc_duration_histogram_average(&h), -1);
}

/* The exact nearest-rank percentile of sorted values. */
static int64_t exact(const int64_t *sorted, size_t n, int pct)
{
    size_t rank = (n * (size_t)pct + 99) / 100;
    return sorted[rank - 1];
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void percentiles_are_within_one_bucket_and_the_average_is_exact(void **state)
{
    (void)state;
    enum { N = 1000 };
    int64_t values[N];
    wc_duration_histogram_t h = {0};
    int64_t sum = 0;
    srand(7);
    for (size_t i = 0; i < N; i++) {
        /* Deliveries of 200 ms doubles with a long tail. */
        values[i] = 200 + rand() % 60 + (i % 50 == 0 ? 3000 + rand() % 2000 : 0);
        wc_duration_histogram_add(&h, values[i], 1);
        sum += values[i];
    }
    qsort(values, N, sizeof(values[0]), by_value);
    assert_int_equal(h.n, N);
    assert_int_equal(wc_duration_histogram_average(&h), (sum + N / 2) / N);
    const int pcts[] = {1, 50, 90, 95, 98, 99, 100};
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        double want = (double)exact(values, N, pcts[i]);
        double got = (double)wc_duration_histogram_percentile(&h, pcts[i]);
        assert_true(got >= floor(want / WIDTH));
        assert_true(got <= ceil(want * WIDTH));
    }
}

static void histograms_read_back_by_bucket_add_up(void **state)
{
    (void)state;
    /* Two minutes' documents merged by a reader give the histogram of both. */
    wc_duration_histogram_t minute1 = {0}, minute2 = {0}, both = {0}, merged = {0};
    const int64_t first[] = {120, 130, 5000};
    const int64_t second[] = {90, 125, 125, 60000};
    for (size_t i = 0; i < 3; i++) {
        wc_duration_histogram_add(&minute1, first[i], 1);
        wc_duration_histogram_add(&both, first[i], 1);
    }
    for (size_t i = 0; i < 4; i++) {
        wc_duration_histogram_add(&minute2, second[i], 1);
        wc_duration_histogram_add(&both, second[i], 1);
    }
    const wc_duration_histogram_t *minutes[] = {&minute1, &minute2};
    for (size_t m = 0; m < 2; m++) {
        for (int b = 0; b < WC_DURATION_BUCKETS; b++) {
            wc_duration_histogram_add_bucket(&merged, b, minutes[m]->counts[b]);
        }
        merged.sum_ms += minutes[m]->sum_ms;
    }
    assert_int_equal(merged.n, both.n);
    assert_int_equal(merged.sum_ms, both.sum_ms);
    assert_memory_equal(merged.counts, both.counts, sizeof(both.counts));
    assert_int_equal(wc_duration_histogram_percentile(&merged, 50),
                     wc_duration_histogram_percentile(&both, 50));
    /* Buckets out of range, and counts that are not positive, are ignored. */
    wc_duration_histogram_add_bucket(&merged, -1, 5);
    wc_duration_histogram_add_bucket(&merged, WC_DURATION_BUCKETS, 5);
    wc_duration_histogram_add_bucket(&merged, 3, 0);
    assert_int_equal(merged.n, both.n);

    /* Merging whole histograms gives the same. */
    wc_duration_histogram_t whole = {0};
    wc_duration_histogram_merge(&whole, &minute1);
    wc_duration_histogram_merge(&whole, &minute2);
    assert_int_equal(whole.n, both.n);
    assert_int_equal(whole.sum_ms, both.sum_ms);
    assert_memory_equal(whole.counts, both.counts, sizeof(both.counts));
}

UNIT_TEST_MAIN(cmocka_unit_test(every_duration_falls_inside_its_bucket),
               cmocka_unit_test(an_empty_histogram_has_no_percentile_or_average),
               cmocka_unit_test(percentiles_are_within_one_bucket_and_the_average_is_exact),
               cmocka_unit_test(histograms_read_back_by_bucket_add_up))
