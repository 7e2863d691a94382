/*
 * gemm_wasm.c - the WebAssembly SIMD128 micro-kernel: a 6 x 16 tile of C from
 * one A sliver and one B sliver of gemm.c's packed blocks (gemm_kernel.h), for
 * the playground's build (emcc -msimd128, web/build.sh).
 *
 * WebAssembly has 128-bit vectors of four floats and, before relaxed SIMD, no
 * fused multiply-add, and engines map its vectors onto 16 registers on x86-64. A whole 6 x 16 tile needs 24
 * accumulators, which the engine spills inside the k loop, so the tile is
 * computed as two 6 x 8 halves: per k, two loads of B, six broadcasts of A
 * (load32_splat) and twelve multiplies and adds into twelve accumulators,
 * fifteen registers in all; the second half reads the A sliver again from L1.
 * Training the digits network (64-128-64-10, SGD, batch 64) under Node 20 on an
 * Intel Xeon (Sapphire Rapids), best of three interleaved runs in one session:
 * 331k samples/s, against 297k with one pass of 24 accumulators and 243k with
 * gemm.c's portable kernel (which clang vectorizes with 24 accumulators too).
 *
 * The accumulators go to a small array, and a separate loop writes the tile:
 * alpha acc + beta C, then the epilogue four columns at a time, with the
 * operations and order of gemm.c's apply_epilogue (a compare-and-select for
 * ReLU, so NaN and -0 become +0 as there). Storing straight from the k loop's
 * registers measured slower: the engine then keeps 24 live values across the
 * epilogue's branches. An edge tile is written the same way through a
 * zero-padded copy of its corner of C, the bias and D, which keeps this file
 * free of gemm.c's scalar code.
 *
 * Compiled only where the compiler targets SIMD128 (__wasm_simd128__); gemm.c
 * then picks this kernel at compile time, there being nothing to ask at run
 * time. Elsewhere the file holds a stub that is never called.
 * tests/web-test.sh runs tests/test_gemm.c (against bp_gemm_naive) and
 * tests/test_epilogue.c on it under Node.
 *
 * Relaxed SIMD: web/build.sh compiles this file a second time with
 * -mrelaxed-simd, where madd() is one f32x4.relaxed_madd (V8 runs it as
 * vfmadd231ps on CPUs with FMA). Clang 14 writes it with the proposal's
 * prototype opcode, which Chromium 156 and Node 20 refuse; web/relaxed-simd.js
 * rewrites it into the standardized one after linking, and the page runs that
 * build where the browser validates relaxed SIMD (docs/PLAYGROUND.md). Same
 * host, Chromium 156, 7 interleaved rounds of bench/web-speed.sh: 499k
 * samples/s against 399k (1.25 times); the FMA ceiling (bench/web_peak.c) is
 * 56.0 GFLOP/s against 38.9 for a multiply and an add, and training runs at
 * 0.76 of it (0.88 of the other). Writing each half tile straight from its
 * registers, and unrolling the k loop by two, measured slower with FMA too.
 * So did reading op(A) = A's rows in place for small products, as the AVX-512
 * kernel does (six broadcasts from rows lda apart): 0.90 of packing them in
 * Chromium 156, 4 interleaved rounds; packing A is 3% of a Node profile
 * (docs/PLAYGROUND.md, "Timed in runs of epochs").
 *
 * Left out on purpose: threads (a page opened from file:// has no
 * SharedArrayBuffer).
 */
#include "gemm_kernel.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

/* The epilogue on four columns of one row, in registers: v holds the values,
   d (when deriv is set) the four outputs D whose g' multiplies them. Same
   operations and order as apply_epilogue. */
static inline v128_t epilogue4(const bp_gemm_epilogue *e, v128_t v, const float *bias, const float *d)
{
    const v128_t zero = wasm_f32x4_splat(0.0f);
    if (bias) v = wasm_f32x4_add(v, wasm_v128_load(bias));
    if (e->act == BP_EPI_RELU) {
        v = wasm_f32x4_pmax(zero, v); /* 0 < v ? v : 0 */
    } else if (e->act == BP_EPI_LEAKY) {
        v = wasm_v128_bitselect(v, wasm_f32x4_mul(wasm_f32x4_splat(e->slope), v), wasm_f32x4_gt(v, zero));
    }
    if (e->deriv == BP_EPI_NONE) return v;
    const v128_t dv = wasm_v128_load(d), one = wasm_f32x4_splat(1.0f);
    switch (e->deriv) {
    case BP_EPI_RELU:
        v = wasm_v128_and(v, wasm_f32x4_gt(dv, zero));
        break;
    case BP_EPI_LEAKY:
        v = wasm_f32x4_mul(v, wasm_v128_bitselect(one, wasm_f32x4_splat(e->slope), wasm_f32x4_gt(dv, zero)));
        break;
    case BP_EPI_SIGMOID:
        v = wasm_f32x4_mul(v, wasm_f32x4_mul(dv, wasm_f32x4_sub(one, dv)));
        break;
    case BP_EPI_TANH:
        v = wasm_f32x4_mul(v, wasm_f32x4_sub(one, wasm_f32x4_mul(dv, dv)));
        break;
    }
    return v;
}

/* Writes a finished tile from acc (6 x 16, row-major) to C: alpha acc + beta C,
   then the epilogue, four columns at a time. Kept out of the k loop's function
   so that the loop's 24 accumulators are all it holds in registers. */
static void store_tile(const float *acc, const bp_tile_dest *dest)
{
    const v128_t va = wasm_f32x4_splat(dest->alpha), vb = wasm_f32x4_splat(dest->beta);
    const int beta = dest->beta != 0.0f;
    const bp_gemm_epilogue *e = dest->epi;
    for (size_t i = 0; i < BP_MR; i++) {
        float *c = dest->C + i * dest->ldc;
        const float *bias = e && e->bias ? e->bias + dest->col : NULL;
        const float *d = e && e->deriv != BP_EPI_NONE ? e->D + (dest->row + i) * e->ldd + dest->col : NULL;
        for (size_t j = 0; j < BP_NR; j += 4) {
            v128_t v = wasm_f32x4_mul(va, wasm_v128_load(acc + i * BP_NR + j));
            if (beta) v = wasm_f32x4_add(v, wasm_f32x4_mul(vb, wasm_v128_load(c + j)));
            if (e) v = epilogue4(e, v, bias ? bias + j : NULL, d ? d + j : NULL);
            wasm_v128_store(c + j, v);
        }
    }
}

/* acc + a b, four lanes. With relaxed SIMD (the playground's second build,
   compiled with -mrelaxed-simd) one f32x4.relaxed_madd, which engines on
   CPUs with FMA run as one fused multiply-add and elsewhere as a multiply and
   an add; otherwise a multiply and an add. The operands go to the builtin in
   the standardized instruction's order (a * b + c). */
static inline v128_t madd(v128_t a, v128_t b, v128_t acc)
{
#if defined(__wasm_relaxed_simd__)
    return __builtin_wasm_fma_f32x4(a, b, acc);
#else
    return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b));
#endif
}

/* The k loop of eight columns of the tile (col0 = 0 or 8): per k, two loads of
   B, six broadcasts of A, twelve multiplies and adds into twelve accumulators;
   then those columns into acc. */
static inline __attribute__((always_inline)) void multiply_half(size_t kc, const float *a, const float *b,
                                                                size_t a_k, size_t b_k, float *acc)
{
    const v128_t z = wasm_f32x4_splat(0.0f);
    v128_t c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
    v128_t c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    for (size_t p = 0; p < kc; p++, a += a_k, b += b_k) {
        const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        v128_t ai;
#define BP_ROW(i)                                                                                         \
    ai = wasm_v128_load32_splat(a + i);                                                                   \
    c##i##0 = madd(ai, b0, c##i##0);                                                                      \
    c##i##1 = madd(ai, b1, c##i##1)
        BP_ROW(0); BP_ROW(1); BP_ROW(2); BP_ROW(3); BP_ROW(4); BP_ROW(5);
#undef BP_ROW
    }
#define BP_ROW(i) wasm_v128_store(acc + i * BP_NR, c##i##0), wasm_v128_store(acc + i * BP_NR + 4, c##i##1)
    BP_ROW(0); BP_ROW(1); BP_ROW(2); BP_ROW(3); BP_ROW(4); BP_ROW(5);
#undef BP_ROW
}

static void multiply_tile(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps, float *acc)
{
    multiply_half(kc, a, b, steps->a_k, steps->b_k, acc);
    multiply_half(kc, a, b + 8, steps->a_k, steps->b_k, acc + 8);
}

/* An edge tile (fewer than 6 rows or 16 columns valid): the same store on a
   whole 6 x 16 copy of its corner of C, of the bias and of D, padded with
   zeros, so that nothing outside the corner is read or written; then the
   valid corner is copied back. */
static void store_edge_tile(const float *acc, const bp_tile_dest *dest)
{
    _Alignas(16) float c[BP_MR * BP_NR] = {0}, bias[BP_NR] = {0}, d[BP_MR * BP_NR] = {0};
    const size_t m = dest->m, n = dest->n;
    bp_tile_dest local = *dest;
    bp_gemm_epilogue e;
    local.C = c, local.ldc = BP_NR, local.row = 0, local.col = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) c[i * BP_NR + j] = dest->C[i * dest->ldc + j];
    if (dest->epi) {
        e = *dest->epi;
        if (e.bias) {
            for (size_t j = 0; j < n; j++) bias[j] = e.bias[dest->col + j];
            e.bias = bias;
        }
        if (e.deriv != BP_EPI_NONE) {
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) d[i * BP_NR + j] = e.D[(dest->row + i) * e.ldd + dest->col + j];
            e.D = d, e.ldd = BP_NR;
        }
        local.epi = &e;
    }
    store_tile(acc, &local);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) dest->C[i * dest->ldc + j] = c[i * BP_NR + j];
}

void bp_gemm_kernel_wasm(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps,
                         const bp_tile_dest *dest)
{
    _Alignas(16) float acc[BP_MR * BP_NR];
    multiply_tile(kc, a, b, steps, acc);
    if (dest->m == BP_MR && dest->n == BP_NR) store_tile(acc, dest);
    else store_edge_tile(acc, dest);
}

#else /* not a SIMD128 target: gemm.c never picks this kernel */

/* Never called; here so that the file is never empty (ISO C wants a declaration). */
void bp_gemm_kernel_wasm(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps,
                         const bp_tile_dest *dest)
{
    (void)kc, (void)a, (void)b, (void)steps, (void)dest;
}

#endif
