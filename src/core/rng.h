/*
 * rng.h - the library's own seeded random number generator.
 *
 * xoshiro256** state seeded through splitmix64, carried by value in whoever
 * needs randomness (network initialization, the trainer's shuffling), never
 * global: the same seed gives the same stream on every platform.
 */
#ifndef BP_RNG_H
#define BP_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} bp_rng;

void bp_rng_seed(bp_rng *rng, uint64_t seed);
uint64_t bp_rng_next(bp_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double bp_rng_uniform(bp_rng *rng);
/* Standard normal (Box-Muller; one value per call, the second is discarded for simplicity). */
double bp_rng_normal(bp_rng *rng);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t bp_rng_below(bp_rng *rng, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void bp_rng_shuffle(bp_rng *rng, size_t *idx, size_t n);

#endif
