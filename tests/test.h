/* A minimal unit-test framework: each test binary defines TEST functions,
 * lists them in main with RUN(), and ends with TEST_SUMMARY(), which prints
 * "N passed, M failed" and returns non-zero on any failure. */
#ifndef MLAMBDA_TESTS_TEST_H
#define MLAMBDA_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

static int test_failures_in_current;
static int tests_passed, tests_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "    %s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, #a,  \
                    #b, a_, b_);                                                                   \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (tol))) {                                                           \
            fprintf(stderr, "    %s:%d: %s ~= %s failed: %.9g vs %.9g\n", __FILE__, __LINE__, #a,  \
                    #b, a_, b_);                                                                   \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "    %s:%d: \"%s\" == \"%s\" failed\n", __FILE__, __LINE__,            \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

/* Asserts success; prints the status message and frees it otherwise. */
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        ml_status st_ = (expr);                                                                    \
        if (st_) {                                                                                 \
            fprintf(stderr, "    %s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,               \
                    ml_status_message(st_));                                                       \
            ml_status_free(st_);                                                                   \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

/* Asserts failure with the given code; frees the status. */
#define CHECK_ERR(expr, code)                                                                      \
    do {                                                                                           \
        ml_status st_ = (expr);                                                                    \
        if (ml_status_code(st_) != (code)) {                                                       \
            fprintf(stderr, "    %s:%d: %s: expected %s, got %s (%s)\n", __FILE__, __LINE__,       \
                    #expr, ml_code_name(code), ml_code_name(ml_status_code(st_)),                  \
                    ml_status_message(st_));                                                       \
            test_failures_in_current++;                                                            \
        }                                                                                          \
        ml_status_free(st_);                                                                       \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_failures_in_current = 0;                                                              \
        fn();                                                                                      \
        if (test_failures_in_current) {                                                            \
            tests_failed++;                                                                        \
            printf("FAIL %s\n", #fn);                                                              \
        } else {                                                                                   \
            tests_passed++;                                                                        \
            printf("PASS %s\n", #fn);                                                              \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_SUMMARY()                                                                             \
    (printf("%d passed, %d failed\n", tests_passed, tests_failed), tests_failed ? 1 : 0)

#endif
