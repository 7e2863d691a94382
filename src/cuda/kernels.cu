/*
 * kernels.cu - the element-wise and per-sample kernels of a GPU training step
 * (kernels.cuh says what each computes; the math is docs/backprop.md's, as in
 * activation.c and loss.c on the CPU).
 *
 * Element-wise kernels use grid-stride loops over a fixed grid, so one launch
 * shape serves every size and a captured graph never needs re-tuning. Per-row
 * work (softmax, the loss) gives each sample one warp and reduces with warp
 * shuffles.
 */
#include <math.h>

#include "device_math.cuh"
#include "kernels.cuh"

namespace {

constexpr int THREADS = 256;

int blocks_for(size_t count)
{
    size_t b = (count + THREADS - 1) / THREADS;
    return (int)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

__global__ void gather_kernel(const float *x, const float *y, const unsigned *order,
                              const unsigned long long *pos, size_t m, size_t n_in, size_t n_out,
                              float *xb, float *yb)
{
    const size_t start = (size_t)*pos, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < m * n_in; i += stride) {
        size_t row = i / n_in, col = i % n_in;
        xb[i] = x[(size_t)order[start + row] * n_in + col];
    }
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < m * n_out; i += stride) {
        size_t row = i / n_out, col = i % n_out;
        yb[i] = y[(size_t)order[start + row] * n_out + col];
    }
}

__global__ void bias_activation_kernel(float *z, const float *b, size_t m, size_t n, bp_activation g, float slope)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < m * n; i += stride)
        z[i] = bp_activate(g, b ? z[i] + b[i % n] : z[i], slope);
}

/* One warp per sample (row): the bias added to the logits (kept: the losses work
   from them), then bp_output_row; the loss summed into *loss_sum. */
__global__ void output_kernel(float *z, const float *b, const float *y, float *delta, size_t m, size_t n,
                              bp_activation output, bp_loss loss, float slope, double *loss_sum, float *partial)
{
    const int lane = threadIdx.x & 31;
    const size_t first = (size_t)blockIdx.x * BP_CUDA_CHUNK;
    const size_t last = first + BP_CUDA_CHUNK < m ? first + BP_CUDA_CHUNK : m;
    for (size_t row = first + threadIdx.x / 32; row < last; row += blockDim.x / 32) {
        float *zr = z + row * n;
        if (b) {
            for (size_t j = lane; j < n; j += 32) zr[j] += b[j];
            __syncwarp();
        }
        const double l = bp_output_row(zr, y + row * n, delta + row * n, (int)n, output, loss, slope);
        if (lane == 0) atomicAdd(loss_sum, l);
    }
    /* This chunk's column sums of delta: the output layer's bias gradient in pieces,
       as bp_cuda_delta_bias gives them for the hidden layers. */
    if (!partial) return;
    __syncthreads();
    for (size_t j = threadIdx.x; j < n; j += blockDim.x) {
        float t = 0.0f;
        for (size_t row = first; row < last; row++) t += delta[row * n + j];
        partial[(size_t)blockIdx.x * n + j] = t;
    }
}

/* Block: 32 columns x 8 row lanes over one chunk of BP_CUDA_CHUNK rows. */
__global__ void delta_bias_kernel(float *delta, const float *a, size_t m, size_t n, bp_activation g, float slope,
                                  float *partial)
{
    __shared__ float part[8][33];
    const size_t j = (size_t)blockIdx.x * 32 + threadIdx.x, first = (size_t)blockIdx.y * BP_CUDA_CHUNK;
    const size_t last = first + BP_CUDA_CHUNK < m ? first + BP_CUDA_CHUNK : m;
    float sum = 0.0f;
    if (j < n)
        for (size_t i = first + threadIdx.y; i < last; i += 8) {
            float d = delta[i * n + j];
            if (a) {
                const float ai = a[i * n + j];
                d *= bp_derivative(g, ai, ai, slope); /* hidden: a > 0 exactly when z > 0 */
                delta[i * n + j] = d;
            }
            sum += d;
        }
    if (!partial) return;
    part[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        float t = 0.0f;
        for (int r = 0; r < 8; r++) t += part[r][threadIdx.x];
        partial[(size_t)blockIdx.y * n + j] = t;
    }
}

/* The bias gradient of bias t (over all layers) and where that bias lives. */
__device__ float bias_gradient(const bp_cuda_update_plan &u, const float *partial, size_t t, size_t *where)
{
    unsigned l = 1;
    while (l < u.n_layers && t >= u.width[l]) t -= u.width[l++];
    const float *p = partial + u.off_p[l] + t;
    float g = 0.0f;
#pragma unroll 8 /* (loads in flight together, not one after another) */
    for (size_t c = 0; c < u.pieces[l]; c++) g += p[c * u.width[l]];
    *where = u.off_b[l] + t;
    return g;
}

__global__ void update_biases_kernel(bp_cuda_update_plan u, float *params, float *velocity, const float *partial,
                                     unsigned long long *pos, size_t m)
{
    const size_t first = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (size_t)gridDim.x * blockDim.x;
    if (u.bias)
        for (size_t t = first; t < u.n_bias; t += stride) {
            size_t at;
            const float g = bias_gradient(u, partial, t, &at);
            if (u.momentum) velocity[at] = u.mu * velocity[at] + u.scale * g;
            else params[at] = u.keep * params[at] - u.lr * u.scale * g;
        }
    if (first == 0) *pos += m;
}

/* The head's rows (kernels.cuh): one block of HEAD_THREADS per sample, thread t
   taking inputs t, t + HEAD_THREADS, ... with every output's partial sum in
   registers, then the block's sums, and warp 0 finishes the output layer. The loads
   of HEAD_UNROLL inputs and their weights are all issued before any is used: a
   block waiting on them one at a time was latency-bound (Nsight Compute: 13.8
   cycles per instruction, mostly waiting on L1). */
constexpr int HEAD_THREADS = 256, HEAD_UNROLL = 4;
__global__ void head_rows_kernel(const float *a, const float *W, const float *b, const float *y, float *delta, int k,
                                 int n, bp_activation output, bp_loss loss, float slope, double *loss_sum)
{
    __shared__ float part[HEAD_THREADS / 32][BP_CUDA_HEAD_MAX_OUT], zs[BP_CUDA_HEAD_MAX_OUT],
        ds[BP_CUDA_HEAD_MAX_OUT];
    const size_t r = blockIdx.x;
    const float *ar = a + r * k;
    const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
    float s[BP_CUDA_HEAD_MAX_OUT];
#pragma unroll
    for (int q = 0; q < BP_CUDA_HEAD_MAX_OUT; q++) s[q] = 0.0f;
    for (int i0 = threadIdx.x; i0 < k; i0 += HEAD_THREADS * HEAD_UNROLL) {
        float x[HEAD_UNROLL], w[HEAD_UNROLL][BP_CUDA_HEAD_MAX_OUT];
#pragma unroll
        for (int u = 0; u < HEAD_UNROLL; u++) {
            const int i = i0 + u * HEAD_THREADS;
            x[u] = i < k ? ar[i] : 0.0f;
#pragma unroll
            for (int q = 0; q < BP_CUDA_HEAD_MAX_OUT; q++) w[u][q] = i < k && q < n ? W[(size_t)q * k + i] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < HEAD_UNROLL; u++)
#pragma unroll
            for (int q = 0; q < BP_CUDA_HEAD_MAX_OUT; q++) s[q] += x[u] * w[u][q];
    }
#pragma unroll
    for (int q = 0; q < BP_CUDA_HEAD_MAX_OUT; q++) {
        const float t = bp_warp_sum(s[q]);
        if (lane == 0) part[warp][q] = t;
    }
    __syncthreads();
    if (warp > 0) return;
    if (lane < n) {
        float z = b ? b[lane] : 0.0f;
        for (int w = 0; w < HEAD_THREADS / 32; w++) z += part[w][lane];
        zs[lane] = z;
    }
    __syncwarp();
    const double l = bp_output_row(zs, y + r * n, ds, n, output, loss, slope);
    if (lane == 0) atomicAdd(loss_sum, l);
    __syncwarp();
    if (lane < n) delta[r * n + lane] = ds[lane];
}

/* The head's update (kernels.cuh): block (x, p) = inputs 32x .. 32x + 31 over piece
   p of the rows, staged HEAD_STAGE rows at a time in shared memory. Thread (c, y) =
   (t % 32, t / 32) takes input c in rows y, y + 8, ... of each stage: delta^(L-1)
   there (its column of W^L in registers), and its share of every output's gradient
   at input c, the block's eight shares added at the end. The last block of each x
   to finish adds the pieces in order and writes out. */
constexpr int HEAD_STAGE = 64;
__global__ void head_update_kernel(float *out, float alpha, float beta, const float *W, const float *delta,
                                   const float *a, float *delta_prev, size_t m, int k, int n, bp_activation hidden,
                                   float slope, size_t per, float *partial, float *partial_prev, float *work,
                                   unsigned *count)
{
    __shared__ float as[HEAD_STAGE][32], ds[HEAD_STAGE][BP_CUDA_HEAD_MAX_OUT];
    __shared__ float sums[8][BP_CUDA_HEAD_MAX_OUT + 1][33]; /* each row lane's gradient shares, then col */
    __shared__ int last;
    const int c = threadIdx.x % 32, y = threadIdx.x / 32, i = blockIdx.x * 32 + c;
    const size_t r0 = blockIdx.y * per, r1 = r0 + per < m ? r0 + per : m;
    float w[BP_CUDA_HEAD_MAX_OUT], g[BP_CUDA_HEAD_MAX_OUT];
#pragma unroll
    for (int j = 0; j < BP_CUDA_HEAD_MAX_OUT; j++) {
        w[j] = i < k && j < n ? W[(size_t)j * k + i] : 0.0f;
        g[j] = 0.0f;
    }
    float col = 0.0f, bias = 0.0f;
    for (size_t s0 = r0; s0 < r1; s0 += HEAD_STAGE) {
        const int rows = r1 - s0 < (size_t)HEAD_STAGE ? (int)(r1 - s0) : HEAD_STAGE;
        __syncthreads(); /* the previous stage is used up */
        for (int e = threadIdx.x; e < rows * 32; e += blockDim.x) {
            const int rr = e / 32, cc = e % 32;
            if ((int)blockIdx.x * 32 + cc < k) bp_copy4(&as[rr][cc], a + (s0 + rr) * k + blockIdx.x * 32 + cc);
            else as[rr][cc] = 0.0f;
        }
        for (int e = threadIdx.x; e < rows * n; e += blockDim.x) bp_copy4(&ds[e / n][e % n], delta + s0 * n + e);
        bp_copy_commit();
        bp_copy_wait();
        __syncthreads();
        for (int rr = y; rr < rows; rr += 8) {
            const float ai = as[rr][c];
            float t = 0.0f;
#pragma unroll
            for (int j = 0; j < BP_CUDA_HEAD_MAX_OUT; j++) {
                const float d = j < n ? ds[rr][j] : 0.0f;
                g[j] += d * ai;
                t += d * w[j];
            }
            if (delta_prev && i < k) {
                const float dp = t * bp_derivative(hidden, ai, ai, slope); /* a > 0 exactly when z > 0 */
                delta_prev[(s0 + rr) * k + i] = dp;
                col += dp;
            }
        }
        if (partial && blockIdx.x == 0 && (int)threadIdx.x < n)
            for (int rr = 0; rr < rows; rr++) bias += ds[rr][threadIdx.x];
    }
    /* This piece's column sums of delta^L and delta^(L-1), and its gradient. */
    if (partial && blockIdx.x == 0 && (int)threadIdx.x < n) partial[(size_t)blockIdx.y * n + threadIdx.x] = bias;
#pragma unroll
    for (int j = 0; j < BP_CUDA_HEAD_MAX_OUT; j++) sums[y][j][c] = g[j];
    sums[y][BP_CUDA_HEAD_MAX_OUT][c] = col;
    __syncthreads();
    /* Thread (c, y) now owns outputs y and y + 8 at input c. */
    float g0 = 0.0f, g1 = 0.0f, t = 0.0f;
    for (int q = 0; q < 8; q++) {
        g0 += sums[q][y][c];
        g1 += sums[q][y + 8][c];
        t += sums[q][BP_CUDA_HEAD_MAX_OUT][c];
    }
    if (partial_prev && y == 0 && i < k) partial_prev[(size_t)blockIdx.y * k + i] = t;
    const int splits = (int)gridDim.y;
    if (splits > 1) {
        /* Leave this piece; the block that completes the column range sums them all
           (every other block of the range has read its W^L by then). */
        if (i < k && y < n) work[((size_t)blockIdx.y * n + y) * k + i] = g0;
        if (i < k && y + 8 < n) work[((size_t)blockIdx.y * n + y + 8) * k + i] = g1;
        __threadfence();
        __syncthreads();
        if (threadIdx.x == 0) last = atomicAdd(&count[blockIdx.x], 1u) == (unsigned)splits - 1;
        __syncthreads();
        if (!last) return;
        __threadfence();
        g0 = g1 = 0.0f;
#pragma unroll 16
        for (int p = 0; p < splits; p++) {
            if (i < k && y < n) g0 += __ldcg(&work[((size_t)p * n + y) * k + i]);
            if (i < k && y + 8 < n) g1 += __ldcg(&work[((size_t)p * n + y + 8) * k + i]);
        }
        if (threadIdx.x == 0) count[blockIdx.x] = 0;
    }
    if (i < k && y < n) out[(size_t)y * k + i] = beta * out[(size_t)y * k + i] + alpha * g0;
    if (i < k && y + 8 < n) out[(size_t)(y + 8) * k + i] = beta * out[(size_t)(y + 8) * k + i] + alpha * g1;
}

__global__ void momentum_kernel(float *p, float *v, size_t n, float lr, float wd)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float vi = v[i] + wd * p[i];
        v[i] = vi;
        p[i] -= lr * vi;
    }
}

/* The tiny-network step, one warp, lane j owning unit j of every layer. */
struct small_shape {
    int L;
    int n[BP_CUDA_SMALL_DEPTH + 1];
    int off_w[BP_CUDA_SMALL_DEPTH + 1], off_b[BP_CUDA_SMALL_DEPTH + 1]; /* -1: no bias */
    int n_params;
    bp_activation hidden, output;
    bp_loss loss;
    float lr, keep, slope;
};

__global__ void small_sgd_kernel(small_shape sh, float *params, const float *x, const float *y,
                                 const unsigned *order, size_t start, size_t count, double *loss_sum)
{
    extern __shared__ float shared[];
    float *P = shared;                                        /* the parameter block */
    float *act = P + sh.n_params;                             /* a^0 .. a^L, 32 each */
    float *dl = act + 32 * (BP_CUDA_SMALL_DEPTH + 1);        /* delta^l */
    float *dp = dl + 32;                                      /* delta^(l-1) */
    const int lane = threadIdx.x;
    for (int i = lane; i < sh.n_params; i += 32) P[i] = params[i];
    __syncwarp();
    const int nL = sh.n[sh.L];
    double total = 0.0;
    for (size_t s = 0; s < count; s++) {
        const size_t idx = order[start + s];
        if (lane < sh.n[0]) act[lane] = x[idx * sh.n[0] + lane];
        __syncwarp();
        float zL = 0.0f;
        for (int l = 1; l <= sh.L; l++) {
            const int k = sh.n[l - 1];
            const float *W = P + sh.off_w[l], *ap = act + 32 * (l - 1);
            if (lane < sh.n[l]) {
                float z = sh.off_b[l] >= 0 ? P[sh.off_b[l] + lane] : 0.0f;
                for (int q = 0; q < k; q++) z += W[lane * k + q] * ap[q];
                if (l < sh.L) act[32 * l + lane] = bp_activate(sh.hidden, z, sh.slope);
                else zL = z;
            }
            __syncwarp();
        }
        /* The output, its loss and delta^L (every lane takes part in the reductions). */
        const bool on = lane < nL;
        const float yj = on ? y[idx * nL + lane] : 0.0f;
        float aj;
        if (sh.output == BP_ACT_SOFTMAX) {
            const float mx = bp_warp_max(on ? zL : -INFINITY);
            const float e = on ? expf(zL - mx) : 0.0f, se = bp_warp_sum(e);
            aj = e / se;
            if (sh.loss == BP_LOSS_CE) {
                const float ysum = bp_warp_sum(yj), yz = bp_warp_sum(yj * zL);
                total += (double)ysum * ((double)mx + log((double)se)) - (double)yz;
                dl[lane] = on ? ysum * aj - yj : 0.0f;
            }
        } else {
            aj = on ? bp_activate(sh.output, zL, sh.slope) : 0.0f;
        }
        if (sh.loss == BP_LOSS_BCE) {
            total += (double)bp_warp_sum(on ? bp_softplus(zL) - yj * zL : 0.0f);
            dl[lane] = on ? aj - yj : 0.0f;
        } else if (sh.loss == BP_LOSS_MSE) {
            const float d = on ? aj - yj : 0.0f;
            total += 0.5 * (double)bp_warp_sum(d * d);
            const float ad = bp_warp_sum(on ? aj * d : 0.0f);
            float g = d;
            if (sh.output == BP_ACT_SOFTMAX) g = aj * (d - ad);
            else if (sh.output != BP_ACT_IDENTITY) g = d * bp_derivative(sh.output, zL, aj, sh.slope);
            dl[lane] = on ? g : 0.0f;
        }
        __syncwarp();
        /* Backward and update, layer by layer: delta^(l-1) from W^l before W^l changes. */
        for (int l = sh.L; l >= 1; l--) {
            const int k = sh.n[l - 1], nn = sh.n[l];
            float *W = P + sh.off_w[l];
            const float *ap = act + 32 * (l - 1);
            if (l > 1 && lane < k) {
                float d = 0.0f;
                for (int j = 0; j < nn; j++) d += W[j * k + lane] * dl[j];
                dp[lane] = d * bp_derivative(sh.hidden, ap[lane], ap[lane], sh.slope);
            }
            __syncwarp();
            if (lane < nn) {
                const float g = sh.lr * dl[lane];
                for (int q = 0; q < k; q++) W[lane * k + q] = sh.keep * W[lane * k + q] - g * ap[q];
                if (sh.off_b[l] >= 0) P[sh.off_b[l] + lane] = sh.keep * P[sh.off_b[l] + lane] - g;
            }
            __syncwarp();
            if (l > 1 && lane < k) dl[lane] = dp[lane];
            __syncwarp();
        }
    }
    for (int i = lane; i < sh.n_params; i += 32) params[i] = P[i];
    if (lane == 0) atomicAdd(loss_sum, total);
}

} // namespace

void bp_cuda_gather(const float *x, const float *y, const unsigned *order, const unsigned long long *pos,
                    size_t m, size_t n_in, size_t n_out, float *xb, float *yb, cudaStream_t s)
{
    gather_kernel<<<blocks_for(m * (n_in > n_out ? n_in : n_out)), THREADS, 0, s>>>(x, y, order, pos, m, n_in,
                                                                                     n_out, xb, yb);
}

void bp_cuda_bias_activation(float *z, const float *b, size_t m, size_t n, bp_activation g, float slope,
                             cudaStream_t s)
{
    bias_activation_kernel<<<blocks_for(m * n), THREADS, 0, s>>>(z, b, m, n, g, slope);
}

void bp_cuda_output_layer(float *z, const float *b, const float *y, float *delta, size_t m, size_t n,
                          bp_activation output, bp_loss loss, float slope, double *loss_sum, float *partial,
                          cudaStream_t s)
{
    const size_t blocks = (m + BP_CUDA_CHUNK - 1) / BP_CUDA_CHUNK;
    output_kernel<<<(unsigned)blocks, THREADS, 0, s>>>(z, b, y, delta, m, n, output, loss, slope, loss_sum, partial);
}

void bp_cuda_delta_bias(float *delta, const float *a, size_t m, size_t n, bp_activation g, float slope,
                        float *partial, cudaStream_t s)
{
    if (g == BP_ACT_IDENTITY) a = NULL;
    if (!a && !partial) return;
    dim3 grid((unsigned)((n + 31) / 32), (unsigned)((m + BP_CUDA_CHUNK - 1) / BP_CUDA_CHUNK)), block(32, 8);
    delta_bias_kernel<<<grid, block, 0, s>>>(delta, a, m, n, g, slope, partial);
}

void bp_cuda_update_biases(const bp_cuda_update_plan *plan, float *params, float *velocity, size_t n_params,
                           const float *partial, unsigned long long *pos, size_t m, cudaStream_t s)
{
    update_biases_kernel<<<blocks_for(plan->n_bias), THREADS, 0, s>>>(*plan, params, velocity, partial, pos, m);
    /* Momentum's whole-block step needs every bias velocity first: a second launch. */
    if (plan->momentum) momentum_kernel<<<blocks_for(n_params), THREADS, 0, s>>>(params, velocity, n_params, plan->lr,
                                                                               plan->weight_decay);
}

int bp_cuda_head_applies(size_t k, size_t n)
{
    return n >= 1 && n <= BP_CUDA_HEAD_MAX_OUT && k >= 1 && k <= BP_CUDA_HEAD_MAX_IN;
}

/* Pieces of at least HEAD_STAGE rows, at most BP_CUDA_HEAD_SPLITS of them: at batch
   256 four pieces, 128 blocks for 784-1024-1024-10's 1024 inputs (measured on the
   H100, in Nsight Compute's times: 9.5 us with pieces of 64 rows, 12.5 with pieces
   of 16, whose chains of waits cost more than their parallelism saved, and 15 with
   one piece of 256 on 32 blocks). */
static size_t head_rows_per_piece(size_t m)
{
    const size_t per = (m + BP_CUDA_HEAD_SPLITS - 1) / BP_CUDA_HEAD_SPLITS;
    return per < (size_t)HEAD_STAGE ? (size_t)HEAD_STAGE : per;
}

size_t bp_cuda_head_pieces(size_t m)
{
    const size_t per = head_rows_per_piece(m);
    return (m + per - 1) / per;
}

void bp_cuda_head_rows(const float *a, const float *W, const float *b, const float *y, float *delta, size_t m,
                       size_t k, size_t n, bp_activation output, bp_loss loss, float slope, double *loss_sum,
                       cudaStream_t s)
{
    head_rows_kernel<<<(unsigned)m, HEAD_THREADS, 0, s>>>(a, W, b, y, delta, (int)k, (int)n, output, loss, slope,
                                                          loss_sum);
}

void bp_cuda_head_update(float *out, float alpha, float beta, const float *W, const float *delta, const float *a,
                         float *delta_prev, size_t m, size_t k, size_t n, bp_activation hidden, float slope,
                         float *partial, float *partial_prev, float *work, unsigned *count, cudaStream_t s)
{
    dim3 grid((unsigned)((k + 31) / 32), (unsigned)bp_cuda_head_pieces(m));
    head_update_kernel<<<grid, THREADS, 0, s>>>(out, alpha, beta, W, delta, a, delta_prev, m, (int)k, (int)n, hidden,
                                                slope, head_rows_per_piece(m), partial, partial_prev, work, count);
}

int bp_cuda_small_applies(const bp_cuda_model *model)
{
    if (model->n_layers > BP_CUDA_SMALL_DEPTH || model->momentum) return 0;
    for (size_t l = 0; l <= model->n_layers; l++)
        if (model->sizes[l] > BP_CUDA_SMALL_WIDTH) return 0;
    return 1;
}

void bp_cuda_small_sgd(const bp_cuda_model *model, float *params, const float *x, const float *y,
                       const unsigned *order, size_t start, size_t count, double *loss_sum, cudaStream_t s)
{
    small_shape sh;
    sh.L = (int)model->n_layers;
    int off = 0;
    for (int l = 0; l <= sh.L; l++) sh.n[l] = (int)model->sizes[l];
    for (int l = 1; l <= sh.L; l++) {
        sh.off_w[l] = off;
        off += sh.n[l] * sh.n[l - 1];
        sh.off_b[l] = model->bias ? off : -1;
        if (model->bias) off += sh.n[l];
    }
    sh.n_params = off;
    sh.hidden = model->hidden;
    sh.output = model->output;
    sh.loss = model->loss;
    sh.lr = model->lr;
    sh.keep = 1.0f - model->lr * model->weight_decay;
    sh.slope = model->leaky_slope;
    size_t bytes = ((size_t)off + 32 * (BP_CUDA_SMALL_DEPTH + 1) + 64) * sizeof(float);
    small_sgd_kernel<<<1, 32, bytes, s>>>(sh, params, x, y, order, start, count, loss_sum);
}
