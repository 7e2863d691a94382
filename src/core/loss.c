/*
 * loss.c - MSE, softmax cross-entropy and sigmoid binary cross-entropy.
 *
 * CE and BCE are evaluated from the logits z rather than from a: with
 * log-sum-exp and softplus they stay finite for every finite z, where
 * log(a) would hit log(0) once a saturates.
 */
#include <math.h>

#include "activation.h"
#include "loss.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(BP_NO_SIMD)
#define LOSS_WIDE 1
#include <immintrin.h>
#endif

/* log(1 + e^x) without overflow. */
static double softplus(double x)
{
    return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

int bp_loss_is_canonical(bp_loss loss, bp_activation output)
{
    return (loss == BP_LOSS_MSE && output == BP_ACT_IDENTITY) ||
           (loss == BP_LOSS_CE && output == BP_ACT_SOFTMAX) ||
           (loss == BP_LOSS_BCE && output == BP_ACT_SIGMOID);
}

/* One sample's softmax cross-entropy: C = -sum y_i log softmax(z)_i = (sum y) lse(z) -
   sum y_i z_i, where lse(z) = log sum_j e^(z_j). The softmax a is already there: at
   the largest logit a = e^(z_max - lse), so lse = z_max - log(a at z_max), and that a
   is at least 1/n, so its logarithm is accurate: one log per sample, no exp.
   Units that tie for the largest logit have the same a (equal logits, equal
   exponentials), so the last of them is taken, found without a branch (the max is a
   maxss; the index moves by a product with the 0 or 1 of the comparison, where GCC
   makes a select into a jump): finding the first one's index by comparisons took a
   branch that mispredicted about once a row, a third of bp_loss_sum's time on digits.
   A NaN logit makes the row's a, and so the loss, NaN whichever unit is taken. */
static inline double ce_row(const float *zr, const float *ar, const float *yr, size_t n)
{
    float z_top = zr[0];
    size_t top = 0;
    double ysum = 0.0, yz = 0.0;
    for (size_t i = 1; i < n; i++) z_top = zr[i] > z_top ? zr[i] : z_top;
    for (size_t i = 1; i < n; i++) top += (i - top) * (size_t)(zr[i] == z_top);
    for (size_t i = 0; i < n; i++) {
        ysum += yr[i];
        yz += (double)yr[i] * zr[i];
    }
    return ysum * ((double)z_top - log((double)ar[top])) - yz;
}

/* Softmax + CE: dC/dz = (sum_i y_i) a - y, which is a - y for targets that sum to 1
   (one-hot or probabilities); the general form keeps any other target right too. */
static inline void ce_delta_row(const float *ar, const float *yr, float *dr, size_t n)
{
    float ysum = 0.0f;
    for (size_t i = 0; i < n; i++) ysum += yr[i];
    for (size_t i = 0; i < n; i++) dr[i] = ysum * ar[i] - yr[i];
}

double bp_loss_sum(bp_loss loss, const float *z, const float *a, const float *y, size_t m, size_t n)
{
    double total = 0.0;
    for (size_t s = 0; s < m; s++) {
        const float *zr = z + s * n, *ar = a + s * n, *yr = y + s * n;
        switch (loss) {
        case BP_LOSS_MSE:
            /* C = 1/2 ||a - y||^2 */
            for (size_t i = 0; i < n; i++) {
                double d = (double)ar[i] - yr[i];
                total += 0.5 * d * d;
            }
            break;
        case BP_LOSS_CE:
            total += ce_row(zr, ar, yr, n);
            break;
        case BP_LOSS_BCE:
            /* -[y log a + (1-y) log(1-a)] with a = sigmoid(z) equals softplus(z) - y z */
            for (size_t i = 0; i < n; i++) total += softplus(zr[i]) - (double)yr[i] * zr[i];
            break;
        }
    }
    return total;
}

void bp_loss_delta(bp_loss loss, bp_activation output, const float *a,
                   const float *y, float *delta, size_t m, size_t n)
{
    size_t count = m * n;
    if (loss == BP_LOSS_CE && output == BP_ACT_SOFTMAX) {
        for (size_t s = 0; s < m; s++) ce_delta_row(a + s * n, y + s * n, delta + s * n, n);
        return;
    }
    /* The other canonical pairs: the output activation's Jacobian cancels against the loss. */
    if (bp_loss_is_canonical(loss, output)) {
        for (size_t i = 0; i < count; i++) delta[i] = a[i] - y[i];
        return;
    }
    /* General case (only MSE reaches here, see bp_net_config_check):
       grad_a C = a - y, then through g'(z^L). */
    for (size_t i = 0; i < count; i++) delta[i] = a[i] - y[i];
    bp_activation_backward(output, a, delta, m, n);
}

#ifdef LOSS_WIDE
/* Softmax + CE's sum and delta for the first m - m mod 8 rows, eight at a time with
   AVX-512F (rows of at most 16), returning the sum of their losses; the same
   arithmetic as ce_row and ce_delta_row, so the same bits. As in activation.c's
   softmax_wide, a gather reads unit i of eight rows, so each row's maximum, index,
   sums over y (double, and float for delta) and y z run in its own lane in the scalar
   order; the logarithms and the running total then go row by row, in order, through
   libm as before; delta runs over the block's contiguous values, each lane fetching
   its row's sum of y by a permutation. */
static __attribute__((noinline, target("avx512f"))) double ce_sum_delta_wide(const float *z, const float *a,
                                                                          const float *y, float *delta, size_t m,
                                                                          size_t n)
{
    const size_t block = 8 * n, pieces = (block + 15) / 16;
    const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)n));
    int32_t owner[8][16];
    __mmask16 live[8];
    for (size_t v = 0; v < pieces; v++) {
        for (size_t j = 0; j < 16; j++) owner[v][j] = (int32_t)((16 * v + j) / n < 8 ? (16 * v + j) / n : 7);
        live[v] = block - 16 * v >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (block - 16 * v)) - 1);
    }
    double total = 0.0;
    for (size_t s = 0; s < m; s += 8) {
        const float *zb = z + s * n, *ab = a + s * n, *yb = y + s * n;
        __m256 z_top = _mm256_i32gather_ps(zb, rows, 4);
        for (size_t i = 1; i < n; i++) z_top = _mm256_max_ps(_mm256_i32gather_ps(zb + i, rows, 4), z_top);
        __m256i top = _mm256_setzero_si256();
        __m256 ysum_f = _mm256_setzero_ps();
        __m512d ysum = _mm512_setzero_pd(), yz = _mm512_setzero_pd();
        for (size_t i = 0; i < n; i++) {
            const __m256 zi = _mm256_i32gather_ps(zb + i, rows, 4), yi = _mm256_i32gather_ps(yb + i, rows, 4);
            const __m256 tie = _mm256_cmp_ps(zi, z_top, _CMP_EQ_OQ);
            top = _mm256_blendv_epi8(top, _mm256_set1_epi32((int)i), _mm256_castps_si256(tie));
            ysum_f = _mm256_add_ps(ysum_f, yi);
            const __m512d yd = _mm512_cvtps_pd(yi);
            ysum = _mm512_add_pd(ysum, yd);
            yz = _mm512_add_pd(yz, _mm512_mul_pd(yd, _mm512_cvtps_pd(zi)));
        }
        const __m256 a_top = _mm256_i32gather_ps(ab, _mm256_add_epi32(rows, top), 4);
        const __m512 ysum16 = _mm512_castps256_ps512(ysum_f);
        for (size_t v = 0; v < pieces; v++) {
            const __m512 av = _mm512_maskz_loadu_ps(live[v], ab + 16 * v);
            const __m512 yv = _mm512_maskz_loadu_ps(live[v], yb + 16 * v);
            const __m512 own = _mm512_permutexvar_ps(_mm512_loadu_si512(owner[v]), ysum16);
            _mm512_mask_storeu_ps(delta + s * n + 16 * v, live[v], _mm512_sub_ps(_mm512_mul_ps(own, av), yv));
        }
        float zt[8], at[8];
        double ys[8], yzs[8];
        _mm256_storeu_ps(zt, z_top);
        _mm256_storeu_ps(at, a_top);
        _mm512_storeu_pd(ys, ysum);
        _mm512_storeu_pd(yzs, yz);
        /* log is libm's SSE-compatible code, and so is the caller: clear the upper
           halves first (see softmax_wide in activation.c). */
        _mm256_zeroupper();
        for (size_t k = 0; k < 8; k++) total += ys[k] * ((double)zt[k] - log((double)at[k])) - yzs[k];
    }
    return total;
}
#endif

double bp_loss_sum_delta(bp_loss loss, bp_activation output, const float *z, const float *a, const float *y,
                         float *delta, size_t m, size_t n, int portable)
{
    if (loss != BP_LOSS_CE || output != BP_ACT_SOFTMAX) {
        bp_loss_delta(loss, output, a, y, delta, m, n);
        return bp_loss_sum(loss, z, a, y, m, n);
    }
    /* One pass over the rows instead of two: for rows of 10 the loop and the loads
       cost as much as the arithmetic. */
    double total = 0.0;
    size_t s = 0;
#ifdef LOSS_WIDE
    /* Asked per call, as gemm.c asks for its kernels. */
    if (!portable && n <= 16 && m >= 8 && __builtin_cpu_supports("avx512f")) {
        s = m & ~(size_t)7;
        total = ce_sum_delta_wide(z, a, y, delta, s, n);
    }
#endif
    (void)portable;
    for (; s < m; s++) {
        total += ce_row(z + s * n, a + s * n, y + s * n, n);
        ce_delta_row(a + s * n, y + s * n, delta + s * n, n);
    }
    return total;
}
