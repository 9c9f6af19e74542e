/* shared/util/wc_signals.c: a blocked signal wakes the descriptor and sets its
 * flag; `take` clears, `arrived` stays; a forked child that opens again has
 * its own descriptor and flags, and its signals never reach the parent's. */
#include "unit_test.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wc_signals.h"

static bool readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

static void open_usr(void)
{
    const int signals[] = {SIGUSR1, SIGUSR2};
    assert_int_equal(wc_signals_open(signals, 2), 0);
}

static void a_signal_wakes_the_descriptor_and_sets_its_flag(void **state)
{
    (void)state;
    open_usr();
    int fd = wc_signals_fd();
    assert_true(fd >= 0);
    assert_false(readable(fd));
    wc_signals_wait(0); /* nothing waits: returns at once */
    assert_false(wc_signals_arrived(SIGUSR1));

    /* Blocked, so it waits on the descriptor instead of ending the test. */
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_true(readable(fd));
    assert_false(wc_signals_arrived(SIGUSR1)); /* not collected yet */
    wc_signals_wait(-1);
    assert_false(readable(fd));
    assert_true(wc_signals_arrived(SIGUSR1));
    assert_false(wc_signals_arrived(SIGUSR2));

    assert_true(wc_signals_take(SIGUSR1));
    assert_false(wc_signals_take(SIGUSR1)); /* taken once per arrival */
    assert_true(wc_signals_arrived(SIGUSR1)); /* a drain, once asked, stays asked */

    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    wc_signals_collect();
    assert_true(wc_signals_take(SIGUSR2));
}

static void opening_again_starts_with_no_flags(void **state)
{
    (void)state;
    open_usr();
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    wc_signals_collect();
    assert_true(wc_signals_arrived(SIGUSR1));
    open_usr();
    assert_false(wc_signals_arrived(SIGUSR1));
    assert_false(wc_signals_take(SIGUSR1));
}

static void a_forked_child_has_its_own_descriptor(void **state)
{
    (void)state;
    open_usr();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child's own descriptor: its signal is its own. Exit codes
         * name the check that failed. */
        const int signals[] = {SIGUSR1};
        if (wc_signals_open(signals, 1) != 0) {
            _exit(10);
        }
        if (kill(getpid(), SIGUSR1) != 0) {
            _exit(11);
        }
        wc_signals_wait(-1);
        _exit(wc_signals_take(SIGUSR1) ? 0 : 12);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nothing of the child's reached the parent. */
    assert_false(readable(wc_signals_fd()));
    wc_signals_collect();
    assert_false(wc_signals_arrived(SIGUSR1));
}

static void a_number_that_is_no_signal_is_refused(void **state)
{
    (void)state;
    const int bad[] = {0};
    assert_int_equal(wc_signals_open(bad, 1), -1);
    assert_false(wc_signals_arrived(0));
    assert_false(wc_signals_take(-3));
}

UNIT_TEST_MAIN(cmocka_unit_test(a_signal_wakes_the_descriptor_and_sets_its_flag),
               cmocka_unit_test(opening_again_starts_with_no_flags),
               cmocka_unit_test(a_forked_child_has_its_own_descriptor),
               cmocka_unit_test(a_number_that_is_no_signal_is_refused))
