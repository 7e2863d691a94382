/*
 * test_fastmath.c - bp_fast_expf and bp_fast_sigmoidf against libm.
 */
#include <math.h>

#include "fastmath.h"
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
