/*
 * gemm_bf16.c - the blocked bf16 product behind bp_gemm_bf16_ex: blocking,
 * packing with the rounding to bf16, the loop over 32 x 32 steps, the choice
 * of kernel, and the portable kernel that emulates the tile operations.
 *
 * The structure is gemm.c's (a panel of op(B) and a block of op(A) packed, then
 * the steps), with a 32 x 32 step made of four 16 x 16 tiles, the AMX
 * register's shape. Packing rounds each float to bf16 as it copies it, so the
 * conversion costs no pass of its own, and pads K to whole tiles of 32 and the
 * edges to whole 16s with zeros, so every kernel works on full tiles only and
 * the valid corner of a step is all that is written.
 *
 * The portable kernel does what TDPBF16PS does, in the order VDPBF16PS adds
 * (each pair's odd product first, then its even one, each rounded to float):
 * on CPUs with AVX512_BF16 the AVX-512 kernel must match it bit for bit, which
 * the tests check. AMX sums a tile's pairs its own way (measured: it matches
 * neither order of single-rounded float adds), so it is checked against the
 * naive product only. The hardware also treats bf16 denormals as zero and
 * flushes denormal sums; the packing never makes a bf16 denormal (like the
 * hardware conversion, it turns float denormals into zeros), and the emulation
 * does not flush sums: the two can differ only on sums below 2^-126.
 *
 * Left to gemm_amx.c and gemm_avx512_bf16.c: the kernels, store and packers that
 * need those instructions. Left out on purpose: a bf16 path for tiny products
 * (M < 4 rows, K < 4): a step of 32 x 32 computes them on padding, correctly
 * but slowly, and a second path would make the bits depend on the shape.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* syscall() for arch_prctl */
#endif

#include "gemm_bf16.h"
#include "gemm_bf16_kernel.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(BP_NO_SIMD)
#define BP_BF16_X86 1
#include <cpuid.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#else
#define BP_BF16_X86 0
#endif

/* KC = 384 k per block and MC = 32 rows: a step's two B slivers (2 x 16 x 384
   bf16 = 24 KiB) and the whole 32-row block of A (24 KiB) fit L1 (48 KiB)
   together, so the A slivers stay there while the B slivers of the panel pass
   by; the 384 x 1024 panel of B (768 KiB) sits in L2. NC = 1024 packs op(A)
   once for every product up to 1024 wide: packing, not the tiles, is most of
   a bf16 product's time, and against NC = 512 (with MC = 128) it measured
   0.92x the time of W3's products on AMX. Against KC = 512 and MC = 64 (A's
   block 64 KiB, past L1), this blocking measured 0.85-0.91x the time of W3's
   bf16 training (medians of five interleaved runs) and 0.92x of its eight
   products alone (KC = 256 with MC = 32: 0.95x; KC = 1024, one K block for
   every layer of W3: 1.04x), on 2 cores of a Xeon with AMX. K is cut into equal blocks of whole
   tiles, so only the last tile of the last block is padded. */
enum { KC = 384, MC = 32, NC = 1024, TILE_K = BP_BF16_TILE_K, TILE = BP_BF16_TILE, SLIVER = BP_BF16_SLIVER };

_Static_assert(KC % TILE_K == 0 && MC % (2 * SLIVER) == 0 && NC % (2 * SLIVER) == 0,
               "blocks are whole numbers of steps");
_Static_assert((KC * NC + MC * KC) * sizeof(uint16_t) + 64 <= BP_GEMM_BF16_WORKSPACE_BYTES,
               "gemm_bf16.h's BP_GEMM_BF16_WORKSPACE_BYTES holds the blocks and the alignment slack");
_Static_assert(BP_BF16_GRANULE == 2 * SLIVER, "threads cut C between steps");

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* ------------------------------------------------------------- the CPU */

#if BP_BF16_X86
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static bp_bf16_cpu probe_cpu(void)
{
    bp_bf16_cpu cpu = {0, 0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return cpu; /* OSXSAVE */
    if (__get_cpuid_max(0, NULL) < 7) return cpu;
    const uint64_t xcr0 = read_xcr0();
    unsigned b7, c7, d7, a71, b71, c71, d71;
    __cpuid_count(7, 0, a, b7, c7, d7);
    __cpuid_count(7, 1, a71, b71, c71, d71);
    (void)c7, (void)b71, (void)c71, (void)d71;
    const int os_avx512 = (xcr0 & 0xE6) == 0xE6; /* SSE, AVX, opmask, both halves of the ZMM state */
    const int avx512 = (b7 & (1u << 16)) && (b7 & (1u << 30)) && (b7 & (1u << 31)); /* F, BW, VL */
    const int bf16 = (a71 & (1u << 5)) != 0;                                       /* AVX512_BF16 */
    cpu.avx512 = BP_BF16_AVX512_CODE && os_avx512 && avx512 && bf16;
    const int amx = (d7 & (1u << 24)) && (d7 & (1u << 22)); /* AMX-TILE, AMX-BF16 */
    const int os_amx = (xcr0 & (3u << 17)) == (3u << 17);   /* XTILECFG, XTILEDATA */
    if (BP_BF16_AMX_CODE && cpu.avx512 && amx && os_amx) {
#if defined(__linux__) && defined(__x86_64__)
        /* Linux hands out the 8 KiB of tile state only on request; refused
           (an old kernel, a seccomp filter), AMX is simply not used. */
        enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
        cpu.amx = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
    }
    return cpu;
}
#else
static bp_bf16_cpu probe_cpu(void) { return (bp_bf16_cpu){0, 0}; }
#endif

/* The one thing this file remembers: what the CPU has and whether Linux
   granted the tile state, found once per process. The answer never changes
   while the process runs and no caller can change it, so two networks in two
   threads still cannot notice each other; and the permission request, which
   changes the process, must not be repeated on every product. */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static bp_bf16_cpu cpu_found;

static void find_cpu(void) { cpu_found = probe_cpu(); }

static bp_bf16_cpu this_cpu(void)
{
    pthread_once(&cpu_once, find_cpu);
    return cpu_found;
}

bp_bf16_kernel bp_gemm_bf16_resolve(bp_bf16_kernel kernel)
{
    const bp_bf16_cpu cpu = this_cpu();
    switch (kernel) {
    case BP_BF16_BEST: return cpu.amx ? BP_BF16_AMX : cpu.avx512 ? BP_BF16_AVX512 : BP_BF16_NONE;
    case BP_BF16_AMX: return cpu.amx ? BP_BF16_AMX : BP_BF16_NONE;
    case BP_BF16_AVX512: return cpu.avx512 ? BP_BF16_AVX512 : BP_BF16_NONE;
    case BP_BF16_EMULATED: return BP_BF16_EMULATED;
    case BP_BF16_NONE: break;
    }
    return BP_BF16_NONE;
}

const char *bp_gemm_bf16_kernel_name(bp_bf16_kernel kernel)
{
    switch (kernel) {
    case BP_BF16_AMX: return "AMX-BF16 tiles 32x32";
    case BP_BF16_AVX512: return "AVX512_BF16 8x32";
    case BP_BF16_EMULATED: return "portable C emulation of the bf16 tiles";
    case BP_BF16_BEST: return bp_gemm_bf16_kernel_name(bp_gemm_bf16_resolve(BP_BF16_BEST));
    case BP_BF16_NONE: break;
    }
    return "none";
}

/* ----------------------------------------------------------- packing */

/* Rows [ic, ic+mc) and k [pc, pc+kc) of op(A) as 16-row slivers of 32-k tiles
   (gemm_bf16.h), zeros past mc and kc. */
static void pack_a(int trans_a, const float *A, size_t lda, size_t ic, size_t pc, size_t mc, size_t kc,
                   uint16_t *dst)
{
    const size_t chunks = (kc + TILE_K - 1) / TILE_K;
    for (size_t s = 0; s < mc; s += SLIVER) {
        for (size_t t = 0; t < chunks; t++) {
            uint16_t *tile = dst + (s / SLIVER * chunks + t) * TILE;
            for (size_t r = 0; r < SLIVER; r++) {
                for (size_t kk = 0; kk < TILE_K; kk++) {
                    const size_t i = s + r, k = t * TILE_K + kk;
                    float v = 0.0f;
                    if (i < mc && k < kc)
                        v = trans_a ? A[(pc + k) * lda + ic + i] : A[(ic + i) * lda + pc + k];
                    tile[r * TILE_K + kk] = bp_bf16_from_float(v);
                }
            }
        }
    }
}

/* k [pc, pc+kc) and columns [jc, jc+nc) of op(B) as 16-column slivers of
   32-k tiles in pairs of k (gemm_bf16.h), zeros past kc and nc. */
static void pack_b(int trans_b, const float *B, size_t ldb, size_t pc, size_t jc, size_t kc, size_t nc,
                   uint16_t *dst)
{
    const size_t chunks = (kc + TILE_K - 1) / TILE_K;
    for (size_t s = 0; s < nc; s += SLIVER) {
        for (size_t t = 0; t < chunks; t++) {
            uint16_t *tile = dst + (s / SLIVER * chunks + t) * TILE;
            for (size_t kk = 0; kk < TILE_K; kk++) {
                for (size_t c = 0; c < SLIVER; c++) {
                    const size_t j = s + c, k = t * TILE_K + kk;
                    float v = 0.0f;
                    if (j < nc && k < kc)
                        v = trans_b ? B[(jc + j) * ldb + pc + k] : B[(pc + k) * ldb + jc + j];
                    tile[(kk / 2) * (2 * SLIVER) + 2 * c + kk % 2] = bp_bf16_from_float(v);
                }
            }
        }
    }
}

/* ------------------------------------------------- the portable kernel */

/* The store rule (gemm_bf16_kernel.h) on the valid corner of a block of sums
   with a row stride of 32. */
static void store_sums(const float *sums, const bp_tile_dest *dest)
{
    for (size_t i = 0; i < dest->m; i++) {
        float *c = dest->C + i * dest->ldc;
        const float *s = sums + i * 2 * SLIVER;
        for (size_t j = 0; j < dest->n; j++) {
            float v = dest->alpha * s[j];
            if (dest->beta != 0.0f) v = v + dest->beta * c[j];
            c[j] = v;
        }
        if (dest->epi) bp_epilogue_row(dest->epi, c, dest->row + i, dest->col, dest->n);
    }
}

/* TDPBF16PS on plain arrays: the 16 x 16 float tile c (row stride ldc) +=
   the 16 x 32 bf16 tile a times the 16-pair x 16 tile b, each pair's odd
   product added first (see the top of this file). */
static void emulate_tdpbf16ps(float *c, size_t ldc, const uint16_t *a, const uint16_t *b)
{
    for (size_t m = 0; m < SLIVER; m++) {
        float *row = c + m * ldc;
        for (size_t p = 0; p < TILE_K / 2; p++) {
            const float a_even = bp_bf16_to_float(a[m * TILE_K + 2 * p]);
            const float a_odd = bp_bf16_to_float(a[m * TILE_K + 2 * p + 1]);
            const uint16_t *bp = b + p * 2 * SLIVER;
            for (size_t n = 0; n < SLIVER; n++) {
                row[n] += a_odd * bp_bf16_to_float(bp[2 * n + 1]);
                row[n] += a_even * bp_bf16_to_float(bp[2 * n]);
            }
        }
    }
}

/* The step as AMX does it, tile by tile: up to four float tiles of sums, each
   += A tile x B tile for every 32 k, then the store. */
static void step_emulated(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                          const uint16_t *b1, const bp_tile_dest *dest)
{
    float sums[4 * SLIVER * SLIVER];
    memset(sums, 0, sizeof sums);
    const int two_m = dest->m > SLIVER, two_n = dest->n > SLIVER;
    for (size_t t = 0; t < chunks; t++) {
        const size_t o = t * TILE;
        emulate_tdpbf16ps(sums, 2 * SLIVER, a0 + o, b0 + o);
        if (two_n) emulate_tdpbf16ps(sums + SLIVER, 2 * SLIVER, a0 + o, b1 + o);
        if (two_m) emulate_tdpbf16ps(sums + 2 * SLIVER * SLIVER, 2 * SLIVER, a1 + o, b0 + o);
        if (two_m && two_n) emulate_tdpbf16ps(sums + 2 * SLIVER * SLIVER + SLIVER, 2 * SLIVER, a1 + o, b1 + o);
    }
    store_sums(sums, dest);
}

/* ------------------------------------------------------------ the product */

void bp_gemm_bf16_ex(bp_bf16_kernel kernel, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                     float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta,
                     float *C, size_t ldc, float *workspace, const bp_gemm_epilogue *epi)
{
    if (M == 0 || N == 0) return;
    if (epi && epi->bias == NULL && epi->act == BP_EPI_NONE && epi->deriv == BP_EPI_NONE) epi = NULL;
    if (K == 0 || alpha == 0.0f) {
        bp_gemm_scale(M, N, beta, C, ldc, epi);
        return;
    }
    kernel = bp_gemm_bf16_resolve(kernel);
    bp_bf16_step step = step_emulated;
    int vector_packing = 0;
    if (kernel == BP_BF16_AMX) step = bp_bf16_step_amx, vector_packing = 1;
    if (kernel == BP_BF16_AVX512) step = bp_bf16_step_avx512, vector_packing = 1;

    /* The workspace rounded up to 64 bytes by an index (the slack is in its size). */
    const size_t misalign = (size_t)((uintptr_t)workspace % 64) / sizeof(float);
    uint16_t *packed_b = (uint16_t *)(void *)(workspace + (16 - misalign) % 16);
    uint16_t *packed_a = packed_b + (size_t)KC * NC;

    /* Equal K blocks of whole tiles. */
    const size_t tiles = (K + TILE_K - 1) / TILE_K, per_block = KC / TILE_K;
    const size_t k_blocks = (tiles + per_block - 1) / per_block;
    const size_t kc_step = (tiles + k_blocks - 1) / k_blocks * TILE_K;

    if (kernel == BP_BF16_AMX) bp_amx_tiles_begin();
    for (size_t jc = 0; jc < N; jc += NC) {
        const size_t nc = min_size(NC, N - jc);
        for (size_t pc = 0; pc < K; pc += kc_step) {
            const size_t kc = min_size(kc_step, K - pc), chunks = (kc + TILE_K - 1) / TILE_K;
            const size_t sliver = chunks * TILE;
            /* Later K blocks add to what the first one wrote; the epilogue comes with the last. */
            const float beta_block = pc == 0 ? beta : 1.0f;
            const bp_gemm_epilogue *epi_block = pc + kc >= K ? epi : NULL;
            if (vector_packing)
                bp_bf16_pack_b_avx512(trans_b, B, ldb, pc, jc, kc, nc, packed_b);
            else
                pack_b(trans_b, B, ldb, pc, jc, kc, nc, packed_b);
            for (size_t ic = 0; ic < M; ic += MC) {
                const size_t mc = min_size(MC, M - ic);
                if (vector_packing)
                    bp_bf16_pack_a_avx512(trans_a, A, lda, ic, pc, mc, kc, packed_a);
                else
                    pack_a(trans_a, A, lda, ic, pc, mc, kc, packed_a);
                /* Two B slivers stay in L1 while the A slivers of the block pass by. */
                for (size_t jr = 0; jr < nc; jr += 2 * SLIVER) {
                    const uint16_t *b0 = packed_b + jr / SLIVER * sliver;
                    for (size_t ir = 0; ir < mc; ir += 2 * SLIVER) {
                        const uint16_t *a0 = packed_a + ir / SLIVER * sliver;
                        const bp_tile_dest dest = {C + (ic + ir) * ldc + jc + jr, ldc,
                                                   min_size(2 * SLIVER, mc - ir), min_size(2 * SLIVER, nc - jr),
                                                   alpha, beta_block, epi_block, ic + ir, jc + jr};
                        step(chunks, a0, a0 + sliver, b0, b0 + sliver, &dest);
                    }
                }
            }
        }
    }
    if (kernel == BP_BF16_AMX) bp_amx_tiles_end();
}
