/*
 * dense_reference.h - one dense layer, forward and backward, in plain loops:
 * the definition of the seeds' equations that every fast path is tested
 * against (dense.c's GEMM with epilogues, the tiny per-sample path, and
 * through them the GPU trainer, which the tests compare with the CPU).
 *
 * Rows are samples, as everywhere in the library: a batch of m activations
 * a^(l-1) (the seeds' n_in x m matrix A, samples as columns) is stored m x n_in.
 * Sums are accumulated in double, so as an oracle the reference adds almost
 * none of the rounding it is used to bound. Slow on purpose; never on a
 * training path.
 */
#ifndef BP_DENSE_REFERENCE_H
#define BP_DENSE_REFERENCE_H

#include <stddef.h>

#include "backprop.h"

/* Forward, for each sample s:  z = W a_prev + b,  a = g(z).
   z, a: m x n_out;  a_prev: m x n_in;  W: n_out x n_in (row-major);  b: n_out or NULL. */
void bp_dense_forward_reference(float *z, float *a, const float *a_prev, const float *W, const float *b,
                                size_t m, size_t n_in, size_t n_out, bp_activation g);

/* Backward, given delta = dC/dz of this layer (m x n_out):
     dC/dW = scale sum_s delta_s (a_prev_s)^T           grad_W: n_out x n_in
     dC/db = scale sum_s delta_s                         grad_b: n_out (NULL: no bias)
     delta_prev_s = W^T delta_s (.) g_prev'(a_prev_s)    delta_prev: m x n_in (NULL: not wanted)
   g_prev is the activation that produced a_prev (element-wise; softmax is never hidden).
   scale is 1/m for the mean over the batch, 1 for the sum. */
void bp_dense_backward_reference(float *delta_prev, float *grad_W, float *grad_b, const float *delta,
                                 const float *W, const float *a_prev, bp_activation g_prev, size_t m,
                                 size_t n_in, size_t n_out, float scale);

#endif
