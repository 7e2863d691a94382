/*
 * activation.h - the activations g and their derivatives, float32, over a batch.
 *
 * Forward computes a = g(z). Backward multiplies an upstream gradient by the
 * Jacobian of g: for the element-wise kinds that is delta (.) g'(z); for
 * softmax it is the full product J^T delta with J = diag(a) - a a^T.
 * The double-precision versions used by the reference live in reference.c on
 * purpose, so that the two paths share no code.
 */
#ifndef BP_ACTIVATION_H
#define BP_ACTIVATION_H

#include "backprop.h"

/* a = g(z); z and a are m x n (rows are samples). a may equal z. */
void bp_activation_forward(bp_activation g, const float *z, float *a, size_t m, size_t n);

/* delta <- J_g(z)^T delta, row by row: delta (.) g'(z) for element-wise g.
   Both z and a = g(z) are given so each kind uses the cheaper one. */
void bp_activation_backward(bp_activation g, const float *z, const float *a, float *delta,
                            size_t m, size_t n);

/* Numerically stable logistic function. */
float bp_sigmoidf(float z);

#endif
