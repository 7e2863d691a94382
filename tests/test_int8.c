/*
 * test_int8.c - int8 inference: the rescaling and rounding rules worked by
 * hand, every kernel (AVX-512 VNNI, AVX2, portable) against the plain
 * reference on many shapes, the quantized network against its reference pass
 * for every activation, its accuracy on the digits against the float network,
 * and the errors for networks integers cannot represent.
 *
 * Integer sums are exact, so every comparison here is for equality.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "core/quantize.h"
#include "kernels/int8.h"
#include "test.h"

void test_int8_rescale_by_hand(void)
{
    const int32_t half = 1 << 30; /* with shift 31: the real multiplier 0.5 */
    CHECK(bp_i8_rescale(100, half, 31, 0) == 50, "100 * 0.5");
    CHECK(bp_i8_rescale(3, half, 31, 0) == 2, "1.5 rounds up to 2");
    CHECK(bp_i8_rescale(-3, half, 31, 0) == -1, "-1.5 rounds up to -1");
    CHECK(bp_i8_rescale(-5, half, 31, 0) == -2, "-2.5 rounds up to -2");
    CHECK(bp_i8_rescale(100, half, 31, -128) == -78, "zero point added after rescaling");
    CHECK(bp_i8_rescale(1000, half, 31, 0) == 127, "clamped above");
    CHECK(bp_i8_rescale(-1000, half, 31, 0) == -128, "clamped below");
    /* 0.75 = 3 * 2^29 / 2^31: 10 * 0.75 = 7.5 -> 8. */
    CHECK(bp_i8_rescale(10, (int32_t)(3u << 29), 31, 0) == 8, "10 * 0.75 = 7.5 -> 8, got %d",
          (int)bp_i8_rescale(10, (int32_t)(3u << 29), 31, 0));
    /* The extremes of the sum do not overflow the 64-bit product: (2^31 - 1)^2 / 2^62 -> 1. */
    CHECK(bp_i8_rescale(INT32_MAX, INT32_MAX, 62, 0) == 1, "(2^31 - 1)^2 / 2^62 rounds to 1, got %d",
          (int)bp_i8_rescale(INT32_MAX, INT32_MAX, 62, 0));
    CHECK(bp_i8_rescale(INT32_MIN, INT32_MAX, 40, 0) == -128, "most negative sum");
    int8_t table[256];
    for (int i = 0; i < 256; i++) table[i] = (int8_t)(127 - i);
    int32_t mult = half, neg = half / 4;
    uint8_t shift = 31;
    bp_i8_requant rq = {&mult, &shift, &neg, &shift, 0, NULL};
    CHECK(bp_i8_finish(-40, &rq, 0) == -5, "negative sums take mult_neg: -40 * 0.125 = -5");
    CHECK(bp_i8_finish(40, &rq, 0) == 20, "positive sums take mult: 40 * 0.5");
    rq.lut = table;
    CHECK(bp_i8_finish(40, &rq, 0) == 127 - (20 + 128), "then the table at q + 128");
}

void test_int8_quantize_one_by_hand(void)
{
    CHECK(bp_i8_quantize_one(2.5f, 1.0f, 0) == 3, "2.5 -> 3 (half away from zero)");
    CHECK(bp_i8_quantize_one(-2.5f, 1.0f, 0) == -3, "-2.5 -> -3");
    CHECK(bp_i8_quantize_one(0.49999997f, 1.0f, 0) == 0, "just below a half stays down");
    CHECK(bp_i8_quantize_one(-0.49999997f, 1.0f, 0) == 0, "just above minus a half stays up");
    CHECK(bp_i8_quantize_one(1.0f, 10.0f, -128) == -118, "x / scale + zero");
    CHECK(bp_i8_quantize_one(1e30f, 1.0f, 0) == 127, "huge clamps");
    CHECK(bp_i8_quantize_one(-INFINITY, 1.0f, 0) == -128, "-inf clamps");
    CHECK(bp_i8_quantize_one(NAN, 1.0f, 5) == -128, "NaN is the lowest value");
    CHECK(bp_i8_quantize_one(200.0f, 1.0f, -100) == 100, "values beyond 127 before the zero point come back");
}

/* Random requantization rules for n outputs (leaky: with negative multipliers; table:
   with a lookup table). The arrays are the caller's. */
static bp_i8_requant random_rule(uint64_t *rng, size_t n, int32_t *mult, uint8_t *shift, int32_t *mult_neg,
                                 uint8_t *shift_neg, int8_t *table, int leaky, int with_table)
{
    for (size_t i = 0; i < n; i++) {
        mult[i] = (int32_t)((1u << 30) + bp_test_next(rng) % (1u << 30));
        shift[i] = (uint8_t)(34 + bp_test_next(rng) % 10);
        mult_neg[i] = (int32_t)((1u << 30) + bp_test_next(rng) % (1u << 30));
        shift_neg[i] = (uint8_t)(38 + bp_test_next(rng) % 8);
    }
    for (int i = 0; i < 256; i++) table[i] = (int8_t)(bp_test_next(rng) % 256 - 128);
    bp_i8_requant rq = {mult, shift, leaky ? mult_neg : NULL, shift_neg, (int32_t)(bp_test_next(rng) % 256) - 128,
                        with_table ? table : NULL};
    return rq;
}

/* One kernel against the reference on an m x n_in by n_out layer with random values. */
static void compare_layer(bp_i8_kernel k, uint64_t *rng, size_t m, size_t n_in, size_t n_out, int leaky, int table)
{
    size_t ld = bp_i8_row_bytes(k, n_in > n_out ? n_in : n_out) + 16; /* wider than needed: padding shows */
    int8_t *W = malloc(n_out * n_in), *a = malloc(m * ld), *ref = malloc(m * ld);
    uint8_t *enc = malloc(m * ld), *out = malloc(m * ld);
    void *packed = malloc(bp_i8_packed_bytes(k, n_out, n_in));
    void *scratch = malloc(bp_i8_scratch_bytes(k, m, n_in) + 64);
    int32_t *bias = malloc(n_out * sizeof(int32_t)), *bias_u8 = malloc(n_out * sizeof(int32_t));
    int32_t *mult = malloc(n_out * 4), *mult_neg = malloc(n_out * 4);
    uint8_t *shift = malloc(n_out), *shift_neg = malloc(n_out);
    int8_t lut[256];
    bp_i8_requant rq = random_rule(rng, n_out, mult, shift, mult_neg, shift_neg, lut, leaky, table);
    for (size_t i = 0; i < n_out * n_in; i++) W[i] = (int8_t)(bp_test_next(rng) % 255 - 127);
    for (size_t i = 0; i < m * ld; i++) a[i] = (int8_t)(bp_test_next(rng) % 256 - 128);
    for (size_t i = 0; i < n_out; i++) {
        int32_t rowsum = 0;
        for (size_t j = 0; j < n_in; j++) rowsum += W[i * n_in + j];
        bias[i] = (int32_t)(bp_test_next(rng) % 2000001) - 1000000;
        bias_u8[i] = bias[i] - 128 * rowsum;
    }
    int unsigned_encoding = k == BP_I8_VNNI;
    for (size_t i = 0; i < m * ld; i++) enc[i] = (uint8_t)(unsigned_encoding ? a[i] + 128 : a[i]);
    memset(out, 0xA5, m * ld);
    bp_i8_pack(k, W, n_out, n_in, packed);
    bp_i8_layer_reference(a, ld, m, n_in, W, bias, n_out, &rq, ref, ld);
    bp_i8_layer(k, enc, ld, m, n_in, packed, unsigned_encoding ? bias_u8 : bias, n_out, &rq, out, ld, scratch, NULL, 0);
    size_t bad = 0, touched = 0;
    for (size_t s = 0; s < m; s++) {
        for (size_t i = 0; i < n_out; i++) {
            int got = unsigned_encoding ? (int)out[s * ld + i] - 128 : (int8_t)out[s * ld + i];
            bad += got != ref[s * ld + i];
        }
        for (size_t i = n_out; i < ld; i++) touched += out[s * ld + i] != 0xA5;
    }
    CHECK(bad == 0, "%s: %zu of %zu outputs differ from the reference (m %zu, %zu -> %zu, leaky %d, table %d)",
          bp_i8_kernel_name(k), bad, m * n_out, m, n_in, n_out, leaky, table);
    CHECK(touched == 0, "%s wrote %zu bytes past the outputs (m %zu, %zu -> %zu)", bp_i8_kernel_name(k), touched, m,
          n_in, n_out);
    free(W), free(a), free(ref), free(enc), free(out), free(packed), free(scratch);
    free(bias), free(bias_u8), free(mult), free(mult_neg), free(shift), free(shift_neg);
}

void test_int8_kernels_match_reference(void)
{
    static const size_t inputs[] = {1, 2, 3, 4, 5, 7, 16, 17, 63, 64, 65, 130, 784};
    static const size_t outputs[] = {1, 2, 10, 15, 16, 17, 31, 32, 33, 48, 100};
    static const size_t rows[] = {1, 2, 5, 6, 7, 8, 9, 13, 17};
    uint64_t rng = 42;
    int kernels = 0;
    for (int k = BP_I8_PORTABLE; k <= BP_I8_VNNI; k++) {
        if (!bp_i8_kernel_usable((bp_i8_kernel)k)) {
            printf("  (%s: not on this CPU)\n", bp_i8_kernel_name((bp_i8_kernel)k));
            continue;
        }
        kernels++;
        for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
            for (size_t o = 0; o < sizeof outputs / sizeof *outputs; o++) {
                size_t m = rows[(i + o) % (sizeof rows / sizeof *rows)];
                compare_layer((bp_i8_kernel)k, &rng, m, inputs[i], outputs[o], 0, 0);
            }
        for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
            compare_layer((bp_i8_kernel)k, &rng, rows[r], 37, 33, 1, 0);
            compare_layer((bp_i8_kernel)k, &rng, rows[r], 37, 33, 0, 1);
        }
    }
    CHECK(kernels >= 1, "the portable kernel always runs");
}

void test_int8_quantize_kernels_match(void)
{
    enum { M = 3, N = 53 };
    float x[M * N];
    uint64_t rng = 7;
    static const float special[] = {0.5f, -0.5f, 1.5f, -1.5f, 0.49999997f, 2.5000002f, 1e30f, -1e30f, 0.0f, -0.0f};
    float inv = 3.0f;
    for (size_t i = 0; i < M * N; i++) {
        if (i < sizeof special / sizeof *special) x[i] = special[i] / inv;
        else x[i] = (float)((double)(bp_test_next(&rng) % 2000001) / 1000.0 - 1000.0) / 7.0f;
    }
    x[20] = NAN;
    x[21] = INFINITY;
    x[22] = -INFINITY;
    for (int k = BP_I8_PORTABLE; k <= BP_I8_VNNI; k++) {
        if (!bp_i8_kernel_usable((bp_i8_kernel)k)) continue;
        uint8_t out[M * 64];
        memset(out, 0xA5, sizeof out);
        bp_i8_quantize((bp_i8_kernel)k, x, N, M, N, inv, -7, out, 64);
        size_t bad = 0, touched = 0;
        for (size_t s = 0; s < M; s++) {
            for (size_t j = 0; j < N; j++) {
                int got = k == BP_I8_VNNI ? (int)out[s * 64 + j] - 128 : (int8_t)out[s * 64 + j];
                bad += got != bp_i8_quantize_one(x[s * N + j], inv, -7);
            }
            for (size_t j = N; j < 64; j++) touched += out[s * 64 + j] != 0xA5;
        }
        CHECK(bad == 0 && touched == 0, "%s: %zu values differ, %zu bytes written past the row",
              bp_i8_kernel_name((bp_i8_kernel)k), bad, touched);
    }
}

/* ---------------------------------------------------------- quantized networks */

static bp_net *random_net(size_t L, const size_t *sizes, bp_activation hidden, bp_activation output, int bias,
                          uint64_t seed)
{
    bp_loss loss = output == BP_ACT_SOFTMAX ? BP_LOSS_CE : BP_LOSS_MSE;
    bp_net_config c = {L, sizes, hidden, output, loss, bias, seed, NULL, 0};
    bp_net *net = NULL;
    bp_error err = {0};
    CHECK(bp_net_create(&c, &net, &err) == BP_OK, "create: %s", err.message);
    if (!net) return NULL;
    /* Biases away from zero, so that their quantization is exercised too. */
    uint64_t rng = seed;
    float *p = bp_net_params(net);
    for (size_t l = 1; l <= L; l++) {
        float *W, *b;
        bp_net_layer_view(net, l, &W, &b, NULL, NULL);
        if (b)
            for (size_t i = 0; i < sizes[l]; i++) b[i] = (float)((double)(bp_test_next(&rng) % 1000) / 1000.0 - 0.5);
    }
    (void)p;
    return net;
}

static bp_dataset *random_inputs(size_t n, size_t n_in, uint64_t seed)
{
    bp_dataset *d = NULL;
    CHECK(bp_dataset_create(n, n_in, 0, &d) == BP_OK, "data set");
    if (!d) return NULL;
    float *x = bp_dataset_x(d);
    uint64_t rng = seed;
    for (size_t i = 0; i < n * n_in; i++) x[i] = (float)((double)(bp_test_next(&rng) % 20001) / 10000.0 - 1.0) * 2.0f;
    return d;
}

/* bp_qnet_forward with kernel k against the reference pass, sample by sample. */
static void compare_network(bp_net *net, const bp_dataset *data, bp_i8_kernel k, const char *what)
{
    bp_qnet *q = NULL;
    bp_error err = {0};
    bp_status s = bp_qnet_create_with(net, data, k, &q, &err);
    CHECK(s == BP_OK, "%s: quantize: %s", what, err.message);
    if (!q) return;
    size_t n = bp_dataset_count(data), n0 = q->sizes[0], nL = q->sizes[q->L];
    float *out = malloc(n * nL * sizeof(float));
    int8_t *xq = malloc(n0), *ref = malloc(nL);
    CHECK(bp_qnet_forward(q, bp_dataset_x_const(data), n, out) == BP_OK, "%s: forward", what);
    const bp_qlayer *last = &q->layers[q->L - 1];
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n0; j++)
            xq[j] = (int8_t)bp_i8_quantize_one(bp_dataset_x_const(data)[i * n0 + j], q->in_inv_scale, q->in_zero);
        bp_qnet_forward_reference(q, xq, ref);
        for (size_t j = 0; j < nL; j++) bad += out[i * nL + j] != last->out_scale * (float)(ref[j] - last->out_zero);
    }
    CHECK(bad == 0, "%s (%s): %zu of %zu outputs differ from the reference pass", what, bp_i8_kernel_name(k), bad,
          n * nL);
    free(out), free(xq), free(ref);
    bp_qnet_free(q);
}

void test_qnet_kernels_match_reference_pass(void)
{
    static const bp_activation hidden[] = {BP_ACT_RELU, BP_ACT_IDENTITY, BP_ACT_LEAKY_RELU, BP_ACT_SIGMOID,
                                           BP_ACT_TANH};
    static const bp_activation output[] = {BP_ACT_SOFTMAX, BP_ACT_SIGMOID, BP_ACT_IDENTITY, BP_ACT_TANH,
                                           BP_ACT_RELU};
    size_t sizes[] = {19, 33, 17, 5};
    bp_dataset *data = random_inputs(300, 19, 3); /* 300: more than one chunk of 256 */
    for (size_t h = 0; h < sizeof hidden / sizeof *hidden; h++)
        for (size_t o = 0; o < sizeof output / sizeof *output; o++)
            for (int bias = 0; bias <= 1; bias++) {
                bp_net *net = random_net(3, sizes, hidden[h], output[o], bias, 11 + h * 7 + o);
                char what[96];
                snprintf(what, sizeof what, "%s hidden, %s output, bias %d", bp_activation_name(hidden[h]),
                         bp_activation_name(output[o]), bias);
                for (int k = BP_I8_PORTABLE; k <= BP_I8_VNNI; k++)
                    if (net && bp_i8_kernel_usable((bp_i8_kernel)k)) compare_network(net, data, (bp_i8_kernel)k, what);
                bp_net_free(net);
            }
    /* One layer, and a single sigmoid output. */
    size_t one[] = {6, 1};
    bp_net *net = random_net(1, one, BP_ACT_RELU, BP_ACT_SIGMOID, 1, 5);
    bp_dataset *six = random_inputs(40, 6, 9);
    if (net) compare_network(net, six, bp_i8_kernel_best(), "6-1 sigmoid");
    bp_net_free(net);
    bp_dataset_free(six);
    bp_dataset_free(data);
}

/* Units whose weights decayed to almost nothing (weight decay leaves dead ReLU units so):
   their rescaling factor falls below 2^-31, which quantizing once refused. Now they get
   shift 62 and a small multiplier, every kernel still equals the reference pass, and no
   sum an int8 product can make moves them off the zero point. */
void test_qnet_takes_units_whose_weights_vanished(void)
{
    size_t sizes[] = {19, 33, 17, 5};
    bp_dataset *data = random_inputs(300, 19, 4);
    bp_net *net = random_net(3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, 1, 21);
    if (!net || !data) goto done;
    float *W, *b;
    bp_net_layer_view(net, 1, &W, &b, NULL, NULL);
    for (size_t j = 0; j < 19; j++) W[3 * 19 + j] = j % 2 ? 1e-13f : -1e-13f;
    b[3] = 0.0f;
    bp_net_layer_view(net, 2, &W, &b, NULL, NULL);
    for (size_t j = 0; j < 33; j++) W[5 * 33 + j] = 1e-30f; /* so small that the multiplier is 0 */
    b[5] = 0.0f;
    bp_qnet *q = NULL;
    bp_error err = {0};
    CHECK(bp_qnet_create(net, data, &q, &err) == BP_OK, "quantize: %s", err.message);
    if (q) {
        const bp_qlayer *one = &q->layers[0], *two = &q->layers[1];
        CHECK(one->shift[3] == 62 && one->mult[3] > 0 && one->mult[3] < (1 << 30),
              "layer 1, unit 3: shift 62 and a small multiplier, got %d and %d", (int)one->shift[3], (int)one->mult[3]);
        CHECK(two->shift[5] == 62 && two->mult[5] == 0, "layer 2, unit 5: multiplier 0, got %d", (int)two->mult[5]);
        const int32_t most = 127 * 255 * 33; /* beyond any sum of these layers */
        CHECK(bp_i8_rescale(most, one->mult[3], 62, one->zero) == one->zero &&
                  bp_i8_rescale(-most, one->mult[3], 62, one->zero) == one->zero,
              "the largest sums stay at the zero point");
        bp_qnet_free(q);
    }
    for (int k = BP_I8_PORTABLE; k <= BP_I8_VNNI; k++)
        if (bp_i8_kernel_usable((bp_i8_kernel)k)) compare_network(net, data, (bp_i8_kernel)k, "vanished units");
done:
    bp_net_free(net);
    bp_dataset_free(data);
}

/* The float and the int8 network on the same samples: the fraction of samples whose class
   they agree on, and the int8 accuracy against targets y (NULL: not measured). */
static void compare_classes(bp_net *net, bp_qnet *q, const bp_dataset *d, double *agree, double *acc_float,
                            double *acc_int8)
{
    size_t n = bp_dataset_count(d), nL = bp_net_width(net, bp_net_layer_count(net));
    float *f = malloc(n * nL * sizeof(float)), *g = malloc(n * nL * sizeof(float));
    const float *y = bp_dataset_y_const(d);
    bp_net_forward(net, bp_dataset_x_const(d), n, f);
    bp_qnet_forward(q, bp_dataset_x_const(d), n, g);
    size_t same = 0, right_f = 0, right_q = 0;
    for (size_t i = 0; i < n; i++) {
        size_t cf = 0, cq = 0, cy = 0;
        for (size_t k = 1; k < nL; k++) {
            if (f[i * nL + k] > f[i * nL + cf]) cf = k;
            if (g[i * nL + k] > g[i * nL + cq]) cq = k;
            if (y && y[i * nL + k] > y[i * nL + cy]) cy = k;
        }
        same += cf == cq;
        right_f += cf == cy;
        right_q += cq == cy;
    }
    *agree = (double)same / (double)n;
    *acc_float = (double)right_f / (double)n;
    *acc_int8 = (double)right_q / (double)n;
    free(f), free(g);
}

/* A hidden layer that outputs zero on every calibration sample (its ReLU units never fire
   there), once with weights of a usual size and once with enormous ones. The first has the
   range floor as its output step, where the next layer's biases once came to more than 2^30
   steps of its sums and quantizing refused; the second's rescaling factors are above 2^30
   and saturate, exactly after the clamp. Both quantize; the kernels equal the reference
   pass, and on the calibration data the int8 classes are the float ones. */
void test_qnet_takes_a_layer_dead_on_calibration(void)
{
    size_t sizes[] = {19, 33, 17, 5};
    bp_dataset *data = random_inputs(300, 19, 5);
    for (int huge = 0; huge <= 1 && data; huge++) {
        bp_net *net = random_net(3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, 1, 23);
        if (!net) break;
        size_t l = huge ? 1 : 2, n_in = sizes[l - 1];
        float *W, *b;
        bp_net_layer_view(net, l, &W, &b, NULL, NULL);
        for (size_t i = 0; i < sizes[l]; i++) {
            if (huge)
                for (size_t j = 0; j < n_in; j++) W[i * n_in + j] = (i + j) % 2 ? 4e10f : -4e10f;
            b[i] = huge ? -1e13f : -1000.0f; /* below anything the inputs reach */
        }
        bp_qnet *q = NULL;
        bp_error err = {0};
        CHECK(bp_qnet_create(net, data, &q, &err) == BP_OK, "huge %d: quantize: %s", huge, err.message);
        if (q) {
            const bp_qlayer *dead = &q->layers[l - 1];
            if (huge)
                CHECK(dead->shift[0] == 1 && dead->mult[0] == INT32_MAX, "the factor saturates: shift %d, mult %d",
                      (int)dead->shift[0], (int)dead->mult[0]);
            double agree, acc_f, acc_q;
            compare_classes(net, q, data, &agree, &acc_f, &acc_q);
            CHECK(agree == 1.0, "huge %d: the int8 classes are the float ones on the calibration data: %.4f", huge,
                  agree);
            bp_qnet_free(q);
        }
        for (int k = BP_I8_PORTABLE; k <= BP_I8_VNNI; k++)
            if (bp_i8_kernel_usable((bp_i8_kernel)k))
                compare_network(net, data, (bp_i8_kernel)k, huge ? "dead layer, huge weights" : "dead layer");
        bp_net_free(net);
    }
    bp_dataset_free(data);
}

/* The demo's digits network (cmd_demo.c: 64-64-10, ReLU, softmax, momentum 0.9, lr 0.05,
   batch 16, 30 epochs, a fifth held out): int8 within a point of float on the held-out fifth. */
void test_qnet_accuracy_on_digits(void)
{
    bp_csv_options csv = {BP_TARGET_CLASS, 10, -1, NULL};
    bp_dataset *all = NULL, *train = NULL, *test = NULL;
    bp_error err = {0};
    if (bp_dataset_read_csv("data/digits.csv.gz", &csv, &all, &err) != BP_OK) {
        SKIP("data/digits.csv.gz not found from here: %s", err.message);
        return;
    }
    CHECK(bp_dataset_split(all, 0.2, 1, &train, &test) == BP_OK, "split");
    float shift[64], scale[64];
    for (int i = 0; i < 64; i++) shift[i] = 0.0f, scale[i] = 1.0f / 16.0f;
    bp_dataset_apply_transform(train, shift, scale);
    bp_dataset_apply_transform(test, shift, scale);
    size_t sizes[] = {64, 64, 10};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_train_config tc = {0};
    tc.optimizer = BP_OPT_MOMENTUM, tc.learning_rate = 0.05, tc.momentum = 0.9, tc.batch_size = 16, tc.seed = 1;
    bp_net *net = NULL;
    bp_trainer *trainer = NULL;
    CHECK(bp_net_create(&c, &net, &err) == BP_OK && bp_trainer_create(net, &tc, &trainer) == BP_OK, "setup");
    for (int e = 0; e < 30 && trainer; e++) bp_trainer_epoch(trainer, train, NULL);
    bp_qnet *q = NULL;
    CHECK(bp_qnet_create(net, train, &q, &err) == BP_OK, "quantize: %s", err.message);
    if (q) {
        double agree, acc_f, acc_q;
        compare_classes(net, q, test, &agree, &acc_f, &acc_q);
        printf("  digits: float %.2f%%, int8 %.2f%%, same class on %.2f%%\n", 100 * acc_f, 100 * acc_q, 100 * agree);
        CHECK(acc_f > 0.9, "the float network learned the digits: %.3f", acc_f);
        CHECK(fabs(acc_q - acc_f) <= 0.01, "int8 %.4f within a point of float %.4f", acc_q, acc_f);
        CHECK(agree >= 0.97, "int8 gives the float class on %.3f of the samples", agree);
    }
    bp_qnet_free(q);
    bp_trainer_free(trainer);
    bp_net_free(net);
    bp_dataset_free(all), bp_dataset_free(train), bp_dataset_free(test);
}

void test_qnet_refuses_what_integers_cannot_hold(void)
{
    bp_error err = {0};
    bp_qnet *q = NULL;
    size_t sizes[] = {4, 3, 2};
    bp_net *net = random_net(2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, 1, 3);
    bp_dataset *data = random_inputs(10, 4, 1), *wrong = random_inputs(10, 5, 1);
    CHECK(bp_qnet_create(net, NULL, &q, &err) == BP_ERR_ARG && !q && strstr(err.message, "calibration"),
          "no calibration data: %s", err.message);
    CHECK(bp_qnet_create(net, wrong, &q, &err) == BP_ERR_ARG && strstr(err.message, "5 inputs"), "widths: %s",
          err.message);
    CHECK(bp_qnet_create(NULL, data, &q, &err) == BP_ERR_ARG, "no network");
    /* A weight that is not a number. */
    float *W;
    bp_net_layer_view(net, 2, &W, NULL, NULL, NULL);
    W[3] = NAN;
    CHECK(bp_qnet_create(net, data, &q, &err) == BP_ERR_NUMERIC && !q && strstr(err.message, "layer 2: W[1][0]"),
          "NaN weight: %s", err.message);
    bp_net_free(net);
    /* Calibration inputs that are not numbers. */
    size_t small[] = {4, 2};
    net = random_net(1, small, BP_ACT_RELU, BP_ACT_SIGMOID, 1, 2);
    bp_dataset_x(data)[5] = INFINITY;
    CHECK(bp_qnet_create(net, data, &q, &err) == BP_ERR_NUMERIC && strstr(err.message, "calibration"),
          "infinite input: %s", err.message);
    bp_net_free(net);
    /* More inputs per unit than an int32 sum of int8 products can hold. */
    size_t wide[] = {40000, 1};
    net = random_net(1, wide, BP_ACT_RELU, BP_ACT_IDENTITY, 1, 2);
    bp_dataset *many = random_inputs(1, 40000, 1);
    CHECK(bp_qnet_create(net, many, &q, &err) == BP_ERR_UNSUPPORTED && strstr(err.message, "40000 inputs"),
          "too wide: %s", err.message);
    bp_net_free(net);
    bp_dataset_free(many);
    bp_dataset_free(data), bp_dataset_free(wrong);
    bp_qnet_free(NULL);
    CHECK(bp_qnet_forward(NULL, NULL, 0, NULL) == BP_ERR_ARG, "forward without a network");
}
