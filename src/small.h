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

/* Per-sample SGD over samples order[0..n) (or first, first+1, ..., first+n-1 when order
   is NULL), updating the parameters in place; returns the sum of the per-sample losses
   (NaN or infinite if training diverged). */
double bp_small_sgd_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                          float lr, float weight_decay, size_t first);

#endif
