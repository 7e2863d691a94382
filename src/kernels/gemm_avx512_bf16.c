/*
 * gemm_avx512_bf16.c - the bf16 product's AVX-512 parts: the VDPBF16PS step,
 * the store of a step's sums, and the packers that round floats to bf16 with
 * VCVTNE2PS2BF16 while they lay out the tiles.
 *
 * The step reads the packed tiles exactly as AMX does (gemm_bf16.h): per pair
 * of k, one 64-byte row of each B tile holds 16 columns' pairs, and an A row's
 * pair is broadcast to all 16 lanes. VDPBF16PS then adds both products of the
 * pair to 16 float sums. A pass covers 8 rows x 32 columns: 16 accumulators,
 * two B rows and eight broadcasts per pair of k (the broadcasts fold into the
 * instruction's memory operand), leaving registers to spare; a 32 x 32 step is
 * up to four passes, and only the valid rows are computed.
 *
 * Packing: op(A) = A and op(B) = B^T read 32 floats along a row into one tile
 * row (two loads, one conversion); the other two cases pair two rows of the
 * source, interleave their 16-bit halves, and, for A^T and B^T's
 * transposes, turn a 16 x 16 block of 32-bit pairs around in registers. Every
 * packer writes the same bytes as its portable twin in gemm_bf16.c, which the
 * tests check.
 *
 * Compiled for AVX-512 F/BW/VL/BF16 by target attributes and used only when
 * gemm_bf16.c finds those (bp_bf16_cpu.avx512); empty elsewhere.
 */
#include "gemm_bf16_kernel.h"

#if BP_BF16_AVX512_CODE
#include <immintrin.h>
#include <string.h>

#define BP_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#include "epilogue_avx512.h"

enum { SLIVER = BP_BF16_SLIVER, TILE = BP_BF16_TILE, TILE_K = BP_BF16_TILE_K };

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* ------------------------------------------------------------- storing */

/* The store rule (gemm_bf16_kernel.h) on 16 sums of one row, n of them valid,
   at column col of C's row `row`. */
BP_AVX512_TARGET
static inline void store16(const bp_tile_dest *dest, float *c, __m512 sums, size_t n, size_t row, size_t col)
{
    const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(dest->alpha), sums);
    if (dest->beta != 0.0f)
        v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_set1_ps(dest->beta), _mm512_maskz_loadu_ps(k, c)));
    if (dest->epi) v = epilogue16(dest->epi, v, k, row, col);
    _mm512_mask_storeu_ps(c, k, v);
}

BP_AVX512_TARGET
void bp_bf16_store_avx512(const float *sums, const bp_tile_dest *dest)
{
    for (size_t i = 0; i < dest->m; i++) {
        float *c = dest->C + i * dest->ldc;
        const float *s = sums + i * 2 * SLIVER;
        store16(dest, c, _mm512_loadu_ps(s), min_size(dest->n, SLIVER), dest->row + i, dest->col);
        if (dest->n > SLIVER)
            store16(dest, c + SLIVER, _mm512_loadu_ps(s + SLIVER), dest->n - SLIVER, dest->row + i,
                    dest->col + SLIVER);
    }
}

/* ------------------------------------------------------------- the step */

/* Rows [r0, r0 + rows) of a step, rows <= 8, all from the A sliver a (so
   r0 is 0 or 8 within it), against one B sliver (halves == 1) or two. `rows`
   and `halves` are constants once inlined, so the unused accumulators vanish. */
BP_AVX512_TARGET
static inline __attribute__((always_inline)) void pass(size_t chunks, const uint16_t *a, const uint16_t *b0,
                                                       const uint16_t *b1, const bp_tile_dest *dest, size_t r0,
                                                       size_t c_row, const int rows, const int halves)
{
#define BP_ZERO2(i) __m512 s##i##0 = _mm512_setzero_ps(), s##i##1 = _mm512_setzero_ps();
    BP_ZERO2(0) BP_ZERO2(1) BP_ZERO2(2) BP_ZERO2(3) BP_ZERO2(4) BP_ZERO2(5) BP_ZERO2(6) BP_ZERO2(7)
#undef BP_ZERO2
    const uint16_t *ar = a + r0 * TILE_K;
    for (size_t t = 0; t < chunks; t++, ar += TILE, b0 += TILE, b1 += TILE) {
        for (int p = 0; p < TILE_K / 2; p++) {
            const __m512bh lo = (__m512bh)_mm512_load_si512((const void *)(b0 + p * 2 * SLIVER));
            const __m512bh hi = halves > 1 ? (__m512bh)_mm512_load_si512((const void *)(b1 + p * 2 * SLIVER)) : lo;
            __m512bh ai;
            int32_t pair;
#define BP_ROW(i)                                                                                   \
    if ((i) < rows) {                                                                               \
        memcpy(&pair, ar + (i) * TILE_K + 2 * p, sizeof pair);                                      \
        ai = (__m512bh)_mm512_set1_epi32(pair);                                                     \
        s##i##0 = _mm512_dpbf16_ps(s##i##0, lo, ai);                                                \
        if (halves > 1) s##i##1 = _mm512_dpbf16_ps(s##i##1, hi, ai);                                \
    }
            BP_ROW(0) BP_ROW(1) BP_ROW(2) BP_ROW(3) BP_ROW(4) BP_ROW(5) BP_ROW(6) BP_ROW(7)
#undef BP_ROW
        }
    }
    const size_t n0 = min_size(dest->n, SLIVER), n1 = dest->n > SLIVER ? dest->n - SLIVER : 0;
#define BP_STORE(i)                                                                                 \
    if ((i) < rows) {                                                                               \
        float *c = dest->C + (c_row + (i)) * dest->ldc;                                             \
        store16(dest, c, s##i##0, n0, dest->row + c_row + (i), dest->col);                          \
        if (halves > 1) store16(dest, c + SLIVER, s##i##1, n1, dest->row + c_row + (i), dest->col + SLIVER); \
    }
    BP_STORE(0) BP_STORE(1) BP_STORE(2) BP_STORE(3) BP_STORE(4) BP_STORE(5) BP_STORE(6) BP_STORE(7)
#undef BP_STORE
}

/* A pass of `rows` (1 to 8) rows, one copy per row count and width. */
BP_AVX512_TARGET
static void pass_any(size_t chunks, const uint16_t *a, const uint16_t *b0, const uint16_t *b1,
                     const bp_tile_dest *dest, size_t r0, size_t c_row, size_t rows)
{
    const int two = dest->n > SLIVER;
#define BP_CASE(r)                                                                                  \
    case r:                                                                                         \
        if (two) pass(chunks, a, b0, b1, dest, r0, c_row, r, 2);                                    \
        else pass(chunks, a, b0, b1, dest, r0, c_row, r, 1);                                        \
        break;
    switch (rows) {
        BP_CASE(1) BP_CASE(2) BP_CASE(3) BP_CASE(4) BP_CASE(5) BP_CASE(6) BP_CASE(7)
    default:
        if (two) pass(chunks, a, b0, b1, dest, r0, c_row, 8, 2);
        else pass(chunks, a, b0, b1, dest, r0, c_row, 8, 1);
        break;
    }
#undef BP_CASE
}

BP_AVX512_TARGET
void bp_bf16_step_avx512(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                         const uint16_t *b1, const bp_tile_dest *dest)
{
    /* Up to four passes of 8 rows: rows 0-7 and 8-15 from a0, 16-23 and 24-31 from a1. */
    for (size_t r = 0; r < dest->m; r += 8) {
        const uint16_t *a = r < SLIVER ? a0 : a1;
        pass_any(chunks, a, b0, b1, dest, r % SLIVER, r, min_size(8, dest->m - r));
    }
}

/* ------------------------------------------------------------- packing */

/* 16 floats from p, the first n of them (n <= 16; the rest read as zero). */
BP_AVX512_TARGET
static inline __m512 load16(const float *p, size_t n)
{
    if (n >= 16) return _mm512_loadu_ps(p);
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
}

/* Two rows of 16 floats rounded to bf16 and interleaved: 32-bit lane j holds
   (x0[j], x1[j]), x0's value in the low half. */
BP_AVX512_TARGET
static inline __m512i pair_rows(__m512 x0, __m512 x1)
{
    const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* x0's 16 bf16, then x1's */
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, both);
}

/* r[i] holds row i of a 16 x 16 block of 32-bit values before, column i after.
   Always inlined: as a call, the block goes through memory both ways. */
BP_AVX512_TARGET
static inline __attribute__((always_inline)) void transpose16(__m512i r[16])
{
    __m512i a[16], b[16];
    for (int k = 0; k < 16; k += 2) {
        a[k] = _mm512_unpacklo_epi32(r[k], r[k + 1]);
        a[k + 1] = _mm512_unpackhi_epi32(r[k], r[k + 1]);
    }
    /* b[4q + c], 128-bit lane L: column 4L + c of rows 4q .. 4q + 3. */
    for (int q = 0; q < 16; q += 4) {
        b[q] = _mm512_unpacklo_epi64(a[q], a[q + 2]);
        b[q + 1] = _mm512_unpackhi_epi64(a[q], a[q + 2]);
        b[q + 2] = _mm512_unpacklo_epi64(a[q + 1], a[q + 3]);
        b[q + 3] = _mm512_unpackhi_epi64(a[q + 1], a[q + 3]);
    }
    /* Column 4L + c gathers lane L of b[c], b[4 + c], b[8 + c], b[12 + c]. */
    for (int c = 0; c < 4; c++) {
        const __m512i d0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44), d1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xEE);
        const __m512i e0 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44);
        const __m512i e1 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xEE);
        r[c] = _mm512_shuffle_i32x4(d0, e0, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(d0, e0, 0xDD);
        r[8 + c] = _mm512_shuffle_i32x4(d1, e1, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(d1, e1, 0xDD);
    }
}

BP_AVX512_TARGET
void bp_bf16_pack_a_avx512(int trans_a, const float *A, size_t lda, size_t ic, size_t pc, size_t mc, size_t kc,
                           uint16_t *dst)
{
    const size_t chunks = (kc + TILE_K - 1) / TILE_K;
    const __m512i zero = _mm512_setzero_si512();
    /* Slivers inside for A^T, whose tiles take 32 rows of A each: every sliver of a
       chunk reads the next 64 bytes of the same 32 rows, instead of each sliver
       walking all of K's rows, a page apart. */
    const size_t s_count = (mc + SLIVER - 1) / SLIVER;
    for (size_t i = 0; i < s_count * chunks; i++) {
        const size_t s = (trans_a ? i % s_count : i / chunks) * SLIVER, t = trans_a ? i / s_count : i % chunks;
        const size_t rows = min_size(SLIVER, mc - s);
        uint16_t *tile = dst + (s / SLIVER * chunks + t) * TILE;
        const size_t k0 = t * TILE_K, nk = min_size(TILE_K, kc - k0);
        if (!trans_a) {
            /* Row i of the tile: 32 floats of A's row, rounded. */
            for (size_t r = 0; r < SLIVER; r++) {
                __m512i v = zero;
                if (r < rows) {
                    const float *src = A + (ic + s + r) * lda + pc + k0;
                    v = (__m512i)_mm512_cvtne2ps_pbh(load16(src + 16, nk > 16 ? nk - 16 : 0), load16(src, nk));
                }
                _mm512_store_si512((void *)(tile + r * TILE_K), v);
            }
        } else {
            /* op(A)[i][k] = A[k][i]: rows k and k + 1 of A paired, for 16 pairs;
               then row p (pairs of k) x column i turned into row i x pair p. */
            __m512i v[16];
            for (int p = 0; p < 16; p++) {
                const size_t k = k0 + 2 * (size_t)p;
                const __m512 x0 = k < kc ? load16(A + (pc + k) * lda + ic + s, rows) : _mm512_setzero_ps();
                const __m512 x1 = k + 1 < kc ? load16(A + (pc + k + 1) * lda + ic + s, rows) : _mm512_setzero_ps();
                v[p] = pair_rows(x0, x1);
            }
            transpose16(v);
            for (int r = 0; r < 16; r++) _mm512_store_si512((void *)(tile + r * TILE_K), v[r]);
        }
    }
}

BP_AVX512_TARGET
void bp_bf16_pack_b_avx512(int trans_b, const float *B, size_t ldb, size_t pc, size_t jc, size_t kc, size_t nc,
                           uint16_t *dst)
{
    const size_t chunks = (kc + TILE_K - 1) / TILE_K;
    const __m512i zero = _mm512_setzero_si512();
    /* Slivers inside for B, whose tiles take 32 rows of B each (as in pack_a for A^T). */
    const size_t s_count = (nc + SLIVER - 1) / SLIVER;
    for (size_t i = 0; i < s_count * chunks; i++) {
        const size_t s = (!trans_b ? i % s_count : i / chunks) * SLIVER, t = !trans_b ? i / s_count : i % chunks;
        const size_t cols = min_size(SLIVER, nc - s);
        uint16_t *tile = dst + (s / SLIVER * chunks + t) * TILE;
        const size_t k0 = t * TILE_K, nk = min_size(TILE_K, kc - k0);
        if (!trans_b) {
            /* Tile row p: rows 2p and 2p + 1 of B, paired column by column. */
            for (int p = 0; p < 16; p++) {
                const size_t k = k0 + 2 * (size_t)p;
                const __m512 x0 = k < kc ? load16(B + (pc + k) * ldb + jc + s, cols) : _mm512_setzero_ps();
                const __m512 x1 = k + 1 < kc ? load16(B + (pc + k + 1) * ldb + jc + s, cols) : _mm512_setzero_ps();
                _mm512_store_si512((void *)(tile + p * 2 * SLIVER), pair_rows(x0, x1));
            }
        } else {
            /* op(B)[k][j] = B[j][k]: row j of B rounded gives column j's 16 pairs;
               the 16 x 16 block of pairs is then turned around. */
            __m512i v[16];
            for (size_t c = 0; c < SLIVER; c++) {
                v[c] = zero;
                if (c < cols) {
                    const float *src = B + (jc + s + c) * ldb + pc + k0;
                    v[c] = (__m512i)_mm512_cvtne2ps_pbh(load16(src + 16, nk > 16 ? nk - 16 : 0), load16(src, nk));
                }
            }
            transpose16(v);
            for (int p = 0; p < 16; p++) _mm512_store_si512((void *)(tile + p * 2 * SLIVER), v[p]);
        }
    }
}

#else /* no AVX-512 code for this compiler or CPU family: never called (gemm_bf16.c) */

void bp_bf16_step_avx512(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                         const uint16_t *b1, const bp_tile_dest *dest)
{
    (void)chunks, (void)a0, (void)a1, (void)b0, (void)b1, (void)dest;
}

void bp_bf16_store_avx512(const float *sums, const bp_tile_dest *dest) { (void)sums, (void)dest; }

void bp_bf16_pack_a_avx512(int trans_a, const float *A, size_t lda, size_t ic, size_t pc, size_t mc, size_t kc,
                           uint16_t *dst)
{
    (void)trans_a, (void)A, (void)lda, (void)ic, (void)pc, (void)mc, (void)kc, (void)dst;
}

void bp_bf16_pack_b_avx512(int trans_b, const float *B, size_t ldb, size_t pc, size_t jc, size_t kc, size_t nc,
                           uint16_t *dst)
{
    (void)trans_b, (void)B, (void)ldb, (void)pc, (void)jc, (void)kc, (void)nc, (void)dst;
}

#endif
