/*
 * dense.c - the forward and backward products of one dense layer.
 *
 * All three products go through bp_gemm_ex with transpose flags instead of
 * materialized transposes; the epilogue does the element-wise work (bias,
 * ReLU, g'(z)) as each tile of the product is written. The optimizer steps
 * for gradient descent and momentum are fused into the weight-gradient
 * product too, which saves writing and re-reading a gradient block.
 */
#include <string.h>

#include "activation.h"
#include "dense.h"
#include "kernels/gemm.h"
#include "optimizer.h"

void bp_dense_forward(float *z, float *a, const float *a_prev, const float *W, const float *b,
                      size_t m, size_t n_in, size_t n_out, bp_activation g, const bp_gemm_team *team)
{
    bp_gemm_epilogue epi = {b, BP_EPI_NONE, BP_EPI_NONE, NULL, 0, BP_LEAKY_SLOPE};
    if (z == a && (g == BP_ACT_RELU || g == BP_ACT_LEAKY_RELU)) {
        /* a = relu(W a_prev + b) straight out of the product. */
        epi.act = g == BP_ACT_RELU ? BP_EPI_RELU : BP_EPI_LEAKY;
        bp_gemm_team_ex(team, 0, 1, m, n_out, n_in, 1.0f, a_prev, n_in, W, n_in, 0.0f, a, n_out, &epi);
        return;
    }
    bp_gemm_team_ex(team, 0, 1, m, n_out, n_in, 1.0f, a_prev, n_in, W, n_in, 0.0f, z, n_out, &epi);
    bp_activation_forward(g, z, a, m, n_out);
}

static int derivative_code(bp_activation g)
{
    switch (g) {
    case BP_ACT_RELU: return BP_EPI_RELU;
    case BP_ACT_LEAKY_RELU: return BP_EPI_LEAKY;
    case BP_ACT_SIGMOID: return BP_EPI_SIGMOID;
    case BP_ACT_TANH: return BP_EPI_TANH;
    case BP_ACT_IDENTITY:
    case BP_ACT_SOFTMAX: break; /* softmax is never a hidden activation */
    }
    return BP_EPI_NONE;
}

void bp_dense_backward_delta(float *delta_prev, const float *delta, const float *W,
                             const float *a_prev, bp_activation g_prev, size_t m, size_t n_in,
                             size_t n_out, const bp_gemm_team *team)
{
    /* W^T delta for every sample: Delta_prev (m x n_in) = Delta (m x n_out) W (n_out x n_in),
       then (.) g'(z^(l-1)), written from a^(l-1) in the epilogue. */
    bp_gemm_epilogue epi = {NULL, BP_EPI_NONE, derivative_code(g_prev), a_prev, n_in, BP_LEAKY_SLOPE};
    bp_gemm_team_ex(team, 0, 0, m, n_in, n_out, 1.0f, delta, n_out, W, n_in, 0.0f, delta_prev, n_in, &epi);
}

/* y += c x over n floats. Separate, with restrict, and with a main loop whose
   trip count is visibly a multiple of 8, so that GCC's -O2 vectorizes it: the
   same loop written inline over a bias and a delta row stays scalar (the two
   might overlap as far as the compiler knows), and measured 1.3% of W1. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void add_scaled(size_t n, float c, const float *restrict x, float *restrict y)
{
    const size_t n8 = n & ~(size_t)7;
    size_t i = 0;
    for (; i < n8; i++) y[i] += c * x[i];
    for (; i < n; i++) y[i] += c * x[i];
}

/* out (n) = c times the sum over the m rows of delta (m x n), added to keep * out. */
static void add_column_sums(float *out, float keep, const float *delta, size_t m, size_t n, float c)
{
    if (keep == 0.0f)
        memset(out, 0, n * sizeof(float));
    else if (keep != 1.0f)
        for (size_t i = 0; i < n; i++) out[i] *= keep;
    for (size_t s = 0; s < m; s++) add_scaled(n, c, delta + s * n, out);
}

void bp_dense_gradient_rows(float *grad_W, float *grad_b, const float *delta, const float *a_prev,
                            size_t m, size_t n_in, size_t n_out, size_t r0, size_t r1, float scale,
                            const bp_gemm_team *team)
{
    /* dC/dW (n_out x n_in) = scale * Delta^T (n_out x m) A_prev (m x n_in); rows r0..r1 of
       it are columns r0..r1 of Delta. */
    bp_gemm_team_ex(team, 1, 0, r1 - r0, n_in, m, scale, delta + r0, n_out, a_prev, n_in, 0.0f,
                    grad_W + r0 * n_in, n_in, NULL);
    if (grad_b) add_column_sums(grad_b, 0.0f, delta, m, n_out, scale);
}

void bp_dense_gradient(float *grad_W, float *grad_b, const float *delta, const float *a_prev,
                       size_t m, size_t n_in, size_t n_out, float scale, const bp_gemm_team *team)
{
    bp_dense_gradient_rows(grad_W, grad_b, delta, a_prev, m, n_in, n_out, 0, n_out, scale, team);
}

void bp_dense_sgd_step(float *W, float *b, const float *delta, const float *a_prev, size_t m,
                       size_t n_in, size_t n_out, float scale, float lr, float wd,
                       const bp_gemm_team *team)
{
    float keep = 1.0f - lr * wd;
    /* W = keep W - lr scale Delta^T A_prev: the GEMM's beta does the decay. */
    bp_gemm_team_ex(team, 1, 0, n_out, n_in, m, -lr * scale, delta, n_out, a_prev, n_in, keep, W, n_in, NULL);
    if (b) add_column_sums(b, keep, delta, m, n_out, -lr * scale);
}

void bp_dense_momentum_step(float *W, float *b, float *vW, float *vb, const float *delta,
                            const float *a_prev, size_t m, size_t n_in, size_t n_out, float scale,
                            float lr, float mu, const bp_gemm_team *team)
{
    bp_gemm_team_ex(team, 1, 0, n_out, n_in, m, scale, delta, n_out, a_prev, n_in, mu, vW, n_in, NULL);
    /* W <- W - lr V, with V's tiny entries flushed to zero (optimizer.c says why). */
    bp_velocity_step(W, vW, n_out * n_in, lr, 0);
    if (b) {
        add_column_sums(vb, mu, delta, m, n_out, scale);
        bp_velocity_step(b, vb, n_out, lr, 0);
    }
}
