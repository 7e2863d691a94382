/*
 * dense.c - the forward and backward products of one dense layer.
 *
 * All three products go through bp_gemm with transpose flags instead of
 * materialized transposes. Activation derivatives are applied by the caller
 * (network.c), which knows which activation the previous layer used.
 */
#include <string.h>

#include "activation.h"
#include "dense.h"
#include "gemm.h"

void bp_dense_forward(float *z, float *a, const float *a_prev, const float *W, const float *b,
                      size_t m, size_t n_in, size_t n_out, bp_activation g, float *gemm_work)
{
    float beta = 0.0f;
    if (b) {
        /* Start every row of Z at b so the product accumulates onto it (beta = 1). */
        for (size_t s = 0; s < m; s++) memcpy(z + s * n_out, b, n_out * sizeof(float));
        beta = 1.0f;
    }
    bp_gemm(0, 1, m, n_out, n_in, 1.0f, a_prev, n_in, W, n_in, beta, z, n_out, gemm_work);
    bp_activation_forward(g, z, a, m, n_out);
}

void bp_dense_backward(float *grad_W, float *grad_b, float *delta_prev, const float *delta,
                       const float *a_prev, const float *W, size_t m, size_t n_in, size_t n_out,
                       float scale, float *gemm_work)
{
    /* dC/dW (n_out x n_in) = scale * Delta^T (n_out x m) A_prev (m x n_in) */
    bp_gemm(1, 0, n_out, n_in, m, scale, delta, n_out, a_prev, n_in, 0.0f, grad_W, n_in, gemm_work);
    if (grad_b) {
        for (size_t i = 0; i < n_out; i++) grad_b[i] = 0.0f;
        for (size_t s = 0; s < m; s++) {
            const float *row = delta + s * n_out;
            for (size_t i = 0; i < n_out; i++) grad_b[i] += row[i];
        }
        for (size_t i = 0; i < n_out; i++) grad_b[i] *= scale;
    }
    /* W^T delta for every sample: Delta_prev (m x n_in) = Delta (m x n_out) W (n_out x n_in) */
    if (delta_prev)
        bp_gemm(0, 0, m, n_in, n_out, 1.0f, delta, n_out, W, n_in, 0.0f, delta_prev, n_in, gemm_work);
}
