/*
 * gemm_avx512.c - the AVX-512 micro-kernel: a 12 x 32 tile of C from two A
 * slivers and two B slivers of gemm.c's packed blocks (gemm_kernel.h).
 *
 * AVX-512 doubles the vector width and the register file (32 registers of 16
 * floats). The 12 x 32 tile uses 24 of them as accumulators, two for the rows
 * of B and one for a broadcast of A: per k, two loads of B and twelve
 * broadcasts feed 24 FMAs, enough independent chains to keep both FMA units
 * busy. It reads the same packed slivers as the 6 x 16 AVX2 kernel (a 12 x 32
 * tile is four 6 x 16 tiles), so packing does not change, and gemm.c falls back
 * to the 6 x 16 kernel wherever the block has no second B sliver to pair with.
 * A block's last A sliver may have no partner or be partly filled: the kernel
 * then computes only the valid rows (one copy of it per row count), and reads
 * only those rows' A values, so a sliver read in place from the caller's A^T
 * (bp_sliver_steps) never reads past A's last column. Small products also
 * hand it A's rows in place (op(A) = A, a_row = lda): a second copy of each
 * tile then broadcasts from rows a_row apart instead of packed neighbours.
 *
 * The same bits as the 6 x 16 kernel, so that both may share one product and
 * the result does not depend on how threads cut it: one FMA per k from zero;
 * then alpha acc + beta C as one FMA on full 16-column halves and as a
 * multiply, a multiply and an add on a partial right half (what gemm.c's
 * store_tile does on edge tiles); then the epilogue in bp_epilogue_row's order (epilogue.h).
 *
 * Compiled for AVX-512F by a target attribute and picked at run time
 * (bp_gemm_avx512_usable); -DBP_NO_AVX512 leaves it out, for comparing the two
 * kernels on one machine (tools/gpu-check.sh's cpu step). Built with
 * -DBP_GEMM_SIMDE, the same source is compiled against SIMDe's portable
 * emulation of the intrinsics, which lets tests/avx512-test.sh check it on
 * machines without AVX-512.
 */
#include "gemm_kernel.h"

#if defined(BP_GEMM_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#define BP_AVX512 1
#define BP_AVX512_TARGET
/* What SIMDe 0.7 leaves out, written lane by lane: like the instructions,
   they touch no memory in a lane whose mask bit is clear. */
typedef simde__mmask16 __mmask16;
static __m512 bp_maskz_loadu(__mmask16 k, const float *p)
{
    float lanes[16];
    for (int i = 0; i < 16; i++) lanes[i] = (k >> i) & 1 ? p[i] : 0.0f;
    return _mm512_loadu_ps(lanes);
}
static void bp_mask_storeu(float *p, __mmask16 k, __m512 v)
{
    float lanes[16];
    _mm512_storeu_ps(lanes, v);
    for (int i = 0; i < 16; i++)
        if ((k >> i) & 1) p[i] = lanes[i];
}
#define _mm512_maskz_loadu_ps bp_maskz_loadu
#define _mm512_mask_storeu_ps bp_mask_storeu
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(BP_NO_SIMD) && \
    !defined(BP_NO_AVX512)
#include <immintrin.h>
#define BP_AVX512 1
#define BP_AVX512_TARGET __attribute__((target("avx512f")))
#else
#define BP_AVX512 0
#endif

#if BP_AVX512

int bp_gemm_avx512_usable(void)
{
#if defined(BP_GEMM_SIMDE)
    return 1;
#else
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#endif
}

#include "epilogue_avx512.h"

/* One 16-column half of a row: alpha acc + beta C (as the 6 x 16 kernel
   would write it: one FMA when the half is full, store_tile's multiply, multiply
   and add when it is an edge), the epilogue, and the store of the valid columns. */
BP_AVX512_TARGET
static inline void store16(const bp_tile_dest *dest, float *c, __m512 acc, size_t n, size_t row, size_t col)
{
    const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(dest->alpha), acc);
    if (dest->beta != 0.0f) {
        const __m512 vb = _mm512_set1_ps(dest->beta), old = _mm512_maskz_loadu_ps(k, c);
        v = n >= 16 ? _mm512_fmadd_ps(vb, old, v) : _mm512_add_ps(v, _mm512_mul_ps(vb, old));
    }
    if (dest->epi) v = epilogue16(dest->epi, v, k, row, col);
    _mm512_mask_storeu_ps(c, k, v);
}

enum { FORM_PACKED, FORM_IN_PLACE, FORM_ROWS };

/* The tile for its first `rows` rows (1 to 12): rows past them are neither
   computed nor read, and with rows <= 6 the second A sliver is not touched, so
   a block's last, partly filled slivers cost the FMAs of their valid rows
   only. Inlined with rows constant, every test on it folds away. */
BP_AVX512_TARGET
static inline __attribute__((always_inline)) void tile_rows(size_t kc, const float *a, const float *b,
                                                            const bp_sliver_steps *steps,
                                                            const bp_tile_dest *dest, const int rows,
                                                            const int form)
{
    /* FORM_PACKED: the strides are constants (as loop steps they are cheaper than
       registers: W1 measured 2% slower with them read from steps). FORM_IN_PLACE:
       read from steps. FORM_ROWS: also a k's MR values from A's rows, a_row
       apart, instead of side by side. */
    const int packed = form == FORM_PACKED;
    const size_t a_row = form == FORM_ROWS ? steps->a_row : 1;
    const size_t a_k = packed ? BP_MR : steps->a_k, b_k = packed ? BP_NR : steps->b_k;
    const size_t a_next = packed ? BP_MR * kc : steps->a_next, b_next = packed ? BP_NR * kc : steps->b_next;
    const float *a0 = a, *a1 = rows > BP_MR ? a + a_next : a; /* rows 0-5 and 6-11 */
    const float *b0 = b, *b1 = b + b_next;                     /* columns 0-15 and 16-31 */
    /* Ask for the tile of C now, so it is in L1 when the k loop ends. */
    for (int i = 0; i < rows; i++) {
        const float *c = dest->C + (size_t)i * dest->ldc;
        _mm_prefetch((const char *)c, _MM_HINT_T0);
        _mm_prefetch((const char *)(c + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + 31), _MM_HINT_T0);
    }
#define BP_ZERO2(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
    BP_ZERO2(0) BP_ZERO2(1) BP_ZERO2(2) BP_ZERO2(3) BP_ZERO2(4) BP_ZERO2(5)
    BP_ZERO2(6) BP_ZERO2(7) BP_ZERO2(8) BP_ZERO2(9) BP_ZERO2(10) BP_ZERO2(11)
#undef BP_ZERO2
    for (size_t p = 0; p < kc; p++) {
        /* Unaligned loads where a sliver is read in place: it need not start on 64 bytes. */
        const __m512 lo = packed ? _mm512_load_ps(b0) : _mm512_loadu_ps(b0);
        const __m512 hi = packed ? _mm512_load_ps(b1) : _mm512_loadu_ps(b1);
        __m512 ai;
#define BP_ROW(i, src, r)                                                                        \
    if ((i) < rows) {                                                                            \
        ai = _mm512_set1_ps(src[(r) * a_row]);                                                   \
        c##i##0 = _mm512_fmadd_ps(ai, lo, c##i##0);                                              \
        c##i##1 = _mm512_fmadd_ps(ai, hi, c##i##1);                                              \
    }
        BP_ROW(0, a0, 0) BP_ROW(1, a0, 1) BP_ROW(2, a0, 2) BP_ROW(3, a0, 3) BP_ROW(4, a0, 4)
        BP_ROW(5, a0, 5) BP_ROW(6, a1, 0) BP_ROW(7, a1, 1) BP_ROW(8, a1, 2) BP_ROW(9, a1, 3)
        BP_ROW(10, a1, 4) BP_ROW(11, a1, 5)
#undef BP_ROW
        a0 += a_k, b0 += b_k, b1 += b_k;
        if (rows > BP_MR) a1 += a_k;
    }
    const size_t n_hi = dest->n - 16;
#define BP_STORE(i)                                                                              \
    if ((i) < rows) {                                                                            \
        float *c = dest->C + (i) * dest->ldc;                                                    \
        store16(dest, c, c##i##0, 16, dest->row + (i), dest->col);                               \
        store16(dest, c + 16, c##i##1, n_hi, dest->row + (i), dest->col + 16);                   \
    }
    BP_STORE(0) BP_STORE(1) BP_STORE(2) BP_STORE(3) BP_STORE(4) BP_STORE(5)
    BP_STORE(6) BP_STORE(7) BP_STORE(8) BP_STORE(9) BP_STORE(10) BP_STORE(11)
#undef BP_STORE
}

BP_AVX512_TARGET
void bp_gemm_kernel_avx512(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps,
                           const bp_tile_dest *dest)
{
    /* One copy of the tile per row count and form of the slivers, each with its
       unused rows compiled out. */
#define BP_CASES(form)                                                                       \
    switch (dest->m) {                                                                       \
    case 1: tile_rows(kc, a, b, steps, dest, 1, form); break;                                \
    case 2: tile_rows(kc, a, b, steps, dest, 2, form); break;                                \
    case 3: tile_rows(kc, a, b, steps, dest, 3, form); break;                                \
    case 4: tile_rows(kc, a, b, steps, dest, 4, form); break;                                \
    case 5: tile_rows(kc, a, b, steps, dest, 5, form); break;                                \
    case 6: tile_rows(kc, a, b, steps, dest, 6, form); break;                                \
    case 7: tile_rows(kc, a, b, steps, dest, 7, form); break;                                \
    case 8: tile_rows(kc, a, b, steps, dest, 8, form); break;                                \
    case 9: tile_rows(kc, a, b, steps, dest, 9, form); break;                                \
    case 10: tile_rows(kc, a, b, steps, dest, 10, form); break;                              \
    case 11: tile_rows(kc, a, b, steps, dest, 11, form); break;                              \
    default: tile_rows(kc, a, b, steps, dest, 12, form); break;                              \
    }
    const int packed = steps->a_k == BP_MR && steps->a_row == 1 && steps->a_next == BP_MR * kc &&
                       steps->b_k == BP_NR && steps->b_next == BP_NR * kc;
    if (packed)
        BP_CASES(FORM_PACKED)
    else if (steps->a_row == 1)
        BP_CASES(FORM_IN_PLACE)
    else
        BP_CASES(FORM_ROWS)
#undef BP_CASES
#if !defined(BP_GEMM_SIMDE)
    _mm256_zeroupper();
#endif
}

#else /* no AVX-512 code on this compiler or CPU family */

int bp_gemm_avx512_usable(void) { return 0; }

/* Never called (bp_gemm_avx512_usable says no); here so that gemm.c links. */
void bp_gemm_kernel_avx512(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps,
                           const bp_tile_dest *dest)
{
    (void)kc, (void)a, (void)b, (void)steps, (void)dest;
}

#endif
