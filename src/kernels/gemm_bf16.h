/*
 * gemm_bf16.h - the mixed-precision matrix product: bp_gemm_ex's contract
 * (float in, float out, alpha, beta, the epilogue) with the multiplications
 * done in bfloat16 and the sums in float.
 *
 * bfloat16 (bf16) is a float with its low 16 bits dropped: the same 8-bit
 * exponent, 8 bits of significand instead of 24. Its products fit a float
 * exactly, so a product whose operands are rounded to bf16 and whose sums are
 * kept in float loses only the rounding of the operands (a relative 2^-9 each)
 * and the float sums' own rounding. Modern x86 CPUs multiply bf16 pairs in
 * bulk: AMX tiles (TDPBF16PS: a 16 x 16 float tile += a 16 x 32 by 32 x 16 bf16
 * product in one instruction) and AVX512_BF16 (VDPBF16PS: 16 floats += 16
 * pairs of products).
 *
 * The operands are rounded when they are packed: the packing step copies them
 * into the layout the kernels read anyway, and writes bf16 instead of float on
 * the way, so no pass of its own converts a matrix. Packed layout (shared by
 * the three kernels, gemm_bf16_kernel.h):
 *   op(A): slivers of 16 rows; each sliver a row of tiles, one per 32 k, each
 *          tile 16 rows x 32 bf16 (an AMX "A" tile, 1 KiB);
 *   op(B): slivers of 16 columns; each a row of tiles, one per 32 k, each tile
 *          16 pairs of k x 16 columns x the pair (the "VNNI" layout of an AMX
 *          "B" tile: row p holds (B[2p][j], B[2p+1][j]) for j = 0..15).
 * K is padded with zeros to a whole tile; edge rows and columns likewise.
 *
 * Kernels (bp_bf16_kernel): AMX tiles, AVX512_BF16, and a portable C
 * emulation of the tile operations that runs anywhere, so that the packing,
 * the tile loops and the edge tiles are tested on every machine. Every product
 * uses one kernel throughout and cuts C only between tiles, never K, so a
 * kernel's result does not depend on how threads share the product. The
 * kernels differ from each other in the order (or, for AMX, the internal
 * precision) of their float sums, so their results differ in the last bits;
 * each is tested against the naive product (tests/test_gemm_bf16.c states the
 * tolerance and why).
 *
 * Left to others: choosing bf16 at all (the network's team carries the
 * choice, gemm.h), and the fp32 product (gemm.c).
 */
#ifndef BP_GEMM_BF16_H
#define BP_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "epilogue.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Which kernel does the bf16 product. BP_BF16_BEST is what training asks
 *  for; the others are the explicit choices tests and benchmarks make. */
typedef enum {
    BP_BF16_NONE = 0,  /**< no bf16 product (bp_gemm_bf16_resolve's "not here") */
    BP_BF16_BEST,      /**< AMX if the CPU and the kernel allow it, else AVX512_BF16 */
    BP_BF16_AMX,       /**< AMX-BF16 tiles, 32 x 32 of C per step (TDPBF16PS) */
    BP_BF16_AVX512,    /**< AVX512_BF16 (VDPBF16PS), 8 x 32 of C per step */
    BP_BF16_EMULATED   /**< portable C, the tile operations one product at a time (slow) */
} bp_bf16_kernel;

/** The kernel `kernel` stands for on this CPU: itself when it can run here
 *  (BP_BF16_EMULATED always can), the best one for BP_BF16_BEST, and
 *  BP_BF16_NONE when it cannot run (no such instructions, or, for AMX, the
 *  operating system refused the tile state). The first AMX question asks Linux
 *  for permission to use the tiles (arch_prctl ARCH_REQ_XCOMP_PERM), once per
 *  process; nothing else is remembered. */
bp_bf16_kernel bp_gemm_bf16_resolve(bp_bf16_kernel kernel);

/** A kernel's name in words ("AMX-BF16 tiles 32x32", ...), or "none". */
const char *bp_gemm_bf16_kernel_name(bp_bf16_kernel kernel);

/** C = alpha op(A) op(B) + beta C, then the epilogue, exactly as bp_gemm_ex
 *  (gemm.h: shapes, strides, beta == 0 never reads C, alpha == 0 or K == 0
 *  only scales C), but with op(A) and op(B) rounded to bf16 as they are packed
 *  and the products summed in float. `kernel` is resolved with
 *  bp_gemm_bf16_resolve; if it resolves to BP_BF16_NONE the emulation runs.
 *  `workspace` holds BP_GEMM_BF16_WORKSPACE_BYTES (the fp32 product's
 *  workspace does), at any float alignment. Allocates nothing; on AMX it loads the tile configuration and
 *  releases the tiles before returning, so no thread keeps tile state. */
void bp_gemm_bf16_ex(bp_bf16_kernel kernel, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                     float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta,
                     float *C, size_t ldc, float *workspace, const bp_gemm_epilogue *epi);

/** Bytes of workspace bp_gemm_bf16_ex uses: a 384 x 1024 panel of op(B) and a
 *  32 x 384 block of op(A) in bf16, and 64 bytes of slack for the alignment.
 *  gemm.c checks that the fp32 product's workspace holds this much. */
#define BP_GEMM_BF16_WORKSPACE_BYTES ((384 * 1024 + 32 * 384) * 2 + 64)

/** Rows and columns of C that one step of the bf16 kernels covers: threads
 *  share a bf16 product in slices of this many (bp_gemm_team_ex). */
enum { BP_BF16_GRANULE = 32 };

/** float -> bf16 as the hardware converts (VCVTNE2PS2BF16): round to nearest,
 *  ties to even; a denormal becomes a zero of its sign; a NaN stays a NaN
 *  (quieted). Checked against the instruction bit for bit in the tests. */
static inline uint16_t bp_bf16_from_float(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);
    if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/** bf16 -> float, exact. */
static inline float bp_bf16_to_float(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#ifdef __cplusplus
}
#endif

#endif
