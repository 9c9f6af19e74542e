/*
 * What each worker host reports about itself: its circuit breakers, which
 * live in that host's shared memory and nowhere else. One document per host
 * in `worker_hosts`, replaced whole by every report, so that the API can show
 * every host's provider health and how fresh that picture is.
 */
#ifndef WC_STORE_HOSTS_H
#define WC_STORE_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "wc_store.h"

#define WC_HOST_BREAKER_NAME_MAX 32

/* One breaker as reported: "smtp", "twilio", "fcm", "apns" or "webhook:<slot>";
 * its state name ("closed", "open", "half-open"); and since when it has been
 * in that state (wall clock, ms), or -1 when the breaker does not keep it. */
typedef struct {
    char name[WC_HOST_BREAKER_NAME_MAX];
    const char *state;
    int64_t since_ms;
} wc_host_breaker_t;

typedef struct {
    const char *host_id;     /* the document's _id */
    int children;            /* worker children the host runs */
    int64_t interval_ms;     /* how often the host reports */
    const wc_host_breaker_t *breakers;
    size_t breaker_count;
} wc_host_report_t;

/* Upserts the host's document by its _id (plain equality) with the report and
 * updatedAt = `now_ms`. WC_STORE_ERROR, logged here, when the database failed. */
wc_store_status_t wc_store_report_worker_host(wc_store_t *store, const wc_host_report_t *report,
                                              int64_t now_ms);

/* The most host documents a listing returns. */
#define WC_STORE_WORKER_HOSTS_MAX 1000

/* Every host's document, by _id. On OK *docs is an array of *n documents:
 * free it with wc_store_docs_free. */
wc_store_status_t wc_store_list_worker_hosts(wc_store_t *store, bson_t ***docs, size_t *n);

#endif
