/*
 * The group commit of new notifications (docs/ARCHITECTURE.md §3.2: invariant
 * 1 of §4 at volume).
 *
 * A client hears 201 only after its notification is in the database and the
 * broker has confirmed its message. Doing that per request costs three round
 * trips each and caps a confirming publisher at ~1,500/s. Instead, HTTP
 * handlers hand their validated notifications to this pipeline and suspend
 * their connection; a few committer threads each take everything waiting (up
 * to WAVECOM_API_COMMIT_MAX_ITEMS) and write it together:
 *
 *   1. one unordered bulk insert of the idempotency records (a duplicate key
 *      means the key belongs to an earlier request: that item stops here);
 *   2. one outbox record naming the notifications to publish now;
 *   3. one unordered bulk insert of the documents (QUEUED, or SCHEDULED;
 *      the trail entries of their creation follow from them);
 *   4. one batch publish of the QUEUED ones, with one confirm round trip,
 *      and the outbox record deleted once every publish is confirmed;
 *
 * then call every job's `done`. No timer holds a batch back: while one commit
 * runs, new requests gather for the next, so batches grow with the load and
 * a lone request is written at once.
 */
#ifndef API_INTAKE_H
#define API_INTAKE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "wc_publish.h"
#include "wc_work_pool.h"

typedef enum {
    API_INTAKE_WAITING,        /* not committed yet */
    API_INTAKE_QUEUED,         /* stored QUEUED, confirmed by the broker */
    API_INTAKE_SCHEDULED,      /* stored SCHEDULED: the scheduler publishes it when due */
    API_INTAKE_KEY_TAKEN,      /* its idempotency key belongs to an earlier request */
    API_INTAKE_DB_FAILED,      /* not stored (or the outcome is unknown) */
    API_INTAKE_PUBLISH_FAILED, /* stored QUEUED, never confirmed: the sweeper republishes it */
    API_INTAKE_BROKER_DOWN,    /* nothing written: the broker was known to be unreachable or
                                * blocking publishes when the commit began */
    API_INTAKE_DUPLICATE,      /* a document with its _id was stored by an earlier commit,
                                * whose outbox record sees to its publish (an event's
                                * resumed fan-out, fanout.h) */
} api_intake_outcome_t;

typedef struct {
    /* Input, owned by the submitter and left untouched by the pipeline. */
    bson_t *doc;                /* the document to insert */
    bson_t *idempotency_record; /* its idempotency record, or NULL */
    bool scheduled;             /* stored SCHEDULED: not published now */
    char id_hex[25];
    wc_publish_t message; /* its queue message, for its priority queue */

    /* Output. */
    api_intake_outcome_t outcome;
    int64_t committed_at_ms;
} api_intake_item_t;

typedef struct api_intake_job api_intake_job_t;

struct api_intake_job {
    api_intake_item_t **items;
    size_t n;
    /* Called once on a committer thread when every item has its outcome. */
    void (*done)(api_intake_job_t *job);
    void *arg;
    wc_work_t work; /* the pipeline's own */
};

/* Starts the committer threads (each with its own broker connection).
 * Returns NULL after logging why. */
api_intake_t *api_intake_start(const wc_config_t *cfg, wc_store_t *store);

/* Queues `job`. Returns false, without calling `done`, when the intake is
 * stopping or WAVECOM_API_INTAKE_QUEUE_LIMIT items already wait: the caller
 * answers 503. */
bool api_intake_submit(api_intake_t *intake, api_intake_job_t *job);

/* Refuses new jobs, commits every job already queued, and stops the threads. */
void api_intake_stop(api_intake_t *intake);
void api_intake_free(api_intake_t *intake);

typedef struct {
    uint64_t commits;   /* group commits done */
    uint64_t items;     /* notifications in them */
    uint64_t refused;   /* jobs refused because the queue was full or closing */
    size_t waiting;     /* items waiting now */
} api_intake_stats_t;

void api_intake_stats(api_intake_t *intake, api_intake_stats_t *out);

#endif
