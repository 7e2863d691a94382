/*
 * test_epilogue.c - bp_gemm_ex's epilogue (bias, ReLU, leaky ReLU, and the
 * derivative masks) against bp_gemm_naive followed by the same element-wise
 * work done the obvious way, on shapes that hit whole tiles, edge tiles,
 * several K blocks and the small-M path.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "test.h"

static float rnd(unsigned long long *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 16777216.0f * 2.0f - 1.0f;
}

static float reference(const bp_gemm_epilogue *e, float c, size_t i, size_t j)
{
    if (e->bias) c += e->bias[j];
    if (e->act == BP_EPI_RELU) c = c > 0 ? c : 0;
    if (e->act == BP_EPI_LEAKY) c = c > 0 ? c : e->slope * c;
    if (e->deriv) {
        float d = e->D[i * e->ldd + j];
        if (e->deriv == BP_EPI_RELU) c = d > 0 ? c : 0;
        if (e->deriv == BP_EPI_LEAKY) c *= d > 0 ? 1 : e->slope;
        if (e->deriv == BP_EPI_SIGMOID) c *= d * (1 - d);
        if (e->deriv == BP_EPI_TANH) c *= 1 - d * d;
    }
    return c;
}

void test_gemm_epilogues(void)
{
    const size_t shapes[][3] = {{1, 5, 7}, {3, 17, 9}, {6, 16, 8}, {13, 33, 300}, {64, 40, 600}, {100, 3, 5}};
    unsigned long long s = 42;
    float *work = malloc(BP_GEMM_WORKSPACE_FLOATS * sizeof(float));
    for (size_t k = 0; work && k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t M = shapes[k][0], N = shapes[k][1], K = shapes[k][2];
        float *A = malloc(M * K * sizeof(float)), *B = malloc(K * N * sizeof(float)),
              *C = malloc(M * N * sizeof(float)), *R = malloc(M * N * sizeof(float)),
              *bias = malloc(N * sizeof(float)), *D = malloc(M * N * sizeof(float)),
              *C0 = malloc(M * N * sizeof(float)), *U = malloc(M * N * sizeof(float));
        if (!A || !B || !C || !R || !bias || !D || !C0 || !U) {
            CHECK(0, "out of memory");
        } else {
            for (size_t i = 0; i < M * K; i++) A[i] = rnd(&s);
            for (size_t i = 0; i < K * N; i++) B[i] = rnd(&s);
            for (size_t i = 0; i < N; i++) bias[i] = rnd(&s);
            for (size_t i = 0; i < M * N; i++) D[i] = rnd(&s) > 0 ? rnd(&s) * 0.5f + 0.5f : 0.0f;
            for (int act = BP_EPI_NONE; act <= BP_EPI_LEAKY; act++)
                for (int deriv = BP_EPI_NONE; deriv <= BP_EPI_TANH; deriv++)
                    for (int with_bias = 0; with_bias <= 1; with_bias++)
                        for (int tb = 0; tb <= 1; tb++) {
                        bp_gemm_epilogue e = {with_bias ? bias : NULL, act, deriv, D, N, 0.01f};
                        for (size_t i = 0; i < M * N; i++) C0[i] = C[i] = R[i] = rnd(&s);
                        size_t ldb = tb ? K : N;
                        bp_gemm_ex(0, tb, M, N, K, 0.5f, A, K, B, ldb, 0.25f, C, N, work, &e);
                        bp_gemm_naive(0, tb, M, N, K, 0.5f, A, K, B, ldb, 0.25f, R, N);
                        /* Fused and unfused give the same bits: the product alone,
                           then the element-wise work in float, as the epilogue does it
                           (from registers on whole tiles, from memory on the rest). */
                        for (size_t i = 0; i < M * N; i++) U[i] = C0[i];
                        bp_gemm_ex(0, tb, M, N, K, 0.5f, A, K, B, ldb, 0.25f, U, N, work, NULL);
                        size_t differ = 0;
                        for (size_t i = 0; i < M; i++)
                            for (size_t j = 0; j < N; j++)
                                differ += memcmp(&(float){reference(&e, U[i * N + j], i, j)}, &C[i * N + j],
                                                 sizeof(float)) != 0;
                        CHECK(differ == 0, "%zux%zux%zu act %d deriv %d bias %d trans_b %d: %zu values differ "
                              "from the unfused product's bits", M, N, K, act, deriv, with_bias, tb, differ);
                        for (size_t i = 0; i < M; i++)
                            for (size_t j = 0; j < N; j++) {
                                float want = reference(&e, R[i * N + j], i, j);
                                CHECK(fabsf(C[i * N + j] - want) <= 1e-4f * (1 + fabsf(want)),
                                      "%zux%zux%zu act %d deriv %d bias %d trans_b %d: [%zu][%zu] %g vs %g",
                                      M, N, K, act, deriv, with_bias, tb, i, j, (double)C[i * N + j],
                                      (double)want);
                            }
                        }
        }
        free(A), free(B), free(C), free(R), free(bias), free(D), free(C0), free(U);
    }
    free(work);
}
