#include "metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include "wc_topology.h"

static const double bucket_bounds[WORKER_METRICS_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};


worker_metrics_t *worker_metrics_map(void)
{
    void *mem = mmap(NULL, sizeof(worker_metrics_t), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return mem == MAP_FAILED ? NULL : mem; /* anonymous maps start zeroed */
}

void worker_metrics_unmap(worker_metrics_t *m)
{
    if (m != NULL) {
        munmap(m, sizeof(*m));
    }
}

void worker_metrics_count_sent(worker_metrics_t *m, wc_channel_t type)
{
    if ((int)type >= 0 && (int)type < WC_CHANNEL_COUNT) {
        atomic_fetch_add_explicit(&m->sent[type], 1, memory_order_relaxed);
    }
}

void worker_metrics_count_failed(worker_metrics_t *m, wc_channel_t type)
{
    if ((int)type >= 0 && (int)type < WC_CHANNEL_COUNT) {
        atomic_fetch_add_explicit(&m->failed[type], 1, memory_order_relaxed);
    }
}

void worker_metrics_count_suppressed(worker_metrics_t *m, wc_channel_t type)
{
    if ((int)type >= 0 && (int)type < WC_CHANNEL_COUNT) {
        atomic_fetch_add_explicit(&m->suppressed[type], 1, memory_order_relaxed);
    }
}

void worker_metrics_count_retry(worker_metrics_t *m, size_t tier)
{
    if (tier < WORKER_METRICS_MAX_TIERS) {
        atomic_fetch_add_explicit(&m->retries[tier], 1, memory_order_relaxed);
    }
}

static void observe(worker_histogram_t *h, int64_t ms)
{
    ms = ms < 0 ? 0 : ms; /* the wall clock stepped back */
    double seconds = (double)ms / 1000.0;
    size_t b = 0;
    while (b < WORKER_METRICS_BUCKETS && seconds > bucket_bounds[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)ms * 1000u, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
}

void worker_metrics_observe_processing(worker_metrics_t *m, int64_t ms)
{
    observe(&m->processing, ms);
}

void worker_metrics_observe_provider(worker_metrics_t *m, int provider,
                                     worker_provider_outcome_t outcome, int64_t ms)
{
    if (provider >= 0 && provider < WORKER_METRICS_PROVIDERS && (int)outcome >= 0 &&
        outcome < WORKER_PROVIDER_OUTCOMES) {
        observe(&m->provider[provider], ms);
        atomic_fetch_add_explicit(&m->provider_outcomes[provider][outcome], 1,
                                  memory_order_relaxed);
    }
}

void worker_metrics_set_in_flight(worker_metrics_t *m, int slot, int64_t jobs)
{
    if (slot >= 0 && slot < WORKER_METRICS_MAX_SLOTS) {
        atomic_store_explicit(&m->in_flight[slot], jobs, memory_order_relaxed);
    }
}

void worker_metrics_set_outcomes_waiting(worker_metrics_t *m, int slot, int64_t jobs)
{
    if (slot >= 0 && slot < WORKER_METRICS_MAX_SLOTS) {
        atomic_store_explicit(&m->outcomes_waiting[slot], jobs, memory_order_relaxed);
    }
}

void worker_metrics_track_store_pool(worker_metrics_t *m, int slot, wc_store_t *store)
{
    if (slot < 0 || slot >= WORKER_METRICS_MAX_SLOTS) {
        return;
    }
    wc_store_pool_stats_t stats;
    wc_store_pool_stats(store, &stats);
    atomic_store_explicit(&m->db_pool_in_use[slot], 0, memory_order_relaxed);
    atomic_store_explicit(&m->db_pool_max[slot], stats.max, memory_order_relaxed);
    wc_store_count_pool_into(store, &m->db_pool_in_use[slot], &m->db_pool_waits);
}

void worker_metrics_clear_slot(worker_metrics_t *m, int slot)
{
    if (slot >= 0 && slot < WORKER_METRICS_MAX_SLOTS) {
        atomic_store_explicit(&m->in_flight[slot], 0, memory_order_relaxed);
        atomic_store_explicit(&m->outcomes_waiting[slot], 0, memory_order_relaxed);
        atomic_store_explicit(&m->db_pool_in_use[slot], 0, memory_order_relaxed);
        atomic_store_explicit(&m->db_pool_max[slot], 0, memory_order_relaxed);
    }
}

void worker_metrics_count_restart(worker_metrics_t *m)
{
    atomic_fetch_add_explicit(&m->child_restarts, 1, memory_order_relaxed);
}

int worker_metrics_write_label(FILE *out, const char *value)
{
    for (const char *c = value; *c != '\0'; c++) {
        int rc;
        if (*c == '\\') {
            rc = fputs("\\\\", out);
        } else if (*c == '"') {
            rc = fputs("\\\"", out);
        } else if (*c == '\n') {
            rc = fputs("\\n", out);
        } else {
            rc = fputc(*c, out);
        }
        if (rc == EOF) {
            return -1;
        }
    }
    return 0;
}

/* The writers below leave their stdio results unchecked on purpose: a failed
 * write sets the stream's error flag, which worker_metrics_render checks once
 * at the end with ferror. */

/* One series `name{label="value"} n` (label NULL: no labels). */
static void write_sample(FILE *out, const char *name, const char *label, const char *value,
                         uint64_t n)
{
    fputs(name, out);
    if (label != NULL) {
        fprintf(out, "{%s=\"", label);
        worker_metrics_write_label(out, value);
        fputs("\"}", out);
    }
    fprintf(out, " %llu\n", (unsigned long long)n);
}

static void write_header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A gauge whose value is the sum of every child slot's own. */
static void write_slots_gauge(FILE *out, const char *name, const char *help,
                              const _Atomic int64_t slots[WORKER_METRICS_MAX_SLOTS])
{
    int64_t total = 0;
    for (int s = 0; s < WORKER_METRICS_MAX_SLOTS; s++) {
        total += atomic_load_explicit(&slots[s], memory_order_relaxed);
    }
    write_header(out, name, "gauge", help);
    fprintf(out, "%s %lld\n", name, (long long)total);
}

/* The _bucket, _sum and _count series of one histogram; `label` may be NULL. */
static void write_histogram(FILE *out, const char *name, const char *label, const char *value,
                            const worker_histogram_t *h)
{
    /* Each bucket is read once and _count is their total, so the cumulative
     * buckets are monotonic and +Inf equals _count even while children
     * write. (_sum is read separately and may lead by an observation.) */
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= WORKER_METRICS_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        fprintf(out, "%s_bucket{", name);
        if (label != NULL) {
            fprintf(out, "%s=\"", label);
            worker_metrics_write_label(out, value);
            fputs("\",", out);
        }
        if (b < WORKER_METRICS_BUCKETS) {
            fprintf(out, "le=\"%g\"} %llu\n", bucket_bounds[b], (unsigned long long)cumulative);
        } else {
            fprintf(out, "le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
    }
    double sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
    char sample[128];
    snprintf(sample, sizeof(sample), "%s_sum", name);
    fputs(sample, out);
    if (label != NULL) {
        fprintf(out, "{%s=\"", label);
        worker_metrics_write_label(out, value);
        fputs("\"}", out);
    }
    fprintf(out, " %.6f\n", sum);
    snprintf(sample, sizeof(sample), "%s_count", name);
    write_sample(out, sample, label, value, cumulative);
}

static void render_breakers(const worker_breakers_t *breakers, FILE *out)
{
    write_header(out, "circuit_breaker_state", "gauge",
                 "State of each provider's circuit breaker on this host: 0 closed, 1 open, "
                 "2 half-open. Webhook breakers (one per hashed target host) appear once they "
                 "first opened.");
    for (int i = 0; i < BREAKER_COUNT; i++) {
        const wc_breaker_t *b = &breakers->slots[i];
        if (i >= BREAKER_WEBHOOK_FIRST &&
            atomic_load_explicit(&b->times_opened, memory_order_relaxed) == 0) {
            continue;
        }
        char name[32];
        worker_breaker_name(i, name, sizeof(name));
        write_sample(out, "circuit_breaker_state", "provider", name,
                     (uint64_t)wc_breaker_state(b));
    }
}

int worker_metrics_render(const worker_metrics_t *m, const worker_breakers_t *breakers, FILE *out)
{
    static const struct {
        const char *name;
        const char *help;
        size_t offset;
    } by_type[] = {
        {"notifications_sent_total",
         "Notifications this worker pool delivered (status SENT), by type.",
         offsetof(worker_metrics_t, sent)},
        {"notifications_failed_total",
         "Notifications this worker pool failed for good (status FAILED, in the dead-letter "
         "queue), by type.",
         offsetof(worker_metrics_t, failed)},
        {"notifications_suppressed_total",
         "Notifications this worker pool did not send because the recipient is suppressed or "
         "opted out (status SUPPRESSED), by type.",
         offsetof(worker_metrics_t, suppressed)},
    };
    for (size_t k = 0; k < sizeof(by_type) / sizeof(by_type[0]); k++) {
        const _Atomic uint64_t *counts =
            (const _Atomic uint64_t *)((const char *)m + by_type[k].offset);
        write_header(out, by_type[k].name, "counter", by_type[k].help);
        for (int t = 0; t < WC_CHANNEL_COUNT; t++) {
            write_sample(out, by_type[k].name, "type", wc_channel_name((wc_channel_t)t),
                         atomic_load_explicit(&counts[t], memory_order_relaxed));
        }
    }

    write_header(out, "notification_retries_total", "counter",
                 "Delivery attempts that failed transiently and were scheduled again, by the "
                 "retry tier (delay) they went to.");
    for (size_t t = 0; t < wc_retry_tier_count && t < WORKER_METRICS_MAX_TIERS; t++) {
        char tier[16];
        snprintf(tier, sizeof(tier), "%ds", wc_retry_tiers[t].seconds);
        write_sample(out, "notification_retries_total", "tier", tier,
                     atomic_load_explicit(&m->retries[t], memory_order_relaxed));
    }

    write_header(out, "notification_processing_duration_seconds", "histogram",
                 "Time from a worker's claim of a notification to its recorded outcome (SENT, "
                 "RETRYING or FAILED).");
    write_histogram(out, "notification_processing_duration_seconds", NULL, NULL, &m->processing);

    write_header(out, "provider_request_duration_seconds", "histogram",
                 "Time a provider took to answer one delivery attempt, by provider.");
    for (int p = 0; p < WORKER_METRICS_PROVIDERS; p++) {
        write_histogram(out, "provider_request_duration_seconds", "provider", worker_providers[p].name,
                        &m->provider[p]);
    }

    static const char *const outcome_names[WORKER_PROVIDER_OUTCOMES] = {"ok", "transient",
                                                                       "permanent"};
    write_header(out, "provider_requests_total", "counter",
                 "Delivery attempts that reached a provider, by provider and how it answered "
                 "(ok, transient failure, permanent failure).");
    for (int p = 0; p < WORKER_METRICS_PROVIDERS; p++) {
        for (int o = 0; o < WORKER_PROVIDER_OUTCOMES; o++) {
            fputs("provider_requests_total{provider=\"", out);
            worker_metrics_write_label(out, worker_providers[p].name);
            fputs("\",outcome=\"", out);
            worker_metrics_write_label(out, outcome_names[o]);
            fprintf(out, "\"} %llu\n",
                    (unsigned long long)atomic_load_explicit(&m->provider_outcomes[p][o],
                                                             memory_order_relaxed));
        }
    }

    write_slots_gauge(out, "deliveries_in_flight",
                      "Messages the worker children hold and have not settled yet (claiming, "
                      "delivering or recording).",
                      m->in_flight);
    write_slots_gauge(out, "wavecom_outcomes_waiting_to_record",
                      "Deliveries whose outcome is known but whose status write waits for the "
                      "database; their messages stay unacked until it is written.",
                      m->outcomes_waiting);
    write_slots_gauge(out, "wavecom_db_pool_connections_in_use",
                      "Database connections the children have checked out now.",
                      m->db_pool_in_use);
    write_slots_gauge(out, "wavecom_db_pool_connections_max",
                      "Database connections the children's pools may open, together.",
                      m->db_pool_max);
    write_header(out, "wavecom_db_pool_waits_total", "counter",
                 "Checkouts that found every connection of a child's pool busy and waited.");
    write_sample(out, "wavecom_db_pool_waits_total", NULL, NULL,
                 atomic_load_explicit(&m->db_pool_waits, memory_order_relaxed));

    render_breakers(breakers, out);

    write_header(out, "worker_child_restarts_total", "counter",
                 "Worker children that died without being asked to and were restarted.");
    write_sample(out, "worker_child_restarts_total", NULL, NULL,
                 atomic_load_explicit(&m->child_restarts, memory_order_relaxed));
    return ferror(out) ? -1 : 0;
}
