/*
 * fused.cuh - the fused path for small and medium networks at small batches: one
 * persistent kernel trains a whole run of steps (forward, loss, backward and
 * update of every step), its blocks meeting at grid-wide barriers between the
 * phases of a step instead of returning to the host between launches.
 *
 * At these sizes a step's arithmetic is a few microseconds of the GPU's time,
 * while a chain of a dozen dependent kernel launches costs several times that
 * (784-256-128-10 at batch 64: about 60 us a step as cuBLASLt products and
 * kernels, even replayed from a CUDA graph). The parameters stay in the L2 cache
 * between phases and steps.
 */
#ifndef BP_CUDA_FUSED_CUH
#define BP_CUDA_FUSED_CUH

#include <cuda_runtime.h>
#include <stddef.h>

#include "cuda.h"

typedef struct bp_cuda_fused bp_cuda_fused;

/* Whether the fused path takes this model at this batch size: fp32 (not --tf32),
   and a step small enough that the launches would dominate it (about 2 x 10^8
   multiply-adds or fewer; above that cuBLASLt's products are faster). The
   model's path may force one path (tests and benchmarks compare them). */
int bp_cuda_fused_applies(const bp_cuda_model *model, size_t batch);

/* Work space for batches of up to `batch` samples on the current device. */
bp_status bp_cuda_fused_create(const bp_cuda_model *model, size_t batch, bp_cuda_fused **out, char *why,
                               size_t why_len);
void bp_cuda_fused_free(bp_cuda_fused *f);
/* With model.profile: the average time of each phase and mark per step so far, as
   one line of text in out (empty without a profile). */
void bp_cuda_fused_report(const bp_cuda_fused *f, char *out, size_t len);
size_t bp_cuda_fused_capacity(const bp_cuda_fused *f);

/* Trains `steps` steps in one launch: step s takes samples order[start + s batch ..]
   (the last may be short: a step never reads past n) of the device data x, y, and
   updates params (and velocity, with momentum) in place on the device; the sum of
   the samples' losses is added to *loss_sum. Deterministic: no atomics in any sum. */
cudaError_t bp_cuda_fused_run(bp_cuda_fused *f, float *params, float *velocity, const float *x, const float *y,
                              const unsigned *order, size_t n, size_t start, size_t batch, size_t steps,
                              double *loss_sum, cudaStream_t s);

#endif
