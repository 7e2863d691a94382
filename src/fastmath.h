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
 */
#ifndef BP_FASTMATH_H
#define BP_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float bp_fast_expf(float x)
{
    if (x != x) return x;                       /* NaN */
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* n = round(x / ln2); the +0.5 and truncation toward -inf via the shift below. */
    float t = x * 1.44269504088896341f + 0.5f;
    int32_t n = (int32_t)t - (t < 0.0f && (float)(int32_t)t != t); /* floor(t) */
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

/* 1 / (1 + e^-z): e^-z is at most e^87, so this never overflows or divides by 0. */
static inline float bp_fast_sigmoidf(float z) { return 1.0f / (1.0f + bp_fast_expf(-z)); }

/* Four lanes at once, with GCC/clang vector extensions (any target: the compiler
   picks the instructions; nothing here is x86-specific except an optional
   min/max below). The tiny-network path (small.c) runs a whole layer of up to
   four units through one call. */
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
        *r = x - n * BP_V4(0.693147180559945309f);
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

/* 1 / (1 + e^-z) lane by lane, built for latency: on a tiny network trained one sample
   at a time this sits twice on the chain every sample. Compared with bp_fast_exp4:
   - no clamp in front: n = round(-z / ln2) comes straight from z, and the lanes where
     it would not fit the exponent field (|z| > 80) are replaced by 0 or 1 at the end,
     from a mask worked out on the side;
   - r = -z - n ln2 is carried as q = -r, so no negation either (the polynomial's odd
     coefficients change sign);
   - 2^n and the 1 + are folded into the coefficients while q is still being reduced,
     leaving three multiply-add levels and the division.
   For |z| <= 80, 2^n stays a normal float. NaN stays NaN. */
static inline __attribute__((always_inline)) bp_v4 bp_fast_sigmoid4(bp_v4 z, int fused)
{
    const float shift = 12582912.0f + 127.0f; /* as in bp_exp4_reduce */
    bp_v4 t = z * BP_V4(-1.44269504088896341f) + BP_V4(shift);
    bp_v4 n = t - BP_V4(shift), q;
    if (fused)
        q = z + n * BP_V4(0.693147180559945309f);
    else
        q = z + n * BP_V4(0.693145751953125f) + n * BP_V4(1.428606765330187e-06f);
    bp_v4 s = (bp_v4)((bp_v4u)t << 23);
    /* 1 + s (1 + r + r^2/2 + ... + r^6/720) with r = -q, Estrin's scheme. */
    bp_v4 s2 = s * BP_V4(0.5f), s3 = s * BP_V4(1.0f / 6.0f), s4 = s * BP_V4(1.0f / 24.0f);
    bp_v4 s5 = s * BP_V4(1.0f / 120.0f), s6 = s * BP_V4(1.0f / 720.0f);
    bp_v4 q2 = q * q, q4 = q2 * q2;
    bp_v4 p01 = (BP_V4(1.0f) + s) - q * s, p23 = s2 - q * s3, p45 = s4 - q * s5;
    bp_v4 d = (p01 + q2 * p23) + q4 * (p45 + q2 * s6);
    bp_v4 a = BP_V4(1.0f) / d;
    bp_v4i far = (bp_v4)((bp_v4i)z & BP_V4I(0x7fffffff)) > BP_V4(80.0f); /* |z| > 80; not NaN */
    bp_v4 saturated = (bp_v4)((bp_v4i)BP_V4(1.0f) & (z > BP_V4(0.0f)));
    return (bp_v4)((far & (bp_v4i)saturated) | (~far & (bp_v4i)a));
}
#endif

#endif
