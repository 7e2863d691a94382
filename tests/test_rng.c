/*
 * test_rng.c - the library's generator: seeded streams repeat, bounded draws stay in
 * range and are unbiased enough to see, shuffles are permutations.
 */
#include <stdlib.h>

#include "core/rng.h"
#include "test.h"

void test_rng_bounded_and_shuffles(void)
{
    bp_rng a, b;
    bp_rng_seed(&a, 5);
    bp_rng_seed(&b, 5);
    for (int i = 0; i < 100; i++) CHECK(bp_rng_next(&a) == bp_rng_next(&b), "same seed, same stream");
    const uint64_t ns[] = {1, 2, 3, 7, 1000, 1ull << 33, (1ull << 63) + 12345, UINT64_MAX};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 2000; i++) {
            uint64_t v = bp_rng_below(&a, ns[k]);
            CHECK(v < ns[k], "draw %llu below %llu", (unsigned long long)v, (unsigned long long)ns[k]);
        }
    /* 3 buckets, 300,000 draws: each within 2% of 100,000. */
    long counts[3] = {0, 0, 0};
    for (int i = 0; i < 300000; i++) counts[bp_rng_below(&a, 3)]++;
    for (int k = 0; k < 3; k++) CHECK(labs(counts[k] - 100000) < 2000, "bucket %d: %ld", k, counts[k]);
    size_t idx[257];
    int seen[257] = {0};
    for (size_t i = 0; i < 257; i++) idx[i] = i;
    bp_rng_shuffle(&a, idx, 257);
    for (size_t i = 0; i < 257; i++) seen[idx[i]]++;
    for (size_t i = 0; i < 257; i++) CHECK(seen[i] == 1, "shuffle keeps %zu once", i);
}
