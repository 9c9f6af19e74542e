#include "host_report.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wc_log.h"
#include "wc_time.h"

size_t host_report_snapshot(const worker_breakers_t *breakers, int64_t now_wall_ms,
                            int64_t now_mono_ms, wc_host_breaker_t *out)
{
    size_t n = 0;
    for (int slot = 0; slot < BREAKER_COUNT; slot++) {
        const wc_breaker_t *b = &breakers->slots[slot];
        wc_breaker_state_t state = wc_breaker_state(b);
        if (slot >= BREAKER_WEBHOOK_FIRST && state == WC_BREAKER_CLOSED) {
            continue;
        }
        wc_host_breaker_t *entry = &out[n++];
        worker_breaker_name(slot, entry->name, sizeof(entry->name));
        entry->state = wc_breaker_state_name(state);
        /* opened_at marks the start of the open or half-open period; a closed
         * breaker does not keep when it closed. */
        entry->since_ms = state == WC_BREAKER_CLOSED
                              ? -1
                              : now_wall_ms - (now_mono_ms - atomic_load(&b->opened_at_ms));
    }
    return n;
}

struct host_report {
    store_op_t op; /* first: the op is the report */
    const worker_breakers_t *breakers;
    char host_id[128];
    int children;
    int64_t interval_ms;
    int64_t next_due_ms; /* monotonic */
    bool in_flight;      /* loop thread only */
    bool failing;        /* loop thread only: the last report failed */
    /* Written by the loop before submitting, read by the pool thread while in
     * flight, the status then read back by the loop in `done`. */
    int64_t taken_at_ms; /* wall clock */
    size_t count;
    wc_host_breaker_t snapshot[HOST_REPORT_MAX_BREAKERS];
    wc_store_status_t status;
};

static void report_run(store_op_t *op, wc_store_t *store)
{
    host_report_t *r = op->arg;
    const wc_host_report_t report = {
        .host_id = r->host_id,
        .children = r->children,
        .interval_ms = r->interval_ms,
        .breakers = r->snapshot,
        .breaker_count = r->count,
    };
    r->status = wc_store_report_worker_host(store, &report, r->taken_at_ms);
}

static void report_done(store_op_t *op)
{
    host_report_t *r = op->arg;
    r->in_flight = false;
    if (r->status != WC_STORE_OK && !r->failing) {
        wc_log_warn("cannot report this host's circuit breakers to the database; retrying every "
                    "%lld s", (long long)(r->interval_ms / 1000));
    } else if (r->status == WC_STORE_OK && r->failing) {
        wc_log_info("reporting this host's circuit breakers again");
    }
    r->failing = r->status != WC_STORE_OK;
}

host_report_t *host_report_new(const wc_config_t *cfg, const worker_breakers_t *breakers)
{
    host_report_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        wc_log_error("out of memory for the host report");
        return NULL;
    }
    if (cfg->worker_id[0] != '\0') {
        snprintf(r->host_id, sizeof(r->host_id), "%s", cfg->worker_id);
    } else if (gethostname(r->host_id, sizeof(r->host_id) - 1) != 0 || r->host_id[0] == '\0') {
        snprintf(r->host_id, sizeof(r->host_id), "localhost");
    }
    r->breakers = breakers;
    r->children = cfg->worker_processes;
    r->interval_ms = cfg->worker_report_seconds * 1000LL;
    r->op.run = report_run;
    r->op.done = report_done;
    r->op.arg = r;
    r->op.urgent = false;
    return r;
}

void host_report_tick(host_report_t *r, store_pool_t *pool, int64_t now_mono_ms)
{
    if (r->in_flight || now_mono_ms < r->next_due_ms) {
        return;
    }
    r->next_due_ms = now_mono_ms + r->interval_ms;
    r->taken_at_ms = wc_time_now_ms();
    r->count = host_report_snapshot(r->breakers, r->taken_at_ms, now_mono_ms, r->snapshot);
    r->in_flight = true;
    if (store_pool_submit(pool, &r->op) != 0) {
        r->in_flight = false; /* the pool is stopping: so is the child */
    }
}

void host_report_free(host_report_t *r)
{
    free(r);
}
