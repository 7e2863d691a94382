/*
 * cmd_grad.c - the gradient commands: grad (one batch's loss and gradients from
 * a model and data) and gradcheck (backprop against the Jacobian reference and
 * finite differences on random networks).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "backprop_verify.h"

#include "args.h"
#include "commands.h"
#include "data.h"
#include "json.h"

/* ------------------------------------------------------------------- grad */

static const cli_option grad_options[] = {
    {"labels", "FILE", "IDX labels file, when --data is an IDX images file"},
    {"format", "FMT", "data format: auto (default), csv, idx or fann"},
    {"data", "FILE", "data: CSV (inputs, then the class label or n_L target columns), IDX or FANN (required)"},
    {"samples", "N", "use only the first N samples (default: all)"},
    {"reduction", "NAME", "mean (default) or sum over the samples"},
    {"targets", "KIND", "class or values: how to read the target columns (default from the loss)"},
    {"json", NULL, "print loss, W, b, dW and db of every layer as JSON, at full float precision"},
};

/* Every layer's W, b, dW and db in full, as JSON. */
static void print_grad_json(bp_net *net, double loss, size_t m, bp_reduction red)
{
    size_t L = bp_net_layer_count(net);
    printf("{\"loss\":");
    json_double(stdout, loss);
    printf(",\"samples\":%zu,\"reduction\":\"%s\",\"sizes\":[", m, bp_reduction_name(red));
    for (size_t l = 0; l <= L; l++) printf("%s%zu", l ? "," : "", bp_net_width(net, l));
    printf("],\"hidden\":\"%s\",\"output\":\"%s\",\"loss_function\":\"%s\",\"bias\":%s,\"layers\":[",
           bp_activation_name(bp_net_hidden_activation(net)),
           bp_activation_name(bp_net_output_activation(net)), bp_loss_name(bp_net_loss_function(net)),
           bp_net_has_bias(net) ? "true" : "false");
    for (size_t l = 1; l <= L; l++) {
        float *W, *b, *gW, *gb;
        bp_net_layer_view(net, l, &W, &b, &gW, &gb);
        size_t rows = bp_net_width(net, l), cols = bp_net_width(net, l - 1);
        printf("%s\n{\"layer\":%zu,\"rows\":%zu,\"cols\":%zu,\"W\":", l > 1 ? "," : "", l, rows, cols);
        json_float_matrix(stdout, W, rows, cols);
        printf(",\"b\":");
        if (b) json_float_array(stdout, b, rows); else printf("null");
        printf(",\"dW\":");
        json_float_matrix(stdout, gW, rows, cols);
        printf(",\"db\":");
        if (gb) json_float_array(stdout, gb, rows); else printf("null");
        printf("}");
    }
    printf("]}\n");
}

/* The loss and each layer's gradient norms. */
static void print_grad_text(bp_net *net, double loss, size_t m, bp_reduction red)
{
    printf("loss %.9g (%s over %zu samples)\n", loss, bp_reduction_name(red), m);
    printf("layer  dC/dW shape    |dC/dW|          |dC/db|\n");
    for (size_t l = 1; l <= bp_net_layer_count(net); l++) {
        float *gW, *gb;
        bp_net_layer_view(net, l, NULL, NULL, &gW, &gb);
        size_t rows = bp_net_width(net, l), cols = bp_net_width(net, l - 1);
        double nw = 0, nb = 0;
        for (size_t i = 0; i < rows * cols; i++) nw += (double)gW[i] * gW[i];
        for (size_t i = 0; gb && i < rows; i++) nb += (double)gb[i] * gb[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%zu x %zu", rows, cols);
        printf("%5zu  %-13s  %-15.9g  ", l, shape, sqrt(nw));
        if (gb) printf("%.9g\n", sqrt(nb)); else printf("-\n");
    }
    printf("(--json prints every value)\n");
}

static int run_grad(cli_args *a)
{
    if (a->n_positional != 1) return cli_fail(a, EXIT_USAGE, "expects one MODEL file");
    const char *data_path = cli_get(a, "data");
    if (!data_path) return cli_fail(a, EXIT_USAGE, "--data FILE is required");
    bp_reduction red = BP_REDUCE_MEAN;
    const char *rs = cli_get(a, "reduction");
    if (rs && bp_reduction_parse(rs, &red) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "--reduction expects mean or sum, got '%s'", rs);
    size_t samples = 0;
    int code = cli_size(a, "samples", 1, (size_t)1 << 40, &samples);
    if (code) return code;

    bp_error err = {0};
    bp_net *net = NULL;
    bp_status s = bp_net_load(a->positional[0], &net, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, a->positional[0]);
    bp_dataset *data = NULL;
    if ((code = cli_load_data_for_net(a, data_path, cli_get(a, "labels"), net, 0, &data))) {
        bp_net_free(net);
        return code;
    }
    size_t m = bp_dataset_count(data);
    if (samples && samples < m) m = samples;
    double loss = 0.0;
    s = bp_net_backward(net, bp_dataset_x_const(data), bp_dataset_y_const(data), m, red, &loss);
    if (s != BP_OK) {
        code = cli_fail_status(a, s, NULL, "computing the gradient");
    } else {
        if (cli_flag(a, "json")) print_grad_json(net, loss, m, red);
        else print_grad_text(net, loss, m, red);
        code = EXIT_OK;
    }
    bp_net_free(net);
    bp_dataset_free(data);
    return code;
}

const cli_command cmd_grad = {
    "grad", "MODEL --data FILE [--samples N] [--json]", "print a batch's loss and every gradient",
    "Run forward and backward over the samples of a data file as one batch and print\n"
    "the loss and the gradients dC/dW, dC/db of every layer. With --json the weights and\n"
    "gradients are printed in full, so they can be compared with any other framework\n"
    "(tests/torch_compare.py does this with PyTorch).",
    grad_options, sizeof grad_options / sizeof grad_options[0], 1, run_grad};

/* -------------------------------------------------------------- gradcheck */

static const cli_option gradcheck_options[] = {
    {"arch", "N0,...,NL", "layer widths (default 3,5,4,3)"},
    {"activation", "NAME", "hidden activation (default: all of them)"},
    {"output", "NAME", "output activation (default: every one that fits the loss)"},
    {"loss", "NAME", "mse, ce or bce (default: all)"},
    {"no-bias", NULL, "only networks without biases (default: both)"},
    {"bias", NULL, "only networks with biases (default: both)"},
    {"batch", "M", "samples per batch (default 4)"},
    {"reduction", "NAME", "mean (default) or sum"},
    {"seed", "N", "seed for weights and data (default 1)"},
    {"step", "H", "finite-difference step (default 1e-6)"},
    {"dropout", "P[,P2,...]", "check with dropout: one fixed random mask (from --seed) for the three ways"},
    {"json", NULL, "machine-readable output"},
};

#define GC_REF_FD_TOL 1e-7
#define GC_BP_REF_TOL 1e-4

typedef struct {
    double ref_fd, bp_ref, scale;
    int ok;
} gc_result;

/* The made-up data's generator: splitmix64, small and fully determined by the seed. */
static uint64_t gc_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double gc_random_unit(uint64_t *state) { return (double)(gc_random(state) >> 11) * 0x1.0p-53; } /* [0, 1) */

/* Worst relative error over the parameter blocks (each W^l and b^l on its own scale). */
static double blockwise_error(const bp_net *net, const double *x, const double *y)
{
    double worst = 0.0;
    size_t off = 0;
    for (size_t l = 1; l <= bp_net_layer_count(net); l++) {
        size_t n = bp_net_width(net, l), w = n * bp_net_width(net, l - 1);
        double e = bp_relative_error(x + off, y + off, w);
        worst = e > worst ? e : worst;
        off += w;
        if (bp_net_has_bias(net)) {
            e = bp_relative_error(x + off, y + off, n);
            worst = e > worst ? e : worst;
            off += n;
        }
    }
    return worst;
}

static bp_status check_one(const bp_net_config *c, size_t m, bp_reduction red, double h,
                           gc_result *r)
{
    bp_net *net = NULL;
    bp_status s = bp_net_create(c, &net, NULL);
    if (s != BP_OK) return s;
    size_t n0 = c->sizes[0], nL = c->sizes[c->n_layers], P = bp_net_param_count(net);
    if (m == 0 || n0 == 0 || nL == 0) { /* ruled out by cli_size and bp_net_create */
        bp_net_free(net);
        return BP_ERR_ARG;
    }
    uint64_t st = c->seed * 7919 + 17;
    /* Random biases too, so their gradients are not checked only at zero. */
    for (size_t l = 1; l <= c->n_layers && c->bias; l++) {
        float *b;
        bp_net_layer_view(net, l, NULL, &b, NULL, NULL);
        for (size_t i = 0; i < c->sizes[l]; i++) b[i] = (float)(gc_random_unit(&st) - 0.5);
    }
    float *x = malloc(m * n0 * sizeof(float)), *y = calloc(m * nL, sizeof(float));
    double *g_bp = malloc(P * sizeof(double)), *g_ref = malloc(P * sizeof(double)),
           *g_fd = malloc(P * sizeof(double));
    if (!x || !y || !g_bp || !g_ref || !g_fd) {
        s = BP_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < m * n0; i++) x[i] = (float)(2.0 * gc_random_unit(&st) - 1.0);
    for (size_t k = 0; k < m; k++) {
        float *t = y + k * nL;
        if (c->loss == BP_LOSS_CE)
            t[gc_random(&st) % nL] = 1.0f;
        else if (c->loss == BP_LOSS_BCE || c->output == BP_ACT_SIGMOID || c->output == BP_ACT_SOFTMAX)
            for (size_t i = 0; i < nL; i++) t[i] = (float)gc_random_unit(&st);
        else
            for (size_t i = 0; i < nL; i++) t[i] = (float)(2.0 * gc_random_unit(&st) - 1.0);
    }
    if (c->dropout) {
        /* One fixed mask, 0 or 1 / (1 - p) per hidden unit and sample, that all three
           ways apply (bp_net_set_dropout_mask). */
        size_t count = 0;
        for (size_t l = 1; l < c->n_layers; l++) count += m * c->sizes[l];
        float *mask = malloc((count ? count : 1) * sizeof(float));
        if (!mask) {
            s = BP_ERR_NOMEM;
            goto done;
        }
        for (size_t l = 1, k = 0; l < c->n_layers; l++)
            for (size_t i = 0; i < m * c->sizes[l]; i++, k++)
                mask[k] = gc_random_unit(&st) < c->dropout[l - 1] ? 0.0f : (float)(1.0 / (1.0 - c->dropout[l - 1]));
        s = bp_net_set_dropout_mask(net, mask, m);
        free(mask);
        if (s != BP_OK) goto done;
    }
    double loss = 0;
    if ((s = bp_net_backward(net, x, y, m, red, &loss)) != BP_OK) goto done;
    const float *g = bp_net_grads(net);
    for (size_t i = 0; i < P; i++) g_bp[i] = g[i];
    if ((s = bp_reference_gradient(net, x, y, m, red, NULL, g_ref)) != BP_OK) goto done;
    if ((s = bp_finite_difference_gradient(net, x, y, m, red, h, g_fd)) != BP_OK) goto done;
    r->ref_fd = blockwise_error(net, g_ref, g_fd);
    r->bp_ref = blockwise_error(net, g_bp, g_ref);
    r->scale = 0;
    for (size_t i = 0; i < P; i++) r->scale = fabs(g_ref[i]) > r->scale ? fabs(g_ref[i]) : r->scale;
    /* An all-zero gradient would agree with anything: it fails the check. */
    r->ok = r->ref_fd <= GC_REF_FD_TOL && r->bp_ref <= GC_BP_REF_TOL && r->scale > 0;
done:
    free(x), free(y), free(g_bp), free(g_ref), free(g_fd);
    bp_net_free(net);
    return s;
}

/* What to check: one architecture, batch and step, and the lists the sweep
   runs over (every value unless an option pinned one down). */
typedef struct {
    size_t sizes[BP_MAX_LAYERS + 1], count, m;
    uint64_t seed;
    double h;
    bp_reduction red;
    bp_activation hidden[5];
    size_t n_hidden;
    bp_activation output; /* the only output activation, when output_pinned */
    int output_pinned;
    bp_loss loss[3];
    size_t n_loss;
    int bias[2], n_bias;
    int json;
    double dropout[BP_MAX_LAYERS]; /* --dropout per hidden layer; used when has_dropout */
    int has_dropout;
} gc_plan;

/* --arch, --batch, --seed, --step and --reduction. */
static int gc_parse_numbers(cli_args *a, gc_plan *g)
{
    int code;
    if (cli_get(a, "arch") && (code = cli_size_list(a, "arch", g->sizes, BP_MAX_LAYERS + 1, &g->count)))
        return code;
    if (g->count < 2) return cli_fail(a, EXIT_USAGE, "--arch needs at least two widths");
    if ((code = cli_size(a, "batch", 1, 1 << 20, &g->m))) return code;
    if ((code = cli_u64(a, "seed", &g->seed))) return code;
    if ((code = cli_double(a, "step", 1e-12, 1.0, &g->h))) return code;
    const char *rs = cli_get(a, "reduction");
    if (rs && bp_reduction_parse(rs, &g->red) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "--reduction expects mean or sum, got '%s'", rs);
    return 0;
}

/* The sweep: every hidden activation, output, loss and bias setting, less what
   --activation, --output, --loss, --bias or --no-bias pin down. */
static int gc_parse_sweep(cli_args *a, gc_plan *g)
{
    const bp_activation hidden[5] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU, BP_ACT_LEAKY_RELU};
    memcpy(g->hidden, hidden, sizeof hidden);
    g->n_hidden = 5;
    const char *v;
    if ((v = cli_get(a, "activation"))) {
        if (bp_activation_parse(v, &g->hidden[0]) != BP_OK || g->hidden[0] == BP_ACT_SOFTMAX)
            return cli_fail(a, EXIT_USAGE, "unknown hidden activation '%s'", v);
        g->n_hidden = 1;
    }
    g->output = BP_ACT_IDENTITY;
    if ((v = cli_get(a, "output"))) {
        if (bp_activation_parse(v, &g->output) != BP_OK)
            return cli_fail(a, EXIT_USAGE, "unknown output activation '%s'", v);
        g->output_pinned = 1;
    }
    const bp_loss loss[3] = {BP_LOSS_MSE, BP_LOSS_CE, BP_LOSS_BCE};
    memcpy(g->loss, loss, sizeof loss);
    g->n_loss = 3;
    if ((v = cli_get(a, "loss"))) {
        if (bp_loss_parse(v, &g->loss[0]) != BP_OK) return cli_fail(a, EXIT_USAGE, "unknown loss '%s'", v);
        g->n_loss = 1;
    }
    g->bias[0] = 1, g->bias[1] = 0, g->n_bias = 2;
    if (cli_flag(a, "no-bias") && cli_flag(a, "bias"))
        return cli_fail(a, EXIT_USAGE, "--bias and --no-bias contradict each other");
    if (cli_flag(a, "no-bias")) g->bias[0] = 0, g->n_bias = 1;
    if (cli_flag(a, "bias")) g->n_bias = 1;
    return cli_dropout(a, g->count - 2, g->dropout, &g->has_dropout);
}

/* Every pinned combination checked before anything is printed, so that a bad
   pairing is a clean usage error. */
static int gc_check_pinned(cli_args *a, const gc_plan *g)
{
    for (size_t li = 0; li < g->n_loss; li++)
        for (size_t hi = 0; hi < g->n_hidden && g->output_pinned; hi++) {
            bp_net_config c = {g->count - 1, g->sizes, g->hidden[hi], g->output, g->loss[li], 1, g->seed, NULL, 0};
            bp_error err = {0};
            if (bp_net_config_check(&c, &err) != BP_OK) return cli_fail(a, EXIT_USAGE, "%s", err.message);
        }
    if (!g->output_pinned && g->sizes[g->count - 1] < 2 && g->n_loss == 1 && g->loss[0] == BP_LOSS_CE)
        return cli_fail(a, EXIT_USAGE, "a softmax output needs at least 2 units");
    return 0;
}

static void gc_print_header(const gc_plan *g)
{
    if (g->json)
        printf("{\"tolerance\":{\"reference_vs_fd\":%g,\"backprop_vs_reference\":%g},\"checks\":[",
               GC_REF_FD_TOL, GC_BP_REF_TOL);
    else
        printf("gradient check: %zu-layer network, batch %zu, %s reduction, step %g%s\n"
               "pass: reference vs finite differences <= %g, float32 backprop vs reference <= %g\n\n"
               "%-10s %-10s %-4s %-4s  %-12s %-12s %s\n",
               g->count - 1, g->m, bp_reduction_name(g->red), g->h, g->has_dropout ? ", one fixed dropout mask" : "",
               GC_REF_FD_TOL, GC_BP_REF_TOL, "hidden",
               "output", "loss", "bias", "ref vs fd", "bp vs ref", "result");
}

/* One combination's result; index counts from 1. */
static void gc_print_result(int json, const bp_net_config *c, const gc_result *r, size_t index)
{
    if (json) {
        printf("%s\n{\"hidden\":\"%s\",\"output\":\"%s\",\"loss\":\"%s\",\"bias\":%s,\"reference_vs_fd\":",
               index > 1 ? "," : "", bp_activation_name(c->hidden), bp_activation_name(c->output),
               bp_loss_name(c->loss), c->bias ? "true" : "false");
        json_double(stdout, r->ref_fd);
        printf(",\"backprop_vs_reference\":");
        json_double(stdout, r->bp_ref);
        printf(",\"gradient_scale\":");
        json_double(stdout, r->scale);
        printf(",\"pass\":%s}", r->ok ? "true" : "false");
    } else {
        printf("%-10s %-10s %-4s %-4s  %-12.3e %-12.3e %s\n", bp_activation_name(c->hidden),
               bp_activation_name(c->output), bp_loss_name(c->loss), c->bias ? "yes" : "no", r->ref_fd, r->bp_ref,
               r->ok ? "ok" : r->scale > 0 ? "FAIL" : "FAIL (zero gradient)");
    }
}

/* Check one combination and print its line; *total and *failed count them. */
static int gc_check_combination(cli_args *a, const gc_plan *g, bp_net_config c, size_t *total, size_t *failed)
{
    bp_error err = {0};
    if (bp_net_config_check(&c, &err) != BP_OK) return cli_fail(a, EXIT_USAGE, "%s", err.message);
    gc_result r = {0};
    /* A ReLU layer can come out dead for one random draw, leaving an all-zero
       gradient that proves nothing: draw again (a few times at most). */
    for (int attempt = 0; attempt < 20; attempt++, c.seed += 1000003) {
        bp_status s = check_one(&c, g->m, g->red, g->h, &r);
        if (s != BP_OK) return cli_fail_status(a, s, NULL, "gradient check");
        if (r.scale > 0) break;
    }
    (*total)++;
    *failed += !r.ok;
    gc_print_result(g->json, &c, &r, *total);
    return 0;
}

/* Every combination of the sweep; only the output/loss pairs the library accepts
   unless the output is pinned (ce needs softmax, bce needs sigmoid). */
static int gc_sweep(cli_args *a, const gc_plan *g, size_t *total, size_t *failed)
{
    for (size_t li = 0; li < g->n_loss; li++)
        for (int oi = BP_ACT_IDENTITY; oi <= BP_ACT_SOFTMAX; oi++) {
            bp_activation out = g->output_pinned ? g->output : (bp_activation)oi;
            if (g->output_pinned && oi != BP_ACT_IDENTITY) break;
            bp_loss loss = g->loss[li];
            if (!g->output_pinned && ((loss == BP_LOSS_CE && out != BP_ACT_SOFTMAX) ||
                                      (loss == BP_LOSS_BCE && out != BP_ACT_SIGMOID)))
                continue;
            for (size_t hi = 0; hi < g->n_hidden; hi++)
                for (int bi = 0; bi < g->n_bias; bi++) {
                    bp_net_config c = {g->count - 1, g->sizes, g->hidden[hi], out, loss, g->bias[bi], g->seed + *total,
                                       g->has_dropout ? g->dropout : NULL, 0};
                    int code = gc_check_combination(a, g, c, total, failed);
                    if (code) return code;
                }
        }
    return 0;
}

static int run_gradcheck(cli_args *a)
{
    gc_plan g = {.sizes = {3, 5, 4, 3}, .count = 4, .m = 4, .seed = 1, .h = 1e-6, .red = BP_REDUCE_MEAN};
    int code;
    if ((code = gc_parse_numbers(a, &g)) || (code = gc_parse_sweep(a, &g)) || (code = gc_check_pinned(a, &g)))
        return code;
    g.json = cli_flag(a, "json");
    gc_print_header(&g);
    size_t total = 0, failed = 0;
    if ((code = gc_sweep(a, &g, &total, &failed))) return code;
    if (g.json)
        printf("\n],\"checked\":%zu,\"failed\":%zu}\n", total, failed);
    else
        printf("\n%zu combinations checked, %zu failed\n", total, failed);
    if (failed) return cli_fail(a, EXIT_FAILED, "%zu of %zu combinations failed the gradient check", failed, total);
    return EXIT_OK;
}

const cli_command cmd_gradcheck = {
    "gradcheck", "[--arch 2,3,2] [--activation A] [--output G] [--loss L] [...]",
    "prove the gradients three ways on random networks",
    "Build random networks and data and compute every gradient three independent ways:\n"
    "float32 backpropagation, an extended-precision reference that multiplies explicit\n"
    "Jacobians along the chain rule, and central finite differences of the loss.\n"
    "Errors are max |difference| / max |gradient| within each W^l and b^l.\n"
    "Without --activation/--output/--loss/--bias it checks every combination.\n"
    "Exit status 1 if any check fails.",
    gradcheck_options, sizeof gradcheck_options / sizeof gradcheck_options[0], 0, run_gradcheck};
