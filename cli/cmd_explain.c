/*
 * cmd_explain.c - `backprop explain`: the forward and backward equations of a
 * given network, with every matrix shape, in the one-sample and the
 * mini-batch form; with a model and a sample, the numbers as well.
 *
 * The equations are the ones in docs/backprop.md and each line names the
 * library function that computes it, so a reader can go from the printout to
 * the code.
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
    {"arch", "N0,...,NL", "layer widths (or take them from --model)"},
    {"activation", "NAME", "hidden activation (default relu)"},
    {"output", "NAME", "output activation (default from the loss)"},
    {"loss", "NAME", "mse (default), ce or bce"},
    {"no-bias", NULL, "layers without biases"},
    {"batch", "M", "batch size shown in the mini-batch shapes (default m)"},
    {"model", "FILE", "explain this model; with --data, print the numbers too"},
    {"data", "FILE", "CSV data for --model (inputs, then targets)"},
    {"sample", "K", "which data row to show (default 1, the first)"},
    {"targets", "KIND", "class or values: how to read --data's target columns"},
};

static const char *gname(bp_activation g) { return bp_activation_name(g); }

static void shape(char *buf, size_t size, size_t r, const char *c)
{
    snprintf(buf, size, "[%zu x %s]", r, c);
}

/* The network whose equations are printed; m is the batch size as text ("m" or a number). */
typedef struct {
    size_t L;
    const size_t *n; /* n_0 .. n_L */
    bp_activation hidden, output;
    bp_loss loss;
    int bias;
    const char *m;
} eq_network;

/* Whether delta^L is simply a^L - y: g' cancels against the loss. */
static int eq_canonical(const eq_network *q)
{
    return (q->loss == BP_LOSS_MSE && q->output == BP_ACT_IDENTITY) ||
           (q->loss == BP_LOSS_CE && q->output == BP_ACT_SOFTMAX) ||
           (q->loss == BP_LOSS_BCE && q->output == BP_ACT_SIGMOID);
}

static void print_forward(const eq_network *q)
{
    size_t L = q->L;
    const size_t *n = q->n;
    char s1[96], s2[96], s3[96];
    printf("Forward pass, one sample (column vectors; a^0 = x is %zu x 1)\n", n[0]);
    for (size_t l = 1; l <= L; l++) {
        shape(s1, sizeof s1, n[l], "1");
        snprintf(s2, sizeof s2, "[%zu x %zu]", n[l], n[l - 1]);
        shape(s3, sizeof s3, n[l - 1], "1");
        if (q->bias)
            printf("  z^%zu = W^%zu a^%zu + b^%zu          %s = %s %s + %s\n", l, l, l - 1, l, s1, s2, s3, s1);
        else
            printf("  z^%zu = W^%zu a^%zu                %s = %s %s\n", l, l, l - 1, s1, s2, s3);
        const char *g = gname(l == L ? q->output : q->hidden);
        printf("  a^%zu = %s(z^%zu)%*s%s\n", l, g, l, (int)(24 - strlen(g)), "", s1);
    }
    if (q->loss == BP_LOSS_MSE) printf("  C   = 1/2 ||a^%zu - y||^2                  scalar\n", L);
    else if (q->loss == BP_LOSS_CE) printf("  C   = -sum_i y_i log a^%zu_i                scalar\n", L);
    else printf("  C   = -sum_i [y_i log a^%zu_i + (1 - y_i) log(1 - a^%zu_i)]   scalar\n", L, L);
    printf("  (bp_dense_forward in src/core/dense.c, bp_activation_forward in\n"
           "   src/core/activation.c, bp_loss_sum in src/core/loss.c)\n\n");
}

static void print_backward(const eq_network *q)
{
    size_t L = q->L;
    const size_t *n = q->n;
    char s1[96], s2[96], s3[96], s4[96];
    printf("Backward pass, one sample (denominator layout: each gradient has the shape of\n"
           "what it differentiates)\n");
    shape(s1, sizeof s1, n[L], "1");
    if (eq_canonical(q))
        printf("  delta^%zu = a^%zu - y%*s%s   (%s + %s: g' cancels against the loss)\n", L, L, 22, "",
               s1, gname(q->output), bp_loss_name(q->loss));
    else if (q->output == BP_ACT_SOFTMAX)
        printf("  delta^%zu = J_softmax^T (a^%zu - y),  J = diag(a) - a a^T   %s\n", L, L, s1);
    else
        printf("  delta^%zu = (a^%zu - y) (.) %s'(z^%zu)%*s%s   (general case: grad_a C (.) g'(z))\n",
               L, L, gname(q->output), L, (int)(14 - strlen(gname(q->output))), "", s1);
    printf("  (bp_loss_delta in src/core/loss.c)\n");
    for (size_t l = L; l >= 1; l--) {
        snprintf(s1, sizeof s1, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s2, sizeof s2, "[%zu x 1]", n[l]);
        snprintf(s3, sizeof s3, "[1 x %zu]", n[l - 1]);
        printf("  dC/dW^%zu = delta^%zu (a^%zu)^T              %s = %s %s\n", l, l, l - 1, s1, s2, s3);
        if (q->bias) printf("  dC/db^%zu = delta^%zu                       %s\n", l, l, s2);
        if (l > 1) {
            snprintf(s3, sizeof s3, "[%zu x 1]", n[l - 1]);
            snprintf(s4, sizeof s4, "[%zu x %zu]", n[l - 1], n[l]);
            printf("  delta^%zu = (W^%zu)^T delta^%zu (.) %s'(z^%zu)   %s = %s %s (.) %s\n", l - 1, l, l,
                   gname(q->hidden), l - 1, s3, s4, s2, s3);
        }
    }
    printf("  (bp_dense_gradient and bp_dense_backward_delta in src/core/dense.c; the (.) g'\n"
           "   is applied as the product is written, in bp_gemm_ex's epilogue, src/kernels/gemm.c)\n\n");
}

static void print_minibatch(const eq_network *q)
{
    size_t L = q->L;
    const size_t *n = q->n;
    const char *m = q->m;
    char s1[96], s2[96], s3[96];
    printf("Mini-batch of %s samples as columns (A^0 = X is %zu x %s)\n", m, n[0], m);
    for (size_t l = 1; l <= L; l++) {
        snprintf(s1, sizeof s1, "[%zu x %s]", n[l], m);
        snprintf(s2, sizeof s2, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s3, sizeof s3, "[%zu x %s]", n[l - 1], m);
        char bterm[48] = "";
        if (q->bias) snprintf(bterm, sizeof bterm, " + b^%zu 1^T", l);
        printf("  Z^%zu = W^%zu A^%zu%s   %s = %s %s%s\n", l, l, l - 1, bterm, s1, s2, s3,
               q->bias ? " + broadcast b" : "");
    }
    printf("  Delta^%zu = A^%zu - Y%s    [%zu x %s]\n", L, L, eq_canonical(q) ? "" : " through g'(Z) as above",
           n[L], m);
    for (size_t l = L; l >= 1; l--) {
        snprintf(s1, sizeof s1, "[%zu x %zu]", n[l], n[l - 1]);
        snprintf(s2, sizeof s2, "[%zu x %s]", n[l], m);
        snprintf(s3, sizeof s3, "[%s x %zu]", m, n[l - 1]);
        printf("  dC/dW^%zu = (1/m) Delta^%zu (A^%zu)^T        %s = %s %s\n", l, l, l - 1, s1, s2, s3);
        if (q->bias) printf("  dC/db^%zu = (1/m) Delta^%zu 1  (row means)  [%zu x 1]\n", l, l, n[l]);
        if (l > 1)
            printf("  Delta^%zu = (W^%zu)^T Delta^%zu (.) %s'(Z^%zu)  [%zu x %s]\n", l - 1, l, l,
                   gname(q->hidden), l - 1, n[l - 1], m);
    }
    printf("  (--reduction sum drops the 1/m, as in seed 003)\n\n");
}

static void print_equations(size_t L, const size_t *n, bp_activation hidden, bp_activation output,
                            bp_loss loss, int bias, const char *m)
{
    eq_network q = {L, n, hidden, output, loss, bias, m};
    printf("Network ");
    for (size_t l = 0; l <= L; l++) printf("%s%zu", l ? "-" : "", n[l]);
    printf(": hidden %s, output %s, loss %s, %s\n\n", gname(hidden), gname(output),
           bp_loss_name(loss), bias ? "with biases" : "no biases (z = W a)");
    print_forward(&q);
    print_backward(&q);
    print_minibatch(&q);
    printf("Gradient descent step, every layer l\n"
           "  W^l <- W^l - eta dC/dW^l,   b^l <- b^l - eta dC/db^l   (bp_sgd_update in src/core/optimizer.c)\n");
}

static void print_matrix(const char *name, const float *v, size_t rows, size_t cols)
{
    printf("  %s  [%zu x %zu]\n", name, rows, cols);
    for (size_t r = 0; r < rows; r++) {
        printf("    ");
        for (size_t c = 0; c < cols; c++) printf("%s%11.6g", c ? " " : "", (double)v[r * cols + c]);
        printf("\n");
    }
}

/* Print the numbers of one sample: run forward and backward with m = 1 and read
   every layer's z^l, a^l and gradients back through the public API. */
static int print_numbers(cli_args *a, bp_net *net, const bp_dataset *data, size_t k)
{
    size_t L = bp_net_layer_count(net), n0 = bp_net_width(net, 0), nL = bp_net_width(net, L);
    const float *x = bp_dataset_x_const(data) + k * n0, *y = bp_dataset_y_const(data) + k * nL;
    double loss = 0;
    bp_status s = bp_net_backward(net, x, y, 1, BP_REDUCE_MEAN, &loss);
    if (s != BP_OK) return cli_fail_status(a, s, NULL, "backward pass");
    printf("\nThe numbers for data row %zu (vectors printed as rows)\n", k + 1);
    print_matrix("x = a^0", x, 1, n0);
    print_matrix("y", y, 1, nL);
    char name[128];
    for (size_t l = 1; l <= L; l++) {
        float *W, *b;
        const float *z, *act;
        bp_net_layer_view(net, l, &W, &b, NULL, NULL);
        bp_net_layer_activations(net, l, &z, &act);
        size_t n = bp_net_width(net, l), p = bp_net_width(net, l - 1);
        bp_activation g = l == L ? bp_net_output_activation(net) : bp_net_hidden_activation(net);
        snprintf(name, sizeof name, "W^%zu", l);
        print_matrix(name, W, n, p);
        if (b) {
            snprintf(name, sizeof name, "b^%zu", l);
            print_matrix(name, b, 1, n);
        }
        /* Hidden layers keep only a^l: recompute z^l = W^l a^(l-1) + b^l for the display. */
        float zbuf[4096];
        if (!z && n <= sizeof zbuf / sizeof zbuf[0]) {
            const float *prev = x;
            if (l > 1) bp_net_layer_activations(net, l - 1, NULL, &prev);
            for (size_t i = 0; i < n; i++) {
                double v = b ? b[i] : 0.0;
                for (size_t j = 0; j < p; j++) v += (double)W[i * p + j] * prev[j];
                zbuf[i] = (float)v;
            }
            z = zbuf;
        }
        snprintf(name, sizeof name, "z^%zu = W^%zu a^%zu%s", l, l, l - 1, b ? " + b" : "");
        if (z) print_matrix(name, z, 1, n);
        snprintf(name, sizeof name, "a^%zu = %s(z^%zu)", l, gname(g), l);
        print_matrix(name, act, 1, n);
    }
    printf("  C = %.9g\n", loss);
    for (size_t l = L; l >= 1; l--) {
        float *gW, *gb;
        bp_net_layer_view(net, l, NULL, NULL, &gW, &gb);
        size_t n = bp_net_width(net, l), p = bp_net_width(net, l - 1);
        if (gb) {
            snprintf(name, sizeof name, "delta^%zu = dC/db^%zu", l, l);
            print_matrix(name, gb, 1, n);
        }
        snprintf(name, sizeof name, "dC/dW^%zu = delta^%zu (a^%zu)^T", l, l, l - 1);
        print_matrix(name, gW, n, p);
    }
    return EXIT_OK;
}

static int run_explain(cli_args *a)
{
    size_t sizes[BP_MAX_LAYERS + 1], count = 0;
    int code;
    const char *model = cli_get(a, "model"), *data_path = cli_get(a, "data");
    const char *m = cli_get(a, "batch") ? cli_get(a, "batch") : "m";
    size_t batch_check;
    if ((code = cli_size(a, "batch", 1, (size_t)1 << 40, &batch_check))) return code;
    if (data_path && !model) return cli_fail(a, EXIT_USAGE, "--data needs --model");
    if (model) {
        bp_error err = {0};
        bp_net *net = NULL;
        bp_status s = bp_net_load(model, &net, &err);
        if (s != BP_OK) return cli_fail_status(a, s, &err, model);
        size_t L = bp_net_layer_count(net);
        for (size_t l = 0; l <= L; l++) sizes[l] = bp_net_width(net, l);
        /* Read and check the data first: an error must not follow a page of equations. */
        bp_dataset *data = NULL;
        size_t k = 1;
        code = EXIT_OK;
        if (data_path) {
            if ((code = cli_size(a, "sample", 1, (size_t)1 << 40, &k)) == 0 &&
                (code = cli_load_data_for_net(a, data_path, cli_get(a, "labels"), net, 0, &data)) == 0 &&
                k > bp_dataset_count(data))
                code = cli_fail(a, EXIT_USAGE, "--sample %zu: %s has %zu data rows", k, data_path,
                                bp_dataset_count(data));
        }
        if (code == EXIT_OK) {
            print_equations(L, sizes, bp_net_hidden_activation(net), bp_net_output_activation(net),
                            bp_net_loss_function(net), bp_net_has_bias(net), m);
            if (data) code = print_numbers(a, net, data, k - 1);
        }
        bp_dataset_free(data);
        bp_net_free(net);
        return code;
    }
    if (!cli_get(a, "arch")) return cli_fail(a, EXIT_USAGE, "give --arch 2,3,2 or --model FILE");
    if ((code = cli_size_list(a, "arch", sizes, BP_MAX_LAYERS + 1, &count))) return code;
    if (count < 2) return cli_fail(a, EXIT_USAGE, "--arch needs at least two widths");
    bp_net_config c = {0};
    if ((code = cli_net_config(a, &c, BP_LOSS_MSE))) return code;
    c.n_layers = count - 1;
    c.sizes = sizes;
    bp_error err = {0};
    if (bp_net_config_check(&c, &err) != BP_OK) return cli_fail(a, EXIT_USAGE, "%s", err.message);
    print_equations(c.n_layers, sizes, c.hidden, c.output, c.loss, c.bias, m);
    return EXIT_OK;
}

const cli_command cmd_explain = {
    "explain", "--arch 2,3,2 [options] | --model FILE [--data FILE --sample K]",
    "print a network's forward and backward equations with shapes",
    "Write out every equation of backpropagation for the given network: the forward\n"
    "pass, the loss, delta^L, the backward recursion and the weight gradients, for one\n"
    "sample and for a mini-batch, each with its matrix shapes and the function that\n"
    "computes it. With --model and --data it also prints the actual numbers for one sample.",
    explain_options, sizeof explain_options / sizeof explain_options[0], 0, run_explain};
