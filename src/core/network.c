/*
 * network.c - creating, shaping, initializing and freeing a network.
 *
 * Owns the memory layout described in network.h: the parameter block,
 * the gradient block and the per-batch work space. The arithmetic of the
 * forward and backward passes lives in passes.c and dense.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "memory.h"
#include "network.h"
#include "rng.h"
#include "status.h"

bp_status bp_count_params(size_t n_layers, const size_t *sizes, int bias, size_t *count)
{
    size_t total = 0;
    for (size_t l = 1; l <= n_layers; l++) {
        size_t w;
        if (bp_mul_overflows(sizes[l], sizes[l - 1], &w)) return BP_ERR_NOMEM;
        if (bias) {
            if (w > (size_t)-1 - sizes[l]) return BP_ERR_NOMEM;
            w += sizes[l];
        }
        if (w > (size_t)-1 - total) return BP_ERR_NOMEM;
        total += w;
    }
    /* Parameters and gradients are float blocks: keep their byte size representable. */
    size_t bytes;
    if (bp_mul_overflows(total, 2 * sizeof(float), &bytes)) return BP_ERR_NOMEM;
    *count = total;
    return BP_OK;
}

bp_status bp_net_config_check(const bp_net_config *c, bp_error *err)
{
    if (!c) return bp_fail(err, BP_ERR_ARG, "no network configuration given");
    if (c->n_layers < 1 || c->n_layers > BP_MAX_LAYERS)
        return bp_fail(err, BP_ERR_ARG, "a network needs 1 to %d weight layers, not %zu",
                       BP_MAX_LAYERS, c->n_layers);
    if (!c->sizes) return bp_fail(err, BP_ERR_ARG, "no layer sizes given");
    for (size_t l = 0; l <= c->n_layers; l++)
        if (c->sizes[l] < 1 || c->sizes[l] > BP_MAX_WIDTH)
            return bp_fail(err, BP_ERR_ARG, "layer %zu has width %zu; widths must be 1 to %d", l,
                           c->sizes[l], BP_MAX_WIDTH);
    if ((unsigned)c->hidden > BP_ACT_SOFTMAX || (unsigned)c->output > BP_ACT_SOFTMAX)
        return bp_fail(err, BP_ERR_ARG, "unknown activation");
    if (c->hidden == BP_ACT_SOFTMAX)
        return bp_fail(err, BP_ERR_ARG, "softmax is for the output layer only; pick another hidden activation");
    if ((unsigned)c->loss > BP_LOSS_BCE) return bp_fail(err, BP_ERR_ARG, "unknown loss");
    if (c->loss == BP_LOSS_CE && c->output != BP_ACT_SOFTMAX)
        return bp_fail(err, BP_ERR_ARG,
                       "cross-entropy (ce) is defined on a softmax output; choose the softmax output, "
                       "or bce with a sigmoid output");
    if (c->loss == BP_LOSS_BCE && c->output != BP_ACT_SIGMOID)
        return bp_fail(err, BP_ERR_ARG,
                       "binary cross-entropy (bce) is defined on a sigmoid output; choose the sigmoid output");
    for (size_t l = 0; c->dropout && l + 1 < c->n_layers; l++)
        if (!(c->dropout[l] >= 0 && c->dropout[l] < 1))
            return bp_fail(err, BP_ERR_ARG, "dropout of hidden layer %zu is %g; it must be at least 0 and below 1",
                           l + 1, c->dropout[l]);
    if (!(c->init_range >= 0 && c->init_range <= 1e30))
        return bp_fail(err, BP_ERR_ARG, "the initialization range is %g; it must be a number from 0 (He or "
                       "Xavier) to 1e30", c->init_range);
    if (c->output == BP_ACT_SOFTMAX && c->sizes[c->n_layers] < 2)
        return bp_fail(err, BP_ERR_ARG, "a softmax output needs at least 2 units");
    size_t count;
    if (bp_count_params(c->n_layers, c->sizes, c->bias, &count) != BP_OK)
        return bp_fail(err, BP_ERR_NOMEM, "the network has too many parameters for this machine");
    return BP_OK;
}

bp_status bp_net_alloc(const bp_net_config *config, bp_net **out, bp_error *err)
{
    if (!out) return bp_fail(err, BP_ERR_ARG, "no place to store the network");
    *out = NULL;
    bp_status s = bp_net_config_check(config, err);
    if (s != BP_OK) return s;

    bp_net *net = calloc(1, sizeof *net);
    if (!net) return bp_fail(err, BP_ERR_NOMEM, "out of memory creating the network");
    net->n_layers = config->n_layers;
    memcpy(net->sizes, config->sizes, (config->n_layers + 1) * sizeof(size_t));
    net->hidden = config->hidden;
    net->output = config->output;
    net->loss = config->loss;
    net->bias = config->bias != 0;
    for (size_t l = 1; config->dropout && l < net->n_layers; l++) {
        net->dropout[l] = (float)config->dropout[l - 1];
        net->has_dropout |= net->dropout[l] > 0;
    }
    bp_count_params(net->n_layers, net->sizes, net->bias, &net->n_params);

    size_t bytes = net->n_params * sizeof(float);
    net->params = bp_alloc_aligned(bytes);
    net->grads = bp_alloc_aligned(bytes + sizeof(float)); /* + the spare slot */
    net->gemm_block = bp_alloc_aligned(BP_GEMM_WORKSPACE_FLOATS * sizeof(float));
    net->gemm_work = malloc(sizeof *net->gemm_work);
    if (!net->params || !net->grads || !net->gemm_block || !net->gemm_work) {
        size_t n = net->n_params;
        bp_net_free(net);
        return bp_fail(err, BP_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    memset(net->params, 0, bytes);
    memset(net->grads, 0, bytes + sizeof(float));
    net->gemm_work[0] = net->gemm_block;
    net->team.pool = NULL;
    net->team.workspace = net->gemm_work;

    /* Point each layer's views into the blocks: W^l then b^l, layer after layer. */
    size_t offset = 0;
    for (size_t l = 1; l <= net->n_layers; l++) {
        bp_layer *layer = &net->layers[l];
        layer->n_in = net->sizes[l - 1];
        layer->n_out = net->sizes[l];
        layer->W = net->params + offset;
        layer->grad_W = net->grads + offset;
        offset += layer->n_in * layer->n_out;
        if (net->bias) {
            layer->b = net->params + offset;
            layer->grad_b = net->grads + offset;
            offset += layer->n_out;
        }
    }
    *out = net;
    return BP_OK;
}

bp_status bp_net_create(const bp_net_config *config, bp_net **out, bp_error *err)
{
    bp_status s = bp_net_alloc(config, out, err);
    if (s != BP_OK) return s;
    bp_net *net = *out;
    bp_rng rng;
    bp_rng_seed(&rng, config->seed);
    if (config->init_range > 0) {
        /* FANN's fann_randomize_weights: the whole block, every W^l and b^l in its order,
           uniform in [-r, r], whatever the activations. */
        const double r = config->init_range;
        for (size_t i = 0; i < net->n_params; i++)
            net->params[i] = (float)(r * (2.0 * bp_rng_uniform(&rng) - 1.0));
        return BP_OK;
    }
    for (size_t l = 1; l <= net->n_layers; l++) {
        bp_layer *layer = &net->layers[l];
        bp_activation g = l == net->n_layers ? net->output : net->hidden;
        size_t count = layer->n_in * layer->n_out;
        if (g == BP_ACT_RELU || g == BP_ACT_LEAKY_RELU) {
            /* He: keeps the variance of z constant through ReLU layers, which zero half of it. */
            double std = sqrt(2.0 / (double)layer->n_in);
            for (size_t i = 0; i < count; i++) layer->W[i] = (float)(std * bp_rng_normal(&rng));
        } else {
            /* Xavier/Glorot uniform: balances the variance of the forward and backward signals. */
            double limit = sqrt(6.0 / (double)(layer->n_in + layer->n_out));
            for (size_t i = 0; i < count; i++)
                layer->W[i] = (float)(limit * (2.0 * bp_rng_uniform(&rng) - 1.0));
        }
        /* Biases start at zero (already zeroed). */
    }
    return BP_OK;
}

void bp_net_free(bp_net *net)
{
    if (!net) return;
    bp_free_aligned(net->params);
    bp_free_aligned(net->grads);
    bp_free_aligned(net->work);
    bp_pool_free(net->pool);
    bp_free_aligned(net->gemm_block);
    free(net->gemm_work);
    free(net->input_shift);
    free(net->input_scale);
    free(net->class_names);
    free(net->fixed_mask);
    free(net);
}

static bp_net_config config_of(const bp_net *net, double *dropout)
{
    for (size_t l = 1; l < net->n_layers; l++) dropout[l - 1] = net->dropout[l];
    bp_net_config c = {net->n_layers, net->sizes, net->hidden, net->output, net->loss, net->bias, 0,
                       net->has_dropout ? dropout : NULL, 0};
    return c;
}

bp_status bp_net_clone(const bp_net *net, bp_net **out)
{
    if (!net || !out) return BP_ERR_ARG;
    double dropout[BP_MAX_LAYERS];
    bp_net_config c = config_of(net, dropout);
    bp_status s = bp_net_alloc(&c, out, NULL);
    if (s != BP_OK) return s;
    if (!*out) return BP_ERR_NOMEM; /* bp_net_alloc sets *out on success; stated for the analyzer */
    memcpy((*out)->params, net->params, net->n_params * sizeof(float));
    bp_status st = bp_net_set_input_transform(*out, net->input_shift, net->input_scale);
    if (st == BP_OK)
        st = bp_net_set_class_names(*out, (const char *const *)net->class_names,
                                    net->class_names ? net->sizes[net->n_layers] : 0);
    if (st != BP_OK) {
        bp_net_free(*out);
        *out = NULL;
    }
    return st;
}

bp_status bp_net_set_threads(bp_net *net, int threads, bp_error *err)
{
    if (!net) return bp_fail(err, BP_ERR_ARG, "no network given");
    if (threads == 0) threads = bp_default_threads();
    if (threads < 1 || threads > BP_MAX_THREADS)
        return bp_fail(err, BP_ERR_ARG, "threads must be 1 to %d (or 0 for one per core), not %d",
                       BP_MAX_THREADS, threads);
    if (threads == bp_net_threads(net)) return BP_OK;
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
    /* WebAssembly built without threads (the playground): a setting, not a shortage. */
    return bp_fail(err, BP_ERR_UNSUPPORTED, "this build runs on one thread (WebAssembly without threads), not %d",
                   threads);
#endif
    /* Build the new team completely before the old one is let go, so that a
       failure leaves the network as it was. */
    bp_pool *pool = NULL;
    if (threads > 1 && !(pool = bp_pool_create(threads)))
        return bp_fail(err, BP_ERR_NOMEM, "could not start %d threads", threads);
    float *block = bp_alloc_aligned((size_t)threads * BP_GEMM_WORKSPACE_FLOATS * sizeof(float));
    float **work = malloc((size_t)threads * sizeof *work);
    if (!block || !work) {
        bp_pool_free(pool);
        bp_free_aligned(block);
        free(work);
        return bp_fail(err, BP_ERR_NOMEM, "out of memory for %d threads' work space", threads);
    }
    for (int i = 0; i < threads; i++) work[i] = block + (size_t)i * BP_GEMM_WORKSPACE_FLOATS;
    bp_pool_free(net->pool);
    bp_free_aligned(net->gemm_block);
    free(net->gemm_work);
    net->pool = pool;
    net->gemm_block = block;
    net->gemm_work = work;
    net->team.pool = pool;
    net->team.workspace = work;
    return BP_OK;
}

int bp_net_threads(const bp_net *net) { return net ? bp_pool_threads(net->pool) : 0; }

int bp_default_threads(void) { return bp_pool_default_threads(); }

bp_status bp_net_set_input_transform(bp_net *net, const float *shift, const float *scale)
{
    if (!net || (!shift) != (!scale)) return BP_ERR_ARG;
    const size_t n = net->sizes[0];
    float *new_shift = NULL, *new_scale = NULL;
    if (shift) {
        /* Checked and copied before the old transform goes, so a refused call keeps it. */
        for (size_t i = 0; i < n; i++)
            if (!isfinite(shift[i]) || !isfinite(scale[i])) return BP_ERR_NUMERIC;
        new_shift = malloc(n * sizeof(float));
        new_scale = malloc(n * sizeof(float));
        if (!new_shift || !new_scale) {
            free(new_shift);
            free(new_scale);
            return BP_ERR_NOMEM;
        }
        memcpy(new_shift, shift, n * sizeof(float));
        memcpy(new_scale, scale, n * sizeof(float));
    }
    free(net->input_shift);
    free(net->input_scale);
    net->input_shift = new_shift;
    net->input_scale = new_scale;
    return BP_OK;
}

int bp_net_get_input_transform(const bp_net *net, const float **shift, const float **scale)
{
    if (!net || !net->input_shift) return 0;
    if (shift) *shift = net->input_shift;
    if (scale) *scale = net->input_scale;
    return 1;
}

void bp_net_apply_input_transform(const bp_net *net, float *x, size_t m)
{
    if (!net || !x || !net->input_shift) return;
    size_t n = net->sizes[0];
    for (size_t s = 0; s < m; s++)
        for (size_t i = 0; i < n; i++) x[s * n + i] = (x[s * n + i] - net->input_shift[i]) * net->input_scale[i];
}

bp_status bp_net_set_class_names(bp_net *net, const char *const *names, size_t n)
{
    if (!net) return BP_ERR_ARG;
    if (!names) {
        free(net->class_names);
        net->class_names = NULL;
        return BP_OK;
    }
    if (n != net->sizes[net->n_layers]) return BP_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!names[i]) return BP_ERR_ARG;
    char **copy = bp_copy_names(names, n);
    if (!copy) return BP_ERR_NOMEM;
    free(net->class_names);
    net->class_names = copy;
    return BP_OK;
}

const char *bp_net_class_name(const bp_net *net, size_t k)
{
    return net && net->class_names && k < net->sizes[net->n_layers] ? net->class_names[k] : NULL;
}

size_t bp_net_layer_count(const bp_net *net) { return net ? net->n_layers : 0; }

size_t bp_net_width(const bp_net *net, size_t layer)
{
    return net && layer <= net->n_layers ? net->sizes[layer] : 0;
}

/* A NULL network answers with the zero of each enum, as the size queries answer 0. */
bp_activation bp_net_hidden_activation(const bp_net *net) { return net ? net->hidden : BP_ACT_IDENTITY; }
bp_activation bp_net_output_activation(const bp_net *net) { return net ? net->output : BP_ACT_IDENTITY; }
bp_loss bp_net_loss_function(const bp_net *net) { return net ? net->loss : BP_LOSS_MSE; }
int bp_net_has_bias(const bp_net *net) { return net ? net->bias : 0; }
size_t bp_net_param_count(const bp_net *net) { return net ? net->n_params : 0; }
float *bp_net_params(bp_net *net) { return net ? net->params : NULL; }
const float *bp_net_params_const(const bp_net *net) { return net ? net->params : NULL; }
float *bp_net_grads(bp_net *net) { return net ? net->grads : NULL; }

bp_status bp_net_layer_view(bp_net *net, size_t l, float **W, float **b, float **grad_W, float **grad_b)
{
    if (!net || l < 1 || l > net->n_layers) return BP_ERR_ARG;
    bp_layer *layer = &net->layers[l];
    if (W) *W = layer->W;
    if (b) *b = layer->b;
    if (grad_W) *grad_W = layer->grad_W;
    if (grad_b) *grad_b = layer->grad_b;
    return BP_OK;
}

double bp_net_dropout(const bp_net *net, size_t l)
{
    return net && l >= 1 && l < net->n_layers ? (double)net->dropout[l] : 0.0;
}

size_t bp_dropout_mask_offset(const bp_net *net, size_t l, size_t m)
{
    size_t off = 0;
    for (size_t k = 1; k < l; k++) off += m * net->sizes[k];
    return off;
}

bp_status bp_net_set_dropout_mask(bp_net *net, const float *masks, size_t m)
{
    if (!net || (masks && m == 0)) return BP_ERR_ARG;
    free(net->fixed_mask);
    net->fixed_mask = NULL;
    net->fixed_m = 0;
    if (!masks || net->n_layers < 2) return BP_OK;
    size_t total = 0, piece;
    for (size_t l = 1; l < net->n_layers; l++) {
        if (bp_mul_overflows(m, net->sizes[l], &piece) || piece > (size_t)-1 / sizeof(float) - total)
            return BP_ERR_NOMEM;
        total += piece;
    }
    for (size_t i = 0; i < total; i++)
        if (!isfinite(masks[i])) return BP_ERR_NUMERIC;
    if (!(net->fixed_mask = malloc((total ? total : 1) * sizeof(float)))) return BP_ERR_NOMEM;
    memcpy(net->fixed_mask, masks, total * sizeof(float));
    net->fixed_m = m;
    return BP_OK;
}

size_t bp_net_max_width(const bp_net *net)
{
    size_t w = 0;
    for (size_t l = 0; l <= net->n_layers; l++) w = net->sizes[l] > w ? net->sizes[l] : w;
    return w;
}

bp_status bp_net_reserve(bp_net *net, size_t m)
{
    if (m <= net->capacity) return BP_OK;
    /* Layout: for l = 1..L, z^l and a^l (m x n_l each); then delta and delta_next
       (m x max width each). Every piece starts on a 16-float boundary. */
    size_t total = 0, piece;
    size_t maxw = bp_net_max_width(net);
    for (size_t l = 1; l <= net->n_layers; l++) {
        if (bp_mul_overflows(m, net->sizes[l], &piece)) return BP_ERR_NOMEM;
        piece = (piece + 15) & ~(size_t)15;
        if (piece > ((size_t)-1 - total) / 2) return BP_ERR_NOMEM;
        total += 2 * piece;
    }
    /* (Hidden layers use only one of their two pieces; the layout stays simple. Dropout
       puts a (.) mask in the spare one, and needs one piece more per layer for the mask.) */
    for (size_t l = 1; net->has_dropout && l < net->n_layers; l++) {
        if (bp_mul_overflows(m, net->sizes[l], &piece)) return BP_ERR_NOMEM;
        piece = (piece + 15) & ~(size_t)15;
        if (piece > (size_t)-1 - total) return BP_ERR_NOMEM;
        total += piece;
    }
    if (bp_mul_overflows(m, maxw, &piece)) return BP_ERR_NOMEM;
    piece = (piece + 15) & ~(size_t)15;
    if (piece > ((size_t)-1 - total) / 2) return BP_ERR_NOMEM;
    total += 2 * piece;
    size_t bytes;
    if (bp_mul_overflows(total, sizeof(float), &bytes)) return BP_ERR_NOMEM;
    float *work = bp_alloc_aligned(bytes);
    if (!work) return BP_ERR_NOMEM;
    bp_free_aligned(net->work);
    net->work = work;
    net->capacity = m;

    size_t offset = 0;
    for (size_t l = 1; l <= net->n_layers; l++) {
        size_t n = (m * net->sizes[l] + 15) & ~(size_t)15;
        /* Hidden layers compute a^l = g(z^l) in place: every g' a hidden layer can have
           is a function of a^l, so z^l need not be kept. The output layer keeps z^L for
           the loss (log-sum-exp and softplus work from the logits). */
        net->layers[l].a = work + offset + n;
        net->layers[l].z = l == net->n_layers ? work + offset : net->layers[l].a;
        net->layers[l].out = net->layers[l].a;
        net->layers[l].dropped = l < net->n_layers && net->has_dropout ? work + offset : NULL;
        offset += 2 * n;
    }
    for (size_t l = 1; net->has_dropout && l < net->n_layers; l++) {
        net->layers[l].mask = work + offset;
        offset += (m * net->sizes[l] + 15) & ~(size_t)15;
    }
    net->delta = work + offset;
    net->delta_next = work + offset + piece;
    net->batch = 0;
    return BP_OK;
}
