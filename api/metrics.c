#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds (seconds) of the request duration histogram. */
static const double duration_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,   1,    2.5,   5,    10};
#define BUCKETS (sizeof(duration_buckets) / sizeof(duration_buckets[0]))

/* Ceilings on the series; beyond them observations are still counted in
 * the catch-all "other" series. */
#define MAX_COUNTERS 256
#define MAX_HISTOGRAMS 64

/* The labels of the catch-all series. */
static const char *const other_method = "OTHER";
static const char *const other_route = "other";

typedef struct {
    const char *method;
    const char *route;
    unsigned status;
    uint64_t count;
} counter_t;

typedef struct {
    const char *method;
    const char *route;
    uint64_t buckets[BUCKETS];
    uint64_t count;
    double sum;
} histogram_t;

struct api_metrics {
    pthread_mutex_t lock;
    counter_t counters[MAX_COUNTERS];
    size_t counter_count;
    histogram_t histograms[MAX_HISTOGRAMS];
    size_t histogram_count;
    uint64_t created[WC_CHANNEL_COUNT];
};

api_metrics_t *api_metrics_new(void)
{
    api_metrics_t *m = calloc(1, sizeof(*m));
    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void api_metrics_free(api_metrics_t *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const char *known_method(const char *method)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                          "OPTIONS", NULL};
    for (const char *const *m = methods; *m != NULL; m++) {
        if (strcmp(*m, method) == 0) {
            return *m;
        }
    }
    return other_method;
}

void api_metrics_observe_http(api_metrics_t *m, const char *method, const char *route,
                              unsigned status, double seconds)
{
    method = known_method(method);
    pthread_mutex_lock(&m->lock);
    counter_t *c = NULL;
    for (size_t i = 0; i < m->counter_count && c == NULL; i++) {
        counter_t *x = &m->counters[i];
        if (x->method == method && x->route == route && x->status == status) {
            c = x;
        }
    }
    if (c == NULL) {
        c = &m->counters[m->counter_count < MAX_COUNTERS - 1 ? m->counter_count++
                                                             : MAX_COUNTERS - 1];
        if (c != &m->counters[MAX_COUNTERS - 1]) {
            *c = (counter_t){.method = method, .route = route, .status = status};
        } else {
            m->counter_count = MAX_COUNTERS;
            c->method = other_method;
            c->route = other_route;
            c->status = 0;
        }
    }
    c->count++;

    histogram_t *h = NULL;
    for (size_t i = 0; i < m->histogram_count && h == NULL; i++) {
        if (m->histograms[i].method == method && m->histograms[i].route == route) {
            h = &m->histograms[i];
        }
    }
    if (h == NULL) {
        h = &m->histograms[m->histogram_count < MAX_HISTOGRAMS - 1 ? m->histogram_count++
                                                                   : MAX_HISTOGRAMS - 1];
        if (h != &m->histograms[MAX_HISTOGRAMS - 1]) {
            h->method = method;
            h->route = route;
        } else {
            m->histogram_count = MAX_HISTOGRAMS;
            h->method = other_method;
            h->route = other_route;
        }
    }
    for (size_t b = 0; b < BUCKETS; b++) {
        h->buckets[b] += seconds <= duration_buckets[b];
    }
    h->count++;
    h->sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void api_metrics_count_created(api_metrics_t *m, wc_channel_t type)
{
    pthread_mutex_lock(&m->lock);
    m->created[type]++;
    pthread_mutex_unlock(&m->lock);
}

void api_text_buf_init(api_text_buf_t *buf, size_t max)
{
    memset(buf, 0, sizeof(*buf));
    buf->max = max;
}

void api_text_printf(api_text_buf_t *buf, const char *fmt, ...)
{
    if (buf->overflow) {
        return;
    }
    for (;;) {
        size_t room = buf->cap - buf->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf->data != NULL ? buf->data + buf->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            buf->overflow = true;
            return;
        }
        if ((size_t)n < room) {
            buf->len += (size_t)n;
            return;
        }
        size_t cap = buf->cap == 0 ? 4096 : buf->cap * 2;
        while (cap < buf->len + (size_t)n + 1) {
            cap *= 2;
        }
        if (cap > buf->max) {
            buf->overflow = true;
            return;
        }
        char *grown = realloc(buf->data, cap);
        if (grown == NULL) {
            buf->overflow = true;
            return;
        }
        buf->data = grown;
        buf->cap = cap;
    }
}

void api_metrics_render(api_metrics_t *m, api_text_buf_t *out)
{
    pthread_mutex_lock(&m->lock);
    api_text_printf(out, "# HELP notifications_created_total Notifications this API instance "
                         "stored and had confirmed by the broker (201), by type.\n"
                         "# TYPE notifications_created_total counter\n");
    for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
        api_text_printf(out, "notifications_created_total{type=\"%s\"} %llu\n",
                        wc_channel_name((wc_channel_t)t), (unsigned long long)m->created[t]);
    }
    api_text_printf(out, "# HELP http_requests_total HTTP requests answered, by method, route "
                         "and status.\n# TYPE http_requests_total counter\n");
    for (size_t i = 0; i < m->counter_count; i++) {
        const counter_t *c = &m->counters[i];
        api_text_printf(out, "http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
                        c->method, c->route, c->status, (unsigned long long)c->count);
    }
    api_text_printf(out, "# HELP http_request_duration_seconds Time from a request's headers "
                         "to its response, by method and route.\n"
                         "# TYPE http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->histogram_count; i++) {
        const histogram_t *h = &m->histograms[i];
        for (size_t b = 0; b < BUCKETS; b++) {
            api_text_printf(out,
                            "http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                            "le=\"%g\"} %llu\n",
                            h->method, h->route, duration_buckets[b],
                            (unsigned long long)h->buckets[b]);
        }
        api_text_printf(out,
                        "http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                        "le=\"+Inf\"} %llu\n"
                        "http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                        "http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                        h->method, h->route, (unsigned long long)h->count, h->method, h->route,
                        h->sum, h->method, h->route, (unsigned long long)h->count);
    }
    pthread_mutex_unlock(&m->lock);
}
