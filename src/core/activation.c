/*
 * activation.c - the activations over a batch (see activation.h): loops over
 * bp_g and bp_g_prime, and softmax, which couples a row's units.
 */
#include <math.h>

#include "activation.h"
#include "kernels/fastmath.h"

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
    const size_t count = m * n;
    /* One loop per kind, so that each loop body is bp_g with g a constant. */
    switch (g) {
    case BP_ACT_IDENTITY:
        if (a != z)
            for (size_t i = 0; i < count; i++) a[i] = z[i];
        break;
    case BP_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_SIGMOID, z[i]);
        break;
    case BP_ACT_TANH:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_TANH, z[i]);
        break;
    case BP_ACT_RELU:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_RELU, z[i]);
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_LEAKY_RELU, z[i]);
        break;
    case BP_ACT_SOFTMAX:
        softmax_rows(z, a, m, n);
        break;
    }
}

/* J^T d for softmax, row by row: J = diag(a) - a a^T is symmetric, so
   J^T d = a (.) (d - <a, d>). */
static void softmax_backward(const float *a, float *delta, size_t m, size_t n)
{
    for (size_t s = 0; s < m; s++) {
        const float *ar = a + s * n;
        float *dr = delta + s * n;
        double dot = 0.0;
        for (size_t i = 0; i < n; i++) dot += (double)ar[i] * dr[i];
        for (size_t i = 0; i < n; i++) dr[i] = ar[i] * (dr[i] - (float)dot);
    }
}

void bp_activation_backward(bp_activation g, const float *a, float *delta, size_t m, size_t n)
{
    const size_t count = m * n;
    switch (g) {
    case BP_ACT_IDENTITY:
        break;
    case BP_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) delta[i] *= bp_g_prime(BP_ACT_SIGMOID, a[i]);
        break;
    case BP_ACT_TANH:
        for (size_t i = 0; i < count; i++) delta[i] *= bp_g_prime(BP_ACT_TANH, a[i]);
        break;
    case BP_ACT_RELU:
        /* A select, not a product: a NaN upstream of a dead unit stays out. */
        for (size_t i = 0; i < count; i++) delta[i] = a[i] > 0.0f ? delta[i] : 0.0f;
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) delta[i] *= bp_g_prime(BP_ACT_LEAKY_RELU, a[i]);
        break;
    case BP_ACT_SOFTMAX:
        softmax_backward(a, delta, m, n);
        break;
    }
}
