/*
 * tiny_sgd.c - per-sample gradient descent for tiny networks (seed 001's 2-3-2
 * and anything up to BP_TINY_WIDTH units per layer).
 *
 * For a network this small the general path's costs are all overhead: GEMM
 * set-up, work-space bookkeeping, a gradient block written then read, libm
 * calls. Here one loop runs forward, loss, backward and the update for one
 * sample at a time, in the order the math reads:
 *
 *     z^l = W^l a^(l-1) + b^l,  a^l = g(z^l)                      (forward)
 *     delta^L = dC/dz^L                                            (loss)
 *     delta^(l-1) = (W^l)^T delta^l (.) g'(z^(l-1))  with the old W^l
 *     W^l <- (1 - eta wd) W^l - eta delta^l (a^(l-1))^T,  b^l likewise
 *
 * Each sample needs the weights the previous one left, so an epoch is one long
 * chain of dependent arithmetic and its speed is that chain's latency, not the
 * number of operations. Two versions compute it:
 *
 *  - plain_epoch: plain loops over any widths up to BP_TINY_WIDTH and any
 *    depth; the fallback, and the obvious code to read the math from.
 *  - vector_epoch: depth 1 to 3 and widths up to 4 (GCC and clang). Every layer
 *    is padded to four lanes with vector extensions and the weights stay in
 *    registers for the whole call, so a layer is a few multiply-adds and one
 *    four-lane sigmoid (fastmath.h). The next sample's first layer is computed
 *    through the update rather than after it (see vector_epoch). Built twice,
 *    portable and for AVX2 + FMA (picked at run time, where fused multiply-adds
 *    shorten the chain), and instantiated for seed 001's 2-3-2 sigmoid network
 *    with its exact widths and kinds, and for everything else with the kinds as
 *    run-time values.
 *
 * Both compute what passes.c + optimizer.c compute for batch size 1, up to
 * rounding and the fast exp: tests/test_layers.c checks them against the plain
 * dense layer of dense_reference.c, and tests/test_tiny_sgd.c against the
 * general path, on every kind and shape. g' is activation.h's bp_g_prime; g
 * uses the fast exponential (activate, activate4 below). plan.c picks this path
 * only where it is exact: batch 1, plain SGD, no clipping, no schedule, every
 * width small. The loss is summed as
 * loss.c sums it: MSE in the loop, CE and BCE (which need logarithms) by loss.c
 * itself for each block of samples, which for those losses costs about as much
 * as the training step.
 */
#include <math.h>
#include <string.h>

#include "activation.h"
#include "kernels/fastmath.h"
#include "loss.h"
#include "network.h"
#include "tiny_sgd.h"

int bp_tiny_sgd_applies(const bp_net *net)
{
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > BP_TINY_WIDTH) return 0;
    return 1;
}

/* ---------------------------------------------------------- the plain version */

/* bp_g with the fast exponential of fastmath.h (within a few ulp of libm's). */
static inline float activate(bp_activation g, float z)
{
    switch (g) {
    case BP_ACT_IDENTITY: return z;
    case BP_ACT_SIGMOID: return bp_fast_sigmoidf(z);
    case BP_ACT_TANH: return 2.0f * bp_fast_sigmoidf(2.0f * z) - 1.0f;
    case BP_ACT_RELU: return z > 0.0f ? z : 0.0f;
    case BP_ACT_LEAKY_RELU: return z > 0.0f ? z : BP_LEAKY_SLOPE * z;
    case BP_ACT_SOFTMAX: break;
    }
    return z;
}

/* The activations of every layer for one sample (act[l], the output's z in zL). */
static void plain_forward(const bp_net *net, const float *x, float act[][BP_TINY_WIDTH], float *zL)
{
    const size_t L = net->n_layers;
    const float *a = x;
    for (size_t l = 1; l <= L; l++) {
        const bp_layer *layer = &net->layers[l];
        const size_t n = layer->n_out, p = layer->n_in;
        const bp_activation g = l == L ? net->output : net->hidden;
        float *out = act[l];
        for (size_t i = 0; i < n; i++) {
            const float *w = layer->W + i * p;
            float z = layer->b ? layer->b[i] : 0.0f;
            for (size_t j = 0; j < p; j++) z += w[j] * a[j];
            if (l == L) zL[i] = z;
            out[i] = g == BP_ACT_SOFTMAX ? z : activate(g, z);
        }
        if (g == BP_ACT_SOFTMAX) {
            float max = out[0], sum = 0.0f;
            for (size_t i = 1; i < n; i++) max = out[i] > max ? out[i] : max;
            for (size_t i = 0; i < n; i++) sum += (out[i] = bp_fast_expf(out[i] - max));
            for (size_t i = 0; i < n; i++) out[i] /= sum;
        }
        a = out;
    }
}

/* delta^L from a = a^L and y: a - y for the canonical pairs, (a - y) (.) g'(z) for MSE. */
static void plain_output_delta(const bp_net *net, const float *a, const float *y, float *delta)
{
    const size_t nL = net->sizes[net->n_layers];
    for (size_t i = 0; i < nL; i++) delta[i] = a[i] - y[i];
    if (net->loss == BP_LOSS_MSE && net->output == BP_ACT_SOFTMAX) {
        float dot = 0.0f;
        for (size_t i = 0; i < nL; i++) dot += a[i] * delta[i];
        for (size_t i = 0; i < nL; i++) delta[i] = a[i] * (delta[i] - dot);
    } else if (net->loss == BP_LOSS_MSE) {
        for (size_t i = 0; i < nL; i++) delta[i] *= bp_g_prime(net->output, a[i]);
    } else if (net->loss == BP_LOSS_CE) {
        float ysum = 0.0f;
        for (size_t i = 0; i < nL; i++) ysum += y[i];
        for (size_t i = 0; i < nL; i++) delta[i] = ysum * a[i] - y[i];
    }
}

/* Backward from delta = delta^L, each layer's delta^(l-1) taken with its old W^l before
   W^l <- keep W^l - lr delta^l (a^(l-1))^T. */
static void plain_backward_update(bp_net *net, const float *x, float act[][BP_TINY_WIDTH], float *delta, float lr,
                                  float keep)
{
    float prev[BP_TINY_WIDTH] = {0};
    for (size_t l = net->n_layers; l >= 1; l--) {
        bp_layer *layer = &net->layers[l];
        const size_t n = layer->n_out, p = layer->n_in;
        const float *a_prev = l > 1 ? act[l - 1] : x;
        if (l > 1) {
            for (size_t j = 0; j < p; j++) prev[j] = 0.0f;
            for (size_t i = 0; i < n; i++) {
                const float *w = layer->W + i * p;
                for (size_t j = 0; j < p; j++) prev[j] += w[j] * delta[i];
            }
            for (size_t j = 0; j < p; j++) prev[j] *= bp_g_prime(net->hidden, a_prev[j]);
        }
        for (size_t i = 0; i < n; i++) {
            float *w = layer->W + i * p;
            const float step = lr * delta[i];
            for (size_t j = 0; j < p; j++) w[j] = keep * w[j] - step * a_prev[j];
            if (layer->b) layer->b[i] = keep * layer->b[i] - step;
        }
        if (l > 1)
            for (size_t j = 0; j < p; j++) delta[j] = prev[j];
    }
}

/* One sample: returns its loss. */
static double plain_step(bp_net *net, const float *x, const float *y, float lr, float keep)
{
    /* Zeroed so the analysers can see every read is of a written value (widths chain:
       layer l reads the n_(l-1) values layer l-1 wrote). */
    float act[BP_MAX_LAYERS + 1][BP_TINY_WIDTH] = {{0}};
    float zL[BP_TINY_WIDTH] = {0}, delta[BP_TINY_WIDTH] = {0};
    plain_forward(net, x, act, zL);
    const float *a = act[net->n_layers];
    const double loss = bp_loss_sum(net->loss, zL, a, y, 1, net->sizes[net->n_layers]);
    plain_output_delta(net, a, y, delta);
    plain_backward_update(net, x, act, delta, lr, keep);
    return loss;
}

static double plain_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n, float lr,
                          float weight_decay)
{
    const size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
    const float keep = 1.0f - lr * weight_decay;
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k] : k;
        total += plain_step(net, x + i * n_in, y + i * n_out, lr, keep);
    }
    return total;
}

/* --------------------------------------------------------- the vector version */

#if BP_FAST_V4

#define VECTOR_WIDTH 4 /* lanes of a padded layer */
#define VECTOR_DEPTH 3 /* deepest network the vector version takes */
#define LOSS_BLOCK 32  /* samples whose loss is summed together, off the chain */
#define PREFETCH_AHEAD 8 /* samples */

typedef bp_v4 v4;
typedef bp_v4i v4i;
#define V4(s) BP_V4(s)
#define ALWAYS_INLINE inline __attribute__((always_inline))
/* for (i = lo; i < hi; i++) over layers or lanes, hi <= max. Unrolled, the vectors
   such loops touch live in registers rather than on the stack; written with the
   constant bound max and a test inside, both compilers unroll them before the
   bound is known (it is a constant only once vector_epoch is inlined). */
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 4")
#endif
#define FOR_UNROLLED(i, lo, hi, max) UNROLL for (size_t i = (lo); i < (max); i++) if (i < (hi))

#if defined(__clang__)
#define SHUFFLE2(a, b, i, j, k, l) __builtin_shufflevector((a), (b), i, j, k, l)
#else
#define SHUFFLE2(a, b, i, j, k, l) __builtin_shuffle((a), (b), (v4i){i, j, k, l})
#endif

/* The output layer's (loss, activation) pair, which decides a^L and delta^L. */
typedef enum {
    TOP_MSE_IDENTITY,
    TOP_MSE_SIGMOID,
    TOP_MSE_TANH,
    TOP_MSE_RELU,
    TOP_MSE_LEAKY_RELU,
    TOP_MSE_SOFTMAX,
    TOP_CE_SOFTMAX,
    TOP_BCE_SIGMOID
} top_kind;

/* A layer padded to 4 x 4, kept by columns: col[j] holds the weights out of input j,
   one lane per output, so z = b + sum_j col[j] a_j is broadcasts and multiply-adds.
   The padded rows and columns are zero and stay zero: every update multiplies them
   by a lane masked to zero. */
typedef struct {
    v4 col[VECTOR_WIDTH];
    v4 b;
} layer4;

static ALWAYS_INLINE v4 masked(v4 v, v4i mask) { return (v4)((v4i)v & mask); }

/* Every lane holds the sum (the maximum) of v's four lanes. */
static ALWAYS_INLINE v4 lane_sum(v4 v)
{
    v = v + SHUFFLE2(v, v, 2, 3, 0, 1);
    return v + SHUFFLE2(v, v, 1, 0, 3, 2);
}

static ALWAYS_INLINE v4 lane_max(v4 v)
{
    v = bp_v4_at_least(v, SHUFFLE2(v, v, 2, 3, 0, 1));
    return bp_v4_at_least(v, SHUFFLE2(v, v, 1, 0, 3, 2));
}

/* base + sum_{j < n} col[j] a_j, as two short chains of multiply-adds (j = 0, 3 on
   base and j = 1, 2) added at the end: 10 cycles for n = 3 with FMA, not 12. */
static ALWAYS_INLINE v4 affine(v4 base, const v4 *col, v4 a, size_t n)
{
    v4 even = base + col[0] * a[0];
    if (n == 1) return even;
    v4 odd = col[1] * a[1];
    if (n > 2) odd = odd + col[2] * a[2];
    if (n > 3) even = even + col[3] * a[3];
    return even + odd;
}

/* The rows of a 4 x 4 block kept by columns (the backward pass needs W^T delta). */
static ALWAYS_INLINE void transpose(const v4 *col, v4 *row)
{
    v4 t0 = SHUFFLE2(col[0], col[1], 0, 4, 1, 5), t1 = SHUFFLE2(col[2], col[3], 0, 4, 1, 5);
    v4 t2 = SHUFFLE2(col[0], col[1], 2, 6, 3, 7), t3 = SHUFFLE2(col[2], col[3], 2, 6, 3, 7);
    row[0] = SHUFFLE2(t0, t1, 0, 1, 4, 5);
    row[1] = SHUFFLE2(t0, t1, 2, 3, 6, 7);
    row[2] = SHUFFLE2(t2, t3, 0, 1, 4, 5);
    row[3] = SHUFFLE2(t2, t3, 2, 3, 6, 7);
}

/* yes in the lanes where mask is set, no in the others. */
static ALWAYS_INLINE v4 lane_select(v4i mask, v4 yes, v4 no)
{
    return (v4)((mask & (v4i)yes) | (~mask & (v4i)no));
}

static ALWAYS_INLINE v4 activate4(bp_activation g, v4 z, int fused)
{
    switch (g) {
    case BP_ACT_IDENTITY: break;
    case BP_ACT_SIGMOID: return bp_fast_sigmoid4(z, fused);
    case BP_ACT_TANH: return V4(2.0f) * bp_fast_sigmoid4(V4(2.0f) * z, fused) - V4(1.0f);
    case BP_ACT_RELU: return masked(z, z > V4(0.0f));
    case BP_ACT_LEAKY_RELU: return z * lane_select(z > V4(0.0f), V4(1.0f), V4(BP_LEAKY_SLOPE));
    case BP_ACT_SOFTMAX: break;
    }
    return z;
}

/* base + sum_{j < n} (col[j] x_j) c_j, which is affine(base, col, x (.) c, n) for the
   sigmoid's a = x0 (.) newton: the products with x start 4 cycles before c is known. */
static ALWAYS_INLINE v4 affine_split(v4 base, const v4 *col, v4 x, v4 c, size_t n)
{
    v4 cx[VECTOR_WIDTH];
    FOR_UNROLLED(j, 0, n, VECTOR_WIDTH) cx[j] = col[j] * x[j];
    return affine(base, cx, c, n);
}

/* A hidden layer's a = g(z) as a product x (.) c (see bp_fast_sigmoid4_split); c = 1
   for the activations that need no reciprocal. */
static ALWAYS_INLINE void activate4_split(bp_activation g, v4 z, int fused, v4 *x, v4 *c)
{
    if (g == BP_ACT_SIGMOID) {
        bp_fast_sigmoid4_split(z, fused, x, c);
        return;
    }
    *x = activate4(g, z, fused);
    *c = V4(1.0f);
}

/* g'(z) from a = g(z), as activation.c computes it (a > 0 exactly when z > 0). */
static ALWAYS_INLINE v4 derivative4(bp_activation g, v4 a)
{
    switch (g) {
    case BP_ACT_IDENTITY: break;
    case BP_ACT_SIGMOID: return a - a * a;
    case BP_ACT_TANH: return V4(1.0f) - a * a;
    case BP_ACT_RELU: return masked(V4(1.0f), a > V4(0.0f));
    case BP_ACT_LEAKY_RELU: return lane_select(a > V4(0.0f), V4(1.0f), V4(BP_LEAKY_SLOPE));
    case BP_ACT_SOFTMAX: break;
    }
    return V4(1.0f);
}

/* Softmax over the lanes in mask (the others come out 0), stabilized by the maximum. */
static ALWAYS_INLINE v4 softmax4(v4 z, v4i mask, int fused)
{
    v4 valid = lane_select(mask, z, V4(-3.0e38f));
    v4 e = masked(bp_fast_exp4(valid - lane_max(valid), fused), mask);
    return e / lane_sum(e);
}

/* A row of w <= 4 floats as four lanes, the lanes past w zero. The row may end the
   data set, so exactly w floats are read (the branch goes the same way every time). */
static ALWAYS_INLINE v4 load_row(const float *p, size_t w)
{
    switch (w) {
    case 1: return (v4){p[0], 0.0f, 0.0f, 0.0f};
    case 2: return (v4){p[0], p[1], 0.0f, 0.0f};
    case 3: return (v4){p[0], p[1], p[2], 0.0f};
    default: return (v4){p[0], p[1], p[2], p[3]};
    }
}

/* The mask of lanes 0..n-1. */
static ALWAYS_INLINE v4i lanes_below(size_t n)
{
    return (v4i){0, 1, 2, 3} < (v4i){(int)n, (int)n, (int)n, (int)n};
}

/* Returned by value, so that the caller's copy never has its address taken and can
   live in registers. */
static layer4 load_layer(const bp_layer *src)
{
    layer4 w;
    memset(&w, 0, sizeof w);
    for (size_t i = 0; i < src->n_out; i++) {
        for (size_t j = 0; j < src->n_in; j++) w.col[j][i] = src->W[i * src->n_in + j];
        if (src->b) w.b[i] = src->b[i];
    }
    return w;
}

static void store_layer(layer4 w, bp_layer *dst)
{
    for (size_t i = 0; i < dst->n_out; i++) {
        for (size_t j = 0; j < dst->n_in; j++) dst->W[i * dst->n_in + j] = w.col[j][i];
        if (dst->b) dst->b[i] = w.b[i];
    }
}

/* a^L = g^L(z^L) for the output layer's kind. */
static ALWAYS_INLINE v4 top_activate4(top_kind top, v4 z, v4i mask, int fused)
{
    switch (top) {
    case TOP_MSE_IDENTITY: return z;
    case TOP_MSE_SIGMOID:
    case TOP_BCE_SIGMOID: return bp_fast_sigmoid4(z, fused);
    case TOP_MSE_TANH: return activate4(BP_ACT_TANH, z, fused);
    case TOP_MSE_RELU: return activate4(BP_ACT_RELU, z, fused);
    case TOP_MSE_LEAKY_RELU: return activate4(BP_ACT_LEAKY_RELU, z, fused);
    default: return softmax4(z, mask, fused);
    }
}

/* delta^L = dC/dz^L from a^L and y: a - y for the canonical pairs, the general form
   (a - y) through g' (or softmax's Jacobian) for MSE on the other outputs. */
static ALWAYS_INLINE v4 top_delta4(top_kind top, v4 aL, v4 yv)
{
    const v4 diff = aL - yv;
    switch (top) {
    case TOP_MSE_IDENTITY:
    case TOP_BCE_SIGMOID: return diff;
    case TOP_MSE_SOFTMAX: return aL * (diff - lane_sum(aL * diff));
    case TOP_CE_SOFTMAX: return lane_sum(yv) * aL - yv;
    case TOP_MSE_SIGMOID: return diff * derivative4(BP_ACT_SIGMOID, aL);
    case TOP_MSE_TANH: return diff * derivative4(BP_ACT_TANH, aL);
    case TOP_MSE_RELU: return diff * derivative4(BP_ACT_RELU, aL);
    case TOP_MSE_LEAKY_RELU: return diff * derivative4(BP_ACT_LEAKY_RELU, aL);
    }
    return diff;
}

/*
 * One epoch of per-sample SGD on a network of depth L <= 3. Every parameter after
 * L is a constant of the instantiation: n0..n3 are the lanes each layer uses (<= 4;
 * the widths themselves when exact, else upper bounds read from the net), hidden and
 * top the kinds (or run-time values), decay whether weight decay is on (without it
 * the multiplications by 1 - eta wd fold away), fused whether the caller is compiled
 * for FMA.
 *
 * The chain from one sample to the next is shortened in two places:
 *
 *  - z^1 of the next sample x' comes from the weights before this sample's update.
 *    With W' = k W - eta delta^1 x^T and b' = k b - eta delta^1 (k = 1 - eta wd),
 *
 *        W' x' + b' = k (W x' + b) - eta (x . x' + 1) delta^1
 *
 *    and k (W x' + b) is worked out while this sample is still going forward.
 *  - delta^1 = sum_i (row_i of W^2 (.) g'(a^1)) delta^2_i is folded into that:
 *    z^1' = k (W x' + b) + sum_i m_i delta^2_i with m_i = -eta (x . x' + 1) times
 *    those rows, known as soon as a^1 is.
 *
 * So after delta^2 come only two multiply-adds before the next sample's sigmoid.
 */
static ALWAYS_INLINE double vector_epoch(bp_net *net, const float *x, const float *y,
                                         const size_t *order, size_t n, float lr,
                                         float weight_decay, const size_t L, const size_t n0,
                                         const size_t n1, const size_t n2, const size_t n3,
                                         const int exact, const bp_activation hidden,
                                         const top_kind top, const int decay, const int fused)
{
    const size_t lanes[VECTOR_DEPTH + 1] = {n0, n1, n2, n3};
    layer4 w[VECTOR_DEPTH];
    v4i mask[VECTOR_DEPTH + 1]; /* the real lanes, below sizes[l] */
    FOR_UNROLLED(l, 0, L + 1, VECTOR_DEPTH + 1) mask[l] = lanes_below(exact ? lanes[l] : net->sizes[l]);
    FOR_UNROLLED(l, 0, L, VECTOR_DEPTH) w[l] = load_layer(&net->layers[l + 1]);

    const size_t n_in = exact ? n0 : net->sizes[0], n_out = exact ? lanes[L] : net->sizes[L];
    /* k = 1 - eta wd */
    const v4 rate = V4(lr), keep = V4(decay ? 1.0f - lr * weight_decay : 1.0f);
    const v4 bias = V4(net->bias ? 1.0f : 0.0f);
    const int mse = top < TOP_CE_SOFTMAX;

    double total = 0.0;
    /* CE and BCE need logarithms: the block's z^L, a^L and y wait here for loss.c. */
    v4 zb[LOSS_BLOCK], ab[LOSS_BLOCK], yb[LOSS_BLOCK];

    v4 x_cur = load_row(x + (order ? order[0] : 0) * n_in, n_in);
    v4 z1 = affine(w[0].b, w[0].col, x_cur, n0);
    for (size_t start = 0; start < n; start += LOSS_BLOCK) {
        const size_t end = n - start < LOSS_BLOCK ? n : start + LOSS_BLOCK;
        v4 squares = V4(0.0f); /* MSE: the block's sum of (a - y)^2, lane by lane */
        for (size_t k = start; k < end; k++) {
            /* Values are computed where they are used, which keeps them in registers;
               the processor runs what is off the chain early anyway. */
            const v4 yv = load_row(y + (order ? order[k] : k) * n_out, n_out);
            /* In shuffled order the rows are scattered over the data set: ask for them a
               few samples ahead, as the chain leaves no time to wait for memory. */
            if (order && k + PREFETCH_AHEAD < n) {
                __builtin_prefetch(x + order[k + PREFETCH_AHEAD] * n_in);
                __builtin_prefetch(y + order[k + PREFETCH_AHEAD] * n_out);
            }

            /* Forward. a[l] of a hidden layer may be nonzero in padded lanes
               (sigmoid(0) = 1/2): the padded columns they meet are zero. */
            v4 a[VECTOR_DEPTH + 1], z = z1;
            a[0] = x_cur;
            FOR_UNROLLED(l, 1, L, VECTOR_DEPTH) {
                v4 ax, ac;
                activate4_split(hidden, z, fused, &ax, &ac);
                a[l] = ax * ac;
                z = affine_split(w[l].b, w[l].col, ax, ac, lanes[l]);
            }
            const v4 zL = z, aL = top_activate4(top, z, mask[L], fused);
            a[L] = aL;

            /* delta^L, and the loss off to the side. */
            v4 delta[VECTOR_DEPTH + 1];
            const v4 diff = aL - yv;
            delta[L] = top_delta4(top, aL, yv);
            if (mse) {
                const v4 d = masked(diff, mask[L]);
                squares += d * d;
            } else {
                zb[k - start] = zL;
                ab[k - start] = aL;
                yb[k - start] = yv;
            }

            /* The next sample: its input, k (W^1 x' + b^1) from the decayed weights (the
               update starts from them too), and -eta (x . x' + 1), how delta^1 moves its
               z^1 (see above). */
            layer4 kept = w[0];
            FOR_UNROLLED(j, 0, n0, VECTOR_WIDTH) kept.col[j] = keep * w[0].col[j];
            kept.b = keep * w[0].b;
            v4 x_next = V4(0.0f), ku = V4(0.0f);
            if (k + 1 < n) {
                x_next = load_row(x + (order ? order[k + 1] : k + 1) * n_in, n_in);
                ku = affine(kept.b, kept.col, x_next, n0);
            }
            const v4 pull = -rate * (lane_sum(x_cur * x_next) + bias);

            /* Backward with the old weights: delta^(l-1) = sum_i rg_i delta^l_i, rg_i =
               row_i (.) g'(a^(l-1)) known before delta^l is. The padded lanes of delta^L
               may be nonzero, but they meet only zero rows; those of the deltas below
               come out zero. At l = 2 the next sample's z^1 comes along (see above). */
            FOR_UNROLLED(back, 0, L - 1, VECTOR_DEPTH - 1) {
                const size_t l = L - back; /* L, L - 1, ..., 2 */
                const v4 g = derivative4(hidden, a[l - 1]);
                v4 row[VECTOR_WIDTH], rg[VECTOR_WIDTH], m[VECTOR_WIDTH];
                transpose(w[l - 1].col, row);
                const v4 pull_g = pull * g;
                FOR_UNROLLED(i, 0, lanes[l], VECTOR_WIDTH) {
                    rg[i] = row[i] * g;
                    m[i] = row[i] * pull_g;
                }
                delta[l - 1] = affine(V4(0.0f), rg, delta[l], lanes[l]);
                if (l == 2) z1 = affine(ku, m, delta[2], lanes[2]);
            }
            if (L == 1) /* delta^1 is delta^L, whose padded lanes are masked off */
                z1 = ku + pull * masked(delta[1], mask[1]);

            /* The update, which must leave the padding zero: eta delta^l is masked to the
               real outputs (below the top layer its padded lanes are zero already), and
               a^(l-1) to the real inputs where a padded lane is read (x has zeros there). */
            FOR_UNROLLED(l, 1, L + 1, VECTOR_DEPTH + 1) {
                const v4 step = l == L ? masked(rate * delta[l], mask[l]) : rate * delta[l];
                const v4 in = l == 1 || exact ? a[l - 1] : masked(a[l - 1], mask[l - 1]);
                /* W <- k W - step in^T; layer 1's k W is the one made for the next sample. */
                const layer4 old = l == 1 ? kept : w[l - 1];
                const v4 k_l = l == 1 ? V4(1.0f) : keep;
                FOR_UNROLLED(j, 0, lanes[l - 1], VECTOR_WIDTH) w[l - 1].col[j] = k_l * old.col[j] - step * in[j];
                w[l - 1].b = k_l * old.b - step * bias;
            }
            x_cur = x_next;
        }
        if (mse) {
            total += 0.5 * (double)lane_sum(squares)[0];
        } else {
            for (size_t s = 0; s < end - start; s++)
                total += bp_loss_sum(net->loss, (const float *)&zb[s], (const float *)&ab[s],
                                     (const float *)&yb[s], 1, n_out);
        }
    }
    FOR_UNROLLED(l, 0, L, VECTOR_DEPTH) store_layer(w[l], &net->layers[l + 1]);
    return total;
}

/* The instantiations. Seed 001's 2-3-2 with sigmoids and MSE gets its own, with the
   lanes it uses; every other network of depth <= 3 and widths <= 4 runs padded to four
   lanes with the kinds as run-time values (the branches on them inside the loop go
   the same way every sample). */
#define VECTOR_EPOCHS(fused)                                                                   \
    if (net->n_layers == 2 && net->sizes[0] == 2 && net->sizes[1] == 3 && net->sizes[2] == 2 && \
        net->hidden == BP_ACT_SIGMOID && top == TOP_MSE_SIGMOID && weight_decay == 0)         \
        return vector_epoch(net, x, y, order, n, lr, weight_decay, 2, 2, 3, 2, 0, 1,          \
                            BP_ACT_SIGMOID, TOP_MSE_SIGMOID, 0, fused);                        \
    switch (net->n_layers) {                                                                   \
    case 1:                                                                                    \
        return vector_epoch(net, x, y, order, n, lr, weight_decay, 1, 4, 4, 0, 0, 0, hidden,   \
                            top, 1, fused);                                                    \
    case 2:                                                                                    \
        return vector_epoch(net, x, y, order, n, lr, weight_decay, 2, 4, 4, 4, 0, 0, hidden,   \
                            top, 1, fused);                                                    \
    default:                                                                                   \
        return vector_epoch(net, x, y, order, n, lr, weight_decay, 3, 4, 4, 4, 4, 0, hidden,   \
                            top, 1, fused);                                                    \
    }

static double vector_epoch_portable(bp_net *net, const float *x, const float *y,
                                    const size_t *order, size_t n, float lr, float weight_decay,
                                    bp_activation hidden, top_kind top)
{
    VECTOR_EPOCHS(0)
}

#if defined(__x86_64__) || defined(__i386__)
#define VECTOR_FMA 1
/* GCC contracts a * b + c into an FMA only when told to (-std=c11 turns it off);
   clang does within an expression by default. */
#if defined(__clang__)
#define TARGET_FMA __attribute__((target("avx2,fma")))
#else
#define TARGET_FMA __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#endif
TARGET_FMA static double vector_epoch_fma(bp_net *net, const float *x, const float *y,
                                          const size_t *order, size_t n, float lr,
                                          float weight_decay, bp_activation hidden, top_kind top)
{
    VECTOR_EPOCHS(1)
}
#else
#define VECTOR_FMA 0
#endif

static top_kind top_of(const bp_net *net)
{
    if (net->loss == BP_LOSS_CE) return TOP_CE_SOFTMAX;
    if (net->loss == BP_LOSS_BCE) return TOP_BCE_SIGMOID;
    switch (net->output) {
    case BP_ACT_SIGMOID: return TOP_MSE_SIGMOID;
    case BP_ACT_TANH: return TOP_MSE_TANH;
    case BP_ACT_RELU: return TOP_MSE_RELU;
    case BP_ACT_LEAKY_RELU: return TOP_MSE_LEAKY_RELU;
    case BP_ACT_SOFTMAX: return TOP_MSE_SOFTMAX;
    case BP_ACT_IDENTITY: break;
    }
    return TOP_MSE_IDENTITY;
}

#endif /* BP_FAST_V4 */

int bp_tiny_sgd_vector_applies(const bp_net *net)
{
#if BP_FAST_V4
    if (net->n_layers > VECTOR_DEPTH) return 0;
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > VECTOR_WIDTH) return 0;
    return 1;
#else
    (void)net;
    return 0;
#endif
}

double bp_tiny_sgd_epoch_with(bp_tiny_kernel kernel, bp_net *net, const float *x, const float *y,
                               const size_t *order, size_t n, float lr, float weight_decay)
{
    if (n == 0) return 0.0;
#if BP_FAST_V4
    if (kernel != BP_TINY_PLAIN && bp_tiny_sgd_vector_applies(net)) {
#if VECTOR_FMA
        /* Asked per call, so nothing global is written here (see gemm.c). */
        __builtin_cpu_init();
        if (kernel != BP_TINY_VECTOR && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return vector_epoch_fma(net, x, y, order, n, lr, weight_decay, net->hidden, top_of(net));
#endif
        return vector_epoch_portable(net, x, y, order, n, lr, weight_decay, net->hidden, top_of(net));
    }
#else
    (void)kernel;
#endif
    return plain_epoch(net, x, y, order, n, lr, weight_decay);
}

double bp_tiny_sgd_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                          float lr, float weight_decay)
{
    return bp_tiny_sgd_epoch_with(BP_TINY_AUTO, net, x, y, order, n, lr, weight_decay);
}
