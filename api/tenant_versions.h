/*
 * The tenant's data version (wc_store_counters_version) and counts, as this
 * process last read them, reused for up to WAVECOM_API_VERSION_FRESH_MS.
 *
 * Every list answer and every poll's 304 starts from the version: with it in
 * memory, a dashboard that polls a page nobody changed costs the database
 * nothing (docs/READS.md, "HTTP caching for pollers"). Another process's
 * changes already show only once it flushes its counters (about a second);
 * this adds at most the freshness window to that. This process's own changes
 * are never hidden: flushing them forgets the tenants they touch
 * (wc_store_on_counted), so a client reads its own writes through the API
 * that took them.
 */
#ifndef API_TENANT_VERSIONS_H
#define API_TENANT_VERSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "wc_store.h"
#include "wc_store_counters.h"

typedef struct api_tenant_versions api_tenant_versions_t;

/* How the version is read: wc_store_counters_version's shape, `source`
 * standing for the store (a test passes its own). */
typedef wc_store_status_t (*api_version_reader_t)(void *source, const char *tenant_id,
                                                  int64_t *version, wc_store_counts_t *counts);

/* A memo of at most `tenants` tenants; NULL when out of memory. */
api_tenant_versions_t *api_tenant_versions_new(size_t tenants, api_version_reader_t read,
                                               void *source);
void api_tenant_versions_free(api_tenant_versions_t *memo);

/* The tenant's version and counts: remembered when they were read less than
 * `fresh_ms` before `now_ms` and not forgotten since, read otherwise. What
 * the reader returned when it failed (nothing is remembered then). */
wc_store_status_t api_tenant_versions_get(api_tenant_versions_t *memo, const char *tenant_id,
                                          int64_t now_ms, int64_t fresh_ms, int64_t *version,
                                          wc_store_counts_t *counts);

/* Drops what is remembered of `tenant_id`, and keeps a read that was under
 * way meanwhile from being remembered: its answer may predate the change. */
void api_tenant_versions_forget(api_tenant_versions_t *memo, const char *tenant_id);

#endif
