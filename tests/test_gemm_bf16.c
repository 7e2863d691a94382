/*
 * test_gemm_bf16.c - the bf16 product (bp_gemm_bf16_ex) against the naive
 * product, each kernel the CPU has, and the kernels against each other.
 *
 * Two oracles, two tolerances, both per element and scaled by
 * S = |alpha| sum_k |a_ik b_kj| + |beta c_ij| (the size of what is summed, not
 * of the possibly cancelling result):
 *   - the naive product of the operands rounded to bf16 first (in double):
 *     what is left is the float sums' rounding, at most about (K + 3) 2^-24 S
 *     (K sums, the alpha and beta rounding);
 *   - the naive product of the float operands: rounding each operand to bf16
 *     (8 significant bits, round to nearest) changes it by at most 2^-8 of
 *     itself, so each product by at most 2^-7 + 2^-16 of itself; the bound is
 *     then (2^-7 + 2^-16 + (K + 3) 2^-24) S. This is the bf16 tolerance the
 *     layer and training tests build on.
 * Then bit-for-bit checks: the AVX512_BF16 kernel adds in exactly the order of
 * the portable emulation (with the same packing and store), so on CPUs that
 * have it the two must agree to the bit; every kernel must give the same bits
 * whether one thread or several share the product; rounding agrees with the
 * conversion instruction; and AMX leaves no tile state behind.
 *
 * Shapes straddle the 16-row and 16-column tiles, the 32 x 32 steps, the 32-k
 * tiles, and the 32-row, 1024-column and 384-k blocks; strides are wider than
 * rows and the padding of C holds a sentinel that must survive.
 */
#include "test.h"

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/pool.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BF16_TEST_X86 1
#else
#define BF16_TEST_X86 0
#endif

static float bf_float(uint64_t *s) { return (float)((double)(bp_test_next(s) >> 40) / (double)(1u << 23) - 1.0); }

static const float BF_SENTINEL = 4242.0f;

static float *bf_workspace(void)
{
    return aligned_alloc(64, (BP_GEMM_WORKSPACE_FLOATS * sizeof(float) + 63) / 64 * 64);
}

/* The kernels this CPU runs, the emulation always first. */
static int bf_kernels(bp_bf16_kernel out[3])
{
    int n = 0;
    out[n++] = BP_BF16_EMULATED;
    if (bp_gemm_bf16_resolve(BP_BF16_AVX512) == BP_BF16_AVX512) out[n++] = BP_BF16_AVX512;
    if (bp_gemm_bf16_resolve(BP_BF16_AMX) == BP_BF16_AMX) out[n++] = BP_BF16_AMX;
    return n;
}

typedef struct {
    int ta, tb;
    size_t M, N, K;
    size_t pad;          /* extra floats at the end of every row of A, B and C */
    float alpha, beta;
    int epi;             /* 0 none, 1 bias + ReLU, 2 sigmoid's derivative */
} bf_case;

typedef struct {
    int off_r, off_f;
} bf_verdict;

/* Whether `got` is off the two oracles' values (alpha sum + beta c, before the
   epilogue) when S is `scale`. The epilogue is applied to the oracles in
   double: it scales the error by the derivative (<= 1 here) and adds the
   bias, which adds |bias| to what is summed. */
static bf_verdict judge(const bf_case *tc, float got, double want_r, double want_f, double scale, float bias,
                        float d, double sum_tol, double bf16_tol)
{
    double deriv = 1.0;
    if (tc->epi == 1) {
        want_r = want_r + bias > 0 ? want_r + bias : 0.0;
        want_f = want_f + bias > 0 ? want_f + bias : 0.0;
        scale += fabs((double)bias);
    } else if (tc->epi == 2) {
        deriv = (double)d * (1.0 - (double)d);
        want_r *= deriv;
        want_f *= deriv;
    }
    /* A few roundings of the result itself (the epilogue's multiplies and adds). */
    const double slack = 4.0 * ldexp(1.0, -24) * fabs(want_f) + 1e-30;
    bf_verdict v = {!(fabs(got - want_r) <= sum_tol * scale * deriv + slack),
                    !(fabs(got - want_f) <= bf16_tol * scale * deriv + slack)};
    return v;
}

/* One case through `kernel`: every element of C against the rounded operands'
   product, and with `float_oracle` against the float operands' too (the top of
   this file), the padding of C untouched, the workspace's contents irrelevant
   (it starts as NaN). With `out`, C is copied there for bitwise comparisons.
   Returns the number of failed checks. */
static int run_bf_case(const bf_case *tc, bp_bf16_kernel kernel, uint64_t *rng, float *workspace, float *out,
                       int float_oracle)
{
    const size_t a_rows = tc->ta ? tc->K : tc->M, a_cols = tc->ta ? tc->M : tc->K;
    const size_t b_rows = tc->tb ? tc->N : tc->K, b_cols = tc->tb ? tc->K : tc->N;
    const size_t lda = a_cols + tc->pad, ldb = b_cols + tc->pad, ldc = tc->N + tc->pad;
    const size_t a_len = a_rows * lda + 1, b_len = b_rows * ldb + 1, c_len = tc->M * ldc + 1;
    float *A = malloc(a_len * sizeof *A), *B = malloc(b_len * sizeof *B), *Ar = malloc(a_len * sizeof *Ar);
    float *Br = malloc(b_len * sizeof *Br), *C = malloc(c_len * sizeof *C), *C0 = malloc(c_len * sizeof *C0);
    float *Cr = malloc(c_len * sizeof *Cr), *Cf = malloc(c_len * sizeof *Cf);
    float *bias = malloc((tc->N + 1) * sizeof *bias), *D = malloc((tc->M * tc->N + 1) * sizeof *D);
    const int failures_before = bp_test_failures;
    CHECK(A && B && Ar && Br && C && C0 && Cr && Cf && bias && D, "out of memory");
    if (!(A && B && Ar && Br && C && C0 && Cr && Cf && bias && D)) goto done;

    for (size_t i = 0; i < a_len; i++) Ar[i] = bp_bf16_to_float(bp_bf16_from_float(A[i] = bf_float(rng)));
    for (size_t i = 0; i < b_len; i++) Br[i] = bp_bf16_to_float(bp_bf16_from_float(B[i] = 2.0f * bf_float(rng)));
    for (size_t i = 0; i < c_len; i++) C[i] = i % ldc >= tc->N ? BF_SENTINEL : tc->beta == 0.0f ? NAN : bf_float(rng);
    for (size_t j = 0; j <= tc->N; j++) bias[j] = bf_float(rng);
    for (size_t i = 0; i <= tc->M * tc->N; i++) D[i] = 0.5f + 0.5f * bf_float(rng);
    memcpy(C0, C, c_len * sizeof *C);
    memcpy(Cr, C, c_len * sizeof *C);
    memcpy(Cf, C, c_len * sizeof *C);
    for (size_t i = 0; i < BP_GEMM_WORKSPACE_FLOATS; i++) workspace[i] = NAN;

    bp_gemm_epilogue e = {bias, BP_EPI_RELU, BP_EPI_NONE, NULL, 0, 0.0f};
    if (tc->epi == 2) e = (bp_gemm_epilogue){NULL, BP_EPI_NONE, BP_EPI_SIGMOID, D, tc->N, 0.0f};
    bp_gemm_bf16_ex(kernel, tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb, tc->beta, C, ldc,
                    workspace, tc->epi ? &e : NULL);
    bp_gemm_naive(tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->alpha, Ar, lda, Br, ldb, tc->beta, Cr, ldc);
    if (float_oracle) bp_gemm_naive(tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb, tc->beta, Cf, ldc);

    const double sum_tol = (double)(tc->K + 3) * ldexp(1.0, -24), bf16_tol = ldexp(1.0, -7) + ldexp(1.0, -16) + sum_tol;
    size_t bad_r = 0, bad_f = 0, bad_pad = 0, first_i = 0, first_j = 0;
    for (size_t i = 0; i < tc->M; i++) {
        for (size_t j = 0; j < ldc; j++) {
            const float got = C[i * ldc + j];
            if (j >= tc->N) {
                bad_pad += got != BF_SENTINEL;
                continue;
            }
            /* S, or first the lower bound |alpha sum| + |beta c| of it that costs
               nothing; the exact S only where that bound is not enough. */
            const double beta_c = tc->beta == 0.0f ? 0.0 : (double)tc->beta * C0[i * ldc + j];
            const double sum_r = Cr[i * ldc + j], sum_f = float_oracle ? Cf[i * ldc + j] : sum_r;
            /* (|sum_r| is over the rounded operands: at most 2^-7 larger.) */
            const double lower = fabs(sum_r - beta_c) / (1.0 + ldexp(1.0, -7)) + fabs(beta_c);
            const bf_verdict quick = judge(tc, got, sum_r, sum_f, lower,
                                           bias[j], D[i * tc->N + j], sum_tol, bf16_tol);
            int off_r = quick.off_r, off_f = quick.off_f;
            if (off_r || off_f) {
                double scale = fabs(beta_c);
                for (size_t p = 0; p < tc->K; p++) {
                    const double a = tc->ta ? A[p * lda + i] : A[i * lda + p];
                    const double b = tc->tb ? B[j * ldb + p] : B[p * ldb + j];
                    scale += fabs((double)tc->alpha * a * b);
                }
                const bf_verdict exact = judge(tc, got, sum_r, sum_f, scale, bias[j], D[i * tc->N + j], sum_tol,
                                               bf16_tol);
                off_r = exact.off_r;
                off_f = exact.off_f;
            }
            if ((off_r || off_f) && bad_r + bad_f == 0) first_i = i, first_j = j;
            bad_r += off_r;
            bad_f += off_f;
        }
    }
    CHECK(bad_r == 0 && bad_f == 0 && bad_pad == 0,
          "%s: ta %d tb %d %zu x %zu x %zu pad %zu alpha %g beta %g epi %d: %zu off the rounded operands' product, "
          "%zu off the float product, %zu padding floats written; first C[%zu][%zu] = %.9g, want %.9g / %.9g",
          bp_gemm_bf16_kernel_name(kernel), tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->pad, (double)tc->alpha,
          (double)tc->beta, tc->epi, bad_r, bad_f, bad_pad, first_i, first_j, (double)C[first_i * ldc + first_j],
          (double)Cr[first_i * ldc + first_j], (double)Cf[first_i * ldc + first_j]);
    if (out) memcpy(out, C, (c_len - 1) * sizeof *C);
done:
    free(A);
    free(B);
    free(Ar);
    free(Br);
    free(C);
    free(C0);
    free(Cr);
    free(Cf);
    free(bias);
    free(D);
    return bp_test_failures - failures_before;
}

/* Rounding to bf16 by hand-worked values: ties go to the even neighbour, a
   denormal becomes a zero of its sign, infinities stay, NaN stays NaN (quiet),
   and a float just under the largest bf16's rounding boundary rounds up to
   infinity only past it. */
void test_bf16_rounding_by_hand(void)
{
    const struct {
        uint32_t in;
        uint16_t want;
    } cases[] = {
        {0x3F800000u, 0x3F80u}, /* 1 */
        {0x3F808000u, 0x3F80u}, /* 1 + 2^-8: a tie, to even (down) */
        {0x3F818000u, 0x3F82u}, /* 1 + 3 2^-8: a tie, to even (up) */
        {0x3F808001u, 0x3F81u}, /* just past the tie: up */
        {0x3F807FFFu, 0x3F80u}, /* just under it: down */
        {0xBF80C000u, 0xBF81u}, /* -(1 + 2^-7 + 2^-8): up in magnitude */
        {0x00000001u, 0x0000u}, /* the smallest denormal: zero */
        {0x807FFFFFu, 0x8000u}, /* the largest negative denormal: -0 */
        {0x00800000u, 0x0080u}, /* the smallest normal stays */
        {0x7F800000u, 0x7F80u}, /* +inf */
        {0xFF800000u, 0xFF80u}, /* -inf */
        {0x7F7F7FFFu, 0x7F7Fu}, /* under the boundary: the largest finite bf16 */
        {0x7F7F8000u, 0x7F80u}, /* the boundary's tie rounds to even: infinity */
        {0x7F800001u, 0x7FC0u}, /* a signalling NaN comes back quiet */
        {0xFFC12345u, 0xFFC1u}, /* a quiet NaN keeps its sign and top bits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float x;
        memcpy(&x, &cases[i].in, sizeof x);
        const uint16_t got = bp_bf16_from_float(x);
        CHECK(got == cases[i].want, "0x%08x -> 0x%04x, want 0x%04x", (unsigned)cases[i].in, (unsigned)got,
              (unsigned)cases[i].want);
    }
    CHECK(bp_bf16_to_float(0x4049u) == 3.140625f, "0x4049 is %g", (double)bp_bf16_to_float(0x4049u));
}

#if BF16_TEST_X86
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void convert_by_instruction(const float *in, uint16_t *out)
{
    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + 16), _mm512_loadu_ps(in));
    _mm512_storeu_si512((void *)out, both);
}
#endif

/* bp_bf16_from_float against VCVTNE2PS2BF16 on a million bit patterns weighted
   towards the hard ones (denormals, infinities and NaNs, values next to a tie),
   where the CPU has the instruction. */
void test_bf16_rounding_matches_the_instruction(void)
{
#if BF16_TEST_X86
    if (bp_gemm_bf16_resolve(BP_BF16_AVX512) != BP_BF16_AVX512) {
        SKIP("this CPU has no AVX512_BF16 to compare with");
        return;
    }
    uint64_t s = 21;
    size_t bad = 0;
    uint32_t first = 0;
    for (int round = 0; round < 32768; round++) {
        uint32_t bits[32];
        float in[32];
        uint16_t out[32];
        for (int i = 0; i < 32; i++) {
            const uint64_t r = bp_test_next(&s);
            uint32_t u = (uint32_t)r;
            switch ((r >> 40) % 5) {
            case 0: u &= 0x807FFFFFu; break;                                   /* denormal or zero */
            case 1: u |= 0x7F800000u; break;                                   /* infinity or NaN */
            case 2: u = (u & 0x8000FFFFu) | 0x3F800000u | ((r >> 50) & 1u) * 0x8000u; break; /* near ties */
            default: break;
            }
            bits[i] = u;
            memcpy(&in[i], &u, sizeof u);
        }
        convert_by_instruction(in, out);
        for (int i = 0; i < 32; i++)
            if (out[i] != bp_bf16_from_float(in[i]) && bad++ == 0) first = bits[i];
    }
    CHECK(bad == 0, "%zu of a million conversions differ from the instruction, first 0x%08x", bad, (unsigned)first);
#else
    SKIP("not an x86-64 build");
#endif
}

static const size_t bf_dims[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 129};
enum { BF_NDIMS = sizeof bf_dims / sizeof bf_dims[0] };

/* Every kernel of this CPU (the emulation everywhere) on random small shapes,
   every transpose, with wide strides, alpha and beta, and the epilogues. */
void test_bf16_gemm_shapes(void)
{
    uint64_t rng = 31;
    float *workspace = bf_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace) return;
    bp_bf16_kernel kernels[3];
    const int nk = bf_kernels(kernels);
    for (int k = 0; k < nk; k++) {
        for (int t = 0; t < 4; t++) {
            for (int n = 0; n < 25; n++) {
                const bf_case tc = {t & 1, t >> 1, bf_dims[bp_test_next(&rng) % BF_NDIMS],
                                    bf_dims[bp_test_next(&rng) % BF_NDIMS], bf_dims[bp_test_next(&rng) % BF_NDIMS],
                                    (size_t)n % 3 * 5, n % 4 ? 1.0f : -0.75f, n % 3 == 1 ? 0.5f : n % 3 ? 1.0f : 0.0f,
                                    n % 5 == 2 ? 1 : n % 5 == 4 ? 2 : 0};
                if (run_bf_case(&tc, kernels[k], &rng, workspace, NULL, 1)) break; /* one report per combination */
            }
        }
    }
    free(workspace);
}

/* Shapes past every block: K over 384 (two K blocks, the second adding to the
   first) and over 768 (three), M over 32 and 128, N over 1024, and the layers of W1
   (batch 64): against the rounded operands' product (the float one is the
   shapes test's), two transpose combinations per shape, so the test stays
   quick. */
void test_bf16_gemm_blocks(void)
{
    uint64_t rng = 32;
    float *workspace = bf_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace) return;
    static const size_t shapes[][3] = {{64, 256, 784}, {64, 784, 256}, {256, 784, 64}, {129, 513, 545},
                                       {33, 40, 1025}, {200, 600, 33}, {40, 1100, 550}};
    bp_bf16_kernel kernels[3];
    const int nk = bf_kernels(kernels);
    for (int k = 0; k < nk; k++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (int t = (int)(s % 2); t < 4; t += 2) {
                const bf_case tc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], s % 2 * 3,
                                    1.0f, s % 3 == 1 ? 1.0f : 0.0f, (int)(s % 3)};
                run_bf_case(&tc, kernels[k], &rng, workspace, NULL, 0);
            }
        }
    }
    free(workspace);
}

/* The products of a W3 training step (784-1024-1024-10, batch 256) at their
   real sizes, where the blocking is tuned: the forward with bias and ReLU,
   the delta with g', the SGD update adding to C (beta 1), against the rounded
   operands' product. The fastest kernel of this CPU only (the emulation would
   take seconds; the shapes test covers it). */
void test_bf16_gemm_w3_sizes(void)
{
    bp_bf16_kernel kernels[3];
    const int nk = bf_kernels(kernels);
    if (nk == 1) {
        SKIP("this CPU has no bf16 instructions");
        return;
    }
    uint64_t rng = 34;
    float *workspace = bf_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace) return;
    const bf_case cases[] = {
        {0, 1, 256, 1024, 784, 0, 1.0f, 0.0f, 1},      /* z^1 = x W^T + b, ReLU */
        {0, 1, 256, 1024, 1024, 0, 1.0f, 0.0f, 1},     /* z^2 */
        {0, 0, 256, 1024, 1024, 0, 1.0f, 0.0f, 2},     /* delta^1 = delta^2 W (.) g' */
        {1, 0, 1024, 1024, 256, 0, -0.001f, 1.0f, 0},  /* W^2 -= lr delta^T a */
        {1, 0, 1024, 784, 256, 0, -0.001f, 1.0f, 0},   /* W^1 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        run_bf_case(&cases[c], kernels[nk - 1], &rng, workspace, NULL, 0);
    free(workspace);
}

/* Zero sizes, alpha == 0 and K == 0: C = beta C (zeros over NaN when beta is 0)
   and the epilogue, A and B unread; M or N zero touches nothing. */
void test_bf16_gemm_degenerate(void)
{
    uint64_t rng = 33;
    float *workspace = bf_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace) return;
    bp_bf16_kernel kernels[3];
    const int nk = bf_kernels(kernels);
    for (int k = 0; k < nk; k++) {
        const bf_case cases[] = {
            {0, 0, 5, 7, 0, 1, 1.0f, 0.0f, 0}, {1, 1, 5, 7, 0, 2, 1.0f, 0.5f, 1}, {0, 1, 9, 33, 20, 0, 0.0f, 0.5f, 2},
            {1, 0, 0, 7, 5, 1, 1.0f, 0.0f, 0}, {0, 0, 5, 0, 5, 3, 1.0f, 0.0f, 0},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            run_bf_case(&cases[c], kernels[k], &rng, workspace, NULL, 1);
    }
    free(workspace);
}

/* The AVX512_BF16 kernel and the portable emulation add the same products in
   the same order and store them by the same rule, from the same packing (the
   vector packers and the portable ones must write the same bytes): equal bits
   on every shape, every transpose, every epilogue. */
void test_bf16_avx512_matches_the_emulation(void)
{
    if (bp_gemm_bf16_resolve(BP_BF16_AVX512) != BP_BF16_AVX512) {
        SKIP("this CPU has no AVX512_BF16");
        return;
    }
    uint64_t rng = 34;
    float *workspace = bf_workspace();
    CHECK(workspace != NULL, "out of memory");
    if (!workspace) return;
    static const size_t shapes[][3] = {{1, 1, 1}, {17, 33, 31}, {31, 17, 65}, {40, 47, 600},
                                       {129, 100, 64}, {64, 130, 33}, {65, 520, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int t = 0; t < 4; t++) {
            const bf_case tc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], (size_t)t,
                                t == 2 ? -1.5f : 1.0f, t == 1 ? 0.25f : t == 3 ? 1.0f : 0.0f, (int)(s % 3)};
            const size_t len = tc.M * (tc.N + tc.pad);
            float *emulated = malloc((len + 1) * sizeof(float)), *vector = malloc((len + 1) * sizeof(float));
            CHECK(emulated && vector, "out of memory");
            if (emulated && vector) {
                uint64_t r1 = rng, r2 = rng; /* the same operands for both */
                run_bf_case(&tc, BP_BF16_EMULATED, &r1, workspace, emulated, 0);
                run_bf_case(&tc, BP_BF16_AVX512, &r2, workspace, vector, 0);
                rng = r1;
                CHECK(memcmp(emulated, vector, len * sizeof(float)) == 0,
                      "ta %d tb %d %zu x %zu x %zu: AVX512_BF16 and the emulation differ", tc.ta, tc.tb, tc.M, tc.N,
                      tc.K);
            }
            free(emulated);
            free(vector);
        }
    }
    free(workspace);
}

/* Each kernel gives the same bits for one thread and for teams of 2 and 3,
   on shapes cut by columns and by rows, with slices ending inside a step. */
void test_bf16_team_matches_one_thread(void)
{
    static const size_t shapes[][3] = {{64, 256, 784}, {256, 784, 64}, {300, 70, 200}, {70, 300, 200},
                                       {130, 130, 130}, {1000, 40, 100}};
    uint64_t rng = 35;
    float *work[3] = {bf_workspace(), bf_workspace(), bf_workspace()};
    CHECK(work[0] && work[1] && work[2], "out of memory");
    bp_bf16_kernel kernels[3];
    const int nk = bf_kernels(kernels);
    for (int threads = 2; threads <= 3 && work[0] && work[1] && work[2]; threads++) {
        bp_pool *pool = bp_pool_create(threads);
        CHECK(pool != NULL, "no pool");
        if (!pool) continue;
        for (int k = 0; k < nk; k++) {
            int cut = 0;
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                const int ta = (int)(s % 2), tb = (int)(s / 2 % 2);
                const size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                const size_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
                float *A = malloc((ta ? K : M) * lda * sizeof(float)), *B = malloc((tb ? N : K) * ldb * sizeof(float));
                float *C1 = malloc(M * ldc * sizeof(float)), *Ct = malloc(M * ldc * sizeof(float));
                float *bias = malloc(N * sizeof(float));
                CHECK(A && B && C1 && Ct && bias, "out of memory");
                if (A && B && C1 && Ct && bias) {
                    for (size_t i = 0; i < (ta ? K : M) * lda; i++) A[i] = bf_float(&rng);
                    for (size_t i = 0; i < (tb ? N : K) * ldb; i++) B[i] = bf_float(&rng);
                    for (size_t i = 0; i < M * ldc; i++) C1[i] = Ct[i] = bf_float(&rng);
                    for (size_t j = 0; j < N; j++) bias[j] = bf_float(&rng);
                    const bp_gemm_epilogue e = {bias, BP_EPI_RELU, BP_EPI_NONE, NULL, 0, 0.0f};
                    const bp_gemm_team one = {NULL, work, (int)kernels[k]}, team = {pool, work, (int)kernels[k]};
                    const float beta = s % 3 ? 0.5f : 0.0f;
                    bp_gemm_team_ex(&one, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C1, ldc, s % 2 ? &e : NULL);
                    bp_gemm_team_ex(&team, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, Ct, ldc, s % 2 ? &e : NULL);
                    CHECK(memcmp(C1, Ct, M * ldc * sizeof(float)) == 0, "%s, %d threads, %zu x %zu x %zu: differs",
                          bp_gemm_bf16_kernel_name(kernels[k]), threads, M, N, K);
                    int split_n;
                    size_t step;
                    cut += bp_gemm_team_plan_bf16(threads, M, N, K, &split_n, &step) > 1;
                }
                free(A);
                free(B);
                free(C1);
                free(Ct);
                free(bias);
            }
            /* Every shape is large enough to be cut, or the comparison proves nothing. */
            CHECK(cut == (int)(sizeof shapes / sizeof shapes[0]), "%d threads cut only %d products", threads, cut);
        }
        bp_pool_free(pool);
    }
    for (int t = 0; t < 3; t++) free(work[t]);
}

#if BF16_TEST_X86
/* XGETBV with ECX = 1: the state components in use on this thread (XINUSE). */
static uint64_t xinuse(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
    return ((uint64_t)hi << 32) | lo;
}
#endif

/* An AMX product leaves the thread without tile data in use: the tiles were
   released (XINUSE bit 18 clear afterwards). */
void test_bf16_amx_releases_the_tiles(void)
{
#if BF16_TEST_X86
    if (bp_gemm_bf16_resolve(BP_BF16_AMX) != BP_BF16_AMX) {
        SKIP("this CPU (or the kernel) gives no AMX tiles");
        return;
    }
    float *workspace = bf_workspace();
    float A[64 * 40], B[40 * 48], C[64 * 48];
    uint64_t rng = 36;
    CHECK(workspace != NULL, "out of memory");
    if (!workspace) return;
    for (size_t i = 0; i < sizeof A / sizeof *A; i++) A[i] = bf_float(&rng);
    for (size_t i = 0; i < sizeof B / sizeof *B; i++) B[i] = bf_float(&rng);
    bp_gemm_bf16_ex(BP_BF16_AMX, 0, 0, 64, 48, 40, 1.0f, A, 40, B, 48, 0.0f, C, 48, workspace, NULL);
    CHECK((xinuse() & (1u << 18)) == 0, "tile data still in use after the product");
    CHECK(C[0] == C[0], "the product gave NaN");
    free(workspace);
#else
    SKIP("not an x86-64 build");
#endif
}

/* The names say which kernel runs; BP_BF16_BEST is one of those this CPU has. */
void test_bf16_kernel_names(void)
{
    const bp_bf16_kernel best = bp_gemm_bf16_resolve(BP_BF16_BEST);
    CHECK(best == BP_BF16_NONE || best == BP_BF16_AMX || best == BP_BF16_AVX512, "best is %d", (int)best);
    CHECK(bp_gemm_bf16_resolve(BP_BF16_EMULATED) == BP_BF16_EMULATED, "the emulation is always there");
    CHECK(strcmp(bp_gemm_bf16_kernel_name(BP_BF16_BEST), bp_gemm_bf16_kernel_name(best)) == 0, "names differ");
    CHECK(strstr(bp_gemm_bf16_kernel_name(BP_BF16_AMX), "AMX") != NULL, "AMX's name");
    if (best == BP_BF16_AMX) CHECK(bp_gemm_bf16_resolve(BP_BF16_AVX512) == BP_BF16_AVX512, "AMX without AVX512_BF16");
}
