/*
 * quantize.h - a network in 8-bit integers (bp_qnet), as quantize.c builds it
 * and io/export_int8.c writes it out as C.
 *
 * Every real number r of a layer is stored as an int8 q with r = scale (q - zero):
 *
 *   weights      per output unit i: symmetric, zero 0, scale w_i = max_j |W_ij| / 127
 *   activations  per layer: scale s_l and zero point z_l from the range calibration saw
 *                (ReLU: [0, max] onto -128..127; others: [min, max] widened to hold 0)
 *
 * so z^l_i = w_i s_(l-1) (b_i / (w_i s_(l-1)) + sum_j Wq_ij (q_j - z_(l-1))): one int32 sum
 * per unit, whose constant part (the bias and the zero point's share) is the int32 `bias`
 * below. The sum becomes the next layer's q by one fixed-point multiplication
 * (kernels/int8_kernel.h): mult 2^-shift = w_i s_(l-1) / s_l. Sigmoid and tanh go through
 * a table of 256 entries on a quantized z (clipped to [-8, 8] and [-4, 4], where they
 * saturate); a softmax output turns int8 logits into int8 probabilities (scale 1/256,
 * zero -128) with a table of exp and one integer division per output. Nothing in the
 * pass itself is float: floats only enter (quantizing the inputs) and leave
 * (dequantizing a^L).
 */
#ifndef BP_QUANTIZE_H
#define BP_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "backprop.h"
#include "kernels/int8.h"

/* Where a layer's rescaled sums go. */
typedef enum {
    BP_Q_DIRECT = 0, /* the sum rescaled is the output (identity, ReLU, leaky ReLU) */
    BP_Q_TABLE,      /* rescaled to a quantized z, then a = table[q + 128] (sigmoid, tanh) */
    BP_Q_SOFTMAX     /* rescaled to int8 logits, then the integer softmax */
} bp_q_mode;

typedef struct {
    size_t n_in, n_out;        /* n_(l-1), n_l */
    bp_activation g;
    bp_q_mode mode;
    int8_t *W;                 /* n_out x n_in, row-major, -127..127 */
    int32_t *bias;             /* n_out: the constant part of each sum (signed encoding) */
    int32_t *bias_u8;          /* the same for the q + 128 encoding (VNNI): bias - 128 sum_j W_ij */
    int32_t *mult, *mult_neg;  /* n_out each; mult_neg only for leaky ReLU (sums below zero) */
    uint8_t *shift, *shift_neg;
    int32_t zero;              /* zero point of the rescaled values (z of a, or of z for tables) */
    int8_t table[256];         /* BP_Q_TABLE: a as int8 for each quantized z (index q + 128) */
    uint16_t exp_table[256];   /* BP_Q_SOFTMAX: round(2^15 exp(-z_scale d)), d = max - q */
    float z_scale;             /* TABLE, SOFTMAX: scale of the quantized z */
    float out_scale;           /* the int8 output a: a = out_scale (q - out_zero) */
    int32_t out_zero;
    void *packed;              /* W packed for the kernel */
} bp_qlayer;

struct bp_qnet {
    size_t L;
    size_t sizes[BP_MAX_LAYERS + 1];
    float in_scale, in_inv_scale; /* inputs: q = round(x in_inv_scale) + in_zero */
    int32_t in_zero;
    bp_qlayer layers[BP_MAX_LAYERS]; /* layers[l - 1] is layer l */
    bp_i8_kernel kernel;
    /* Work space for bp_qnet_forward: two activation buffers of BP_Q_CHUNK rows and the
       kernel's scratch, one block. */
    unsigned char *work;
    size_t row_bytes;
};

/* Samples bp_qnet_forward runs through the layers at a time: 64 keeps the next chunk's
   inputs (200 KiB on W1), prefetched while layer 1 computes, beside W in L2; against 256
   it measured about 10% more samples/s on W1 (noisy shared host). */
#define BP_Q_CHUNK 64

/* The int8 softmax of one sample's logits q (n of them) into p (int8, scale 1/256, zero
   -128), with the layer's exp table: the rule io/export_int8.c writes out. */
void bp_q_softmax(const bp_qlayer *layer, const int8_t *q, int8_t *p, size_t n);

/* Quantize with the given kernel instead of the CPU's best (for tests). */
bp_status bp_qnet_create_with(const bp_net *net, const bp_dataset *calibration, bp_i8_kernel kernel, bp_qnet **out,
                              bp_error *err);

/* The plain forward pass on the unpacked weights, one sample at a time (the definition
   the kernels are tested against): int8 inputs in, int8 outputs a^L out. BP_ERR_NOMEM
   when its two rows cannot be allocated. */
bp_status bp_qnet_forward_reference(const bp_qnet *q, const int8_t *x, int8_t *out);

#endif
