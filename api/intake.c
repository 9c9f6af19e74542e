#include "intake.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "publisher.h"
#include "wc_log.h"
#include "wc_store_trail.h"
#include "wc_time.h"

typedef struct {
    api_intake_t *intake;
    api_publisher_t *publisher;
    pthread_t thread;
    bool started;
} committer_t;

struct api_intake {
    const wc_config_t *cfg;
    wc_store_t *store;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    api_intake_job_t *head, *tail;
    size_t waiting_items;
    bool stopping;
    api_intake_stats_t stats;

    committer_t *committers;
    int committer_count;
};

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
    for (api_intake_job_t *job = jobs; job != NULL; job = job->next) {
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

static void *committer_main(void *arg)
{
    committer_t *c = arg;
    api_intake_t *in = c->intake;
    size_t max_items = (size_t)in->cfg->api_commit_max_items;
    for (;;) {
        pthread_mutex_lock(&in->lock);
        while (in->head == NULL && !in->stopping) {
            pthread_cond_wait(&in->wake, &in->lock);
        }
        if (in->head == NULL) {
            pthread_mutex_unlock(&in->lock);
            break; /* stopping, and nothing left to commit */
        }
        /* Everything waiting, up to max_items; always at least one job whole
         * (a batch request larger than max_items is committed alone). */
        api_intake_job_t *first = in->head;
        api_intake_job_t *last = first;
        size_t n = first->n;
        while (last->next != NULL && n + last->next->n <= max_items) {
            last = last->next;
            n += last->n;
        }
        in->head = last->next;
        if (in->head == NULL) {
            in->tail = NULL;
        }
        last->next = NULL;
        in->waiting_items -= n;
        in->stats.commits++;
        in->stats.items += n;
        pthread_mutex_unlock(&in->lock);

        commit(c, first, n);

        api_intake_job_t *job = first;
        while (job != NULL) {
            api_intake_job_t *next = job->next; /* done() may free the job */
            job->next = NULL;
            job->done(job);
            job = next;
        }
    }
    return NULL;
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
    if (in->committers == NULL || pthread_mutex_init(&in->lock, NULL) != 0) {
        free(in->committers);
        free(in);
        return NULL;
    }
    pthread_cond_init(&in->wake, NULL);
    for (int i = 0; i < in->committer_count; i++) {
        committer_t *c = &in->committers[i];
        char name[48];
        snprintf(name, sizeof(name), "wavecom-api-commit-%d", i);
        c->intake = in;
        c->publisher = api_publisher_new(cfg, name);
        if (c->publisher == NULL || pthread_create(&c->thread, NULL, committer_main, c) != 0) {
            wc_log_error("cannot start group-commit thread %d", i);
            api_intake_stop(in);
            api_intake_free(in);
            return NULL;
        }
        c->started = true;
    }
    return in;
}

bool api_intake_submit(api_intake_t *in, api_intake_job_t *job)
{
    pthread_mutex_lock(&in->lock);
    /* A batch larger than the limit is still taken when nothing waits. */
    bool full = in->waiting_items > 0 &&
                in->waiting_items + job->n > (size_t)in->cfg->api_intake_queue_limit;
    if (in->stopping || full) {
        in->stats.refused++;
        pthread_mutex_unlock(&in->lock);
        return false;
    }
    job->next = NULL;
    if (in->tail != NULL) {
        in->tail->next = job;
    } else {
        in->head = job;
    }
    in->tail = job;
    in->waiting_items += job->n;
    pthread_cond_signal(&in->wake);
    pthread_mutex_unlock(&in->lock);
    return true;
}

void api_intake_stop(api_intake_t *in)
{
    if (in == NULL) {
        return;
    }
    pthread_mutex_lock(&in->lock);
    in->stopping = true;
    pthread_cond_broadcast(&in->wake);
    pthread_mutex_unlock(&in->lock);
    for (int i = 0; i < in->committer_count; i++) {
        if (in->committers[i].started) {
            pthread_join(in->committers[i].thread, NULL);
            in->committers[i].started = false;
        }
    }
}

void api_intake_free(api_intake_t *in)
{
    if (in == NULL) {
        return;
    }
    for (int i = 0; i < in->committer_count; i++) {
        api_publisher_free(in->committers[i].publisher);
    }
    free(in->committers);
    pthread_cond_destroy(&in->wake);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

void api_intake_stats(api_intake_t *in, api_intake_stats_t *out)
{
    pthread_mutex_lock(&in->lock);
    *out = in->stats;
    out->waiting = in->waiting_items;
    pthread_mutex_unlock(&in->lock);
}
