/*
 * trainer.cu - the GPU trainer of cuda.h: device buffers, the choice of path for
 * each run (the fused kernel of fused.cu for small networks at small batches, the
 * one-warp kernel for tiny ones at batch 1, else the products below), the
 * training step as cuBLASLt products and the kernels of kernels.cu, and the step
 * captured once as a CUDA graph (also sixteen steps in a row as one) and replayed
 * for every full batch. A small last layer is done by the head kernels instead of
 * products (kernels.cuh), and the weight updates of layers above the first run on a
 * second stream, overlapping the rest of the backward pass.
 *
 * Row-major m x n matrices (the CPU's layout) are column-major n x m ones to
 * cuBLAS, so each product of dense.c is issued transposed:
 *   forward   Z (m x n)  = A (m x k) W^T        ->  Z^T = W A^T:      gemm(T, N, n, m, k)
 *   backward  D' (m x k) = D (m x n) W          ->  D'^T = W^T D^T:   gemm(N, N, k, m, n)
 *   gradient  dW (n x k) = D^T (n x m) A        ->  dW^T = A^T D:     gemm(N, T, k, n, m)
 * The forward product adds the bias in its epilogue (and applies ReLU there when
 * that is the hidden activation), so z = W a + b costs one launch. Plain gradient
 * descent writes W straight from the gradient product (beta = 1 - lr wd,
 * alpha = -lr scale), as dense.c does on the CPU; momentum accumulates into the
 * velocity (beta = mu). The bias gradients (column sums of each delta) come in
 * pieces from the kernel that applies g'(z) to delta, and one kernel at the end of
 * the step sums them and updates every bias (and, with momentum, every parameter).
 *
 * A step reads its batch position from device memory and moves it on, so the
 * same captured graph trains on the next batch every time it is replayed: no
 * host work and no synchronization per step. The loss is summed on the device
 * and read once per bp_cuda_run.
 */
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"
#include "fused.cuh"
#include "kernels.cuh"

/* One planned cuBLASLt product: its descriptors and the algorithm chosen for them. */
struct lt_product {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
    int fused;                        /* forward: the epilogue adds the bias (and ReLU) */
};

/* Every product of a step on m samples. */
struct lt_plan {
    size_t m;
    lt_product fwd[BP_MAX_LAYERS + 1], dgrad[BP_MAX_LAYERS + 1], wgrad[BP_MAX_LAYERS + 1];
};

struct bp_cuda {
    bp_cuda_model model;
    int small;                        /* the one-warp tiny-network path applies (at batch 1) */
    int head;                         /* the products path may do the output layer with the head kernels */
    float *head_work;                 /* their pieces of the last layer's gradient */
    unsigned *head_count;             /* ... and the counters that find each column range's last piece */
    bp_cuda_fused *fused;             /* the fused path's work space (fused.cuh), made on first use */
    int fused_refused;                /* the device cannot run it: always the products */
    size_t off_w[BP_MAX_LAYERS + 1], off_b[BP_MAX_LAYERS + 1];
    size_t max_width;
    cudaStream_t stream;
    cudaStream_t side;                /* the weight updates that can overlap the rest of the backward pass */
    cudaEvent_t fork[BP_MAX_LAYERS + 1], done[BP_MAX_LAYERS + 1]; /* ... and their events (layers 2 .. L) */
    cublasLtHandle_t lt;
    void *blas_workspace;             /* given to cuBLASLt so graph capture never allocates */
    void *side_workspace;             /* ... one for each stream */
    float *params, *velocity;         /* device copies of the blocks */
    float *host_params, *host_velocity; /* the host blocks pinned with cudaHostRegister, or NULL */
    double *loss;                     /* the loss summed since the run began */
    unsigned long long *pos;          /* the next batch's first position in the epoch order */
    unsigned *order;                  /* the epoch's sample order, n entries */
    /* The data set, uploaded once: the host pointers, the shape and a sample of
       values identify it (a new data set at a freed one's address is not taken
       for it). */
    const float *host_x, *host_y;
    size_t n, n_in, n_out;
    float probe[64];
    float *x, *y;
    /* Work space for `capacity` samples: each hidden layer's a^l, z^L, delta^L,
       two hidden deltas, the gathered batch, the bias gradients' pieces. */
    size_t capacity;
    float *a[BP_MAX_LAYERS + 1];
    float *zL, *deltaL, *delta[2], *xb, *yb, *partial;
    bp_cuda_update_plan update;
    /* The products planned for two batch sizes (the full batch and an epoch's short
       last one), and the step captured for full batches. */
    lt_plan plans[2];
    cudaGraphExec_t graph, graph_run; /* one step; GRAPH_STEPS steps in a row */
    size_t graph_m;
    float *scratch;                   /* the output of products timed while planning */
    size_t scratch_len;
};

namespace {

const size_t BLAS_WORKSPACE = (size_t)32 << 20;
const size_t GRAPH_STEPS = 16; /* steps in the longer captured graph */
const int TUNE_CANDIDATES = 8;        /* cuBLASLt's best-ranked algorithms timed per product */
const size_t TUNE_FROM_BATCH = 256;  /* ... for batches of at least this many samples */

void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

#define CUDA_TRY(call)                                                                   \
    do {                                                                                 \
        cudaError_t e_ = (call);                                                         \
        if (e_ != cudaSuccess) {                                                         \
            say(why, why_len, "CUDA: %s failed: %s", #call, cudaGetErrorString(e_));     \
            return e_ == cudaErrorMemoryAllocation ? BP_ERR_NOMEM : BP_ERR_IO;           \
        }                                                                                \
    } while (0)

#define BLAS_TRY(call)                                                                   \
    do {                                                                                 \
        cublasStatus_t e_ = (call);                                                      \
        if (e_ != CUBLAS_STATUS_SUCCESS) {                                               \
            say(why, why_len, "cuBLASLt: %s failed: %s", #call, cublasLtGetStatusString(e_)); \
            return BP_ERR_IO;                                                            \
        }                                                                                \
    } while (0)

void destroy_product(lt_product *p)
{
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->c) cublasLtMatrixLayoutDestroy(p->c);
    memset(p, 0, sizeof *p);
}

void release_plan(lt_plan *p)
{
    for (size_t l = 0; l <= BP_MAX_LAYERS; l++) {
        destroy_product(&p->fwd[l]);
        destroy_product(&p->dgrad[l]);
        destroy_product(&p->wgrad[l]);
    }
    p->m = 0;
}

void drop_graphs(bp_cuda *g)
{
    if (g->graph) cudaGraphExecDestroy(g->graph);
    if (g->graph_run) cudaGraphExecDestroy(g->graph_run);
    g->graph = g->graph_run = NULL;
    g->graph_m = 0;
}

void release_plans(bp_cuda *g)
{
    release_plan(&g->plans[0]);
    release_plan(&g->plans[1]);
    drop_graphs(g);
}

/* The largest power of two (up to 256) that divides the address: cuBLASLt picks
   kernels for the alignment it is told the operands have. */
uint32_t alignment(const void *p)
{
    uint32_t a = 256;
    while (a > 4 && (uintptr_t)p % a) a /= 2;
    return a;
}

/* The fastest of cuBLASLt's candidate algorithms for a product, timed on the
   device: its heuristics rank them without running them, and for the medium
   products of these networks their first choice is often not the fastest
   (784-256-128-10 at batch 1024, H100: 161-165 us a step with the first choices,
   114-128 us with the fastest). Each candidate runs 3 times untimed and 10 timed,
   writing into scratch space so no parameter changes; the heuristics' first choice
   stands when timing is impossible. Picked once per batch size; two runs can pick
   differently and so differ in the last bits. Below TUNE_FROM_BATCH samples the
   heuristics' choice stands: back-to-back timing of a tiny product says little
   about it inside a chain of dependent launches (batch 64: 60-61 us a step with
   the first choices, 66 us with the "fastest"). */
cublasLtMatmulAlgo_t fastest(bp_cuda *g, const lt_product *p, const cublasLtMatmulHeuristicResult_t *found, int count,
                             const void *A, const void *B, size_t out_len, size_t batch)
{
    cublasLtMatmulAlgo_t best = found[0].algo;
    if (count < 2 || batch < TUNE_FROM_BATCH) return best;
    if (out_len > g->scratch_len) {
        cudaFree(g->scratch);
        g->scratch = NULL;
        g->scratch_len = 0;
        if (cudaMalloc(&g->scratch, out_len * sizeof(float)) != cudaSuccess) {
            (void)cudaGetLastError();
            return best;
        }
        g->scratch_len = out_len;
        if (cudaMemset(g->scratch, 0, out_len * sizeof(float)) != cudaSuccess) return best;
    }
    cudaEvent_t t0 = NULL, t1 = NULL;
    if (cudaEventCreate(&t0) == cudaSuccess && cudaEventCreate(&t1) == cudaSuccess) {
        float best_ms = 1e30f;
        const float one = 1.0f, zero = 0.0f;
        for (int i = 0; i < count; i++) {
            if (found[i].state != CUBLAS_STATUS_SUCCESS) continue;
            bool ok = true;
            for (int r = 0; r < 13 && ok; r++) {
                if (r == 3) ok = cudaEventRecord(t0, g->stream) == cudaSuccess;
                ok = ok && cublasLtMatmul(g->lt, p->desc, &one, A, p->a, B, p->b, &zero, g->scratch, p->c, g->scratch,
                                          p->c, &found[i].algo, g->blas_workspace, BLAS_WORKSPACE,
                                          g->stream) == CUBLAS_STATUS_SUCCESS;
            }
            float ms = 0.0f;
            if (ok && cudaEventRecord(t1, g->stream) == cudaSuccess && cudaEventSynchronize(t1) == cudaSuccess &&
                cudaEventElapsedTime(&ms, t0, t1) == cudaSuccess && ms < best_ms) {
                best_ms = ms;
                best = found[i].algo;
            }
        }
    }
    if (t0) cudaEventDestroy(t0);
    if (t1) cudaEventDestroy(t1);
    (void)cudaGetLastError(); /* a candidate that failed to run is simply not picked */
    return best;
}

/* Plans C (rows x cols, column-major, ld rows) = op(A) op(B) with an epilogue: the
   descriptors and the algorithm cuBLASLt's heuristics rank first for these shapes,
   alignments and the workspace. Returns 0 when cuBLASLt has no algorithm for it
   (an epilogue it cannot fuse here, say), so the caller can plan it another way. */
int plan_product(bp_cuda *g, lt_product *p, cublasOperation_t ta, cublasOperation_t tb, size_t rows, size_t cols,
                 size_t inner, const void *A, const void *B, const void *C, cublasLtEpilogue_t epilogue,
                 const float *bias, size_t batch)
{
    destroy_product(p);
    const cublasComputeType_t compute = g->model.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const uint64_t ar = ta == CUBLAS_OP_N ? rows : inner, ac = ta == CUBLAS_OP_N ? inner : rows;
    const uint64_t br = tb == CUBLAS_OP_N ? inner : cols, bc = tb == CUBLAS_OP_N ? cols : inner;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t found[TUNE_CANDIDATES];
    int count = 0;
    const uint64_t ws = BLAS_WORKSPACE;
    const uint32_t align_a = alignment(A), align_b = alignment(B), align_c = alignment(C);
    if (cublasLtMatmulDescCreate(&p->desc, compute, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue) ==
            CUBLAS_STATUS_SUCCESS &&
        (!bias || cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) ==
                      CUBLAS_STATUS_SUCCESS) &&
        cublasLtMatrixLayoutCreate(&p->a, CUDA_R_32F, ar, ac, (int64_t)ar) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&p->b, CUDA_R_32F, br, bc, (int64_t)br) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&p->c, CUDA_R_32F, rows, cols, (int64_t)rows) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) ==
            CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                             sizeof align_a) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                             sizeof align_b) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c,
                                             sizeof align_c) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c,
                                             sizeof align_c) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->a, p->b, p->c, p->c, pref, TUNE_CANDIDATES, found,
                                       &count) == CUBLAS_STATUS_SUCCESS &&
        count > 0 && found[0].state == CUBLAS_STATUS_SUCCESS) {
        p->algo = fastest(g, p, found, count, A, B, rows * cols, batch);
    } else {
        count = 0;
        destroy_product(p);
    }
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    return count > 0;
}

/* Whether a step on m samples does the last layer with the head kernels. */
bool head_for(const bp_cuda *g, size_t m)
{
    return g->head && m <= BP_CUDA_HEAD_MAX_BATCH;
}

/* The products of a step on m samples, planned on first use (the buffers are in
   place); `*out` stays valid until a third batch size comes. */
bp_status plan(bp_cuda *g, size_t m, lt_plan **out, char *why, size_t why_len)
{
    for (lt_plan &p : g->plans)
        if (p.m == m) {
            *out = &p;
            return BP_OK;
        }
    /* Replace the plan the captured graph does not use. */
    lt_plan *pl = g->graph && g->plans[0].m == g->graph_m ? &g->plans[1] : &g->plans[0];
    release_plan(pl);
    const bp_cuda_model *md = &g->model;
    const size_t L = md->n_layers;
    for (size_t l = 1; l <= L - (head_for(g, m) ? 1 : 0); l++) { /* (the head's layer has no products) */
        const size_t k = md->sizes[l - 1], n = md->sizes[l];
        const float *W = g->params + g->off_w[l], *b = md->bias ? g->params + g->off_b[l] : NULL;
        float *Z = l == L ? g->zL : g->a[l];
        /* Forward: the bias (and ReLU, for a ReLU hidden layer) in the epilogue when the
           bias is aligned for it; else a plain product and the kernel adds it. */
        const int relu = l < L && md->hidden == BP_ACT_RELU;
        const int fuse = !b || (uintptr_t)b % 16 == 0;
        cublasLtEpilogue_t e = !fuse ? CUBLASLT_EPILOGUE_DEFAULT
                               : b   ? (relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                     : (relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
        pl->fwd[l].fused = 0;
        if (fuse && plan_product(g, &pl->fwd[l], CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, W, g->a[l - 1], Z, e, b, m))
            pl->fwd[l].fused = 1;
        else if (!plan_product(g, &pl->fwd[l], CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, W, g->a[l - 1], Z,
                               CUBLASLT_EPILOGUE_DEFAULT, NULL, m)) {
            say(why, why_len, "cuBLASLt has no algorithm for the forward product of layer %zu", l);
            return BP_ERR_UNSUPPORTED;
        }
        if (l > 1 && !plan_product(g, &pl->dgrad[l], CUBLAS_OP_N, CUBLAS_OP_N, k, m, n, W, g->delta[0], g->delta[1],
                                   CUBLASLT_EPILOGUE_DEFAULT, NULL, m)) {
            say(why, why_len, "cuBLASLt has no algorithm for the backward product of layer %zu", l);
            return BP_ERR_UNSUPPORTED;
        }
        float *out = md->momentum ? g->velocity + g->off_w[l] : g->params + g->off_w[l];
        const float *D = l == L ? g->deltaL : g->delta[0]; /* (delta[1] is as large and as aligned) */
        if (!plan_product(g, &pl->wgrad[l], CUBLAS_OP_N, CUBLAS_OP_T, k, n, m, g->a[l - 1], D, out,
                          CUBLASLT_EPILOGUE_DEFAULT, NULL, m)) {
            say(why, why_len, "cuBLASLt has no algorithm for the gradient product of layer %zu", l);
            return BP_ERR_UNSUPPORTED;
        }
    }
    pl->m = m;
    *out = pl;
    return BP_OK;
}

/* Issues a planned product D = alpha op(A) op(B) + beta C with C = D, on the main
   stream or (side) on the side stream with its own workspace. */
cublasStatus_t run_product(bp_cuda *g, const lt_product *p, float alpha, const float *A, const float *B, float beta,
                           float *C, bool side = false)
{
    return cublasLtMatmul(g->lt, p->desc, &alpha, A, p->a, B, p->b, &beta, C, p->c, C, p->c, &p->algo,
                          side ? g->side_workspace : g->blas_workspace, BLAS_WORKSPACE, side ? g->side : g->stream);
}

void release_work(bp_cuda *g)
{
    release_plans(g); /* the plans point into these buffers */
    g->a[0] = NULL;  /* the gathered batch, xb, freed below */
    for (size_t l = 1; l <= g->model.n_layers; l++) {
        cudaFree(g->a[l]);
        g->a[l] = NULL;
    }
    float **bufs[] = {&g->zL, &g->deltaL, &g->delta[0], &g->delta[1], &g->xb, &g->yb, &g->partial};
    for (float **b : bufs) {
        cudaFree(*b);
        *b = NULL;
    }
    g->capacity = 0;
}

/* The pieces of layer l's bias gradient in a step on m samples. */
size_t pieces(const bp_cuda *g, size_t l, size_t m)
{
    if (head_for(g, m) && l + 1 >= g->model.n_layers) return bp_cuda_head_pieces(m);
    return (m + BP_CUDA_CHUNK - 1) / BP_CUDA_CHUNK;
}

/* Work space for m samples (a^0 is the gathered batch itself). */
bp_status reserve(bp_cuda *g, size_t m, char *why, size_t why_len)
{
    if (m <= g->capacity) return BP_OK;
    release_work(g);
    const bp_cuda_model *md = &g->model;
    const size_t L = md->n_layers;
    for (size_t l = 1; l < L; l++) CUDA_TRY(cudaMalloc(&g->a[l], m * md->sizes[l] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->zL, m * md->sizes[L] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->deltaL, m * md->sizes[L] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->delta[0], m * g->max_width * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->delta[1], m * g->max_width * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->xb, m * md->sizes[0] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->yb, m * md->sizes[L] * sizeof(float)));
    /* The bias gradients' pieces: layer l's pieces x n_l block at update.off_p[l], a
       piece being the column sums over BP_CUDA_CHUNK rows (over one of the head's
       pieces for the layers whose delta the head finishes). */
    bp_cuda_update_plan *u = &g->update;
    size_t floats = 0;
    u->n_bias = 0;
    for (size_t l = 1; l <= L; l++) { /* (room for either kind of piece: a short batch may take the head) */
        u->off_p[l] = (unsigned)floats;
        floats += ((m + BP_CUDA_CHUNK - 1) / BP_CUDA_CHUNK + BP_CUDA_HEAD_SPLITS) * u->width[l];
        u->n_bias += u->width[l];
    }
    CUDA_TRY(cudaMalloc(&g->partial, (floats + 1) * sizeof(float)));
    g->a[0] = g->xb;
    g->capacity = m;
    return BP_OK;
}

/* One training step on m samples, issued on the stream (also while capturing). */
bp_status step(bp_cuda *g, size_t m, char *why, size_t why_len)
{
    const bp_cuda_model *md = &g->model;
    const size_t L = md->n_layers;
    cudaStream_t s = g->stream;
    lt_plan *pl;
    bp_status st = plan(g, m, &pl, why, why_len);
    if (st != BP_OK) return st;
    bp_cuda_gather(g->x, g->y, g->order, g->pos, m, g->n_in, g->n_out, g->xb, g->yb, s);
    CUDA_TRY(cudaGetLastError());
    float *partial = md->bias ? g->partial : NULL;
    /* Forward (with the head, its rows kernel does the last layer's, the loss and delta^L). */
    for (size_t l = 1; l <= L; l++) {
        const size_t n = md->sizes[l];
        if (l == L && head_for(g, m)) {
            bp_cuda_head_rows(g->a[L - 1], g->params + g->off_w[L], md->bias ? g->params + g->off_b[L] : NULL, g->yb,
                              g->deltaL, m, md->sizes[L - 1], n, md->output, md->loss, md->leaky_slope, g->loss, s);
            CUDA_TRY(cudaGetLastError());
            break;
        }
        const float *W = g->params + g->off_w[l], *b = md->bias ? g->params + g->off_b[l] : NULL;
        float *Z = l == L ? g->zL : g->a[l];
        const int fused = pl->fwd[l].fused;
        BLAS_TRY(run_product(g, &pl->fwd[l], 1.0f, W, g->a[l - 1], 0.0f, Z));
        if (l < L) {
            const int done = md->hidden == BP_ACT_IDENTITY || (fused && md->hidden == BP_ACT_RELU);
            if ((b && !fused) || !done)
                bp_cuda_bias_activation(Z, fused ? NULL : b, m, n, md->hidden, md->leaky_slope, s);
        } else {
            bp_cuda_output_layer(Z, fused ? NULL : b, g->yb, g->deltaL, m, n, md->output, md->loss, md->leaky_slope,
                                 g->loss, partial ? partial + g->update.off_p[L] : NULL, s);
        }
        CUDA_TRY(cudaGetLastError());
    }
    /* Backward: delta^(l-1) from W^l before the gradient product changes W^l; the
       bias gradients in pieces as each delta is finished (delta^L's by the output
       layer's kernel). Once delta^(l-1) is out, nothing else in the step reads W^l, so
       W^l's update (l > 1) goes to the side stream and overlaps the layers below: their
       products leave most of the GPU idle at batches of a few hundred. The main stream
       waits for it before the next product that writes the delta buffer it reads, and
       at the end of the step. */
    const float scale = md->reduction == BP_REDUCE_SUM ? 1.0f : 1.0f / (float)m;
    const float *D = g->deltaL;
    int next = 0;
    size_t reader[2] = {0, 0}; /* the layer whose update on the side stream reads delta[i] (0: none) */
    size_t last_side = 0;      /* the last layer updated on the side stream (0: none) */
    auto to_side = [&](size_t l) -> cudaError_t {
        cudaError_t e = cudaEventRecord(g->fork[l], s);
        return e != cudaSuccess ? e : cudaStreamWaitEvent(g->side, g->fork[l], 0);
    };
    for (size_t l = L; l >= 1; l--) {
        const size_t k = md->sizes[l - 1];
        const float *W = g->params + g->off_w[l], *A = g->a[l - 1];
        float *Dp = g->delta[next];
        float *out = md->momentum ? g->velocity + g->off_w[l] : g->params + g->off_w[l];
        const float alpha = md->momentum ? scale : -md->lr * scale;
        const float beta = md->momentum ? md->mu : 1.0f - md->lr * md->weight_decay;
        if (l == L && head_for(g, m)) { /* delta^(L-1), its bias pieces and W^L's update */
            bp_cuda_head_update(out, alpha, beta, W, D, A, l > 1 ? Dp : NULL, m, k, md->sizes[l], md->hidden,
                                md->leaky_slope, partial ? partial + g->update.off_p[l] : NULL,
                                partial && l > 1 ? partial + g->update.off_p[l - 1] : NULL, g->head_work,
                                g->head_count, s);
            CUDA_TRY(cudaGetLastError());
            D = Dp;
            next = 1 - next;
            continue;
        }
        if (l > 1) {
            if (reader[next]) CUDA_TRY(cudaStreamWaitEvent(s, g->done[reader[next]], 0));
            reader[next] = 0;
            BLAS_TRY(run_product(g, &pl->dgrad[l], 1.0f, W, D, 0.0f, Dp));
            bp_cuda_delta_bias(Dp, g->a[l - 1], m, k, md->hidden, md->leaky_slope,
                               partial ? partial + g->update.off_p[l - 1] : NULL, s);
            CUDA_TRY(cudaGetLastError());
        }
        if (l > 1) {
            CUDA_TRY(to_side(l));
            BLAS_TRY(run_product(g, &pl->wgrad[l], alpha, A, D, beta, out, true));
            CUDA_TRY(cudaEventRecord(g->done[l], g->side));
            last_side = l;
            if (D == g->delta[0]) reader[0] = l;
            if (D == g->delta[1]) reader[1] = l;
        } else {
            BLAS_TRY(run_product(g, &pl->wgrad[l], alpha, A, D, beta, out));
        }
        D = Dp;
        next = 1 - next;
    }
    if (last_side) CUDA_TRY(cudaStreamWaitEvent(s, g->done[last_side], 0));
    g->update.scale = scale;
    for (size_t l = 1; l <= L; l++) g->update.pieces[l] = (unsigned)pieces(g, l, m);
    bp_cuda_update_biases(&g->update, g->params, g->velocity, md->n_params, g->partial, g->pos, m, s);
    CUDA_TRY(cudaGetLastError());
    return BP_OK;
}

/* `count` steps on m samples captured as one graph (each step gathers the batch at
   the device-side position the step before it moved on to). */
bp_status capture_steps(bp_cuda *g, size_t m, size_t count, cudaGraphExec_t *exec, char *why, size_t why_len)
{
    cudaGraph_t graph;
    CUDA_TRY(cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal));
    bp_status st = BP_OK;
    for (size_t i = 0; i < count && st == BP_OK; i++) st = step(g, m, why, why_len);
    cudaError_t e = cudaStreamEndCapture(g->stream, &graph);
    if (st != BP_OK) {
        if (e == cudaSuccess) cudaGraphDestroy(graph);
        return st;
    }
    CUDA_TRY(e);
    e = cudaGraphInstantiate(exec, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_TRY(e);
    return BP_OK;
}

/* The graphs for batches of m (one step, and GRAPH_STEPS in a row), captured once and
   kept: replaying the longer one saves the gap between graph launches. */
bp_status capture(bp_cuda *g, size_t m, char *why, size_t why_len)
{
    if (g->graph && g->graph_m == m) return BP_OK;
    drop_graphs(g);
    /* Planning asks cuBLASLt's heuristics and times candidates, which must not happen
       while capturing. */
    lt_plan *pl;
    bp_status st = plan(g, m, &pl, why, why_len);
    if (st == BP_OK) st = capture_steps(g, m, 1, &g->graph, why, why_len);
    if (st == BP_OK) st = capture_steps(g, m, GRAPH_STEPS, &g->graph_run, why, why_len);
    if (st != BP_OK) {
        drop_graphs(g);
        return st;
    }
    g->graph_m = m;
    return BP_OK;
}

/* 32 values of x and 32 of y spread over the arrays. */
void take_probe(const float *x, const float *y, size_t nx, size_t ny, float probe[64])
{
    for (size_t i = 0; i < 32; i++) {
        probe[i] = x[(nx - 1) * i / 31];
        probe[32 + i] = y[(ny - 1) * i / 31];
    }
}

/* The data set on the device, uploaded when these host arrays are seen first. */
bp_status upload_data(bp_cuda *g, const float *x, const float *y, size_t n, size_t n_in, size_t n_out, char *why,
                      size_t why_len)
{
    float probe[64];
    take_probe(x, y, n * n_in, n * n_out, probe);
    if (g->host_x == x && g->host_y == y && g->n == n && g->n_in == n_in && g->n_out == n_out &&
        memcmp(probe, g->probe, sizeof probe) == 0)
        return BP_OK;
    /* The captured steps point at the old buffers. */
    drop_graphs(g);
    cudaFree(g->x);
    cudaFree(g->y);
    cudaFree(g->order);
    g->x = g->y = NULL;
    g->order = NULL;
    g->host_x = g->host_y = NULL;
    CUDA_TRY(cudaMalloc(&g->x, n * n_in * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->y, n * n_out * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->order, n * sizeof(unsigned)));
    CUDA_TRY(cudaMemcpy(g->x, x, n * n_in * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_TRY(cudaMemcpy(g->y, y, n * n_out * sizeof(float), cudaMemcpyHostToDevice));
    g->host_x = x;
    g->host_y = y;
    memcpy(g->probe, probe, sizeof probe);
    g->n = n;
    g->n_in = n_in;
    g->n_out = n_out;
    return BP_OK;
}

/* Page-locks the host block the parameters (or velocities) are copied to and from at
   every run, so those copies go at the bus's speed (several times pageable memory's).
   Best effort: where it is refused the copies are merely slower. */
void pin(float **pinned, float *host, size_t bytes)
{
    if (*pinned == host) return;
    if (*pinned) cudaHostUnregister(*pinned);
    *pinned = NULL;
    if (cudaHostRegister(host, bytes, cudaHostRegisterDefault) == cudaSuccess) *pinned = host;
    else (void)cudaGetLastError(); /* clear the refusal, which is not an error of ours */
}

/* Whether this run takes the fused path (fused.cuh), its work space made ready for
   batches of m. A device that cannot run it is remembered and gets the products,
   unless the options force the fused path: then that is an error, so a test of the
   fused path never passes on the other one. */
bp_status pick_fused(bp_cuda *g, size_t m, bool *use, char *why, size_t why_len)
{
    const bool forced = g->model.path == BP_CUDA_PATH_FUSED;
    *use = false;
    if (!bp_cuda_fused_applies(&g->model, m)) return BP_OK;
    if (g->fused_refused && !forced) return BP_OK;
    if (bp_cuda_fused_capacity(g->fused) < m) {
        bp_cuda_fused_free(g->fused);
        g->fused = NULL;
        char reason[160] = "";
        bp_status st = bp_cuda_fused_create(&g->model, m, &g->fused, reason, sizeof reason);
        if (st != BP_OK) {
            g->fused_refused = 1;
            if (!forced) return BP_OK;
            say(why, why_len, "the fused path was asked for, but %s", reason);
            return st;
        }
    }
    *use = true;
    return BP_OK;
}

} // namespace

extern "C" int bp_cuda_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
    return count;
}

extern "C" bp_status bp_cuda_create(const bp_cuda_model *model, bp_cuda **out, bp_error *err)
{
    char buf[256] = "";
    char *why = buf;
    size_t why_len = sizeof buf;
    *out = NULL;
    bp_status st = BP_OK;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        say(why, why_len, "no CUDA device is available (%s)",
            e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        st = BP_ERR_UNSUPPORTED;
    } else if (model->n_params >= ((size_t)1 << 31) || model->sizes[0] >= ((size_t)1 << 31)) {
        say(why, why_len, "the network is too large for the CUDA path (2^31 parameters or more)");
        st = BP_ERR_UNSUPPORTED;
    }
    bp_cuda *g = NULL;
    if (st == BP_OK) {
        g = (bp_cuda *)calloc(1, sizeof *g);
        if (!g) {
            say(why, why_len, "out of memory");
            st = BP_ERR_NOMEM;
        }
    }
    if (st == BP_OK) {
        g->model = *model;
        g->small = bp_cuda_small_applies(model);
        const size_t L = model->n_layers;
        g->head = bp_cuda_head_applies(model->sizes[L - 1], model->sizes[L]) && model->head;
        size_t off = 0;
        for (size_t l = 1; l <= model->n_layers; l++) {
            g->off_w[l] = off;
            off += model->sizes[l] * model->sizes[l - 1];
            g->off_b[l] = off;
            if (model->bias) off += model->sizes[l];
        }
        for (size_t l = 0; l <= model->n_layers; l++)
            if (model->sizes[l] > g->max_width) g->max_width = model->sizes[l];
        bp_cuda_update_plan *u = &g->update;
        u->n_layers = (unsigned)model->n_layers;
        for (size_t l = 1; l <= model->n_layers; l++) {
            u->width[l] = (unsigned)model->sizes[l];
            u->off_b[l] = (unsigned)g->off_b[l];
        }
        u->momentum = model->momentum;
        u->bias = model->bias;
        u->lr = model->lr;
        u->mu = model->mu;
        u->keep = 1.0f - model->lr * model->weight_decay;
        u->weight_decay = model->weight_decay;
        st = [&]() -> bp_status {
            CUDA_TRY(cudaSetDevice(0));
            CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
            CUDA_TRY(cudaStreamCreateWithFlags(&g->side, cudaStreamNonBlocking));
            for (size_t l = 2; l <= model->n_layers; l++) {
                CUDA_TRY(cudaEventCreateWithFlags(&g->fork[l], cudaEventDisableTiming));
                CUDA_TRY(cudaEventCreateWithFlags(&g->done[l], cudaEventDisableTiming));
            }
            BLAS_TRY(cublasLtCreate(&g->lt));
            CUDA_TRY(cudaMalloc(&g->blas_workspace, BLAS_WORKSPACE));
            CUDA_TRY(cudaMalloc(&g->side_workspace, BLAS_WORKSPACE));
            CUDA_TRY(cudaMalloc(&g->params, model->n_params * sizeof(float)));
            if (model->momentum) CUDA_TRY(cudaMalloc(&g->velocity, model->n_params * sizeof(float)));
            CUDA_TRY(cudaMalloc(&g->loss, sizeof(double)));
            CUDA_TRY(cudaMalloc(&g->pos, sizeof(unsigned long long)));
            if (g->head) {
                const size_t k = model->sizes[L - 1], n = model->sizes[L], ranges = (k + 31) / 32;
                CUDA_TRY(cudaMalloc(&g->head_work, BP_CUDA_HEAD_SPLITS * n * k * sizeof(float)));
                CUDA_TRY(cudaMalloc(&g->head_count, ranges * sizeof(unsigned)));
                CUDA_TRY(cudaMemset(g->head_count, 0, ranges * sizeof(unsigned)));
            }
            return BP_OK;
        }();
    }
    if (st != BP_OK) {
        bp_cuda_free(g);
        if (err) {
            err->status = st;
            snprintf(err->message, sizeof err->message, "%s", buf);
        }
        return st;
    }
    *out = g;
    return BP_OK;
}

extern "C" void bp_cuda_free(bp_cuda *g)
{
    if (!g) return;
    release_work(g);
    bp_cuda_fused_free(g->fused);
    cudaFree(g->x);
    cudaFree(g->y);
    cudaFree(g->order);
    cudaFree(g->params);
    cudaFree(g->velocity);
    cudaFree(g->loss);
    cudaFree(g->pos);
    cudaFree(g->head_work);
    cudaFree(g->head_count);
    if (g->lt) cublasLtDestroy(g->lt);
    cudaFree(g->scratch);
    cudaFree(g->blas_workspace);
    cudaFree(g->side_workspace);
    for (size_t l = 2; l <= g->model.n_layers; l++) {
        if (g->fork[l]) cudaEventDestroy(g->fork[l]);
        if (g->done[l]) cudaEventDestroy(g->done[l]);
    }
    if (g->side) cudaStreamDestroy(g->side);
    if (g->host_params) cudaHostUnregister(g->host_params);
    if (g->host_velocity) cudaHostUnregister(g->host_velocity);
    if (g->stream) cudaStreamDestroy(g->stream);
    free(g);
}

extern "C" bp_status bp_cuda_run(bp_cuda *g, float *params, float *velocity, const float *x, const float *y,
                                 size_t n, size_t n_in, size_t n_out, const size_t *order, size_t start,
                                 size_t batch, size_t max_steps, bp_cuda_result *res, char *why,
                                 size_t why_len)
{
    if (why && why_len) why[0] = '\0';
    memset(res, 0, sizeof *res);
    if (n == 0 || start >= n || batch == 0) return BP_OK;
    if (n >= ((size_t)1 << 32) || n_in != g->model.sizes[0] || n_out != g->model.sizes[g->model.n_layers]) {
        say(why, why_len, "the data set does not fit the CUDA path (2^32 samples or more, or other widths)");
        return BP_ERR_ARG;
    }
    bp_status st = upload_data(g, x, y, n, n_in, n_out, why, why_len);
    if (st != BP_OK) return st;
    /* This epoch's order (as 32-bit indices), the parameters, the counters. */
    unsigned *ord = (unsigned *)malloc(n * sizeof(unsigned));
    if (!ord) {
        say(why, why_len, "out of memory");
        return BP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) ord[i] = (unsigned)order[i];
    cudaError_t e = cudaMemcpyAsync(g->order, ord, n * sizeof(unsigned), cudaMemcpyHostToDevice, g->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(g->stream);
    free(ord);
    CUDA_TRY(e);
    const size_t bytes = g->model.n_params * sizeof(float);
    pin(&g->host_params, params, bytes);
    if (g->model.momentum) pin(&g->host_velocity, velocity, bytes);
    CUDA_TRY(cudaMemcpyAsync(g->params, params, bytes, cudaMemcpyHostToDevice, g->stream));
    if (g->model.momentum) CUDA_TRY(cudaMemcpyAsync(g->velocity, velocity, bytes, cudaMemcpyHostToDevice, g->stream));
    unsigned long long pos = start;
    CUDA_TRY(cudaMemcpyAsync(g->pos, &pos, sizeof pos, cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaMemsetAsync(g->loss, 0, sizeof(double), g->stream));

    size_t at = start, steps = 0;
    bool fused = false;
    if (batch == 1 && g->small) {
        /* Tiny network, one sample per step: the whole run in one kernel. */
        size_t count = n - start;
        if (max_steps && count > max_steps) count = max_steps;
        bp_cuda_small_sgd(&g->model, g->params, g->x, g->y, g->order, start, count, g->loss, g->stream);
        CUDA_TRY(cudaGetLastError());
        at += count;
        steps = count;
    } else if ((st = pick_fused(g, batch < n ? batch : n, &fused, why, why_len)) != BP_OK) {
        return st;
    } else if (fused) {
        /* Small network, small batch: the whole run in one cooperative kernel. */
        size_t count = (n - start + batch - 1) / batch;
        if (max_steps && count > max_steps) count = max_steps;
        CUDA_TRY(bp_cuda_fused_run(g->fused, g->params, g->velocity, g->x, g->y, g->order, n, start, batch, count,
                                   g->loss, g->stream));
        at = start + count * batch < n ? start + count * batch : n;
        steps = count;
    } else {
        st = reserve(g, batch < n ? batch : n, why, why_len);
        if (st != BP_OK) return st;
        while (at < n && (max_steps == 0 || steps < max_steps)) {
            size_t m = n - at < batch ? n - at : batch;
            if (m == batch) {
                st = capture(g, m, why, why_len);
                if (st != BP_OK) return st;
                if (n - at >= GRAPH_STEPS * batch && (max_steps == 0 || max_steps - steps >= GRAPH_STEPS)) {
                    CUDA_TRY(cudaGraphLaunch(g->graph_run, g->stream));
                    at += GRAPH_STEPS * batch;
                    steps += GRAPH_STEPS;
                    continue;
                }
                CUDA_TRY(cudaGraphLaunch(g->graph, g->stream));
            } else {
                st = step(g, m, why, why_len); /* the short last batch, issued directly */
                if (st != BP_OK) return st;
            }
            at += m;
            steps++;
        }
    }
    double loss = 0.0;
    CUDA_TRY(cudaMemcpyAsync(params, g->params, bytes, cudaMemcpyDeviceToHost, g->stream));
    if (g->model.momentum) CUDA_TRY(cudaMemcpyAsync(velocity, g->velocity, bytes, cudaMemcpyDeviceToHost, g->stream));
    CUDA_TRY(cudaMemcpyAsync(&loss, g->loss, sizeof loss, cudaMemcpyDeviceToHost, g->stream));
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    res->steps = steps;
    res->samples = at - start;
    res->loss_sum = loss;
    if (fused && g->model.profile) bp_cuda_fused_report(g->fused, why, why_len);
    return BP_OK;
}
