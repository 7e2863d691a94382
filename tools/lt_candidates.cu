/*
 * lt_candidates.cu - how fast can cuBLASLt do the five large fp32 products of a
 * 784-1024-1024-10 training step at batch M? For each product (as trainer.cu issues
 * it: column-major, transposed), every algorithm its heuristics offer (at most 64;
 * in CUDA 13 they offer 8) runs 3 times untimed and 50 timed, back to back, and
 * its tile, split-K and time are printed. docs/GPU.md quotes the H100's answer.
 *
 *   nvcc -O2 -arch=sm_90 tools/lt_candidates.cu -lcublasLt -o lt_candidates && ./lt_candidates [M]
 *
 * The operands are zeros: the time of an fp32 product does not depend on values.
 */
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
struct P { const char *name; cublasOperation_t ta, tb; int rows, cols, inner; };
int main(int argc, char **argv)
{
    int m = argc > 1 ? atoi(argv[1]) : 256;
    P ps[] = {{"fwd1 T,N n=1024 m k=784", CUBLAS_OP_T, CUBLAS_OP_N, 1024, m, 784},
              {"fwd2 T,N 1024 m 1024", CUBLAS_OP_T, CUBLAS_OP_N, 1024, m, 1024},
              {"dgrad2 N,N 1024 m 1024", CUBLAS_OP_N, CUBLAS_OP_N, 1024, m, 1024},
              {"wgrad2 N,T 1024 1024 m", CUBLAS_OP_N, CUBLAS_OP_T, 1024, 1024, m},
              {"wgrad1 N,T 784 1024 m", CUBLAS_OP_N, CUBLAS_OP_T, 784, 1024, m}};
    cublasLtHandle_t lt; cublasLtCreate(&lt);
    float *A, *B, *C; void *ws; size_t wsz = 32 << 20;
    cudaMalloc(&A, 8 << 20); cudaMalloc(&B, 8 << 20); cudaMalloc(&C, 8 << 20); cudaMalloc(&ws, wsz);
    cudaMemset(A, 0, 8 << 20); cudaMemset(B, 0, 8 << 20); cudaMemset(C, 0, 8 << 20);
    cudaStream_t s; cudaStreamCreate(&s);
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    for (P &p : ps) {
        cublasLtMatmulDesc_t d; cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &p.ta, sizeof p.ta);
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &p.tb, sizeof p.tb);
        uint64_t ar = p.ta == CUBLAS_OP_N ? p.rows : p.inner, ac = p.ta == CUBLAS_OP_N ? p.inner : p.rows;
        uint64_t br = p.tb == CUBLAS_OP_N ? p.inner : p.cols, bc = p.tb == CUBLAS_OP_N ? p.cols : p.inner;
        cublasLtMatrixLayout_t la, lb, lc;
        cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, ar, ac, ar);
        cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, br, bc, br);
        cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, p.rows, p.cols, p.rows);
        cublasLtMatmulPreference_t pref; cublasLtMatmulPreferenceCreate(&pref);
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz, sizeof wsz);
        cublasLtMatmulHeuristicResult_t r[64]; int n = 0;
        cublasLtMatmulAlgoGetHeuristic(lt, d, la, lb, lc, lc, pref, 64, r, &n);
        double flop = 2.0 * p.rows * p.cols * p.inner;
        printf("== %s: %d candidates\n", p.name, n);
        for (int i = 0; i < n; i++) {
            float one = 1, zero = 0, ms = 0;
            int tile = 0, splitk = 0, red = 0, stages = 0; size_t w;
            cublasLtMatmulAlgoConfigGetAttribute(&r[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &w);
            cublasLtMatmulAlgoConfigGetAttribute(&r[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk, &w);
            cublasLtMatmulAlgoConfigGetAttribute(&r[i].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red, &w);
            cublasLtMatmulAlgoConfigGetAttribute(&r[i].algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages, &w);
            bool ok = true;
            for (int k = 0; k < 53 && ok; k++) {
                if (k == 3) cudaEventRecord(e0, s);
                ok = cublasLtMatmul(lt, d, &one, A, la, B, lb, &zero, C, lc, C, lc, &r[i].algo, ws, wsz, s) == 0;
            }
            cudaEventRecord(e1, s); cudaEventSynchronize(e1); cudaEventElapsedTime(&ms, e0, e1);
            printf("  %2d tile %3d splitk %2d red %d stages %2d ws %8zu: %7.2f us %6.1f TFLOP/s%s\n", i, tile, splitk, red,
                   stages, r[i].workspaceSize, ms * 1e3 / 50, flop / (ms * 1e-3 / 50) / 1e12, ok ? "" : " FAILED");
        }
    }
    return 0;
}
