/*
 * fused.cu - the fused path of fused.cuh: one cooperative kernel trains a run of
 * steps, its blocks separated by grid-wide barriers between the phases of a step.
 *
 * The layers split in two at the "tail" layer T (chosen on the host from the
 * weights' sizes): layers 1 .. T-1 have large weight matrices and are done as
 * tiled products shared out over every block; layers T .. L are small, and since
 * everything but the weight updates is independent from one sample to the next,
 * a block takes one sample at a time and runs it through those layers forward,
 * the loss, and back to delta^(T-1) on its own, with no barrier in between. A step
 * on m samples is these phases (a grid-wide barrier after each):
 *
 *   forward l = 1 .. T-1    a^l = g(a^(l-1) W^l^T + b^l)         tiled (a^0: the batch's rows of x)
 *   rows                    per sample: a^T .. a^(L-1), z^L, the loss, delta^L .. delta^(T-1)
 *   backward l = T-2 .. 1   delta^l = (delta^(l+1) W^(l+1)) (.) g'(a^l)   tiled, with updates
 *   last                    the remaining updates; the step's losses summed
 *
 * A weight matrix is updated (W, b and the velocity, from delta^l and a^(l-1))
 * in the first phase after the last one that reads it, so no phase reads a
 * matrix another block is changing: the tail's matrices right after the rows
 * phase, W^j (j < T) after the phase that computes delta^(j-1).
 *
 * With T = 2 the update phase also "carries" the next step's first layer: the
 * block that updates a tile of W^1 multiplies it by the next batch's inputs
 * (carry_forward), and the next rows phase adds those pieces up into a^1, so
 * every step after a run's first is two phases: rows and update.
 *
 * The products are tiled: 64 x 32 outputs per work item, 256 threads computing
 * 4 x 2 each from 32-deep slices of both operands staged in shared memory (the
 * next slice loaded into registers while the current one is used). When a
 * product has fewer tiles than there are blocks, its reduction is split into
 * pieces (split-K); each piece writes its partial tile, and the block that
 * finishes a tile's last piece adds the pieces in a fixed order and applies the
 * epilogue. Every sum has a fixed order (no floating-point atomics), so a run is
 * bitwise repeatable. The gradient products read delta^l and a^(l-1) with the
 * batch index as their reduction, and write the update straight into W (and the
 * velocity): the gradient itself is never stored.
 *
 * bp_device_options.profile makes block 0 time each phase (and points inside
 * them, mark()); bp_cuda_fused_report turns the sums into averages per step,
 * which the trainer hands on as its device message. docs/GPU.md has the
 * measurements that shaped this file.
 */
#include <cooperative_groups.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_math.cuh"
#include "fused.cuh"

namespace cg = cooperative_groups;

namespace {

constexpr int TM = 64, TN = 32; /* a work item's output tile is TM x TN */
constexpr int KC = 32;       /* the reduction is staged KC deep at a time */
constexpr int PAD = 4;       /* keeps the transposing stores to few bank conflicts, rows 16-byte aligned */
constexpr int THREADS = 256; /* 16 x 16 threads, 4 x 2 outputs each */
constexpr int MAX_BATCH = 8192; /* the step's sample indices are kept in shared memory */
constexpr int CARRY_BATCH = 256; /* batches up to this size carry layer 1's forward into the step before */
constexpr int TAIL_FLOATS = 40 * 1024;   /* the tail's parameters, at most: each block copies them to shared memory */
constexpr int ROW_FLOATS = 8 * 1024;     /* the rows phase's widest layer, at most */
constexpr double FUSED_MAX_MACS = 2.0e8;  /* multiply-adds in a step above which the products path is faster */
/* The profile's sums: each phase's time, then marks inside block 0's
   phases (time since the phase began), then the barrier test, steps and launches. */
constexpr int PROFILE_PHASES = 2 * BP_MAX_LAYERS + 2, PROFILE_MARKS = 16;
constexpr int PROFILE_SLOTS = PROFILE_PHASES + PROFILE_MARKS + 3;

/* The network and the work space, as the kernel sees them. */
struct Net {
    int L, T;                        /* layers; the tail's first layer */
    int n[BP_MAX_LAYERS + 1];
    int off_w[BP_MAX_LAYERS + 1], off_b[BP_MAX_LAYERS + 1];
    int bias, momentum, sum_reduction;
    int row_width;                   /* the rows phase's widest layer */
    int tail_off, tail_len;          /* the tail's parameters: params[tail_off .. + tail_len) */
    bp_activation hidden, output;
    bp_loss loss;
    float slope, lr, mu, wd, keep;
    float *act[BP_MAX_LAYERS + 1];   /* a^l (l < L), batch x n_l (z^L stays in shared memory) */
    float *delta[BP_MAX_LAYERS + 1]; /* delta^l, batch x n_l */
    double *row_loss;                /* each sample's loss in the current step */
    float *partial;                  /* split-K pieces: grid x TM x TN */
    unsigned *count;                 /* pieces finished per tile (grid entries, back to 0 after use) */
    int carry;                       /* each step also computes the next step's z^1 (see carry_forward) */
    float *piece1;                   /* carry's pieces of z^1: tiles of W^1 x batch x TM */
    int work_floats;                 /* dynamic shared memory before the sample indices */
    unsigned long long *profile;     /* NULL, or PROFILE_SLOTS nanosecond sums */
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

enum Kind { FORWARD, DELTA, UPDATE };

/* One product of a phase: C (M x N) = sum over r < K of a(i, r) b(j, r), then the
   epilogue of its kind for layer `layer`, cut into tiles x splits work items. */
struct Job {
    Kind kind;
    int layer, M, N, K;
    Operand a, b;
    int tn, splits, chunk, items;
};

/* The products of a phase: a^f forward (when f > 0), delta^d (when d > 0), then
   the updates of the layers in [lo1, hi1] and [lo2, hi2] (empty when lo > hi). */
struct Phase {
    int f, d, lo1, hi1, lo2, hi2;
};

struct Step {
    int m;
    float scale;          /* 1/m, or 1 for sum reduction */
    const unsigned *rows; /* the step's samples: rows[0 .. m) */
    int carried;          /* z^1 is in carry's pieces, from the step before */
    int next_m;           /* with carry: the next step's samples (0: no next step in this run) */
    const unsigned *next_rows;
};

__device__ unsigned long long now_ns()
{
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__shared__ unsigned long long phase_start; /* profiling: when block 0's current phase began */

/* Profiling: adds the time since the phase began to mark `id` (block 0 only). */
__device__ void mark(const Net &net, int id)
{
    if (net.profile && blockIdx.x == 0 && threadIdx.x == 0) net.profile[PROFILE_PHASES + id] += now_ns() - phase_start;
}

struct alignas(16) Shared {
    float a[KC][TM + PAD], b[KC][TN + PAD];
    float wn[TM][TN + 1]; /* carry: the W^1 tile just updated */
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
    j.tn = (N + TN - 1) / TN;
    const int tiles = ((M + TM - 1) / TM) * j.tn;
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

/* a^(l-1) as an operand: the batch's rows of x for l = 1. */
__device__ Operand input_of(const Net &net, const Run &run, const Step &st, int l, int red_contig)
{
    return l == 1 ? Operand{run.x, st.rows, net.n[0], red_contig}
                  : Operand{net.act[l - 1], NULL, net.n[l - 1], red_contig};
}

__device__ Job forward_job(const Net &net, const Run &run, const Step &st, int l)
{
    return make_job(FORWARD, l, st.m, net.n[l], net.n[l - 1], input_of(net, run, st, l, 1),
                    Operand{run.params + net.off_w[l], NULL, net.n[l - 1], 1}, true);
}

__device__ Job delta_job(const Net &net, const Run &run, const Step &st, int l)
{
    return make_job(DELTA, l, st.m, net.n[l], net.n[l + 1], Operand{net.delta[l + 1], NULL, net.n[l + 1], 1},
                    Operand{run.params + net.off_w[l + 1], NULL, net.n[l], 0}, true);
}

__device__ Job update_job(const Net &net, const Run &run, const Step &st, int l)
{
    return make_job(UPDATE, l, net.n[l], net.n[l - 1], st.m, Operand{net.delta[l], NULL, net.n[l], 0},
                    input_of(net, run, st, l, 0), false);
}

/* Job q of a phase, in the order forward, delta, first range, second range
   (phase_jobs says how many). */
__device__ Job phase_job(const Net &net, const Run &run, const Step &st, const Phase &ph, int q)
{
    if (ph.f > 0) {
        if (q == 0) return forward_job(net, run, st, ph.f);
        q--;
    }
    if (ph.d > 0) {
        if (q == 0) return delta_job(net, run, st, ph.d);
        q--;
    }
    const int n1 = ph.hi1 >= ph.lo1 ? ph.hi1 - ph.lo1 + 1 : 0;
    return update_job(net, run, st, q < n1 ? ph.lo1 + q : ph.lo2 + (q - n1));
}

__device__ int phase_jobs(const Phase &ph)
{
    return (ph.f > 0) + (ph.d > 0) + (ph.hi1 >= ph.lo1 ? ph.hi1 - ph.lo1 + 1 : 0) + (ph.hi2 >= ph.lo2 ? ph.hi2 - ph.lo2 + 1 : 0);
}

/* This thread's E x KC / THREADS elements of op's E x KC slice (t from t0, r from
   r0), zero outside t < tlim, r < rlim; `store` puts them at s[r][t]. Consecutive
   threads read consecutive addresses. */
template <int E>
__device__ void fetch(const Operand &op, int t0, int tlim, int r0, int rlim, float v[E * KC / THREADS])
{
#pragma unroll
    for (int q = 0; q < E * KC / THREADS; q++) {
        const int e = threadIdx.x + q * THREADS;
        const int t = op.red_contig ? e / KC : e % E, r = op.red_contig ? e % KC : e / E;
        const int gt = t0 + t, gr = r0 + r;
        v[q] = 0.0f;
        if (gt < tlim && gr < rlim) {
            const int row = op.red_contig ? gt : gr, col = op.red_contig ? gr : gt;
            const size_t at = op.rows ? (size_t)op.rows[row] : (size_t)row;
            v[q] = op.p[at * (size_t)op.ld + col];
        }
    }
}

template <int E>
__device__ void store(const Operand &op, const float v[E * KC / THREADS], float (*s)[E + PAD])
{
#pragma unroll
    for (int q = 0; q < E * KC / THREADS; q++) {
        const int e = threadIdx.x + q * THREADS;
        const int t = op.red_contig ? e / KC : e % E, r = op.red_contig ? e % KC : e / E;
        s[r][t] = v[q];
    }
}

/* acc = this thread's 4 x 2 outputs of the tile at (i0, j0), over r in [r0, r1). */
__device__ void tile_product(const Job &jb, int i0, int j0, int r0, int r1, float acc[4][2], Shared &sm)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = 0.0f;
    float va[TM * KC / THREADS], vb[TN * KC / THREADS];
    fetch<TM>(jb.a, i0, jb.M, r0, r1, va);
    fetch<TN>(jb.b, j0, jb.N, r0, r1, vb);
    for (int r = r0; r < r1; r += KC) {
        __syncthreads(); /* the previous slice (or item) is done with the shared arrays */
        store<TM>(jb.a, va, sm.a);
        store<TN>(jb.b, vb, sm.b);
        __syncthreads();
        if (r + KC < r1) { /* the next slice is on its way while this one is used */
            fetch<TM>(jb.a, i0, jb.M, r + KC, r1, va);
            fetch<TN>(jb.b, j0, jb.N, r + KC, r1, vb);
        }
#pragma unroll 8
        for (int k = 0; k < KC; k++) {
            const float4 av = *reinterpret_cast<const float4 *>(&sm.a[k][4 * ty]);
            const float2 bv = *reinterpret_cast<const float2 *>(&sm.b[k][2 * tx]);
            acc[0][0] += av.x * bv.x;
            acc[0][1] += av.x * bv.y;
            acc[1][0] += av.y * bv.x;
            acc[1][1] += av.y * bv.y;
            acc[2][0] += av.z * bv.x;
            acc[2][1] += av.z * bv.y;
            acc[3][0] += av.w * bv.x;
            acc[3][1] += av.w * bv.y;
        }
    }
}

/* w <- w - lr (scale g) (plain descent, with weight decay in keep), or the
   momentum step v <- mu v + scale g + wd w, w <- w - lr v: as the products path. */
__device__ float descend(const Net &net, float *params, float *velocity, size_t at, float g, float w, float v)
{
    if (net.momentum) {
        v = net.mu * v + g + net.wd * w;
        velocity[at] = v;
        w -= net.lr * v;
    } else {
        w = net.keep * w - net.lr * g;
    }
    params[at] = w;
    return w;
}

/* An update tile's current weights (and velocities), read before its product so
   the loads overlap it. */
__device__ void preload(const Net &net, const Run &run, const Job &jb, int i0, int j0, float w[8], float v[8])
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int e = 0; e < 8; e++) {
        const int i = i0 + 4 * ty + e / 2, j = j0 + 2 * tx + e % 2;
        w[e] = v[e] = 0.0f;
        if (i >= jb.M || j >= jb.N) continue;
        const size_t at = (size_t)net.off_w[jb.layer] + (size_t)i * jb.N + j;
        w[e] = run.params[at];
        if (net.momentum) v[e] = run.velocity[at];
    }
}

/* The epilogue of a finished tile. */
__device__ void epilogue(const Net &net, const Run &run, const Step &st, const Job &jb, int i0, int j0,
                         const float acc[4][2], const float w[8], const float vel[8], Shared &sm)
{
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16, l = jb.layer;
    const bool carry = jb.kind == UPDATE && l == 1 && st.next_m > 0; /* (net.carry is in next_m) */
#pragma unroll
    for (int e = 0; e < 8; e++) {
        const int di = e / 2, dj = e % 2;
        const int i = i0 + 4 * ty + di, j = j0 + 2 * tx + dj;
        if (carry) sm.wn[4 * ty + di][2 * tx + dj] = 0.0f;
        if (i >= jb.M || j >= jb.N) continue;
        const size_t at = (size_t)i * jb.N + j;
        const float v = acc[di][dj];
        switch (jb.kind) {
        case FORWARD:
            net.act[l][at] = bp_activate(net.hidden, net.bias ? v + run.params[net.off_b[l] + j] : v, net.slope);
            break;
        case DELTA: {
            const float a = net.act[l][at];
            net.delta[l][at] = v * bp_derivative(net.hidden, a, a, net.slope);
            break;
        }
        case UPDATE: {
            const float nw = descend(net, run.params, run.velocity, (size_t)net.off_w[l] + at, st.scale * v, w[e], vel[e]);
            if (carry) sm.wn[4 * ty + di][2 * tx + dj] = nw;
            break;
        }
        }
    }
    /* The bias gradient of the units in the tile's rows: delta^l's column sums, in
       batch order, by the tiles of the first column. */
    if (jb.kind == UPDATE && net.bias && j0 == 0 && threadIdx.x < TM && i0 + (int)threadIdx.x < jb.M) {
        const int u = i0 + threadIdx.x;
        const float *d = net.delta[l] + u;
        float g = 0.0f;
#pragma unroll 8
        for (int i = 0; i < st.m; i++) g += d[(size_t)i * jb.M];
        const size_t at = (size_t)net.off_b[l] + u;
        descend(net, run.params, run.velocity, at, st.scale * g, run.params[at], net.momentum ? run.velocity[at] : 0.0f);
    }
}

/* Carry: the block that has just updated a TM x TN tile of W^1 (units i0.., inputs
   j0..) also multiplies it by the same inputs of the next step's samples: a piece
   of the next step's z^1 = x W^1^T over TN of its inputs. The next step's rows
   phase adds each sample's pieces up in a fixed order, with the (updated) bias,
   into a^1. So the next step skips its first forward phase: its products ran here,
   in the update phase, at the cost of one more small product per tile instead of a
   phase and a grid barrier. */
__device__ void carry_forward(const Net &net, const Run &run, const Step &st, int i0, int j0, Shared &sm, float *xs)
{
    const int n0 = net.n[0], m2 = st.next_m, tn = (n0 + TN - 1) / TN;
    for (int e = threadIdx.x; e < m2 * TN; e += THREADS) {
        const int r = e / TN, k = j0 + e % TN;
        xs[r * TN + e % TN] = k < n0 ? run.x[(size_t)st.next_rows[r] * n0 + k] : 0.0f;
    }
    __syncthreads(); /* xs and wn are complete */
    /* Thread: unit u, its TN weights in registers; samples r, r + 4, ..., each row of xs
       read as float4s that every lane of the warp shares. */
    const int u = threadIdx.x % TM;
    float w[TN];
#pragma unroll
    for (int k = 0; k < TN; k++) w[k] = sm.wn[u][k];
    float *piece = net.piece1 + (size_t)(i0 / TM * tn + j0 / TN) * run.batch * TM;
    for (int r = threadIdx.x / TM; r < m2; r += THREADS / TM) {
        const float4 *xr = reinterpret_cast<const float4 *>(xs + r * TN);
        float z = 0.0f;
#pragma unroll
        for (int k = 0; k < TN / 4; k++) {
            const float4 v = xr[k];
            z += v.x * w[4 * k] + v.y * w[4 * k + 1] + v.z * w[4 * k + 2] + v.w * w[4 * k + 3];
        }
        piece[r * TM + u] = z;
    }
}

/* Runs the work items of a phase's jobs, shared out over the blocks. */
__device__ void run_jobs(const Net &net, const Run &run, const Step &st, const Phase ph, Shared &sm, float *xs)
{
    int total = 0;
    const int count = phase_jobs(ph);
    for (int q = 0; q < count; q++) total += phase_job(net, run, st, ph, q).items;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int item = blockIdx.x; item < total; item += gridDim.x) {
        int q = 0, local = item;
        Job jb = phase_job(net, run, st, ph, 0);
        while (local >= jb.items) {
            local -= jb.items;
            jb = phase_job(net, run, st, ph, ++q);
        }
        const int tile = local / jb.splits, piece = local % jb.splits;
        const int i0 = tile / jb.tn * TM, j0 = tile % jb.tn * TN;
        const int r0 = piece * jb.chunk, r1 = r0 + jb.chunk < jb.K ? r0 + jb.chunk : jb.K;
        float acc[4][2], w[8], vel[8];
        if (jb.kind == UPDATE) preload(net, run, jb, i0, j0, w, vel);
        tile_product(jb, i0, j0, r0, r1, acc, sm);
        const int mark_at = jb.kind == FORWARD ? 0 : jb.kind == DELTA ? 4 : 8;
        mark(net, mark_at);
        if (jb.splits > 1) {
            /* Leave this piece; the block that completes the tile sums all of them. */
            float *mine = net.partial + ((size_t)tile * jb.splits + piece) * TM * TN;
            for (int di = 0; di < 4; di++)
                *reinterpret_cast<float2 *>(&mine[(4 * ty + di) * TN + 2 * tx]) = make_float2(acc[di][0], acc[di][1]);
            __threadfence();
            __syncthreads();
            if (threadIdx.x == 0) sm.last = atomicAdd(&net.count[tile], 1u) == (unsigned)jb.splits - 1;
            __syncthreads();
            mark(net, mark_at + 1);
            if (!sm.last) continue;
            __threadfence();
            for (int di = 0; di < 4; di++) acc[di][0] = acc[di][1] = 0.0f;
            for (int p = 0; p < jb.splits; p++) {
                const float *piece_p = net.partial + ((size_t)tile * jb.splits + p) * TM * TN;
                for (int di = 0; di < 4; di++) {
                    const float2 v = __ldcg(reinterpret_cast<const float2 *>(&piece_p[(4 * ty + di) * TN + 2 * tx]));
                    acc[di][0] += v.x;
                    acc[di][1] += v.y;
                }
            }
            if (threadIdx.x == 0) net.count[tile] = 0;
        }
        epilogue(net, run, st, jb, i0, j0, acc, w, vel, sm);
        if (jb.kind == UPDATE && jb.layer == 1 && st.next_m > 0) carry_forward(net, run, st, i0, j0, sm, xs);
        mark(net, mark_at + 2);
    }
}

/* Copies params[off .. off + len) to shared memory at dst + off % 4, so both sides
   have the same alignment and the middle goes 16 bytes at a time; asynchronous
   (cp.async), every load in flight at once. The caller waits (bp_copy_wait) and
   synchronizes before reading. */
__device__ void copy_tail(float *dst, const float *params, int off, int len)
{
    const float *src = params + off;
    float *d = dst + off % 4;
    const int head = (4 - off % 4) % 4 < len ? (4 - off % 4) % 4 : len;
    const int quads = (len - head) / 4;
    for (int i = threadIdx.x; i < head; i += THREADS) d[i] = src[i];
    for (int i = threadIdx.x; i < quads; i += THREADS) bp_copy16(d + head + 4 * i, src + head + 4 * i);
    for (int i = head + 4 * quads + threadIdx.x; i < len; i += THREADS) d[i] = src[i];
    bp_copy_commit();
}

/* The rows phase: each block takes one sample at a time through layers T .. L
   forward, the loss, and back to delta^(T-1), with the tail's parameters copied
   to shared memory once per step (so no step of it waits on global memory) and
   the sample's activations in two buffers of row_width used in turn. a^l and
   delta^l go to global memory as well, for the updates (and the tiled backward
   phases). */
__device__ void rows_phase(const Net &net, const Run &run, const Step &st, float *smem)
{
    if ((int)blockIdx.x >= st.m) return;
    const int T = net.T, L = net.L, warp = threadIdx.x / 32, lane = threadIdx.x & 31;
    const float *P = smem + net.tail_off % 4; /* P[p - tail_off] is params[p] for the tail's p */
    float *in = smem + ((net.tail_len + 7) / 4 * 4), *out = in + net.row_width;
    __syncthreads(); /* the previous step is done with the copy */
    copy_tail(smem, run.params, net.tail_off, net.tail_len);
    for (int i = blockIdx.x; i < st.m; i += gridDim.x) {
        const int K0 = net.n[T - 1];
        __syncthreads(); /* the previous sample is done with the buffers */
        if (st.carried) { /* T = 2: a^1 from carry's pieces of z^1 */
            const int tn = (net.n[0] + TN - 1) / TN;
            for (int k = threadIdx.x; k < K0; k += THREADS) {
                const float *p = net.piece1 + ((size_t)(k / TM) * tn * run.batch + i) * TM + k % TM;
                float z = net.bias ? run.params[net.off_b[1] + k] : 0.0f;
#pragma unroll 8
                for (int q = 0; q < tn; q++) z += p[(size_t)q * run.batch * TM];
                z = bp_activate(net.hidden, z, net.slope);
                in[k] = z;
                net.act[1][(size_t)i * K0 + k] = z;
            }
        } else {
            for (int k = threadIdx.x; k < K0; k += THREADS)
                in[k] = T == 1 ? run.x[(size_t)st.rows[i] * K0 + k] : net.act[T - 1][(size_t)i * K0 + k];
        }
        bp_copy_wait();
        __syncthreads();
        mark(net, 12);
        /* Forward: each warp four units j at a time, its lanes along the inputs. */
        for (int l = T; l <= L; l++) {
            const int K = net.n[l - 1], N = net.n[l];
            const float *Wl = P + (net.off_w[l] - net.tail_off);
            for (int j0 = warp * 4; j0 < N; j0 += THREADS / 32 * 4) {
                float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                for (int k = lane; k < K; k += 32) {
                    const float x = in[k];
#pragma unroll
                    for (int q = 0; q < 4; q++)
                        if (j0 + q < N) s[q] += x * Wl[(j0 + q) * K + k];
                }
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    const float z = bp_warp_sum(s[q]);
                    if (lane == 0 && j0 + q < N) out[j0 + q] = z;
                }
            }
            __syncthreads();
            /* Bias and activation (the logits z^L keep just the bias). */
            for (int j = threadIdx.x; j < N; j += THREADS) {
                float z = out[j] + (net.bias ? P[net.off_b[l] - net.tail_off + j] : 0.0f);
                if (l < L) {
                    z = bp_activate(net.hidden, z, net.slope);
                    net.act[l][(size_t)i * N + j] = z;
                }
                out[j] = z;
            }
            __syncthreads();
            float *t = in;
            in = out;
            out = t;
        }
        mark(net, 13);
        /* The output layer by warp 0: z^L in `in`, delta^L into `out`. */
        const int NL = net.n[L];
        if (warp == 0) {
            const size_t sample = st.rows[i];
            const double l = bp_output_row(in, run.y + sample * NL, out, NL, net.output, net.loss, net.slope);
            if (lane == 0) net.row_loss[i] = l;
            __syncwarp();
            for (int j = lane; j < NL; j += 32) net.delta[L][(size_t)i * NL + j] = out[j];
        }
        __syncthreads();
        {
            float *t = in;
            in = out;
            out = t;
        }
        mark(net, 14);
        /* Backward: one thread per unit k of layer l-1. */
        for (int l = L; l >= T && l >= 2; l--) {
            const int K = net.n[l - 1], N = net.n[l];
            const float *Wl = P + (net.off_w[l] - net.tail_off);
            for (int k = threadIdx.x; k < K; k += THREADS) {
                const float a = net.act[l - 1][(size_t)i * K + k];
                float s = 0.0f;
#pragma unroll 4
                for (int j = 0; j < N; j++) s += in[j] * Wl[j * K + k];
                const float d = s * bp_derivative(net.hidden, a, a, net.slope);
                out[k] = d;
                net.delta[l - 1][(size_t)i * K + k] = d;
            }
            __syncthreads();
            float *t = in;
            in = out;
            out = t;
        }
        mark(net, 15);
    }
}

/* Asks the L2 cache for the next step's rows of x while this phase runs. */
__device__ void prefetch_rows(const Net &net, const Run &run, size_t first, int m)
{
    const int lines = (net.n[0] * (int)sizeof(float) + 127) / 128;
    const int total = m * lines;
    for (int e = blockIdx.x * THREADS + threadIdx.x; e < total; e += gridDim.x * THREADS) {
        const float *p = run.x + (size_t)run.order[first + e / lines] * net.n[0] + (e % lines) * 32;
        asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
    }
}


__global__ void __launch_bounds__(THREADS) fused_kernel(Net net, Run run)
{
    __shared__ Shared sm;
    extern __shared__ float4 dynamic[]; /* the rows phase's parameters and sample, the step's sample indices */
    float *rowbuf = reinterpret_cast<float *>(dynamic);
    unsigned *rows_sm = reinterpret_cast<unsigned *>(rowbuf + net.work_floats);
    cg::grid_group grid = cg::this_grid();
    const int L = net.L, T = net.T;
    const bool timing = net.profile && blockIdx.x == 0 && threadIdx.x == 0;
    unsigned long long t0 = 0;
    if (net.profile) { /* the cost of a barrier alone, over 64 of them */
        if (timing) t0 = now_ns();
        for (int i = 0; i < 64; i++) grid.sync();
        if (timing) {
            net.profile[PROFILE_SLOTS - 1] += now_ns() - t0;
            net.profile[PROFILE_SLOTS - 3] += 1;
        }
    }
    double total = 0.0; /* the run's loss, kept by thread 0 of block 0 */
    int carried = 0; /* this step's z^1 came from the step before */
    for (size_t s = 0; s < run.steps; s++) {
        const size_t first = run.start + s * run.batch;
        Step st;
        st.m = (int)(run.n - first < run.batch ? run.n - first : run.batch);
        st.scale = net.sum_reduction ? 1.0f : 1.0f / (float)st.m;
        const size_t next = first + run.batch;
        st.carried = carried;
        st.next_m = net.carry && s + 1 < run.steps ? (int)(run.n - next < run.batch ? run.n - next : run.batch) : 0;
        st.next_rows = rows_sm + run.batch;
        __syncthreads(); /* the last step is done with the indices */
        for (int i = threadIdx.x; i < st.m; i += THREADS) rows_sm[i] = run.order[first + i];
        for (int i = threadIdx.x; i < st.next_m; i += THREADS) rows_sm[run.batch + i] = run.order[next + i];
        __syncthreads();
        st.rows = rows_sm;
        int ph = 0;
        if (timing) phase_start = t0 = now_ns();
        auto phase_done = [&]() {
            grid.sync();
            if (timing) {
                const unsigned long long t = now_ns();
                net.profile[ph] += t - t0;
                phase_start = t0 = t;
            }
            ph++;
        };
        for (int l = carried ? 2 : 1; l < T; l++) {
            run_jobs(net, run, st, Phase{l, 0, 1, 0, 1, 0}, sm, rowbuf);
            phase_done();
        }
        if (s + 1 < run.steps) {
            prefetch_rows(net, run, next, (int)(run.n - next < run.batch ? run.n - next : run.batch));
        }
        rows_phase(net, run, st, rowbuf);
        phase_done();
        /* Backward through the tiled layers, with the updates that have become safe. */
        for (int l = T - 2; l >= 1; l--) {
            run_jobs(net, run, st, Phase{0, l, l + 2, l + 2 <= T - 1 ? l + 2 : 0, T, l == T - 2 ? L : 0}, sm, rowbuf);
            phase_done();
        }
        /* The step's losses, then the remaining updates. */
        if (blockIdx.x == 0 && threadIdx.x < 32) {
            double t = 0.0;
            for (int i = threadIdx.x; i < st.m; i += 32) t += net.row_loss[i];
            t = bp_warp_sum_d(t);
            if (threadIdx.x == 0) total += t;
        }
        run_jobs(net, run, st, T <= 2 ? Phase{0, 0, T, L, 1, T == 2 ? 1 : 0} : Phase{0, 0, 2, 2, 1, 1}, sm, rowbuf);
        phase_done();
        carried = st.next_m > 0;
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        *run.loss_sum += total;
        if (net.profile) net.profile[PROFILE_SLOTS - 2] += run.steps;
    }
}

/* Floats of the tail's parameters when it begins at layer T. */
double tail_floats(const bp_cuda_model *model, int T)
{
    double w = 0.0;
    for (int l = T; l <= (int)model->n_layers; l++)
        w += (double)model->sizes[l] * (double)(model->sizes[l - 1] + (model->bias ? 1 : 0));
    return w;
}

/* The tail's first layer T: the smallest l whose layers l .. L have at most
   TAIL_FLOATS parameters, but at least L (the output layer is always done per
   sample). The model's fused_tail forces it (tests use it to cover both kinds of
   phase on small networks). 0 when the tail does not fit in shared memory. */
int tail_of(const bp_cuda_model *model)
{
    const int L = (int)model->n_layers;
    int T = L;
    while (T > 1 && tail_floats(model, T - 1) <= TAIL_FLOATS) T--;
    if (model->fused_tail >= 1) T = model->fused_tail < L ? model->fused_tail : L;
    if (tail_floats(model, T) > TAIL_FLOATS) return 0;
    for (int l = T - 1; l <= L; l++)
        if (model->sizes[l] > (size_t)ROW_FLOATS) return 0;
    return T;
}

} // namespace

struct bp_cuda_fused {
    Net net;
    size_t capacity;
    int grid;
    size_t row_bytes;
};

int bp_cuda_fused_applies(const bp_cuda_model *model, size_t batch)
{
    if (model->path == BP_CUDA_PATH_PRODUCTS) return 0;
    /* TF32 is cuBLAS's tensor cores; the fused path is fp32. */
    if (model->tf32 || !tail_of(model) || batch > (size_t)MAX_BATCH) return 0;
    if (model->path == BP_CUDA_PATH_FUSED) return 1;
    double macs = 0.0;
    for (size_t l = 1; l <= model->n_layers; l++) macs += (double)model->sizes[l] * (double)model->sizes[l - 1];
    return 3.0 * macs * (double)batch <= FUSED_MAX_MACS;
}

/* Appends printf-style text at out[*used..len), never past the end. */
static void append(char *out, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(out + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

void bp_cuda_fused_report(const bp_cuda_fused *f, char *out, size_t len)
{
    if (!out || len == 0) return;
    out[0] = '\0';
    unsigned long long t[PROFILE_SLOTS];
    if (!f || !f->net.profile || cudaMemcpy(t, f->net.profile, sizeof t, cudaMemcpyDeviceToHost) != cudaSuccess ||
        !t[PROFILE_SLOTS - 2])
        return;
    const double steps = (double)t[PROFILE_SLOTS - 2], launches = (double)t[PROFILE_SLOTS - 3];
    size_t used = 0;
    append(out, len, &used, "fused profile (T = %d, %d blocks, %.0f steps in %.0f launches): a barrier %.2f us; phases:",
           f->net.T, f->grid, steps, launches, t[PROFILE_SLOTS - 1] / 64e3 / launches);
    for (int i = 0; i < PROFILE_PHASES && t[i]; i++) append(out, len, &used, " %.2f", t[i] / steps / 1e3);
    append(out, len, &used, " us; marks:");
    for (int i = 0; i < PROFILE_MARKS; i++) append(out, len, &used, " %d:%.2f", i, t[PROFILE_PHASES + i] / steps / 1e3);
}

void bp_cuda_fused_free(bp_cuda_fused *f)
{
    if (!f) return;
    cudaFree(f->net.profile);
    for (int l = 1; l <= f->net.L; l++) {
        cudaFree(f->net.act[l]);
        cudaFree(f->net.delta[l]);
    }
    cudaFree(f->net.piece1);
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
    const int T = tail_of(model);
    int width = 0;
    for (int l = T - 1; l <= (int)model->n_layers && T; l++)
        if ((int)model->sizes[l] > width) width = (int)model->sizes[l];
    const int tail_len = T ? (int)tail_floats(model, T) : 0;
    /* Carry (see carry_forward) needs a tiled first layer and room for a slice of the
       next batch; the model's fused_carry = 0 turns it off (to measure what it saves). */
    const int carry = T == 2 && batch <= (size_t)CARRY_BATCH && model->fused_carry;
    int work = (tail_len + 7) / 4 * 4 + 2 * width;
    if (carry && work < (int)batch * TN) work = (int)batch * TN;
    const size_t row_bytes = (size_t)work * sizeof(float) + 2 * batch * sizeof(unsigned);
    int dev = 0, coop = 0, sms = 0, per_sm = 0;
    if (!T || cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaFuncSetAttribute(fused_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)row_bytes) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_kernel, THREADS, row_bytes) != cudaSuccess ||
        !coop || per_sm < 1) {
        (void)cudaGetLastError();
        if (why && why_len) snprintf(why, why_len, "this device or network cannot run the fused kernel");
        return BP_ERR_UNSUPPORTED;
    }
    bp_cuda_fused *f = (bp_cuda_fused *)calloc(1, sizeof *f);
    if (!f) {
        if (why && why_len) snprintf(why, why_len, "out of memory");
        return BP_ERR_NOMEM;
    }
    /* One block per multiprocessor: each grid-wide barrier costs more with more blocks,
       and these steps are short of work, not of threads (the kernel's registers allow
       no more anyway). */
    f->grid = sms;
    f->row_bytes = row_bytes;
    Net &n = f->net;
    n.L = (int)model->n_layers;
    n.T = T;
    int off = 0;
    for (int l = 0; l <= n.L; l++) n.n[l] = (int)model->sizes[l];
    for (int l = 1; l <= n.L; l++) {
        n.off_w[l] = off;
        off += n.n[l] * n.n[l - 1];
        n.off_b[l] = off;
        if (model->bias) off += n.n[l];
    }
    n.bias = model->bias;
    n.row_width = width;
    n.tail_off = n.off_w[T];
    n.tail_len = tail_len;
    n.carry = carry;
    n.work_floats = work;
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
        ok = (l == n.L || cudaMalloc(&n.act[l], batch * n.n[l] * sizeof(float)) == cudaSuccess) &&
             cudaMalloc(&n.delta[l], batch * n.n[l] * sizeof(float)) == cudaSuccess;
    const size_t tm1 = (n.n[1] + TM - 1) / TM, tn1 = (n.n[0] + TN - 1) / TN;
    if (ok && carry) ok = cudaMalloc(&n.piece1, tm1 * tn1 * batch * TM * sizeof(float)) == cudaSuccess;
    ok = ok && cudaMalloc(&n.row_loss, batch * sizeof(double)) == cudaSuccess &&
         cudaMalloc(&n.partial, (size_t)f->grid * TM * TN * sizeof(float)) == cudaSuccess &&
         cudaMalloc(&n.count, (size_t)f->grid * sizeof(unsigned)) == cudaSuccess &&
         cudaMemset(n.count, 0, (size_t)f->grid * sizeof(unsigned)) == cudaSuccess;
    if (ok && model->profile)
        ok = cudaMalloc(&n.profile, PROFILE_SLOTS * sizeof(unsigned long long)) == cudaSuccess &&
             cudaMemset(n.profile, 0, PROFILE_SLOTS * sizeof(unsigned long long)) == cudaSuccess;
    if (!ok) {
        (void)cudaGetLastError();
        bp_cuda_fused_free(f);
        if (why && why_len) snprintf(why, why_len, "out of GPU memory for the fused path's work space");
        return BP_ERR_NOMEM;
    }
    *out = f;
    return BP_OK;
}

cudaError_t bp_cuda_fused_run(bp_cuda_fused *f, float *params, float *velocity, const float *x, const float *y,
                              const unsigned *order, size_t n, size_t start, size_t batch, size_t steps,
                              double *loss_sum, cudaStream_t s)
{
    if (steps == 0) return cudaSuccess;
    if (batch > f->capacity) return cudaErrorInvalidValue;
    Run run = {params, velocity, x, y, order, n, start, batch, steps, loss_sum};
    void *args[] = {&f->net, &run};
    return cudaLaunchCooperativeKernel((const void *)fused_kernel, dim3((unsigned)f->grid), dim3(THREADS), args,
                                       f->row_bytes, s);
}
