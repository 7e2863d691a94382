/*
 * fastmath.h - an exp() for float that compilers can inline and vectorize.
 *
 * libm's expf is accurate and fast for one call, but it is a function call a
 * compiler cannot vectorize, and on tiny networks it is most of the time. This
 * one reduces x = n ln2 + r with |r| <= ln2/2, evaluates e^r with a degree-6
 * Taylor polynomial (truncation error below 2e-8 there) and scales by 2^n
 * through the exponent bits. Relative error about 2e-7 (a few ulp), checked
 * against expf by tests/test_fastmath.c. Inputs are clamped to [-87, 88], so
 * the result is always a normal finite float (e^-87 ~ 1.6e-38); NaN stays NaN.
 *
 * With GCC or clang the same exp, and a sigmoid built for latency, also come four
 * lanes at a time (bp_fast_exp4, bp_fast_sigmoid4) for tiny_sgd.c, which runs a
 * whole layer of up to four units through one call; tests/test_tiny_sgd.c checks
 * them against libm.
 */
#ifndef BP_FASTMATH_H
#define BP_FASTMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The exp below for x that is not NaN (x is clamped first, so the conversion to
   an integer is always in range). */
static inline float bp_fast_expf_number(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* n = round(x / ln2); the +0.5 and truncation toward -inf via the shift below. */
    float t = x * 1.44269504088896341f + 0.5f;
    /* floor(t); & rather than && so that a loop of this has no branch to vectorize around. */
    int32_t n = (int32_t)t - ((t < 0.0f) & ((float)(int32_t)t != t));
    float fn = (float)n;
    /* r = x - n ln2 in two parts, so the reduction itself loses nothing. */
    float r = x - fn * 0.693145751953125f - fn * 1.428606765330187e-06f;
    /* Estrin's scheme: the same polynomial as Horner's, but three dependent steps
       instead of six, which matters where exp sits on a chain of dependent work
       (a tiny network trained one sample at a time). */
    float r2 = r * r, r4 = r2 * r2;
    float p01 = 1.0f + r, p23 = 0.5f + r * (1.0f / 6.0f), p45 = 1.0f / 24.0f + r * (1.0f / 120.0f);
    float p = p01 + r2 * p23 + r4 * (p45 + r2 * (1.0f / 720.0f));
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float bp_fast_expf(float x)
{
    return x != x ? x : bp_fast_expf_number(x); /* NaN stays NaN */
}

/* x[i] = bp_fast_expf(x[i]) over a block, in place, with the same bits: NaN is
   handled by selects rather than a branch, and the main loop's trip count is a
   multiple of 8, so that GCC's -O2 vectorizes it (softmax over a whole batch). */
static inline void bp_fast_expf_block(float *restrict x, size_t n)
{
    const size_t n8 = n & ~(size_t)7;
    size_t i = 0;
    for (; i < n8; i++) {
        const float v = x[i];
        const float e = bp_fast_expf_number(v == v ? v : 0.0f);
        x[i] = v == v ? e : v;
    }
    for (; i < n; i++) x[i] = bp_fast_expf(x[i]);
}

/* 1 / (1 + e^-z): e^-z is at most e^87, so this never overflows or divides by 0. */
static inline float bp_fast_sigmoidf(float z) { return 1.0f / (1.0f + bp_fast_expf(-z)); }

/* Four lanes at once, with GCC/clang vector extensions: any target, the compiler
   picks the instructions. Three x86 instructions are asked for by name where they
   exist (max/min, the reciprocal estimate, the lane mask), each with a portable
   equivalent. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(BP_NO_SIMD)
#define BP_FAST_V4 1

typedef float bp_v4 __attribute__((vector_size(16)));
typedef int32_t bp_v4i __attribute__((vector_size(16)));  /* lane masks: -1 or 0 */
typedef uint32_t bp_v4u __attribute__((vector_size(16)));

#define BP_V4(s) ((bp_v4){(s), (s), (s), (s)})
#define BP_V4I(s) ((bp_v4i){(s), (s), (s), (s)})

/* lo where x < lo, else x; NaN stays NaN (x86's maxps with lo first does exactly this,
   and GCC does not find it in the portable form). */
static inline __attribute__((always_inline)) bp_v4 bp_v4_at_least(bp_v4 lo, bp_v4 x)
{
#if defined(__SSE__)
    return __builtin_ia32_maxps(lo, x);
#else
    bp_v4i m = lo > x;
    return (bp_v4)((m & (bp_v4i)lo) | (~m & (bp_v4i)x));
#endif
}

/* hi where x > hi, else x; NaN stays NaN. */
static inline __attribute__((always_inline)) bp_v4 bp_v4_at_most(bp_v4 hi, bp_v4 x)
{
#if defined(__SSE__)
    return __builtin_ia32_minps(hi, x);
#else
    bp_v4i m = hi < x;
    return (bp_v4)((m & (bp_v4i)hi) | (~m & (bp_v4i)x));
#endif
}

/* a c + b with one rounding per lane, whatever the compiler's settings: GCC and clang
   at -O2 turn it into one vector FMA in a caller compiled for FMA; at -O1 it stays four
   scalar FMAs, still rounded once. (Written as a c + b and left to contraction, GCC -O1
   rounds the product on its own, which made e^x about 20 times less accurate.) Only
   for callers compiled for FMA: elsewhere fmaf is a slow library call. */
static inline __attribute__((always_inline)) bp_v4 bp_v4_fma(bp_v4 a, float c, bp_v4 b)
{
    bp_v4 r = b; /* every lane is overwritten; initialized for the static analyzers */
    for (int i = 0; i < 4; i++) r[i] = __builtin_fmaf(a[i], c, b[i]);
    return r;
}

/* The shared first half of e^x: n = round(x / ln2) by the 1.5 * 2^23 trick (the sum's
   low mantissa bits then hold n + 127, which shifted into the exponent field is 2^n),
   and r = x - n ln2. With fused nonzero the caller is compiled for FMA, and the one
   fused step x - n ln2 rounds once: its error is n times that of ln2 as a float,
   below 2.5e-7 relative even at n = 127. Without FMA the product would be rounded on
   its own, so ln2 is split in two (Cody-Waite) and n ln2_hi is exact. x must lie in
   [-87, 88]. */
static inline __attribute__((always_inline)) void bp_exp4_reduce(bp_v4 x, int fused, bp_v4 *r, bp_v4 *scale)
{
    const float shift = 12582912.0f + 127.0f; /* 1.5 * 2^23, plus the exponent bias */
    bp_v4 t = x * BP_V4(1.44269504088896341f) + BP_V4(shift);
    bp_v4 n = t - BP_V4(shift);
    if (fused)
        *r = bp_v4_fma(-n, 0.693147180559945309f, x);
    else
        *r = x - n * BP_V4(0.693145751953125f) - n * BP_V4(1.428606765330187e-06f);
    *scale = (bp_v4)((bp_v4u)t << 23);
}

/* e^x lane by lane: bp_fast_expf's clamp, polynomial and accuracy (about 2e-7). */
static inline __attribute__((always_inline)) bp_v4 bp_fast_exp4(bp_v4 x, int fused)
{
    x = bp_v4_at_most(BP_V4(88.0f), bp_v4_at_least(BP_V4(-87.0f), x));
    bp_v4 r, scale;
    bp_exp4_reduce(x, fused, &r, &scale);
    bp_v4 r2 = r * r, r4 = r2 * r2;
    bp_v4 p01 = BP_V4(1.0f) + r, p23 = BP_V4(0.5f) + r * BP_V4(1.0f / 6.0f);
    bp_v4 p45 = BP_V4(1.0f / 24.0f) + r * BP_V4(1.0f / 120.0f);
    bp_v4 p = (p01 + r2 * p23) + r4 * (p45 + r2 * BP_V4(1.0f / 720.0f));
    return p * scale;
}

/* An estimate of 1/d to about 12 bits: x86's rcpps (3 cycles where a division takes
   11); 1/d itself elsewhere. */
static inline __attribute__((always_inline)) bp_v4 bp_v4_reciprocal_estimate(bp_v4 d)
{
#if defined(__SSE__)
    return __builtin_ia32_rcpps(d);
#else
    return BP_V4(1.0f) / d;
#endif
}

/* Whether any lane of a mask is set. */
static inline __attribute__((always_inline)) int bp_v4_any(bp_v4i m)
{
#if defined(__SSE__)
    return __builtin_ia32_movmskps((bp_v4)m) != 0;
#else
    return (m[0] | m[1] | m[2] | m[3]) != 0;
#endif
}

/* 1 / (1 + e^-z) lane by lane, built for latency: on a tiny network trained one sample
   at a time this sits twice on the chain every sample. It comes as a product
   x0 * newton: x0 estimates 1 / d, d = 1 + e^-z, and newton = 2 - d x0 is the factor of
   a Newton step, which leaves a relative error of about 1.5e-7 (the square of the
   estimate's). A caller that multiplies the result by something can start with x0
   while newton is still being computed. Compared with bp_fast_exp4:
   - no clamp in front: n = round(-z / ln2) comes straight from z, and the lanes where
     it would not fit the exponent field (|z| > 80) are set to 0 or 1 afterwards, in a
     branch that normal data never takes;
   - r = -z - n ln2 is carried as q = -r, so no negation either (the polynomial's odd
     coefficients change sign);
   - 2^n and the 1 + are folded into the coefficients while q is still being reduced,
     leaving three multiply-add levels before the reciprocal.
   For |z| <= 80, 2^n and 2^n / 720 stay normal floats. NaN stays NaN. */
static inline __attribute__((always_inline)) void bp_fast_sigmoid4_split(bp_v4 z, int fused, bp_v4 *x0,
                                                                         bp_v4 *newton)
{
    const float shift = 12582912.0f + 127.0f; /* as in bp_exp4_reduce */
    bp_v4 t = z * BP_V4(-1.44269504088896341f) + BP_V4(shift);
    bp_v4 n = t - BP_V4(shift), q;
    if (fused)
        q = bp_v4_fma(n, 0.693147180559945309f, z);
    else
        q = z + n * BP_V4(0.693145751953125f) + n * BP_V4(1.428606765330187e-06f);
    /* 2^n c for each coefficient c: n added to c's exponent field, an integer add. (A
       float multiply would do, but GCC then fuses it, rather than the product with q,
       into the multiply-add below, one multiply deeper on the chain.) */
    bp_v4u n23 = (bp_v4u)t << 23;
    bp_v4 s = (bp_v4)n23;
#define BP_SCALED(c) ((bp_v4)(n23 + (bp_v4u)BP_V4(c) - (bp_v4u)BP_V4(1.0f)))
    bp_v4 s2 = BP_SCALED(0.5f), s3 = BP_SCALED(1.0f / 6.0f), s4 = BP_SCALED(1.0f / 24.0f);
    bp_v4 s5 = BP_SCALED(1.0f / 120.0f), s6 = BP_SCALED(1.0f / 720.0f);
#undef BP_SCALED
    /* 1 + s (1 + r + r^2/2 + ... + r^6/720) with r = -q, Estrin's scheme. */
    bp_v4 q2 = q * q, q4 = q2 * q2;
    bp_v4 p01 = (BP_V4(1.0f) + s) - q * s, p23 = s2 - q * s3, p45 = s4 - q * s5;
    bp_v4 d = (p01 + q2 * p23) + q4 * (p45 + q2 * s6);
    *x0 = bp_v4_reciprocal_estimate(d);
    *newton = BP_V4(2.0f) - d * *x0;
    bp_v4i far = (bp_v4)((bp_v4i)z & BP_V4I(0x7fffffff)) > BP_V4(80.0f); /* |z| > 80; not NaN */
    if (bp_v4_any(far)) {
        bp_v4 saturated = (bp_v4)((bp_v4i)BP_V4(1.0f) & (z > BP_V4(0.0f)));
        *x0 = (bp_v4)((far & (bp_v4i)saturated) | (~far & (bp_v4i)*x0));
        *newton = (bp_v4)((far & (bp_v4i)BP_V4(1.0f)) | (~far & (bp_v4i)*newton));
    }
}

static inline __attribute__((always_inline)) bp_v4 bp_fast_sigmoid4(bp_v4 z, int fused)
{
    bp_v4 x0, newton;
    bp_fast_sigmoid4_split(z, fused, &x0, &newton);
    return x0 * newton;
}
#endif

#endif
