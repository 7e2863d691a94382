/*
 * kernels.cuh - the GPU kernels of a training step other than cuBLAS's products
 * (trainer.cu issues those): element-wise and per-sample kernels, and the head's
 * two kernels that do a small last layer whole, as host-callable launchers on a
 * stream.
 *
 * Layouts are the CPU's: row-major, one sample per row, so a batch of
 * activations is m x n and cuBLAS sees it column-major as n x m.
 */
#ifndef BP_CUDA_KERNELS_CUH
#define BP_CUDA_KERNELS_CUH

#include <cuda_runtime.h>
#include <stddef.h>

#include "cuda.h"

/* xb (m x n_in) and yb (m x n_out) = rows order[*pos .. *pos + m) of x and y. The
   start is read on the device, so a captured graph gathers the next batch each time
   it is replayed (bp_cuda_advance moves *pos on). */
void bp_cuda_gather(const float *x, const float *y, const unsigned *order, const unsigned long long *pos,
                    size_t m, size_t n_in, size_t n_out, float *xb, float *yb, cudaStream_t s);

/* `slope` is leaky ReLU's for z <= 0 (the model's leaky_slope). */

/* Rows per piece of the bias gradients' column sums (see bp_cuda_delta_bias). */
#define BP_CUDA_CHUNK 32

/* A hidden layer's output in place: z = g(z + b) over m x n (b may be NULL). */
void bp_cuda_bias_activation(float *z, const float *b, size_t m, size_t n, bp_activation g, float slope,
                             cudaStream_t s);

/* The output layer, one warp per sample: z += b (kept: the losses work from the
   logits), the sample's loss added to *loss_sum, and delta = dC/dz
   (device_math.cuh's bp_output_row). When partial is not NULL, also delta's column
   sums in pieces of BP_CUDA_CHUNK rows, as bp_cuda_delta_bias writes them. */
void bp_cuda_output_layer(float *z, const float *b, const float *y, float *delta, size_t m, size_t n,
                          bp_activation output, bp_loss loss, float slope, double *loss_sum, float *partial,
                          cudaStream_t s);

/* The m x n delta of a layer: delta *= g'(.) computed from the layer's output a
   (when a is not NULL; hidden activations only), and, when partial is not NULL, its
   column sums in pieces: partial[c * n + j] = sum of delta[i][j] over the rows i of
   chunk c (BP_CUDA_CHUNK rows each). Fixed summation order: the same result every run. */
void bp_cuda_delta_bias(float *delta, const float *a, size_t m, size_t n, bp_activation g, float slope,
                        float *partial, cudaStream_t s);

/* Where the bias gradients are and where they go, for bp_cuda_update_biases. */
typedef struct {
    unsigned n_layers;
    unsigned width[BP_MAX_LAYERS + 1];   /* n_l */
    unsigned off_b[BP_MAX_LAYERS + 1];   /* b^l in the parameter block */
    unsigned off_p[BP_MAX_LAYERS + 1];   /* layer l's column-sum pieces in the partial buffer */
    unsigned pieces[BP_MAX_LAYERS + 1];  /* this step's pieces of layer l (set per batch size) */
    unsigned n_bias;                     /* sum of the widths */
    int momentum, bias;
    float lr, mu, scale, keep, weight_decay;
} bp_cuda_update_plan;

/* The end of a step (one launch; two with momentum). Plain descent: every bias b <- keep b - lr scale g,
   g summed in order from layer l's plan->pieces[l] pieces (the weights were updated by
   their gradient products). Momentum: v_b <- mu v_b + scale g for the biases, then over
   the whole block v += wd p; p -= lr v. Then *pos += m (the next batch). */
void bp_cuda_update_biases(const bp_cuda_update_plan *plan, float *params, float *velocity, size_t n_params,
                           const float *partial, unsigned long long *pos, size_t m, cudaStream_t s);

/* The head: the output layer of a network whose last layer is small (at most
   BP_CUDA_HEAD_MAX_OUT units and BP_CUDA_HEAD_MAX_IN inputs, 784-1024-1024-10's
   10 x 1024 for one) in two launches instead of three cuBLAS products and two
   kernels whose small shapes leave most of the GPU idle.

   bp_cuda_head_rows: one block per sample: z^L = W^L a + b^L, the loss (added to
   *loss_sum) and delta^L (into delta), as bp_cuda_output_layer does.

   bp_cuda_head_update: the rest of the layer, the m rows split into
   bp_cuda_head_pieces(m) pieces of consecutive rows: delta^(L-1) = (delta^L W^L)
   (.) g'(a) into delta_prev (when not NULL; a is then a hidden layer's output, and
   W^L is read before it changes), the gradient product written as out (n x k) =
   beta out + alpha delta^T a, its sum over the pieces added in a fixed order, and
   the column sums of delta^L and delta^(L-1) over each piece into partial and
   partial_prev (pieces x n and pieces x k; either may be NULL), for
   bp_cuda_update_biases. work: BP_CUDA_HEAD_SPLITS n k floats; count: (k + 31) / 32
   counters, zero before and after. */
#define BP_CUDA_HEAD_MAX_OUT 16
#define BP_CUDA_HEAD_MAX_IN 8192
#define BP_CUDA_HEAD_SPLITS 16
#define BP_CUDA_HEAD_MAX_BATCH 2048 /* above it cuBLAS's products are faster (4096: 949 against 1003 us a step) */
int bp_cuda_head_applies(size_t k, size_t n);
size_t bp_cuda_head_pieces(size_t m);
void bp_cuda_head_rows(const float *a, const float *W, const float *b, const float *y, float *delta, size_t m,
                       size_t k, size_t n, bp_activation output, bp_loss loss, float slope, double *loss_sum,
                       cudaStream_t s);
void bp_cuda_head_update(float *out, float alpha, float beta, const float *W, const float *delta, const float *a,
                         float *delta_prev, size_t m, size_t k, size_t n, bp_activation hidden, float slope,
                         float *partial, float *partial_prev, float *work, unsigned *count, cudaStream_t s);

/* The tiny-network path, for networks trained one sample at a time (depth <= 3, every
   width <= 32, plain gradient descent): one warp runs forward, loss, backward and
   update for `count` samples in a row, with the parameters in shared memory; the
   loss sum is added to *loss_sum. bp_cuda_small_applies says whether a model qualifies. */
#define BP_CUDA_SMALL_DEPTH 3
#define BP_CUDA_SMALL_WIDTH 32
int bp_cuda_small_applies(const bp_cuda_model *model);
void bp_cuda_small_sgd(const bp_cuda_model *model, float *params, const float *x, const float *y,
                       const unsigned *order, size_t start, size_t count, double *loss_sum, cudaStream_t s);

#endif
