/*
 * gemm.c - the blocked single-precision GEMM behind bp_gemm, and its naive twin.
 *
 * The structure is GotoBLAS/BLIS: a KC x NC panel of op(B) and an MC x KC block
 * of op(A) are copied ("packed") into the workspace in the exact order the
 * micro-kernel reads them, and the micro-kernel computes an MR x NR tile of C
 * from a sliver of each. Packing is where the transposes are dealt with and
 * where edge tiles are padded with zeros, so the micro-kernel has one layout,
 * one shape and no tail code. Two micro-kernels share that shape: portable C
 * that compilers vectorize on their own, and AVX2+FMA intrinsics picked at run
 * time on x86 CPUs that have them. On CPUs with AVX-512F, a third kernel
 * (gemm_avx512.c) takes tiles of up to 12 x 32, two slivers of each operand at a
 * time, wherever the block has a second B sliver (computing only the valid rows
 * of a partly filled last A sliver), and the AVX2 kernel does the rest.
 * Small products skip the copy for an operand that already has the slivers'
 * shape in memory (B, A^T, and A's rows for the AVX-512 kernel) and hand the
 * kernels its strides instead (in_place_a, in_place_b); the sums are the same.
 *
 * Threads (bp_gemm_team_ex, at the end) split C, never K, so no element's sum
 * depends on the thread count.
 *
 * Left out on purpose: other CPU families' intrinsics
 * (the portable kernel vectorizes for them), and per-CPU tuning of the block
 * sizes, which are fixed so that the workspace size is a constant.
 */
#include "gemm.h"
#include "gemm_bf16.h"
#include "gemm_kernel.h"
#include "pool.h"

#ifdef BP_OPENBLAS
#include <cblas.h>
#endif

#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) \
    && !defined(BP_NO_SIMD)
#define BP_GEMM_AVX2 1
#include <immintrin.h>
#else
#define BP_GEMM_AVX2 0
#endif

/* MR x NR = 6 x 16 fills AVX2's register file: 12 accumulators of 8 floats,
   two vectors of B and one broadcast of A, 15 of the 16 ymm registers. Twelve
   independent FMA chains also cover the FMA latency on current x86 cores.
   KC = 256 keeps one 16 x 256 sliver of B (16 KiB) in L1 next to a 6 x 256
   sliver of A; the 96 x 256 block of A (96 KiB) sits in L2. The KC x NC panel of
   B (1 MiB) only needs to stay in L3: what NC decides is how often A is re-packed
   (N / NC times). NC = 1024 packs A once for every layer up to 1024 wide; against
   NC = 256 it measured 0.82-0.87x -> 0.89-0.98x of OpenBLAS on square 1024 and
   0.90-0.93x -> 0.95-1.00x on W3's shapes, in interleaved runs. */
enum { MR = BP_MR, NR = BP_NR, KC = 256, MC = 96, NC = 1024, ALIGN_FLOATS = 16 };

_Static_assert(BP_GEMM_WORKSPACE_FLOATS == KC * NC + MC * KC + ALIGN_FLOATS,
               "gemm.h's BP_GEMM_WORKSPACE_FLOATS must match the blocking in gemm.c");
_Static_assert(MC % MR == 0 && NC % NR == 0, "blocks are whole numbers of tiles");
_Static_assert(BP_GEMM_BF16_WORKSPACE_BYTES <= BP_GEMM_WORKSPACE_FLOATS * sizeof(float),
               "a team's workspaces serve its bf16 products too");
_Static_assert((KC * NC) % ALIGN_FLOATS == 0, "packed A starts 64-byte aligned");

/* With fewer rows than this, packing op(B) costs about as much as the
   arithmetic (each packed float serves fewer than four rows) and a 6-row tile
   is mostly padding, so bp_gemm goes straight to the loops in gemm_small. */
#define SMALL_M 4

/* GCC 12 at -O2 vectorizes the small loops below as separate functions but
   leaves them scalar once they are inlined into gemm_small (measured; the
   restrict on their parameters seems not to survive, and -O2 will not pay for
   a run-time overlap check), hence noinline. */
#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

typedef bp_tile_dest tile_dest; /* gemm_kernel.h */

typedef void (*micro_kernel)(size_t kc, const float *restrict a, const float *restrict b,
                             const bp_sliver_steps *steps, const tile_dest *dest);

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* y += a[0] x0 + a[1] x1 + a[2] x2 + a[3] x3. Four rows of B per pass over
   the C row cut its loads and stores, and the chain of updates through memory
   that limits a one-row axpy, by four. The main loop's trip count is visibly
   a multiple of 8 because GCC's -O2 cost model vectorizes only loops that need
   no scalar epilogue. */
NOINLINE static void axpy4(size_t n, const float a[4], const float *restrict x0,
                           const float *restrict x1, const float *restrict x2,
                           const float *restrict x3, float *restrict y)
{
    const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    const size_t n8 = n & ~(size_t)7;
    size_t j = 0;
    for (; j < n8; j++) y[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
    for (; j < n; j++) y[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
}

NOINLINE static void axpy(size_t n, float a, const float *restrict x, float *restrict y)
{
    const size_t n8 = n & ~(size_t)7;
    size_t j = 0;
    for (; j < n8; j++) y[j] += a * x[j];
    for (; j < n; j++) y[j] += a * x[j];
}

/* Eight partial sums, so that the loop is eight independent lanes rather
   than one serial sum, which compilers may not vectorize without permission
   to reassociate. */
NOINLINE static float dot(size_t n, const float *restrict x, const float *restrict y)
{
    float partial[8] = {0};
    const size_t n8 = n & ~(size_t)7;
    size_t p = 0;
    for (; p < n8; p += 8)
        for (size_t u = 0; u < 8; u++) partial[u] += x[p + u] * y[p + u];
    float sum = 0.0f;
    for (; p < n; p++) sum += x[p] * y[p];
    for (size_t u = 0; u < 8; u++) sum += partial[u];
    return sum;
}

/* Few rows (M < SMALL_M), no packing, every inner loop over contiguous
   memory. With op(B) = B, row i of C accumulates rows of B. With op(B) = B^T,
   C[i][j] is a dot product of row i of A with row j of B, which only works
   when op(A) = A; bp_gemm packs the case where both are transposed. */
static void gemm_small(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb,
                       float beta, float *C, size_t ldc)
{
    if (trans_b) {
        for (size_t i = 0; i < M; i++) {
            for (size_t j = 0; j < N; j++) {
                float *c = &C[i * ldc + j];
                float ab = alpha * dot(K, A + i * lda, B + j * ldb);
                *c = beta == 0.0f ? ab : ab + beta * *c;
            }
        }
        return;
    }
    bp_gemm_scale(M, N, beta, C, ldc, NULL);
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        size_t p = 0;
        for (; p + 4 <= K; p += 4) {
            float a[4];
            for (size_t u = 0; u < 4; u++)
                a[u] = alpha * (trans_a ? A[(p + u) * lda + i] : A[i * lda + p + u]);
            axpy4(N, a, B + p * ldb, B + (p + 1) * ldb, B + (p + 2) * ldb, B + (p + 3) * ldb, c);
        }
        for (; p < K; p++)
            axpy(N, alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]), B + p * ldb, c);
    }
}

#if BP_GEMM_AVX2
/* An 8 x 8 transpose in registers, in place: r[i] holds row i before and column i
   after. The usual three rounds of unpack / shuffle / 128-bit permute; shared by
   both packs below, which differ only in what they load and where they store. */
__attribute__((target("avx2")))
static inline void transpose8x8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Eight k of one full A sliver from six rows of A (op(A) = A): two zero rows make
   the 6 x 8 block 8 x 8, and each column of six is stored with an 8-float store
   that the next column partly overwrites; the last is stored as 4 + 2 so nothing
   past the eight columns is touched. */
__attribute__((target("avx2")))
static void pack_a_rows8(const float *r0, size_t lda, float *d)
{
    /* Written out rather than looped: GCC -O2 keeps the array in registers then. */
    __m256 r[8] = {_mm256_loadu_ps(r0), _mm256_loadu_ps(r0 + lda), _mm256_loadu_ps(r0 + 2 * lda),
                   _mm256_loadu_ps(r0 + 3 * lda), _mm256_loadu_ps(r0 + 4 * lda), _mm256_loadu_ps(r0 + 5 * lda),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
    transpose8x8(r);
    _mm256_storeu_ps(d + 0 * MR, r[0]), _mm256_storeu_ps(d + 1 * MR, r[1]);
    _mm256_storeu_ps(d + 2 * MR, r[2]), _mm256_storeu_ps(d + 3 * MR, r[3]);
    _mm256_storeu_ps(d + 4 * MR, r[4]), _mm256_storeu_ps(d + 5 * MR, r[5]);
    _mm256_storeu_ps(d + 6 * MR, r[6]);
    _mm_storeu_ps(d + 7 * MR, _mm256_castps256_ps128(r[7]));
    _mm_storel_pi((__m64 *)(void *)(d + 7 * MR + 4), _mm256_extractf128_ps(r[7], 1));
}
#endif

/* With K this small (a weight gradient at batch 1 to 3 is a rank-1 to rank-3
   update of W), each packed panel would be used for K steps only and every
   tile of C read and written for as little: row by row, C's row is scaled by
   beta and gets K axpys of B's rows, all contiguous. */
#define SMALL_K 4

static void gemm_thin(int trans_a, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                      const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    bp_gemm_scale(M, N, beta, C, ldc, NULL);
    for (size_t i = 0; i < M; i++)
        for (size_t p = 0; p < K; p++)
            axpy(N, alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]), B + p * ldb, C + i * ldc);
}

/* Packs rows [ic, ic+mc) and columns [pc, pc+kc) of op(A) as MR-row slivers,
   each stored column after column (MR floats per k), rows past mc set to zero. */
static void pack_a(int trans_a, const float *A, size_t lda, size_t ic, size_t pc,
                   size_t mc, size_t kc, float *restrict dst, int avx2)
{
    (void)avx2;
    if (trans_a) {
        /* A^T's columns are A's rows: for each k, row k of A holds MR adjacent
           floats of every sliver. Going k by k reads each row once, in order,
           instead of 16 times in 24-byte pieces. */
        const size_t full = mc / MR * MR;
        for (size_t p = 0; p < kc; p++) {
            const float *src = A + (pc + p) * lda + ic;
            for (size_t ir = 0; ir < full; ir += MR)
                memcpy(dst + ir * kc + p * MR, src + ir, MR * sizeof(float));
            if (full < mc) {
                float *d = dst + full * kc + p * MR;
                for (size_t i = 0; i < MR; i++) d[i] = full + i < mc ? src[full + i] : 0.0f;
            }
        }
        return;
    }
    for (size_t ir = 0; ir < mc; ir += MR) {
        size_t mr = min_size(MR, mc - ir);
        float *d = dst + ir * kc;
        if (mr == MR) {
            /* Six row streams read side by side, so the sliver is written in order
               (writing one row at a time strides through it six floats apart, which
               measured about twice as slow). */
            const float *r0 = A + (ic + ir) * lda + pc, *r1 = r0 + lda, *r2 = r1 + lda,
                        *r3 = r2 + lda, *r4 = r3 + lda, *r5 = r4 + lda;
            size_t p = 0;
#if BP_GEMM_AVX2
            if (avx2)
                for (; p + 8 <= kc; p += 8, d += 8 * MR) pack_a_rows8(r0 + p, lda, d);
#endif
            for (; p < kc; p++, d += MR) {
                d[0] = r0[p], d[1] = r1[p], d[2] = r2[p];
                d[3] = r3[p], d[4] = r4[p], d[5] = r5[p];
            }
        } else {
            for (size_t i = 0; i < mr; i++) {
                const float *src = A + (ic + ir + i) * lda + pc;
                for (size_t p = 0; p < kc; p++) d[p * MR + i] = src[p];
            }
            for (size_t i = mr; i < MR; i++)
                for (size_t p = 0; p < kc; p++) d[p * MR + i] = 0.0f;
        }
    }
}

#if BP_GEMM_AVX2
/* One 8 x 8 block of the transposed pack: rows j0..j0+7 of B (8 floats each, from
   k = p) become rows p..p+7 of the sliver (8 floats each at column j0). */
__attribute__((target("avx2")))
static void transpose8(const float *src, size_t ldb, float *d)
{
    __m256 r[8] = {_mm256_loadu_ps(src), _mm256_loadu_ps(src + ldb), _mm256_loadu_ps(src + 2 * ldb),
                   _mm256_loadu_ps(src + 3 * ldb), _mm256_loadu_ps(src + 4 * ldb), _mm256_loadu_ps(src + 5 * ldb),
                   _mm256_loadu_ps(src + 6 * ldb), _mm256_loadu_ps(src + 7 * ldb)};
    transpose8x8(r);
    _mm256_storeu_ps(d + 0 * NR, r[0]), _mm256_storeu_ps(d + 1 * NR, r[1]);
    _mm256_storeu_ps(d + 2 * NR, r[2]), _mm256_storeu_ps(d + 3 * NR, r[3]);
    _mm256_storeu_ps(d + 4 * NR, r[4]), _mm256_storeu_ps(d + 5 * NR, r[5]);
    _mm256_storeu_ps(d + 6 * NR, r[6]), _mm256_storeu_ps(d + 7 * NR, r[7]);
}
#endif

/* Packs rows [pc, pc+kc) and columns [jc, jc+nc) of op(B) as NR-column
   slivers, each stored row after row (NR floats per k), columns past nc set to
   zero. Every sliver row is 64 bytes and starts on a 64-byte boundary. */
static void pack_b(int trans_b, const float *B, size_t ldb, size_t pc, size_t jc,
                   size_t kc, size_t nc, float *restrict dst, int avx2)
{
    (void)avx2;
    for (size_t jr = 0; jr < nc; jr += NR) {
        size_t nr = min_size(NR, nc - jr);
        float *d = dst + jr * kc;
        if (trans_b && nr == NR) {
            /* B^T's rows are B's columns. Going 8 k at a time reads 16 short
               runs of B and writes 8 whole sliver rows instead of scattering
               single floats 64 bytes apart (measured about twice as fast);
               a batch times a row-major W^T packs this way on every call. */
            const float *src = B + (jc + jr) * ldb + pc;
            size_t p = 0;
#if BP_GEMM_AVX2
            if (avx2)
                for (; p + 8 <= kc; p += 8) {
                    transpose8(src + p, ldb, d + p * NR);
                    transpose8(src + 8 * ldb + p, ldb, d + p * NR + 8);
                }
#endif
            for (; p + 8 <= kc; p += 8)
                for (size_t j = 0; j < NR; j++)
                    for (size_t u = 0; u < 8; u++) d[(p + u) * NR + j] = src[j * ldb + p + u];
            for (; p < kc; p++)
                for (size_t j = 0; j < NR; j++) d[p * NR + j] = src[j * ldb + p];
        } else if (trans_b) {
            for (size_t j = 0; j < nr; j++) {
                const float *src = B + (jc + jr + j) * ldb + pc;
                for (size_t p = 0; p < kc; p++) d[p * NR + j] = src[p];
            }
            for (size_t j = nr; j < NR; j++)
                for (size_t p = 0; p < kc; p++) d[p * NR + j] = 0.0f;
        } else if (nr == NR) {
            /* A fixed-size memcpy is inlined as two vector moves; the plain loop
               was turned into a call to memmove per 64 bytes (measured: 6% of W3). */
            for (size_t p = 0; p < kc; p++)
                memcpy(d + p * NR, B + (pc + p) * ldb + jc + jr, NR * sizeof(float));
        } else {
            for (size_t p = 0; p < kc; p++) {
                const float *src = B + (pc + p) * ldb + jc + jr;
                for (size_t j = 0; j < nr; j++) d[p * NR + j] = src[j];
                for (size_t j = nr; j < NR; j++) d[p * NR + j] = 0.0f;
            }
        }
    }
}

/* Writes the valid m x n corner of a finished tile: C = alpha tile + beta C.
   The full-tile branch has constant trip counts so that it vectorizes. */
static inline void store_tile(const float *restrict tile, const tile_dest *dest)
{
    float *restrict C = dest->C;
    const size_t ldc = dest->ldc, m = dest->m, n = dest->n;
    const float alpha = dest->alpha, beta = dest->beta;
    if (m == MR && n == NR) {
        for (size_t i = 0; i < MR; i++) {
            float *c = C + i * ldc;
            const float *t = tile + i * NR;
            if (beta == 0.0f)
                for (size_t j = 0; j < NR; j++) c[j] = alpha * t[j];
            else
                for (size_t j = 0; j < NR; j++) c[j] = alpha * t[j] + beta * c[j];
            if (dest->epi) bp_epilogue_row(dest->epi, c, dest->row + i, dest->col, NR);
        }
        return;
    }
    for (size_t i = 0; i < m; i++) {
        float *c = C + i * ldc;
        const float *t = tile + i * NR;
        if (beta == 0.0f)
            for (size_t j = 0; j < n; j++) c[j] = alpha * t[j];
        else
            for (size_t j = 0; j < n; j++) c[j] = alpha * t[j] + beta * c[j];
        if (dest->epi) bp_epilogue_row(dest->epi, c, dest->row + i, dest->col, n);
    }
}

/* The portable micro-kernel: fixed MR x NR loops over a local accumulator
   array, which GCC and clang turn into vector multiply-adds at -O2/-O3. */
static void kernel_portable(size_t kc, const float *restrict a, const float *restrict b,
                            const bp_sliver_steps *steps, const tile_dest *dest)
{
    _Alignas(64) float acc[MR * NR] = {0};
    for (size_t p = 0; p < kc; p++) {
        const float *ap = a + p * steps->a_k, *bp = b + p * steps->b_k;
        for (size_t i = 0; i < MR; i++) {
            const float ai = ap[i];
            for (size_t j = 0; j < NR; j++) acc[i * NR + j] += ai * bp[j];
        }
    }
    store_tile(acc, dest);
}

#if BP_GEMM_AVX2
/* The same tile with the accumulators pinned in registers: per k, two loads
   of B, six broadcasts of A and twelve FMAs. Inlined twice by kernel_avx2:
   with the packed strides as constants, and with strides read in place. */
__attribute__((target("avx2,fma")))
static inline __attribute__((always_inline)) void avx2_tile(size_t kc, const float *restrict a,
                                                            const float *restrict b, const size_t a_k,
                                                            const size_t b_k, const tile_dest *dest)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    /* Ask for the tile of C now, so it is in L1 when the k loop ends. */
    for (size_t i = 0; i < dest->m; i++) {
        _mm_prefetch((const char *)(dest->C + i * dest->ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(dest->C + i * dest->ldc + NR - 1), _MM_HINT_T0);
    }
    for (size_t p = 0; p < kc; p++) {
        /* Unaligned loads: a sliver read in place need not start on 32 bytes (on
           packed, aligned data they cost what aligned ones do). */
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 ai;
        ai = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
        a += a_k;
        b += b_k;
    }
    if (dest->n == NR) {
        /* A tile of full width (all six rows, or the m < 6 of a bottom edge):
           C = alpha acc + beta C straight from the registers, with the
           epilogues backprop uses most (bias, ReLU, the ReLU mask) applied on
           the way, so C is written once and never re-read. */
        float *C = dest->C;
        const size_t ldc = dest->ldc, m = dest->m;
        const bp_gemm_epilogue *e = dest->epi;
        /* The epilogue done here (fused), or after the store by bp_epilogue_row (e). */
        const int in_registers = e && (e->act == BP_EPI_NONE || e->act == BP_EPI_RELU) &&
                                 (e->deriv == BP_EPI_NONE || e->deriv == BP_EPI_RELU);
        const bp_gemm_epilogue *fused = in_registers ? e : NULL;
        const __m256 va = _mm256_set1_ps(dest->alpha), vb = _mm256_set1_ps(dest->beta);
        const __m256 zero = _mm256_setzero_ps();
        const int has_bias = fused && fused->bias;
        __m256 bias0 = zero, bias1 = zero;
        if (has_bias) {
            bias0 = _mm256_loadu_ps(fused->bias + dest->col);
            bias1 = _mm256_loadu_ps(fused->bias + dest->col + 8);
        }
        const int beta_zero = dest->beta == 0.0f, relu = fused && fused->act == BP_EPI_RELU;
        const float *D = fused && fused->deriv == BP_EPI_RELU ? fused->D + dest->row * fused->ldd + dest->col
                                                               : NULL;
        /* One row: v = alpha acc (+ beta C) (+ bias), then max(v, 0) for ReLU, or
           v where D > 0 and 0 elsewhere for the ReLU mask; in the order
           bp_epilogue_row uses, so both give the same bits. */
#define BP_STORE_ROW(i, lo, hi)                                                                    \
    do {                                                                                           \
        if ((i) >= m) break;                                                                       \
        float *c = C + (i) * ldc;                                                                  \
        __m256 v0 = _mm256_mul_ps(va, lo), v1 = _mm256_mul_ps(va, hi);                             \
        if (!beta_zero) {                                                                          \
            v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), v0);                                      \
            v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), v1);                                  \
        }                                                                                          \
        if (has_bias) v0 = _mm256_add_ps(v0, bias0), v1 = _mm256_add_ps(v1, bias1);                \
        if (relu) v0 = _mm256_max_ps(v0, zero), v1 = _mm256_max_ps(v1, zero);                     \
        if (D) {                                                                                   \
            const float *d = D + (i) * fused->ldd;                                                 \
            v0 = _mm256_and_ps(v0, _mm256_cmp_ps(_mm256_loadu_ps(d), zero, _CMP_GT_OQ));           \
            v1 = _mm256_and_ps(v1, _mm256_cmp_ps(_mm256_loadu_ps(d + 8), zero, _CMP_GT_OQ));       \
        }                                                                                          \
        _mm256_storeu_ps(c, v0);                                                                   \
        _mm256_storeu_ps(c + 8, v1);                                                               \
    } while (0)
        BP_STORE_ROW(0, c00, c01); BP_STORE_ROW(1, c10, c11); BP_STORE_ROW(2, c20, c21);
        BP_STORE_ROW(3, c30, c31); BP_STORE_ROW(4, c40, c41); BP_STORE_ROW(5, c50, c51);
#undef BP_STORE_ROW
        if (e && !in_registers) {
            _mm256_zeroupper(); /* bp_epilogue_row is SSE code: see below */
            for (size_t i = 0; i < m; i++) bp_epilogue_row(e, C + i * ldc, dest->row + i, dest->col, NR);
        }
        return;
    }
    _Alignas(64) float acc[MR * NR];
    _mm256_store_ps(acc + 0 * NR, c00); _mm256_store_ps(acc + 0 * NR + 8, c01);
    _mm256_store_ps(acc + 1 * NR, c10); _mm256_store_ps(acc + 1 * NR + 8, c11);
    _mm256_store_ps(acc + 2 * NR, c20); _mm256_store_ps(acc + 2 * NR + 8, c21);
    _mm256_store_ps(acc + 3 * NR, c30); _mm256_store_ps(acc + 3 * NR + 8, c31);
    _mm256_store_ps(acc + 4 * NR, c40); _mm256_store_ps(acc + 4 * NR + 8, c41);
    _mm256_store_ps(acc + 5 * NR, c50); _mm256_store_ps(acc + 5 * NR + 8, c51);
    /* store_tile is compiled for plain x86-64 (SSE), and GCC 12 emits no vzeroupper
       before calling it: without this, it and everything after the product ran with
       dirty upper YMM halves, which made the SSE code that followed (the loss, its
       log) several times slower on an Intel Xeon. */
    _mm256_zeroupper();
    store_tile(acc, dest);
}

__attribute__((target("avx2,fma")))
static void kernel_avx2(size_t kc, const float *restrict a, const float *restrict b,
                        const bp_sliver_steps *steps, const tile_dest *dest)
{
    if (steps->a_k == MR && steps->b_k == NR)
        avx2_tile(kc, a, b, MR, NR, dest);
    else
        avx2_tile(kc, a, b, steps->a_k, steps->b_k, dest);
}
#endif

/* Asked per call rather than cached, so that nothing global is ever written
   by this file (the CPU model that __builtin_cpu_init fills belongs to the
   compiler's runtime and is idempotent). */
static micro_kernel pick_kernel(void)
{
#if defined(__wasm_simd128__)
    return bp_gemm_kernel_wasm; /* WebAssembly: chosen when compiled (gemm_wasm.c) */
#endif
#if BP_GEMM_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return kernel_avx2;
#endif
    return kernel_portable;
}

/* Whether the 12 x 32 AVX-512 kernel takes the tiles it can: it gives the same
   bits as the 6 x 16 AVX2 kernel (gemm_kernel.h), so it only ever joins that one. */
static int use_wide(micro_kernel kernel)
{
#if BP_GEMM_AVX2
    return kernel == kernel_avx2 && bp_gemm_avx512_usable();
#else
    (void)kernel;
    return 0;
#endif
}

const char *bp_gemm_kernel_name(void)
{
#ifdef BP_OPENBLAS
    return "OpenBLAS sgemm";
#else
    const micro_kernel kernel = pick_kernel();
    if (use_wide(kernel)) {
#ifdef BP_GEMM_SIMDE
        return "AVX-512 12x32 (SIMDe emulation) + AVX2 6x16";
#else
        return "AVX-512 12x32 + AVX2 6x16";
#endif
    }
#if BP_GEMM_AVX2
    if (kernel == kernel_avx2) return "AVX2 6x16";
#endif
    if (kernel == bp_gemm_kernel_wasm) return "WebAssembly SIMD128 6x16";
    return "portable C 6x16";
#endif
}

/* The epilogue over a whole M x N block of C, for the paths that do not work in tiles. */
static void epilogue_pass(const bp_gemm_epilogue *e, size_t M, size_t N, float *C, size_t ldc)
{
    if (!e) return;
    for (size_t i = 0; i < M; i++) bp_epilogue_row(e, C + i * ldc, i, 0, N);
}

void bp_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K,
             float alpha, const float *A, size_t lda, const float *B, size_t ldb,
             float beta, float *C, size_t ldc, float *workspace)
{
    bp_gemm_ex(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, workspace, NULL);
}

/* One mc x nc block of C, whose A block and B panel are packed: the tiles, each
   by a micro-kernel (the "macro-kernel" of a blocked GEMM). */
typedef struct {
    micro_kernel kernel;
    int wide;                   /* the AVX-512 kernel takes tiles of two slivers each way */
    size_t kc;
    const float *packed_a, *packed_b; /* packed, or the operands read in place (steps says which) */
    bp_sliver_steps steps;
    const float *a_tail;        /* NULL, or with A^T in place, its last, partly filled sliver packed */
    bp_sliver_steps tail_steps; /* for the 6 x 16 kernels, which read all MR rows of a sliver */
    float alpha, beta;
    const bp_gemm_epilogue *epi; /* NULL, or applied (last K block only) */
    float *C;                   /* the block's first element */
    size_t ldc, row, col;       /* C's stride; the block's place in the whole C */
} block;

static void multiply_block(const block *b, size_t mc, size_t nc)
{
    const size_t kc = b->kc;
    /* One B sliver (two for the wide kernel) stays in L1 while the A slivers stream
       past it. */
    for (size_t jr = 0; jr < nc; jr += NR) {
        const int pair_b = b->wide && jr + NR < nc; /* a second B sliver follows */
        for (size_t ir = 0; ir < mc; ir += MR) {
            tile_dest dest = {b->C + ir * b->ldc + jr, b->ldc, min_size(MR, mc - ir), min_size(NR, nc - jr),
                              b->alpha, b->beta, b->epi, b->row + ir, b->col + jr};
            const float *a = b->packed_a + ir / MR * b->steps.a_next;
            const float *bb = b->packed_b + jr / NR * b->steps.b_next;
            if (pair_b && ir + MR < mc) {
                /* Two by two slivers: a tile of up to 12 x 32. */
                dest.m = min_size(2 * MR, mc - ir);
                dest.n = min_size(2 * NR, nc - jr);
                bp_gemm_kernel_avx512(kc, a, bb, &b->steps, &dest);
                ir += MR;
            } else if (pair_b) {
                /* The last A sliver alone, against both B slivers: a tile of up to
                   6 x 32 that computes only the sliver's valid rows. */
                dest.n = min_size(2 * NR, nc - jr);
                bp_gemm_kernel_avx512(kc, a, bb, &b->steps, &dest);
            } else if (b->a_tail && ir + MR > mc) {
                b->kernel(kc, b->a_tail, bb, &b->tail_steps, &dest);
            } else {
                b->kernel(kc, a, bb, &b->steps, &dest);
            }
        }
        if (pair_b) jr += NR;
    }
}

/* Small products read an operand in place when it already holds the slivers'
   shape: op(B) = B whose every sliver is whole (N a multiple of NR); op(A) =
   A^T, whose slivers are MR adjacent floats of each row of A; and, for the
   AVX-512 kernel only, op(A) = A, whose slivers are MR of A's rows. Packing
   buys contiguous slivers and L1-friendly strides; for an operand this small
   (every k block of it fits in L1 and L2 together, as in a digits-size
   network's backward products, where packing measured about 15% of an Adam
   step) the copy costs more than it saves. The arithmetic is the same either
   way, so the bits are too.
   What bounds it is the span of memory a block's slivers come from: a packed
   sliver is contiguous, but rows read in place are a stride apart, and rows
   4 KB apart all fall into one set of a 4 KB-per-way L1 (W3's W^T delta with
   rows of 1,024 floats measured 1.01-1.37 times slower in place). A span of
   at most 32 KB puts at most eight of a sliver's rows into any one set. */
#define IN_PLACE_SPAN ((size_t)1 << 13) /* floats */

static int in_place_b(int trans_b, size_t N, size_t K, size_t ldb)
{
    return !trans_b && N % NR == 0 && N <= NC && min_size(K, KC) * ldb <= IN_PLACE_SPAN;
}

/* A in place also needs every tile to read only op(A)'s valid rows. The 12 x
   32 kernel reads only those; the 6 x 16 kernels read all MR rows of a sliver,
   so with A^T in place they get a block's last, partly filled sliver packed
   (block.a_tail). Rows of A (op(A) = A) only the 12 x 32 kernel reads in
   place, where it takes every tile: when the B slivers pair up. */
static int in_place_a(int trans_a, size_t M, size_t N, size_t K, size_t lda, int wide)
{
    if (trans_a) return min_size(K, KC) * lda <= IN_PLACE_SPAN;
    const int all_wide = wide && N % (2 * NR) == 0 && N <= NC;
    return all_wide && min_size(M, MC) * lda <= IN_PLACE_SPAN;
}

void bp_gemm_ex(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                float beta, float *C, size_t ldc, float *workspace,
                const bp_gemm_epilogue *epi)
{
    if (M == 0 || N == 0)
        return;
    if (epi && epi->bias == NULL && epi->act == BP_EPI_NONE && epi->deriv == BP_EPI_NONE) epi = NULL;
    if (K == 0 || alpha == 0.0f) {
        bp_gemm_scale(M, N, beta, C, ldc, epi);
        return;
    }
#ifdef BP_OPENBLAS
    /* make BLAS=openblas: the product by OpenBLAS (row-major; it threads as
       OPENBLAS_NUM_THREADS says), then the epilogue as a second pass over C. */
    (void)workspace;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C,
                (blasint)ldc);
    epilogue_pass(epi, M, N, C, ldc);
    return;
#endif
    if (M < SMALL_M && !(trans_a && trans_b)) {
        gemm_small(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        epilogue_pass(epi, M, N, C, ldc);
        return;
    }
    if (K < SMALL_K && !trans_b) {
        gemm_thin(trans_a, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        epilogue_pass(epi, M, N, C, ldc);
        return;
    }

    const micro_kernel kernel = pick_kernel();
#if BP_GEMM_AVX2
    const int avx2 = kernel == kernel_avx2;
#else
    const int avx2 = 0;
#endif
    const int wide = use_wide(kernel);
    /* Rounding up by an index rather than by casting an integer back to a
       pointer keeps the pointer's provenance; the slack is in the size. */
    size_t misalign = (size_t)((uintptr_t)workspace % 64) / sizeof(float);
    float *packed_b = workspace + (ALIGN_FLOATS - misalign) % ALIGN_FLOATS;
    float *packed_a = packed_b + KC * NC;

    /* Equal K blocks: K = 257 as 129 + 128 rather than 256 + 1, because every
       K block costs a full read-modify-write pass over C. */
    size_t k_blocks = (K + KC - 1) / KC;
    size_t kc_step = (K + k_blocks - 1) / k_blocks;

    /* Operands read where they are, without packing (see in_place_b, in_place_a). */
    const int direct_b = in_place_b(trans_b, N, K, ldb);
    const int direct_a = in_place_a(trans_a, M, N, K, lda, wide);

    for (size_t jc = 0; jc < N; jc += NC) {
        size_t nc = min_size(NC, N - jc);
        for (size_t pc = 0; pc < K; pc += kc_step) {
            size_t kc = min_size(kc_step, K - pc);
            /* Later K blocks add to what the first one wrote. */
            float beta_block = pc == 0 ? beta : 1.0f;
            const bp_gemm_epilogue *epi_block = pc + kc >= K ? epi : NULL;
            bp_sliver_steps steps = {MR, 1, MR * kc, NR, NR * kc};
            const float *b_block = packed_b;
            if (direct_b) {
                b_block = B + pc * ldb + jc;
                steps.b_k = ldb, steps.b_next = NR;
            } else {
                pack_b(trans_b, B, ldb, pc, jc, kc, nc, packed_b, avx2);
            }
            for (size_t ic = 0; ic < M; ic += MC) {
                size_t mc = min_size(MC, M - ic);
                const float *a_block = packed_a, *a_tail = NULL;
                const bp_sliver_steps tail_steps = {MR, 1, MR * kc, steps.b_k, steps.b_next};
                if (direct_a && trans_a) {
                    a_block = A + pc * lda + ic;
                    steps.a_k = lda, steps.a_row = 1, steps.a_next = MR;
                    const size_t full = mc / MR * MR;
                    if (full < mc) {
                        pack_a(trans_a, A, lda, ic + full, pc, mc - full, kc, packed_a, avx2);
                        a_tail = packed_a;
                    }
                } else if (direct_a) {
                    a_block = A + ic * lda + pc;
                    steps.a_k = 1, steps.a_row = lda, steps.a_next = MR * lda;
                } else {
                    pack_a(trans_a, A, lda, ic, pc, mc, kc, packed_a, avx2);
                }
                const block b = {kernel, wide, kc, a_block, b_block, steps, a_tail, tail_steps, alpha, beta_block,
                                 epi_block, C + ic * ldc + jc, ldc, ic, jc};
                multiply_block(&b, mc, nc);
            }
        }
    }
}

/* A piece of C for one thread must hold at least this many multiply-adds
   (about 8 microseconds of kernel time): below it, waking a worker and
   re-packing the shared operand cost more than the piece saves. */
#define MIN_PIECE_WORK ((size_t)1 << 18)

typedef struct {
    int trans_a, trans_b;
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
    const bp_gemm_epilogue *epi;
    float *const *workspace;
    int split_n;       /* slices of columns (1) or of rows (0) */
    int parts;
    size_t step;       /* rows or columns per slice, a whole number of tiles */
    bp_bf16_kernel bf16; /* BP_BF16_NONE: the fp32 product; else the bf16 one, one kernel for every slice */
} team_job;

/* One slice's product, in the job's precision. */
static void piece_product(const team_job *j, size_t M, size_t N, const float *A, const float *B, float *C,
                          float *workspace, const bp_gemm_epilogue *epi)
{
    if (j->bf16 != BP_BF16_NONE)
        bp_gemm_bf16_ex(j->bf16, j->trans_a, j->trans_b, M, N, j->K, j->alpha, A, j->lda, B, j->ldb, j->beta, C,
                        j->ldc, workspace, epi);
    else
        bp_gemm_ex(j->trans_a, j->trans_b, M, N, j->K, j->alpha, A, j->lda, B, j->ldb, j->beta, C, j->ldc,
                   workspace, epi);
}

static void team_piece(void *ctx, int part)
{
    const team_job *j = ctx;
    const size_t dim = j->split_n ? j->N : j->M;
    const size_t lo = (size_t)part * j->step;
    const size_t hi = part == j->parts - 1 ? dim : lo + j->step;
    bp_gemm_epilogue e = {NULL, BP_EPI_NONE, BP_EPI_NONE, NULL, 0, 0.0f};
    if (j->epi) e = *j->epi;
    const bp_gemm_epilogue *epi = j->epi ? &e : NULL;
    if (j->split_n) {
        /* Columns [lo, hi): B's columns, C's columns, the bias and D move along. */
        if (epi && e.bias) e.bias += lo;
        if (epi && e.D) e.D += lo;
        piece_product(j, j->M, hi - lo, j->A, j->trans_b ? j->B + lo * j->ldb : j->B + lo, j->C + lo,
                      j->workspace[part], epi);
    } else {
        /* Rows [lo, hi): A's rows, C's rows and D's rows. */
        if (epi && e.D) e.D += lo * e.ldd;
        piece_product(j, hi - lo, j->N, j->trans_a ? j->A + lo : j->A + lo * j->lda, j->B, j->C + lo * j->ldc,
                      j->workspace[part], epi);
    }
}

/* Slices of `dim` in whole `granule`s for up to `threads` threads, none of
   less than MIN_PIECE_WORK multiply-adds when a unit of dim is `unit` of them:
   returns the number of slices and sets *step. */
static int plan_slices(size_t dim, size_t granule, int threads, size_t unit, size_t *step)
{
    size_t tiles = (dim + granule - 1) / granule;
    size_t parts = (size_t)threads;
    if (parts > tiles) parts = tiles;
    size_t by_work = dim * unit / MIN_PIECE_WORK;
    if (parts > by_work) parts = by_work;
    if (parts < 2) {
        *step = dim;
        return 1;
    }
    size_t per = (tiles + parts - 1) / parts; /* tiles per slice */
    *step = per * granule;
    return (int)((dim + *step - 1) / *step);
}

int bp_gemm_team_plan(int threads, size_t M, size_t N, size_t K, int *split_n, size_t *step)
{
    *split_n = 1;
    *step = N;
#ifdef BP_OPENBLAS
    threads = 1; /* OpenBLAS brings its own threads */
#endif
    if (threads < 2 || M == 0 || N == 0 || K == 0) return 1;
    /* Cutting columns re-packs A in every thread, cutting rows re-packs B: cut
       the dimension that duplicates the smaller operand, unless only the other
       one has enough tiles to go round. */
    size_t step_n, step_m = M;
    int parts_n = plan_slices(N, NR, threads, M * K, &step_n);
    /* Row slices keep the tiled path: none may fall under SMALL_M rows, or
       gemm_small would add it up in another order than one thread does. */
    int parts_m = M >= 2 * SMALL_M ? plan_slices(M, MR, threads, N * K, &step_m) : 1;
    if (parts_m > 1 && (M - (size_t)(parts_m - 1) * step_m) < SMALL_M) parts_m--;
    int prefer_n = M <= N;
    if ((prefer_n && parts_n >= parts_m) || (!prefer_n && parts_n > parts_m)) {
        *step = step_n;
        return parts_n;
    }
    *split_n = 0;
    *step = step_m;
    return parts_m;
}

/* Cut like bp_gemm_team_plan, in whole 32 x 32 steps. The bf16 product has no
   path for small shapes, so no slice needs a minimum height. */
int bp_gemm_team_plan_bf16(int threads, size_t M, size_t N, size_t K, int *split_n, size_t *step)
{
    *split_n = 1;
    *step = N;
    if (threads < 2 || M == 0 || N == 0 || K == 0) return 1;
    size_t step_n, step_m;
    int parts_n = plan_slices(N, BP_BF16_GRANULE, threads, M * K, &step_n);
    int parts_m = plan_slices(M, BP_BF16_GRANULE, threads, N * K, &step_m);
    int prefer_n = M <= N;
    if ((prefer_n && parts_n >= parts_m) || (!prefer_n && parts_n > parts_m)) {
        *step = step_n;
        return parts_n;
    }
    *split_n = 0;
    *step = step_m;
    return parts_m;
}

void bp_gemm_team_ex(const bp_gemm_team *team, int trans_a, int trans_b, size_t M, size_t N,
                     size_t K, float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                     float beta, float *C, size_t ldc, const bp_gemm_epilogue *epi)
{
    team_job job = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, epi,
                    team->workspace, 1, 1, N, BP_BF16_NONE};
    const int threads = bp_pool_threads(team->pool);
    if (team->precision != BP_BF16_NONE) {
        /* One kernel for all slices, chosen once: the bits depend on the kernel. */
        job.bf16 = bp_gemm_bf16_resolve((bp_bf16_kernel)team->precision);
        if (job.bf16 == BP_BF16_NONE) job.bf16 = BP_BF16_EMULATED;
        if (alpha != 0.0f) job.parts = bp_gemm_team_plan_bf16(threads, M, N, K, &job.split_n, &job.step);
    } else if (alpha != 0.0f) {
        job.parts = bp_gemm_team_plan(threads, M, N, K, &job.split_n, &job.step);
    }
    if (job.parts == 1) {
        piece_product(&job, M, N, A, B, C, team->workspace[0], epi);
        return;
    }
    bp_pool_run(team->pool, job.parts, team_piece, &job);
}

void bp_gemm_naive(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                   float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                   float beta, float *C, size_t ldc)
{
    if (K == 0 || alpha == 0.0f) {
        bp_gemm_scale(M, N, beta, C, ldc, NULL);
        return;
    }
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double sum = 0.0;
            for (size_t p = 0; p < K; p++) {
                double a = trans_a ? A[p * lda + i] : A[i * lda + p];
                double b = trans_b ? B[j * ldb + p] : B[p * ldb + j];
                sum += a * b;
            }
            float *c = &C[i * ldc + j];
            *c = beta == 0.0f ? (float)(alpha * sum) : (float)(alpha * sum + (double)beta * *c);
        }
    }
}
