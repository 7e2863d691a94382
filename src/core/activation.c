/*
 * activation.c - activations and their derivatives (see activation.h).
 *
 * Derivatives are written in terms of whichever of z or a = g(z) is cheapest:
 * sigmoid' = a(1 - a), tanh' = 1 - a^2, ReLU' = [z > 0]. At the kink z = 0 the
 * ReLU family uses the derivative of the left side (0, or the leaky slope),
 * as PyTorch does.
 */
#include <math.h>

#include "activation.h"
#include "kernels/fastmath.h"
#include "network.h"

float bp_sigmoidf(float z)
{
    /* Never exponentiate a large positive number: both branches stay in (0, 1]. */
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

/* z and a may be the same array. Three passes over the batch rather than three
   per row, so that the exponentials, most of the work, run as one vectorized
   loop over all m n values (rows of 10 are too short to vectorize one by one);
   bp_fast_expf's few-ulp error is far below what float32 training can see
   (tests/test_fastmath.c bounds it). */
static void softmax_rows(const float *z, float *a, size_t m, size_t n)
{
    for (size_t s = 0; s < m; s++) {
        const float *zr = z + s * n;
        float *ar = a + s * n;
        /* Subtracting the row maximum keeps exp() from overflowing: log-sum-exp. */
        float max = zr[0];
        for (size_t i = 1; i < n; i++) max = zr[i] > max ? zr[i] : max;
        for (size_t i = 0; i < n; i++) ar[i] = zr[i] - max;
    }
    bp_fast_expf_block(a, m * n);
    for (size_t s = 0; s < m; s++) {
        float *ar = a + s * n;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += ar[i];
        float inv = (float)(1.0 / sum);
        for (size_t i = 0; i < n; i++) ar[i] *= inv;
    }
}

void bp_activation_forward(bp_activation g, const float *z, float *a, size_t m, size_t n)
{
    size_t count = m * n;
    switch (g) {
    case BP_ACT_IDENTITY:
        if (a != z)
            for (size_t i = 0; i < count; i++) a[i] = z[i];
        break;
    case BP_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) a[i] = bp_sigmoidf(z[i]);
        break;
    case BP_ACT_TANH:
        for (size_t i = 0; i < count; i++) a[i] = tanhf(z[i]);
        break;
    case BP_ACT_RELU:
        for (size_t i = 0; i < count; i++) a[i] = z[i] > 0.0f ? z[i] : 0.0f;
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) a[i] = z[i] > 0.0f ? z[i] : BP_LEAKY_SLOPE * z[i];
        break;
    case BP_ACT_SOFTMAX:
        softmax_rows(z, a, m, n);
        break;
    }
}

void bp_activation_backward(bp_activation g, const float *z, const float *a, float *delta,
                            size_t m, size_t n)
{
    size_t count = m * n;
    switch (g) {
    case BP_ACT_IDENTITY:
        break;
    case BP_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) delta[i] *= a[i] * (1.0f - a[i]);
        break;
    case BP_ACT_TANH:
        for (size_t i = 0; i < count; i++) delta[i] *= 1.0f - a[i] * a[i];
        break;
    case BP_ACT_RELU:
        for (size_t i = 0; i < count; i++) delta[i] = z[i] > 0.0f ? delta[i] : 0.0f;
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) delta[i] *= z[i] > 0.0f ? 1.0f : BP_LEAKY_SLOPE;
        break;
    case BP_ACT_SOFTMAX:
        /* J = diag(a) - a a^T is symmetric, so J^T d = a (.) (d - <a, d>). */
        for (size_t s = 0; s < m; s++) {
            const float *ar = a + s * n;
            float *dr = delta + s * n;
            double dot = 0.0;
            for (size_t i = 0; i < n; i++) dot += (double)ar[i] * dr[i];
            for (size_t i = 0; i < n; i++) dr[i] = ar[i] * (dr[i] - (float)dot);
        }
        break;
    }
}
