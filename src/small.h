/*
 * small.h - the tiny-network path for per-sample gradient descent (small.c).
 */
#ifndef BP_SMALL_H
#define BP_SMALL_H

#include "backprop.h"

/* Widest layer the tiny path takes: its vectors live on the stack. */
#define SMALL_WIDTH 32

/* 1 when every layer of net is at most SMALL_WIDTH wide. */
int bp_small_applies(const bp_net *net);

/* Per-sample SGD over samples order[0..n) (or 0..n-1 when order is NULL), updating the
   parameters in place; returns the sum of the per-sample losses (NaN or infinite if
   training diverged). */
double bp_small_sgd_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                          float lr, float weight_decay);

/* The implementations bp_small_sgd_epoch chooses from, for tests that compare them:
   the plain loops (any shape this path takes), and the four-lane vector version
   (depth <= 3, widths <= 4, GCC or clang), portable or with AVX2 + FMA. */
typedef enum {
    BP_SMALL_AUTO = 0,      /* what bp_small_sgd_epoch picks */
    BP_SMALL_REFERENCE,
    BP_SMALL_VECTOR,        /* the portable build of the vector version */
    BP_SMALL_VECTOR_FMA     /* falls back to BP_SMALL_VECTOR where it is not there */
} bp_small_kernel;

/* 1 when the vector version takes this network (and this build has it). */
int bp_small_vector_applies(const bp_net *net);

/* bp_small_sgd_epoch with the implementation named; a vector kernel asked for a network
   it does not take runs the reference one. */
double bp_small_sgd_epoch_with(bp_small_kernel kernel, bp_net *net, const float *x, const float *y,
                               const size_t *order, size_t n, float lr, float weight_decay);

#endif
