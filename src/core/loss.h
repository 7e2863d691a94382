/*
 * loss.h - loss values and the output layer's delta^L, float32, over a batch.
 *
 * delta^L = dC/dz^L per sample. For the canonical pairs (identity + MSE,
 * softmax + CE, sigmoid + BCE) it is a - y; otherwise it is the general
 * grad_a C (.) g'(z^L), computed through bp_activation_backward.
 * Reduction over the batch (mean or sum) is left to the caller.
 */
#ifndef BP_LOSS_H
#define BP_LOSS_H

#include "backprop.h"

/* Sum over the m samples of the per-sample loss, from z = z^L, a = a^L and targets y. */
double bp_loss_sum(bp_loss loss, const float *z, const float *a, const float *y, size_t m, size_t n);

/* delta = dC_s/dz^L for every sample s (m x n), no 1/m factor. */
void bp_loss_delta(bp_loss loss, bp_activation output, const float *a,
                   const float *y, float *delta, size_t m, size_t n);

/* Both of the above in one call: delta as bp_loss_delta writes it, and the loss
   sum as bp_loss_sum returns it, the same bits (softmax + CE in one pass, eight rows
   at a time with AVX-512 where the CPU has it, unless portable is nonzero). */
double bp_loss_sum_delta(bp_loss loss, bp_activation output, const float *z, const float *a, const float *y,
                         float *delta, size_t m, size_t n, int portable);

/* 1 when the pair's delta^L is simply a - y. */
int bp_loss_is_canonical(bp_loss loss, bp_activation output);

#endif
