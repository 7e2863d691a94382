/*
 * parallel.h - one data-parallel gradient (parallel.c): this process's share of
 * a global batch through the backward pass, summed with every other process's
 * through bp_train_config's allreduce, so that all processes hold the gradient of
 * the whole batch and can apply the same update.
 */
#ifndef BP_PARALLEL_H
#define BP_PARALLEL_H

#include "backprop.h"

/* The gradient of a global batch of m samples into net's gradient block, from this
   process's local_m of them (x, y; possibly none), with c's allreduce (or, when
   c->allreduce_start is set, its overlapped pieces). *loss receives the batch's loss,
   mean or sum as c->reduction asks. BP_ERR_NUMERIC when the summed loss is not finite
   (the gradient is then not to be applied); BP_ERR_IO when a sum failed. */
bp_status bp_parallel_gradient(bp_net *net, const bp_train_config *c, const float *x, const float *y,
                               size_t local_m, size_t m, double *loss);

#endif
