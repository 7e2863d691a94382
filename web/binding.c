/*
 * binding.c - the public API's calls that take a settings struct, with their
 * fields as plain arguments, for the playground's worker (web/worker.js).
 *
 * JavaScript calls most of backprop.h straight through Emscripten (pointers
 * and numbers cross unchanged). A struct would have to be laid out by hand in
 * the module's memory, field offsets and padding included, so the few calls
 * that take one (bp_net_create, bp_trainer_create, bp_dataset_read_csv_memory,
 * bp_net_explain) and the two that fill one (bp_trainer_run's statistics,
 * bp_net_evaluate's metrics) get a wrapper here instead, as does the one change
 * that needs a new network (another dropout, the weights kept). 64-bit seeds come in
 * as doubles, which hold every whole number a page's seed control allows.
 *
 * Nothing here computes: each function fills the struct, makes the one call
 * and hands back what it returned. No state is kept between calls; the worker
 * owns every handle.
 */
#include <stdint.h>

#include "backprop.h"

/* bp_net_create with its configuration's fields; sizes holds n_layers + 1 widths, dropout
   NULL or n_layers - 1 probabilities, init_range 0 (He or Xavier) or r for uniform in [-r, r]. */
bp_status web_net_create(size_t n_layers, const size_t *sizes, int hidden, int output, int loss, int bias,
                         double seed, const double *dropout, double init_range, bp_net **out, bp_error *err)
{
    bp_net_config c = {n_layers, sizes, (bp_activation)hidden, (bp_activation)output, (bp_loss)loss, bias,
                       (uint64_t)seed, dropout, init_range};
    return bp_net_create(&c, out, err);
}

/* The network `net` with another dropout (NULL: none; else n_layers - 1 probabilities), its
   parameters and class names kept: dropout belongs to bp_net_config, so changing it while
   training goes on takes a new network. `net` itself is left as it was. */
bp_status web_net_with_dropout(const bp_net *net, const double *dropout, bp_net **out, bp_error *err)
{
    size_t sizes[BP_MAX_LAYERS + 1];
    const size_t n_layers = bp_net_layer_count(net);
    if (n_layers > BP_MAX_LAYERS) return BP_ERR_ARG;
    for (size_t l = 0; l <= n_layers; l++) sizes[l] = bp_net_width(net, l);
    bp_net_config c = {n_layers, sizes, bp_net_hidden_activation(net), bp_net_output_activation(net),
                       bp_net_loss_function(net), bp_net_has_bias(net), 0, dropout, 0};
    bp_net *copy = NULL;
    bp_status s = bp_net_create(&c, &copy, err);
    if (s != BP_OK) return s;
    const size_t n = bp_net_param_count(net);
    const float *from = bp_net_params_const(net);
    float *to = bp_net_params(copy);
    for (size_t i = 0; i < n; i++) to[i] = from[i];
    const char *names[256];
    const size_t classes = sizes[n_layers];
    size_t named = 0;
    while (named < classes && named < 256 && (names[named] = bp_net_class_name(net, named)) != NULL) named++;
    if (named > 0 && named == classes && (s = bp_net_set_class_names(copy, names, named)) != BP_OK) {
        bp_net_free(copy);
        return s;
    }
    *out = copy;
    return BP_OK;
}

/* bp_trainer_create with the settings the page has controls for (zero: the default). */
bp_status web_trainer_create(bp_net *net, int optimizer, double learning_rate, double momentum, size_t batch_size,
                             double weight_decay, double seed, double rprop_step0, double rprop_step_max,
                             bp_trainer **out)
{
    bp_train_config c = {0};
    c.optimizer = (bp_optimizer)optimizer;
    c.learning_rate = learning_rate;
    c.momentum = momentum;
    c.batch_size = batch_size;
    c.weight_decay = weight_decay;
    c.seed = (uint64_t)seed;
    c.rprop_step0 = rprop_step0;
    c.rprop_step_max = rprop_step_max;
    return bp_trainer_create(net, &c, out);
}

/* bp_trainer_run; stats receives the epoch's loss, steps, samples, whether it is complete and
   whether L-BFGS has converged. */
bp_status web_trainer_run(bp_trainer *trainer, const bp_dataset *data, size_t max_steps, double stats[5])
{
    bp_epoch_stats s = {0};
    bp_status st = bp_trainer_run(trainer, data, max_steps, &s);
    stats[0] = s.loss;
    stats[1] = (double)s.steps;
    stats[2] = (double)s.samples;
    stats[3] = s.complete;
    stats[4] = s.converged;
    return st;
}

/* bp_net_evaluate; metrics receives the loss, accuracy (negative: not a classification), MSE. */
bp_status web_net_evaluate(bp_net *net, const bp_dataset *data, double metrics[3])
{
    bp_metrics m = {0};
    bp_status st = bp_net_evaluate(net, data, &m);
    metrics[0] = m.loss;
    metrics[1] = m.accuracy;
    metrics[2] = m.mse;
    return st;
}

/* bp_dataset_read_csv_memory: target is a bp_target_kind, header -1, 0 or 1. */
bp_status web_dataset_read_csv(const void *text, size_t len, const char *name, int target, size_t n_targets,
                               int header, bp_dataset **out, bp_error *err)
{
    bp_csv_options o = {0};
    o.target = (bp_target_kind)target;
    o.n_targets = n_targets;
    o.header = header;
    return bp_dataset_read_csv_memory(text, len, name, &o, out, err);
}

/* bp_net_explain: format is a bp_explain_format; *text is released with bp_free. */
bp_status web_net_explain(bp_net *net, const float *x, const float *y, int format, double learning_rate,
                          const char *sample_name, char **text, bp_error *err)
{
    bp_explain_options o = {0};
    o.format = (bp_explain_format)format;
    o.learning_rate = learning_rate;
    o.sample_name = sample_name;
    return bp_net_explain(net, x, y, &o, text, err);
}

/* bp_dataset_split with the seed as a double. */
bp_status web_dataset_split(const bp_dataset *data, double fraction, double seed, bp_dataset **first,
                            bp_dataset **second)
{
    return bp_dataset_split(data, fraction, (uint64_t)seed, first, second);
}
