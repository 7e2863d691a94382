/*
 * int8.c - the int8 layer and input quantization: the plain-C definition, the
 * AVX2 kernel, and the choice between them and the VNNI kernel (int8_vnni.c).
 *
 * AVX2 has no exact byte product: vpmaddubsw saturates its 16-bit pair sums
 * (255 x 127 x 2 > 32767). So the AVX2 kernel widens a few rows of
 * activations to int16 at a time and uses vpmaddwd, which multiplies int16
 * pairs and adds each pair into an int32 lane exactly. Weights are packed as
 * int16 pairs in blocks of 8 outputs (one ymm register), and the tile is 6 rows
 * by 16 outputs: 12 accumulators, two weight vectors and one broadcast, 15 of
 * the 16 ymm registers. The rescaling is scalar (bp_i8_finish) on each tile.
 *
 * Left out on purpose: vpmaddubsw with 7-bit activations (a different
 * quantization), AVX-VNNI on 256-bit registers (CPUs with it have AVX-512
 * VNNI or are client parts; the AVX2 path is the fallback for CPUs with
 * neither), and threads.
 */
#include "int8.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(BP_NO_SIMD)
#define BP_I8_X86 1
#include <immintrin.h>
#define BP_AVX2_TARGET __attribute__((target("avx2")))
#else
#define BP_I8_X86 0
#endif

enum { AVX2_ROWS = 6, AVX2_BLOCK = 8 };

static size_t round_up(size_t n, size_t k) { return (n + k - 1) / k * k; }

int bp_i8_kernel_usable(bp_i8_kernel k)
{
    switch (k) {
    case BP_I8_PORTABLE: return 1;
#if BP_I8_X86
    case BP_I8_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    case BP_I8_VNNI: return bp_i8_vnni_usable();
#else
    case BP_I8_AVX2:
    case BP_I8_VNNI: return 0;
#endif
    }
    return 0;
}

bp_i8_kernel bp_i8_kernel_best(void)
{
    if (bp_i8_kernel_usable(BP_I8_VNNI)) return BP_I8_VNNI;
    if (bp_i8_kernel_usable(BP_I8_AVX2)) return BP_I8_AVX2;
    return BP_I8_PORTABLE;
}

const char *bp_i8_kernel_name(bp_i8_kernel k)
{
    switch (k) {
    case BP_I8_PORTABLE: return "portable C";
    case BP_I8_AVX2: return "AVX2 (vpmaddwd)";
    case BP_I8_VNNI: return "AVX-512 VNNI (vpdpbusd)";
    }
    return "?";
}

/* Every kernel reads rows in groups of 4 bytes at most; 64 keeps rows aligned. */
size_t bp_i8_row_bytes(bp_i8_kernel k, size_t n)
{
    (void)k;
    return round_up(n, 64);
}

size_t bp_i8_packed_bytes(bp_i8_kernel k, size_t n_out, size_t n_in)
{
    switch (k) {
    case BP_I8_AVX2: return round_up(n_out, AVX2_BLOCK) * round_up(n_in, 2) * sizeof(int16_t);
    case BP_I8_VNNI: return round_up(n_out, 16) * round_up(n_in, 4);
    case BP_I8_PORTABLE: break;
    }
    return n_out * n_in;
}

void bp_i8_pack(bp_i8_kernel k, const int8_t *W, size_t n_out, size_t n_in, void *packed)
{
    if (k == BP_I8_AVX2) {
        /* Blocks of 8 outputs; in each, for every input pair p: W[i][2p], W[i][2p + 1] for i = 0..7. */
        size_t K2 = round_up(n_in, 2) / 2;
        int16_t *P = packed;
        for (size_t blk = 0; blk < round_up(n_out, AVX2_BLOCK) / AVX2_BLOCK; blk++)
            for (size_t p = 0; p < K2; p++)
                for (size_t c = 0; c < AVX2_BLOCK; c++)
                    for (size_t t = 0; t < 2; t++) {
                        size_t i = blk * AVX2_BLOCK + c, j = 2 * p + t;
                        *P++ = i < n_out && j < n_in ? W[i * n_in + j] : 0;
                    }
    } else if (k == BP_I8_VNNI) {
        size_t K4 = round_up(n_in, 4) / 4;
        int8_t *P = packed;
        for (size_t blk = 0; blk < round_up(n_out, 16) / 16; blk++)
            for (size_t g = 0; g < K4; g++)
                for (size_t c = 0; c < 16; c++)
                    for (size_t t = 0; t < 4; t++) {
                        size_t i = blk * 16 + c, j = 4 * g + t;
                        *P++ = i < n_out && j < n_in ? W[i * n_in + j] : 0;
                    }
    } else {
        memcpy(packed, W, n_out * n_in);
    }
}

size_t bp_i8_scratch_bytes(bp_i8_kernel k, size_t m, size_t n_in)
{
    (void)m;
    return k == BP_I8_AVX2 ? AVX2_ROWS * round_up(n_in, 2) * sizeof(int16_t) : 0;
}

/* ---------------------------------------------------------------- reference */

/* GCC 12 at -O2 vectorizes only loops without a reduction; this one is the portable kernel
   on CPUs other than x86, so it asks for the vectorizer (clang vectorizes at -O2 anyway). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize")))
#endif
void bp_i8_layer_reference(const int8_t *a, size_t lda, size_t m, size_t n_in, const int8_t *W,
                           const int32_t *bias, size_t n_out, const bp_i8_requant *rq, int8_t *out, size_t ldo)
{
    for (size_t s = 0; s < m; s++)
        for (size_t i = 0; i < n_out; i++) {
            int32_t sum = bias[i];
            for (size_t j = 0; j < n_in; j++) sum += (int32_t)W[i * n_in + j] * a[s * lda + j];
            out[s * ldo + i] = (int8_t)bp_i8_finish(sum, rq, i);
        }
}

static void quantize_portable(const float *x, size_t ldx, size_t m, size_t n, float inv_scale, int32_t zero,
                              int8_t *out, size_t ldo)
{
    for (size_t s = 0; s < m; s++)
        for (size_t j = 0; j < n; j++) out[s * ldo + j] = (int8_t)bp_i8_quantize_one(x[s * ldx + j], inv_scale, zero);
}

/* --------------------------------------------------------------------- AVX2 */

#if BP_I8_X86
/* Rows [0, R) of the int16 copy A16 (K16 values each) times output blocks blk and blk + 1
   of the packed weights; sums plus bias rescaled into out. Named accumulators and a
   constant R, so that they stay in registers (as in int8_vnni.c). */
#define AVX2_ACC(r) __m256i c##r##_0 = _mm256_setzero_si256(), c##r##_1 = _mm256_setzero_si256();
#define AVX2_STEP(r)                                                                            \
    if (R > r) {                                                                                \
        int32_t pair;                                                                           \
        memcpy(&pair, A16 + r * K16 + 2 * p, sizeof pair);                                       \
        __m256i x = _mm256_set1_epi32(pair);                                                    \
        c##r##_0 = _mm256_add_epi32(c##r##_0, _mm256_madd_epi16(x, b0));                        \
        c##r##_1 = _mm256_add_epi32(c##r##_1, _mm256_madd_epi16(x, b1));                        \
    }
#define AVX2_FINISH(r)                                                                          \
    if (R > r) {                                                                                \
        int32_t sums[16];                                                                       \
        _mm256_storeu_si256((__m256i *)sums, c##r##_0);                                         \
        _mm256_storeu_si256((__m256i *)(sums + 8), c##r##_1);                                   \
        for (size_t c = 0; c < AVX2_BLOCK * nblk; c++) {                                        \
            size_t i = blk * AVX2_BLOCK + c;                                                    \
            if (i < n_out) out[r * ldo + i] = (int8_t)bp_i8_finish(sums[c] + bias[i], rq, i);    \
        }                                                                                       \
    }

BP_AVX2_TARGET
static inline __attribute__((always_inline)) void avx2_tile(const int16_t *A16, size_t K16, const int16_t *P,
                                                            size_t blk, size_t nblk, const int32_t *bias, size_t n_out,
                                                            const bp_i8_requant *rq, int8_t *out, size_t ldo,
                                                            const size_t R)
{
    AVX2_ACC(0) AVX2_ACC(1) AVX2_ACC(2) AVX2_ACC(3) AVX2_ACC(4) AVX2_ACC(5)
    const int16_t *w0 = P + blk * K16 * AVX2_BLOCK, *w1 = w0 + K16 * AVX2_BLOCK;
    for (size_t p = 0; p < K16 / 2; p++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(w0 + p * 16));
        __m256i b1 = nblk > 1 ? _mm256_loadu_si256((const __m256i *)(w1 + p * 16)) : _mm256_setzero_si256();
        AVX2_STEP(0) AVX2_STEP(1) AVX2_STEP(2) AVX2_STEP(3) AVX2_STEP(4) AVX2_STEP(5)
    }
    AVX2_FINISH(0) AVX2_FINISH(1) AVX2_FINISH(2) AVX2_FINISH(3) AVX2_FINISH(4) AVX2_FINISH(5)
}

BP_AVX2_TARGET
static void avx2_tile_any(const int16_t *A16, size_t K16, size_t rows, const int16_t *P, size_t blk, size_t nblk,
                          const int32_t *bias, size_t n_out, const bp_i8_requant *rq, int8_t *out, size_t ldo)
{
    switch (rows) {
    case 1: avx2_tile(A16, K16, P, blk, nblk, bias, n_out, rq, out, ldo, 1); break;
    case 2: avx2_tile(A16, K16, P, blk, nblk, bias, n_out, rq, out, ldo, 2); break;
    case 3: avx2_tile(A16, K16, P, blk, nblk, bias, n_out, rq, out, ldo, 3); break;
    case 4: avx2_tile(A16, K16, P, blk, nblk, bias, n_out, rq, out, ldo, 4); break;
    case 5: avx2_tile(A16, K16, P, blk, nblk, bias, n_out, rq, out, ldo, 5); break;
    default: avx2_tile(A16, K16, P, blk, nblk, bias, n_out, rq, out, ldo, AVX2_ROWS); break;
    }
}

BP_AVX2_TARGET
static void avx2_layer(const int8_t *a, size_t lda, size_t m, size_t n_in, const int16_t *P, const int32_t *bias,
                       size_t n_out, const bp_i8_requant *rq, int8_t *out, size_t ldo, int16_t *A16)
{
    size_t K16 = round_up(n_in, 2), blocks = round_up(n_out, AVX2_BLOCK) / AVX2_BLOCK;
    for (size_t s = 0; s < m; s += AVX2_ROWS) {
        size_t rows = m - s < AVX2_ROWS ? m - s : AVX2_ROWS;
        /* These rows widened to int16, padded with a zero to an even count. */
        for (size_t r = 0; r < rows; r++) {
            const int8_t *src = a + (s + r) * lda;
            int16_t *dst = A16 + r * K16;
            size_t j = 0;
            for (; j + 16 <= n_in; j += 16)
                _mm256_storeu_si256((__m256i *)(dst + j),
                                    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + j))));
            for (; j < K16; j++) dst[j] = j < n_in ? src[j] : 0;
        }
        for (size_t blk = 0; blk < blocks; blk += 2)
            avx2_tile_any(A16, K16, rows, P, blk, blocks - blk > 1 ? 2 : 1, bias, n_out, rq, out + s * ldo, ldo);
    }
}
#endif

/* ------------------------------------------------------------------ choice */

void bp_i8_layer(bp_i8_kernel k, const uint8_t *a, size_t lda, size_t m, size_t n_in, const void *packed,
                 const int32_t *bias, size_t n_out, const bp_i8_requant *rq, uint8_t *out, size_t ldo,
                 void *scratch, const void *prefetch, size_t prefetch_bytes)
{
#if BP_I8_X86
    if (k == BP_I8_VNNI) {
        bp_i8_vnni_layer(a, lda, m, n_in, packed, bias, n_out, rq, out, ldo, prefetch, prefetch_bytes);
        return;
    }
    if (k == BP_I8_AVX2) {
        avx2_layer((const int8_t *)a, lda, m, n_in, packed, bias, n_out, rq, (int8_t *)out, ldo, scratch);
        return;
    }
#else
    (void)k;
#endif
    (void)scratch, (void)prefetch, (void)prefetch_bytes;
    bp_i8_layer_reference((const int8_t *)a, lda, m, n_in, packed, bias, n_out, rq, (int8_t *)out, ldo);
}

void bp_i8_quantize(bp_i8_kernel k, const float *x, size_t ldx, size_t m, size_t n, float inv_scale, int32_t zero,
                    uint8_t *out, size_t ldo)
{
#if BP_I8_X86
    if (k == BP_I8_VNNI) {
        bp_i8_vnni_quantize(x, ldx, m, n, inv_scale, zero, out, ldo);
        return;
    }
#else
    (void)k;
#endif
    quantize_portable(x, ldx, m, n, inv_scale, zero, (int8_t *)out, ldo);
}
