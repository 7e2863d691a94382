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

/* out (n) = c times the sum over the m rows of delta (m x n), added to keep * out:
   each column's sum starts from keep * out (0 when keep is 0) and adds c delta[s][j]
   row by row, a multiply then an add, in row order. Columns go BLOCK at a time
   through a local block of running sums (four AVX-512 vectors), one loop over
   all m rows, instead of a call and a pass over out for every row. Compiled
   twice, portably and for AVX-512F, and picked per call as optimizer.c picks its
   loops: the same operations in the same order, so the same bits. One row at a
   time through a noinline SSE axpy took 2.5-3% of a digits-size Adam step, this
   1.8% (perf). */
enum { BLOCK = 64 };

#if defined(__GNUC__) || defined(__clang__)
#define COLUMN_INLINE static inline __attribute__((always_inline))
#else
#define COLUMN_INLINE static inline
#endif

/* Columns [j0, j0 + w) of out, w <= BLOCK (a constant where inlined with one). */
COLUMN_INLINE void column_block(float *restrict out, float keep, const float *restrict delta, size_t m,
                                size_t n, float c, size_t j0, size_t w)
{
#if defined(__clang__)
#pragma clang fp contract(off) /* a multiply and an add, as the portable copy rounds */
#endif
    float sums[BLOCK];
    if (keep == 0.0f)
        for (size_t j = 0; j < w; j++) sums[j] = 0.0f;
    else if (keep == 1.0f)
        for (size_t j = 0; j < w; j++) sums[j] = out[j0 + j];
    else
        for (size_t j = 0; j < w; j++) sums[j] = keep * out[j0 + j];
    for (size_t s = 0; s < m; s++) {
        const float *row = delta + s * n + j0;
        for (size_t j = 0; j < w; j++) sums[j] += c * row[j];
    }
    for (size_t j = 0; j < w; j++) out[j0 + j] = sums[j];
}

COLUMN_INLINE void column_sums_body(float *restrict out, float keep, const float *restrict delta, size_t m,
                                    size_t n, float c)
{
    size_t j0 = 0;
    for (; j0 + BLOCK <= n; j0 += BLOCK) column_block(out, keep, delta, m, n, c, j0, BLOCK);
    if (j0 < n) column_block(out, keep, delta, m, n, c, j0, n - j0);
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void column_sums_portable(float *restrict out, float keep, const float *restrict delta, size_t m, size_t n,
                                 float c)
{
    column_sums_body(out, keep, delta, m, n, c);
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(BP_NO_SIMD)
__attribute__((noinline, target("avx512f")))
static void column_sums_wide(float *restrict out, float keep, const float *restrict delta, size_t m, size_t n,
                             float c)
{
    column_sums_body(out, keep, delta, m, n, c);
}
#endif

static void add_column_sums(float *out, float keep, const float *delta, size_t m, size_t n, float c)
{
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(BP_NO_SIMD)
    if (__builtin_cpu_supports("avx512f")) {
        column_sums_wide(out, keep, delta, m, n, c);
        return;
    }
#endif
    column_sums_portable(out, keep, delta, m, n, c);
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
