/*
 * dense.h - one fully connected layer as a pair of plain functions.
 *
 * Shapes are in the signatures; rows are samples, so a batch of activations
 * A^(l-1) (the seeds' n_in x m matrix, samples as columns) is stored m x n_in.
 */
#ifndef BP_DENSE_H
#define BP_DENSE_H

#include "backprop.h"

/* z = W a + b, a = g(z) for m samples:
   Z (m x n_out) = A_prev (m x n_in) W^T (n_in x n_out) + 1 b^T.  b may be NULL. */
void bp_dense_forward(float *z, float *a, const float *a_prev, const float *W, const float *b,
                      size_t m, size_t n_in, size_t n_out, bp_activation g, float *gemm_work);

/* Given delta = dC/dz of this layer (m x n_out, one row per sample):
   grad_W = scale * delta^T A_prev        (dC/dW = delta (a^(l-1))^T, summed over samples)
   grad_b = scale * sum over rows of delta (dC/db = delta)
   delta_prev = delta W                   ((W^T delta) per sample; NULL skips it)
   scale is 1/m for the mean over the batch, 1 for the sum. The caller then
   multiplies delta_prev by g'(z^(l-1)) to finish delta^(l-1). */
void bp_dense_backward(float *grad_W, float *grad_b, float *delta_prev, const float *delta,
                       const float *a_prev, const float *W, size_t m, size_t n_in, size_t n_out,
                       float scale, float *gemm_work);

#endif
