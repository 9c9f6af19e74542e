#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wc_store_usage.h"

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

/* Slots of the per-tenant table (open addressing, twice the tenants kept). */
#define TENANT_SLOTS (2 * API_METRICS_MAX_TENANTS)

typedef struct {
    char tenant_id[25];
    uint64_t accepted;
    uint64_t refused[WC_REFUSED_COUNT];
} tenant_counts_t;

struct api_metrics {
    pthread_mutex_t lock;
    tenant_counts_t tenants[TENANT_SLOTS];
    size_t tenant_count;
    tenant_counts_t other_tenants;
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

/* The counts of `tenant_id`, taken when new; the catch-all past the ceiling.
 * Called with the lock held. */
static tenant_counts_t *tenant_counts(api_metrics_t *m, const char *tenant_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = tenant_id; *c != '\0'; c++) {
        h = (h ^ (uint8_t)*c) * 16777619u;
    }
    for (size_t i = h % TENANT_SLOTS;; i = (i + 1) % TENANT_SLOTS) {
        tenant_counts_t *t = &m->tenants[i];
        if (t->tenant_id[0] == '\0') {
            if (m->tenant_count >= API_METRICS_MAX_TENANTS) {
                return &m->other_tenants;
            }
            snprintf(t->tenant_id, sizeof(t->tenant_id), "%s", tenant_id);
            m->tenant_count++;
            return t;
        }
        if (strcmp(t->tenant_id, tenant_id) == 0) {
            return t;
        }
    }
}

void api_metrics_count_tenant_accepted(api_metrics_t *m, const char *tenant_id, size_t n)
{
    if (m == NULL || tenant_id == NULL || tenant_id[0] == '\0') {
        return;
    }
    pthread_mutex_lock(&m->lock);
    tenant_counts(m, tenant_id)->accepted += n;
    pthread_mutex_unlock(&m->lock);
}

void api_metrics_count_tenant_refused(api_metrics_t *m, const char *tenant_id, unsigned status)
{
    int r = wc_usage_refusal_of_status(status);
    if (m == NULL || tenant_id == NULL || tenant_id[0] == '\0' || r < 0) {
        return;
    }
    pthread_mutex_lock(&m->lock);
    tenant_counts(m, tenant_id)->refused[r]++;
    pthread_mutex_unlock(&m->lock);
}

static void render_tenant(api_text_buf_t *out, const char *name, const tenant_counts_t *t,
                          bool accepted)
{
    if (accepted) {
        api_text_printf(out, "wavecom_tenant_notifications_accepted_total{tenant=\"%s\"} %llu\n",
                        name, (unsigned long long)t->accepted);
        return;
    }
    for (int r = 0; r < WC_REFUSED_COUNT; r++) {
        api_text_printf(out,
                        "wavecom_tenant_requests_refused_total{tenant=\"%s\",status=\"%s\"} "
                        "%llu\n",
                        name, wc_usage_refusal_name((wc_usage_refusal_t)r),
                        (unsigned long long)t->refused[r]);
    }
}

static void render_tenants(api_metrics_t *m, api_text_buf_t *out)
{
    for (int pass = 0; pass < 2; pass++) {
        bool accepted = pass == 0;
        api_text_printf(out, accepted
                                 ? "# HELP wavecom_tenant_notifications_accepted_total "
                                   "Notifications this API instance accepted (201), by tenant.\n"
                                   "# TYPE wavecom_tenant_notifications_accepted_total counter\n"
                                 : "# HELP wavecom_tenant_requests_refused_total Requests this "
                                   "API instance refused with 401, 403, 429 or 503, by tenant.\n"
                                   "# TYPE wavecom_tenant_requests_refused_total counter\n");
        for (size_t i = 0; i < TENANT_SLOTS; i++) {
            if (m->tenants[i].tenant_id[0] != '\0') {
                render_tenant(out, m->tenants[i].tenant_id, &m->tenants[i], accepted);
            }
        }
        if (m->tenant_count >= API_METRICS_MAX_TENANTS) {
            render_tenant(out, "other", &m->other_tenants, accepted);
        }
    }
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
    render_tenants(m, out);
    pthread_mutex_unlock(&m->lock);
}
