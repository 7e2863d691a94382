/*
 * cuda.h - the GPU trainer as core/trainer.c sees it: plain C, no CUDA types.
 *
 * Built with `make CUDA=1` from src/cuda/trainer.cu and src/cuda/kernels.cu;
 * without it, src/cuda/cuda_none.c answers every call with "not in this build".
 * trainer.c owns the epoch bookkeeping (position, shuffle, statistics) and the
 * host copy of the parameters, which is the truth between calls: bp_cuda_run
 * uploads the parameters (and momentum), trains a run of steps entirely on the
 * GPU, and copies them back before it returns.
 */
#ifndef BP_CUDA_H
#define BP_CUDA_H

#include <stddef.h>

#include "backprop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the GPU needs to know about the network and the update rule. */
typedef struct {
    size_t n_layers;
    size_t sizes[BP_MAX_LAYERS + 1];
    bp_activation hidden, output;
    float leaky_slope;     /* leaky ReLU's slope for z <= 0 (core/activation.h's BP_LEAKY_SLOPE) */
    bp_loss loss;
    int bias;
    size_t n_params;       /* W^1, b^1, W^2, b^2, ... as in the parameter block */
    bp_reduction reduction;
    int momentum;          /* 0: plain gradient descent; 1: v <- mu v + g, W <- W - lr v */
    float lr, mu, weight_decay;
    int tf32;              /* let cuBLAS use TF32 tensor cores */
    /* The step path and its variants, from bp_device_options (tests, measurements). */
    bp_cuda_path path;     /* automatic, or forced */
    int fused_tail;        /* the fused kernel's first per-sample layer (0: its choice) */
    int fused_carry;       /* 0: the fused kernel does not carry the next step's products */
    int head;              /* 0: a small last layer as products too, not the head kernels */
    int profile;           /* time the fused kernel's phases; bp_cuda_run reports them */
} bp_cuda_model;

typedef struct bp_cuda bp_cuda;

/* What one bp_cuda_run did. */
typedef struct {
    size_t steps, samples;
    double loss_sum;       /* sum of per-sample losses, summed on the GPU */
} bp_cuda_result;

/* CUDA devices visible to this process (0 without the backend). */
int bp_cuda_device_count(void);

/* GPU state for this model on device 0 (cuBLAS handle, stream, parameter buffers).
   Fails with BP_ERR_UNSUPPORTED and a reason when the backend is absent, there is
   no device, or the model uses something the GPU path does not do yet. */
bp_status bp_cuda_create(const bp_cuda_model *model, bp_cuda **out, bp_error *err);
void bp_cuda_free(bp_cuda *gpu);

/* Trains samples order[start..] of an epoch over the n x n_in inputs x and n x n_out
   targets y in batches of `batch` (the last one may be short), at most max_steps
   steps (0: to the end of the epoch). x and y are uploaded on the first call that
   sees them and kept. params (n_params) and, with momentum, velocity are uploaded
   before and copied back after. On failure `why` says what happened; after a
   successful fused run with model.profile, it holds the phases' average times. */
bp_status bp_cuda_run(bp_cuda *gpu, float *params, float *velocity, const float *x, const float *y,
                      size_t n, size_t n_in, size_t n_out, const size_t *order, size_t start,
                      size_t batch, size_t max_steps, bp_cuda_result *result, char *why,
                      size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
