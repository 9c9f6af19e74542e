/* Durations in logarithmic buckets; see wc_duration_histogram.h. */
#include "wc_duration_histogram.h"

#include <math.h>

#define STEPS_PER_DOUBLING 8

int wc_duration_bucket(int64_t ms)
{
    if (ms <= 1) {
        return 0;
    }
    int b = (int)floor(STEPS_PER_DOUBLING * log2((double)ms));
    /* log2 of an exact power of two is exact; elsewhere a result a hair
     * below the boundary is corrected against the boundary itself. */
    if (b + 1 < WC_DURATION_BUCKETS && (double)ms >= wc_duration_bucket_low(b + 1)) {
        b++;
    }
    return b < WC_DURATION_BUCKETS ? b : WC_DURATION_BUCKETS - 1;
}

double wc_duration_bucket_low(int b)
{
    return b <= 0 ? 0.0 : exp2((double)b / STEPS_PER_DOUBLING);
}

double wc_duration_bucket_high(int b)
{
    return b <= 0 ? exp2(1.0 / STEPS_PER_DOUBLING) : exp2((double)(b + 1) / STEPS_PER_DOUBLING);
}

void wc_duration_histogram_add(wc_duration_histogram_t *h, int64_t ms, int64_t count)
{
    h->counts[wc_duration_bucket(ms)] += count;
    h->n += count;
    h->sum_ms += (ms > 0 ? ms : 0) * count;
}

void wc_duration_histogram_add_bucket(wc_duration_histogram_t *h, int b, int64_t count)
{
    if (b < 0 || b >= WC_DURATION_BUCKETS || count <= 0) {
        return;
    }
    h->counts[b] += count;
    h->n += count;
}

void wc_duration_histogram_merge(wc_duration_histogram_t *into, const wc_duration_histogram_t *h)
{
    for (int b = 0; b < WC_DURATION_BUCKETS; b++) {
        into->counts[b] += h->counts[b];
    }
    into->n += h->n;
    into->sum_ms += h->sum_ms;
}

int64_t wc_duration_histogram_percentile(const wc_duration_histogram_t *h, int pct)
{
    int64_t total = 0;
    for (int b = 0; b < WC_DURATION_BUCKETS; b++) {
        total += h->counts[b];
    }
    if (total == 0) {
        return -1;
    }
    pct = pct < 1 ? 1 : pct > 100 ? 100 : pct;
    int64_t rank = (total * pct + 99) / 100;
    int64_t before = 0;
    for (int b = 0; b < WC_DURATION_BUCKETS; b++) {
        if (h->counts[b] > 0 && before + h->counts[b] >= rank) {
            double low = wc_duration_bucket_low(b);
            double high = wc_duration_bucket_high(b);
            double at = (double)(rank - before) / (double)h->counts[b];
            return llround(low + (high - low) * at);
        }
        before += h->counts[b];
    }
    return -1; /* not reached: rank <= total */
}

int64_t wc_duration_histogram_average(const wc_duration_histogram_t *h)
{
    return h->n > 0 ? (h->sum_ms + h->n / 2) / h->n : -1;
}
