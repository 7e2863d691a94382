/*
 * rng.c - xoshiro256** seeded with splitmix64 (see rng.h).
 *
 * Chosen for being small, fast and well studied; statistical quality beyond
 * "good enough to initialize weights and shuffle" is not a goal here.
 */
#include <math.h>

#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bp_rng_seed(bp_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bp_rng_next(bp_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bp_rng_uniform(bp_rng *rng)
{
    return (double)(bp_rng_next(rng) >> 11) * 0x1.0p-53;
}

double bp_rng_normal(bp_rng *rng)
{
    /* 1 - u keeps the logarithm's argument in (0, 1]. */
    double u1 = 1.0 - bp_rng_uniform(rng);
    double u2 = bp_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t bp_rng_below(bp_rng *rng, uint64_t n)
{
#if defined(__SIZEOF_INT128__)
    /* Lemire's multiply-shift: the high half of x * n is uniform in [0, n) once the few
       low halves that would bias it are rejected; the division that finds them runs
       only in the rare case l < n, so a shuffle costs no division per element. */
    __extension__ typedef unsigned __int128 u128;
    u128 m = (u128)bp_rng_next(rng) * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t threshold = (0 - n) % n;
        while (l < threshold) {
            m = (u128)bp_rng_next(rng) * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
#else
    /* Reject the top partial range so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = bp_rng_next(rng);
    } while (r >= limit);
    return r % n;
#endif
}

void bp_rng_shuffle(bp_rng *rng, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)bp_rng_below(rng, (uint64_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
