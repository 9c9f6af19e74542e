/*
 * A worker child: consumes both priority queues and keeps many deliveries in
 * flight on one thread — an event loop over the AMQP socket and libcurl's
 * multi handle. Each message is claimed, delivered, recorded, and acked only
 * once its outcome is durable (docs/ARCHITECTURE.md §4, invariant 3).
 */
#ifndef WORKER_CHILD_H
#define WORKER_CHILD_H

#include "breakers.h"
#include "metrics.h"
#include "wc_config.h"

/* Exit code of a child whose configuration can never work: the master does
 * not restart it. */
#define CHILD_EXIT_FATAL 2

/* Runs in a freshly forked child until SIGTERM/SIGINT or the master's death;
 * returns the process's exit code. `breakers` and `metrics` are the shared
 * memory the master mapped; the child writes slot `slot` of the in-flight
 * gauge. */
int worker_child_run(const wc_config_t *cfg, int slot, worker_breakers_t *breakers,
                     worker_metrics_t *metrics);

#endif
