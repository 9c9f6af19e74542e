/*
 * The throughput minutes of a tenant's recent window (api_recent_window),
 * which GET .../stats/system and GET .../stats/throughput both read.
 *
 * A minute that ended more than a minute ago no longer changes in practice:
 * a counted change reaches its minute's document within one flush interval
 * (about a second, docs/ARCHITECTURE.md §3.3). So the closed part of the
 * window is read once per tenant per minute, kept here, and every other
 * request reads only the two newest minutes, by _id. Without it each answer
 * read the hour's sixty documents (0.44 ms of FerretDB CPU each). A change
 * flushed later than that (a process that could not reach the database for
 * over a minute) shows once the window moves on, within a minute.
 */
#ifndef API_RECENT_MINUTES_H
#define API_RECENT_MINUTES_H

#include <stddef.h>
#include <stdint.h>

#include "wc_duration_histogram.h"
#include "wc_store.h"
#include "wc_store_counters.h"

/* The window the statistics routes look back over: the 60 minutes up to and
 * including the current one, [*start_ms, *end_ms) in whole minutes. */
#define API_RECENT_MINUTES 60
void api_recent_window(int64_t now, int64_t *start_ms, int64_t *end_ms);

typedef struct api_recent_minutes api_recent_minutes_t;

/* How the minutes are read: wc_store_counters_throughput's shape, `source`
 * standing for the store (a test passes its own). */
typedef wc_store_status_t (*api_minutes_reader_t)(
    void *source, const char *tenant_id, int64_t since_ms, int64_t until_ms,
    void (*each)(const wc_throughput_minute_t *minute, void *arg), void *arg,
    wc_duration_histogram_t *times);

/* A cache of at most `tenants` tenants; NULL when out of memory. */
api_recent_minutes_t *api_recent_minutes_new(size_t tenants, api_minutes_reader_t read,
                                             void *source);
void api_recent_minutes_free(api_recent_minutes_t *cache);

/* Calls `each` (may be NULL) for every minute of the window at `now` that has
 * a counter document, and adds their processing times to `times` (may be
 * NULL); what the reader returned when it failed. */
wc_store_status_t api_recent_minutes_read(api_recent_minutes_t *cache, const char *tenant_id,
                                          int64_t now,
                                          void (*each)(const wc_throughput_minute_t *minute,
                                                       void *arg),
                                          void *arg, wc_duration_histogram_t *times);

#endif
