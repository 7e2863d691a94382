/*
 * fma_peak.c - the most arithmetic this CPU can do: independent chains of
 * vector FMAs (and of bf16 dot products) on registers only, no loads or
 * stores, on each of --threads threads at once. No GEMM, and no training step,
 * can go faster; bench/report.py prints these beside the GEMM ceiling so that
 * a target above them can be seen to be out of reach.
 *
 *   fma_peak [--threads N] [--iters 20000000]
 *
 * Prints one JSON line, five measurements each of: GFLOP/s (2 per lane per
 * FMA) with 256-bit AVX2 FMAs and, where the CPU has AVX-512F, with 512-bit
 * ones; where it has AVX512_BF16, twelve chains of VDPBF16PS (16 lanes x 2
 * products x 2 = 64 flops each); where it has AMX-BF16 and Linux grants the
 * tile state, TDPBF16PS on four sum tiles from two A and two B tiles that stay
 * loaded (16 x 16 x 32 x 2 = 16,384 flops each). On CPUs other than x86-64 it
 * says it has nothing to measure.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* syscall() for arch_prctl */
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

/* VDPBF16PS: each adds 16 lanes of two products. The vectors hold bf16 pairs
   of 1.0 and 2^-10, so the sums grow slowly and stay finite. */
#define BP_DP(x, y, c) _mm512_dpbf16_ps(c, (__m512bh)(x), (__m512bh)(y))
__attribute__((target("avx512f,avx512bf16"))) static float chains_bf16(long iters)
{
    const __m512 a = _mm512_castsi512_ps(_mm512_set1_epi32(0x3A803F80)), b = a; /* (1, 2^-10) */
    (void)b;
    BP_CHAINS(__m512, _mm512_setzero_ps(), BP_DP, _mm512_add_ps, BP_V);
    return _mm512_reduce_add_ps(c0);
}

/* AMX: four sum tiles, each += A tile x B tile per instruction, with the A and
   B tiles loaded once; 16 x 16 x 32 multiply-adds per TDPBF16PS. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} tile_config;
static const _Alignas(64) tile_config amx_config = {
    .palette = 1, .bytes_per_row = {64, 64, 64, 64, 64, 64, 64, 64}, .rows = {16, 16, 16, 16, 16, 16, 16, 16}};

__attribute__((target("amx-tile,amx-bf16"))) static float chains_amx(long iters)
{
    static const uint16_t ones[16 * 32] = {0}; /* zeros: the sums stay 0, the timing does not care */
    float out[16 * 16];
    _tile_loadconfig(&amx_config);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    for (long n = 0; n < iters; n++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    _tile_release();
    return out[0];
}

/* Which kernel a job runs. */
enum { AVX2, AVX512, BF16, AMX, KINDS };
static const char *const kind_names[KINDS] = {"avx2", "avx512", "avx512_bf16", "amx_bf16"};
/* Flops per loop iteration of each (CHAINS instructions, or four tile products). */
static const double kind_flops[KINDS] = {CHAINS * 8 * 2, CHAINS * 16 * 2, CHAINS * 16 * 4, 4 * 16 * 16 * 32 * 2};

typedef struct {
    int kind;
    long iters;
    float result;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    switch (j->kind) {
    case AVX2: j->result = chains_avx2(j->iters); break;
    case AVX512: j->result = chains_avx512(j->iters); break;
    case BF16: j->result = chains_bf16(j->iters); break;
    default: j->result = chains_amx(j->iters); break;
    }
    return NULL;
}

/* GFLOP/s of `threads` threads running the chains at once, timed by the wall clock. */
static double measure(int kind, int threads, long iters)
{
    pthread_t tid[64];
    job jobs[64];
    double t0 = bench_now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){.kind = kind, .iters = iters};
        if (pthread_create(&tid[t], NULL, run_job, &jobs[t])) bench_die("fma_peak", "pthread_create failed");
    }
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double secs = bench_now() - t0;
    float sink = 0.0f;
    for (int t = 0; t < threads; t++) sink += jobs[t].result;
    if (sink != sink) bench_die("fma_peak", "the chains gave NaN");
    return (double)threads * (double)iters * kind_flops[kind] / secs / 1e9;
}

/* AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and 22), the tile state
   enabled by the OS (XCR0 bits 17, 18), and Linux's permission to use it. */
static int amx_usable(void)
{
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    (void)a, (void)b, (void)c;
    if (!(d & (1u << 24)) || !(d & (1u << 22))) return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return 0;
#if defined(__linux__)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return 0;
#endif
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
    unsigned a71 = 0, b71, c71, d71;
    if (__get_cpuid_max(0, NULL) >= 7) __cpuid_count(7, 1, a71, b71, c71, d71);
    (void)b71, (void)c71, (void)d71;
    const int have[KINDS] = {__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
                             __builtin_cpu_supports("avx512f"),
                             __builtin_cpu_supports("avx512f") && (a71 & (1u << 5)) != 0,
                             __builtin_cpu_supports("avx512f") && amx_usable()};
    printf("{\"impl\": \"fma-peak\", \"workload\": \"peak\", \"threads_used\": %d", threads);
    for (int kind = 0; kind < KINDS; kind++) {
        if (!have[kind]) continue;
        /* A tile product is worth 128 AVX-512 FMAs: fewer iterations for the same time. */
        const long n = kind == AMX ? iters / 32 + 1 : iters;
        measure(kind, threads, n / 10 + 1); /* warm-up: clocks up, threads started once */
        printf(", \"gflops_%s\": [", kind_names[kind]);
        for (int r = 0; r < 5; r++) printf("%s%.6g", r ? ", " : "", measure(kind, threads, n));
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
