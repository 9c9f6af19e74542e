/*
 * How every WaveCom process takes its signals (docs/ARCHITECTURE.md §6): a
 * flag per signal and one descriptor that wakes the loop.
 *
 * The signals a process cares about (SIGTERM to drain, SIGHUP to reload,
 * SIGCHLD in the worker master, SIGINT in wavecomctl) stay blocked in every
 * thread, so none of them ever interrupts a system call, runs code at an
 * arbitrary point, or goes to a library's thread. They wait in a signalfd
 * instead: the loop polls its descriptor beside its other ones, reads it
 * (wc_signals_collect), and acts on the flags between two pieces of work.
 * There is no handler at all, so nothing is restricted to what a handler may
 * call.
 *
 * The state is the process's, used from the one thread that runs its loop.
 * A forked child calls wc_signals_open again: that closes the descriptor it
 * inherited (which would otherwise read the child's signals through the
 * parent's file, and keep it open) and starts with no flag set.
 */
#ifndef WC_SIGNALS_H
#define WC_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>

/* Sets the calling thread's signal mask to exactly `signals` (threads it
 * starts later inherit it; call it before starting any) and opens the
 * wake-up descriptor for them, replacing an earlier one with its flags.
 * Returns 0, or -1 after logging why. */
int wc_signals_open(const int *signals, size_t count);

/* Readable while a signal waits to be collected; -1 before wc_signals_open. */
int wc_signals_fd(void);

/* Moves every signal waiting on the descriptor into the flags; never
 * blocks. */
void wc_signals_collect(void);

/* Waits up to `timeout_ms` (negative: no bound) for a signal, then collects.
 * A signal stays on the descriptor until collected, so one that comes
 * between a look at the flags and this wait ends the wait at once. */
void wc_signals_wait(int timeout_ms);

/* True once `sig` has been collected; stays true (a drain is asked once). */
bool wc_signals_arrived(int sig);

/* True when `sig` has been collected since the last take, which it clears
 * (a reload or a child's exit can happen again). */
bool wc_signals_take(int sig);

#endif
