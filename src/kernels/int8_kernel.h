/*
 * int8_kernel.h - what the int8 kernels share (int8.c, int8_vnni.c): the rule
 * that turns a layer's int32 sums into int8 outputs, the quantization of one
 * float, and the VNNI kernel's entry points.
 *
 * The inline rules here are the definition of the integer arithmetic: the
 * kernels compute them lane by lane, and io/export_int8.c writes the same
 * expressions into the generated C, so all of them give the same bytes.
 */
#ifndef BP_INT8_KERNEL_H
#define BP_INT8_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* How one layer's sums become its int8 outputs. For output i, with p = sum * mult[i]
   (64-bit):  r = (p + 2^(shift[i] - 1)) >> shift[i]  (arithmetic shift), then
   q = clamp(r + zero, -128, 127), then q = lut[q + 128] when there is a table.
   Sums below zero use mult_neg and shift_neg instead when they are given (leaky ReLU). */
typedef struct {
    const int32_t *mult;
    const uint8_t *shift;      /* 1..62 */
    const int32_t *mult_neg;   /* NULL: mult for every sum */
    const uint8_t *shift_neg;
    int32_t zero;
    const int8_t *lut;         /* NULL, or 256 entries indexed by q + 128 */
} bp_i8_requant;

/* The requantization of one sum (the rule above, without the table). */
static inline int32_t bp_i8_rescale(int32_t sum, int32_t mult, unsigned shift, int32_t zero)
{
    int64_t r = ((int64_t)sum * mult + ((int64_t)1 << (shift - 1))) >> shift;
    r += zero;
    return (int32_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

/* Sum (bias included) of output i to its int8 output: bp_i8_rescale with the multiplier
   for the sum's sign, then the table. */
static inline int32_t bp_i8_finish(int32_t sum, const bp_i8_requant *rq, size_t i)
{
    int32_t q = rq->mult_neg && sum < 0 ? bp_i8_rescale(sum, rq->mult_neg[i], rq->shift_neg[i], rq->zero)
                                        : bp_i8_rescale(sum, rq->mult[i], rq->shift[i], rq->zero);
    return rq->lut ? rq->lut[q + 128] : q;
}

/* The quantization of one float: v = x * inv_scale, clamped to [-256, 256] (NaN to
   -256), rounded half away from zero, plus zero, clamped to -128..127. Written so that
   no compiler can fuse the multiply into an add, and copied word for word into the
   int8 C that export_int8.c writes, so both give the same bytes. */
static inline int32_t bp_i8_quantize_one(float x, float inv_scale, int32_t zero)
{
    float v = x * inv_scale;
    if (!(v > -256.0f)) v = -256.0f;
    if (v > 256.0f) v = 256.0f;
    int32_t r = (int32_t)v;
    if (v >= (float)r + 0.5f) r++;
    else if (v <= (float)r - 0.5f) r--;
    r += zero;
    return r < -128 ? -128 : r > 127 ? 127 : r;
}

/* The AVX-512 VNNI kernel (int8_vnni.c): whether it runs here, its layer and its
   input quantization, in the q + 128 encoding (see int8.h). Its packed weights are blocks of
   16 outputs by 4 inputs: packed[((i / 16) * (K / 4) + j / 4) * 64 + (i % 16) * 4 + j % 4] =
   W[i][j], K = n_in rounded up to 4, zeros beyond W. */
int bp_i8_vnni_usable(void);
void bp_i8_vnni_layer(const uint8_t *a, size_t lda, size_t m, size_t n_in, const int8_t *packed,
                      const int32_t *bias, size_t n_out, const bp_i8_requant *rq, uint8_t *out, size_t ldo,
                      const void *prefetch, size_t prefetch_bytes);
void bp_i8_vnni_quantize(const float *x, size_t ldx, size_t m, size_t n, float inv_scale, int32_t zero,
                         uint8_t *out, size_t ldo);

#endif
