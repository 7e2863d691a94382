/*
 * bench_common.h - small helpers shared by the C benchmark programs
 * (bp_bench.c, fann_bench.c, openblas_gemm.c): a monotonic clock, the
 * deterministic generator behind the synthetic data sets, and argument
 * parsing that exits with a message. Header-only so each program stays one
 * file plus this one.
 *
 * The W2 data set must be bit-identical in C and Python (bench/bench_data.py
 * implements the same splitmix64 stream), so every implementation trains on
 * the same 100,000 samples and their final losses can be compared.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64: one 64-bit step of the stream. */
static inline uint64_t bench_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 bits, exactly representable as a float. */
static inline float bench_uniform(uint64_t *state)
{
    return (float)(bench_splitmix64(state) >> 40) * (1.0f / 16777216.0f);
}

/* W2's data: x uniform in [0,1)^2 from seed 232, y = (x0 x1, (x0 + x1) / 2).
 * x and y hold n x 2 floats each. */
static inline void bench_w2_data(float *x, float *y, size_t n)
{
    uint64_t state = 232;
    for (size_t i = 0; i < n; i++) {
        float x0 = bench_uniform(&state), x1 = bench_uniform(&state);
        x[2 * i] = x0;
        x[2 * i + 1] = x1;
        y[2 * i] = x0 * x1;
        y[2 * i + 1] = 0.5f * (x0 + x1);
    }
}

/* Real FLOPs per training sample of a dense net with widths n_0..n_L: the
 * forward product, the delta sent down and the weight gradient of every layer
 * (2 FLOPs per multiply-add), minus the first layer's input gradient, which
 * nobody computes. */
static inline double bench_flops_per_sample(const size_t *sizes, size_t n_layers)
{
    double macs = 0;
    for (size_t l = 1; l <= n_layers; l++) macs += (double)sizes[l] * (double)sizes[l - 1];
    return 2.0 * (3.0 * macs - (double)sizes[1] * (double)sizes[0]);
}

static inline void bench_die(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s\n", prog, what);
    exit(2);
}

static inline long bench_long(const char *prog, const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0) bench_die(prog, "expected a non-negative whole number");
    return v;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Print a JSON array of doubles. */
static inline void bench_print_array(const double *v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) printf("%s%.6g", i ? ", " : "", v[i]);
    putchar(']');
}

#endif
