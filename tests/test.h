/*
 * test.h - the smallest test harness that does the job.
 *
 * Every tests/test_*.c file defines functions `void test_NAME(void)` that use
 * CHECK / CHECK_NEAR; tests/main.c lists and runs them and prints the closing
 * line "N passed, M failed". A test "passes" when none of its checks failed.
 */
#ifndef BP_TEST_H
#define BP_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Counters of the test program (not the library): failures in the running test, and
   whether it skipped itself (what it needs is not here; it says why with SKIP). */
extern int bp_test_failures;
extern int bp_test_skipped;

#define SKIP(...)                                                                 \
    do {                                                                          \
        bp_test_skipped = 1;                                                      \
        printf("  skip: ");                                                       \
        printf(__VA_ARGS__);                                                      \
        putchar('\n');                                                            \
    } while (0)

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            bp_test_failures++;                                                   \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* |a - b| <= tol * max(1, |a|, |b|) */
#define CHECK_NEAR(a, b, tol)                                                     \
    do {                                                                          \
        double ca_ = (double)(a), cb_ = (double)(b), sc_ = fabs(ca_);             \
        if (fabs(cb_) > sc_) sc_ = fabs(cb_);                                     \
        if (sc_ < 1.0) sc_ = 1.0;                                                 \
        CHECK(fabs(ca_ - cb_) <= (tol) * sc_, "%s = %.10g, %s = %.10g", #a, ca_, #b, cb_); \
    } while (0)

/* The tests' random numbers: splitmix64 over a state the test owns, so every
   test's sequence is its own and reproducible. */
static inline uint64_t bp_test_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
