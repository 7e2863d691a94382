/*
 * fused.cu - the fused path of fused.cuh: one cooperative kernel trains a run of
 * steps, its blocks separated by grid-wide barriers between the phases of a step.
 *
 * A step on m samples of an L-layer network is these phases, each a set of work
 * items shared out over every block (the barrier after each):
 *
 *   forward l = 1 .. L-1    a^l = g(a^(l-1) W^l^T + b^l)             (a^0: the batch's rows of x)
 *   [logits]                z^L = a^(L-1) W^L^T + b^L                 (only for outputs wider than 32)
 *   output                  one warp per sample: z^L (narrow outputs), the loss, delta^L, and
 *                           for narrow outputs delta^(L-1) = (delta^L W^L) (.) g'(a^(L-1)) too
 *   backward l              delta^l = (delta^(l+1) W^(l+1)) (.) g'(a^l),  and W^(l+2), b^(l+2) updated
 *   last                    W^2, b^2 and W^1, b^1 updated; the step's losses summed
 *
 * A weight matrix is updated in the first phase after the last one that reads it
 * (W^(l+1) is read for delta^l), so no phase reads a matrix another block is
 * changing. 784-256-128-10 takes 5 phases a step.
 *
 * The products are tiled: 32 x 32 outputs per work item, 256 threads computing
 * 2 x 2 each from 32-deep slices of both operands staged in shared memory. When a
 * product has fewer tiles than there are blocks, its reduction is split into
 * pieces (split-K); each piece writes its partial tile, and the block that
 * finishes a tile's last piece adds the pieces in a fixed order and applies the
 * epilogue. Every sum has a fixed order (no floating-point atomics), so a run is
 * bitwise repeatable. The gradient products read delta^l and a^(l-1) with the
 * batch index as their reduction, and write the update straight into W (and the
 * velocity): the gradient itself is never stored.
 */
#include <cooperative_groups.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_math.cuh"
#include "fused.cuh"

namespace cg = cooperative_groups;

namespace {

constexpr int TILE = 32;     /* a work item's output tile is TILE x TILE */
constexpr int KC = 32;       /* the reduction is staged KC deep at a time */
constexpr int PAD = 2;       /* keeps the transposing stores to 2-way bank conflicts */
constexpr int THREADS = 256; /* 16 x 16 threads, 2 x 2 outputs each */
constexpr int NARROW = 32;   /* outputs this wide: z^L by the output phase's warps */
constexpr double FUSED_MAX_MACS = 1.0e8; /* multiply-adds in a step above which the products path is faster */

/* The network and the work space, as the kernel sees them. */
struct Net {
    int L;
    int n[BP_MAX_LAYERS + 1];
    int off_w[BP_MAX_LAYERS + 1], off_b[BP_MAX_LAYERS + 1];
    int bias, narrow, momentum, sum_reduction;
    bp_activation hidden, output;
    bp_loss loss;
    float slope, lr, mu, wd, keep;
    float *act[BP_MAX_LAYERS + 1];   /* a^l (l < L), batch x n_l; act[L]: z^L */
    float *delta[BP_MAX_LAYERS + 1]; /* delta^l, batch x n_l */
    double *row_loss;                /* each sample's loss in the current step */
    float *partial;                  /* split-K pieces: grid x TILE x TILE */
    unsigned *count;                 /* pieces finished per tile (grid entries, back to 0 after use) */
};

/* One run: the data, the parameters and which samples. */
struct Run {
    float *params, *velocity;
    const float *x, *y;
    const unsigned *order;
    size_t n, start, batch, steps;
    double *loss_sum;
};

/* A matrix operand of a tiled product, element (t, r) with t along the output tile
   and r along the reduction: red_contig ? p[row(t) ld + r] : p[row(r) ld + t],
   row(i) = rows ? rows[i] : i (rows picks the batch's samples out of x). */
struct Operand {
    const float *p;
    const unsigned *rows;
    int ld, red_contig;
};

enum Kind { FORWARD, LOGITS, DELTA, UPDATE };

/* One product of a phase: C (M x N) = sum over r < K of a(i, r) b(j, r), then the
   epilogue of its kind for layer `layer`, cut into tiles x splits work items. */
struct Job {
    Kind kind;
    int layer, M, N, K;
    Operand a, b;
    int tn, splits, chunk, items;
};

struct Step {
    int m;
    float scale;          /* 1/m, or 1 for sum reduction */
    const unsigned *rows; /* the step's samples: rows[0 .. m) */
};

struct Shared {
    float a[KC][TILE + PAD], b[KC][TILE + PAD];
    int last;
};

__device__ Job make_job(Kind kind, int layer, int M, int N, int K, Operand a, Operand b, bool split)
{
    Job j;
    j.kind = kind;
    j.layer = layer;
    j.M = M;
    j.N = N;
    j.K = K;
    j.a = a;
    j.b = b;
    j.tn = (N + TILE - 1) / TILE;
    const int tiles = ((M + TILE - 1) / TILE) * j.tn;
    j.splits = 1;
    j.chunk = K;
    if (split && tiles < (int)gridDim.x && K > KC) {
        int s = (int)gridDim.x / tiles;
        const int most = (K + KC - 1) / KC;
        if (s > most) s = most;
        j.chunk = ((K + s - 1) / s + KC - 1) / KC * KC;
        j.splits = (K + j.chunk - 1) / j.chunk;
    }
    j.items = tiles * j.splits;
    return j;
}

/* op's TILE x KC slice (t from t0, r from r0) into s[r][t], zero outside t < tlim, r < rlim. */
__device__ void stage(const Operand &op, int t0, int tlim, int r0, int rlim, float (*s)[TILE + PAD])
{
    for (int e = threadIdx.x; e < TILE * KC; e += THREADS) {
        /* Consecutive threads read consecutive addresses. */
        const int t = op.red_contig ? e / KC : e % TILE, r = op.red_contig ? e % KC : e / TILE;
        const int gt = t0 + t, gr = r0 + r;
        float v = 0.0f;
        if (gt < tlim && gr < rlim) {
            const int row = op.red_contig ? gt : gr, col = op.red_contig ? gr : gt;
            const size_t at = op.rows ? (size_t)op.rows[row] : (size_t)row;
            v = op.p[at * (size_t)op.ld + col];
        }
        s[r][t] = v;
    }
}

/* acc = this thread's 2 x 2 outputs of the tile at (i0, j0), over r in [r0, r1). */
__device__ void tile_product(const Job &jb, int i0, int j0, int r0, int r1, float acc[2][2], Shared &sm)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    acc[0][0] = acc[0][1] = acc[1][0] = acc[1][1] = 0.0f;
    for (int r = r0; r < r1; r += KC) {
        __syncthreads(); /* the previous slice (or item) is done with the shared arrays */
        stage(jb.a, i0, jb.M, r, r1, sm.a);
        stage(jb.b, j0, jb.N, r, r1, sm.b);
        __syncthreads();
#pragma unroll 8
        for (int k = 0; k < KC; k++) {
            const float2 av = *reinterpret_cast<const float2 *>(&sm.a[k][2 * ty]);
            const float2 bv = *reinterpret_cast<const float2 *>(&sm.b[k][2 * tx]);
            acc[0][0] += av.x * bv.x;
            acc[0][1] += av.x * bv.y;
            acc[1][0] += av.y * bv.x;
            acc[1][1] += av.y * bv.y;
        }
    }
}

/* w <- w - lr (scale g) (plain descent, with weight decay in keep), or the
   momentum step v <- mu v + scale g + wd w, w <- w - lr v: as the products path. */
__device__ void descend(const Net &net, float *params, float *velocity, size_t at, float g)
{
    if (net.momentum) {
        const float v = net.mu * velocity[at] + g + net.wd * params[at];
        velocity[at] = v;
        params[at] -= net.lr * v;
    } else {
        params[at] = net.keep * params[at] - net.lr * g;
    }
}

/* The epilogue of a finished tile. */
__device__ void epilogue(const Net &net, const Run &run, const Step &st, const Job &jb, int i0, int j0,
                         const float acc[2][2])
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16, l = jb.layer;
    for (int di = 0; di < 2; di++)
        for (int dj = 0; dj < 2; dj++) {
            const int i = i0 + 2 * ty + di, j = j0 + 2 * tx + dj;
            if (i >= jb.M || j >= jb.N) continue;
            const size_t at = (size_t)i * jb.N + j;
            const float v = acc[di][dj];
            switch (jb.kind) {
            case FORWARD:
                net.act[l][at] =
                    bp_activate(net.hidden, net.bias ? v + run.params[net.off_b[l] + j] : v, net.slope);
                break;
            case LOGITS: net.act[l][at] = net.bias ? v + run.params[net.off_b[l] + j] : v; break;
            case DELTA: {
                const float a = net.act[l][at];
                net.delta[l][at] = v * bp_derivative(net.hidden, a, a, net.slope);
                break;
            }
            case UPDATE: descend(net, run.params, run.velocity, (size_t)net.off_w[l] + at, st.scale * v); break;
            }
        }
    /* The bias gradient of the units in the tile's rows: delta^l's column sums, in
       batch order, by the tiles of the first column. */
    if (jb.kind == UPDATE && net.bias && j0 == 0 && threadIdx.x < TILE && i0 + (int)threadIdx.x < jb.M) {
        const int u = i0 + threadIdx.x;
        const float *d = net.delta[l] + u;
        float g = 0.0f;
        for (int i = 0; i < st.m; i++) g += d[(size_t)i * jb.M];
        descend(net, run.params, run.velocity, (size_t)net.off_b[l] + u, st.scale * g);
    }
}

/* Runs the work items of a phase's jobs, shared out over the blocks. */
__device__ void run_jobs(const Net &net, const Run &run, const Step &st, const Job *jobs, int count, Shared &sm)
{
    int total = 0;
    for (int q = 0; q < count; q++) total += jobs[q].items;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int item = blockIdx.x; item < total; item += gridDim.x) {
        int q = 0, local = item;
        while (local >= jobs[q].items) local -= jobs[q++].items;
        const Job &jb = jobs[q];
        const int tile = local / jb.splits, piece = local % jb.splits;
        const int i0 = tile / jb.tn * TILE, j0 = tile % jb.tn * TILE;
        const int r0 = piece * jb.chunk, r1 = r0 + jb.chunk < jb.K ? r0 + jb.chunk : jb.K;
        float acc[2][2];
        tile_product(jb, i0, j0, r0, r1, acc, sm);
        if (jb.splits > 1) {
            /* Leave this piece; the block that completes the tile sums all of them. */
            float *mine = net.partial + ((size_t)tile * jb.splits + piece) * TILE * TILE;
            for (int di = 0; di < 2; di++)
                *reinterpret_cast<float2 *>(&mine[(2 * ty + di) * TILE + 2 * tx]) = make_float2(acc[di][0], acc[di][1]);
            __threadfence();
            __syncthreads();
            if (threadIdx.x == 0) sm.last = atomicAdd(&net.count[tile], 1u) == (unsigned)jb.splits - 1;
            __syncthreads();
            if (!sm.last) continue;
            __threadfence();
            acc[0][0] = acc[0][1] = acc[1][0] = acc[1][1] = 0.0f;
            for (int p = 0; p < jb.splits; p++) {
                const float *piece_p = net.partial + ((size_t)tile * jb.splits + p) * TILE * TILE;
                for (int di = 0; di < 2; di++) {
                    const float2 v = __ldcg(reinterpret_cast<const float2 *>(&piece_p[(2 * ty + di) * TILE + 2 * tx]));
                    acc[di][0] += v.x;
                    acc[di][1] += v.y;
                }
            }
            if (threadIdx.x == 0) net.count[tile] = 0;
        }
        epilogue(net, run, st, jb, i0, j0, acc);
    }
}

/* The output phase: one warp per sample. */
__device__ void output_phase(const Net &net, const Run &run, const Step &st)
{
    const int lane = threadIdx.x & 31, L = net.L, nL = net.n[L], K = net.n[L - 1];
    const float *W = run.params + net.off_w[L];
    const int warps = (int)gridDim.x * (THREADS / 32);
    for (int i = (int)blockIdx.x * (THREADS / 32) + (int)threadIdx.x / 32; i < st.m; i += warps) {
        const size_t sample = st.rows[i];
        float *zr = net.act[L] + (size_t)i * nL, *dr = net.delta[L] + (size_t)i * nL;
        const float *ar = L > 1 ? net.act[L - 1] + (size_t)i * K : run.x + sample * K;
        if (net.narrow) {
            for (int j = 0; j < nL; j++) {
                float s = 0.0f;
                for (int k = lane; k < K; k += 32) s += ar[k] * W[(size_t)j * K + k];
                s = bp_warp_sum(s);
                if (lane == 0) zr[j] = net.bias ? s + run.params[net.off_b[L] + j] : s;
            }
            __syncwarp();
        }
        const double l = bp_output_row(zr, run.y + sample * nL, dr, nL, net.output, net.loss, net.slope);
        if (lane == 0) net.row_loss[i] = l;
        if (net.narrow && L > 1) {
            __syncwarp();
            float *dp = net.delta[L - 1] + (size_t)i * K;
            for (int k = lane; k < K; k += 32) {
                float s = 0.0f;
                for (int j = 0; j < nL; j++) s += dr[j] * W[(size_t)j * K + k];
                dp[k] = s * bp_derivative(net.hidden, ar[k], ar[k], net.slope);
            }
        }
    }
}

__global__ void __launch_bounds__(THREADS) fused_kernel(Net net, Run run)
{
    __shared__ Shared sm;
    cg::grid_group grid = cg::this_grid();
    const int L = net.L;
    double total = 0.0; /* the run's loss, kept by thread 0 of block 0 */
    for (size_t s = 0; s < run.steps; s++) {
        const size_t first = run.start + s * run.batch;
        Step st;
        st.m = (int)(run.n - first < run.batch ? run.n - first : run.batch);
        st.scale = net.sum_reduction ? 1.0f : 1.0f / (float)st.m;
        st.rows = run.order + first;
        const int m = st.m;
        /* Forward through the hidden layers. */
        for (int l = 1; l < L; l++) {
            const Operand a = l == 1 ? Operand{run.x, st.rows, net.n[0], 1} : Operand{net.act[l - 1], NULL, net.n[l - 1], 1};
            const Operand w = {run.params + net.off_w[l], NULL, net.n[l - 1], 1};
            const Job jb = make_job(FORWARD, l, m, net.n[l], net.n[l - 1], a, w, true);
            run_jobs(net, run, st, &jb, 1, sm);
            grid.sync();
        }
        if (!net.narrow) {
            const Operand a = L == 1 ? Operand{run.x, st.rows, net.n[0], 1} : Operand{net.act[L - 1], NULL, net.n[L - 1], 1};
            const Operand w = {run.params + net.off_w[L], NULL, net.n[L - 1], 1};
            const Job jb = make_job(LOGITS, L, m, net.n[L], net.n[L - 1], a, w, true);
            run_jobs(net, run, st, &jb, 1, sm);
            grid.sync();
        }
        output_phase(net, run, st);
        grid.sync();
        /* Backward: delta^l, and the update of W^(l+2), whose last reader was the phase before. */
        for (int l = net.narrow ? L - 2 : L - 1; l >= 1; l--) {
            Job jobs[2];
            int count = 0;
            jobs[count++] = make_job(DELTA, l, m, net.n[l], net.n[l + 1], Operand{net.delta[l + 1], NULL, net.n[l + 1], 1},
                                     Operand{run.params + net.off_w[l + 1], NULL, net.n[l], 0}, true);
            if (l + 2 <= L)
                jobs[count++] = make_job(UPDATE, l + 2, net.n[l + 2], net.n[l + 1], m,
                                         Operand{net.delta[l + 2], NULL, net.n[l + 2], 0},
                                         Operand{net.act[l + 1], NULL, net.n[l + 1], 0}, false);
            run_jobs(net, run, st, jobs, count, sm);
            grid.sync();
        }
        /* The step's losses, then the updates of W^2 and W^1. */
        if (blockIdx.x == 0 && threadIdx.x < 32) {
            double t = 0.0;
            for (int i = threadIdx.x; i < m; i += 32) t += net.row_loss[i];
            t = bp_warp_sum_d(t);
            if (threadIdx.x == 0) total += t;
        }
        Job jobs[2];
        int count = 0;
        for (int l = L < 2 ? L : 2; l >= 1; l--) {
            const Operand a = l == 1 ? Operand{run.x, st.rows, net.n[0], 0} : Operand{net.act[l - 1], NULL, net.n[l - 1], 0};
            jobs[count++] = make_job(UPDATE, l, net.n[l], net.n[l - 1], m, Operand{net.delta[l], NULL, net.n[l], 0}, a, false);
        }
        run_jobs(net, run, st, jobs, count, sm);
        grid.sync();
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) *run.loss_sum += total;
}

} // namespace

struct bp_cuda_fused {
    Net net;
    size_t capacity;
    int grid;
};

int bp_cuda_fused_applies(const bp_cuda_model *model, size_t batch)
{
    const char *force = getenv("BP_CUDA_PATH");
    if (force && strcmp(force, "products") == 0) return 0;
    if (model->tf32) return 0; /* TF32 is cuBLAS's tensor cores; the fused path is fp32 */
    if (force && strcmp(force, "fused") == 0) return 1;
    double macs = 0.0;
    for (size_t l = 1; l <= model->n_layers; l++) macs += (double)model->sizes[l] * (double)model->sizes[l - 1];
    return 3.0 * macs * (double)batch <= FUSED_MAX_MACS;
}

void bp_cuda_fused_free(bp_cuda_fused *f)
{
    if (!f) return;
    for (int l = 1; l <= f->net.L; l++) {
        cudaFree(f->net.act[l]);
        cudaFree(f->net.delta[l]);
    }
    cudaFree(f->net.row_loss);
    cudaFree(f->net.partial);
    cudaFree(f->net.count);
    free(f);
}

size_t bp_cuda_fused_capacity(const bp_cuda_fused *f) { return f ? f->capacity : 0; }

bp_status bp_cuda_fused_create(const bp_cuda_model *model, size_t batch, bp_cuda_fused **out, char *why,
                                          size_t why_len)
{
    *out = NULL;
    int dev = 0, coop = 0, sms = 0, per_sm = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_kernel, THREADS, 0) != cudaSuccess || !coop ||
        per_sm < 1) {
        (void)cudaGetLastError();
        if (why && why_len) snprintf(why, why_len, "this device cannot run the fused kernel (cooperative launch)");
        return BP_ERR_UNSUPPORTED;
    }
    bp_cuda_fused *f = (bp_cuda_fused *)calloc(1, sizeof *f);
    if (!f) {
        if (why && why_len) snprintf(why, why_len, "out of memory");
        return BP_ERR_NOMEM;
    }
    /* One block per multiprocessor: each grid-wide barrier costs more with more blocks,
       and these steps are short of work, not of threads. */
    const char *env = getenv("BP_CUDA_FUSED_BLOCKS_PER_SM");
    int want = env ? atoi(env) : 1;
    if (want < 1) want = 1;
    f->grid = sms * (want < per_sm ? want : per_sm);
    Net &n = f->net;
    n.L = (int)model->n_layers;
    int off = 0;
    for (int l = 0; l <= n.L; l++) n.n[l] = (int)model->sizes[l];
    for (int l = 1; l <= n.L; l++) {
        n.off_w[l] = off;
        off += n.n[l] * n.n[l - 1];
        n.off_b[l] = off;
        if (model->bias) off += n.n[l];
    }
    n.bias = model->bias;
    n.narrow = n.n[n.L] <= NARROW;
    n.momentum = model->momentum;
    n.sum_reduction = model->reduction == BP_REDUCE_SUM;
    n.hidden = model->hidden;
    n.output = model->output;
    n.loss = model->loss;
    n.slope = model->leaky_slope;
    n.lr = model->lr;
    n.mu = model->mu;
    n.wd = model->weight_decay;
    n.keep = 1.0f - model->lr * model->weight_decay;
    f->capacity = batch;
    bool ok = true;
    for (int l = 1; l <= n.L && ok; l++)
        ok = cudaMalloc(&n.act[l], batch * n.n[l] * sizeof(float)) == cudaSuccess &&
             cudaMalloc(&n.delta[l], batch * n.n[l] * sizeof(float)) == cudaSuccess;
    ok = ok && cudaMalloc(&n.row_loss, batch * sizeof(double)) == cudaSuccess &&
         cudaMalloc(&n.partial, (size_t)f->grid * TILE * TILE * sizeof(float)) == cudaSuccess &&
         cudaMalloc(&n.count, (size_t)f->grid * sizeof(unsigned)) == cudaSuccess &&
         cudaMemset(n.count, 0, (size_t)f->grid * sizeof(unsigned)) == cudaSuccess;
    if (!ok) {
        (void)cudaGetLastError();
        bp_cuda_fused_free(f);
        if (why && why_len) snprintf(why, why_len, "out of GPU memory for the fused path's work space");
        return BP_ERR_NOMEM;
    }
    *out = f;
    return BP_OK;
}

cudaError_t bp_cuda_fused_run(bp_cuda_fused *f, float *params, float *velocity, const float *x,
                                         const float *y, const unsigned *order, size_t n, size_t start, size_t batch,
                                         size_t steps, double *loss_sum, cudaStream_t s)
{
    if (steps == 0) return cudaSuccess;
    if (batch > f->capacity) return cudaErrorInvalidValue;
    Run run = {params, velocity, x, y, order, n, start, batch, steps, loss_sum};
    void *args[] = {&f->net, &run};
    return cudaLaunchCooperativeKernel((const void *)fused_kernel, dim3((unsigned)f->grid), dim3(THREADS), args, 0, s);
}
