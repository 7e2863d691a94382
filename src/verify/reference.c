/*
 * reference.c - the slow, obviously correct gradient: explicit Jacobians in
 * double precision, multiplied along the chain rule one sample at a time.
 *
 * Arithmetic is in `real`, long double: at least double precision, and 80-bit
 * extended precision on x86, so the finite differences built on this loss
 * (gradcheck.c) lose almost nothing to rounding even when the gradient is a
 * thousand times smaller than the loss.
 *
 * This is verification path 2 of DESIGN.md, used only by tests and
 * `backprop gradcheck`. It shares no arithmetic with the fast path on purpose:
 * its own activations, its own loss and its own products. Derivatives are
 * kept in numerator layout (dC/dv is a row vector, dv/du an n_v x n_u matrix)
 * exactly as the chain rule reads:
 *
 *     dC/dz^L = dC/da^L . da^L/dz^L
 *     dC/dz^l = dC/dz^(l+1) . dz^(l+1)/da^l . da^l/dz^l      (dz^(l+1)/da^l = W^(l+1))
 *     dC/dW^l_ij = sum_k dC/dz^l_k . dz^l_k/dW^l_ij           (a 3-tensor, contracted)
 *
 * and only the final numbers are written into the gradient block in
 * denominator layout (the shape of W), ready to be compared with backprop.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/activation.h"
#include "core/network.h"
#include "core/status.h"
#include "reference.h"

typedef long double real;

/* ------------------------------------------------------- scalar functions */

static real act_value(bp_activation g, real z)
{
    switch (g) {
    case BP_ACT_IDENTITY: return z;
    case BP_ACT_SIGMOID: return 1.0L / (1.0L + expl(-z));
    case BP_ACT_TANH: return tanhl(z);
    case BP_ACT_RELU: return z > 0 ? z : 0.0;
    case BP_ACT_LEAKY_RELU: return z > 0 ? z : (real)BP_LEAKY_SLOPE * z;
    case BP_ACT_SOFTMAX: break; /* not element-wise: handled by the callers */
    }
    return z;
}

static real act_derivative(bp_activation g, real z)
{
    switch (g) {
    case BP_ACT_IDENTITY: return 1.0;
    case BP_ACT_SIGMOID: {
        real s = 1.0L / (1.0L + expl(-z));
        return s * (1.0 - s);
    }
    case BP_ACT_TANH: {
        real t = tanhl(z);
        return 1.0 - t * t;
    }
    case BP_ACT_RELU: return z > 0 ? 1.0 : 0.0;
    case BP_ACT_LEAKY_RELU: return z > 0 ? 1.0L : (real)BP_LEAKY_SLOPE;
    case BP_ACT_SOFTMAX: break;
    }
    return 1.0;
}

/* a = g(z) for a whole layer (softmax needs the whole vector). */
static void layer_activation(bp_activation g, const real *z, real *a, size_t n)
{
    if (g != BP_ACT_SOFTMAX) {
        for (size_t i = 0; i < n; i++) a[i] = act_value(g, z[i]);
        return;
    }
    real max = z[0], sum = 0.0L;
    for (size_t i = 1; i < n; i++) max = z[i] > max ? z[i] : max;
    for (size_t i = 0; i < n; i++) sum += expl(z[i] - max);
    for (size_t i = 0; i < n; i++) a[i] = expl(z[i] - max) / sum;
}

/* The Jacobian da/dz (n x n, row-major): diag(g'(z)) or, for softmax,
   da_i/dz_j = a_i ([i == j] - a_j). */
static void activation_jacobian(bp_activation g, const real *z, const real *a, real *J,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (g == BP_ACT_SOFTMAX)
                J[i * n + j] = a[i] * ((i == j ? 1.0L : 0.0L) - a[j]);
            else
                J[i * n + j] = i == j ? act_derivative(g, z[i]) : 0.0L;
        }
}

/* log(1 + e^x), computed without overflow. */
static real softplus(real x) { return (x > 0 ? x : 0.0L) + log1pl(expl(-fabsl(x))); }

/* The per-sample loss C(a^L, y); z^L is used for the logarithms of CE and BCE. */
static real sample_loss(bp_loss loss, const real *z, const real *a, const float *y, size_t n)
{
    real c = 0.0L;
    if (loss == BP_LOSS_MSE) {
        for (size_t i = 0; i < n; i++) c += 0.5L * (a[i] - y[i]) * (a[i] - y[i]);
    } else if (loss == BP_LOSS_CE) {
        /* log a_i = z_i - log sum_j e^(z_j) */
        real max = z[0], sum = 0.0L;
        for (size_t i = 1; i < n; i++) max = z[i] > max ? z[i] : max;
        for (size_t i = 0; i < n; i++) sum += expl(z[i] - max);
        for (size_t i = 0; i < n; i++) c -= y[i] * (z[i] - max - logl(sum));
    } else {
        /* log a = -softplus(-z), log(1 - a) = -softplus(z) */
        for (size_t i = 0; i < n; i++) c += y[i] * softplus(-z[i]) + (1.0L - y[i]) * softplus(z[i]);
    }
    return c;
}

/* dC/da^L as a row vector: differentiate C with respect to a, nothing cancelled. */
static void loss_gradient(bp_loss loss, const real *a, const float *y, real *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (loss == BP_LOSS_MSE)
            out[i] = a[i] - y[i];
        else if (loss == BP_LOSS_CE)
            out[i] = -y[i] / a[i];
        else
            out[i] = -y[i] / a[i] + (1.0L - y[i]) / (1.0L - a[i]);
    }
}

/* ------------------------------------------------------------ the network */

/* Per-sample forward state, with every layer's z and a kept. */
typedef struct {
    size_t L;
    const size_t *n;
    const real *params;
    size_t W_off[BP_MAX_LAYERS + 1], b_off[BP_MAX_LAYERS + 1];
    real *z[BP_MAX_LAYERS + 1], *a[BP_MAX_LAYERS + 1];
    const float *mask[BP_MAX_LAYERS + 1]; /* this sample's fixed dropout mask per hidden layer, or NULL */
    real *block;
} ref_net;

static bp_status ref_open(const bp_net *net, const real *params, ref_net *r)
{
    memset(r, 0, sizeof *r);
    r->L = net->n_layers;
    r->n = net->sizes;
    r->params = params;
    size_t off = 0, values = 0;
    for (size_t l = 1; l <= r->L; l++) {
        r->W_off[l] = off;
        off += r->n[l] * r->n[l - 1];
        r->b_off[l] = off;
        if (net->bias) off += r->n[l];
    }
    for (size_t l = 0; l <= r->L; l++) values += 2 * r->n[l];
    r->block = calloc(values, sizeof(real));
    if (!r->block) return BP_ERR_NOMEM;
    real *p = r->block;
    for (size_t l = 0; l <= r->L; l++) {
        r->z[l] = p;
        r->a[l] = p + r->n[l];
        p += 2 * r->n[l];
    }
    return BP_OK;
}

static real W_at(const ref_net *r, size_t l, size_t i, size_t j)
{
    return r->params[r->W_off[l] + i * r->n[l - 1] + j];
}

/* Sample s of a batch of m: z and a layer by layer. With fixed dropout masks
   (bp_net_set_dropout_mask), a hidden layer's a is a (.) mask, what the layer above
   reads, and the chain rule below multiplies by the mask too. */
static void ref_forward(const bp_net *net, ref_net *r, const float *x, size_t s, size_t m)
{
    for (size_t j = 0; j < r->n[0]; j++) r->a[0][j] = x[j];
    for (size_t l = 1; l <= r->L; l++) {
        for (size_t i = 0; i < r->n[l]; i++) {
            real z = net->bias ? r->params[r->b_off[l] + i] : 0.0L;
            for (size_t j = 0; j < r->n[l - 1]; j++) z += W_at(r, l, i, j) * r->a[l - 1][j];
            r->z[l][i] = z;
        }
        layer_activation(l == r->L ? net->output : net->hidden, r->z[l], r->a[l], r->n[l]);
        r->mask[l] = NULL;
        if (net->fixed_mask && l < r->L) {
            r->mask[l] = net->fixed_mask + bp_dropout_mask_offset(net, l, m) + s * r->n[l];
            for (size_t i = 0; i < r->n[l]; i++) r->a[l][i] *= r->mask[l][i];
        }
    }
}

/* The parameters in `real`: from the given doubles, or the net's own floats. */
static bp_status copy_params(const bp_net *net, const double *from, real **out)
{
    real *p = malloc(net->n_params * sizeof(real));
    if (!p) return BP_ERR_NOMEM;
    for (size_t i = 0; i < net->n_params; i++) p[i] = from ? (real)from[i] : (real)net->params[i];
    *out = p;
    return BP_OK;
}

bp_status bp_reference_loss_ext(const bp_net *net, const long double *params, const float *x,
                                const float *y, size_t m, bp_reduction reduction, long double *loss)
{
    if (!net || !params || !x || !y || !loss || m == 0 || !bp_reduction_valid(reduction)) return BP_ERR_ARG;
    if (net->fixed_mask && net->fixed_m != m) return BP_ERR_ARG;
    ref_net r;
    if (ref_open(net, params, &r) != BP_OK) return BP_ERR_NOMEM;
    size_t n0 = net->sizes[0], nL = net->sizes[net->n_layers];
    real total = 0.0L;
    for (size_t s = 0; s < m; s++) {
        ref_forward(net, &r, x + s * n0, s, m);
        total += sample_loss(net->loss, r.z[r.L], r.a[r.L], y + s * nL, nL);
    }
    *loss = reduction == BP_REDUCE_SUM ? total : total / (real)m;
    free(r.block);
    return BP_OK;
}

bp_status bp_reference_loss(const bp_net *net, const double *params, const float *x,
                            const float *y, size_t m, bp_reduction reduction, double *loss)
{
    if (!net || !loss) return BP_ERR_ARG;
    real *p = NULL, value = 0.0L;
    if (copy_params(net, params, &p) != BP_OK) return BP_ERR_NOMEM;
    bp_status s = bp_reference_loss_ext(net, p, x, y, m, reduction, &value);
    free(p);
    *loss = (double)value;
    return s;
}

/* dz^l_k / dW^l_ij: one entry of the 3-tensor. z_k = sum_j W_kj a_j + b_k depends
   on W_ij only when k == i, and then with slope a^(l-1)_j. */
static real dz_dW(const ref_net *r, size_t l, size_t k, size_t i, size_t j)
{
    return k == i ? r->a[l - 1][j] : 0.0L;
}

/* dz^l_k / db^l_i: the identity matrix. */
static real dz_db(size_t k, size_t i) { return k == i ? 1.0L : 0.0L; }

/* One layer of the chain rule, given row = dC/da^l of one sample: dC/dz^l through the
   activation's Jacobian, the layer's dC/dW^l and dC/db^l added to sum, and row turned
   into dC/da^(l-1) for the layer below. J and dCdz are scratch of the widest layer. */
static void chain_layer(const bp_net *net, const ref_net *r, size_t l, real *row, real *dCdz, real *J, real *sum)
{
    const size_t n = r->n[l], n_prev = r->n[l - 1];
    /* dC/dz^l = dC/da^l . da^l/dz^l  (row vector times Jacobian matrix) */
    activation_jacobian(l == net->n_layers ? net->output : net->hidden, r->z[l], r->a[l], J, n);
    /* With dropout, a~ = a (.) mask: da~/dz = diag(mask) diag(g'(z)). */
    for (size_t k = 0; r->mask[l] && k < n; k++)
        for (size_t j = 0; j < n; j++) J[k * n + j] *= r->mask[l][k];
    for (size_t j = 0; j < n; j++) {
        real v = 0.0L;
        for (size_t k = 0; k < n; k++) v += row[k] * J[k * n + j];
        dCdz[j] = v;
    }
    /* dC/dW^l_ij = sum_k dC/dz^l_k dz^l_k/dW^l_ij, stored in W's own shape. */
    real *gW = sum + r->W_off[l];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_prev; j++) {
            real v = 0.0L;
            for (size_t k = 0; k < n; k++) v += dCdz[k] * dz_dW(r, l, k, i, j);
            gW[i * n_prev + j] += v;
        }
    if (net->bias) {
        real *gb = sum + r->b_off[l];
        for (size_t i = 0; i < n; i++) {
            real v = 0.0L;
            for (size_t k = 0; k < n; k++) v += dCdz[k] * dz_db(k, i);
            gb[i] += v;
        }
    }
    /* dC/da^(l-1) = dC/dz^l . dz^l/da^(l-1), and dz^l/da^(l-1) is W^l itself. */
    if (l > 1)
        for (size_t j = 0; j < n_prev; j++) {
            real v = 0.0L;
            for (size_t k = 0; k < n; k++) v += dCdz[k] * W_at(r, l, k, j);
            row[j] = v;
        }
}

bp_status bp_reference_gradient(const bp_net *net, const float *x, const float *y, size_t m,
                                bp_reduction reduction, double *loss, double *grad)
{
    if (!net || !x || !y || !grad || m == 0 || !bp_reduction_valid(reduction)) return BP_ERR_ARG;
    if (net->fixed_mask && net->fixed_m != m) return BP_ERR_ARG;
    real *params = NULL;
    if (copy_params(net, NULL, &params) != BP_OK) return BP_ERR_NOMEM;
    ref_net r;
    size_t maxw = bp_net_max_width(net);
    real *J = malloc(maxw * maxw * sizeof(real));       /* da/dz of one layer */
    real *row = calloc(maxw, sizeof(real));             /* dC/da, a row vector */
    real *dCdz = malloc(maxw * sizeof(real));           /* dC/dz, a row vector */
    real *sum = calloc(net->n_params, sizeof(real));    /* the gradient, accumulated */
    if (!J || !row || !dCdz || !sum || ref_open(net, params, &r) != BP_OK) {
        free(J), free(row), free(dCdz), free(sum), free(params);
        return BP_ERR_NOMEM;
    }
    size_t n0 = net->sizes[0], L = net->n_layers, nL = net->sizes[L];
    real total = 0.0L;
    for (size_t s = 0; s < m; s++) {
        const float *ys = y + s * nL;
        ref_forward(net, &r, x + s * n0, s, m);
        total += sample_loss(net->loss, r.z[L], r.a[L], ys, nL);

        /* dC/da^L, the start of the chain. */
        loss_gradient(net->loss, r.a[L], ys, row, nL);
        for (size_t l = L; l >= 1; l--) chain_layer(net, &r, l, row, dCdz, J, sum);
    }
    real scale = reduction == BP_REDUCE_MEAN ? 1.0L / (real)m : 1.0L;
    for (size_t i = 0; i < net->n_params; i++) grad[i] = (double)(sum[i] * scale);
    if (loss) *loss = (double)(total * scale);
    free(J), free(row), free(dCdz), free(sum), free(r.block), free(params);
    return BP_OK;
}
