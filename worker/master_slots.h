/*
 * The master's child table and its decisions, without a process in sight:
 * what an exit means for a slot and when the slot is refilled, which child a
 * rolling restart replaces next, and whether every slot failed for good.
 * master.c forks, signals and logs around these; tests/unit/test_master_slots.c
 * drives them through crash loops, rolling restarts, fatal exits and drains.
 */
#ifndef WORKER_MASTER_SLOTS_H
#define WORKER_MASTER_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A child that lived shorter than this is crashing, and its restart waits. */
#define MASTER_HEALTHY_LIFETIME_MS 10000
#define MASTER_RESTART_DELAY_MAX_MS 30000

typedef struct {
    pid_t pid;             /* 0 when no child runs in this slot */
    int64_t started_ms;
    int64_t restart_at_ms; /* when an empty slot may be refilled */
    int restarts;
    int crash_streak;      /* consecutive short-lived exits */
    unsigned generation;   /* configuration generation the child runs with */
    bool exiting;          /* we asked it to stop */
    bool fatal;            /* exited with CHILD_EXIT_FATAL: never refilled */
} master_slot_t;

typedef enum {
    MASTER_EXIT_DRAINED, /* the master is draining: the slot stays empty */
    MASTER_EXIT_FATAL,   /* its configuration cannot work: never refilled */
    MASTER_EXIT_ROLLED,  /* we asked it to stop for a rolling restart: refilled at once */
    MASTER_EXIT_CRASHED, /* it died on its own: refilled after a delay */
} master_exit_t;

/* The wait before restarting a child after `crash_streak` short lives in a
 * row: none after a healthy run, then 1 s doubling up to
 * MASTER_RESTART_DELAY_MAX_MS. */
int64_t master_restart_delay_ms(int crash_streak);

/* Records that the child of `s` exited at `now_ms` (`fatal_code`: with
 * CHILD_EXIT_FATAL) while the master was draining or not, and says what that
 * means. The slot is empty afterwards; a crash also counts a restart, updates
 * the streak and sets restart_at_ms. */
master_exit_t master_slot_exited(master_slot_t *s, bool draining, bool fatal_code,
                                 int64_t now_ms);

/* The slot whose child a rolling restart stops next: one running an older
 * `generation`, but only when no child is already on its way out, so that
 * capacity never drops by more than one. -1 when none. */
int master_slot_to_roll(const master_slot_t *slots, int n, unsigned generation);

/* True when the empty slot `s` may get a new child at `now_ms`. */
bool master_slot_due(const master_slot_t *s, int64_t now_ms);

/* True when every slot failed fatally: the master gives up. */
bool master_slots_all_fatal(const master_slot_t *slots, int n);

#endif
