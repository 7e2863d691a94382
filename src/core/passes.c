/*
 * passes.c - forward and backward passes of a whole network over a batch.
 *
 * Straight-line code: layer after layer forward, the loss and delta^L, then
 * layer after layer backward: the seeds' equations, each step one call to a
 * plain function in dense.c (the layer, through the GEMM; dense_reference.c has
 * the same in plain loops), activation.c or loss.c. The work space is sized by bp_net_reserve,
 * so after the first batch of a given size nothing here allocates.
 */
#include <math.h>
#include <string.h>

#include "activation.h"
#include "dense.h"
#include "loss.h"
#include "network.h"
#include "passes.h"
#include "rng.h"
#include "status.h"

/* ------------------------------------------------------------------ dropout */

/* Hidden layer l's mask for m samples: 0 for a dropped unit, 1 / (1 - p) for a kept one
   (inverted dropout). Sample s of step k draws from its own stream, seeded from the
   run's seed, k, l and s, one 24-bit uniform per unit: the mask of a sample depends on
   nothing else, so it is the same at every thread count and after a resume. */
static void draw_mask(const bp_net *net, size_t l, size_t m, const bp_dropout *drop, float *mask)
{
    const size_t n = net->sizes[l];
    if (drop->fixed) {
        memcpy(mask, drop->fixed + bp_dropout_mask_offset(net, l, m), m * n * sizeof(float));
        return;
    }
    const double keep = 1.0 - (double)net->dropout[l];
    const uint32_t threshold = (uint32_t)(keep * 16777216.0 + 0.5);
    const float scale = (float)(1.0 / keep);
    for (size_t s = 0; s < m; s++) {
        bp_rng rng;
        bp_rng_seed(&rng, drop->seed ^ (0x9E3779B97F4A7C15ull * (drop->step + 1)) ^
                              (0xD1B54A32D192ED03ull * (uint64_t)(l + 1)) ^ (0x8CB92BA72F3D8DD7ull * (uint64_t)(s + 1)));
        for (size_t j = 0; j < n; j += 2) {
            const uint64_t r = bp_rng_next(&rng);
            mask[s * n + j] = (uint32_t)(r >> 40) < threshold ? scale : 0.0f;
            if (j + 1 < n) mask[s * n + j + 1] = (uint32_t)((r >> 16) & 0xFFFFFF) < threshold ? scale : 0.0f;
        }
    }
}

/* a~^l = a^l (.) mask^l: what layer l + 1 reads while training with dropout. */
static void apply_dropout(bp_net *net, size_t l, size_t m, const bp_dropout *drop)
{
    bp_layer *layer = &net->layers[l];
    layer->out = layer->a;
    if (!drop || l == net->n_layers || net->dropout[l] <= 0) return;
    draw_mask(net, l, m, drop, layer->mask);
    const size_t count = m * layer->n_out;
    for (size_t i = 0; i < count; i++) layer->dropped[i] = layer->a[i] * layer->mask[i];
    layer->out = layer->dropped;
}

/* The masks a differentiating pass uses when the caller gave none: the fixed ones of
   bp_net_set_dropout_mask, which must be for this batch size. */
static bp_status fixed_dropout(const bp_net *net, size_t m, bp_dropout *drop, const bp_dropout **out)
{
    *out = NULL;
    if (!net || !net->fixed_mask) return BP_OK;
    if (m != net->fixed_m) return BP_ERR_ARG;
    drop->seed = drop->step = 0;
    drop->fixed = net->fixed_mask;
    *out = drop;
    return BP_OK;
}

/* ------------------------------------------------------------------ forward */

/* z = W a + b, a = g(z) layer by layer; with `drop`, the hidden layers' dropout. */
static bp_status forward(bp_net *net, const float *x, size_t m, const bp_dropout *drop)
{
    if (!net || !x || m == 0) return BP_ERR_ARG;
    bp_status s = bp_net_reserve(net, m);
    if (s != BP_OK) return s;
    const float *a_prev = x; /* a^0 = x */
    for (size_t l = 1; l <= net->n_layers; l++) {
        bp_layer *layer = &net->layers[l];
        bp_activation g = l == net->n_layers ? net->output : net->hidden;
        bp_dense_forward(layer->z, layer->a, a_prev, layer->W, layer->b, m, layer->n_in,
                         layer->n_out, g, &net->team);
        apply_dropout(net, l, m, drop);
        a_prev = layer->out;
    }
    net->batch = m;
    return BP_OK;
}

bp_status bp_net_forward(bp_net *net, const float *x, size_t m, float *out)
{
    bp_status s = forward(net, x, m, NULL);
    if (s != BP_OK) return s;
    if (out) {
        const bp_layer *top = &net->layers[net->n_layers];
        memcpy(out, top->a, m * top->n_out * sizeof(float));
    }
    return BP_OK;
}

bp_status bp_net_layer_activations(const bp_net *net, size_t l, const float **z, const float **a)
{
    if (!net || l < 1 || l > net->n_layers || net->batch == 0) return BP_ERR_ARG;
    /* Hidden layers keep only a^l (their z^l is overwritten by g in place). */
    if (z) *z = net->layers[l].z != net->layers[l].a || l == net->n_layers ? net->layers[l].z : NULL;
    if (a) *a = net->layers[l].a;
    return BP_OK;
}

static double reduce(double sum, size_t m, bp_reduction reduction)
{
    return reduction == BP_REDUCE_SUM ? sum : sum / (double)m;
}

bp_status bp_net_compute_loss(bp_net *net, const float *x, const float *y, size_t m,
                            bp_reduction reduction, double *loss)
{
    if (!y || !loss || !bp_reduction_valid(reduction)) return BP_ERR_ARG;
    bp_dropout fixed;
    const bp_dropout *drop;
    bp_status s = fixed_dropout(net, m, &fixed, &drop);
    if (s == BP_OK) s = forward(net, x, m, drop);
    if (s != BP_OK) return s;
    const bp_layer *top = &net->layers[net->n_layers];
    *loss = reduce(bp_loss_sum(net->loss, top->z, top->a, y, m, top->n_out), m, reduction);
    return isfinite(*loss) ? BP_OK : BP_ERR_NUMERIC;
}

/* How many pieces layer l's gradient is announced in (passes.h). */
static size_t pieces_of(const bp_layer *layer)
{
    size_t floats = layer->n_out * layer->n_in + (layer->b ? layer->n_out : 0);
    size_t k = floats / BP_GRADIENT_PIECE_MIN;
    k = k > BP_LAYER_PIECES ? BP_LAYER_PIECES : k;
    k = k > layer->n_out ? layer->n_out : k;
    return k > 0 ? k : 1;
}

/* Piece p of k of a layer's gradient: rows [r0, r1) of dW, and db with the last. */
static int announce_piece(const bp_gradient_hook *hook, const bp_layer *layer, size_t r0, size_t r1)
{
    float *lo = layer->grad_W + r0 * layer->n_in, *hi = layer->grad_W + r1 * layer->n_in;
    if (r1 == layer->n_out && layer->grad_b) hi = layer->grad_b + layer->n_out;
    return hook->ready(hook->context, lo, (size_t)(hi - lo));
}

/* dW^l and db^l piece by piece, bottom rows first, each announced once written. */
static int gradient_in_pieces(bp_net *net, bp_layer *layer, const float *delta, const float *a_prev, size_t m,
                              float scale, const bp_gradient_hook *hook)
{
    size_t k = pieces_of(layer), n_in = layer->n_in, n_out = layer->n_out;
    for (size_t p = k; p-- > 0;) {
        size_t r0 = n_out * p / k, r1 = n_out * (p + 1) / k;
        bp_dense_gradient_rows(layer->grad_W, p == k - 1 ? layer->grad_b : NULL, delta, a_prev, m, n_in, n_out,
                               r0, r1, scale, &net->team);
        if (announce_piece(hook, layer, r0, r1) != 0) return -1;
    }
    return 0;
}

bp_status bp_net_zero_gradient(bp_net *net, const bp_gradient_hook *hook)
{
    if (!net || (hook && !hook->ready)) return BP_ERR_ARG;
    memset(net->grads, 0, net->n_params * sizeof(float));
    for (size_t l = net->n_layers; hook && l >= 1; l--) {
        const bp_layer *layer = &net->layers[l];
        size_t k = pieces_of(layer);
        for (size_t p = k; p-- > 0;)
            if (announce_piece(hook, layer, layer->n_out * p / k, layer->n_out * (p + 1) / k) != 0) return BP_ERR_IO;
    }
    return BP_OK;
}

/* What a backward pass does besides computing the deltas. */
typedef struct {
    float scale;                  /* the gradient is scale times that of the summed loss */
    const bp_fused_step *step;    /* NULL, or the update applied in place of a gradient block */
    const bp_gradient_hook *hook; /* NULL, or told of each piece of the gradient once written */
    float *const *deltas;         /* NULL, or deltas[l] receives delta^l (m x n_l) */
    const bp_dropout *drop;       /* NULL, or where the dropout masks come from */
    const bp_layer_hook *after;   /* NULL, or told of each layer's finished gradient */
} backward_kind;

/* dW^l and db^l of one layer (or the update they make), as the kind asks. */
static int layer_gradient(bp_net *net, bp_layer *layer, const float *delta, const float *a_prev, size_t m,
                          const backward_kind *k)
{
    const bp_fused_step *step = k->step;
    if (k->hook) return gradient_in_pieces(net, layer, delta, a_prev, m, k->scale, k->hook);
    if (!step) {
        bp_dense_gradient(layer->grad_W, layer->grad_b, delta, a_prev, m, layer->n_in, layer->n_out, k->scale,
                          &net->team);
    } else if (step->velocity) {
        const size_t off = (size_t)(layer->W - net->params);
        float *vb = layer->b ? step->velocity + (size_t)(layer->b - net->params) : NULL;
        bp_dense_momentum_step(layer->W, layer->b, step->velocity + off, vb, delta, a_prev, m, layer->n_in,
                               layer->n_out, k->scale, step->lr, step->momentum, &net->team);
    } else {
        bp_dense_sgd_step(layer->W, layer->b, delta, a_prev, m, layer->n_in, layer->n_out, k->scale, step->lr,
                          step->weight_decay, &net->team);
    }
    return 0;
}

/* Forward and backward over a batch: the summed loss into *loss_sum, and the
   gradient, the update or the pieces as the kind says. A hook's nonzero answer
   stops the pass. */
static bp_status backward(bp_net *net, const float *x, const float *y, size_t m, double *loss_sum,
                          const backward_kind *k)
{
    if (!y) return BP_ERR_ARG;
    bp_status s = forward(net, x, m, k->drop);
    if (s != BP_OK) return s;
    size_t L = net->n_layers;
    const bp_layer *top = &net->layers[L];
    /* The loss, and delta^L = dC/dz^L per sample (a - y for the canonical pairs). */
    float *delta = net->delta, *delta_prev = net->delta_next;
    *loss_sum = bp_loss_sum_delta(net->loss, net->output, top->z, top->a, y, delta, m, top->n_out, 0);
    /* An update made layer by layer must never start from a NaN. */
    if (k->after && !isfinite(*loss_sum)) return BP_ERR_NUMERIC;

    for (size_t l = L; l >= 1; l--) {
        bp_layer *layer = &net->layers[l];
        /* a^(l-1) as layer l read it (dropped units zero), and as g produced it (for g'). */
        const float *a_prev = l > 1 ? net->layers[l - 1].out : x;
        const float *g_of = l > 1 ? net->layers[l - 1].a : x;
        if (k->deltas) memcpy(k->deltas[l], delta, m * layer->n_out * sizeof(float));
        /* delta^(l-1) = (W^l)^T delta^l (.) g'(z^(l-1)), before W^l changes; with dropout
           also (.) mask^(l-1), the derivative of a~ = a (.) mask. Layer 1 needs no
           delta^0: nobody differentiates with respect to the data. */
        if (l > 1) {
            bp_dense_backward_delta(delta_prev, delta, layer->W, g_of, net->hidden, m, layer->n_in,
                                    layer->n_out, &net->team);
            const bp_layer *below = &net->layers[l - 1];
            if (below->out != below->a)
                for (size_t i = 0; i < m * layer->n_in; i++) delta_prev[i] *= below->mask[i];
        }
        if (layer_gradient(net, layer, delta, a_prev, m, k) != 0) return BP_ERR_IO;
        if (k->after) {
            const size_t offset = (size_t)(layer->W - net->params);
            k->after->done(k->after->context, offset, layer->n_out * layer->n_in + (layer->b ? layer->n_out : 0));
        }
        if (l > 1) {
            float *t = delta;
            delta = delta_prev;
            delta_prev = t;
        }
    }
    return isfinite(*loss_sum) ? BP_OK : BP_ERR_NUMERIC;
}

/* backward with the gradient and the loss of the mean or the sum over the batch. */
static bp_status backward_reduced(bp_net *net, const float *x, const float *y, size_t m,
                                  bp_reduction reduction, double *loss, const bp_fused_step *step,
                                  float *const *deltas, const bp_dropout *drop, const bp_layer_hook *after)
{
    if (!net || m == 0 || !bp_reduction_valid(reduction)) return BP_ERR_ARG;
    double total = 0.0;
    bp_dropout fixed;
    bp_status s = BP_OK;
    if (!drop) s = fixed_dropout(net, m, &fixed, &drop);
    if (s != BP_OK) return s;
    const backward_kind k = {reduction == BP_REDUCE_SUM ? 1.0f : 1.0f / (float)m, step, NULL, deltas, drop, after};
    s = backward(net, x, y, m, &total, &k);
    if (s == BP_ERR_NUMERIC && !loss) return BP_OK; /* a non-finite loss is news only to who asked for it */
    if (loss && (s == BP_OK || s == BP_ERR_NUMERIC)) *loss = reduce(total, m, reduction);
    return s;
}

bp_status bp_net_backward(bp_net *net, const float *x, const float *y, size_t m,
                          bp_reduction reduction, double *loss)
{
    return backward_reduced(net, x, y, m, reduction, loss, NULL, NULL, NULL, NULL);
}

bp_status bp_net_backward_dropout(bp_net *net, const float *x, const float *y, size_t m, bp_reduction reduction,
                                  double *loss, const bp_fused_step *step, const bp_dropout *drop)
{
    return backward_reduced(net, x, y, m, reduction, loss, step, NULL, drop, NULL);
}

bp_status bp_net_backward_layerwise(bp_net *net, const float *x, const float *y, size_t m, bp_reduction reduction,
                                    double *loss, const bp_layer_hook *after, const bp_dropout *drop)
{
    if (!after || !after->done) return BP_ERR_ARG;
    return backward_reduced(net, x, y, m, reduction, loss, NULL, NULL, drop, after);
}

bp_status bp_net_backward_traced(bp_net *net, const float *x, const float *y, size_t m,
                                 bp_reduction reduction, double *loss, float *const *deltas)
{
    if (!deltas) return BP_ERR_ARG;
    return backward_reduced(net, x, y, m, reduction, loss, NULL, deltas, NULL, NULL);
}

bp_status bp_net_backward_scaled(bp_net *net, const float *x, const float *y, size_t m, float scale,
                                 double *loss_sum, const bp_gradient_hook *hook)
{
    if (!loss_sum || (hook && !hook->ready)) return BP_ERR_ARG;
    const backward_kind k = {scale, NULL, hook, NULL, NULL, NULL};
    return backward(net, x, y, m, loss_sum, &k);
}

bp_status bp_net_backward_step(bp_net *net, const float *x, const float *y, size_t m,
                               bp_reduction reduction, double *loss, const bp_fused_step *step)
{
    if (!step) return BP_ERR_ARG;
    return backward_reduced(net, x, y, m, reduction, loss, step, NULL, NULL, NULL);
}
