/*
 * explain.c - the seeds' equations for one network, with their shapes, and
 * with a sample, every number of one forward and backward pass on it
 * (bp_net_explain): the one explanation the command line, the Python package
 * and the playground page all show.
 *
 * The numbers are the engine's: the forward and backward pass of passes.c on a
 * batch of one, its deltas traced as they are computed. Only z^l of hidden
 * layers, which the engine never keeps (they compute a^l in place), is
 * recomputed from W^l, a^(l-1) and b^l.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "number.h"
#include "core/network.h"
#include "core/passes.h"
#include "core/status.h"

/* ------------------------------------------------------------ the equations */

static const char *gname(bp_activation g) { return bp_activation_name(g); }

/* Whether delta^L is simply a^L - y: g' cancels against the loss. */
static int canonical(const bp_net *net)
{
    return (net->loss == BP_LOSS_MSE && net->output == BP_ACT_IDENTITY) ||
           (net->loss == BP_LOSS_CE && net->output == BP_ACT_SOFTMAX) ||
           (net->loss == BP_LOSS_BCE && net->output == BP_ACT_SIGMOID);
}

static void forward_equations(bp_buffer *b, const bp_net *net)
{
    const size_t L = net->n_layers, *n = net->sizes;
    char s1[64], s2[64], s3[64];
    bp_buffer_printf(b, "Forward pass, one sample (column vectors; a^0 = x is %zu x 1)\n", n[0]);
    for (size_t l = 1; l <= L; l++) {
        snprintf(s1, sizeof s1, "[%zu x 1]", n[l]);
        snprintf(s2, sizeof s2, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s3, sizeof s3, "[%zu x 1]", n[l - 1]);
        if (net->bias)
            bp_buffer_printf(b, "  z^%zu = W^%zu a^%zu + b^%zu          %s = %s %s + %s\n", l, l, l - 1, l, s1, s2, s3,
                             s1);
        else
            bp_buffer_printf(b, "  z^%zu = W^%zu a^%zu                %s = %s %s\n", l, l, l - 1, s1, s2, s3);
        const char *g = gname(l == L ? net->output : net->hidden);
        bp_buffer_printf(b, "  a^%zu = %s(z^%zu)%*s%s\n", l, g, l, (int)(24 - strlen(g)), "", s1);
    }
    if (net->loss == BP_LOSS_MSE) bp_buffer_printf(b, "  C   = 1/2 ||a^%zu - y||^2                  scalar\n", L);
    else if (net->loss == BP_LOSS_CE) bp_buffer_printf(b, "  C   = -sum_i y_i log a^%zu_i                scalar\n", L);
    else bp_buffer_printf(b, "  C   = -sum_i [y_i log a^%zu_i + (1 - y_i) log(1 - a^%zu_i)]   scalar\n", L, L);
    bp_buffer_printf(b, "  (bp_dense_forward in src/core/dense.c, bp_activation_forward in\n"
                        "   src/core/activation.c, bp_loss_sum in src/core/loss.c)\n\n");
}

/* Inverted dropout on the hidden layers that have it: what changes while training. */
static void dropout_equations(bp_buffer *b, const bp_net *net)
{
    if (!net->has_dropout) return;
    bp_buffer_printf(b, "Dropout, while training only (inverted: nothing changes at inference)\n");
    for (size_t l = 1; l < net->n_layers; l++) {
        if (net->dropout[l] <= 0) continue;
        char s1[64];
        snprintf(s1, sizeof s1, "[%zu x 1]", net->sizes[l]);
        bp_buffer_printf(b, "  a~^%zu = a^%zu (.) r^%zu / (1 - %g),  r^%zu_j ~ Bernoulli(%g)   %s\n", l, l, l,
                         (double)net->dropout[l], l, 1.0 - (double)net->dropout[l], s1);
        char bterm[32] = "";
        if (net->bias) snprintf(bterm, sizeof bterm, " + b^%zu", l + 1);
        bp_buffer_printf(b, "  z^%zu = W^%zu a~^%zu%s  and  delta^%zu = (W^%zu)^T delta^%zu (.) r^%zu / (1 - %g) (.) %s'(z^%zu)\n",
                         l + 1, l + 1, l, bterm, l, l + 1, l + 1, l, (double)net->dropout[l], gname(net->hidden), l);
    }
    bp_buffer_printf(b, "  (masks from the run's seed and step: draw_mask and apply_dropout in src/core/passes.c;\n"
                        "   a sample's numbers below are those of inference, without dropout)\n\n");
}

static void output_delta_equation(bp_buffer *b, const bp_net *net)
{
    const size_t L = net->n_layers;
    char s1[64];
    snprintf(s1, sizeof s1, "[%zu x 1]", net->sizes[L]);
    const char *g = gname(net->output);
    if (canonical(net))
        bp_buffer_printf(b, "  delta^%zu = a^%zu - y%*s%s   (%s + %s: g' cancels against the loss)\n", L, L, 22, "", s1,
                         g, bp_loss_name(net->loss));
    else if (net->output == BP_ACT_SOFTMAX)
        bp_buffer_printf(b, "  delta^%zu = J_softmax^T (a^%zu - y),  J = diag(a) - a a^T   %s\n", L, L, s1);
    else
        bp_buffer_printf(b, "  delta^%zu = (a^%zu - y) (.) %s'(z^%zu)%*s%s   (general case: grad_a C (.) g'(z))\n", L, L,
                         g, L, (int)(14 - strlen(g)), "", s1);
    bp_buffer_printf(b, "  (bp_loss_delta in src/core/loss.c)\n");
}

static void backward_equations(bp_buffer *b, const bp_net *net)
{
    const size_t L = net->n_layers, *n = net->sizes;
    char s1[64], s2[64], s3[64], s4[64];
    bp_buffer_printf(b, "Backward pass, one sample (denominator layout: each gradient has the shape of\n"
                        "what it differentiates)\n");
    output_delta_equation(b, net);
    for (size_t l = L; l >= 1; l--) {
        snprintf(s1, sizeof s1, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s2, sizeof s2, "[%zu x 1]", n[l]);
        snprintf(s3, sizeof s3, "[1 x %zu]", n[l - 1]);
        bp_buffer_printf(b, "  dC/dW^%zu = delta^%zu (a^%zu)^T              %s = %s %s\n", l, l, l - 1, s1, s2, s3);
        if (net->bias) bp_buffer_printf(b, "  dC/db^%zu = delta^%zu                       %s\n", l, l, s2);
        if (l > 1) {
            snprintf(s3, sizeof s3, "[%zu x 1]", n[l - 1]);
            snprintf(s4, sizeof s4, "[%zu x %zu]", n[l - 1], n[l]);
            bp_buffer_printf(b, "  delta^%zu = (W^%zu)^T delta^%zu (.) %s'(z^%zu)   %s = %s %s (.) %s\n", l - 1, l, l,
                             gname(net->hidden), l - 1, s3, s4, s2, s3);
        }
    }
    bp_buffer_printf(b, "  (bp_dense_gradient and bp_dense_backward_delta in src/core/dense.c; the (.) g'\n"
                        "   is applied as the product is written, in bp_gemm_ex's epilogue, src/kernels/gemm.c)\n\n");
}

static void minibatch_equations(bp_buffer *b, const bp_net *net, const char *m)
{
    const size_t L = net->n_layers, *n = net->sizes;
    char s1[64], s2[64], s3[64];
    bp_buffer_printf(b, "Mini-batch of %s samples as columns (A^0 = X is %zu x %s)\n", m, n[0], m);
    for (size_t l = 1; l <= L; l++) {
        snprintf(s1, sizeof s1, "[%zu x %s]", n[l], m);
        snprintf(s2, sizeof s2, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s3, sizeof s3, "[%zu x %s]", n[l - 1], m);
        char bterm[48] = "";
        if (net->bias) snprintf(bterm, sizeof bterm, " + b^%zu 1^T", l);
        bp_buffer_printf(b, "  Z^%zu = W^%zu A^%zu%s   %s = %s %s%s\n", l, l, l - 1, bterm, s1, s2, s3,
                         net->bias ? " + broadcast b" : "");
    }
    bp_buffer_printf(b, "  Delta^%zu = A^%zu - Y%s    [%zu x %s]\n", L, L, canonical(net) ? "" : " through g'(Z) as above",
                     n[L], m);
    for (size_t l = L; l >= 1; l--) {
        snprintf(s1, sizeof s1, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s2, sizeof s2, "[%zu x %s]", n[l], m);
        snprintf(s3, sizeof s3, "[%s x %zu]", m, n[l - 1]);
        bp_buffer_printf(b, "  dC/dW^%zu = (1/m) Delta^%zu (A^%zu)^T        %s = %s %s\n", l, l, l - 1, s1, s2, s3);
        if (net->bias) bp_buffer_printf(b, "  dC/db^%zu = (1/m) Delta^%zu 1  (row means)  [%zu x 1]\n", l, l, n[l]);
        if (l > 1)
            bp_buffer_printf(b, "  Delta^%zu = (W^%zu)^T Delta^%zu (.) %s'(Z^%zu)  [%zu x %s]\n", l - 1, l, l,
                             gname(net->hidden), l - 1, n[l - 1], m);
    }
    bp_buffer_printf(b, "  (--reduction sum drops the 1/m, as in seed 003)\n\n");
}

/* The whole page of equations, as `backprop explain` prints it. */
static void equations(bp_buffer *b, const bp_net *net, size_t batch)
{
    char m[32] = "m";
    if (batch) snprintf(m, sizeof m, "%zu", batch);
    bp_buffer_printf(b, "Network ");
    for (size_t l = 0; l <= net->n_layers; l++) bp_buffer_printf(b, "%s%zu", l ? "-" : "", net->sizes[l]);
    bp_buffer_printf(b, ": hidden %s, output %s, loss %s, %s", gname(net->hidden), gname(net->output),
                     bp_loss_name(net->loss), net->bias ? "with biases" : "no biases (z = W a)");
    for (size_t l = 1; net->has_dropout && l < net->n_layers; l++)
        bp_buffer_printf(b, "%s%g", l == 1 ? ", dropout " : ",", (double)net->dropout[l]);
    bp_buffer_printf(b, "\n\n");
    forward_equations(b, net);
    dropout_equations(b, net);
    backward_equations(b, net);
    minibatch_equations(b, net, m);
    bp_buffer_printf(b, "Gradient descent step, every layer l\n"
                        "  W^l <- W^l - eta dC/dW^l,   b^l <- b^l - eta dC/db^l   (bp_sgd_update in src/core/optimizer.c)\n");
}

/* -------------------------------------------------------------- the numbers */

/* One sample's numbers, layer by layer (index 1..L), as the engine computed them.
   Every array is one block owned by `block`. */
typedef struct {
    const float *x, *y;
    double loss;
    float *z[BP_MAX_LAYERS + 1], *delta[BP_MAX_LAYERS + 1];
    float *W_next[BP_MAX_LAYERS + 1], *b_next[BP_MAX_LAYERS + 1];
    float *block;
} sample_numbers;

/* Floats the sample's arrays need: z and delta of every layer, and with a step, the
   parameters after it. */
static size_t numbers_size(const bp_net *net, int step)
{
    size_t floats = 2 * (net->n_params + 1);
    for (size_t l = 1; l <= net->n_layers; l++) floats += 2 * net->sizes[l];
    return step ? floats : floats - 2 * (net->n_params + 1);
}

/* Forward and backward on x, y (a batch of one, the mean), the deltas traced; z of the
   hidden layers recomputed; with lr > 0, W and b after one step of gradient descent. */
static bp_status compute_numbers(bp_net *net, const float *x, const float *y, double lr, sample_numbers *s)
{
    memset(s, 0, sizeof *s);
    s->x = x;
    s->y = y;
    float *p = s->block = malloc((numbers_size(net, lr > 0) + 1) * sizeof(float)); /* + 1: never malloc(0) */
    if (!p) return BP_ERR_NOMEM;
    for (size_t l = 1; l <= net->n_layers; l++) {
        s->z[l] = p, p += net->sizes[l];
        s->delta[l] = p, p += net->sizes[l];
    }
    bp_status st = bp_net_backward_traced(net, x, y, 1, BP_REDUCE_MEAN, &s->loss, s->delta);
    if (st != BP_OK && st != BP_ERR_NUMERIC) return st;
    for (size_t l = 1; l <= net->n_layers; l++) {
        const bp_layer *layer = &net->layers[l];
        const float *a_prev = l > 1 ? net->layers[l - 1].a : x;
        for (size_t i = 0; i < layer->n_out; i++) {
            double v = layer->b ? layer->b[i] : 0.0;
            for (size_t j = 0; j < layer->n_in; j++) v += (double)layer->W[i * layer->n_in + j] * a_prev[j];
            s->z[l][i] = l == net->n_layers ? layer->z[i] : (float)v;
        }
        if (lr <= 0) continue;
        const size_t nw = layer->n_in * layer->n_out;
        s->W_next[l] = p, p += nw;
        for (size_t i = 0; i < nw; i++) s->W_next[l][i] = layer->W[i] - (float)lr * layer->grad_W[i];
        if (!layer->b) continue;
        s->b_next[l] = p, p += layer->n_out;
        for (size_t i = 0; i < layer->n_out; i++) s->b_next[l][i] = layer->b[i] - (float)lr * layer->grad_b[i];
    }
    return BP_OK;
}

/* A NaN's sign bit means nothing, but printf shows it ("-nan"): every NaN reads "nan". */
static double unsigned_nan(double v) { return isnan(v) ? fabs(v) : v; }

static void text_matrix(bp_buffer *b, const char *name, const float *v, size_t rows, size_t cols)
{
    bp_buffer_printf(b, "  %s  [%zu x %zu]\n", name, rows, cols);
    for (size_t r = 0; r < rows; r++) {
        bp_buffer_printf(b, "    ");
        for (size_t c = 0; c < cols; c++) bp_buffer_printf(b, "%s%11.6g", c ? " " : "", unsigned_nan(v[r * cols + c]));
        bp_buffer_printf(b, "\n");
    }
}

/* The sample's numbers as text (vectors printed as rows). */
static void text_numbers(bp_buffer *b, const bp_net *net, const sample_numbers *s, double lr)
{
    const size_t L = net->n_layers;
    char name[128];
    text_matrix(b, "x = a^0", s->x, 1, net->sizes[0]);
    text_matrix(b, "y", s->y, 1, net->sizes[L]);
    for (size_t l = 1; l <= L; l++) {
        const bp_layer *layer = &net->layers[l];
        snprintf(name, sizeof name, "W^%zu", l);
        text_matrix(b, name, layer->W, layer->n_out, layer->n_in);
        if (layer->b) {
            snprintf(name, sizeof name, "b^%zu", l);
            text_matrix(b, name, layer->b, 1, layer->n_out);
        }
        snprintf(name, sizeof name, "z^%zu = W^%zu a^%zu%s", l, l, l - 1, layer->b ? " + b" : "");
        text_matrix(b, name, s->z[l], 1, layer->n_out);
        snprintf(name, sizeof name, "a^%zu = %s(z^%zu)", l, gname(l == L ? net->output : net->hidden), l);
        text_matrix(b, name, layer->a, 1, layer->n_out);
    }
    bp_buffer_printf(b, "  C = %.9g\n", unsigned_nan(s->loss));
    if (!isfinite(s->loss))
        bp_buffer_printf(b, "  (C is not a finite number: float32 overflowed in this pass, and the inf and nan\n"
                            "   values show where; `backprop grad` refuses such a sample)\n");
    for (size_t l = L; l >= 1; l--) {
        const bp_layer *layer = &net->layers[l];
        snprintf(name, sizeof name, layer->b ? "delta^%zu = dC/db^%zu" : "delta^%zu", l, l);
        text_matrix(b, name, s->delta[l], 1, layer->n_out);
        snprintf(name, sizeof name, "dC/dW^%zu = delta^%zu (a^%zu)^T", l, l, l - 1);
        text_matrix(b, name, layer->grad_W, layer->n_out, layer->n_in);
    }
    for (size_t l = 1; lr > 0 && l <= L; l++) {
        const bp_layer *layer = &net->layers[l];
        snprintf(name, sizeof name, "W^%zu <- W^%zu - %g dC/dW^%zu", l, l, lr, l);
        text_matrix(b, name, s->W_next[l], layer->n_out, layer->n_in);
        if (!layer->b) continue;
        snprintf(name, sizeof name, "b^%zu <- b^%zu - %g dC/db^%zu", l, l, lr, l);
        text_matrix(b, name, s->b_next[l], 1, layer->n_out);
    }
}

/* ------------------------------------------------------------------- JSON */

static void json_string(bp_buffer *b, const char *s)
{
    bp_buffer_append(b, "\"", 1);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') bp_buffer_printf(b, "\\%c", c);
        else if (c < 0x20) bp_buffer_printf(b, "\\u%04x", c);
        else bp_buffer_append(b, s, 1);
    }
    bp_buffer_append(b, "\"", 1);
}

/* A float that reads back exactly, or null when it is not finite. */
static void json_float(bp_buffer *b, float v)
{
    if (isfinite(v)) bp_buffer_float(b, v);
    else bp_buffer_printf(b, "null");
}

/* "key": a vector, or (rows > 1) an array of rows. */
static void json_matrix(bp_buffer *b, const char *key, const float *v, size_t rows, size_t cols)
{
    bp_buffer_printf(b, ", \"%s\": %s", key, rows > 1 ? "[" : "");
    for (size_t r = 0; r < rows; r++) {
        bp_buffer_printf(b, "%s[", r ? ", " : "");
        for (size_t c = 0; c < cols; c++) {
            if (c) bp_buffer_append(b, ", ", 2);
            json_float(b, v[r * cols + c]);
        }
        bp_buffer_append(b, "]", 1);
    }
    if (rows > 1) bp_buffer_append(b, "]", 1);
}

/* The equations' text as an array of its lines. */
static void json_lines(bp_buffer *b, const char *text)
{
    bp_buffer_printf(b, "\"equations\": [");
    char line[512];
    int first = 1;
    while (*text) {
        size_t n = strcspn(text, "\n");
        const size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, text, k);
        line[k] = '\0';
        if (!first) bp_buffer_append(b, ", ", 2);
        json_string(b, line);
        first = 0;
        text += n + (text[n] == '\n');
    }
    bp_buffer_append(b, "]", 1);
}

static void json_network(bp_buffer *b, const bp_net *net)
{
    bp_buffer_printf(b, "\"network\": {\"sizes\": [");
    for (size_t l = 0; l <= net->n_layers; l++) bp_buffer_printf(b, "%s%zu", l ? ", " : "", net->sizes[l]);
    bp_buffer_printf(b, "], \"hidden\": \"%s\", \"output\": \"%s\", \"loss\": \"%s\", \"bias\": %s", gname(net->hidden),
                     gname(net->output), bp_loss_name(net->loss), net->bias ? "true" : "false");
    if (net->has_dropout) {
        bp_buffer_printf(b, ", \"dropout\": [");
        for (size_t l = 1; l < net->n_layers; l++) bp_buffer_printf(b, "%s%g", l > 1 ? ", " : "", (double)net->dropout[l]);
        bp_buffer_printf(b, "]");
    }
    bp_buffer_printf(b, "}");
}

static void json_sample(bp_buffer *b, const bp_net *net, const sample_numbers *s, double lr)
{
    bp_buffer_printf(b, ", \"sample\": {\"loss\": ");
    if (isfinite(s->loss)) bp_buffer_printf(b, "%.17g", s->loss);
    else bp_buffer_printf(b, "null");
    json_matrix(b, "x", s->x, 1, net->sizes[0]);
    json_matrix(b, "y", s->y, 1, net->sizes[net->n_layers]);
    bp_buffer_printf(b, ", \"learning_rate\": %.17g, \"layers\": [", lr > 0 ? lr : 0.0);
    for (size_t l = 1; l <= net->n_layers; l++) {
        const bp_layer *layer = &net->layers[l];
        const size_t n = layer->n_out, p = layer->n_in;
        bp_buffer_printf(b, "%s{\"layer\": %zu, \"activation\": \"%s\"", l > 1 ? ", " : "", l,
                         gname(l == net->n_layers ? net->output : net->hidden));
        json_matrix(b, "W", layer->W, n, p);
        if (layer->b) json_matrix(b, "b", layer->b, 1, n);
        json_matrix(b, "z", s->z[l], 1, n);
        json_matrix(b, "a", layer->a, 1, n);
        json_matrix(b, "delta", s->delta[l], 1, n);
        json_matrix(b, "dW", layer->grad_W, n, p);
        if (layer->b) json_matrix(b, "db", layer->grad_b, 1, n);
        if (s->W_next[l]) json_matrix(b, "W_next", s->W_next[l], n, p);
        if (s->b_next[l]) json_matrix(b, "b_next", s->b_next[l], 1, n);
        bp_buffer_append(b, "}", 1);
    }
    bp_buffer_printf(b, "]}");
}

/* ------------------------------------------------------------- the whole */

bp_status bp_net_explain(bp_net *net, const float *x, const float *y, const bp_explain_options *options, char **text,
                         bp_error *err)
{
    if (text) *text = NULL;
    if (!net || !text) return bp_fail(err, BP_ERR_ARG, "no network or place for the text given");
    if (!x != !y) return bp_fail(err, BP_ERR_ARG, "a sample needs both its inputs and its targets");
    bp_explain_options o = {0};
    if (options) o = *options;
    if ((unsigned)o.format > BP_EXPLAIN_JSON || !(o.learning_rate >= 0 && isfinite(o.learning_rate)))
        return bp_fail(err, BP_ERR_ARG, "unknown explanation format or invalid learning rate");
    bp_buffer eq = {0}, out = {0};
    equations(&eq, net, o.batch);
    sample_numbers s = {0};
    bp_status st = x ? compute_numbers(net, x, y, o.learning_rate, &s) : BP_OK;
    if (o.format == BP_EXPLAIN_TEXT) {
        bp_buffer_append(&out, eq.data ? eq.data : "", eq.len);
        if (x && st == BP_OK) {
            bp_buffer_printf(&out, "\nThe numbers for %s (vectors printed as rows)\n",
                             o.sample_name ? o.sample_name : "this sample");
            text_numbers(&out, net, &s, o.learning_rate);
        }
    } else {
        bp_buffer_append(&out, "{", 1);
        json_network(&out, net);
        bp_buffer_append(&out, ", ", 2);
        json_lines(&out, eq.data ? eq.data : "");
        if (x && st == BP_OK) json_sample(&out, net, &s, o.learning_rate);
        bp_buffer_append(&out, "}\n", 2);
    }
    free(s.block);
    if (st == BP_OK && (out.failed || eq.failed)) st = BP_ERR_NOMEM;
    bp_buffer_free(&eq);
    if (st != BP_OK) {
        bp_buffer_free(&out);
        return bp_fail(err, st, st == BP_ERR_NOMEM ? "out of memory for the explanation"
                                                   : "the sample's forward and backward pass failed");
    }
    *text = out.data ? out.data : calloc(1, 1);
    return *text ? BP_OK : bp_fail(err, BP_ERR_NOMEM, "out of memory for the explanation");
}

void bp_free(void *p) { free(p); }
