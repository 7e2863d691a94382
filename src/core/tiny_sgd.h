/*
 * tiny_sgd.h - the tiny-network path for per-sample gradient descent (tiny_sgd.c).
 */
#ifndef BP_TINY_SGD_H
#define BP_TINY_SGD_H

#include "backprop.h"

/* Widest layer the tiny path takes: its vectors live on the stack. */
#define BP_TINY_WIDTH 32

/* 1 when every layer of net is at most BP_TINY_WIDTH wide. */
int bp_tiny_sgd_applies(const bp_net *net);

/* Per-sample SGD over samples order[0..n) (or 0..n-1 when order is NULL), updating the
   parameters in place; returns the sum of the per-sample losses (NaN or infinite if
   training diverged). */
double bp_tiny_sgd_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                          float lr, float weight_decay);

/* The implementations bp_tiny_sgd_epoch chooses from, for tests that compare them:
   the plain loops (any shape this path takes), and the four-lane vector version
   (depth <= 3, widths <= 4, GCC or clang), portable or with AVX2 + FMA. */
typedef enum {
    BP_TINY_AUTO = 0,      /* what bp_tiny_sgd_epoch picks */
    BP_TINY_PLAIN,
    BP_TINY_VECTOR,        /* the portable build of the vector version */
    BP_TINY_VECTOR_FMA     /* falls back to BP_TINY_VECTOR where it is not there */
} bp_tiny_kernel;

/* 1 when the vector version takes this network (and this build has it). */
int bp_tiny_sgd_vector_applies(const bp_net *net);

/* bp_tiny_sgd_epoch with the implementation named; a vector kernel asked for a network
   it does not take runs the plain one. */
double bp_tiny_sgd_epoch_with(bp_tiny_kernel kernel, bp_net *net, const float *x, const float *y,
                               const size_t *order, size_t n, float lr, float weight_decay);

#endif
