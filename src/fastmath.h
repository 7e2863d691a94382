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

#endif
