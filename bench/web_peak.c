/*
 * web_peak.c - the most float arithmetic WebAssembly SIMD128 does in the
 * browser: twelve independent chains c = c * m + x on four-float vectors, in
 * registers, no loads or stores (bench/web-speed.sh builds it with emcc and
 * bench/web-speed.mjs times it in the same Chromium as the playground).
 *
 * SIMD128 has no fused multiply-add, so each step is a multiply and an add: 8
 * flops per vector step. Compiled with -mrelaxed-simd (the second module
 * bench/web-speed.sh builds, its prototype FMA opcodes rewritten into
 * f32x4.relaxed_madd by web/relaxed-simd.js, as the playground's relaxed
 * kernel is), each step is one relaxed_madd instead: the ceiling of the
 * page's relaxed-SIMD engine. Twelve chains hide the latency of the
 * multiply and the add (or the FMA); fewer would measure latency. It is the
 * browser's counterpart of bench/fma_peak.c's native FMA chains: no GEMM, and
 * so no training step, can go faster than this.
 *
 * web_peak_run(iters) runs iters steps of all twelve chains and returns one
 * lane of their sum, which keeps the work from being optimized away.
 */
#if defined(__wasm_simd128__)
#include <emscripten.h>
#include <wasm_simd128.h>

EMSCRIPTEN_KEEPALIVE float web_peak_run(int iters)
{
    const v128_t m = wasm_f32x4_splat(0.999f), x = wasm_f32x4_splat(1e-3f);
    v128_t c0 = x, c1 = x, c2 = x, c3 = x, c4 = x, c5 = x, c6 = x, c7 = x, c8 = x, c9 = x, c10 = x, c11 = x;
    for (int i = 0; i < iters; i++) {
#if defined(__wasm_relaxed_simd__)
#define BP_STEP(c) c = __builtin_wasm_fma_f32x4(c, m, x) /* c * m + x, as f32x4.relaxed_madd */
#else
#define BP_STEP(c) c = wasm_f32x4_add(wasm_f32x4_mul(c, m), x)
#endif
        BP_STEP(c0); BP_STEP(c1); BP_STEP(c2); BP_STEP(c3); BP_STEP(c4); BP_STEP(c5);
        BP_STEP(c6); BP_STEP(c7); BP_STEP(c8); BP_STEP(c9); BP_STEP(c10); BP_STEP(c11);
#undef BP_STEP
    }
    const v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(c0, c1), wasm_f32x4_add(c2, c3)),
                                    wasm_f32x4_add(wasm_f32x4_add(c4, c5), wasm_f32x4_add(c6, c7)));
    return wasm_f32x4_extract_lane(wasm_f32x4_add(s, wasm_f32x4_add(wasm_f32x4_add(c8, c9), wasm_f32x4_add(c10, c11))), 0);
}
#else
/* Not a SIMD128 target: nothing to measure (ISO C wants a declaration). */
typedef int web_peak_not_wasm;
#endif
