/*
 * dense.h - one fully connected layer as a few plain functions.
 *
 * Shapes are in the signatures; rows are samples, so a batch of activations
 * A^(l-1) (the seeds' n_in x m matrix, samples as columns) is stored m x n_in.
 * Every product goes through bp_gemm_ex, whose epilogue applies the bias, the
 * ReLU and the derivative g'(z) while the product is written, so no extra
 * pass over the batch is made for them.
 */
#ifndef BP_DENSE_H
#define BP_DENSE_H

#include "backprop.h"
#include "kernels/gemm.h"

/* z = W a + b, a = g(z) for m samples:
   Z (m x n_out) = A_prev (m x n_in) W^T (n_in x n_out) + 1 b^T.  b may be NULL.
   z may equal a (the layer keeps only a^l; every hidden g' can be computed from a). */
void bp_dense_forward(float *z, float *a, const float *a_prev, const float *W, const float *b,
                      size_t m, size_t n_in, size_t n_out, bp_activation g, const bp_gemm_team *team);

/* delta^(l-1) = (W^l)^T delta^l (.) g'(z^(l-1)) for every sample, in one product:
   Delta_prev (m x n_in) = (Delta (m x n_out) W (n_out x n_in)) (.) g'(A_prev),
   where g = g_prev is the activation of layer l-1 and A_prev its output. */
void bp_dense_backward_delta(float *delta_prev, const float *delta, const float *W,
                             const float *a_prev, bp_activation g_prev, size_t m, size_t n_in,
                             size_t n_out, const bp_gemm_team *team);

/* dC/dW^l = scale delta^T A_prev (delta (a^(l-1))^T summed over samples) and
   dC/db^l = scale * sum over rows of delta (grad_b may be NULL without biases).
   scale is 1/m for the mean over the batch, 1 for the sum. */
void bp_dense_gradient(float *grad_W, float *grad_b, const float *delta, const float *a_prev,
                       size_t m, size_t n_in, size_t n_out, float scale, const bp_gemm_team *team);

/* The same for rows r0..r1 of dC/dW^l only (and all of dC/db^l if grad_b is given):
   rows are independent, so with the built-in GEMM computing dW in row blocks gives the
   bits of one product (OpenBLAS may round a block differently). */
void bp_dense_gradient_rows(float *grad_W, float *grad_b, const float *delta, const float *a_prev,
                            size_t m, size_t n_in, size_t n_out, size_t r0, size_t r1, float scale,
                            const bp_gemm_team *team);

/* The gradient step fused into the weight-gradient product, for plain gradient
   descent with L2 weight decay wd:  W <- (1 - lr wd) W - lr scale delta^T A_prev,
   b likewise, without ever writing dC/dW. */
void bp_dense_sgd_step(float *W, float *b, const float *delta, const float *a_prev, size_t m,
                       size_t n_in, size_t n_out, float scale, float lr, float wd,
                       const bp_gemm_team *team);

/* Momentum fused the same way: V <- mu V + scale delta^T A_prev, then W <- W - lr V
   (and the same for b with its own velocity vb); entries of V below 1e-30 in
   magnitude become zero, as in every optimizer (bp_velocity_step). */
void bp_dense_momentum_step(float *W, float *b, float *vW, float *vb, const float *delta,
                            const float *a_prev, size_t m, size_t n_in, size_t n_out, float scale,
                            float lr, float mu, const bp_gemm_team *team);

#endif
