/*
 * Per API key usage, one document per key and UTC day in `api_key_usage`
 * (docs/ARCHITECTURE.md §13). The API counts in memory and adds its counts
 * with one bulk write per flush; readers get the days back as the same
 * struct.
 */
#ifndef WC_STORE_USAGE_H
#define WC_STORE_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wc_notification.h"
#include "wc_store.h"

#define WC_COLL_USAGE "api_key_usage"

/* What an authenticated request was for: the permission its route needs. */
typedef enum {
    WC_USAGE_READ,
    WC_USAGE_SEND,
    WC_USAGE_OPERATE,
    WC_USAGE_ADMIN,
    WC_USAGE_CLASS_COUNT
} wc_usage_class_t;

/* The refusals counted per key, by HTTP status. */
typedef enum {
    WC_REFUSED_401,
    WC_REFUSED_403,
    WC_REFUSED_429,
    WC_REFUSED_503,
    WC_REFUSED_COUNT
} wc_usage_refusal_t;

#define WC_DAY_MS 86400000LL
#define WC_USAGE_ADDR_LEN 48

/* One key's usage on one UTC day (or the part of it one flush carries). */
typedef struct {
    char tenant_id[25];
    char key_id[17]; /* wc_principal_t.key_id */
    char hint[13];   /* the key's first 12 characters, as `wavecomctl apikey list` shows */
    int64_t day_ms;  /* the day's UTC midnight */
    int64_t requests[WC_USAGE_CLASS_COUNT];
    int64_t accepted[WC_CHANNEL_COUNT];
    int64_t refused[WC_REFUSED_COUNT];
    int64_t first_at_ms; /* 0: none in this part */
    char first_from[WC_USAGE_ADDR_LEN];
    int64_t last_at_ms;
    char last_from[WC_USAGE_ADDR_LEN];
} wc_usage_day_t;

/* Names used as field names in the documents and in the API's JSON. */
const char *wc_usage_class_name(wc_usage_class_t c);
const char *wc_usage_refusal_name(wc_usage_refusal_t r);

/* Adds "requests" (by class), "accepted" (by channel) and "refused" (by
 * reason) to `row`, each an object of name -> count, as the API's usage
 * answer and wavecomctl show a day's counts or their totals. */
void wc_usage_add_counts_json(json_object *row, const int64_t requests[WC_USAGE_CLASS_COUNT],
                              const int64_t accepted[WC_CHANNEL_COUNT],
                              const int64_t refused[WC_REFUSED_COUNT]);

/* The refusal counted for an HTTP status; -1 when the status is not one. */
int wc_usage_refusal_of_status(unsigned status);

/* "YYYY-MM-DD" of the UTC day holding `ms`; `out` holds 11 bytes. */
void wc_usage_day_name(int64_t ms, char out[11]);

/* Adds each day's counts to its document with one unordered bulk upsert
 * ($inc for the counts, $setOnInsert for the first use, $max for the last).
 * Days with nothing counted are skipped. */
wc_store_status_t wc_store_usage_add(wc_store_t *store, const wc_usage_day_t *days, size_t n);

/* The tenant's days in [from_ms, to_ms] (day starts), of one key when
 * `key_id` is not NULL, at most `max` of them, oldest first. *out is
 * malloc'd and owned by the caller (NULL with *n 0 when there are none). */
wc_store_status_t wc_store_usage_read(wc_store_t *store, const char *tenant_id,
                                      const char *key_id, int64_t from_ms, int64_t to_ms,
                                      size_t max, wc_usage_day_t **out, size_t *n);

/* What `wavecomctl apikey list` and GET /api/keys show of a key's usage. */
#define WC_USAGE_RECENT_DAYS 30

typedef struct {
    char key_id[17];
    char hint[13];
    int64_t last_at_ms; /* 0: not used in the retained days */
    char last_from[WC_USAGE_ADDR_LEN];
    int64_t requests, accepted, refused; /* over the last WC_USAGE_RECENT_DAYS days */
} wc_usage_summary_t;

/* One summary per key of the tenant that was used in the last `retention_days`
 * days before `now_ms` (last use over all of them, counts over the recent
 * days). *out is malloc'd and owned by the caller. */
wc_store_status_t wc_store_usage_summaries(wc_store_t *store, const char *tenant_id,
                                           int64_t now_ms, int retention_days,
                                           wc_usage_summary_t **out, size_t *n);

/* True for a key created more than WC_USAGE_RECENT_DAYS days before `now_ms`
 * and not used since then (last_used_ms 0: never in the retained days): a key
 * that could be revoked without anyone noticing. */
bool wc_usage_key_is_stale(int64_t created_ms, int64_t last_used_ms, int64_t now_ms);

/* Parses "YYYY-MM-DD" into the day's UTC midnight; -1 when it is not a day. */
int wc_usage_day_parse(const char *text, int64_t *day_ms);

/* The summary of `hint` among summaries[0..n), or NULL. */
const wc_usage_summary_t *wc_usage_summary_find(const wc_usage_summary_t *summaries, size_t n,
                                                const char *hint);

/* Creates the (tenantId, dayStart) index the readers use; none on FerretDB. */
wc_store_status_t wc_store_ensure_usage_indexes(wc_store_t *store);

/* Deletes the days that start before `before_ms`; *deleted counts them. */
wc_store_status_t wc_store_usage_sweep(wc_store_t *store, int64_t before_ms, int64_t *deleted);

#endif
