/*
 * epilogue.h - the element-wise work a matrix product does as it writes C.
 *
 * Shared by the product's interface (gemm.h) and the micro-kernels
 * (gemm_kernel.h), which apply it tile by tile. Its own header so that the
 * kernels need not include the product's whole interface.
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

#endif
