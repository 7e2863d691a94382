/*
 * optimizer.h - parameter updates: each rule is one loop over the whole
 * parameter block, because every W and b lives in one block with a gradient
 * block of the same layout. Optimizers know nothing about layers.
 */
#ifndef BP_OPTIMIZER_H
#define BP_OPTIMIZER_H

#include "backprop.h"

/* Everything an update rule needs besides the parameters and gradients. */
typedef struct {
    bp_optimizer kind;
    float lr, momentum, beta1, beta2, epsilon, weight_decay;
    uint64_t step;     /* updates made so far (Adam's bias correction) */
    float *state1;     /* momentum/Nesterov: velocity; Adam: first moment; RPROP: previous gradient */
    float *state2;     /* Adam: second moment; RPROP: per-parameter step size */
    int portable;      /* nonzero: the portable loops even where the CPU has AVX-512 (tests) */
    float adam_step, adam_eps; /* this step's bias-corrected Adam step and epsilon (bp_update_begin) */
    float rprop_step0;    /* RPROP's first step (0: BP_RPROP_STEP0) */
    float rprop_step_max; /* RPROP's largest step (0: BP_RPROP_STEP_MAX) */
} bp_update;

/* RPROP's default first and largest steps (the paper's and FANN's) and its smallest. */
#define BP_RPROP_STEP0 0.1f
#define BP_RPROP_STEP_MAX 50.0f
#define BP_RPROP_STEP_MIN 1e-6f

/* Number of per-parameter state blocks a rule needs (0, 1 or 2). */
int bp_update_state_blocks(bp_optimizer kind);

/* Prepare fresh state (RPROP's steps start at rprop_step0; everything else at 0). */
void bp_update_init_state(bp_update *u, size_t n);

/* Apply one update to params from grads. grads may be modified (weight decay, RPROP). */
void bp_update_apply(bp_update *u, float *params, float *grads, size_t n);

/* The same in pieces: bp_update_begin counts the step, then bp_update_range applies it
   to n parameters from `offset` on (each rule is element-wise, so applying it layer by
   layer gives the bits of one call over the whole block). */
void bp_update_begin(bp_update *u);
void bp_update_range(const bp_update *u, float *params, float *grads, size_t offset, size_t n);

/* Plain gradient descent with optional momentum, used by bp_update_apply and kept
   separate as the simplest rule (velocity may be NULL when momentum is 0):
       v <- momentum v + grad;   W <- W - lr v          (plain: W <- W - lr grad) */
void bp_sgd_update(float *params, const float *grads, float *velocity, size_t n, float lr,
                   float momentum);

/* v <- v, set to zero where |v| < 1e-30;  W <- W - lr v over n floats: momentum's
   weight step after its velocity was computed elsewhere (the fused backward pass).
   portable: as in bp_update. State that small is flushed to zero by every rule here
   so that it never decays into the slow subnormal floats (optimizer.c says why). */
void bp_velocity_step(float *w, float *v, size_t n, float lr, int portable);

/* 2-norm of a vector, accumulated in double (in eight lanes, in a fixed order). */
double bp_norm2(const float *v, size_t n);

/* v <- f v over n floats (gradient clipping). */
void bp_scale_block(float *v, size_t n, float f);

#endif
