/*
 * unit.h — a tiny TAP-style unit-test runner. Each test file defines tests with TEST(name) and lists them in
 * main() with RUN(name); the file exits non-zero when any check failed. tests/unit/run.sh adds up the
 * results of all files and prints "N passed, N failed".
 */
#ifndef IG_TESTS_UNIT_H
#define IG_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int unit_failed_checks;
static int unit_tests_passed, unit_tests_failed;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            unit_failed_checks++;                                                                            \
            fprintf(stderr, "  check failed %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                                    \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                                   \
    do {                                                                                                     \
        long long _a = (long long)(a), _b = (long long)(b);                                                  \
        if (_a != _b) {                                                                                      \
            unit_failed_checks++;                                                                            \
            fprintf(stderr, "  check failed %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b,   \
                    _a, _b);                                                                                 \
        }                                                                                                    \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                                                   \
    do {                                                                                                     \
        const char *_a = (a), *_b = (b);                                                                     \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                                             \
            unit_failed_checks++;                                                                            \
            fprintf(stderr, "  check failed %s:%d: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, #a,   \
                    #b, _a ? _a : "(null)", _b ? _b : "(null)");                                             \
        }                                                                                                    \
    } while (0)
#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define RUN(name)                                                                                            \
    do {                                                                                                     \
        int _before = unit_failed_checks;                                                                    \
        name();                                                                                              \
        if (unit_failed_checks == _before) {                                                                 \
            unit_tests_passed++;                                                                             \
            printf("ok - %s\n", #name);                                                                      \
        } else {                                                                                             \
            unit_tests_failed++;                                                                             \
            printf("not ok - %s\n", #name);                                                                  \
        }                                                                                                    \
    } while (0)

#define UNIT_DONE()                                                                                          \
    do {                                                                                                     \
        printf("# %d passed, %d failed\n", unit_tests_passed, unit_tests_failed);                            \
        return unit_tests_failed ? 1 : 0;                                                                    \
    } while (0)

#endif
