/*
 * network.h - the inside of a bp_net: what core/ and io/ (model files) share.
 *
 * One allocation per role (docs/STYLE.md): all parameters in one block, all
 * gradients in a block of the same shape, and one work space holding every
 * layer's z and a for the largest batch seen so far plus two delta buffers.
 * Per-layer pointers are views into those blocks. network.c owns this memory;
 * passes.c computes with it. Nothing here is public: users see only the
 * opaque handle in backprop.h.
 */
#ifndef BP_NETWORK_H
#define BP_NETWORK_H

#include "backprop.h"
#include "kernels/gemm.h"
#include "kernels/pool.h"

/* One dense layer l: views into the net's blocks. */
typedef struct {
    size_t n_in, n_out;    /* n_(l-1), n_l */
    float *W, *b;          /* W^l (n_out x n_in, row-major), b^l (n_out) or NULL */
    float *grad_W, *grad_b;
    float *z, *a;          /* work space: z^l and a^l, batch x n_out (z == a for hidden layers) */
    float *out;            /* a^l as layer l + 1 reads it: a itself, or with dropout a (.) mask */
    float *dropped, *mask; /* work space for dropout (hidden layers with p > 0 only): a^l (.) mask
                              and the mask, 0 or 1 / (1 - p) per unit and sample */
} bp_layer;

struct bp_net {
    size_t n_layers;                  /* L */
    size_t sizes[BP_MAX_LAYERS + 1];  /* n_0 .. n_L */
    bp_activation hidden, output;
    bp_loss loss;
    int bias;

    size_t n_params;
    float *params;                    /* the parameter block */
    float *grads;                     /* the gradient block, same layout, plus one spare float
                                         where data-parallel training puts the batch's loss
                                         so that a single allreduce sums both (trainer.c) */
    bp_layer layers[BP_MAX_LAYERS + 1];  /* index 1..L used, like the seeds */

    /* Work space, sized for `capacity` samples; grown only when a larger batch arrives. */
    size_t capacity;
    float *work;
    float *delta, *delta_next;        /* capacity x max width each */
    /* The threads that share each product (bp_net_set_threads): a pool (NULL for
       one thread) and one GEMM workspace per thread, all in one aligned block. */
    bp_pool *pool;
    float *gemm_block;                /* threads x BP_GEMM_WORKSPACE_FLOATS */
    float **gemm_work;                /* threads pointers into gemm_block */
    bp_gemm_team team;                /* {pool, gemm_work}, what dense.c is given */
    size_t batch;                     /* m of the last forward pass */

    /* What travels with the model but is not part of the math: the input transform
       x' = (x - shift) * scale (n_0 each, or NULL) and the names of the n_L classes. */
    float *input_shift, *input_scale;
    char **class_names;

    /* Dropout: p^l per hidden layer (0: none), and masks fixed by bp_net_set_dropout_mask
       for gradient checks (fixed_m x n_l per hidden layer, one after the other). */
    float dropout[BP_MAX_LAYERS + 1];
    int has_dropout;
    float *fixed_mask;
    size_t fixed_m;
};

/* Where dropout masks come from in one pass: the trainer's seed and step (each sample's
   mask drawn from its own stream, so a sample's mask depends on neither the thread count
   nor the batch around it beyond its row), or the fixed masks. */
typedef struct {
    uint64_t seed, step;
    const float *fixed;   /* NULL: draw from seed and step */
} bp_dropout;

/* Offset of hidden layer l's masks in a block of masks for m samples. */
size_t bp_dropout_mask_offset(const bp_net *net, size_t l, size_t m);

/* Size of the parameter block for an architecture, with overflow checks. */
bp_status bp_count_params(size_t n_layers, const size_t *sizes, int bias, size_t *count);

/* Allocate an uninitialized net of this shape (params zeroed); no RNG used. */
bp_status bp_net_alloc(const bp_net_config *config, bp_net **out, bp_error *err);

/* Make sure the work space holds m samples. The only place a step may allocate,
   and only when m exceeds every batch seen before. */
bp_status bp_net_reserve(bp_net *net, size_t m);

/* Most threads bp_net_set_threads accepts. */
#define BP_MAX_THREADS 256

/* Largest layer width n_l over l = 0..L. */
size_t bp_net_max_width(const bp_net *net);

#endif
