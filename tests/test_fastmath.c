/*
 * test_fastmath.c - bp_fast_expf and bp_fast_sigmoidf against libm.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/fastmath.h"
#include "test.h"

void test_fast_exp_accuracy(void)
{
    double worst = 0.0;
    for (float x = -87.0f; x <= 88.0f; x += 0.000731f) {
        double want = exp((double)x), got = bp_fast_expf(x);
        double rel = fabs(got - want) / want;
        worst = rel > worst ? rel : worst;
    }
    CHECK(worst < 5e-7, "worst relative error %g", worst);
    CHECK(bp_fast_expf(0.0f) == 1.0f, "e^0 = %g", (double)bp_fast_expf(0.0f));
    CHECK(isfinite(bp_fast_expf(1000.0f)) && bp_fast_expf(1000.0f) > 1e38f, "clamped above");
    CHECK(bp_fast_expf(-1000.0f) > 0.0f && bp_fast_expf(-1000.0f) < 1e-37f, "clamped below");
    CHECK(isnan(bp_fast_expf(NAN)), "NaN stays NaN");
    CHECK(bp_fast_sigmoidf(1000.0f) == 1.0f && bp_fast_sigmoidf(-1000.0f) < 1e-37f, "sigmoid saturates");
    CHECK(fabsf(bp_fast_sigmoidf(0.3f) - 1.0f / (1.0f + expf(-0.3f))) < 1e-7f, "sigmoid(0.3)");
}

/* The block version (softmax's) gives bp_fast_expf's bits on every value, NaN,
   infinities, clamped extremes and exact integers of x/ln2 included, in the
   vectorized main loop and in the scalar tail alike (n = 1 to 40). */
void test_fast_exp_block_matches_scalar(void)
{
    float x[40], want[40];
    const float special[] = {NAN, INFINITY, -INFINITY, 88.5f, -90.0f, 0.0f, -0.0f, 0.6931472f, -0.6931472f,
                             -2.0794415f, 1e-30f, -1e-30f, 87.9f, -86.9f};
    const size_t n_special = sizeof special / sizeof special[0];
    uint32_t state = 12345;
    size_t mismatches = 0;
    for (size_t n = 1; n <= 40; n++) {
        for (size_t i = 0; i < n; i++) {
            state = state * 1664525u + 1013904223u;
            x[i] = i % 3 == 0 ? special[(i / 3 + n) % n_special] : ((float)(state >> 8) / 16777216.0f - 0.5f) * 60.0f;
            want[i] = bp_fast_expf(x[i]);
        }
        bp_fast_expf_block(x, n);
        for (size_t i = 0; i < n; i++) mismatches += memcmp(&x[i], &want[i], sizeof(float)) != 0;
    }
    CHECK(mismatches == 0, "%zu values of bp_fast_expf_block differ from bp_fast_expf's bits", mismatches);
}
