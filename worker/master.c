#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "master_slots.h"
#include "metrics.h"
#include "metrics_server.h"
#include "wc_log.h"
#include "wc_signals.h"
#include "wc_time.h"

typedef enum { MASTER_RUNNING, MASTER_DRAINING, MASTER_DONE } master_state_t;

static const char *const state_names[] = {"running", "draining", "done"};

typedef struct {
    wc_config_t *cfg;
    worker_breakers_t *breakers; /* shared with every child */
    worker_metrics_t *metrics;   /* shared with every child */
    metrics_server_t *metrics_server; /* NULL when off or when it could not start */
    int metrics_fd;                   /* its listening socket, -1 without one */
    master_slot_t *slots;
    int count;
    master_state_t state;
    unsigned generation;
    int64_t drain_deadline_ms;
} master_t;

/* Every change of the master's state goes through here, and is logged. */
static void set_state(master_t *m, master_state_t next, const char *why)
{
    wc_log_info("master %s -> %s: %s", state_names[m->state], state_names[next], why);
    m->state = next;
}

/* A child's start or exit as log fields besides the message, so that a log
 * pipeline can count restarts and alert on crash loops without parsing text.
 * Returns NULL when out of memory (the line then goes without them). */
static json_object *child_fields(int index, pid_t pid, const master_slot_t *s)
{
    json_object *f = json_object_new_object();
    if (f != NULL) {
        json_object_object_add(f, "slot", json_object_new_int(index));
        json_object_object_add(f, "childPid", json_object_new_int((int)pid));
        json_object_object_add(f, "restarts", json_object_new_int(s->restarts));
    }
    return f;
}

static void add_exit_fields(json_object *f, int status, int64_t lived_ms)
{
    if (f == NULL) {
        return;
    }
    if (WIFEXITED(status)) {
        json_object_object_add(f, "exitCode", json_object_new_int(WEXITSTATUS(status)));
    } else if (WIFSIGNALED(status)) {
        json_object_object_add(f, "signal", json_object_new_int(WTERMSIG(status)));
    }
    json_object_object_add(f, "livedMs", json_object_new_int64(lived_ms));
}

static void spawn(master_t *m, int i)
{
    master_slot_t *s = &m->slots[i];
    pid_t pid = fork();
    if (pid < 0) {
        wc_log_error("fork for worker %d failed: %s; retrying in 1 s", i, strerror(errno));
        s->restart_at_ms = wc_time_monotonic_ms() + 1000;
        return;
    }
    if (pid == 0) {
        /* The metrics socket is the master's: a child that kept it would
         * hold the port after the master is gone. */
        if (m->metrics_fd >= 0) {
            close(m->metrics_fd);
        }
        _exit(worker_child_run(m->cfg, i, m->breakers, m->metrics));
    }
    s->pid = pid;
    s->started_ms = wc_time_monotonic_ms();
    s->generation = m->generation;
    s->exiting = false;
    char msg[64];
    snprintf(msg, sizeof(msg), "worker %d started, pid %d", i, (int)pid);
    wc_log_fields(WC_LOG_INFO, msg, child_fields(i, pid, s));
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFEXITED(status)) {
        snprintf(buf, len, "exited with code %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        snprintf(buf, len, "stopped with status %d", status);
    }
}

static void on_child_exit(master_t *m, master_slot_t *s, int index, int status)
{
    char how[96];
    describe_exit(status, how, sizeof(how));
    int64_t now = wc_time_monotonic_ms();
    int64_t lived = now - s->started_ms;
    pid_t pid = s->pid;
    /* A child that died cannot clear its own gauges. */
    worker_metrics_clear_slot(m->metrics, index);

    bool fatal_code = WIFEXITED(status) && WEXITSTATUS(status) == CHILD_EXIT_FATAL;
    switch (master_slot_exited(s, m->state != MASTER_RUNNING, fatal_code, now)) {
    case MASTER_EXIT_DRAINED:
        wc_log_info("worker %d %s while draining", index, how);
        return;
    case MASTER_EXIT_FATAL: {
        char msg[192];
        snprintf(msg, sizeof(msg),
                 "worker %d (pid %d) %s: its configuration cannot work; not restarting it", index,
                 (int)pid, how);
        json_object *f = child_fields(index, pid, s);
        add_exit_fields(f, status, lived);
        wc_log_fields(WC_LOG_ERROR, msg, f);
        return;
    }
    case MASTER_EXIT_ROLLED:
        /* A rolling restart: replaced at once with the new configuration. */
        wc_log_info("worker %d %s for a rolling restart", index, how);
        return;
    case MASTER_EXIT_CRASHED:
        break;
    }
    int64_t delay = s->restart_at_ms - now;
    worker_metrics_count_restart(m->metrics);
    /* How long it lived tells a crash loop (dying young, restarts spaced out)
     * from a rare crash after a healthy run (restarted at once). */
    char msg[256];
    snprintf(msg, sizeof(msg), "worker %d (pid %d) %s after %.1f s; restart %d in %lld ms", index,
             (int)pid, how, (double)lived / 1000.0, s->restarts, (long long)delay);
    json_object *f = child_fields(index, pid, s);
    add_exit_fields(f, status, lived);
    if (f != NULL) {
        json_object_object_add(f, "crashStreak", json_object_new_int(s->crash_streak));
        json_object_object_add(f, "restartInMs", json_object_new_int64(delay));
    }
    wc_log_fields(WC_LOG_WARN, msg, f);
}

static void reap(master_t *m)
{
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < m->count; i++) {
            if (m->slots[i].pid == pid) {
                on_child_exit(m, &m->slots[i], i, status);
                break;
            }
        }
    }
}

static int live_children(const master_t *m)
{
    int n = 0;
    for (int i = 0; i < m->count; i++) {
        n += m->slots[i].pid != 0;
    }
    return n;
}

static void signal_children(master_t *m, int sig)
{
    for (int i = 0; i < m->count; i++) {
        if (m->slots[i].pid != 0) {
            kill(m->slots[i].pid, sig);
            m->slots[i].exiting = true;
        }
    }
}

static void begin_drain(master_t *m, int sig)
{
    char why[64];
    snprintf(why, sizeof(why), "received %s", strsignal(sig));
    set_state(m, MASTER_DRAINING, why);
    m->drain_deadline_ms = wc_time_monotonic_ms() + m->cfg->drain_grace_seconds * 1000LL;
    signal_children(m, SIGTERM);
}

/* SIGHUP: re-read the environment; a bad configuration keeps the old one. */
static void reload(master_t *m)
{
    wc_config_t next;
    char err[512];
    if (wc_config_load(&next, err, sizeof(err)) != 0) {
        wc_log_error("SIGHUP: new configuration rejected, keeping the old one: %s", err);
        return;
    }
    if (next.worker_processes != m->cfg->worker_processes) {
        wc_log_warn("SIGHUP: WAVECOM_WORKER_PROCESSES changes only on restart; keeping %d",
                    m->cfg->worker_processes);
        next.worker_processes = m->cfg->worker_processes;
    }
    if (next.worker_metrics_port != m->cfg->worker_metrics_port ||
        strcmp(next.worker_metrics_host, m->cfg->worker_metrics_host) != 0) {
        wc_log_warn("SIGHUP: the metrics endpoint's address changes only on restart; keeping "
                    "%s:%d", m->cfg->worker_metrics_host, m->cfg->worker_metrics_port);
        next.worker_metrics_port = m->cfg->worker_metrics_port;
        memcpy(next.worker_metrics_host, m->cfg->worker_metrics_host,
               sizeof(next.worker_metrics_host));
    }
    *m->cfg = next;
    m->generation++;
    wc_log_info("SIGHUP: configuration reloaded; rolling restart of the workers");
}

/* One child at a time is replaced, so capacity never drops to zero. */
static void roll_one(master_t *m)
{
    int i = master_slot_to_roll(m->slots, m->count, m->generation);
    if (i >= 0) {
        kill(m->slots[i].pid, SIGTERM);
        m->slots[i].exiting = true;
    }
}

static void refill(master_t *m)
{
    int64_t now = wc_time_monotonic_ms();
    for (int i = 0; i < m->count; i++) {
        if (master_slot_due(&m->slots[i], now)) {
            spawn(m, i);
        }
    }
}

int worker_master_run(wc_config_t *cfg)
{
    /* No handlers at all: the signals stay blocked and wait on the wake-up
     * descriptor, which the loop polls and acts on (shared/util/wc_signals.h). A
     * child inherits them blocked and opens its own descriptor. */
    const int signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    if (wc_signals_open(signals, sizeof(signals) / sizeof(signals[0])) != 0) {
        return 1;
    }

    master_t m = {.cfg = cfg, .count = cfg->worker_processes, .state = MASTER_RUNNING,
                  .metrics_fd = -1};
    m.slots = calloc((size_t)m.count, sizeof(master_slot_t));
    /* Mapped before any fork, so that every child, restarted ones too,
     * shares the same breakers. */
    m.breakers = worker_breakers_map();
    m.metrics = worker_metrics_map();
    if (m.slots == NULL || m.breakers == NULL || m.metrics == NULL) {
        wc_log_error("out of memory for the worker slots, the shared breakers or the metrics");
        free(m.slots);
        worker_breakers_unmap(m.breakers);
        worker_metrics_unmap(m.metrics);
        return 1;
    }
    /* Served from this loop, not from a thread: a fork copies the memory of
     * every thread but runs only the caller, so a lock another thread held at
     * that moment stays held in the child for good (seen: AddressSanitizer's
     * allocator lock, which hung every thread the child started). Metrics
     * that cannot be served are no reason to stop delivering: the failure is
     * logged and the pool runs without them. */
    if (cfg->worker_metrics_port > 0) {
        m.metrics_server = metrics_server_start(cfg->worker_metrics_host, cfg->worker_metrics_port,
                                                m.metrics, m.breakers);
    }
    m.metrics_fd = metrics_server_fd(m.metrics_server);
    wc_log_info("master starting %d workers", m.count);
    refill(&m);

    int rc = 0;
    while (m.state != MASTER_DONE) {
        /* Short turns while the metrics endpoint is served from here. */
        long tick_ms = m.metrics_server != NULL ? 20 : 200;
        wc_signals_wait((int)tick_ms);
        bool term = wc_signals_take(SIGTERM);
        bool interrupt = wc_signals_take(SIGINT);
        if ((term || interrupt) && m.state == MASTER_RUNNING) {
            begin_drain(&m, term ? SIGTERM : SIGINT);
        }
        if (wc_signals_take(SIGHUP) && m.state == MASTER_RUNNING) {
            reload(&m);
        }
        /* SIGCHLDs coalesce, and an exit may come between two turns: reap on
         * every turn. */
        (void)wc_signals_take(SIGCHLD);
        reap(&m);
        metrics_server_run(m.metrics_server);

        if (m.state == MASTER_RUNNING) {
            roll_one(&m);
            refill(&m);
            if (master_slots_all_fatal(m.slots, m.count)) {
                set_state(&m, MASTER_DONE, "every worker failed fatally");
                rc = 1;
            }
        } else if (m.state == MASTER_DRAINING) {
            if (live_children(&m) == 0) {
                set_state(&m, MASTER_DONE, "all workers drained");
            } else if (wc_time_monotonic_ms() >= m.drain_deadline_ms) {
                wc_log_warn("drain grace of %d s passed; killing %d workers",
                            cfg->drain_grace_seconds, live_children(&m));
                signal_children(&m, SIGKILL);
                m.drain_deadline_ms = INT64_MAX;
            }
        }
    }
    metrics_server_stop(m.metrics_server);
    free(m.slots);
    worker_breakers_unmap(m.breakers);
    worker_metrics_unmap(m.metrics);
    return rc;
}
