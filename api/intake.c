#include "intake.h"

#include <stdio.h>
#include <stdlib.h>

#include "publisher.h"
#include "wc_log.h"
#include "wc_store_trail.h"
#include "wc_time.h"

typedef struct {
    api_intake_t *intake;
    api_publisher_t *publisher;
} committer_t;

/* The committers are the threads of a work pool whose works are the jobs,
 * weighed by their notifications; each thread has its own publisher. */
struct api_intake {
    const wc_config_t *cfg;
    wc_store_t *store;
    wc_work_pool_t *pool;
    committer_t *committers;
    int committer_count;
};

static api_intake_job_t *job_of(wc_work_t *work)
{
    return work != NULL ? WC_WORK_OWNER(work, api_intake_job_t, work) : NULL;
}

/* Scratch arrays of one commit, sized for its items. */
typedef struct {
    api_intake_item_t **items;
    const bson_t **docs;
    wc_store_status_t *store_status;
    wc_broker_message_t *msgs;
    wc_broker_status_t *broker_status;
    bson_oid_t *ids;
    size_t *index;
    wc_trail_entry_t *created; /* the changes of each stored document's creation, two each */
    bson_oid_t outbox;       /* the commit's outbox record */
    bool outbox_open;
} commit_scratch_t;

static void scratch_free(commit_scratch_t *s)
{
    free(s->items);
    free(s->docs);
    free(s->store_status);
    free(s->msgs);
    free(s->broker_status);
    free(s->ids);
    free(s->index);
    free(s->created);
}

static bool scratch_alloc(commit_scratch_t *s, size_t n)
{
    s->items = calloc(n, sizeof(*s->items));
    s->docs = calloc(n, sizeof(*s->docs));
    s->store_status = calloc(n, sizeof(*s->store_status));
    s->msgs = calloc(n, sizeof(*s->msgs));
    s->broker_status = calloc(n, sizeof(*s->broker_status));
    s->ids = calloc(n, sizeof(*s->ids));
    s->index = calloc(n, sizeof(*s->index));
    s->created = calloc(2 * n, sizeof(*s->created));
    return s->items != NULL && s->docs != NULL && s->store_status != NULL && s->msgs != NULL &&
           s->broker_status != NULL && s->ids != NULL && s->index != NULL && s->created != NULL;
}

/* Step 0: while the broker is known to be down (the publisher is backing
 * off, or the broker blocks publishes), immediate work is refused before
 * anything is written, so its 503 means "not stored, will not be sent" and
 * a client's retry cannot make a second copy. Scheduled work needs no broker
 * now and goes on. */
static void refuse_while_broker_down(committer_t *c, commit_scratch_t *s, size_t n)
{
    if (api_publisher_ready(c->publisher)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s->items[i]->scheduled) {
            s->items[i]->outcome = API_INTAKE_BROKER_DOWN;
        }
    }
}

/* Step 1: claims the idempotency keys. An item whose key was taken stops. */
static void claim_keys(committer_t *c, commit_scratch_t *s, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->items[i]->outcome == API_INTAKE_WAITING && s->items[i]->idempotency_record != NULL) {
            s->docs[m] = s->items[i]->idempotency_record;
            s->index[m++] = i;
        }
    }
    if (m == 0) {
        return;
    }
    wc_store_insert_idempotency_records(c->intake->store, s->docs, m, s->store_status);
    for (size_t k = 0; k < m; k++) {
        api_intake_item_t *item = s->items[s->index[k]];
        if (s->store_status[k] == WC_STORE_CONFLICT) {
            item->outcome = API_INTAKE_KEY_TAKEN;
        } else if (s->store_status[k] != WC_STORE_OK) {
            item->outcome = API_INTAKE_DB_FAILED;
        }
    }
}

/* Step 2: opens the commit's outbox record, naming the items to publish
 * now; they are stored QUEUED, and the record is what tells the sweeper to
 * publish them should this commit not finish (docs/ARCHITECTURE.md §3.2). */
static void open_outbox(committer_t *c, commit_scratch_t *s, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        api_intake_item_t *item = s->items[i];
        if (item->outcome == API_INTAKE_WAITING && !item->scheduled) {
            bson_oid_init_from_string(&s->ids[m++], item->id_hex);
        }
    }
    if (m == 0) {
        return;
    }
    if (wc_store_outbox_open(c->intake->store, s->ids, m, wc_time_now_ms(), &s->outbox) !=
        WC_STORE_OK) {
        for (size_t i = 0; i < n; i++) {
            if (s->items[i]->outcome == API_INTAKE_WAITING && !s->items[i]->scheduled) {
                s->items[i]->outcome = API_INTAKE_DB_FAILED;
            }
        }
        return;
    }
    s->outbox_open = true;
}

/* Step 3: stores the documents of the items still going. Their creation's
 * trail entries follow from the documents (wc_trail_entries_of_new); they
 * are counted in the stats counters here, once each. */
static void store_documents(committer_t *c, commit_scratch_t *s, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->items[i]->outcome == API_INTAKE_WAITING) {
            s->docs[m] = s->items[i]->doc;
            s->index[m++] = i;
        }
    }
    if (m == 0) {
        return;
    }
    wc_store_insert_notifications(c->intake->store, s->docs, m, s->store_status);
    size_t created = 0;
    for (size_t k = 0; k < m; k++) {
        api_intake_item_t *item = s->items[s->index[k]];
        if (s->store_status[k] == WC_STORE_CONFLICT) {
            /* Only a fan-out's deterministic ids can meet their own earlier
             * insert; random ObjectIds never collide. */
            item->outcome = API_INTAKE_DUPLICATE;
            continue;
        }
        if (s->store_status[k] != WC_STORE_OK) {
            /* Its idempotency key stays taken: the outcome may be unknown (a
             * lost connection), and a retry must not create a second one. The
             * replay path reclaims a key whose notification never appeared. */
            item->outcome = API_INTAKE_DB_FAILED;
            continue;
        }
        if (item->scheduled) {
            item->outcome = API_INTAKE_SCHEDULED;
        }
        created += wc_trail_entries_of_new(item->doc, &s->created[created]);
    }
    wc_store_trail_count(c->intake->store, s->created, created, NULL);
}

/* Step 4: publishes the stored QUEUED items with one confirm round trip, then
 * closes the outbox record, or narrows it to what the broker did not
 * confirm. */
static void publish(committer_t *c, commit_scratch_t *s, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        api_intake_item_t *item = s->items[i];
        if (item->outcome != API_INTAKE_WAITING) {
            continue;
        }
        s->msgs[m] = wc_publish_broker_message(&item->message, NULL, 0);
        s->index[m++] = i;
    }
    if (m > 0) {
        int64_t started = wc_time_monotonic_ms();
        api_publisher_publish_batch(c->publisher, s->msgs, m, s->broker_status);
        wc_log_debug("publish of %zu: %lld ms", m,
                     (long long)(wc_time_monotonic_ms() - started));
    }
    size_t unconfirmed = 0;
    for (size_t k = 0; k < m; k++) {
        api_intake_item_t *item = s->items[s->index[k]];
        if (s->broker_status[k] == WC_BROKER_OK) {
            item->outcome = API_INTAKE_QUEUED;
        } else {
            /* Stored QUEUED, named by the open outbox record: the sweeper
             * publishes it again. */
            item->outcome = API_INTAKE_PUBLISH_FAILED;
            bson_oid_init_from_string(&s->ids[unconfirmed++], item->id_hex);
            wc_log_warn("publish of %s failed (%d); its outbox record stays open", item->id_hex,
                        (int)s->broker_status[k]);
        }
    }
    if (!s->outbox_open) {
        return;
    }
    /* A record that cannot be closed only costs a republish later. */
    if (unconfirmed == 0) {
        (void)wc_store_outbox_close(c->intake->store, &s->outbox);
    } else if (unconfirmed < m) {
        (void)wc_store_outbox_keep(c->intake->store, &s->outbox, s->ids, unconfirmed);
    }
}

static void commit(committer_t *c, api_intake_job_t *jobs, size_t n)
{
    commit_scratch_t s = {0};
    bool ok = scratch_alloc(&s, n);
    size_t k = 0;
    for (api_intake_job_t *job = jobs; job != NULL; job = job_of(job->work.next)) {
        for (size_t i = 0; i < job->n; i++) {
            job->items[i]->outcome = ok ? API_INTAKE_WAITING : API_INTAKE_DB_FAILED;
            if (ok) {
                s.items[k++] = job->items[i];
            }
        }
    }
    if (ok) {
        int64_t t0 = wc_time_monotonic_ms();
        refuse_while_broker_down(c, &s, k);
        claim_keys(c, &s, n);
        open_outbox(c, &s, n);
        int64_t t1 = wc_time_monotonic_ms();
        store_documents(c, &s, n);
        int64_t t2 = wc_time_monotonic_ms();
        publish(c, &s, n);
        wc_log_debug("group commit of %zu: keys and outbox %lld ms, insert %lld ms, publish %lld ms",
                     n, (long long)(t1 - t0), (long long)(t2 - t1),
                     (long long)(wc_time_monotonic_ms() - t2));
    } else {
        wc_log_error("out of memory committing %zu notifications", n);
    }
    int64_t now = wc_time_now_ms();
    for (size_t i = 0; i < k; i++) {
        s.items[i]->committed_at_ms = now;
    }
    scratch_free(&s);
}

/* One group commit: the jobs the pool took together (everything waiting, up
 * to WAVECOM_API_COMMIT_MAX_ITEMS, always at least one job whole), on
 * committer thread `thread`. */
static void commit_batch(void *arg, int thread, wc_work_t *batch)
{
    api_intake_t *in = arg;
    size_t n = 0;
    for (wc_work_t *work = batch; work != NULL; work = work->next) {
        n += job_of(work)->n;
    }
    commit(&in->committers[thread], job_of(batch), n);

    api_intake_job_t *job = job_of(batch);
    while (job != NULL) {
        api_intake_job_t *next = job_of(job->work.next); /* done() may free the job */
        job->work.next = NULL;
        job->done(job);
        job = next;
    }
}

api_intake_t *api_intake_start(const wc_config_t *cfg, wc_store_t *store)
{
    api_intake_t *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        return NULL;
    }
    in->cfg = cfg;
    in->store = store;
    in->committer_count = cfg->api_committers;
    in->committers = calloc((size_t)in->committer_count, sizeof(*in->committers));
    if (in->committers == NULL) {
        free(in);
        return NULL;
    }
    for (int i = 0; i < in->committer_count; i++) {
        committer_t *c = &in->committers[i];
        char name[48];
        snprintf(name, sizeof(name), "wavecom-api-commit-%d", i);
        c->intake = in;
        c->publisher = api_publisher_new(cfg, name);
        if (c->publisher == NULL) {
            wc_log_error("cannot start group-commit publisher %d", i);
            api_intake_free(in);
            return NULL;
        }
    }
    const wc_work_pool_options_t opts = {
        .name = "group commit",
        .threads = in->committer_count,
        .batch_max = (size_t)cfg->api_commit_max_items,
        .queue_limit = (size_t)cfg->api_intake_queue_limit,
        .run = commit_batch,
        .arg = in,
    };
    in->pool = wc_work_pool_start(&opts);
    if (in->pool == NULL) {
        api_intake_free(in);
        return NULL;
    }
    return in;
}

bool api_intake_submit(api_intake_t *in, api_intake_job_t *job)
{
    job->work = (wc_work_t){.weight = job->n};
    return wc_work_pool_submit(in->pool, &job->work) == WC_WORK_QUEUED;
}

void api_intake_stop(api_intake_t *in)
{
    if (in != NULL) {
        wc_work_pool_stop(in->pool);
    }
}

void api_intake_free(api_intake_t *in)
{
    if (in == NULL) {
        return;
    }
    wc_work_pool_free(in->pool);
    for (int i = 0; i < in->committer_count; i++) {
        api_publisher_free(in->committers[i].publisher);
    }
    free(in->committers);
    free(in);
}

void api_intake_stats(api_intake_t *in, api_intake_stats_t *out)
{
    wc_work_pool_stats_t s;
    wc_work_pool_stats(in->pool, &s);
    *out = (api_intake_stats_t){
        .commits = s.batches, .items = s.taken, .refused = s.refused, .waiting = s.waiting};
}
