/*
 * int8.h - integer kernels for quantized inference (core/quantize.c): one
 * layer's int8 x int8 products summed in int32, rescaled in fixed point to the
 * next layer's int8 activations, and the quantization of float inputs.
 *
 * Three kernels compute exactly the same integers: a portable one in plain C
 * (bp_i8_layer_reference, also the definition the others are tested against),
 * AVX2 (16-bit products summed in pairs, vpmaddwd) and AVX-512 VNNI (unsigned
 * times signed bytes summed in fours, vpdpbusd). Sums of integers are exact, so
 * order does not matter and no tolerance is needed anywhere.
 *
 * Encodings: an activation q (int8, with its layer's zero point folded into the
 * bias) is stored as the byte q for the portable and AVX2 kernels, and as the
 * byte q + 128 for VNNI, whose products take an unsigned operand; the caller
 * gives each kernel the bias that goes with its encoding (bias - 128 sum_j W_ij
 * for VNNI). Rows of activations are lda bytes apart, lda >= bp_i8_row_bytes.
 *
 * Left to the caller: choosing scales (quantize.c), memory (every function
 * writes only into buffers it is given), threads.
 */
#ifndef BP_INT8_H
#define BP_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "int8_kernel.h"

typedef enum {
    BP_I8_PORTABLE = 0, /* plain C */
    BP_I8_AVX2,         /* x86 AVX2: int16 pairs */
    BP_I8_VNNI          /* x86 AVX-512 VNNI (with AVX512BW): unsigned x signed bytes in fours */
} bp_i8_kernel;

/* The fastest kernel this CPU runs; asked of the CPU on every call (nothing cached). */
bp_i8_kernel bp_i8_kernel_best(void);
/* Whether this CPU (and this build) can run kernel k. */
int bp_i8_kernel_usable(bp_i8_kernel k);
const char *bp_i8_kernel_name(bp_i8_kernel k);

/* Bytes a row of n activations takes in kernel k's work buffers (n rounded up to what
   the kernel reads at once; the padding must be readable, any value). */
size_t bp_i8_row_bytes(bp_i8_kernel k, size_t n);
/* Bytes of kernel k's packed copy of an n_out x n_in weight matrix, and the packing
   (W row-major, values in -127..127). */
size_t bp_i8_packed_bytes(bp_i8_kernel k, size_t n_out, size_t n_in);
void bp_i8_pack(bp_i8_kernel k, const int8_t *W, size_t n_out, size_t n_in, void *packed);
/* Scratch bytes bp_i8_layer needs for m rows of n_in inputs (0 for some kernels). */
size_t bp_i8_scratch_bytes(bp_i8_kernel k, size_t m, size_t n_in);

/* One layer for m samples: out[s][i] = requant(bias[i] + sum_j W[i][j] a[s][j]), in
   kernel k's encoding (a: m rows, lda bytes apart; out: ldo bytes apart). packed is
   bp_i8_pack's output for k; scratch holds bp_i8_scratch_bytes(k, m, n_in) bytes,
   64-byte aligned. prefetch (may be NULL) names prefetch_bytes the caller reads next:
   the VNNI kernel asks the CPU to bring them towards the cache while it computes. */
void bp_i8_layer(bp_i8_kernel k, const uint8_t *a, size_t lda, size_t m, size_t n_in, const void *packed,
                 const int32_t *bias, size_t n_out, const bp_i8_requant *rq, uint8_t *out, size_t ldo,
                 void *scratch, const void *prefetch, size_t prefetch_bytes);

/* The definition: plain loops over the unpacked W, signed encoding. */
void bp_i8_layer_reference(const int8_t *a, size_t lda, size_t m, size_t n_in, const int8_t *W,
                           const int32_t *bias, size_t n_out, const bp_i8_requant *rq, int8_t *out, size_t ldo);

/* m rows of n floats (x, row stride ldx floats) quantized into kernel k's encoding. */
void bp_i8_quantize(bp_i8_kernel k, const float *x, size_t ldx, size_t m, size_t n, float inv_scale, int32_t zero,
                    uint8_t *out, size_t ldo);

#endif
