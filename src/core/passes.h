/*
 * passes.h - the whole network's forward and backward passes, as the rest of
 * the library calls them beyond the public bp_net_forward / bp_net_backward
 * (passes.c): the backward pass with the optimizer's step fused in, and the
 * data-parallel form that announces each finished piece of the gradient.
 */
#ifndef BP_PASSES_H
#define BP_PASSES_H

#include "backprop.h"
#include "network.h"

/* A gradient-descent step applied inside the backward pass (see dense.c): plain
   (momentum 0, velocity NULL) or with momentum (velocity in the parameter block's
   layout). The gradient block is not written. */
typedef struct {
    float lr, momentum, weight_decay;
    float *velocity;
} bp_fused_step;

/* Told during a backward pass that a piece of the gradient block, values[0..n), is
   final, so that its data-parallel sum can start while the rest is still computed.
   A layer's gradient (its dW rows, then db) comes in up to BP_LAYER_PIECES pieces of
   consecutive rows of dW, of at least BP_GRADIENT_PIECE_MIN floats each, the bias with
   the last rows; the pieces come last layer first, bottom rows first, so each ends
   where the one before began. *loss_sum is already set when the first comes. */
typedef struct {
    int (*ready)(void *context, float *values, size_t n);
    void *context;
} bp_gradient_hook;
#define BP_GRADIENT_PIECE_MIN 65536

/* bp_net_backward with the gradient of the summed loss times `scale` (1 / the global
   batch for a data-parallel mean, so that summing the ranks' blocks gives the mean
   with no pass of its own), the summed loss in *loss_sum, and an optional hook. */
bp_status bp_net_backward_scaled(bp_net *net, const float *x, const float *y, size_t m, float scale,
                                 double *loss_sum, const bp_gradient_hook *hook);

/* A zero gradient block, announced to the hook in the same pieces as a backward pass
   would (a data-parallel process with no samples in a batch). */
bp_status bp_net_zero_gradient(bp_net *net, const bp_gradient_hook *hook);

/* bp_net_backward that also copies each layer's delta^l = dC/dz^l (m x n_l) into
   deltas[l], l = 1..L, as the pass computes it (for explanations). */
bp_status bp_net_backward_traced(bp_net *net, const float *x, const float *y, size_t m,
                                 bp_reduction reduction, double *loss, float *const *deltas);

/* Told during a backward pass that a layer's gradient, values[0..n) of the gradient
   block from `offset` on (dW^l, then db^l), is final and W^l is needed no more, so the
   optimizer may update that layer while the pass goes on to the layers below. */
typedef struct {
    void (*done)(void *context, size_t offset, size_t n);
    void *context;
} bp_layer_hook;

/* bp_net_backward into the gradient block, calling `after` once per layer, last layer
   first; dropout masks from `drop` as in bp_net_backward_dropout. */
bp_status bp_net_backward_layerwise(bp_net *net, const float *x, const float *y, size_t m, bp_reduction reduction,
                                    double *loss, const bp_layer_hook *after, const bp_dropout *drop);

/* bp_net_backward_step (step NULL: bp_net_backward) with dropout masks from `drop`
   (NULL: none, or the fixed masks of bp_net_set_dropout_mask): the trainer's pass. */
bp_status bp_net_backward_dropout(bp_net *net, const float *x, const float *y, size_t m, bp_reduction reduction,
                                  double *loss, const bp_fused_step *step, const bp_dropout *drop);

/* bp_net_backward, then the step, fused layer by layer. */
bp_status bp_net_backward_step(bp_net *net, const float *x, const float *y, size_t m,
                               bp_reduction reduction, double *loss, const bp_fused_step *step);

#endif
