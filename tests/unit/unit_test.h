/* What every unit test in this folder starts from: cmocka with the headers it
 * needs included first (cmocka.h uses them without including them), and the
 * one main() each test program has, which runs its table of cases with no
 * group set-up. A test file lists its cases in that table:
 *
 *     UNIT_TEST_MAIN(cmocka_unit_test(first_case),
 *                    cmocka_unit_test(second_case))
 */
#ifndef WAVECOM_UNIT_TEST_H
#define WAVECOM_UNIT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define UNIT_TEST_MAIN(...)                                                                        \
    int main(void)                                                                                 \
    {                                                                                              \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                                           \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

#endif
