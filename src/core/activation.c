/*
 * activation.c - the activations over a batch (see activation.h): loops over
 * bp_g and bp_g_prime, and softmax, which couples a row's units.
 */
#include <math.h>

#include "activation.h"
#include "kernels/fastmath.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(BP_NO_SIMD)
#define SOFTMAX_WIDE 1
#endif

#ifdef SOFTMAX_WIDE
#include <immintrin.h>

/* bp_fast_expf_block in sixteen lanes, for CPUs with AVX-512F: the operations of
   bp_fast_expf_number one for one, in the same order and each rounded on its own (no
   FMA; the Makefile also builds this file with -ffp-contract=off, against clang), so
   the bits are the same as the portable loop's four lanes (SSE2). Written with
   intrinsics because GCC does not vectorize fastmath.h's loop for AVX: its floor
   becomes a branch. floor(t) is the scalar's truncation corrected for negative t, and NaN goes
   through as there: a 0 in its place, and the NaN itself written back. */
static __attribute__((noinline, target("avx512f"))) void exp_block_wide(float *restrict x, size_t n)
{
    const size_t n16 = n & ~(size_t)15;
    for (size_t i = 0; i < n16; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        const __mmask16 number = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        __m512 y = _mm512_maskz_mov_ps(number, v);
        y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
        const __m512 t = _mm512_add_ps(_mm512_mul_ps(y, _mm512_set1_ps(1.44269504088896341f)), _mm512_set1_ps(0.5f));
        const __m512 fn = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        const __m512 r = _mm512_sub_ps(_mm512_sub_ps(y, _mm512_mul_ps(fn, _mm512_set1_ps(0.693145751953125f))),
                                       _mm512_mul_ps(fn, _mm512_set1_ps(1.428606765330187e-06f)));
        const __m512 r2 = _mm512_mul_ps(r, r), r4 = _mm512_mul_ps(r2, r2);
        const __m512 p01 = _mm512_add_ps(_mm512_set1_ps(1.0f), r);
        const __m512 p23 = _mm512_add_ps(_mm512_set1_ps(0.5f), _mm512_mul_ps(r, _mm512_set1_ps(1.0f / 6.0f)));
        const __m512 p45 = _mm512_add_ps(_mm512_set1_ps(1.0f / 24.0f), _mm512_mul_ps(r, _mm512_set1_ps(1.0f / 120.0f)));
        const __m512 high = _mm512_mul_ps(r4, _mm512_add_ps(p45, _mm512_mul_ps(r2, _mm512_set1_ps(1.0f / 720.0f))));
        const __m512 p = _mm512_add_ps(_mm512_add_ps(p01, _mm512_mul_ps(r2, p23)), high);
        const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fn), _mm512_set1_epi32(127)), 23);
        const __m512 e = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
        _mm512_storeu_ps(x + i, _mm512_mask_blend_ps(number, v, e));
    }
    for (size_t i = n16; i < n; i++) x[i] = bp_fast_expf(x[i]);
}
#endif

/* Softmax in three passes over the batch rather than three per row, so that the
   exponentials, most of the work, run as one vectorized loop over all m n values
   (rows of 10 are too short to vectorize one by one); bp_fast_expf's few-ulp error is
   far below what float32 training can see (tests/test_fastmath.c bounds it). z and a
   may be the same array. First pass: a = z - max of the row, which keeps exp() from
   overflowing (log-sum-exp). */
static void softmax_shift(const float *z, float *a, size_t m, size_t n)
{
    for (size_t s = 0; s < m; s++) {
        const float *zr = z + s * n;
        float *ar = a + s * n;
        float max = zr[0];
        for (size_t i = 1; i < n; i++) max = zr[i] > max ? zr[i] : max;
        for (size_t i = 0; i < n; i++) ar[i] = zr[i] - max;
    }
}

/* Last pass: each row of exponentials divided by its sum (summed in double). */
static void softmax_scale(float *a, size_t m, size_t n)
{
    for (size_t s = 0; s < m; s++) {
        float *ar = a + s * n;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += ar[i];
        float inv = (float)(1.0 / sum);
        for (size_t i = 0; i < n; i++) ar[i] *= inv;
    }
}

#ifdef SOFTMAX_WIDE
/* The three passes with AVX-512F. Rows of up to 16 units go eight at a time, one row
   per lane: a gather reads unit i of the eight rows, so each row's maximum and its
   sum (in double) run in that row's lane, in the scalar loops' order and with their
   operations (the maximum as zr[i] > max ? zr[i] : max, which is maxps(zr[i], max)),
   and the same bits come out; the subtraction and the scaling then run over the block's
   8 n contiguous values, each lane fetching its row's number by a permutation. The last
   m mod 8 rows, and rows of more than 16, take the scalar passes. */
static __attribute__((noinline, target("avx512f"))) void softmax_wide(const float *z, float *a, size_t m, size_t n)
{
    const size_t m8 = n <= 16 ? m & ~(size_t)7 : 0, block = 8 * n, pieces = (block + 15) / 16;
    /* Lane k of a gather reads row k of a block; value j of a block belongs to row j / n. */
    const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)n));
    __m512i owner[8];
    __mmask16 live[8];
    for (size_t v = 0; v < pieces && m8 > 0; v++) {
        int32_t row[16];
        for (size_t j = 0; j < 16; j++) row[j] = (int32_t)((16 * v + j) / n < 8 ? (16 * v + j) / n : 7);
        owner[v] = _mm512_loadu_si512(row);
        live[v] = block - 16 * v >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (block - 16 * v)) - 1);
    }
    for (size_t s = 0; s < m8; s += 8) {
        const float *zb = z + s * n;
        float *ab = a + s * n;
        __m256 max = _mm256_i32gather_ps(zb, rows, 4);
        for (size_t i = 1; i < n; i++) max = _mm256_max_ps(_mm256_i32gather_ps(zb + i, rows, 4), max);
        const __m512 max16 = _mm512_castps256_ps512(max);
        for (size_t v = 0; v < pieces; v++) {
            const __m512 zv = _mm512_maskz_loadu_ps(live[v], zb + 16 * v);
            _mm512_mask_storeu_ps(ab + 16 * v, live[v], _mm512_sub_ps(zv, _mm512_permutexvar_ps(owner[v], max16)));
        }
    }
    /* The scalar passes below are SSE code, as is what runs after this function: with
       the registers' upper halves left dirty every SSE instruction would wait on them,
       and GCC does not clear them before these calls by itself (measured: the loss that
       follows ran at a quarter of its speed, libm's log included). */
    _mm256_zeroupper();
    softmax_shift(z + m8 * n, a + m8 * n, m - m8, n);
    exp_block_wide(a, m * n);
    for (size_t s = 0; s < m8; s += 8) {
        float *ab = a + s * n;
        __m512d sum = _mm512_setzero_pd();
        for (size_t i = 0; i < n; i++) sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm256_i32gather_ps(ab + i, rows, 4)));
        const __m512 inv = _mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_div_pd(_mm512_set1_pd(1.0), sum)));
        for (size_t v = 0; v < pieces; v++) {
            const __m512 av = _mm512_maskz_loadu_ps(live[v], ab + 16 * v);
            _mm512_mask_storeu_ps(ab + 16 * v, live[v], _mm512_mul_ps(av, _mm512_permutexvar_ps(owner[v], inv)));
        }
    }
    _mm256_zeroupper();
    softmax_scale(a + m8 * n, m - m8, n);
}
#endif

void bp_softmax_rows(const float *z, float *a, size_t m, size_t n, int portable)
{
#ifdef SOFTMAX_WIDE
    /* Asked per call, as gemm.c asks for its kernels (no cached answer, no global state). */
    if (!portable && __builtin_cpu_supports("avx512f")) {
        softmax_wide(z, a, m, n);
        return;
    }
#endif
    (void)portable;
    softmax_shift(z, a, m, n);
    bp_fast_expf_block(a, m * n);
    softmax_scale(a, m, n);
}

void bp_activation_forward(bp_activation g, const float *z, float *a, size_t m, size_t n)
{
    const size_t count = m * n;
    /* One loop per kind, so that each loop body is bp_g with g a constant. */
    switch (g) {
    case BP_ACT_IDENTITY:
        if (a != z)
            for (size_t i = 0; i < count; i++) a[i] = z[i];
        break;
    case BP_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_SIGMOID, z[i]);
        break;
    case BP_ACT_TANH:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_TANH, z[i]);
        break;
    case BP_ACT_RELU:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_RELU, z[i]);
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) a[i] = bp_g(BP_ACT_LEAKY_RELU, z[i]);
        break;
    case BP_ACT_SOFTMAX:
        bp_softmax_rows(z, a, m, n, 0);
        break;
    }
}

/* J^T d for softmax, row by row: J = diag(a) - a a^T is symmetric, so
   J^T d = a (.) (d - <a, d>). */
static void softmax_backward(const float *a, float *delta, size_t m, size_t n)
{
    for (size_t s = 0; s < m; s++) {
        const float *ar = a + s * n;
        float *dr = delta + s * n;
        double dot = 0.0;
        for (size_t i = 0; i < n; i++) dot += (double)ar[i] * dr[i];
        for (size_t i = 0; i < n; i++) dr[i] = ar[i] * (dr[i] - (float)dot);
    }
}

void bp_activation_backward(bp_activation g, const float *a, float *delta, size_t m, size_t n)
{
    const size_t count = m * n;
    switch (g) {
    case BP_ACT_IDENTITY:
        break;
    case BP_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) delta[i] *= bp_g_prime(BP_ACT_SIGMOID, a[i]);
        break;
    case BP_ACT_TANH:
        for (size_t i = 0; i < count; i++) delta[i] *= bp_g_prime(BP_ACT_TANH, a[i]);
        break;
    case BP_ACT_RELU:
        /* A select, not a product: a NaN upstream of a dead unit stays out. */
        for (size_t i = 0; i < count; i++) delta[i] = a[i] > 0.0f ? delta[i] : 0.0f;
        break;
    case BP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) delta[i] *= bp_g_prime(BP_ACT_LEAKY_RELU, a[i]);
        break;
    case BP_ACT_SOFTMAX:
        softmax_backward(a, delta, m, n);
        break;
    }
}
