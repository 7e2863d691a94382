/*
 * fma_peak.c - the most single-precision arithmetic this CPU can do: twelve
 * independent chains of vector FMAs on registers only, no loads or stores,
 * on each of --threads threads at once. No GEMM, and no training step, can
 * go faster; bench/report.py prints it beside the GEMM ceiling so that a
 * target above it can be seen to be out of reach.
 *
 *   fma_peak [--threads N] [--iters 20000000]
 *
 * Prints one JSON line: GFLOP/s (2 per lane per FMA) with 256-bit AVX2 FMAs
 * and, where the CPU has AVX-512F, with 512-bit ones, five measurements each.
 * On CPUs other than x86-64 it says it has nothing to measure.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

enum { CHAINS = 12 }; /* the accumulators c0..c11 of BP_CHAINS below */

/* Twelve named accumulators (an array of them, GCC 12 keeps in memory). The
   empty asm says each may have changed, so the compiler can neither fold the
   chains together nor hoist the FMAs out of the loop. */
#define BP_CHAINS(T, zero, fma, add, cons)                                                         \
    T c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero;                           \
    T c6 = zero, c7 = zero, c8 = zero, c9 = zero, c10 = zero, c11 = zero;                         \
    for (long n = 0; n < iters; n++) {                                                            \
        c0 = fma(a, b, c0), c1 = fma(a, b, c1), c2 = fma(a, b, c2), c3 = fma(a, b, c3);           \
        c4 = fma(a, b, c4), c5 = fma(a, b, c5), c6 = fma(a, b, c6), c7 = fma(a, b, c7);           \
        c8 = fma(a, b, c8), c9 = fma(a, b, c9), c10 = fma(a, b, c10), c11 = fma(a, b, c11);       \
        __asm__ volatile("" : cons(c0), cons(c1), cons(c2), cons(c3), cons(c4), cons(c5),          \
                         cons(c6), cons(c7), cons(c8), cons(c9), cons(c10), cons(c11));           \
    }                                                                                             \
    c0 = add(add(add(c0, c1), add(c2, c3)), add(add(c4, c5), add(c6, c7)));                       \
    c0 = add(c0, add(add(c8, c9), add(c10, c11)))
#define BP_X(v) "+x"(v)
#define BP_V(v) "+v"(v)

__attribute__((target("avx2,fma"))) static float chains_avx2(long iters)
{
    const __m256 a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(0.9999999f);
    BP_CHAINS(__m256, _mm256_setzero_ps(), _mm256_fmadd_ps, _mm256_add_ps, BP_X);
    float sum[8], total = 0.0f;
    _mm256_storeu_ps(sum, c0);
    for (int i = 0; i < 8; i++) total += sum[i];
    return total;
}

__attribute__((target("avx512f"))) static float chains_avx512(long iters)
{
    const __m512 a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
    BP_CHAINS(__m512, _mm512_setzero_ps(), _mm512_fmadd_ps, _mm512_add_ps, BP_V);
    return _mm512_reduce_add_ps(c0);
}

typedef struct {
    int wide; /* 1: AVX-512 */
    long iters;
    float result;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->result = j->wide ? chains_avx512(j->iters) : chains_avx2(j->iters);
    return NULL;
}

/* GFLOP/s of `threads` threads running the chains at once, timed by the wall clock. */
static double measure(int wide, int threads, long iters)
{
    pthread_t tid[64];
    job jobs[64];
    double t0 = bench_now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){.wide = wide, .iters = iters};
        if (pthread_create(&tid[t], NULL, run_job, &jobs[t])) bench_die("fma_peak", "pthread_create failed");
    }
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double secs = bench_now() - t0;
    float sink = 0.0f;
    for (int t = 0; t < threads; t++) sink += jobs[t].result;
    if (sink != sink) bench_die("fma_peak", "the chains gave NaN");
    const double lanes = wide ? 16.0 : 8.0;
    return (double)threads * (double)iters * CHAINS * lanes * 2.0 / secs / 1e9;
}

int main(int argc, char **argv)
{
    int threads = 1;
    long iters = 20000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = (int)bench_long("fma_peak", argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = bench_long("fma_peak", argv[i + 1]);
        else bench_die("fma_peak", "usage: fma_peak [--threads N] [--iters N]");
    }
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (iters < 1) iters = 1;
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = __builtin_cpu_supports("avx512f");
    printf("{\"impl\": \"fma-peak\", \"workload\": \"peak\", \"threads_used\": %d", threads);
    const char *names[2] = {"avx2", "avx512"};
    const int have[2] = {avx2, avx512};
    for (int wide = 0; wide < 2; wide++) {
        if (!have[wide]) continue;
        measure(wide, threads, iters / 10 + 1); /* warm-up: clocks up, threads started once */
        printf(", \"gflops_%s\": [", names[wide]);
        for (int r = 0; r < 5; r++) printf("%s%.6g", r ? ", " : "", measure(wide, threads, iters));
        printf("]");
    }
    printf("}\n");
    return 0;
}

#else

int main(void)
{
    printf("{\"impl\": \"fma-peak\", \"workload\": \"peak\", \"status\": \"no x86-64 FMA loop for this CPU\"}\n");
    return 0;
}

#endif
