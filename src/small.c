/*
 * small.c - per-sample gradient descent for tiny networks (seed 001's 2-3-2
 * and anything up to SMALL_WIDTH units per layer).
 *
 * For a network this small the general path's costs are all overhead: GEMM
 * set-up, work-space bookkeeping, a gradient block written then read, libm
 * calls. Here one function runs forward, loss, backward and the update for one
 * sample with every vector on the stack, in the order the math reads:
 *
 *     z^l = W^l a^(l-1) + b^l,  a^l = g(z^l)                      (forward)
 *     delta^L = dC/dz^L                                            (loss)
 *     delta^(l-1) = (W^l)^T delta^l (.) g'(z^(l-1))  with the old W^l
 *     W^l <- (1 - eta wd) W^l - eta delta^l (a^(l-1))^T,  b^l likewise
 *
 * It computes exactly what network.c + optimizer.c compute for batch size 1
 * (tests/test_small.c compares them) and is used by the trainer only when it
 * applies: batch 1, plain SGD, no clipping, no schedule, every width small.
 */
#include <math.h>

#include "fastmath.h"
#include "net_internal.h"
#include "small.h"

int bp_small_applies(const bp_net *net)
{
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] > SMALL_WIDTH) return 0;
    return 1;
}

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
static double sample_step(bp_net *net, const float *x, const float *y, float lr, float keep)
{
    const size_t L = net->n_layers;
    float act[BP_MAX_LAYERS + 1][SMALL_WIDTH];
    float zL[SMALL_WIDTH], delta[SMALL_WIDTH], prev[SMALL_WIDTH];
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
    double loss = 0.0;
    if (net->loss == BP_LOSS_MSE) {
        for (size_t i = 0; i < nL; i++) {
            float d = a[i] - y[i];
            loss += 0.5 * (double)d * d;
            delta[i] = d;
        }
        if (net->output == BP_ACT_SOFTMAX) {
            float dot = 0.0f;
            for (size_t i = 0; i < nL; i++) dot += a[i] * delta[i];
            for (size_t i = 0; i < nL; i++) delta[i] = a[i] * (delta[i] - dot);
        } else {
            for (size_t i = 0; i < nL; i++) delta[i] *= derivative(net->output, a[i]);
        }
    } else if (net->loss == BP_LOSS_CE) {
        size_t top = 0;
        float ysum = 0.0f, yz = 0.0f;
        for (size_t i = 0; i < nL; i++) {
            top = zL[i] > zL[top] ? i : top;
            ysum += y[i];
            yz += y[i] * zL[i];
        }
        loss = (double)ysum * ((double)zL[top] - log((double)a[top])) - yz;
        for (size_t i = 0; i < nL; i++) delta[i] = ysum * a[i] - y[i];
    } else {
        for (size_t i = 0; i < nL; i++) {
            double z = zL[i];
            loss += (z > 0 ? z : 0.0) + log1p(exp(-fabs(z))) - (double)y[i] * z;
            delta[i] = a[i] - y[i];
        }
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

double bp_small_sgd_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                          float lr, float weight_decay, size_t first)
{
    const size_t n_in = net->sizes[0], n_out = net->sizes[net->n_layers];
    const float keep = 1.0f - lr * weight_decay;
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k] : first + k;
        total += sample_step(net, x + i * n_in, y + i * n_out, lr, keep);
    }
    return total;
}
