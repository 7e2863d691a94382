/*
 * cmd_model.c - commands that create or describe a model file: init and info.
 */
#include <stdio.h>
#include <string.h>

#include "backprop.h"

#include "args.h"
#include "commands.h"
#include "json.h"

/* ------------------------------------------------------------------- init */

static const cli_option init_options[] = {
    {"arch", "N0,N1,...,NL", "layer widths from inputs to outputs, e.g. 2,3,2 (required)"},
    {"activation", "NAME", "hidden activation: identity, sigmoid, tanh, relu (default), leaky-relu"},
    {"output", "NAME", "output activation (default: softmax for ce, sigmoid for bce, identity for mse)"},
    {"loss", "NAME", "mse (default), ce (softmax cross-entropy) or bce (sigmoid binary cross-entropy)"},
    {"no-bias", NULL, "layers without biases: z = W a"},
    {"init-range", "R", "weights and biases uniform in [-R, R] (FANN's range is 0.1; default 0: He or Xavier)"},
    {"seed", "N", "initialization seed (default 1): the same seed gives the same weights"},
    {"o", "FILE", "where to write the model (.bpm) (required)"},
};

static int run_init(cli_args *a)
{
    size_t sizes[BP_MAX_LAYERS + 1], count = 0;
    const char *out = cli_get(a, "o");
    if (!cli_get(a, "arch")) return cli_fail(a, EXIT_USAGE, "--arch is required, e.g. --arch 2,3,2");
    if (!out) return cli_fail(a, EXIT_USAGE, "-o FILE is required");
    int code = cli_size_list(a, "arch", sizes, BP_MAX_LAYERS + 1, &count);
    if (code) return code;
    if (count < 2) return cli_fail(a, EXIT_USAGE, "--arch needs at least two widths (inputs and outputs)");
    bp_net_config c = {0};
    if ((code = cli_net_config(a, &c, BP_LOSS_MSE))) return code;
    c.n_layers = count - 1;
    c.sizes = sizes;
    bp_error err = {0};
    bp_net *net = NULL;
    bp_status s = bp_net_create(&c, &net, &err);
    if (s != BP_OK) return cli_fail(a, s == BP_ERR_ARG ? EXIT_USAGE : EXIT_FAILED, "%s", err.message);
    s = bp_net_save(net, out, &err);
    size_t params = bp_net_param_count(net);
    bp_net_free(net);
    if (s != BP_OK) return cli_fail_status(a, s, &err, out);
    printf("wrote %s: %zu parameters\n", out, params);
    return EXIT_OK;
}

const cli_command cmd_init = {
    "init", "--arch 2,3,2 [options] -o model.bpm", "write an untrained model",
    "Create a network with He (ReLU family) or Xavier (otherwise) initial weights\n"
    "and zero biases (or, with --init-range R, every weight and bias uniform in\n"
    "[-R, R]), and save it as a .bpm model file.",
    init_options, sizeof init_options / sizeof init_options[0], 0, run_init};

/* ------------------------------------------------------------------- info */

static const cli_option info_options[] = {
    {"json", NULL, "machine-readable output"},
};

/* Whether any hidden layer has dropout. */
static int has_dropout(const bp_net *net)
{
    for (size_t l = 1; l < bp_net_layer_count(net); l++)
        if (bp_net_dropout(net, l) > 0) return 1;
    return 0;
}

static void print_info_json(const bp_net *net, const char *path)
{
    size_t L = bp_net_layer_count(net);
    printf("{\"file\":");
    json_string(stdout, path);
    printf(",\"sizes\":[");
    for (size_t l = 0; l <= L; l++) printf("%s%zu", l ? "," : "", bp_net_width(net, l));
    printf("],\"hidden\":\"%s\",\"output\":\"%s\",\"loss\":\"%s\",\"bias\":%s,\"parameters\":%zu,"
           "\"preprocessing\":%s,",
           bp_activation_name(bp_net_hidden_activation(net)),
           bp_activation_name(bp_net_output_activation(net)), bp_loss_name(bp_net_loss_function(net)),
           bp_net_has_bias(net) ? "true" : "false", bp_net_param_count(net),
           bp_net_get_input_transform(net, NULL, NULL) ? "true" : "false");
    if (has_dropout(net)) {
        printf("\"dropout\":[");
        for (size_t l = 1; l < L; l++) printf("%s%g", l > 1 ? "," : "", bp_net_dropout(net, l));
        printf("],\"classes\":");
    } else {
        printf("\"dropout\":null,\"classes\":");
    }
    if (bp_net_class_name(net, 0)) {
        printf("[");
        for (size_t k = 0; k < bp_net_width(net, L); k++) {
            printf("%s", k ? "," : "");
            json_string(stdout, bp_net_class_name(net, k));
        }
        printf("]}\n");
    } else {
        printf("null}\n");
    }
}

/* The whole model in a few lines, then one line per layer. */
static void print_info_text(const bp_net *net, const char *path)
{
    size_t L = bp_net_layer_count(net);
    printf("model         %s\narchitecture  ", path);
    for (size_t l = 0; l <= L; l++) printf("%s%zu", l ? "-" : "", bp_net_width(net, l));
    printf("\nhidden        %s\noutput        %s\nloss          %s\nbiases        %s\nparameters    %zu\n",
           bp_activation_name(bp_net_hidden_activation(net)),
           bp_activation_name(bp_net_output_activation(net)), bp_loss_name(bp_net_loss_function(net)),
           bp_net_has_bias(net) ? "yes" : "no", bp_net_param_count(net));
    printf("preprocessing %s\n", bp_net_get_input_transform(net, NULL, NULL)
                                      ? "stored: inputs become (x - shift) * scale, applied by eval and predict"
                                      : "none");
    if (has_dropout(net)) {
        printf("dropout       ");
        for (size_t l = 1; l < L; l++) printf("%s%g", l > 1 ? ", " : "", bp_net_dropout(net, l));
        printf(" (hidden layers 1..%zu, while training only)\n", L - 1);
    }
    if (bp_net_class_name(net, 0)) {
        printf("classes       ");
        size_t nL = bp_net_width(net, L);
        for (size_t k = 0; k < nL && k < 20; k++) {
            /* A name with a separator, a quote, a line break or edge blanks in it is shown
               as a JSON string, so that the list stays one line and its names stay apart. */
            const char *name = bp_net_class_name(net, k);
            const size_t len = strlen(name);
            if (k) printf(", ");
            if (len == 0 || strpbrk(name, ",\"\\") || name[0] == ' ' || name[len - 1] == ' ' ||
                strcspn(name, "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14"
                              "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") < len)
                json_string(stdout, name);
            else
                fputs(name, stdout);
        }
        printf("%s\n", nL > 20 ? ", ..." : "");
    }
    printf("\n");
    printf("layer  W shape        b shape   activation  parameters\n");
    for (size_t l = 1; l <= L; l++) {
        char w[32], b[32];
        size_t n = bp_net_width(net, l), p = bp_net_width(net, l - 1);
        snprintf(w, sizeof w, "%zu x %zu", n, p);
        snprintf(b, sizeof b, "%zu", n);
        printf("%5zu  %-13s  %-8s  %-10s  %zu\n", l, w, bp_net_has_bias(net) ? b : "-",
               bp_activation_name(l == L ? bp_net_output_activation(net) : bp_net_hidden_activation(net)),
               n * p + (bp_net_has_bias(net) ? n : 0));
    }
}

static int run_info(cli_args *a)
{
    if (a->n_positional != 1) return cli_fail(a, EXIT_USAGE, "expects one MODEL file");
    const char *path = a->positional[0];
    bp_error err = {0};
    bp_net *net = NULL;
    bp_status s = bp_net_load(path, &net, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, path);
    if (cli_flag(a, "json")) print_info_json(net, path);
    else print_info_text(net, path);
    bp_net_free(net);
    return EXIT_OK;
}

const cli_command cmd_info = {
    "info", "MODEL [--json]", "show a model's architecture, shapes and parameter count",
    "Print the architecture stored in a .bpm model file: widths, activations, loss,\n"
    "and the shape of every layer's W and b.",
    info_options, sizeof info_options / sizeof info_options[0], 1, run_info};
