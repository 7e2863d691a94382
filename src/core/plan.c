/*
 * plan.c - choosing how a run trains (see plan.h). Each rule says why the
 * faster plan is exact only under its conditions.
 */
#include "network.h"
#include "plan.h"
#include "tiny_sgd.h"

/* The update can be folded into the weight-gradient product when nothing needs the
   whole gradient first (clipping needs its norm) and the rule is linear in it: plain
   SGD (with L2 decay as the product's beta), or momentum without decay. */
static int update_fuses(const bp_train_config *c)
{
    return c->clip_norm == 0 &&
           (c->optimizer == BP_OPT_SGD || (c->optimizer == BP_OPT_MOMENTUM && c->weight_decay == 0));
}

/* The tiny path updates after every sample with one fixed learning rate: per-sample
   plain SGD with no schedule, no warm-up and no clipping, on layers narrow enough for
   its stack vectors, without dropout and in float32 (it has no bf16 products). */
static int tiny_applies(const bp_plan_inputs *in)
{
    const bp_train_config *c = in->config;
    return in->batch == 1 && c->optimizer == BP_OPT_SGD && c->clip_norm == 0 && c->precision == BP_PRECISION_FP32 &&
           c->schedule == BP_SCHEDULE_CONSTANT && c->warmup_epochs == 0 && !in->net->has_dropout &&
           bp_tiny_sgd_applies(in->net);
}

bp_plan bp_plan_choose(const bp_plan_inputs *in)
{
    if (in->on_gpu) return BP_PLAN_CUDA;
    /* L-BFGS is a different loop, not a different way to compute the same steps. */
    if (in->config->optimizer == BP_OPT_LBFGS) return BP_PLAN_LBFGS;
    if (in->config->ranks > 1) return BP_PLAN_PARALLEL;
    if (tiny_applies(in)) return BP_PLAN_TINY_SGD;
    return bp_plan_step(in->config);
}

/* Every other rule is element-wise, so it can update a layer as soon as the backward
   pass has finished that layer's gradient (and used W^l for the delta below), while the
   layer's gradient is still in cache: the same bits as updating the whole block after
   the pass. Only clipping needs the whole gradient's norm first. */
bp_plan bp_plan_step(const bp_train_config *config)
{
    if (update_fuses(config)) return BP_PLAN_FUSED;
    return config->clip_norm == 0 ? BP_PLAN_LAYERWISE : BP_PLAN_GENERAL;
}

const char *bp_plan_name(bp_plan plan)
{
    switch (plan) {
    case BP_PLAN_CUDA: return "the GPU";
    case BP_PLAN_TINY_SGD: return "tiny per-sample SGD";
    case BP_PLAN_PARALLEL: return "data-parallel";
    case BP_PLAN_FUSED: return "update fused into the backward pass";
    case BP_PLAN_LAYERWISE: return "the optimizer layer by layer in the backward pass";
    case BP_PLAN_GENERAL: return "backward pass, then the optimizer";
    case BP_PLAN_LBFGS: return "full-batch L-BFGS";
    }
    return "unknown";
}
