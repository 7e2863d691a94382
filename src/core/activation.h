/*
 * activation.h - the activations g and their derivatives g', float32.
 *
 * bp_g and bp_g_prime below are THE definition of every element-wise g and g'
 * in the library: the batch functions of activation.c, the plain dense layer of
 * dense_reference.c and the tiny-network path's derivatives call them, and the
 * fast paths that cannot (the GEMM's epilogues, the tiny path's four-lane
 * exponentials, the CUDA kernels) are tested against them. g' is written as a
 * function of the output a = g(z): every element-wise g here allows it
 * (sigmoid' = a (1 - a), tanh' = 1 - a^2, ReLU' = [a > 0]), which lets hidden
 * layers keep only a. At the kink z = 0 the ReLU family takes the left side's
 * slope (0, or the leaky slope), as PyTorch does.
 *
 * Softmax couples a layer's units, so it has no scalar form: its forward and its
 * Jacobian product J^T d = a (.) (d - <a, d>) are in activation.c.
 *
 * The long double versions used by the Jacobian reference live in
 * verify/reference.c on purpose, so that the two paths share no code.
 */
#ifndef BP_ACTIVATION_H
#define BP_ACTIVATION_H

#include <math.h>

#include "backprop.h"

/* Slope of leaky ReLU for z <= 0 (also written into model files). */
#define BP_LEAKY_SLOPE 0.01f

/* The logistic function, never exponentiating a large positive number: both
   branches stay in (0, 1]. */
static inline float bp_sigmoidf(float z)
{
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    const float e = expf(z);
    return e / (1.0f + e);
}

/* a = g(z) for one unit of an element-wise activation (softmax: see above). */
static inline float bp_g(bp_activation g, float z)
{
    switch (g) {
    case BP_ACT_IDENTITY: return z;
    case BP_ACT_SIGMOID: return bp_sigmoidf(z);
    case BP_ACT_TANH: return tanhf(z);
    case BP_ACT_RELU: return z > 0.0f ? z : 0.0f;
    case BP_ACT_LEAKY_RELU: return z > 0.0f ? z : BP_LEAKY_SLOPE * z;
    case BP_ACT_SOFTMAX: break;
    }
    return z;
}

/* g'(z) from a = g(z), for one unit of an element-wise activation. */
static inline float bp_g_prime(bp_activation g, float a)
{
    switch (g) {
    case BP_ACT_IDENTITY: return 1.0f;
    case BP_ACT_SIGMOID: return a * (1.0f - a);
    case BP_ACT_TANH: return 1.0f - a * a;
    case BP_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    case BP_ACT_LEAKY_RELU: return a > 0.0f ? 1.0f : BP_LEAKY_SLOPE;
    case BP_ACT_SOFTMAX: break;
    }
    return 1.0f;
}

/* a = g(z) over a batch; z and a are m x n (rows are samples). a may equal z. */
void bp_activation_forward(bp_activation g, const float *z, float *a, size_t m, size_t n);

/* a = softmax(z) row by row for m rows of n (z and a may be the same array), the
   form bp_activation_forward uses: AVX-512 where the CPU has it, unless portable is
   nonzero; the same bits either way (tests/test_layers.c compares them). */
void bp_softmax_rows(const float *z, float *a, size_t m, size_t n, int portable);

/* delta <- J_g(z)^T delta, row by row: delta (.) g'(z) for element-wise g, the full
   product with J = diag(a) - a a^T for softmax. a = g(z) is the layer's output. */
void bp_activation_backward(bp_activation g, const float *a, float *delta, size_t m, size_t n);

#endif
