/*
 * epilogue_avx512.h - the epilogue (epilogue.h) on 16 floats in an AVX-512
 * register, operation for operation as bp_epilogue_row does it, so the
 * kernels that use it give the same bits as the portable ones.
 *
 * Shared by the fp32 AVX-512 kernel (gemm_avx512.c) and the bf16 kernels
 * (gemm_avx512_bf16.c). The includer has <immintrin.h> (or SIMDe's
 * emulation of it) and defines BP_AVX512_TARGET, the target attribute its
 * AVX-512 functions carry.
 */
#ifndef BP_EPILOGUE_AVX512_H
#define BP_EPILOGUE_AVX512_H

#include <stddef.h>

#include "epilogue.h"

/* The epilogue on one 16-column half of a row, in registers: v holds the
   values, k the valid columns, col the half's first column in C. */
BP_AVX512_TARGET
static inline __m512 epilogue16(const bp_gemm_epilogue *e, __m512 v, __mmask16 k, size_t row, size_t col)
{
    const __m512 zero = _mm512_setzero_ps();
    if (e->bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, e->bias + col));
    if (e->act == BP_EPI_RELU) {
        v = _mm512_max_ps(v, zero); /* max(NaN, 0) and max(-0, 0) give +0, as c > 0 ? c : 0 does */
    } else if (e->act == BP_EPI_LEAKY) {
        __mmask16 pos = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);
        v = _mm512_mask_blend_ps(pos, _mm512_mul_ps(_mm512_set1_ps(e->slope), v), v);
    }
    if (e->deriv != BP_EPI_NONE) {
        const __m512 d = _mm512_maskz_loadu_ps(k, e->D + row * e->ldd + col);
        const __m512 one = _mm512_set1_ps(1.0f);
        const __mmask16 pos = _mm512_cmp_ps_mask(d, zero, _CMP_GT_OQ);
        switch (e->deriv) {
        case BP_EPI_RELU:
            v = _mm512_maskz_mov_ps(pos, v);
            break;
        case BP_EPI_LEAKY:
            v = _mm512_mul_ps(v, _mm512_mask_blend_ps(pos, _mm512_set1_ps(e->slope), one));
            break;
        case BP_EPI_SIGMOID:
            v = _mm512_mul_ps(v, _mm512_mul_ps(d, _mm512_sub_ps(one, d)));
            break;
        case BP_EPI_TANH:
            v = _mm512_mul_ps(v, _mm512_sub_ps(one, _mm512_mul_ps(d, d)));
            break;
        }
    }
    return v;
}

#endif
