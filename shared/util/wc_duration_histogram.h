/*
 * A histogram of durations in milliseconds with logarithmic buckets, eight
 * per doubling: bucket b > 0 holds [2^(b/8), 2^((b+1)/8)) ms, bucket 0 holds
 * [0, 1] ms. Any duration is kept within 9 % (one bucket's width) in a
 * fixed, small space, and histograms add up bucket by bucket, so the stats
 * counters keep one per minute and a reader merges the minutes it needs
 * (docs/READS.md, "Processing times").
 */
#ifndef WC_DURATION_HISTOGRAM_H
#define WC_DURATION_HISTOGRAM_H

#include <stdint.h>

/* 2^(192/8) ms is about 4.7 hours; longer durations fall in the last bucket. */
#define WC_DURATION_BUCKETS 192

typedef struct {
    int64_t n;      /* durations added */
    int64_t sum_ms; /* their sum, so the average is exact */
    int64_t counts[WC_DURATION_BUCKETS];
} wc_duration_histogram_t;

/* The bucket of a duration (negative durations count as 0). */
int wc_duration_bucket(int64_t ms);

/* The smallest and the first duration beyond bucket `b`, in milliseconds. */
double wc_duration_bucket_low(int b);
double wc_duration_bucket_high(int b);

/* Adds `count` durations of `ms`. */
void wc_duration_histogram_add(wc_duration_histogram_t *h, int64_t ms, int64_t count);

/* Adds `count` durations known only by their bucket `b` (as read back from a
 * counter document); `sum_ms` is added apart, by the caller, when known.
 * Out-of-range buckets are ignored. */
void wc_duration_histogram_add_bucket(wc_duration_histogram_t *h, int b, int64_t count);

/* Adds every duration of `h` (and its sum) to `into`. */
void wc_duration_histogram_merge(wc_duration_histogram_t *into, const wc_duration_histogram_t *h);

/* The duration at or below which `pct` percent (1-100) of the durations lie,
 * by nearest rank, placed inside its bucket by linear interpolation, rounded
 * to a millisecond; -1 when the histogram is empty. */
int64_t wc_duration_histogram_percentile(const wc_duration_histogram_t *h, int pct);

/* The average in milliseconds, rounded; -1 when empty. */
int64_t wc_duration_histogram_average(const wc_duration_histogram_t *h);

#endif
