/*
 * quantize.c - post-training quantization of a network to int8 (bp_qnet) and
 * its integer forward pass.
 *
 * Calibration runs the float network over the caller's samples and keeps the
 * range of every layer's inputs and outputs; the scales follow from the ranges
 * (quantize.h has the scheme). Per-output-unit weight scales keep a unit with
 * small weights from losing them to its layer's largest one. Ranges are plain
 * minimum and maximum: on Fashion-MNIST and the digits that loses well under a
 * point of accuracy (docs/DEPLOY.md has the measured table), so nothing
 * cleverer (percentiles, entropy) has earned its place yet.
 *
 * The forward pass runs in chunks of BP_Q_CHUNK samples through the int8
 * kernels (kernels/int8.h) chosen when the network was quantized; a forward
 * call allocates nothing. bp_qnet_forward_reference is the same pass in plain
 * loops, one sample at a time, which the tests hold the kernels and the
 * generated C to.
 *
 * Left to others: writing the network out as C (io/export_int8.c), threads,
 * and quantization-aware training.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/memory.h"
#include "core/quantize.h"
#include "core/status.h"

/* Inputs per unit at most: 127 x 255 x n plus a bias of at most 2^30 must stay inside int32. */
#define Q_MAX_INPUTS 32768
/* Softmax outputs at most: their exp values (at most 2^15 each) sum in 32 bits. */
#define Q_MAX_SOFTMAX 65536
#define Q_MAX_BIAS ((double)(1 << 30))

/* ---------------------------------------------------------------- calibration */

typedef struct {
    double lo, hi;
} range;

static void widen(range *r, float v)
{
    if (v < r->lo) r->lo = v;
    if (v > r->hi) r->hi = v;
}

/* What calibration measured: the inputs, and per layer its output a and (for the layers
   that quantize z) its pre-activation z. */
typedef struct {
    range in;
    range a[BP_MAX_LAYERS + 1], z[BP_MAX_LAYERS + 1];
} ranges;

/* z from a = g(z), for hidden layers (the network keeps only a there). A saturated a
   (exactly 0 or 1) gives an infinite z, which the clip in choose_scales bounds. */
static double inverse_g(bp_activation g, float a)
{
    if (g == BP_ACT_SIGMOID) return log((double)a / (1.0 - (double)a));
    if (g == BP_ACT_TANH) return atanh((double)a);
    return a;
}

static bp_status calibrate(const bp_net *source, const bp_dataset *data, ranges *r, bp_error *err)
{
    for (size_t l = 0; l <= BP_MAX_LAYERS; l++) r->a[l] = r->z[l] = (range){INFINITY, -INFINITY};
    r->in = r->a[0];
    bp_net *net = NULL;
    if (bp_net_clone(source, &net) != BP_OK) return bp_fail(err, BP_ERR_NOMEM, "out of memory quantizing the network");
    size_t L = bp_net_layer_count(net), n0 = bp_net_width(net, 0), n = bp_dataset_count(data);
    const float *x = bp_dataset_x_const(data);
    bp_status s = BP_OK;
    for (size_t start = 0; start < n && s == BP_OK; start += BP_Q_CHUNK) {
        size_t m = n - start < BP_Q_CHUNK ? n - start : BP_Q_CHUNK;
        const float *xs = x + start * n0;
        for (size_t i = 0; i < m * n0; i++) widen(&r->in, xs[i]);
        if ((s = bp_net_forward(net, xs, m, NULL)) != BP_OK) break;
        for (size_t l = 1; l <= L; l++) {
            const float *z, *a;
            bp_net_layer_activations(net, l, &z, &a);
            bp_activation g = l == L ? bp_net_output_activation(net) : bp_net_hidden_activation(net);
            size_t count = m * bp_net_width(net, l);
            for (size_t i = 0; i < count; i++) {
                widen(&r->a[l], a[i]);
                if (z) widen(&r->z[l], z[i]);
                else if (g == BP_ACT_SIGMOID || g == BP_ACT_TANH) {
                    double zi = inverse_g(g, a[i]);
                    if (zi < r->z[l].lo) r->z[l].lo = zi;
                    if (zi > r->z[l].hi) r->z[l].hi = zi;
                }
            }
        }
    }
    bp_net_free(net);
    if (s != BP_OK) return bp_fail(err, s, "the float forward pass failed during calibration");
    if (!isfinite(r->in.lo) || !isfinite(r->in.hi))
        return bp_fail(err, BP_ERR_NUMERIC, "the calibration data has a NaN or infinite input");
    for (size_t l = 1; l <= L; l++)
        if (!(isfinite(r->a[l].lo) && isfinite(r->a[l].hi)))
            return bp_fail(err, BP_ERR_NUMERIC,
                           "layer %zu's activations are NaN or infinite on the calibration data: the network "
                           "cannot be quantized", l);
    return BP_OK;
}

/* ----------------------------------------------------------------- scales */

/* Scale and zero point that map [lo, hi], widened to hold 0 (so that 0 is exact) and to
   at least 1e-3, onto -128..127. The floor matters for a layer whose outputs were all zero
   (or all equal) on the calibration data, a ReLU layer that never fired there: with a
   step of 1e-6 / 255, as it once was, the next layer's biases came to more than 2^30 of
   its sum's steps and the network could not be quantized; 1e-3 / 255 keeps them in range
   and still resolves whatever such a layer gives on other data. */
static void affine(double lo, double hi, float *scale, int32_t *zero)
{
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    if (hi - lo < 1e-3) hi = lo + 1e-3;
    double s = (hi - lo) / 255.0;
    double z = -128.0 - lo / s;
    z = z < -128 ? -128 : z > 127 ? 127 : z;
    *scale = (float)s;
    *zero = (int32_t)lround(z);
}

/* real = mult 2^-shift with mult in [2^30, 2^31) and shift 1..62 where real allows; 0 when
   real is not a positive number. The two ends are exact after the clamp to int8:
   - below 2^-31 (a unit whose weights decayed to almost nothing: weight decay leaves such
     dead ReLU units behind): shift 62 and a smaller mult, down to 0. Every sum an int8
     product can make (|sum| < 2^31) then rescales to sum x real rounded, off from the
     exact factor by at most 2^-63 x 2^31 = 2^-32: the zero point, as in exact arithmetic
     for any factor below 2^-32;
   - 2^30 and above (a tiny weight step into a layer whose output step is the 1e-3 / 255
     floor of affine, say): shift 1 and mult 2^31 - 1, a factor just under
     2^30. Every nonzero sum then lands at least 2^30 - 1 from zero, past int8's range, as
     it does with the exact factor, and the clamp gives the same -128 or 127; zero stays
     the zero point.
   The kernels and the exported C take any mult in [0, 2^31) (int8_kernel.h). */
static int fixed_point(double real, int32_t *mult, uint8_t *shift)
{
    if (!(real > 0) || !isfinite(real)) return 0;
    int e;
    double f = frexp(real, &e); /* real = f 2^e, f in [0.5, 1) */
    long long m = llround(f * 2147483648.0);
    if (m == 2147483648LL) {
        m /= 2;
        e++;
    }
    int s = 31 - e;
    if (s < 1) {
        s = 1;
        m = 2147483647LL;
    } else if (s > 62) {
        s = 62;
        m = llround(ldexp(real, 62)); /* real < 2^-31: m < 2^31 */
    }
    *mult = (int32_t)m;
    *shift = (uint8_t)s;
    return 1;
}

/* What one layer's rescaled sums mean: their scale and zero point (target), and the
   output a's. */
static void layer_scales(bp_qlayer *q, const range *ra, const range *rz, float *target, int32_t *target_zero)
{
    switch (q->g) {
    case BP_ACT_SIGMOID:
    case BP_ACT_TANH: {
        double clip = q->g == BP_ACT_SIGMOID ? 8.0 : 4.0; /* where the function saturates in int8 */
        double lo = rz->lo < -clip ? -clip : rz->lo, hi = rz->hi > clip ? clip : rz->hi;
        q->mode = BP_Q_TABLE;
        affine(lo, hi, &q->z_scale, target_zero);
        *target = q->z_scale;
        if (q->g == BP_ACT_SIGMOID) q->out_scale = 1.0f / 256, q->out_zero = -128;
        else q->out_scale = 1.0f / 128, q->out_zero = 0;
        break;
    }
    case BP_ACT_SOFTMAX:
        q->mode = BP_Q_SOFTMAX;
        affine(rz->lo, rz->hi, &q->z_scale, target_zero);
        *target = q->z_scale;
        q->out_scale = 1.0f / 256, q->out_zero = -128;
        break;
    default: /* identity, ReLU (range [0, max] onto all 256 values), leaky ReLU */
        q->mode = BP_Q_DIRECT;
        affine(q->g == BP_ACT_RELU ? 0.0 : ra->lo, ra->hi, &q->out_scale, &q->out_zero);
        *target = q->out_scale;
        *target_zero = q->out_zero;
        break;
    }
}

/* The tables: sigmoid or tanh of every quantized z, and exp for the softmax. */
static void layer_tables(bp_qlayer *q)
{
    for (int k = 0; k < 256; k++) {
        double z = (double)q->z_scale * (k - 128 - q->zero);
        if (q->mode == BP_Q_TABLE) {
            double a = q->g == BP_ACT_SIGMOID ? 1.0 / (1.0 + exp(-z)) : tanh(z);
            long v = lround(a / q->out_scale) + q->out_zero;
            q->table[k] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
        }
        if (q->mode == BP_Q_SOFTMAX) q->exp_table[k] = (uint16_t)lround(32768.0 * exp(-(double)q->z_scale * k));
    }
}

/* Allocations of one layer (freed by bp_qnet_free). */
static int layer_alloc(bp_qlayer *q, bp_i8_kernel kernel)
{
    size_t n = q->n_out;
    q->W = malloc(q->n_out * q->n_in);
    q->bias = malloc(n * sizeof(int32_t));
    q->bias_u8 = malloc(n * sizeof(int32_t));
    q->mult = malloc(n * sizeof(int32_t));
    q->shift = malloc(n);
    q->packed = bp_alloc_aligned(bp_i8_packed_bytes(kernel, q->n_out, q->n_in));
    if (q->g == BP_ACT_LEAKY_RELU) {
        q->mult_neg = malloc(n * sizeof(int32_t));
        q->shift_neg = malloc(n);
        if (!q->mult_neg || !q->shift_neg) return 0;
    }
    return q->W && q->bias && q->bias_u8 && q->mult && q->shift && q->packed;
}

/* Layer l's integers from its float W and b, its input scale and zero point, and the
   calibrated ranges. */
static bp_status quantize_layer(bp_qlayer *q, size_t l, const float *W, const float *b, float in_scale,
                                int32_t in_zero, const ranges *r, bp_error *err)
{
    float target;
    int32_t target_zero;
    layer_scales(q, &r->a[l], &r->z[l], &target, &target_zero);
    q->zero = target_zero;
    layer_tables(q);
    for (size_t i = 0; i < q->n_out; i++) {
        const float *row = W + i * q->n_in;
        double maxabs = 0;
        for (size_t j = 0; j < q->n_in; j++)
            if (fabs(row[j]) > maxabs) maxabs = fabs(row[j]);
        double w_scale = maxabs > 0 ? maxabs / 127.0 : 1.0 / 127.0;
        long long rowsum = 0;
        for (size_t j = 0; j < q->n_in; j++) {
            long v = lround(row[j] / w_scale);
            v = v < -127 ? -127 : v > 127 ? 127 : v;
            q->W[i * q->n_in + j] = (int8_t)v;
            rowsum += v;
        }
        double sum_scale = w_scale * in_scale; /* the real value of one unit of the int32 sum */
        double bq = b ? (double)b[i] / sum_scale : 0.0;
        if (fabs(bq) > Q_MAX_BIAS)
            return bp_fail(err, BP_ERR_UNSUPPORTED,
                           "layer %zu, unit %zu: the bias %g is %.3g times the unit's int8 step (w %g x input %g), "
                           "more than an int32 sum can hold beside its products",
                           l, i, b ? (double)b[i] : 0.0, fabs(bq), w_scale, (double)in_scale);
        q->bias[i] = (int32_t)(llround(bq) - (long long)in_zero * rowsum);
        q->bias_u8[i] = (int32_t)((long long)q->bias[i] - 128 * rowsum);
        if (!fixed_point(sum_scale / target, &q->mult[i], &q->shift[i]) ||
            (q->mult_neg && !fixed_point(0.01 * sum_scale / target, &q->mult_neg[i], &q->shift_neg[i])))
            return bp_fail(err, BP_ERR_UNSUPPORTED,
                           "layer %zu, unit %zu: its rescaling factor %g (weight step x input step / output step) "
                           "is not a positive number",
                           l, i, sum_scale / target);
    }
    return BP_OK;
}

/* Why an architecture cannot be quantized, or BP_OK. */
static bp_status check_shape(const bp_net *net, const bp_dataset *calibration, bp_error *err)
{
    size_t L = bp_net_layer_count(net);
    if (!calibration || bp_dataset_count(calibration) == 0)
        return bp_fail(err, BP_ERR_ARG, "quantizing needs calibration data: samples whose activation ranges set the "
                                        "int8 scales");
    if (bp_dataset_inputs(calibration) != bp_net_width(net, 0))
        return bp_fail(err, BP_ERR_ARG, "the calibration data has %zu inputs per sample, the network takes %zu",
                       bp_dataset_inputs(calibration), bp_net_width(net, 0));
    for (size_t l = 1; l <= L; l++)
        if (bp_net_width(net, l - 1) > Q_MAX_INPUTS)
            return bp_fail(err, BP_ERR_UNSUPPORTED,
                           "layer %zu has %zu inputs per unit: int8 products of more than %d inputs could overflow "
                           "the int32 sums", l, bp_net_width(net, l - 1), Q_MAX_INPUTS);
    if (bp_net_output_activation(net) == BP_ACT_SOFTMAX && bp_net_width(net, L) > Q_MAX_SOFTMAX)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "the softmax has %zu outputs; the integer softmax sums at most %d",
                       bp_net_width(net, L), Q_MAX_SOFTMAX);
    /* A parameter that is not a number would only show up later as NaN activations. */
    const float *p = bp_net_params_const(net);
    for (size_t l = 1; l <= L; l++) {
        size_t n = bp_net_width(net, l), k = bp_net_width(net, l - 1);
        for (size_t i = 0; i < n * k; i++)
            if (!isfinite(p[i]))
                return bp_fail(err, BP_ERR_NUMERIC, "layer %zu: W[%zu][%zu] is not a finite number", l, i / k, i % k);
        p += n * k;
        for (size_t i = 0; bp_net_has_bias(net) && i < n; i++)
            if (!isfinite(p[i])) return bp_fail(err, BP_ERR_NUMERIC, "layer %zu: b[%zu] is not a finite number", l, i);
        p += bp_net_has_bias(net) ? n : 0;
    }
    return BP_OK;
}

bp_status bp_qnet_create_with(const bp_net *net, const bp_dataset *calibration, bp_i8_kernel kernel, bp_qnet **out,
                              bp_error *err)
{
    if (out) *out = NULL;
    if (!net || !out) return bp_fail(err, BP_ERR_ARG, "no network or place for the quantized network given");
    if (!bp_i8_kernel_usable(kernel))
        return bp_fail(err, BP_ERR_UNSUPPORTED, "the %s int8 kernel does not run on this CPU", bp_i8_kernel_name(kernel));
    bp_status s = check_shape(net, calibration, err);
    if (s != BP_OK) return s;
    ranges *r = malloc(sizeof *r);
    bp_qnet *q = calloc(1, sizeof *q);
    if (!r || !q) {
        free(r);
        free(q);
        return bp_fail(err, BP_ERR_NOMEM, "out of memory quantizing the network");
    }
    if ((s = calibrate(net, calibration, r, err)) != BP_OK) goto fail;
    q->L = bp_net_layer_count(net);
    q->kernel = kernel;
    for (size_t l = 0; l <= q->L; l++) q->sizes[l] = bp_net_width(net, l);
    affine(r->in.lo, r->in.hi, &q->in_scale, &q->in_zero);
    q->in_inv_scale = 1.0f / q->in_scale;
    const float *params = bp_net_params_const(net);
    if (!params) {
        s = bp_fail(err, BP_ERR_ARG, "the network has no parameters");
        goto fail;
    }
    float in_scale = q->in_scale;
    int32_t in_zero = q->in_zero;
    size_t widest = 0;
    for (size_t l = 1; l <= q->L; l++) {
        bp_qlayer *layer = &q->layers[l - 1];
        layer->n_in = q->sizes[l - 1];
        layer->n_out = q->sizes[l];
        layer->g = l == q->L ? bp_net_output_activation(net) : bp_net_hidden_activation(net);
        if (!layer_alloc(layer, kernel)) {
            s = bp_fail(err, BP_ERR_NOMEM, "out of memory quantizing the network");
            goto fail;
        }
        const float *W = params, *b = bp_net_has_bias(net) ? W + layer->n_out * layer->n_in : NULL;
        params += layer->n_out * layer->n_in + (b ? layer->n_out : 0);
        if ((s = quantize_layer(layer, l, W, b, in_scale, in_zero, r, err)) != BP_OK) goto fail;
        bp_i8_pack(kernel, layer->W, layer->n_out, layer->n_in, layer->packed);
        in_scale = layer->out_scale;
        in_zero = layer->out_zero;
    }
    for (size_t l = 0; l <= q->L; l++) {
        size_t bytes = bp_i8_row_bytes(kernel, q->sizes[l]);
        if (bytes > widest) widest = bytes;
    }
    size_t scratch = 0;
    for (size_t l = 1; l <= q->L; l++) {
        size_t b = bp_i8_scratch_bytes(kernel, BP_Q_CHUNK, q->sizes[l - 1]);
        if (b > scratch) scratch = b;
    }
    q->row_bytes = widest;
    /* Two activation buffers and the scratch, zeroed so that row padding is defined. */
    size_t bytes = 2 * BP_Q_CHUNK * widest + (scratch + 63) / 64 * 64;
    if (!(q->work = bp_alloc_aligned(bytes))) {
        s = bp_fail(err, BP_ERR_NOMEM, "out of memory quantizing the network");
        goto fail;
    }
    memset(q->work, 0, bytes);
    free(r);
    *out = q;
    return BP_OK;
fail:
    free(r);
    bp_qnet_free(q);
    return s;
}

bp_status bp_qnet_create(const bp_net *net, const bp_dataset *calibration, bp_qnet **out, bp_error *err)
{
    return bp_qnet_create_with(net, calibration, bp_i8_kernel_best(), out, err);
}

void bp_qnet_free(bp_qnet *q)
{
    if (!q) return;
    for (size_t l = 0; l < BP_MAX_LAYERS; l++) {
        bp_qlayer *layer = &q->layers[l];
        free(layer->W);
        free(layer->bias);
        free(layer->bias_u8);
        free(layer->mult);
        free(layer->mult_neg);
        free(layer->shift);
        free(layer->shift_neg);
        bp_free_aligned(layer->packed);
    }
    bp_free_aligned(q->work);
    free(q);
}

/* ------------------------------------------------------------ forward pass */

void bp_q_softmax(const bp_qlayer *layer, const int8_t *q, int8_t *p, size_t n)
{
    /* q holds numbers, not characters: int8_t widens to its value. */
    int32_t max = q[0]; /* NOLINT(bugprone-signed-char-misuse) */
    for (size_t i = 1; i < n; i++)
        if (q[i] > max) max = q[i]; /* NOLINT(bugprone-signed-char-misuse) */
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += layer->exp_table[max - q[i]];
    for (size_t i = 0; i < n; i++) {
        uint32_t v = ((uint32_t)layer->exp_table[max - q[i]] * 256u + sum / 2) / sum;
        p[i] = (int8_t)(v > 255 ? 127 : (int32_t)v - 128);
    }
}

static bp_i8_requant layer_rule(const bp_qlayer *layer)
{
    bp_i8_requant rq = {layer->mult, layer->shift, layer->mult_neg, layer->shift_neg, layer->zero,
                        layer->mode == BP_Q_TABLE ? layer->table : NULL};
    return rq;
}

bp_status bp_qnet_forward(bp_qnet *q, const float *x, size_t m, float *out)
{
    if (!q || (m && (!x || !out))) return BP_ERR_ARG;
    size_t n0 = q->sizes[0], nL = q->sizes[q->L], rb = q->row_bytes, bytes;
    /* m x n floats past the address space: no caller's buffer can hold them, and the
       chunk pointers below would wrap. */
    if (bp_mul_overflows(m, n0 * sizeof(float), &bytes) || bp_mul_overflows(m, nL * sizeof(float), &bytes))
        return BP_ERR_NOMEM;
    int offset = q->kernel == BP_I8_VNNI ? 128 : 0; /* the kernel's encoding of q */
    uint8_t *buf[2] = {q->work, q->work + BP_Q_CHUNK * rb};
    void *scratch = q->work + 2 * BP_Q_CHUNK * rb;
    const bp_qlayer *last = &q->layers[q->L - 1];
    for (size_t start = 0; start < m; start += BP_Q_CHUNK) {
        size_t rows = m - start < BP_Q_CHUNK ? m - start : BP_Q_CHUNK;
        bp_i8_quantize(q->kernel, x + start * n0, n0, rows, n0, q->in_inv_scale, q->in_zero, buf[0], rb);
        /* While the first layer computes, the next chunk's inputs come into the cache
           (quantizing them otherwise waits on memory: a quarter of the time on W1). */
        size_t next = m - start - rows < BP_Q_CHUNK ? m - start - rows : BP_Q_CHUNK;
        const float *x_next = next ? x + (start + rows) * n0 : NULL;
        for (size_t l = 0; l < q->L; l++) {
            const bp_qlayer *layer = &q->layers[l];
            bp_i8_requant rq = layer_rule(layer);
            bp_i8_layer(q->kernel, buf[l % 2], rb, rows, layer->n_in, layer->packed,
                        offset ? layer->bias_u8 : layer->bias, layer->n_out, &rq, buf[(l + 1) % 2], rb, scratch,
                        l == 0 ? x_next : NULL, next * n0 * sizeof(float));
        }
        /* a^L: decoded from the kernel's encoding (in place), through the softmax into
           the spare buffer when there is one, and dequantized. */
        uint8_t *a = buf[q->L % 2];
        int8_t *spare = (int8_t *)buf[(q->L + 1) % 2];
        for (size_t s = 0; s < rows; s++) {
            int8_t *row = (int8_t *)(a + s * rb), *result = row;
            for (size_t k = 0; k < nL; k++) row[k] = (int8_t)((int)a[s * rb + k] - offset);
            if (last->mode == BP_Q_SOFTMAX) {
                result = spare + s * rb;
                bp_q_softmax(last, row, result, nL);
            }
            float *o = out + (start + s) * nL;
            for (size_t k = 0; k < nL; k++) o[k] = last->out_scale * (float)(result[k] - last->out_zero);
        }
    }
    return BP_OK;
}

bp_status bp_qnet_forward_reference(const bp_qnet *q, const int8_t *x, int8_t *out)
{
    size_t widest = 1;
    for (size_t l = 0; l <= q->L; l++)
        if (q->sizes[l] > widest) widest = q->sizes[l];
    int8_t *a = malloc(widest), *next = malloc(widest);
    if (!a || !next) {
        free(a);
        free(next);
        return BP_ERR_NOMEM;
    }
    memcpy(a, x, q->sizes[0]);
    for (size_t l = 0; l < q->L; l++) {
        const bp_qlayer *layer = &q->layers[l];
        bp_i8_requant rq = layer_rule(layer);
        bp_i8_layer_reference(a, layer->n_in, 1, layer->n_in, layer->W, layer->bias, layer->n_out, &rq, next,
                              layer->n_out);
        int8_t *t = a;
        a = next;
        next = t;
    }
    const bp_qlayer *last = &q->layers[q->L - 1];
    if (last->mode == BP_Q_SOFTMAX) bp_q_softmax(last, a, out, last->n_out);
    else memcpy(out, a, last->n_out);
    free(a);
    free(next);
    return BP_OK;
}
