/*
 * cmd_explain.c - `backprop explain`: the forward and backward equations of a
 * given network, with every matrix shape, in the one-sample and the
 * mini-batch form; with a model and a sample, the numbers as well.
 *
 * The library writes the explanation (bp_net_explain, src/io/explain.c), so
 * that this command, the Python package and the playground show the same text;
 * this file reads the options, the model and the sample.
 */
#include <stdio.h>
#include <string.h>

#include "backprop.h"

#include "args.h"
#include "commands.h"
#include "data.h"

static const cli_option explain_options[] = {
    {"labels", "FILE", "IDX labels file, when --data is an IDX images file"},
    {"format", "FMT", "data format: auto (default), csv, idx or fann"},
    {"arch", "N0,...,NL", "layer widths of a new network (or take a network from --model)"},
    {"activation", "NAME", "with --arch: hidden activation (default relu)"},
    {"output", "NAME", "with --arch: output activation (default from the loss)"},
    {"loss", "NAME", "with --arch: mse (default), ce or bce"},
    {"no-bias", NULL, "with --arch: layers without biases"},
    {"dropout", "P[,P2,...]", "with --arch: dropout of the hidden layers (a model keeps its own)"},
    {"batch", "M", "batch size shown in the mini-batch shapes (default m)"},
    {"model", "FILE", "explain this model; with --data, print the numbers too"},
    {"data", "FILE", "data for --model: CSV (inputs, then targets), IDX images (with --labels) or FANN"},
    {"sample", "K", "with --data: which data row to show (default 1, the first)"},
    {"targets", "KIND", "with --data: class or values, how to read its target columns"},
    {"lr", "ETA", "with --data: also show W and b after one gradient-descent step at this rate"},
    {"json", NULL, "the equations and the numbers as one JSON object"},
};

/* The explanation of net (and of one sample, when x is given) printed to stdout. */
static int print_explanation(cli_args *a, bp_net *net, const float *x, const float *y, size_t row)
{
    bp_explain_options o = {0};
    char name[64];
    snprintf(name, sizeof name, "data row %zu", row);
    o.format = cli_flag(a, "json") ? BP_EXPLAIN_JSON : BP_EXPLAIN_TEXT;
    o.sample_name = name;
    int code = cli_size(a, "batch", 1, (size_t)1 << 40, &o.batch);
    if (!code) code = cli_double(a, "lr", 0, 1e6, &o.learning_rate);
    if (code) return code;
    char *text = NULL;
    bp_error err = {0};
    bp_status s = bp_net_explain(net, x, y, &o, &text, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, "explain");
    fputs(text, stdout);
    bp_free(text);
    return EXIT_OK;
}

/* --model FILE [--data FILE --sample K]: the model's equations, and one sample's numbers. */
static int explain_model(cli_args *a, const char *model, const char *data_path)
{
    bp_error err = {0};
    bp_net *net = NULL;
    bp_status s = bp_net_load(model, &net, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, model);
    /* Read and check the data first: an error must not follow a page of equations. */
    bp_dataset *data = NULL;
    size_t k = 1;
    int code = EXIT_OK;
    if (data_path) {
        if ((code = cli_size(a, "sample", 1, (size_t)1 << 40, &k)) == 0 &&
            (code = cli_load_data_for_net(a, data_path, cli_get(a, "labels"), net, 0, &data)) == 0 &&
            k > bp_dataset_count(data))
            code = cli_fail(a, EXIT_USAGE, "--sample %zu: %s has %zu data rows", k, data_path, bp_dataset_count(data));
    }
    if (code == EXIT_OK) {
        const size_t n0 = bp_net_width(net, 0), nL = bp_net_width(net, bp_net_layer_count(net));
        const float *x = data ? bp_dataset_x_const(data) + (k - 1) * n0 : NULL;
        const float *y = data ? bp_dataset_y_const(data) + (k - 1) * nL : NULL;
        code = print_explanation(a, net, x, y, k);
    }
    bp_dataset_free(data);
    bp_net_free(net);
    return code;
}

/* Options the chosen mode would ignore are usage errors: a model brings its own
   network, and one sample's numbers need --data. 0, or EXIT_USAGE after a message. */
static int check_options_apply(cli_args *a, const char *model, const char *data_path)
{
    static const char *const network[] = {"arch", "activation", "output", "loss", "no-bias", "dropout"};
    static const char *const sample[] = {"sample", "lr", "labels", "targets", "format"};
    for (size_t i = 0; model && i < sizeof network / sizeof network[0]; i++)
        if (cli_get(a, network[i]))
            return cli_fail(a, EXIT_USAGE, "--%s describes a network for --arch; --model %s holds its "
                            "own (leave --%s out)", network[i], model, network[i]);
    for (size_t i = 0; !data_path && i < sizeof sample / sizeof sample[0]; i++)
        if (cli_get(a, sample[i]))
            return cli_fail(a, EXIT_USAGE, "--%s applies to --model FILE with --data FILE (one sample's numbers)",
                            sample[i]);
    return 0;
}

static int run_explain(cli_args *a)
{
    const char *model = cli_get(a, "model"), *data_path = cli_get(a, "data");
    if (data_path && !model) return cli_fail(a, EXIT_USAGE, "--data needs --model");
    int code = check_options_apply(a, model, data_path);
    if (code) return code;
    if (model) return explain_model(a, model, data_path);
    if (!cli_get(a, "arch")) return cli_fail(a, EXIT_USAGE, "give --arch 2,3,2 or --model FILE");
    size_t sizes[BP_MAX_LAYERS + 1], count = 0;
    code = cli_size_list(a, "arch", sizes, BP_MAX_LAYERS + 1, &count);
    if (code) return code;
    if (count < 2) return cli_fail(a, EXIT_USAGE, "--arch needs at least two widths");
    bp_net_config c = {0};
    if ((code = cli_net_config(a, &c, BP_LOSS_MSE))) return code;
    c.n_layers = count - 1;
    c.sizes = sizes;
    double dropout[BP_MAX_LAYERS];
    int any = 0;
    if ((code = cli_dropout(a, count - 2, dropout, &any))) return code;
    c.dropout = any ? dropout : NULL;
    bp_error err = {0};
    bp_net *net = NULL;
    bp_status s = bp_net_create(&c, &net, &err);
    if (s == BP_ERR_ARG) return cli_fail(a, EXIT_USAGE, "%s", err.message);
    if (s != BP_OK) return cli_fail_status(a, s, &err, "creating the network");
    code = print_explanation(a, net, NULL, NULL, 0);
    bp_net_free(net);
    return code;
}

const cli_command cmd_explain = {
    "explain", "--arch 2,3,2 [options] | --model FILE [--data FILE --sample K]",
    "print a network's forward and backward equations with shapes",
    "Write out every equation of backpropagation for the given network: the forward\n"
    "pass, the loss, delta^L, the backward recursion and the weight gradients, for one\n"
    "sample and for a mini-batch, each with its matrix shapes and the function that\n"
    "computes it. With --model and --data it also prints the actual numbers for one sample.\n"
    "Network options go with --arch only, sample options with --data only: a model holds\n"
    "its own network, and an option that would be ignored is a usage error.",
    explain_options, sizeof explain_options / sizeof explain_options[0], 0, run_explain};
