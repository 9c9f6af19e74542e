#include "wc_signals.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "wc_log.h"

/* Signals are numbered below 65 on Linux; a flag each. */
#define SIGNAL_SLOTS 65

static int signal_fd = -1;
static bool arrived[SIGNAL_SLOTS];
static bool untaken[SIGNAL_SLOTS]; /* arrived since the last wc_signals_take */

int wc_signals_open(const int *signals, size_t count)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < count; i++) {
        if (signals[i] <= 0 || signals[i] >= SIGNAL_SLOTS || sigaddset(&set, signals[i]) != 0) {
            wc_log_error("signals: %d is not a signal this module can wait for", signals[i]);
            return -1;
        }
    }
    /* Blocked first: a signal that comes now waits, pending, for the new
     * descriptor instead of taking its default action. */
    int rc = pthread_sigmask(SIG_SETMASK, &set, NULL);
    if (rc != 0) {
        wc_log_error("signals: pthread_sigmask: %s", strerror(rc));
        return -1;
    }
    if (signal_fd >= 0 && close(signal_fd) != 0) {
        wc_log_error("signals: close the inherited descriptor: %s", strerror(errno));
    }
    memset(arrived, 0, sizeof(arrived));
    memset(untaken, 0, sizeof(untaken));
    signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        wc_log_error("signals: signalfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int wc_signals_fd(void) { return signal_fd; }

void wc_signals_collect(void)
{
    if (signal_fd < 0) {
        return;
    }
    struct signalfd_siginfo info[8];
    for (;;) {
        ssize_t n = read(signal_fd, info, sizeof(info));
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                wc_log_error("signals: read: %s", strerror(errno));
            }
            return;
        }
        for (size_t i = 0; i < (size_t)n / sizeof(info[0]); i++) {
            uint32_t sig = info[i].ssi_signo;
            if (sig < SIGNAL_SLOTS) {
                arrived[sig] = true;
                untaken[sig] = true;
            }
        }
        if ((size_t)n < sizeof(info)) {
            return; /* nothing more waits */
        }
    }
}

void wc_signals_wait(int timeout_ms)
{
    struct pollfd pfd = {.fd = signal_fd, .events = POLLIN};
    if (poll(&pfd, signal_fd >= 0 ? 1 : 0, timeout_ms) < 0 && errno != EINTR) {
        wc_log_error("signals: poll: %s", strerror(errno));
    }
    wc_signals_collect();
}

bool wc_signals_arrived(int sig) { return sig > 0 && sig < SIGNAL_SLOTS && arrived[sig]; }

bool wc_signals_take(int sig)
{
    if (sig <= 0 || sig >= SIGNAL_SLOTS || !untaken[sig]) {
        return false;
    }
    untaken[sig] = false;
    return true;
}
