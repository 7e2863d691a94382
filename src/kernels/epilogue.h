/*
 * epilogue.h - the element-wise work a matrix product does as it writes C.
 *
 * Shared by the products' interfaces (gemm.h, gemm_bf16.h) and the
 * micro-kernels (gemm_kernel.h, gemm_bf16_kernel.h), which apply it tile by
 * tile. Its own header so that the kernels need not include the product's
 * whole interface. bp_epilogue_row is the definition every vectorized copy of
 * the epilogue (in the AVX2, AVX-512 and bf16 kernels) follows operation for
 * operation, so that they all give the same bits.
 */
#ifndef BP_EPILOGUE_H
#define BP_EPILOGUE_H

#include <stddef.h>

/** What happens to C's values as they are written, after the last K block, so that
 *  a separate pass over C is not needed (the "epilogue" of the product):
 *      C[i][j] = act(C[i][j] + bias[j]) * deriv(D[i][j])
 *  bias may be NULL; act is BP_EPI_NONE, BP_EPI_RELU or BP_EPI_LEAKY (slope `slope`);
 *  deriv multiplies by the derivative of an activation given its output value D
 *  (D points at an M x N matrix with row stride ldd): BP_EPI_NONE, BP_EPI_RELU
 *  ([D > 0]), BP_EPI_LEAKY (1 or slope), BP_EPI_SIGMOID (D (1 - D)), BP_EPI_TANH
 *  (1 - D^2). Used by the dense layers: bias + ReLU in the forward product, and
 *  g'(z) (.) applied while W^T delta is written in the backward one. */
enum { BP_EPI_NONE = 0, BP_EPI_RELU, BP_EPI_LEAKY, BP_EPI_SIGMOID, BP_EPI_TANH };
typedef struct {
    const float *bias;
    int act;
    int deriv;
    const float *D;
    size_t ldd;
    float slope;
} bp_gemm_epilogue;

/* The epilogue on one row segment of C: columns [col, col + n) of row `row`. */
static inline void bp_epilogue_row(const bp_gemm_epilogue *e, float *restrict c, size_t row, size_t col,
                                   size_t n)
{
    if (e->bias)
        for (size_t j = 0; j < n; j++) c[j] += e->bias[col + j];
    if (e->act == BP_EPI_RELU)
        for (size_t j = 0; j < n; j++) c[j] = c[j] > 0.0f ? c[j] : 0.0f;
    else if (e->act == BP_EPI_LEAKY)
        for (size_t j = 0; j < n; j++) c[j] = c[j] > 0.0f ? c[j] : e->slope * c[j];
    if (e->deriv != BP_EPI_NONE) {
        const float *restrict d = e->D + row * e->ldd + col;
        switch (e->deriv) {
        case BP_EPI_RELU:
            for (size_t j = 0; j < n; j++) c[j] = d[j] > 0.0f ? c[j] : 0.0f;
            break;
        case BP_EPI_LEAKY:
            for (size_t j = 0; j < n; j++) c[j] *= d[j] > 0.0f ? 1.0f : e->slope;
            break;
        case BP_EPI_SIGMOID:
            for (size_t j = 0; j < n; j++) c[j] *= d[j] * (1.0f - d[j]);
            break;
        case BP_EPI_TANH:
            for (size_t j = 0; j < n; j++) c[j] *= 1.0f - d[j] * d[j];
            break;
        }
    }
}

/* What a product with alpha or K zero reduces to: C = beta C over M x N (beta == 0
   writes zeros, so NaN in C does not survive), then the epilogue (NULL: none). The
   fp32 and bf16 products both end here in that case. */
static inline void bp_gemm_scale(size_t M, size_t N, float beta, float *C, size_t ldc,
                                 const bp_gemm_epilogue *e)
{
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (size_t j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f)
            for (size_t j = 0; j < N; j++) c[j] *= beta;
        if (e) bp_epilogue_row(e, c, i, 0, N);
    }
}

#endif
