/*
 * gemm_bf16_kernel.h - what the bf16 product (gemm_bf16.c) shares with its
 * machine-specific kernels (gemm_amx.c, gemm_avx512_bf16.c). Private to the
 * library.
 *
 * A "step" computes up to 32 x 32 of C from two 16-row slivers of packed
 * op(A) and two 16-column slivers of packed op(B) (the layout is described in
 * gemm_bf16.h), `chunks` tiles of 32 k long, summing from zero, and writes it
 * through a bp_tile_dest (gemm_kernel.h) with the store rule below. a1 is read
 * only when dest->m > 16, b1 only when dest->n > 16; rows and columns past m
 * and n are computed on the packing's zeros and never written.
 *
 * The store rule, the same in every kernel so that the kernels differ only in
 * their sums: v = alpha * sum; if beta != 0, v = v + beta * C (a multiply and
 * an add, never fused); then the epilogue in bp_epilogue_row's order.
 */
#ifndef BP_GEMM_BF16_KERNEL_H
#define BP_GEMM_BF16_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "gemm_kernel.h"

/* Whether this compiler builds the AVX-512 BF16 and AMX code (GCC 11 and
   clang 12 know the AMX intrinsics); without it the kernels are empty stubs
   and gemm_bf16.c never picks them. -DBP_NO_AMX leaves AMX out, so that the
   AVX512_BF16 kernel can train on a machine that has both (bench/ab.sh). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(BP_NO_SIMD)
#define BP_BF16_AVX512_CODE 1
#if ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && __GNUC__ >= 11)) && \
    !defined(BP_NO_AMX)
#define BP_BF16_AMX_CODE 1
#else
#define BP_BF16_AMX_CODE 0
#endif
#else
#define BP_BF16_AVX512_CODE 0
#define BP_BF16_AMX_CODE 0
#endif

/* bf16 values in one packed tile (16 x 32), and k per tile. */
enum { BP_BF16_TILE = 512, BP_BF16_TILE_K = 32, BP_BF16_SLIVER = 16 };

typedef void (*bp_bf16_step)(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                             const uint16_t *b1, const bp_tile_dest *dest);

/* CPU features, read once (gemm_bf16.c). */
typedef struct {
    int avx512;   /* AVX-512 F, BW, VL and AVX512_BF16, with the OS saving the registers */
    int amx;      /* that, and AMX-TILE, AMX-BF16, with Linux's permission for the tile state */
} bp_bf16_cpu;

/* gemm_avx512_bf16.c, usable when bp_bf16_cpu.avx512: the VDPBF16PS step,
   the store rule on a 32-float-stride block of sums (what the AMX step stores
   its tiles into), and the packers, which write what the portable ones in
   gemm_bf16.c write, byte for byte. */
void bp_bf16_step_avx512(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                         const uint16_t *b1, const bp_tile_dest *dest);
void bp_bf16_store_avx512(const float *sums, const bp_tile_dest *dest);
void bp_bf16_pack_a_avx512(int trans_a, const float *A, size_t lda, size_t ic, size_t pc, size_t mc, size_t kc,
                           uint16_t *dst);
void bp_bf16_pack_b_avx512(int trans_b, const float *B, size_t ldb, size_t pc, size_t jc, size_t kc, size_t nc,
                           uint16_t *dst);

/* gemm_amx.c, usable when bp_bf16_cpu.amx: the TDPBF16PS step, and the tile
   configuration loaded before a product's first step and released after its
   last, on the thread that runs them. */
void bp_bf16_step_amx(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                      const uint16_t *b1, const bp_tile_dest *dest);
void bp_amx_tiles_begin(void);
void bp_amx_tiles_end(void);

#endif
