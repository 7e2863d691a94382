/*
 * int8_vnni.c - the AVX-512 VNNI int8 layer: vpdpbusd multiplies 64 unsigned
 * activation bytes by 64 signed weight bytes and adds them in fours into 16
 * int32 sums, four times the multiply-adds of a float FMA per instruction.
 *
 * Activations are stored as q + 128 (unsigned; the bias carries the -128 sum
 * W_ij correction, see int8.h). Weights are packed in blocks of 16 outputs by 4
 * inputs, one 64-byte vector per block and input group (int8_kernel.h). A tile
 * is up to 12 samples by 32 outputs: 24 accumulators, two weight vectors and a
 * broadcast of 4 activation bytes, 27 of the 32 zmm registers, so every weight
 * load feeds 12 vpdpbusd and every broadcast two. The loop runs over pairs of
 * output blocks outside and samples inside, so one 32-output sliver of W (25
 * KiB for 784 inputs) stays in L1 while the samples stream past it.
 *
 * The rescaling is done on the tile in registers: 32 x 32 -> 64-bit products
 * of the even and the odd lanes (vpmuldq), a per-lane rounding shift (vpsravq),
 * the zero point, the clamp, and one narrowing store. It is the rule of
 * bp_i8_rescale lane by lane, so the bytes are those of the reference.
 *
 * Compiled for AVX-512F/BW/VL/VNNI by target attributes and chosen at run time
 * (int8.c); -DBP_NO_AVX512 or a non-x86 build leaves it out.
 */
#include "int8_kernel.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(BP_NO_SIMD) && \
    !defined(BP_NO_AVX512)
#include <immintrin.h>
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define VNNI_INLINE VNNI_TARGET static inline __attribute__((always_inline))

enum { ROWS = 8 };

int bp_i8_vnni_usable(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* The rescaling of one block of 16 outputs, as vectors: 64-bit lanes for the even
   outputs (e) and the odd ones (o). */
typedef struct {
    __m512i bias, mult_e, mult_o, half_e, half_o, shift_e, shift_o;
} lane_rule;

typedef struct {
    lane_rule pos, neg;   /* neg: for sums below zero (leaky ReLU) */
    __m512i zero, lo, hi; /* 64-bit: zero point + 128, and the clamp 0..255 */
    const int8_t *lut;
    int has_neg;
    __mmask16 valid;      /* outputs of the block that exist */
} block_rule;

VNNI_INLINE lane_rule make_lane_rule(const int32_t *bias, const int32_t *mult, const uint8_t *shift, __mmask16 k)
{
    lane_rule r;
    r.bias = bias ? _mm512_maskz_loadu_epi32(k, bias) : _mm512_setzero_si512();
    __m512i m = _mm512_maskz_loadu_epi32(k, mult);
    __m512i s = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, shift));
    const __m512i low = _mm512_set1_epi64(0xffffffff), one = _mm512_set1_epi64(1);
    r.mult_e = m; /* vpmuldq reads the low 32 bits of each 64-bit lane */
    r.mult_o = _mm512_srli_epi64(m, 32);
    r.shift_e = _mm512_and_si512(s, low);
    r.shift_o = _mm512_srli_epi64(s, 32);
    /* 2^(shift - 1); lanes past the end have shift 0, a count over 63 gives 0. */
    r.half_e = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.shift_e, one));
    r.half_o = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.shift_o, one));
    return r;
}

VNNI_INLINE block_rule make_block_rule(const bp_i8_requant *rq, const int32_t *bias, size_t first, size_t n_out)
{
    block_rule b;
    size_t n = n_out - first < 16 ? n_out - first : 16;
    b.valid = (__mmask16)((1u << n) - 1);
    b.pos = make_lane_rule(bias + first, rq->mult + first, rq->shift + first, b.valid);
    b.has_neg = rq->mult_neg != NULL;
    if (b.has_neg) b.neg = make_lane_rule(NULL, rq->mult_neg + first, rq->shift_neg + first, b.valid);
    b.zero = _mm512_set1_epi64((int64_t)rq->zero + 128);
    b.lo = _mm512_setzero_si512();
    b.hi = _mm512_set1_epi64(255);
    b.lut = rq->lut;
    return b;
}

/* bp_i8_rescale on 16 sums (bias added), as 16 int32 in 0..255 (q + 128). */
VNNI_INLINE __m512i rescale(__m512i sum, const lane_rule *r, const block_rule *b)
{
    __m512i pe = _mm512_mul_epi32(sum, r->mult_e);
    __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(sum, 32), r->mult_o);
    pe = _mm512_add_epi64(_mm512_srav_epi64(_mm512_add_epi64(pe, r->half_e), r->shift_e), b->zero);
    po = _mm512_add_epi64(_mm512_srav_epi64(_mm512_add_epi64(po, r->half_o), r->shift_o), b->zero);
    pe = _mm512_min_epi64(_mm512_max_epi64(pe, b->lo), b->hi);
    po = _mm512_min_epi64(_mm512_max_epi64(po, b->lo), b->hi);
    return _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/* 16 sums of one sample to bytes in out (only the block's valid outputs are written). */
VNNI_INLINE void finish(__m512i acc, const block_rule *b, uint8_t *out)
{
    __m512i sum = _mm512_add_epi32(acc, b->pos.bias);
    __m512i q = rescale(sum, &b->pos, b);
    if (b->has_neg) {
        __mmask16 negative = _mm512_cmplt_epi32_mask(sum, _mm512_setzero_si512());
        q = _mm512_mask_blend_epi32(negative, q, rescale(sum, &b->neg, b));
    }
    __m128i bytes = _mm512_cvtepi32_epi8(q);
    if (b->lut) {
        uint8_t u[16];
        _mm_storeu_si128((__m128i *)u, bytes);
        for (int c = 0; c < 16; c++) u[c] = (uint8_t)(b->lut[u[c]] + 128);
        bytes = _mm_loadu_si128((const __m128i *)u);
    }
    _mm_mask_storeu_epi8(out, b->valid, bytes);
}

/* acc += the products of x's unsigned bytes and w's signed bytes, summed in fours. Written
   as one instruction that updates acc in place: through the intrinsic, GCC 12 copied every
   accumulator to another register and back around each vpdpbusd (a third of the tile's
   instructions were such moves). */
#define DPBUSD(acc, x, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w))

/* R samples (rows of a) by NB blocks of 16 outputs, over K4 groups of 4 inputs. The
   accumulators are named variables rather than an array: GCC keeps those in registers,
   where it spilled an array's elements to the stack at every step. */
#define ROW_STEP(r)                                                                             \
    if (R > r) {                                                                                \
        int32_t four;                                                                           \
        memcpy(&four, a + r * lda + 4 * g, 4);                                                  \
        __m512i x = _mm512_set1_epi32(four);                                                    \
        DPBUSD(c##r##_0, x, w0v);                                                               \
        if (NB > 1) DPBUSD(c##r##_1, x, w1v);                                                   \
    }
#define ROW_FINISH(r)                                                                           \
    if (R > r) {                                                                                \
        finish(c##r##_0, &b[0], out + r * ldo);                                                 \
        if (NB > 1) finish(c##r##_1, &b[1], out + r * ldo + 16);                                \
    }
#define ROW_ACC(r) __m512i c##r##_0 = _mm512_setzero_si512(), c##r##_1 = _mm512_setzero_si512();

VNNI_INLINE void tile(const uint8_t *a, size_t lda, size_t K4, const int8_t *w, const block_rule *b, uint8_t *out,
                      size_t ldo, const char **prefetch, const char *prefetch_end, const size_t R, const size_t NB)
{
    const char *pf = *prefetch;
    ROW_ACC(0) ROW_ACC(1) ROW_ACC(2) ROW_ACC(3) ROW_ACC(4) ROW_ACC(5)
    ROW_ACC(6) ROW_ACC(7) ROW_ACC(8) ROW_ACC(9) ROW_ACC(10) ROW_ACC(11)
    const int8_t *w1 = w + K4 * 64;
    for (size_t g = 0; g < K4; g++) {
        __m512i w0v = _mm512_loadu_si512(w + g * 64);
        __m512i w1v = _mm512_setzero_si512();
        if (NB > 1) w1v = _mm512_loadu_si512(w1 + g * 64);
        /* One line of what the caller reads next, every other step, towards L2. */
        if ((g & 1) == 0 && pf < prefetch_end) {
            _mm_prefetch(pf, _MM_HINT_T1);
            pf += 64;
        }
        ROW_STEP(0) ROW_STEP(1) ROW_STEP(2) ROW_STEP(3) ROW_STEP(4) ROW_STEP(5)
        ROW_STEP(6) ROW_STEP(7) ROW_STEP(8) ROW_STEP(9) ROW_STEP(10) ROW_STEP(11)
    }
    ROW_FINISH(0) ROW_FINISH(1) ROW_FINISH(2) ROW_FINISH(3) ROW_FINISH(4) ROW_FINISH(5)
    ROW_FINISH(6) ROW_FINISH(7) ROW_FINISH(8) ROW_FINISH(9) ROW_FINISH(10) ROW_FINISH(11)
    *prefetch = pf;
}

/* One instance per row count and block count, so that every loop above unrolls and
   the accumulators live in registers. */
#define TILE_CASE(R)                                                                  \
    case R:                                                                           \
        if (nb == 2) tile(a, lda, K4, w, b, out, ldo, pf, pf_end, R, 2);              \
        else tile(a, lda, K4, w, b, out, ldo, pf, pf_end, R, 1);                      \
        break;

VNNI_TARGET
static void tile_any(const uint8_t *a, size_t lda, size_t K4, const int8_t *w, const block_rule *b, uint8_t *out,
                     size_t ldo, const char **pf, const char *pf_end, size_t rows, size_t nb)
{
    switch (rows) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
        TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
    default: break;
    }
}

VNNI_TARGET
void bp_i8_vnni_layer(const uint8_t *a, size_t lda, size_t m, size_t n_in, const int8_t *packed,
                      const int32_t *bias, size_t n_out, const bp_i8_requant *rq, uint8_t *out, size_t ldo,
                      const void *prefetch, size_t prefetch_bytes)
{
    const char *pf = prefetch, *pf_end = pf ? pf + prefetch_bytes : NULL;
    size_t K4 = (n_in + 3) / 4, blocks = (n_out + 15) / 16;
    for (size_t blk = 0; blk < blocks; blk += 2) {
        size_t nb = blocks - blk > 1 ? 2 : 1;
        block_rule b[2];
        b[0] = make_block_rule(rq, bias, blk * 16, n_out);
        if (nb == 2) b[1] = make_block_rule(rq, bias, (blk + 1) * 16, n_out);
        const int8_t *w = packed + blk * K4 * 64;
        for (size_t s = 0; s < m; s += ROWS)
            tile_any(a + s * lda, lda, K4, w, b, out + s * ldo + blk * 16, ldo, &pf, pf_end, m - s < ROWS ? m - s : ROWS,
                     nb);
    }
}

/* bp_i8_quantize_one on 16 floats at a time, plus 128. */
VNNI_TARGET
void bp_i8_vnni_quantize(const float *x, size_t ldx, size_t m, size_t n, float inv_scale, int32_t zero,
                         uint8_t *out, size_t ldo)
{
    const __m512 inv = _mm512_set1_ps(inv_scale), lo = _mm512_set1_ps(-256.0f), hi = _mm512_set1_ps(256.0f);
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512i z = _mm512_set1_epi32(zero + 128), one = _mm512_set1_epi32(1);
    const __m512i qlo = _mm512_setzero_si512(), qhi = _mm512_set1_epi32(255);
    for (size_t s = 0; s < m; s++) {
        const float *row = x + s * ldx;
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 k = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), inv);
            v = _mm512_max_ps(v, lo); /* a NaN lane takes the second operand: -256 */
            v = _mm512_min_ps(v, hi);
            __m512i r = _mm512_cvttps_epi32(v);
            __m512 f = _mm512_cvtepi32_ps(r);
            __mmask16 up = _mm512_cmp_ps_mask(v, _mm512_add_ps(f, half), _CMP_GE_OQ);
            __mmask16 down = _mm512_cmp_ps_mask(v, _mm512_sub_ps(f, half), _CMP_LE_OQ);
            r = _mm512_mask_add_epi32(r, up, r, one);
            r = _mm512_mask_sub_epi32(r, down, r, one);
            r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, z), qlo), qhi);
            _mm_mask_storeu_epi8(out + s * ldo + j, k, _mm512_cvtepi32_epi8(r));
        }
    }
}

#else

int bp_i8_vnni_usable(void) { return 0; }

void bp_i8_vnni_layer(const uint8_t *a, size_t lda, size_t m, size_t n_in, const int8_t *packed,
                      const int32_t *bias, size_t n_out, const bp_i8_requant *rq, uint8_t *out, size_t ldo,
                      const void *prefetch, size_t prefetch_bytes)
{
    (void)prefetch, (void)prefetch_bytes;
    (void)a, (void)lda, (void)m, (void)n_in, (void)packed, (void)bias, (void)n_out, (void)rq, (void)out, (void)ldo;
}

void bp_i8_vnni_quantize(const float *x, size_t ldx, size_t m, size_t n, float inv_scale, int32_t zero,
                         uint8_t *out, size_t ldo)
{
    (void)x, (void)ldx, (void)m, (void)n, (void)inv_scale, (void)zero, (void)out, (void)ldo;
}

#endif
