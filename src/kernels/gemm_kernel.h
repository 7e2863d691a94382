/*
 * gemm_kernel.h - what gemm.c shares with the micro-kernels kept in their own
 * files (gemm_avx512.c, gemm_wasm.c): the tile shape, the packed layout it reads and where a
 * finished tile goes. Private to the library.
 *
 * Packed layout (gemm.c packs, kernels read): op(A) as slivers of BP_MR rows,
 * each stored k after k (BP_MR floats per k); op(B) as slivers of BP_NR
 * columns, each stored k after k (BP_NR floats per k, every row starting on a
 * 64-byte boundary). Slivers of one block follow each other, so the next
 * sliver of A starts BP_MR * kc floats later and the next of B BP_NR * kc.
 * Small products may skip the copy where an operand already has a sliver's
 * shape in memory (bp_sliver_steps).
 */
#ifndef BP_GEMM_KERNEL_H
#define BP_GEMM_KERNEL_H

#include <stddef.h>

#include "epilogue.h"

enum { BP_MR = 6, BP_NR = 16 };

/* Where a finished tile goes: its valid m x n corner is written to C with
   C = alpha tile + beta C, then the epilogue. Kernels take it by pointer so
   that alpha and beta stay in memory during the k loop: passed as values, they
   pin two vector registers, and GCC then spills an accumulator, which halves
   its speed. */
typedef struct {
    float *C;
    size_t ldc, m, n;
    float alpha, beta;
    const bp_gemm_epilogue *epi; /* NULL, or applied to this tile (last K block only) */
    size_t row, col;             /* where the tile sits in C, for the bias and D */
} bp_tile_dest;

/* Where a micro-kernel finds its slivers (floats, all four). Packed by gemm.c:
   BP_MR floats per k in an A sliver and BP_NR in a B sliver, the next sliver
   BP_MR kc (BP_NR kc) floats on. Read in place from the caller's matrices,
   where no copy is needed: a sliver of op(A) = A^T is BP_MR adjacent floats of
   each of A's rows (a_k = lda, the next sliver BP_MR on), a sliver of op(B) = B
   BP_NR adjacent floats of each of B's rows (b_k = ldb, the next BP_NR on).
   A sliver of op(A) = A is BP_MR of A's rows (a_row = lda, a_k = 1, the next
   sliver BP_MR lda on); only the AVX-512 kernel reads that form (a_row > 1),
   the 6 x 16 ones always get a_row = 1. The arithmetic is the same either
   way; only the addresses differ. */
typedef struct {
    size_t a_k, a_row, a_next; /* in an A sliver from one k to the next, from one row to the next;
                                  from one A sliver to the next */
    size_t b_k, b_next;        /* in a B sliver from one k to the next; from one B sliver to the next */
} bp_sliver_steps;

/* 1 when bp_gemm_kernel_avx512 may run here: x86-64 with AVX-512F that the
   operating system enables (or the SIMDe test build, which emulates it). */
int bp_gemm_avx512_usable(void);

/* The tile of up to 12 x 32 made of two A slivers (a, a + steps->a_next) and two
   B slivers (b, b + steps->b_next); dest->m in [1, 12] and dest->n in (16, 32]. With
   dest->m <= 6 only the first A sliver is read (it may be the block's last);
   otherwise both must be present. Only the m valid rows are computed. Every
   element is summed with one FMA per k from zero, in k order, and stored with
   the same operations as the 6 x 16 AVX2 kernel, so the two kernels give the
   same bits and may share one product. */
void bp_gemm_kernel_avx512(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps,
                           const bp_tile_dest *dest);

/* The 6 x 16 tile from one A sliver and one B sliver with WebAssembly SIMD128
   (gemm_wasm.c): what kernel_portable computes, for builds where the compiler
   targets SIMD128 (__wasm_simd128__); a stub that is never called elsewhere. */
void bp_gemm_kernel_wasm(size_t kc, const float *a, const float *b, const bp_sliver_steps *steps,
                         const bp_tile_dest *dest);

#endif
