/*
 * The host's report of its circuit breakers to the database (worker_hosts),
 * so that the API, which never sees this host's shared memory, can show them.
 *
 * One child per host (slot 0) reports, every WAVECOM_WORKER_REPORT_SECONDS.
 * The loop thread only copies the breakers out of shared memory; the write
 * runs on the child's store pool, so a slow or unreachable database never
 * holds up deliveries. At most one report is in flight: a report that has
 * not finished when the next is due is not doubled, the next one waits.
 */
#ifndef WORKER_HOST_REPORT_H
#define WORKER_HOST_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "breakers.h"
#include "store_pool.h"
#include "wc_config.h"
#include "wc_store_hosts.h"

/* The four provider breakers plus every webhook slot. */
#define HOST_REPORT_MAX_BREAKERS BREAKER_COUNT

/* Copies the breakers worth reporting into `out` (room for
 * HOST_REPORT_MAX_BREAKERS): smtp, twilio, fcm and apns always, a webhook slot
 * only when it is not closed (64 closed slots say nothing). `since_ms` is
 * wall-clock time, converted from the breakers' monotonic clock with the two
 * "now"s given. Returns how many were written. */
size_t host_report_snapshot(const worker_breakers_t *breakers, int64_t now_wall_ms,
                            int64_t now_mono_ms, wc_host_breaker_t *out);

typedef struct host_report host_report_t;

/* A reporter for this host: its id is WAVECOM_WORKER_ID, or the host name.
 * NULL when out of memory (logged). */
host_report_t *host_report_new(const wc_config_t *cfg, const worker_breakers_t *breakers);

/* On the loop thread, every turn: when a report is due and none is in flight,
 * takes a snapshot and submits its write to `pool`. */
void host_report_tick(host_report_t *report, store_pool_t *pool, int64_t now_mono_ms);

/* Frees the reporter; only after store_pool_free, which finishes or drops the
 * report the pool may still hold. NULL is ignored. */
void host_report_free(host_report_t *report);

#endif
