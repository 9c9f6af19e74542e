/*
 * The lifecycle of a notification as one table: which status may move to
 * which (docs/ARCHITECTURE.md §4). The store's writes still make each move
 * atomic with a status filter; this table is where those filters and the
 * store's decisions about a status come from, and tests/unit/test_lifecycle.c
 * checks every cell of it.
 *
 *   SCHEDULED -> PENDING             the scheduler, when due
 *   PENDING   -> QUEUED              after the broker confirmed its message
 *   PENDING, QUEUED, RETRYING -> PROCESSING   a worker's claim (from PENDING
 *                                    it records QUEUED on the way)
 *   PROCESSING -> PROCESSING         a claim taking over an expired lease
 *   PROCESSING -> SENT, RETRYING, FAILED      the worker's outcome
 *   PROCESSING -> SUPPRESSED         the worker found the recipient suppressed
 *                                    or opted out (docs/ARCHITECTURE.md §16)
 *   FAILED    -> PENDING             a replay
 *   SCHEDULED, PENDING, QUEUED, RETRYING -> CANCELLED   a cancel
 *
 * SENT, CANCELLED and SUPPRESSED are final. A new notification starts PENDING (QUEUED in
 * the same write) or SCHEDULED; that is not a move.
 */
#ifndef WC_LIFECYCLE_H
#define WC_LIFECYCLE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "wc_notification.h"

/* True when a notification in `from` may move to `to`. False for a value
 * outside the enum. */
bool wc_status_may_move(wc_status_t from, wc_status_t to);

/* Fills `out` with the statuses that may move to `to`, in enum order.
 * Returns how many. */
size_t wc_status_sources(wc_status_t to, wc_status_t out[WC_STATUS_COUNT]);

/* Appends to `filter` the condition "`key` is the name of a status that may
 * move to `to`" ({key: {"$in": [...]}}). Returns false when bson failed. */
bool wc_status_append_sources(bson_t *filter, const char *key, wc_status_t to);

#endif
