/*
 * test_gemm.c - bp_gemm against bp_gemm_naive, and bp_gemm_naive against
 * numbers worked out by hand.
 *
 * Shapes straddle the blocking (tile 6 x 16, blocks of 96 rows, 256 columns
 * and 256 k), strides are wider than rows, and the padding between rows of C
 * carries a sentinel that must survive. Timing is left to the benchmarks.
 */
#include "test.h"

#include "kernels/gemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A test's own generator, so runs are reproducible and no test disturbs
   another's sequence (splitmix64). */
typedef struct {
    uint64_t state;
} gemm_rng;

static uint64_t rng_next(gemm_rng *rng) { return bp_test_next(&rng->state); }

/* Uniform in [-1, 1). */
static float rng_float(gemm_rng *rng)
{
    return (float)((double)(rng_next(rng) >> 40) / (double)(1u << 23) - 1.0);
}

static size_t rng_below(gemm_rng *rng, size_t n) { return (size_t)(rng_next(rng) % n); }

static const size_t gemm_dims[] = {1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 257};
enum { GEMM_NDIMS = sizeof gemm_dims / sizeof gemm_dims[0] };

/* Written between and after the rows of C, where bp_gemm must never write. */
static const float GEMM_SENTINEL = 12345.0f;

typedef struct {
    int trans_a, trans_b;
    size_t M, N, K;
    size_t pad_a, pad_b, pad_c; /* stride minus row length, in floats */
    float alpha, beta;
    int nan_c;                  /* fill C with NaN (for beta == 0) */
} gemm_case;

static float *gemm_workspace(void)
{
    /* aligned_alloc wants a multiple of the alignment. */
    size_t bytes = (BP_GEMM_WORKSPACE_FLOATS * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

/* Runs one case through both functions and checks every element of C, the
   padding of C, and that workspace contents do not matter (it starts as NaN).
   Returns the number of failures it recorded. */
static int run_gemm_case(const gemm_case *tc, gemm_rng *rng, float *workspace)
{
    size_t a_rows = tc->trans_a ? tc->K : tc->M, a_cols = tc->trans_a ? tc->M : tc->K;
    size_t b_rows = tc->trans_b ? tc->N : tc->K, b_cols = tc->trans_b ? tc->K : tc->N;
    size_t lda = a_cols + tc->pad_a, ldb = b_cols + tc->pad_b, ldc = tc->N + tc->pad_c;
    size_t a_len = a_rows * lda, b_len = b_rows * ldb, c_len = tc->M * ldc;
    /* +1 so that zero-sized matrices still get a valid pointer. */
    float *A = malloc((a_len + 1) * sizeof *A);
    float *B = malloc((b_len + 1) * sizeof *B);
    float *C = malloc((c_len + 1) * sizeof *C);
    float *C_ref = malloc((c_len + 1) * sizeof *C_ref);
    float *C_before = malloc((c_len + 1) * sizeof *C_before);
    int failures_before = bp_test_failures;
    CHECK(A && B && C && C_ref && C_before, "out of memory");
    if (!(A && B && C && C_ref && C_before))
        goto done;

    for (size_t i = 0; i < a_len; i++) A[i] = rng_float(rng);
    for (size_t i = 0; i < b_len; i++) B[i] = rng_float(rng);
    for (size_t i = 0; i < tc->M; i++)
        for (size_t j = 0; j < ldc; j++)
            C[i * ldc + j] = j >= tc->N ? GEMM_SENTINEL : tc->nan_c ? NAN : rng_float(rng);
    memcpy(C_ref, C, c_len * sizeof *C);
    memcpy(C_before, C, c_len * sizeof *C);
    for (size_t i = 0; i < BP_GEMM_WORKSPACE_FLOATS; i++) workspace[i] = NAN;

    bp_gemm(tc->trans_a, tc->trans_b, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb,
            tc->beta, C, ldc, workspace);
    bp_gemm_naive(tc->trans_a, tc->trans_b, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb,
                  tc->beta, C_ref, ldc);

    size_t bad = 0, bad_i = 0, bad_j = 0;
    double bad_tol = 0.0;
    for (size_t i = 0; i < tc->M; i++) {
        for (size_t j = 0; j < ldc; j++) {
            float got = C[i * ldc + j], want = C_ref[i * ldc + j];
            double tol;
            if (j >= tc->N) {
                tol = 0.0; /* padding: must be untouched */
                want = GEMM_SENTINEL;
            } else {
                /* Summation order differs, so the error scales with
                   |alpha| sum_k |a_ik b_kj| + |beta c_ij|, not with the
                   (possibly cancelling) result. |want - beta c| is a lower
                   bound of the first term that costs nothing; the exact
                   sum is only needed when that bound is not enough. */
                double beta_c = tc->beta == 0.0f ? 0.0 : (double)tc->beta * C_before[i * ldc + j];
                tol = 1e-5 * (fabs((double)want - beta_c) + fabs(beta_c)) + 1e-30;
                if (!(fabs((double)got - (double)want) <= tol)) {
                    double abs_sum = 0.0;
                    for (size_t p = 0; p < tc->K; p++) {
                        double a = tc->trans_a ? A[p * lda + i] : A[i * lda + p];
                        double b = tc->trans_b ? B[j * ldb + p] : B[p * ldb + j];
                        abs_sum += fabs(a * b);
                    }
                    tol = 1e-5 * (fabs(tc->alpha) * abs_sum + fabs(beta_c)) + 1e-30;
                }
            }
            if (!(fabs((double)got - (double)want) <= tol)) {
                if (bad++ == 0) {
                    bad_i = i;
                    bad_j = j;
                    bad_tol = tol;
                }
            }
        }
    }
    CHECK(bad == 0,
          "trans_a %d trans_b %d M %zu N %zu K %zu pads %zu/%zu/%zu alpha %g beta %g nan_c %d: "
          "%zu bad elements, first C[%zu][%zu] = %.9g, naive %.9g (tolerance %.3g)",
          tc->trans_a, tc->trans_b, tc->M, tc->N, tc->K, tc->pad_a, tc->pad_b, tc->pad_c,
          (double)tc->alpha, (double)tc->beta, tc->nan_c, bad, bad_i, bad_j,
          bad ? (double)C[bad_i * ldc + bad_j] : 0.0,
          bad ? (bad_j >= tc->N ? (double)GEMM_SENTINEL : (double)C_ref[bad_i * ldc + bad_j]) : 0.0,
          bad_tol);

done:
    free(A);
    free(B);
    free(C);
    free(C_ref);
    free(C_before);
    return bp_test_failures - failures_before;
}

/* The oracle itself, on a product small enough to do by hand:
   [1 2 3; 4 5 6] [7 8; 9 10; 11 12] = [58 64; 139 154]. */
void test_gemm_naive_known_values(void)
{
    const float A[] = {1, 2, 3, 4, 5, 6};          /* 2 x 3 */
    const float At[] = {1, 4, 2, 5, 3, 6};         /* the same, stored 3 x 2 */
    const float B[] = {7, 8, 9, 10, 11, 12};       /* 3 x 2 */
    const float Bt[] = {7, 9, 11, 8, 10, 12};      /* the same, stored 2 x 3 */
    const float want[] = {58, 64, 139, 154};
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            float C[4] = {1, 1, 1, 1};
            bp_gemm_naive(ta, tb, 2, 2, 3, 2.0f, ta ? At : A, ta ? 2 : 3, tb ? Bt : B,
                          tb ? 3 : 2, 0.5f, C, 2);
            for (int i = 0; i < 4; i++)
                CHECK(C[i] == 2.0f * want[i] + 0.5f, "ta %d tb %d C[%d] = %g, want %g", ta, tb,
                      i, (double)C[i], 2.0 * want[i] + 0.5);
        }
    }
}

/* Random shapes from the list, every transpose combination, tight strides. */
void test_gemm_shapes(void)
{
    gemm_rng rng = {1};
    float *workspace = gemm_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace)
        return;
    for (int t = 0; t < 4; t++) {
        for (int n = 0; n < 60; n++) {
            gemm_case tc = {t & 1, t >> 1, gemm_dims[rng_below(&rng, GEMM_NDIMS)],
                            gemm_dims[rng_below(&rng, GEMM_NDIMS)],
                            gemm_dims[rng_below(&rng, GEMM_NDIMS)], 0, 0, 0, 1.0f, 0.0f, 0};
            if (run_gemm_case(&tc, &rng, workspace))
                break; /* one report per combination is enough */
        }
    }
    free(workspace);
}

/* Every transpose combination against every small shape of the list in turn,
   one varying while the others sit on awkward sizes, with wide strides. */
void test_gemm_transposes(void)
{
    gemm_rng rng = {2};
    float *workspace = gemm_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace)
        return;
    for (int t = 0; t < 4; t++) {
        for (size_t d = 0; d < GEMM_NDIMS; d++) {
            size_t v = gemm_dims[d];
            const gemm_case cases[] = {
                {t & 1, t >> 1, v, 17, 33, 3, 5, 7, 1.0f, 0.0f, 0},
                {t & 1, t >> 1, 31, v, 17, 1, 0, 16, 1.0f, 1.0f, 0},
                {t & 1, t >> 1, 7, 65, v, 9, 2, 1, -0.5f, 0.25f, 0},
            };
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
                run_gemm_case(&cases[c], &rng, workspace);
        }
    }
    free(workspace);
}

/* alpha and beta: zero, one, negative, fractional; beta == 0 on a C full of
   NaN (which must not leak); alpha == 0, which only scales C. Shapes that go
   through packing and one with M < 4, which does not. */
void test_gemm_alpha_beta(void)
{
    gemm_rng rng = {3};
    float *workspace = gemm_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace)
        return;
    const float alphas[] = {1.0f, -1.0f, 0.5f, 2.5f, 0.0f};
    const float betas[] = {0.0f, 1.0f, -1.0f, 0.3f};
    const size_t shapes[][3] = {{5, 7, 3}, {2, 37, 19}, {33, 17, 65}, {100, 40, 270}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int t = 0; t < 4; t++) {
            for (size_t ia = 0; ia < sizeof alphas / sizeof alphas[0]; ia++) {
                for (size_t ib = 0; ib < sizeof betas / sizeof betas[0]; ib++) {
                    gemm_case tc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                    2, 1, 3, alphas[ia], betas[ib], betas[ib] == 0.0f};
                    run_gemm_case(&tc, &rng, workspace);
                }
            }
        }
    }
    free(workspace);
}

/* M, N or K of zero: K == 0 is C = beta C (zeros over NaN when beta == 0),
   and M == 0 or N == 0 touches nothing. */
void test_gemm_zero_sizes(void)
{
    gemm_rng rng = {4};
    float *workspace = gemm_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace)
        return;
    for (int t = 0; t < 4; t++) {
        const gemm_case cases[] = {
            {t & 1, t >> 1, 5, 7, 0, 0, 0, 2, 1.0f, 0.0f, 1},
            {t & 1, t >> 1, 5, 7, 0, 0, 0, 2, 1.0f, 0.5f, 0},
            {t & 1, t >> 1, 300, 40, 0, 1, 1, 0, -1.0f, 1.0f, 0},
            {t & 1, t >> 1, 0, 7, 5, 1, 1, 1, 1.0f, 0.0f, 1},
            {t & 1, t >> 1, 5, 0, 5, 1, 1, 3, 1.0f, 0.0f, 1},
            {t & 1, t >> 1, 0, 0, 0, 0, 0, 0, 1.0f, 0.0f, 1},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            run_gemm_case(&cases[c], &rng, workspace);
    }
    free(workspace);
}

/* Shapes that span several blocks in every direction (M > 96, N > 256,
   K > 256), including the sizes of a small MLP's layers. The largest runs
   with two transpose combinations only, to keep the test quick. */
void test_gemm_large(void)
{
    gemm_rng rng = {5};
    float *workspace = gemm_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace)
        return;
    const size_t shapes[][3] = {{300, 500, 700}, {64, 256, 784}, {256, 784, 64},
                                {64, 784, 256}, {97, 513, 257}, {1000, 63, 127},
                                {17, 1000, 65}, {31, 15, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int t = 0; t < 4; t += s == 0 ? 3 : 1) {
            gemm_case tc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                            s, 2 * s, 3, 1.0f, s % 2 ? 0.0f : 1.0f, s % 2};
            run_gemm_case(&tc, &rng, workspace);
        }
    }
    free(workspace);
}

/* Every number of valid rows in a block's last tile (the AVX-512 kernel has a
   copy per row count, 1 to 12, with or without a second A sliver, against one
   or two B slivers): against the naive product, and bit for bit against the
   same rows computed as part of a taller product, where they sit in full
   tiles. Each element is one FMA chain in k order whatever tile computes it,
   so the bits must not depend on the row count (with the built-in GEMM; with
   make BLAS=openblas only the comparison with the naive product holds). M starts at 4, where the
   packed path begins; 96 + 12 + m crosses a block of rows. */
void test_gemm_every_tile_row_count(void)
{
    gemm_rng rng = {7};
    float *workspace = gemm_workspace();
    enum { TALL = 120, KMAX = 37, NMAX = 48 };
    float *A = malloc(TALL * KMAX * sizeof *A), *At = malloc(TALL * KMAX * sizeof *At);
    float *B = malloc(KMAX * NMAX * sizeof *B), *tall = malloc(TALL * NMAX * sizeof *tall);
    float *C = malloc(TALL * NMAX * sizeof *C);
    CHECK(workspace && A && At && B && tall && C, "out of memory");
    const size_t ns[] = {17, 20, 32, 33, 48}, ks[] = {5, 37};
    for (size_t ni = 0; workspace && A && At && B && tall && C && ni < sizeof ns / sizeof ns[0]; ni++) {
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const size_t N = ns[ni], K = ks[ki];
            for (size_t i = 0; i < TALL * K; i++) A[i] = rng_float(&rng);
            for (size_t i = 0; i < TALL; i++)
                for (size_t p = 0; p < K; p++) At[p * TALL + i] = A[i * K + p];
            for (size_t i = 0; i < K * N; i++) B[i] = rng_float(&rng);
            for (int ta = 0; ta < 2; ta++) {
                bp_gemm(ta, 0, TALL, N, K, 1.0f, ta ? At : A, ta ? TALL : K, B, N, 0.0f, tall, N, workspace);
                for (size_t base = 0; base <= 96; base += 96)
                    for (size_t m = 4; m <= 24; m++) {
                        const size_t M = base + m;
                        gemm_case tc = {ta, 0, M, N, K, 0, 0, 0, 1.0f, 0.0f, 1};
                        if (m == 4 || m == 12 || m == 19) run_gemm_case(&tc, &rng, workspace);
                        /* The first M rows of op(A): A's first rows, or At's first columns. */
                        bp_gemm(ta, 0, M, N, K, 1.0f, ta ? At : A, ta ? TALL : K, B, N, 0.0f, C, N, workspace);
#ifndef BP_OPENBLAS /* OpenBLAS's kernels may add in another order for another row count */
                        CHECK(memcmp(C, tall, M * N * sizeof *C) == 0,
                              "trans_a %d M %zu N %zu K %zu: the rows differ from the same rows of a %d-row product",
                              ta, M, N, K, TALL);
#endif
                    }
            }
        }
    }
    free(workspace);
    free(A);
    free(At);
    free(B);
    free(tall);
    free(C);
}

/* A workspace on any float boundary works: bp_gemm rounds it up inside the
   slack that BP_GEMM_WORKSPACE_FLOATS includes. */
void test_gemm_workspace_alignment(void)
{
    gemm_rng rng = {6};
    float *block = malloc((BP_GEMM_WORKSPACE_FLOATS + 16) * sizeof *block);
    CHECK(block != NULL, "out of memory");
    if (!block)
        return;
    for (size_t offset = 0; offset < 16; offset += 5) {
        gemm_case tc = {1, 0, 130, 270, 300, 0, 0, 0, 1.0f, 0.0f, 1};
        run_gemm_case(&tc, &rng, block + offset);
    }
    free(block);
}

/* The kernel named is the one the build promises: the SIMDe build (make
   SIMDE=1, tests/avx512-test.sh) must run every test above through the AVX-512
   kernel, or it would check nothing; the OpenBLAS build names OpenBLAS. */
void test_gemm_kernel_name(void)
{
    const char *name = bp_gemm_kernel_name();
    CHECK(name != NULL && name[0] != '\0', "no kernel name");
    if (!name) return;
#if defined(BP_GEMM_SIMDE)
    CHECK(strstr(name, "AVX-512 12x32") != NULL, "the SIMDe build runs \"%s\", not the AVX-512 kernel", name);
#elif defined(BP_OPENBLAS)
    CHECK(strstr(name, "OpenBLAS") != NULL, "the OpenBLAS build names \"%s\"", name);
#endif
}

/* Small products read op(B) = B (N a multiple of 16) and op(A) = A^T in place
   instead of packing them (gemm.c's in_place_a and in_place_b). Against the
   naive product on shapes around those conditions, with wide strides and the
   sentinels; and bit for bit against the same columns of a product one column
   wider, which packs both operands (N not a multiple of 16) but sums every
   element with the same kernel in the same order. */
void test_gemm_in_place_operands(void)
{
    gemm_rng rng = {8};
    float *workspace = gemm_workspace();
    enum { MMAX = 130, KMAX = 300, NMAX = 129 };
    float *A = malloc(MMAX * KMAX * sizeof *A), *B = malloc(KMAX * NMAX * sizeof *B);
    float *C = malloc(MMAX * NMAX * sizeof *C), *wide = malloc(MMAX * NMAX * sizeof *wide);
    CHECK(workspace && A && B && C && wide, "out of memory");
    const size_t ms[] = {4, 6, 10, 12, 13, 64, 66, 128, 130}, ns[] = {16, 32, 48, 64, 128};
    const size_t ks[] = {4, 10, 64, 257};
    for (size_t mi = 0; workspace && A && B && C && wide && mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                const size_t M = ms[mi], N = ns[ni], K = ks[ki];
                for (int ta = 0; ta < 2; ta++) {
                    const size_t pad = (mi + ni + ki) % 3 == 0 ? 0 : 3;
                    gemm_case tc = {ta, 0, M, N, K, pad, pad, 1, 1.0f, ki % 2 ? 0.5f : 0.0f, ki % 2 == 0};
                    run_gemm_case(&tc, &rng, workspace);
                    /* op(A) is M x K from A (M x K, or K x M for A^T); B is K x (N + 1). */
                    const size_t lda = ta ? M : K, ldb = N + 1;
                    for (size_t i = 0; i < M * K; i++) A[i] = rng_float(&rng);
                    for (size_t i = 0; i < K * ldb; i++) B[i] = rng_float(&rng);
                    bp_gemm(ta, 0, M, N + 1, K, 1.0f, A, lda, B, ldb, 0.0f, wide, N + 1, workspace);
                    bp_gemm(ta, 0, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N, workspace);
#ifndef BP_OPENBLAS
                    size_t differ = 0;
                    for (size_t i = 0; i < M; i++) differ += memcmp(C + i * N, wide + i * (N + 1), N * sizeof *C) != 0;
                    CHECK(differ == 0, "trans_a %d M %zu N %zu K %zu: %zu rows differ from the packed product's bits",
                          ta, M, N, K, differ);
#endif
                }
            }
    free(workspace);
    free(A);
    free(B);
    free(C);
    free(wide);
}
