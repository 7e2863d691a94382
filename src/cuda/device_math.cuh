/*
 * device_math.cuh - the device-side math both GPU step paths share: the
 * activations and their derivatives, warp reductions, and one sample's output
 * layer (softmax or g, the loss, delta^L) done by one warp. The formulas are
 * docs/backprop.md's, as activation.c and loss.c compute them on the CPU. Also
 * the asynchronous copies to shared memory that both paths' kernels stage with.
 */
#ifndef BP_CUDA_DEVICE_MATH_CUH
#define BP_CUDA_DEVICE_MATH_CUH

#include <math.h>

#include "cuda.h"

#define BP_FULL_WARP 0xffffffffu

/* Asynchronous copies from global to shared memory (cp.async): each thread issues
   its copies, bp_copy_wait makes them complete for the issuing thread (a
   __syncthreads after it, for the block). Many copies in flight at once is what
   keeps a block with few warps from waiting on each load in turn. */
static __device__ __forceinline__ void bp_copy4(float *dst, const float *src)
{
    const unsigned at = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(at), "l"(src));
}

/* 16 bytes; both addresses 16-byte aligned. */
static __device__ __forceinline__ void bp_copy16(float *dst, const float *src)
{
    const unsigned at = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(at), "l"(src));
}

static __device__ __forceinline__ void bp_copy_commit(void) { asm volatile("cp.async.commit_group;"); }

static __device__ __forceinline__ void bp_copy_wait(void) { asm volatile("cp.async.wait_all;" ::: "memory"); }

static __device__ __forceinline__ float bp_activate(bp_activation g, float z, float slope)
{
    switch (g) {
    case BP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case BP_ACT_TANH: return tanhf(z);
    case BP_ACT_RELU: return z > 0.0f ? z : 0.0f;
    case BP_ACT_LEAKY_RELU: return z > 0.0f ? z : slope * z;
    default: return z; /* identity (softmax is done per row) */
    }
}

/* g'(z) from the activation's output a (and z where a does not tell). For the
   hidden layers z is not kept: a stands in for it, since a > 0 exactly when z > 0
   for ReLU and leaky ReLU. */
static __device__ __forceinline__ float bp_derivative(bp_activation g, float z, float a, float slope)
{
    switch (g) {
    case BP_ACT_SIGMOID: return a * (1.0f - a);
    case BP_ACT_TANH: return 1.0f - a * a;
    case BP_ACT_RELU: return z > 0.0f ? 1.0f : 0.0f;
    case BP_ACT_LEAKY_RELU: return z > 0.0f ? 1.0f : slope;
    default: return 1.0f;
    }
}

/* log(1 + e^x) without overflow. */
static __device__ __forceinline__ float bp_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* Sums and maximum over the 32 lanes, the same value in every lane, always in the
   same order (so the same result every run). */
static __device__ __forceinline__ float bp_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(BP_FULL_WARP, v, o);
    return v;
}

static __device__ __forceinline__ double bp_warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(BP_FULL_WARP, v, o);
    return v;
}

static __device__ __forceinline__ float bp_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(BP_FULL_WARP, v, o));
    return v;
}

/* One sample's output layer, by a whole warp: from the logits zr (bias added) and
   the targets yr (n each), writes delta^L = dC/dz into dr (a - y for the canonical
   pairs, (sum y) a - y for softmax-CE, through g' otherwise) and returns the
   sample's loss, computed from the logits (log-sum-exp, softplus) so it stays
   finite. a = g(z) is computed twice rather than stored: the same float both times. */
static __device__ double bp_output_row(const float *zr, const float *yr, float *dr, int n, bp_activation output,
                                       bp_loss loss, float slope)
{
    const int lane = threadIdx.x & 31;
    float mx = -INFINITY;
    for (int j = lane; j < n; j += 32) mx = fmaxf(mx, zr[j]);
    mx = bp_warp_max(mx);
    float sum_e = 0.0f;
    if (output == BP_ACT_SOFTMAX) {
        for (int j = lane; j < n; j += 32) sum_e += expf(zr[j] - mx);
        sum_e = bp_warp_sum(sum_e);
    }
    /* The row's sums: y, y z, the loss terms, a (a - y) for softmax + MSE. */
    float ysum = 0.0f, yz = 0.0f, terms = 0.0f, ad = 0.0f;
    for (int j = lane; j < n; j += 32) {
        const float zj = zr[j], yj = yr[j];
        const float aj = output == BP_ACT_SOFTMAX ? expf(zj - mx) / sum_e : bp_activate(output, zj, slope);
        ysum += yj;
        yz += yj * zj;
        if (loss == BP_LOSS_MSE) {
            const float d = aj - yj;
            terms += 0.5f * d * d;
            ad += aj * d;
        } else if (loss == BP_LOSS_BCE) {
            terms += bp_softplus(zj) - yj * zj;
        }
    }
    ysum = bp_warp_sum(ysum);
    yz = bp_warp_sum(yz);
    terms = bp_warp_sum(terms);
    ad = bp_warp_sum(ad);
    for (int j = lane; j < n; j += 32) {
        const float zj = zr[j], yj = yr[j];
        const float aj = output == BP_ACT_SOFTMAX ? expf(zj - mx) / sum_e : bp_activate(output, zj, slope);
        float d;
        if (loss == BP_LOSS_CE) d = ysum * aj - yj;                             /* softmax + CE */
        else if (loss == BP_LOSS_BCE || output == BP_ACT_IDENTITY) d = aj - yj; /* canonical */
        else if (output == BP_ACT_SOFTMAX) d = aj * ((aj - yj) - ad);           /* MSE through softmax */
        else d = (aj - yj) * bp_derivative(output, zj, aj, slope);              /* MSE through g' */
        dr[j] = d;
    }
    return loss == BP_LOSS_CE ? (double)ysum * ((double)mx + log((double)sum_e)) - (double)yz : (double)terms;
}

#endif
