/*
 * net_internal.h - the inside of a bp_net, shared by the library's own files.
 *
 * One allocation per role (docs/STYLE.md): all parameters in one block, all
 * gradients in a block of the same shape, and one work space holding every
 * layer's z and a for the largest batch seen so far plus two delta buffers and
 * the GEMM packing area. Per-layer pointers are views into those blocks.
 * Nothing here is public: users see only the opaque handle in backprop.h.
 */
#ifndef BP_NET_INTERNAL_H
#define BP_NET_INTERNAL_H

#include "backprop.h"
#include "io/fileio.h"
#include "kernels/gemm.h"
#include "kernels/pool.h"

/* Slope of leaky ReLU for z <= 0 (also written into model files). */
#define BP_LEAKY_SLOPE 0.01f

/* One dense layer l: views into the net's blocks. */
typedef struct {
    size_t n_in, n_out;    /* n_(l-1), n_l */
    float *W, *b;          /* W^l (n_out x n_in, row-major), b^l (n_out) or NULL */
    float *grad_W, *grad_b;
    float *z, *a;          /* work space: z^l and a^l, batch x n_out (z == a for hidden layers) */
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
                                         so that a single allreduce sums both (train.c) */
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
};

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

/* bp_net_backward, then the step, fused layer by layer. */
bp_status bp_net_backward_step(bp_net *net, const float *x, const float *y, size_t m,
                               bp_reduction reduction, double *loss, const bp_fused_step *step);

/* The trainer's state as bytes and back (train.c), for checkpoints (checkpoint.c). */
void bp_trainer_encode(const bp_trainer *t, bp_buffer *b);
bp_status bp_trainer_decode(bp_net *net, const unsigned char *data, size_t len, bp_trainer **out,
                            char *why, size_t why_len);
bp_net *bp_trainer_net(const bp_trainer *t);

/* Set a formatted message in err (if any) and return status. */
bp_status bp_fail(bp_error *err, bp_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

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

/* Copy n strings into one block (n pointers, then the characters); free() releases it. */
char **bp_copy_names(const char *const *names, size_t n);

/* malloc/free of 64-byte aligned blocks (size in bytes, checked for overflow by callers). */
void *bp_alloc_aligned(size_t bytes);
void bp_free_aligned(void *p);

/* Multiply two sizes, failing on overflow. */
static inline int bp_mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 1;
    *out = a * b;
    return 0;
}

#endif
