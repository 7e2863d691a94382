/*
 * small.c - per-sample gradient descent for tiny networks (seed 001's 2-3-2
 * and anything up to SMALL_WIDTH units per layer).
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
 * chain of dependent arithmetic and its speed is that chain's latency. Two
 * versions compute it:
 *
 *  - reference_epoch: plain loops over any widths up to SMALL_WIDTH and any
 *    depth; the fallback, and the obvious code to read the math from.
 *  - vector_epoch: depth 1 to 3 and widths up to 4. Every layer is padded to
 *    four lanes (GCC/clang vector extensions) and the weights stay in
 *    registers for the whole epoch, so a layer is a few vector multiply-adds
 *    and one vectorized sigmoid. Built twice: portable, and for AVX2 + FMA
 *    (picked at run time), where fused multiply-adds shorten the chain.
 *
 * Both compute what network.c + optimizer.c compute for batch size 1 (up to
 * rounding; tests/test_small.c compares them) and are used by the trainer only
 * when this path applies: batch 1, plain SGD, no clipping, no schedule, every
 * width small. The loss is computed as loss.c does, but off the chain.
 */
#include <math.h>
#include <string.h>

#include "fastmath.h"
#include "loss.h"
#include "net_internal.h"
#include "small.h"

int bp_small_applies(const bp_net *net)
{
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > SMALL_WIDTH) return 0;
    return 1;
}

/* ------------------------------------------------------ the reference version */

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

/* g'(z) from a = g(z), as activation.c computes it. */
static inline float derivative(bp_activation g, float a)
{
    switch (g) {
    case BP_ACT_IDENTITY: return 1.0f;
    case BP_ACT_SIGMOID: return a * (1.0f - a);
    case BP_ACT_TANH: return 1.0f - a * a;
    case BP_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    case BP_ACT_LEAKY_RELU: return a > 0.0f ? 1.0f : BP_LEAKY_SLOPE;
    case BP_ACT_SOFTMAX: break;
    }
    return 1.0f;
}

/* One sample: returns its loss. */
static double reference_step(bp_net *net, const float *x, const float *y, float lr, float keep)
{
    const size_t L = net->n_layers;
    float act[BP_MAX_LAYERS + 1][SMALL_WIDTH];
    float zL[SMALL_WIDTH] = {0}, delta[SMALL_WIDTH], prev[SMALL_WIDTH];
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

    /* The loss and delta^L: a - y for the canonical pairs, (a - y) (.) g'(z) for MSE. */
    const size_t nL = net->sizes[L];
    double loss = bp_loss_sum(net->loss, zL, a, y, 1, nL);
    for (size_t i = 0; i < nL; i++) delta[i] = a[i] - y[i];
    if (net->loss == BP_LOSS_MSE && net->output == BP_ACT_SOFTMAX) {
        float dot = 0.0f;
        for (size_t i = 0; i < nL; i++) dot += a[i] * delta[i];
        for (size_t i = 0; i < nL; i++) delta[i] = a[i] * (delta[i] - dot);
    } else if (net->loss == BP_LOSS_MSE) {
        for (size_t i = 0; i < nL; i++) delta[i] *= derivative(net->output, a[i]);
    } else if (net->loss == BP_LOSS_CE) {
        float ysum = 0.0f;
        for (size_t i = 0; i < nL; i++) ysum += y[i];
        for (size_t i = 0; i < nL; i++) delta[i] = ysum * a[i] - y[i];
    }

    for (size_t l = L; l >= 1; l--) {
        bp_layer *layer = &net->layers[l];
        const size_t n = layer->n_out, p = layer->n_in;
        const float *a_prev = l > 1 ? act[l - 1] : x;
        if (l > 1) {
            for (size_t j = 0; j < p; j++) prev[j] = 0.0f;
            for (size_t i = 0; i < n; i++) {
                const float *w = layer->W + i * p;
                for (size_t j = 0; j < p; j++) prev[j] += w[j] * delta[i];
            }
            for (size_t j = 0; j < p; j++) prev[j] *= derivative(net->hidden, a_prev[j]);
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
    return loss;
}

static double reference_epoch(bp_net *net, const float *x, const float *y, const size_t *order,
                              size_t n, float lr, float weight_decay)
{
    const size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
    const float keep = 1.0f - lr * weight_decay;
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k] : k;
        total += reference_step(net, x + i * n_in, y + i * n_out, lr, keep);
    }
    return total;
}

/* --------------------------------------------------------- the vector version */

#if BP_FAST_V4

#define VECTOR_WIDTH 4 /* lanes of a padded layer */
#define VECTOR_DEPTH 3 /* deepest network the vector version takes */
#define LOSS_BLOCK 32  /* samples whose loss is summed together, off the chain */

typedef bp_v4 v4;
typedef bp_v4i v4i;
#define V4(s) BP_V4(s)
#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Loops over layers and lanes run a known 1-4 times: unrolled, their vectors are
   registers rather than stack slots. */
#define UNROLL _Pragma("GCC unroll 4")

#if defined(__clang__)
#define SWAP_PAIRS(v) __builtin_shufflevector((v), (v), 1, 0, 3, 2)
#define SWAP_HALVES(v) __builtin_shufflevector((v), (v), 2, 3, 0, 1)
#else
#define SWAP_PAIRS(v) __builtin_shuffle((v), (v4i){1, 0, 3, 2})
#define SWAP_HALVES(v) __builtin_shuffle((v), (v4i){2, 3, 0, 1})
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

/* A layer padded to 4 x 4. W is kept twice, by columns for the forward pass
   (z = b + sum_j col_j a_j: broadcasts and multiply-adds) and by rows for the
   backward one (W^T delta = sum_i row_i delta_i); both copies get the same update
   with the same products, so they stay bitwise equal. The padded rows and
   columns are zero and stay zero: every update multiplies them by a lane that is
   masked to zero. */
typedef struct {
    v4 col[VECTOR_WIDTH];
    v4 row[VECTOR_WIDTH];
    v4 b;
} layer4;

static ALWAYS_INLINE v4 masked(v4 v, v4i mask) { return (v4)((v4i)v & mask); }

/* Every lane holds the sum (the maximum) of v's four lanes. */
static ALWAYS_INLINE v4 lane_sum(v4 v)
{
    v = v + SWAP_HALVES(v);
    return v + SWAP_PAIRS(v);
}

static ALWAYS_INLINE v4 lane_max(v4 v)
{
    v = bp_v4_at_least(v, SWAP_HALVES(v));
    return bp_v4_at_least(v, SWAP_PAIRS(v));
}

/* z = W a + b for one padded layer, as a tree: two short chains of multiply-adds
   instead of one long one. */
static ALWAYS_INLINE v4 affine(const layer4 *w, v4 a)
{
    return (w->b + w->col[0] * a[0] + w->col[1] * a[1]) + (w->col[2] * a[2] + w->col[3] * a[3]);
}

static ALWAYS_INLINE v4 activate4(bp_activation g, v4 z, int fused)
{
    switch (g) {
    case BP_ACT_IDENTITY: break;
    case BP_ACT_SIGMOID: return bp_fast_sigmoid4(z, fused);
    case BP_ACT_TANH: return V4(2.0f) * bp_fast_sigmoid4(V4(2.0f) * z, fused) - V4(1.0f);
    case BP_ACT_RELU: return masked(z, z > V4(0.0f));
    case BP_ACT_LEAKY_RELU: {
        v4i pos = z > V4(0.0f);
        return z * (v4)((pos & (v4i)V4(1.0f)) | (~pos & (v4i)V4(BP_LEAKY_SLOPE)));
    }
    case BP_ACT_SOFTMAX: break;
    }
    return z;
}

/* g'(z) from a = g(z), as activation.c computes it (a > 0 exactly when z > 0). */
static ALWAYS_INLINE v4 derivative4(bp_activation g, v4 a)
{
    switch (g) {
    case BP_ACT_IDENTITY: break;
    case BP_ACT_SIGMOID: return a - a * a;
    case BP_ACT_TANH: return V4(1.0f) - a * a;
    case BP_ACT_RELU: return masked(V4(1.0f), a > V4(0.0f));
    case BP_ACT_LEAKY_RELU: {
        v4i pos = a > V4(0.0f);
        return (v4)((pos & (v4i)V4(1.0f)) | (~pos & (v4i)V4(BP_LEAKY_SLOPE)));
    }
    case BP_ACT_SOFTMAX: break;
    }
    return V4(1.0f);
}

/* Softmax over the lanes in mask (the others come out 0), stabilized by the maximum. */
static ALWAYS_INLINE v4 softmax4(v4 z, v4i mask, int fused)
{
    v4 valid = (v4)((mask & (v4i)z) | (~mask & (v4i)V4(-3.0e38f)));
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
        for (size_t j = 0; j < src->n_in; j++) w.col[j][i] = w.row[i][j] = src->W[i * src->n_in + j];
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

/*
 * One epoch, with the depth L, the kinds and fused (the caller is compiled for FMA)
 * known when it is compiled (or, for the kinds, chosen by predictable branches).
 *
 * One more step shortens the chain: z^1 of the next sample x' is computed from the
 * weights before this sample's update, since with W' = k W - eta delta x^T and
 * b' = k b - eta delta (k = 1 - eta wd),
 *
 *     W' x' + b' = k (W x' + b) - eta delta (x . x' + 1)
 *
 * where W x' + b is worked out while this sample is still going forward, leaving
 * one multiply-add after delta^1 instead of the update and a matrix product.
 */
static ALWAYS_INLINE double vector_epoch(bp_net *net, const float *x, const float *y,
                                         const size_t *order, size_t n, float lr,
                                         float weight_decay, const size_t L,
                                         const bp_activation hidden, const top_kind top,
                                         const int fused)
{
    layer4 w[VECTOR_DEPTH];
    v4i mask[VECTOR_DEPTH + 1]; /* lanes below n_l */
    UNROLL for (size_t l = 0; l <= L; l++) mask[l] = lanes_below(net->sizes[l]);
    UNROLL for (size_t l = 0; l < L; l++) w[l] = load_layer(&net->layers[l + 1]);

    const size_t n_in = net->sizes[0], n_out = net->sizes[L];
    const v4 rate = V4(lr), keep = V4(1.0f - lr * weight_decay);
    const v4 bias = V4(net->bias ? 1.0f : 0.0f);
    const int mse = top < TOP_CE_SOFTMAX;

    double total = 0.0;
    /* CE and BCE need logarithms: the block's z^L, a^L and y wait here for loss.c. */
    v4 zb[LOSS_BLOCK], ab[LOSS_BLOCK], yb[LOSS_BLOCK];

    v4 x_cur = load_row(x + (order ? order[0] : 0) * n_in, n_in);
    v4 z1 = affine(&w[0], x_cur);
    for (size_t start = 0; start < n; start += LOSS_BLOCK) {
        const size_t end = n - start < LOSS_BLOCK ? n : start + LOSS_BLOCK;
        v4 squares = V4(0.0f); /* MSE: the block's sum of (a - y)^2, lane by lane */
        for (size_t k = start; k < end; k++) {
            /* Off the chain first: the next sample's input and W^1 x' + b^1. */
            v4 x_next = V4(0.0f), u = V4(0.0f);
            if (k + 1 < n) {
                x_next = load_row(x + (order ? order[k + 1] : k + 1) * n_in, n_in);
                u = affine(&w[0], x_next);
            }
            const v4 yv = load_row(y + (order ? order[k] : k) * n_out, n_out);

            /* Forward. a[0] = x; a[l] for hidden layers may be nonzero in padded
               lanes (sigmoid(0) = 1/2): the padded columns they meet are zero. */
            v4 a[VECTOR_DEPTH + 1], z = z1;
            a[0] = x_cur;
            UNROLL for (size_t l = 1; l < L; l++) {
                a[l] = activate4(hidden, z, fused);
                z = affine(&w[l], a[l]);
            }
            const v4 zL = z;
            v4 aL;
            switch (top) {
            case TOP_MSE_IDENTITY: aL = z; break;
            case TOP_MSE_SIGMOID:
            case TOP_BCE_SIGMOID: aL = bp_fast_sigmoid4(z, fused); break;
            case TOP_MSE_TANH: aL = activate4(BP_ACT_TANH, z, fused); break;
            case TOP_MSE_RELU: aL = activate4(BP_ACT_RELU, z, fused); break;
            case TOP_MSE_LEAKY_RELU: aL = activate4(BP_ACT_LEAKY_RELU, z, fused); break;
            default: aL = softmax4(z, mask[L], fused); break;
            }
            a[L] = aL;

            /* delta^L, and the loss off to the side. */
            v4 delta[VECTOR_DEPTH + 1];
            const v4 diff = aL - yv;
            switch (top) {
            case TOP_MSE_IDENTITY:
            case TOP_BCE_SIGMOID: delta[L] = diff; break;
            case TOP_MSE_SOFTMAX: delta[L] = aL * (diff - lane_sum(aL * diff)); break;
            case TOP_CE_SOFTMAX: delta[L] = lane_sum(yv) * aL - yv; break;
            case TOP_MSE_SIGMOID: delta[L] = diff * derivative4(BP_ACT_SIGMOID, aL); break;
            case TOP_MSE_TANH: delta[L] = diff * derivative4(BP_ACT_TANH, aL); break;
            case TOP_MSE_RELU: delta[L] = diff * derivative4(BP_ACT_RELU, aL); break;
            case TOP_MSE_LEAKY_RELU: delta[L] = diff * derivative4(BP_ACT_LEAKY_RELU, aL); break;
            }
            if (mse) {
                const v4 d = masked(diff, mask[L]);
                squares += d * d;
            } else {
                zb[k - start] = zL;
                ab[k - start] = aL;
                yb[k - start] = yv;
            }

            /* Backward with the old weights. The padded lanes of delta^L may be
               nonzero, but they meet only zero rows; those of the deltas below come
               out zero. g' multiplies the rows first, before delta^l is known. */
            UNROLL for (size_t l = L; l >= 2; l--) {
                const v4 g = derivative4(hidden, a[l - 1]), *row = w[l - 1].row;
                const v4 *d = &delta[l];
                delta[l - 1] = ((row[0] * g) * (*d)[0] + (row[1] * g) * (*d)[1]) +
                               ((row[2] * g) * (*d)[2] + (row[3] * g) * (*d)[3]);
            }

            /* The next sample's z^1 through the update (see above). For L = 1, delta^1
               is delta^L, whose padded lanes are masked off. */
            const v4 dot = lane_sum(x_cur * x_next) + bias;
            if (L == 1)
                z1 = keep * u - dot * masked(rate * delta[1], mask[1]);
            else
                z1 = keep * u - (dot * rate) * delta[1];

            /* The update, layer by layer: eta delta^l masked to the real outputs, a^(l-1)
               to the real inputs, so the padding stays zero. */
            UNROLL for (size_t l = 1; l <= L; l++) {
                layer4 *wl = &w[l - 1];
                const v4 step = masked(rate * delta[l], mask[l]);
                const v4 in = masked(a[l - 1], mask[l - 1]);
                UNROLL for (size_t j = 0; j < VECTOR_WIDTH; j++) wl->col[j] = keep * wl->col[j] - step * in[j];
                if (l > 1)
                    UNROLL for (size_t r = 0; r < VECTOR_WIDTH; r++) wl->row[r] = keep * wl->row[r] - in * step[r];
                wl->b = keep * wl->b - step * bias;
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
    UNROLL for (size_t l = 0; l < L; l++) store_layer(w[l], &net->layers[l + 1]);
    return total;
}

/* The depths, with the kinds as run-time values: the branches on them inside the
   loop go the same way every sample. */
#define VECTOR_DEPTHS(fused)                                                                    \
    switch (net->n_layers) {                                                                    \
    case 1: return vector_epoch(net, x, y, order, n, lr, weight_decay, 1, hidden, top, fused); \
    case 2: return vector_epoch(net, x, y, order, n, lr, weight_decay, 2, hidden, top, fused); \
    default: return vector_epoch(net, x, y, order, n, lr, weight_decay, 3, hidden, top, fused); \
    }

static double vector_epoch_portable(bp_net *net, const float *x, const float *y,
                                    const size_t *order, size_t n, float lr, float weight_decay,
                                    bp_activation hidden, top_kind top)
{
    VECTOR_DEPTHS(0)
}

#if (defined(__x86_64__) || defined(__i386__)) && BP_FAST_V4
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
    VECTOR_DEPTHS(1)
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

int bp_small_vector_applies(const bp_net *net)
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

double bp_small_sgd_epoch_with(bp_small_kernel kernel, bp_net *net, const float *x, const float *y,
                               const size_t *order, size_t n, float lr, float weight_decay)
{
    if (n == 0) return 0.0;
#if BP_FAST_V4
    if (kernel != BP_SMALL_REFERENCE && bp_small_vector_applies(net)) {
#if VECTOR_FMA
        /* Asked per call, so nothing global is written here (see gemm.c). */
        __builtin_cpu_init();
        if (kernel != BP_SMALL_VECTOR && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return vector_epoch_fma(net, x, y, order, n, lr, weight_decay, net->hidden, top_of(net));
#endif
        return vector_epoch_portable(net, x, y, order, n, lr, weight_decay, net->hidden, top_of(net));
    }
#else
    (void)kernel;
#endif
    return reference_epoch(net, x, y, order, n, lr, weight_decay);
}

double bp_small_sgd_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                          float lr, float weight_decay)
{
    return bp_small_sgd_epoch_with(BP_SMALL_AUTO, net, x, y, order, n, lr, weight_decay);
}
