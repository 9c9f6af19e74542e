#include "scheduler.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_disable.h"
#include "system_events.h"
#include "fanout.h"
#include "periodic.h"
#include "wc_log.h"
#include "wc_publish.h"
#include "wc_store_counters.h"
#include "wc_store_endpoint_health.h"
#include "wc_store_ops.h"
#include "wc_time.h"

/* Notifications taken per round and step; a backlog drains over rounds
 * without starving the other steps. */
#define ROUND_MAX 500

/* How often old idempotency records are deleted. */
#define PURGE_INTERVAL_MS (10 * 60 * 1000)

/* The steps of every turn (`steps` below). */
#define STEPS 4

struct round;

struct api_scheduler {
    api_context_t *ctx;
    api_periodic_t *thread;
    api_periodic_t *running; /* the same, as the thread itself sees it */
    struct round *round;
    /* Monotonic time of the last database error a step met; 0: none yet. */
    int64_t db_failed_at_ms;
    /* When each step, the outbox sweep and the purge are due next
     * (wc_time_now_ms). */
    int64_t next_run[STEPS];
    int64_t next_outbox_sweep;
    int64_t next_endpoint_check;
    int64_t next_purge;
};

/* Asked by the scheduler's own thread, between two takes. */
static bool stopping(api_scheduler_t *s) { return api_periodic_stopping(s->running); }

typedef struct round {
    bson_t *docs[ROUND_MAX];
    wc_publish_t publishes[ROUND_MAX];
    wc_broker_message_t msgs[ROUND_MAX];
    wc_broker_status_t statuses[ROUND_MAX];
    bson_oid_t confirmed[ROUND_MAX];
    bson_oid_t candidates[ROUND_MAX]; /* what a step found to take */
    size_t n;
} round_t;

static void round_clear(round_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        bson_destroy(r->docs[i]);
        wc_publish_release(&r->publishes[i]);
    }
    r->n = 0;
}

/* Adds a taken document's queue message to the round; false if unusable. */
static bool round_add(round_t *r, bson_t *doc)
{
    size_t i = r->n;
    if (wc_publish_prepare_document(&r->publishes[i], doc) != 0) {
        wc_log_error("notification without a usable type/priority/tenant; not published");
        bson_destroy(doc);
        return false;
    }
    r->n++;
    r->docs[i] = doc;
    r->msgs[i] = wc_publish_broker_message(&r->publishes[i], NULL, 0);
    return true;
}

/* Publishes the round and, for notifications that were PENDING
 * (`mark_queued`), records QUEUED for what the broker confirmed; the rest is
 * left for the next round of the sweeper. Returns how many were not
 * confirmed. */
static size_t round_publish(api_context_t *ctx, round_t *r, const char *actor, bool mark_queued)
{
    if (r->n == 0) {
        return 0;
    }
    api_publisher_publish_batch(ctx->publisher, r->msgs, r->n, r->statuses);
    size_t confirmed = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->statuses[i] == WC_BROKER_OK) {
            bson_oid_init_from_string(&r->confirmed[confirmed++],
                                      r->publishes[i].queue.notification_id);
        }
    }
    if (confirmed < r->n) {
        wc_log_warn("%s: %zu of %zu publishes not confirmed; the sweeper tries again", actor,
                    r->n - confirmed, r->n);
    }
    if (mark_queued) {
        wc_store_mark_queued_many(ctx->store, r->confirmed, confirmed, actor, wc_time_now_ms());
    }
    return r->n - confirmed;
}

/* One kind of work the scheduler takes from the database: the notifications
 * in `status` whose time lies before what `before` says are the candidates,
 * each taken by one round trip (NOT_FOUND when another instance took it
 * first); who publishes them, and whether they were PENDING and so get QUEUED
 * once confirmed. */
typedef struct {
    int64_t (*before)(const api_context_t *ctx, int64_t now);
    wc_store_status_t (*take)(const api_context_t *ctx, const bson_oid_t *id, wc_status_t status,
                              int64_t before, int64_t now, bson_t **out);
    /* How often the step runs: its own threshold over SWEEPS_PER_THRESHOLD,
     * or every turn (NULL). */
    int (*threshold_seconds)(const wc_config_t *cfg);
    wc_status_t status; /* what `take` looks for */
    const char *actor;
    bool mark_queued;
    wc_log_level_t level;
    const char *what; /* for the log line: "<actor>: <n> <what>" */
    /* Taken only once the database has answered for WAVECOM_SWEEP_OVERDUE_SECONDS
     * since its last error (see run_step). */
    bool after_quiet;
} step_t;

static int64_t due_before(const api_context_t *ctx, int64_t now)
{
    (void)ctx;
    return now + 1; /* scheduledAt <= now */
}

static int64_t stale_before(const api_context_t *ctx, int64_t now)
{
    return now - ctx->cfg->pending_republish_seconds * 1000LL;
}

static int64_t overdue_before(const api_context_t *ctx, int64_t now)
{
    return now - ctx->cfg->sweep_overdue_seconds * 1000LL;
}

static wc_store_status_t take_due(const api_context_t *ctx, const bson_oid_t *id,
                                  wc_status_t status, int64_t before, int64_t now, bson_t **out)
{
    (void)status;
    (void)before;
    return wc_store_release_due(ctx->store, id, now, out);
}

static wc_store_status_t take_stale(const api_context_t *ctx, const bson_oid_t *id,
                                    wc_status_t status, int64_t before, int64_t now, bson_t **out)
{
    (void)status;
    return wc_store_take_stale_pending(ctx->store, id, before, now, out);
}

static wc_store_status_t take_overdue(const api_context_t *ctx, const bson_oid_t *id,
                                      wc_status_t status, int64_t before, int64_t now,
                                      bson_t **out)
{
    return wc_store_take_overdue(ctx->store, id, status, before, now, out);
}

static int pending_threshold(const wc_config_t *cfg) { return cfg->pending_republish_seconds; }
static int overdue_threshold(const wc_config_t *cfg) { return cfg->sweep_overdue_seconds; }

/* A sweep looks for what has been stuck longer than its threshold, so it
 * need not look every turn: each search for candidates reads every RETRYING
 * or PROCESSING notification on FerretDB (the only index is on the status), a
 * visible share of the database's work under load when done every second. */
#define SWEEPS_PER_THRESHOLD 4

/* The steps of every turn. SCHEDULED notifications that are due are
 * released; PENDING ones whose publish was never confirmed are published
 * again; RETRYING and PROCESSING ones whose message looks lost
 * (docs/ARCHITECTURE.md §5: dead-lettering out of a retry tier can lose a
 * message) are queued again. sweep_outbox does the same for the group
 * commits that never closed their outbox record. A copy
 * of a message that was not lost after all is harmless: the claim lets one
 * delivery through. */
static const step_t steps[STEPS] = {
    {due_before, take_due, NULL, WC_STATUS_SCHEDULED, "api:scheduler", true, WC_LOG_INFO,
     "due notifications released", false},
    {stale_before, take_stale, pending_threshold, WC_STATUS_PENDING, "api:sweeper", true, WC_LOG_WARN,
     "notifications left PENDING published again", false},
    {overdue_before, take_overdue, overdue_threshold, WC_STATUS_RETRYING, "api:sweeper", false, WC_LOG_WARN,
     "RETRYING notifications whose next attempt is overdue queued again", false},
    {overdue_before, take_overdue, overdue_threshold, WC_STATUS_PROCESSING, "api:sweeper", false, WC_LOG_WARN,
     "PROCESSING notifications whose lease ended long ago queued again", true},
};


/* Takes up to a round of one step's notifications and publishes them.
 * Returns how many candidates it found (a full round means more may be
 * waiting). A stop request is honoured between the takes. */
static size_t run_step(api_scheduler_t *s, round_t *r, const step_t *step)
{
    /* A worker that knows a PROCESSING notification's outcome keeps trying to
     * record it while the database is away, and its lease cannot be renewed
     * meanwhile: after an outage every such lease looks expired. Queuing
     * those again would deliver them twice, so the sweeper first gives the
     * holders the overdue period, with the database answering, to record
     * them (docs/ARCHITECTURE.md §4). */
    int64_t quiet_ms = s->ctx->cfg->sweep_overdue_seconds * 1000LL;
    if (step->after_quiet && s->db_failed_at_ms != 0 &&
        wc_time_monotonic_ms() - s->db_failed_at_ms < quiet_ms) {
        return 0;
    }
    int64_t now = wc_time_now_ms();
    int64_t before = step->before(s->ctx, now);
    size_t found = 0;
    if (wc_store_sweep_candidates(s->ctx->store, step->status, before, r->candidates, ROUND_MAX,
                                  &found) != WC_STORE_OK) {
        s->db_failed_at_ms = wc_time_monotonic_ms();
        return 0;
    }
    for (size_t i = 0; i < found && !stopping(s); i++) {
        bson_t *doc = NULL;
        wc_store_status_t taken =
            step->take(s->ctx, &r->candidates[i], step->status, before, now, &doc);
        if (taken == WC_STORE_ERROR) {
            s->db_failed_at_ms = wc_time_monotonic_ms();
            break; /* logged; the rest wait for the next turn */
        }
        if (taken == WC_STORE_OK) {
            round_add(r, doc);
        } /* NOT_FOUND: another instance took it, or it moved on */
    }
    size_t n = r->n;
    if (n > 0) {
        wc_log(step->level, "%s: %zu %s", step->actor, n, step->what);
    }
    round_publish(s->ctx, r, step->actor, step->mark_queued);
    round_clear(r);
    return found;
}

/* Adds to the round the notification `id` of an open outbox record if it is
 * still QUEUED (not yet claimed: its message may never have reached the
 * broker). Returns false when the database failed. */
static bool outbox_add(api_context_t *ctx, round_t *r, const bson_oid_t *id)
{
    bson_t *doc = NULL;
    wc_store_status_t found = wc_store_find_notification(ctx->store, id, &doc);
    if (found != WC_STORE_OK) {
        return found == WC_STORE_NOT_FOUND; /* never stored: nothing to publish */
    }
    const char *status = wc_doc_string(doc, "status");
    if (status == NULL || strcmp(status, "QUEUED") != 0) {
        bson_destroy(doc);
        return true;
    }
    round_add(r, doc); /* an unusable one is logged and left */
    return true;
}

/* Publishes again what open outbox records older than the republish
 * threshold name (docs/ARCHITECTURE.md §3.2) and closes each record once all
 * of it is confirmed; a record not fully confirmed stays for a later turn.
 * Returns how many notifications were published. */
static size_t sweep_outbox(api_scheduler_t *s, round_t *r)
{
    api_context_t *ctx = s->ctx;
    size_t published = 0;
    while (!stopping(s)) {
        int64_t now = wc_time_now_ms();
        bson_t *record = NULL;
        if (wc_store_outbox_take_stale(ctx->store,
                                       now - ctx->cfg->pending_republish_seconds * 1000LL, now,
                                       &record) != WC_STORE_OK) {
            break; /* none left, or the database failed (logged) */
        }
        bson_iter_t iter, ids;
        bson_oid_t record_id;
        bool ok = bson_iter_init_find(&iter, record, "_id") && BSON_ITER_HOLDS_OID(&iter);
        if (ok) {
            bson_oid_copy(bson_iter_oid(&iter), &record_id);
        }
        ok = ok && bson_iter_init_find(&iter, record, "ids") && BSON_ITER_HOLDS_ARRAY(&iter) &&
             bson_iter_recurse(&iter, &ids);
        size_t unconfirmed = 0;
        bool more = ok;
        while (more) {
            while (r->n < ROUND_MAX && (more = bson_iter_next(&ids))) {
                if (BSON_ITER_HOLDS_OID(&ids) && !outbox_add(ctx, r, bson_iter_oid(&ids))) {
                    ok = false;
                }
            }
            published += r->n;
            unconfirmed += round_publish(ctx, r, "api:sweeper", false);
            round_clear(r);
        }
        if (ok && unconfirmed == 0) {
            (void)wc_store_outbox_close(ctx->store, &record_id);
        }
        bson_destroy(record);
    }
    if (published > 0) {
        wc_log_warn("api:sweeper: %zu notifications of unfinished commits published again",
                    published);
    }
    return published;
}

/* One turn of the loop; returns how long to wait before the next. */
static int64_t scheduler_turn(api_periodic_t *self, void *arg)
{
    api_scheduler_t *s = arg;
    api_context_t *ctx = s->ctx;
    round_t *r = s->round;
    s->running = self;
    /* A full round means more are waiting: go again at once. */
    bool full = false;
    for (size_t k = 0; k < STEPS && !stopping(s); k++) {
        int64_t turn = wc_time_now_ms();
        if (turn < s->next_run[k]) {
            continue;
        }
        bool step_full = run_step(s, r, &steps[k]) == ROUND_MAX;
        full = step_full || full;
        if (!step_full && steps[k].threshold_seconds != NULL) {
            s->next_run[k] =
                turn + steps[k].threshold_seconds(ctx->cfg) * 1000LL / SWEEPS_PER_THRESHOLD;
        }
    }
    if (wc_time_now_ms() >= s->next_outbox_sweep && !stopping(s)) {
        sweep_outbox(s, r);
        /* Events whose fan-out a dead or failed request left unfinished (fanout.h). */
        (void)api_fanout_resume_stale(ctx, ROUND_MAX);
        s->next_outbox_sweep =
            wc_time_now_ms() + ctx->cfg->pending_republish_seconds * 1000LL / SWEEPS_PER_THRESHOLD;
    }
    if (!stopping(s)) {
        /* notification.* events for the tenants that subscribe to them: every
         * turn, so that a callback follows its change within about a turn. */
        (void)api_system_events_publish(ctx, ROUND_MAX);
    }
    if (wc_time_now_ms() >= s->next_endpoint_check && !stopping(s)) {
        /* Endpoints failing every attempt for the period (endpoint_disable.h),
         * looked for four times per period, at least once a minute. */
        (void)api_endpoints_disable_failing(ctx, wc_time_now_ms());
        int64_t every = ctx->cfg->endpoint_disable_after_seconds * 1000LL / 4;
        s->next_endpoint_check = wc_time_now_ms() + (every < 60000 ? every : 60000);
    }
    /* The last changes counted before a quiet spell reach the counters. */
    (void)wc_store_counters_flush(ctx->store, false);
    int64_t now = wc_time_now_ms();
    if (now >= s->next_purge && !stopping(s)) {
        int64_t deleted = 0;
        if (wc_store_idempotency_purge(ctx->store, now - WC_IDEMPOTENCY_TTL_MS, &deleted) ==
                WC_STORE_OK &&
            deleted > 0) {
            wc_log_info("deleted %lld idempotency keys older than 24 hours", (long long)deleted);
        }
        /* Endpoint health is read over a day; a week of hours is kept. */
        (void)wc_store_endpoint_health_purge(ctx->store, now - 7 * 24 * WC_HOUR_MS, &deleted);
        s->next_purge = now + PURGE_INTERVAL_MS;
    }
    return full ? 0 : ctx->cfg->scheduler_interval_ms;
}

api_scheduler_t *api_scheduler_start(api_context_t *ctx)
{
    api_scheduler_t *s = calloc(1, sizeof(*s));
    round_t *r = calloc(1, sizeof(*r));
    if (s == NULL || r == NULL) {
        wc_log_error("scheduler: out of memory; scheduled notifications will not be released");
        free(s);
        free(r);
        return NULL;
    }
    s->ctx = ctx;
    s->round = r;
    s->thread = api_periodic_start("scheduler", scheduler_turn, s);
    if (s->thread == NULL) {
        free(r);
        free(s);
        return NULL;
    }
    return s;
}

void api_scheduler_stop(api_scheduler_t *s)
{
    if (s != NULL) {
        api_periodic_stop(s->thread);
        free(s->round);
        free(s);
    }
}
