/*
 * trainer.cu - the GPU trainer of cuda.h: device buffers, the training step
 * as cuBLAS products and the kernels of kernels.cu, and the step captured once
 * as a CUDA graph and replayed for every full batch.
 *
 * Row-major m x n matrices (the CPU's layout) are column-major n x m ones to
 * cuBLAS, so each product of dense.c is issued transposed:
 *   forward   Z (m x n)  = A (m x k) W^T        ->  Z^T = W A^T:      gemm(T, N, n, m, k)
 *   backward  D' (m x k) = D (m x n) W          ->  D'^T = W^T D^T:   gemm(N, N, k, m, n)
 *   gradient  dW (n x k) = D^T (n x m) A        ->  dW^T = A^T D:     gemm(N, T, k, n, m)
 * and the bias gradient, D^T 1, is a gemv with a vector of ones. Plain gradient
 * descent writes W straight from the gradient product (beta = 1 - lr wd,
 * alpha = -lr scale), as dense.c does on the CPU; momentum accumulates into the
 * velocity (beta = mu) and one kernel then updates every parameter.
 *
 * A step reads its batch position from device memory and moves it on, so the
 * same captured graph trains on the next batch every time it is replayed: no
 * host work and no synchronization per step. The loss is summed on the device
 * and read once per bp_cuda_run.
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"
#include "kernels.cuh"

struct bp_cuda {
    bp_cuda_model model;
    int small;                        /* the fused tiny-network path applies (at batch 1) */
    size_t off_w[BP_MAX_LAYERS + 1], off_b[BP_MAX_LAYERS + 1];
    size_t max_width;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_workspace;             /* given to cuBLAS so graph capture never allocates */
    float *params, *velocity;         /* device copies of the blocks */
    float *ones;                      /* capacity ones, for the bias gradients */
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
    /* Work space for `capacity` samples: each layer's a^l (z^L separately), two deltas,
       the gathered batch. */
    size_t capacity;
    float *a[BP_MAX_LAYERS + 1];
    float *zL, *delta[2], *xb, *yb;
    /* The captured step, for batches of graph_m samples. */
    cudaGraphExec_t graph;
    size_t graph_m;
};

namespace {

const size_t BLAS_WORKSPACE = (size_t)32 << 20;

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
            say(why, why_len, "cuBLAS: %s failed: %s", #call, cublasGetStatusString(e_)); \
            return BP_ERR_IO;                                                            \
        }                                                                                \
    } while (0)

void release_work(bp_cuda *g)
{
    g->a[0] = NULL; /* the gathered batch, xb, freed below */
    for (size_t l = 1; l <= g->model.n_layers; l++) {
        cudaFree(g->a[l]);
        g->a[l] = NULL;
    }
    cudaFree(g->zL);
    cudaFree(g->delta[0]);
    cudaFree(g->delta[1]);
    cudaFree(g->xb);
    cudaFree(g->yb);
    cudaFree(g->ones);
    g->zL = g->delta[0] = g->delta[1] = g->xb = g->yb = g->ones = NULL;
    if (g->graph) cudaGraphExecDestroy(g->graph);
    g->graph = NULL;
    g->graph_m = 0;
    g->capacity = 0;
}

/* Work space for m samples (a^0 is the gathered batch itself). */
bp_status reserve(bp_cuda *g, size_t m, char *why, size_t why_len)
{
    if (m <= g->capacity) return BP_OK;
    release_work(g);
    const bp_cuda_model *md = &g->model;
    for (size_t l = 1; l <= md->n_layers; l++) CUDA_TRY(cudaMalloc(&g->a[l], m * md->sizes[l] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->zL, m * md->sizes[md->n_layers] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->delta[0], m * g->max_width * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->delta[1], m * g->max_width * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->xb, m * md->sizes[0] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->yb, m * md->sizes[md->n_layers] * sizeof(float)));
    CUDA_TRY(cudaMalloc(&g->ones, m * sizeof(float)));
    float *host = (float *)malloc(m * sizeof(float));
    if (!host) {
        say(why, why_len, "out of memory");
        return BP_ERR_NOMEM;
    }
    for (size_t i = 0; i < m; i++) host[i] = 1.0f;
    cudaError_t e = cudaMemcpy(g->ones, host, m * sizeof(float), cudaMemcpyHostToDevice);
    free(host);
    CUDA_TRY(e);
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
    bp_cuda_gather(g->x, g->y, g->order, g->pos, m, g->n_in, g->n_out, g->xb, g->yb, s);
    CUDA_TRY(cudaGetLastError());
    const float one = 1.0f, zero = 0.0f;
    /* Forward. */
    for (size_t l = 1; l <= L; l++) {
        const size_t k = md->sizes[l - 1], n = md->sizes[l];
        const float *W = g->params + g->off_w[l], *b = md->bias ? g->params + g->off_b[l] : NULL;
        float *Z = l == L ? g->zL : g->a[l];
        BLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &one, W, (int)k,
                             g->a[l - 1], (int)k, &zero, Z, (int)n));
        if (l < L) bp_cuda_bias_activation(Z, b, m, n, md->hidden, md->leaky_slope, s);
        else bp_cuda_output_layer(Z, g->a[L], b, g->yb, g->delta[0], m, n, md->output, md->loss, md->leaky_slope,
                                  g->loss, s);
        CUDA_TRY(cudaGetLastError());
    }
    /* Backward, with the update of each layer after its delta has gone down. */
    const float scale = md->reduction == BP_REDUCE_SUM ? 1.0f : 1.0f / (float)m;
    int cur = 0;
    for (size_t l = L; l >= 1; l--) {
        const size_t k = md->sizes[l - 1], n = md->sizes[l];
        float *W = g->params + g->off_w[l];
        const float *D = g->delta[cur], *A = g->a[l - 1];
        if (l > 1) {
            float *Dp = g->delta[1 - cur];
            BLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)k, (int)m, (int)n, &one, W, (int)k, D,
                                 (int)n, &zero, Dp, (int)k));
            bp_cuda_derivative(Dp, g->a[l - 1], m * k, md->hidden, md->leaky_slope, s);
            CUDA_TRY(cudaGetLastError());
        }
        if (md->momentum) {
            float *V = g->velocity + g->off_w[l];
            BLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)k, (int)n, (int)m, &scale, A, (int)k, D,
                                 (int)n, &md->mu, V, (int)k));
            if (md->bias)
                BLAS_TRY(cublasSgemv(g->blas, CUBLAS_OP_N, (int)n, (int)m, &scale, D, (int)n, g->ones, 1, &md->mu,
                                     g->velocity + g->off_b[l], 1));
        } else {
            const float alpha = -md->lr * scale, keep = 1.0f - md->lr * md->weight_decay;
            BLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)k, (int)n, (int)m, &alpha, A, (int)k, D,
                                 (int)n, &keep, W, (int)k));
            if (md->bias)
                BLAS_TRY(cublasSgemv(g->blas, CUBLAS_OP_N, (int)n, (int)m, &alpha, D, (int)n, g->ones, 1, &keep,
                                     g->params + g->off_b[l], 1));
        }
        cur = 1 - cur;
    }
    if (md->momentum) {
        bp_cuda_momentum_update(g->params, g->velocity, md->n_params, md->lr, md->weight_decay, s);
        CUDA_TRY(cudaGetLastError());
    }
    bp_cuda_advance(g->pos, m, s);
    CUDA_TRY(cudaGetLastError());
    return BP_OK;
}

/* The step for batches of m, captured once and kept. */
bp_status capture(bp_cuda *g, size_t m, char *why, size_t why_len)
{
    if (g->graph && g->graph_m == m) return BP_OK;
    if (g->graph) cudaGraphExecDestroy(g->graph);
    g->graph = NULL;
    cudaGraph_t graph;
    CUDA_TRY(cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal));
    bp_status st = step(g, m, why, why_len);
    cudaError_t e = cudaStreamEndCapture(g->stream, &graph);
    if (st != BP_OK) {
        if (e == cudaSuccess) cudaGraphDestroy(graph);
        return st;
    }
    CUDA_TRY(e);
    e = cudaGraphInstantiate(&g->graph, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_TRY(e);
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
    /* The captured step points at the old buffers. */
    if (g->graph) cudaGraphExecDestroy(g->graph);
    g->graph = NULL;
    g->graph_m = 0;
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
        size_t off = 0;
        for (size_t l = 1; l <= model->n_layers; l++) {
            g->off_w[l] = off;
            off += model->sizes[l] * model->sizes[l - 1];
            g->off_b[l] = off;
            if (model->bias) off += model->sizes[l];
        }
        for (size_t l = 0; l <= model->n_layers; l++)
            if (model->sizes[l] > g->max_width) g->max_width = model->sizes[l];
        st = [&]() -> bp_status {
            CUDA_TRY(cudaSetDevice(0));
            CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
            BLAS_TRY(cublasCreate(&g->blas));
            BLAS_TRY(cublasSetStream(g->blas, g->stream));
            CUDA_TRY(cudaMalloc(&g->blas_workspace, BLAS_WORKSPACE));
            BLAS_TRY(cublasSetWorkspace(g->blas, g->blas_workspace, BLAS_WORKSPACE));
            BLAS_TRY(cublasSetMathMode(g->blas, model->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
            CUDA_TRY(cudaMalloc(&g->params, model->n_params * sizeof(float)));
            if (model->momentum) CUDA_TRY(cudaMalloc(&g->velocity, model->n_params * sizeof(float)));
            CUDA_TRY(cudaMalloc(&g->loss, sizeof(double)));
            CUDA_TRY(cudaMalloc(&g->pos, sizeof(unsigned long long)));
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
    cudaFree(g->x);
    cudaFree(g->y);
    cudaFree(g->order);
    cudaFree(g->params);
    cudaFree(g->velocity);
    cudaFree(g->loss);
    cudaFree(g->pos);
    if (g->blas) cublasDestroy(g->blas);
    cudaFree(g->blas_workspace);
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
    CUDA_TRY(cudaMemcpyAsync(g->params, params, bytes, cudaMemcpyHostToDevice, g->stream));
    if (g->model.momentum) CUDA_TRY(cudaMemcpyAsync(g->velocity, velocity, bytes, cudaMemcpyHostToDevice, g->stream));
    unsigned long long pos = start;
    CUDA_TRY(cudaMemcpyAsync(g->pos, &pos, sizeof pos, cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaMemsetAsync(g->loss, 0, sizeof(double), g->stream));

    size_t at = start, steps = 0;
    if (batch == 1 && g->small) {
        /* Tiny network, one sample per step: the whole run in one kernel. */
        size_t count = n - start;
        if (max_steps && count > max_steps) count = max_steps;
        bp_cuda_small_sgd(&g->model, g->params, g->x, g->y, g->order, start, count, g->loss, g->stream);
        CUDA_TRY(cudaGetLastError());
        at += count;
        steps = count;
    } else {
        st = reserve(g, batch < n ? batch : n, why, why_len);
        if (st != BP_OK) return st;
        while (at < n && (max_steps == 0 || steps < max_steps)) {
            size_t m = n - at < batch ? n - at : batch;
            if (m == batch) {
                st = capture(g, m, why, why_len);
                if (st != BP_OK) return st;
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
    return BP_OK;
}
