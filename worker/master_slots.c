#include "master_slots.h"

int64_t master_restart_delay_ms(int crash_streak)
{
    if (crash_streak <= 0) {
        return 0;
    }
    int64_t delay = 1000LL << (crash_streak - 1 < 5 ? crash_streak - 1 : 5);
    return delay > MASTER_RESTART_DELAY_MAX_MS ? MASTER_RESTART_DELAY_MAX_MS : delay;
}

master_exit_t master_slot_exited(master_slot_t *s, bool draining, bool fatal_code,
                                 int64_t now_ms)
{
    int64_t lived = now_ms - s->started_ms;
    bool asked = s->exiting;
    s->pid = 0;
    s->exiting = false;
    if (draining) {
        return MASTER_EXIT_DRAINED;
    }
    if (fatal_code) {
        s->fatal = true;
        return MASTER_EXIT_FATAL;
    }
    if (asked) {
        s->restart_at_ms = now_ms;
        return MASTER_EXIT_ROLLED;
    }
    s->crash_streak = lived < MASTER_HEALTHY_LIFETIME_MS ? s->crash_streak + 1 : 0;
    s->restarts++;
    s->restart_at_ms = now_ms + master_restart_delay_ms(s->crash_streak);
    return MASTER_EXIT_CRASHED;
}

int master_slot_to_roll(const master_slot_t *slots, int n, unsigned generation)
{
    for (int i = 0; i < n; i++) {
        if (slots[i].exiting) {
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        if (slots[i].pid != 0 && slots[i].generation != generation) {
            return i;
        }
    }
    return -1;
}

bool master_slot_due(const master_slot_t *s, int64_t now_ms)
{
    return s->pid == 0 && !s->fatal && now_ms >= s->restart_at_ms;
}

bool master_slots_all_fatal(const master_slot_t *slots, int n)
{
    for (int i = 0; i < n; i++) {
        if (!slots[i].fatal) {
            return false;
        }
    }
    return true;
}
