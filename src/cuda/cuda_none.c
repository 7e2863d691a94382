/*
 * cuda_none.c - the GPU trainer in a build without CUDA: every call says so.
 * `make CUDA=1` compiles src/cuda/ instead of this file (see cuda/cuda.h).
 */
#include <stdio.h>

#include "cuda.h"

int bp_cuda_device_count(void) { return 0; }

bp_status bp_cuda_create(const bp_cuda_model *model, bp_cuda **out, bp_error *err)
{
    (void)model;
    if (out) *out = NULL;
    if (err) {
        err->status = BP_ERR_UNSUPPORTED;
        snprintf(err->message, sizeof err->message,
                 "this build has no CUDA backend: rebuild with make CUDA=1 (needs nvcc and cuBLAS)");
    }
    return BP_ERR_UNSUPPORTED;
}

void bp_cuda_free(bp_cuda *gpu) { (void)gpu; }

bp_status bp_cuda_run(bp_cuda *gpu, float *params, float *velocity, const float *x, const float *y,
                      size_t n, size_t n_in, size_t n_out, const size_t *order, size_t start,
                      size_t batch, size_t max_steps, bp_cuda_result *result, char *why,
                      size_t why_len)
{
    (void)gpu, (void)params, (void)velocity, (void)x, (void)y, (void)n, (void)n_in, (void)n_out;
    (void)order, (void)start, (void)batch, (void)max_steps, (void)result;
    if (why && why_len) why[0] = '\0';
    return BP_ERR_UNSUPPORTED;
}
