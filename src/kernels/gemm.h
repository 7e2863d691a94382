/*
 * gemm.h - single-precision matrix product C = alpha op(A) op(B) + beta C.
 *
 * This is the one compute kernel under the dense layers. The forward product
 * and both backward products (the delta sent down through W^T, and the weight
 * gradient delta^T a) are the same call with different transpose flags, so no
 * transposed copy of a matrix is ever made.
 *
 * Threads: bp_gemm_team_ex cuts C into slices of whole tiles and runs one
 * bp_gemm_ex per slice on a pool's threads, each with its own workspace.
 *
 * Left to others on purpose: checking shapes against the network (the layer code knows them), and owning
 * the workspace (it lives in the network's work space, allocated once, so a
 * training step never allocates).
 *
 * Everything is row-major. op(X) is X when trans_x is zero and X^T otherwise;
 * op(A) is M x K, op(B) is K x N and C is M x N. lda, ldb and ldc are the row
 * strides, in floats, of the matrices as they are stored: A is stored M x K
 * (lda >= K) or, when trans_a, K x M (lda >= M); B is stored K x N (ldb >= N)
 * or, when trans_b, N x K (ldb >= K); ldc >= N. C must not overlap A, B or
 * the workspace.
 */
#ifndef BP_GEMM_H
#define BP_GEMM_H

#include <stddef.h>

#include "epilogue.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Floats the caller provides as bp_gemm's `workspace` (about 1.1 MiB): a packed
 *  256 x 1024 panel of op(B), a packed 96 x 256 block of op(A), and 16 floats of
 *  slack that let bp_gemm round the pointer up to a 64-byte boundary itself.
 *  gemm.c checks this number against its blocking at compile time. */
#define BP_GEMM_WORKSPACE_FLOATS (256 * 1024 + 96 * 256 + 16)

/** C = alpha * op(A) * op(B) + beta * C (see the top of this file for shapes
 *  and strides). beta == 0 overwrites C without reading it, so NaN or garbage in
 *  C does not leak through; alpha == 0 or K == 0 leaves A and B unread and only
 *  scales C by beta (the BLAS convention). `workspace` holds
 *  BP_GEMM_WORKSPACE_FLOATS floats; 64-byte alignment is best, but any float
 *  pointer works. Single-threaded, allocates nothing, keeps no state: calls on
 *  disjoint C with separate workspaces may run in parallel. On x86 it uses an
 *  AVX2+FMA micro-kernel when the CPU has one (unless built with
 *  -DBP_NO_SIMD), and a portable C one otherwise. */
void bp_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K,
             float alpha, const float *A, size_t lda, const float *B, size_t ldb,
             float beta, float *C, size_t ldc, float *workspace);


/** Which micro-kernels bp_gemm uses on this CPU, in words ("AVX2 6x16",
 *  "AVX-512 12x32 + AVX2 6x16", ...), for benchmarks and tests. */
const char *bp_gemm_kernel_name(void);

/** bp_gemm with an epilogue (NULL: none). */
void bp_gemm_ex(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                float beta, float *C, size_t ldc, float *workspace,
                const bp_gemm_epilogue *epilogue);

struct bp_pool;

/** Threads to share one product: a pool (pool.h) and a workspace of
 *  BP_GEMM_WORKSPACE_FLOATS floats for each of its threads. pool == NULL means
 *  the calling thread alone, with workspace[0]. `precision` is how the team
 *  multiplies: 0 (BP_BF16_NONE) in float, or a bp_bf16_kernel (gemm_bf16.h)
 *  for the bf16 product with float sums; the network's trainer sets it for the
 *  length of a training run, so the layers need not know. */
typedef struct {
    struct bp_pool *pool;
    float *const *workspace;
    int precision;
} bp_gemm_team;

/** bp_gemm_ex (or, as team->precision says, bp_gemm_bf16_ex) with C cut into
 *  slices that the team's threads compute side by side: slices of whole
 *  16-column tiles of C (or of 6-row tiles when C is taller than wide, which
 *  saves re-packing the larger operand; 32 x 32 steps in bf16), each thread
 *  packing its own operands into its own workspace. A product too small to pay
 *  for waking the workers runs on the calling thread alone. Every element of C
 *  is computed by the same instructions in the same order whatever the number
 *  of threads, so the result is bitwise the same for 1, 2 or 64 threads. */
void bp_gemm_team_ex(const bp_gemm_team *team, int trans_a, int trans_b, size_t M, size_t N,
                     size_t K, float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                     float beta, float *C, size_t ldc, const bp_gemm_epilogue *epilogue);

/** How bp_gemm_team_ex cuts an M x N x K product for `threads` threads: the
 *  number of slices (1: not cut), *split_n (1: slices of columns, 0: of rows)
 *  and *step (columns or rows per slice; the last one takes the rest). */
int bp_gemm_team_plan(int threads, size_t M, size_t N, size_t K, int *split_n, size_t *step);

/** The same for a team whose precision is bf16: slices of whole 32 x 32 steps
 *  (BP_BF16_GRANULE) of C, which give the same bits however they are cut. */
int bp_gemm_team_plan_bf16(int threads, size_t M, size_t N, size_t K, int *split_n, size_t *step);

/** The obvious triple loop with bp_gemm's contract (no workspace): the
 *  reference that bp_gemm is tested against. It accumulates in double, so as an
 *  oracle it adds almost none of the rounding error it is used to bound. */
void bp_gemm_naive(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                   float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                   float beta, float *C, size_t ldc);

#ifdef __cplusplus
}
#endif

#endif
