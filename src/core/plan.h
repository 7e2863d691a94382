/*
 * plan.h - the one place that decides how a run of training is computed.
 *
 * The same training (the seeds' forward, loss, backward and update, batch after
 * batch) has five implementations that each pay off somewhere. bp_plan_choose
 * picks one from the trainer's settings, the network and the batch size; the
 * trainer then only carries the plan out. Every plan computes what
 * BP_PLAN_GENERAL computes, up to float rounding (tests/test_plan.c and the
 * tests of each path check it). L-BFGS is the exception: a different loop over
 * the whole data set (lbfgs.c), with a plan of its own.
 */
#ifndef BP_PLAN_H
#define BP_PLAN_H

#include <stddef.h>

#include "backprop.h"

typedef enum {
    BP_PLAN_CUDA = 0, /* the whole run on the GPU (cuda/cuda.h), parameters copied back after */
    BP_PLAN_TINY_SGD, /* per-sample SGD on a tiny network: forward to update in one function,
                         sample after sample (tiny_sgd.c) */
    BP_PLAN_PARALLEL, /* data-parallel: this process's share of every batch, the gradient summed
                         over all processes (parallel.c), then the optimizer */
    BP_PLAN_FUSED,    /* plain SGD or momentum folded into the backward pass, so no gradient
                         block is written (passes.c, bp_net_backward_step) */
    BP_PLAN_LAYERWISE,/* backward pass into the gradient block, each layer's update applied as
                         soon as its gradient is final (passes.c, bp_net_backward_layerwise) */
    BP_PLAN_GENERAL,  /* backward pass into the gradient block, clipping, the optimizer */
    BP_PLAN_LBFGS     /* L-BFGS: one iteration per epoch over the whole data set, its line
                         search evaluating loss and gradient several times (lbfgs.c) */
} bp_plan;

/* What the choice depends on. The settings are the trainer's, with its defaults
   applied (SGD with momentum already turned into BP_OPT_MOMENTUM). */
typedef struct {
    const bp_train_config *config;
    const bp_net *net;
    size_t batch;   /* samples per step in this run (1: per-sample descent) */
    int on_gpu;     /* the trainer was moved to a CUDA device */
} bp_plan_inputs;

bp_plan bp_plan_choose(const bp_plan_inputs *in);

/* How one step of one process applies its update: BP_PLAN_FUSED, BP_PLAN_LAYERWISE or
   BP_PLAN_GENERAL (the last choice bp_plan_choose makes, and bp_trainer_step's only one). */
bp_plan bp_plan_step(const bp_train_config *config);

/* The plan in a few words ("tiny per-sample SGD", ...), for messages and tests. */
const char *bp_plan_name(bp_plan plan);

#endif
