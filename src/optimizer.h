/*
 * optimizer.h - parameter updates: one loop over the whole parameter block.
 */
#ifndef BP_OPTIMIZER_H
#define BP_OPTIMIZER_H

#include <stddef.h>

/* Gradient descent, optionally with momentum (velocity may be NULL when momentum is 0):
       v <- momentum v + grad;   W <- W - lr v          (plain: W <- W - lr grad) */
void bp_sgd_update(float *params, const float *grads, float *velocity, size_t n, float lr,
                   float momentum);

#endif
