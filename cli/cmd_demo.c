/*
 * cmd_demo.c - `backprop demo`: train a real classifier on the data set built
 * into the program (1,797 handwritten digits, 8x8 pixels, data/README.md) and
 * show what happened, with nothing to download and no options needed.
 *
 * It is the same path `backprop train` takes (data set, split, preprocessing,
 * trainer, evaluation, plot), written out so it can be read as an example.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backprop.h"

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "plot.h"

/* The gzip-compressed CSV, compiled in by the Makefile (tools/embed.c). */
extern const unsigned char bp_digits_csv_gz[];
extern const unsigned long bp_digits_csv_gz_size;

static const cli_option demo_options[] = {
    {"epochs", "N", "passes over the training digits (default 30)"},
    {"seed", "N", "seed for the split, the weights and the shuffling (default 1)"},
    {"plot", "FILE", "where to draw the learning curves (default backprop-demo.svg; 'none' for no plot)"},
    {"o", "FILE", "also save the trained model here (.bpm)"},
};

/* An 8x8 digit as characters, darker pixels as denser glyphs. */
static void draw_digit(const float *x)
{
    static const char shades[] = " .:-=+*#%@";
    for (int r = 0; r < 8; r++) {
        printf("    ");
        for (int c = 0; c < 8; c++) {
            int v = (int)lroundf(x[r * 8 + c] * 9.0f);
            v = v < 0 ? 0 : v > 9 ? 9 : v;
            printf("%c%c", shades[v], shades[v]);
        }
        printf("\n");
    }
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* What the demo builds and measures; run_demo frees it. */
typedef struct {
    bp_dataset *all, *train, *test;
    bp_net *net;
    bp_trainer *trainer;
    double loss_curve[1000], acc_curve[1000]; /* per epoch, for the plot */
    size_t curve_n;
    bp_metrics m;                             /* on the test digits, after the last epoch */
} demo_run;

/* Steps 1 and 2: the built-in digits, and a fifth of them held out. */
static int demo_data(cli_args *a, uint64_t seed, demo_run *d)
{
    /* 1. The data: CSV text (compressed) -> a data set with one-hot targets for digits 0..9. */
    bp_csv_options csv = {BP_TARGET_CLASS, 10, -1, NULL};
    bp_error err = {0};
    bp_status s = bp_dataset_read_csv_memory(bp_digits_csv_gz, bp_digits_csv_gz_size, "digits.csv.gz",
                                             &csv, &d->all, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, "the built-in data set");
    /* 2. Hold out 20% for testing, shuffled with the seed. */
    if ((s = bp_dataset_split(d->all, 0.2, seed, &d->train, &d->test)) != BP_OK)
        return cli_fail_status(a, s, NULL, "splitting the data");
    return 0;
}

/* Steps 3 and 4: the pixels scaled, and the network and its trainer. */
static int demo_network(cli_args *a, uint64_t seed, demo_run *d)
{
    /* 3. Pixels are 0..16: scale them to [0, 1] (the model stores this). */
    float shift[64], scale[64];
    for (int i = 0; i < 64; i++) shift[i] = 0.0f, scale[i] = 1.0f / 16.0f;
    bp_dataset_apply_transform(d->train, shift, scale);
    bp_dataset_apply_transform(d->test, shift, scale);

    /* 4. A 64-64-10 network: ReLU hidden units, softmax outputs, cross-entropy. */
    size_t sizes[] = {64, 64, 10};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, seed, NULL, 0};
    bp_train_config tc = {0};
    tc.optimizer = BP_OPT_MOMENTUM;
    tc.learning_rate = 0.05;
    tc.momentum = 0.9;
    tc.batch_size = 16;
    tc.seed = seed;
    bp_error err = {0};
    bp_status s;
    if ((s = bp_net_create(&c, &d->net, &err)) != BP_OK ||
        (s = bp_net_set_input_transform(d->net, shift, scale)) != BP_OK ||
        (s = bp_trainer_create(d->net, &tc, &d->trainer)) != BP_OK)
        return cli_fail_status(a, s, &err, "setting up the demo");
    return 0;
}

/* Step 5, with the test accuracy before, after every epoch and at the end. */
static int demo_train(cli_args *a, demo_run *d, size_t epochs)
{
    printf("backprop demo: handwritten digits (8x8 pixels, 0..9), built into the program\n"
           "%zu training and %zu test images; network 64-64-10 (ReLU hidden, softmax output,\n"
           "cross-entropy loss), mini-batches of 16, gradient descent with momentum 0.9, lr 0.05.\n\n",
           bp_dataset_count(d->train), bp_dataset_count(d->test));
    bp_net_evaluate(d->net, d->test, &d->m);
    printf("before training: test loss %.4f, test accuracy %5.1f%% (a guess is right 10%% of the time)\n",
           d->m.loss, 100 * d->m.accuracy);
    double start = cli_now();
    size_t samples = 0;
    /* 5. Train: every epoch reshuffles, then forward, loss, backward and update per batch. */
    for (size_t e = 1; e <= epochs; e++) {
        bp_epoch_stats st;
        bp_status s = bp_trainer_epoch(d->trainer, d->train, &st);
        if (s != BP_OK) return cli_fail_status(a, s, NULL, "training");
        samples += st.samples;
        bp_net_evaluate(d->net, d->test, &d->m);
        if (d->curve_n < sizeof d->loss_curve / sizeof d->loss_curve[0]) {
            d->loss_curve[d->curve_n] = st.loss;
            d->acc_curve[d->curve_n++] = d->m.accuracy;
        }
        if (e <= 3 || e % 5 == 0 || e == epochs)
            printf("epoch %3zu: train loss %.4f, test loss %.4f, test accuracy %5.1f%%\n", e, st.loss,
                   d->m.loss, 100 * d->m.accuracy);
    }
    double secs = cli_now() - start;
    printf("\n%zu samples in %.2f s (%.0f samples/s)\n", samples, secs,
           (double)samples / (secs > 1e-9 ? secs : 1e-9));
    printf("held-out accuracy: %.1f%% of %zu test digits\n", 100 * d->m.accuracy, bp_dataset_count(d->test));
    return 0;
}

/* Step 6: a few test digits with what the network thinks they are. */
static void show_digits(const demo_run *d)
{
    printf("\nA few test digits and the network's answers:\n");
    const float *tx = bp_dataset_x_const(d->test), *ty = bp_dataset_y_const(d->test);
    for (size_t i = 0; i < 3 && i < bp_dataset_count(d->test); i++) {
        float p[10];
        bp_net_forward(d->net, tx + i * 64, 1, p);
        size_t guess = argmax(p, 10);
        draw_digit(tx + i * 64);
        printf("    true %zu, predicted %zu (probability %.3f)\n\n", argmax(ty + i * 10, 10), guess, p[guess]);
    }
}

/* The learning curves as an SVG file. */
static int demo_plot(cli_args *a, const demo_run *d, const char *path)
{
    plot_series series[2] = {{"train loss", d->loss_curve, d->curve_n, 0},
                             {"test accuracy", d->acc_curve, d->curve_n, 1}};
    char why[256] = "";
    if (plot_write_svg(path, "backprop demo: handwritten digits", series, 2, why, sizeof why) != 0)
        return cli_fail(a, EXIT_FAILED, "%s", why);
    printf("learning curves: %s (open it in a browser)\n", path);
    return 0;
}

/* The promise kept (or the exit status says not), the model saved, and what to try next. */
static int demo_verdict(cli_args *a, const demo_run *d, const char *out)
{
    if (d->m.accuracy < 0.96)
        return cli_fail(a, EXIT_FAILED, "held-out accuracy %.1f%% is below the 96%% this demo promises",
                        100 * d->m.accuracy);
    if (out) {
        bp_error err = {0};
        bp_status s = bp_net_save(d->net, out, &err);
        if (s != BP_OK) return cli_fail_status(a, s, &err, out);
        printf("saved %s; try: backprop info %s\n", out, out);
    }
    printf("\nNext: 'backprop explain --arch 64,64,10 --activation relu --loss ce' prints every\n"
           "equation of this network; 'backprop gradcheck' proves its gradients three ways.\n");
    return EXIT_OK;
}

static int run_demo(cli_args *a)
{
    size_t epochs = 30;
    uint64_t seed = 1;
    int code;
    if ((code = cli_size(a, "epochs", 1, 100000, &epochs)) || (code = cli_u64(a, "seed", &seed)))
        return code;
    const char *plot_path = cli_get(a, "plot") ? cli_get(a, "plot") : "backprop-demo.svg";
    if (strcmp(plot_path, "none") == 0) plot_path = NULL;

    demo_run d = {0};
    code = demo_data(a, seed, &d);
    if (!code) code = demo_network(a, seed, &d);
    if (!code) code = demo_train(a, &d, epochs);
    if (!code) {
        show_digits(&d);
        if (plot_path) code = demo_plot(a, &d, plot_path);
    }
    if (!code) code = demo_verdict(a, &d, cli_get(a, "o"));
    bp_trainer_free(d.trainer);
    bp_net_free(d.net);
    bp_dataset_free(d.all);
    bp_dataset_free(d.train);
    bp_dataset_free(d.test);
    return code;
}

const cli_command cmd_demo = {
    "demo", "[--epochs N] [--seed N] [--plot FILE] [-o FILE]",
    "train a digit classifier on the built-in data set",
    "Train a 64-64-10 network on the 1,797 handwritten digits built into the program\n"
    "(UCI / scikit-learn, CC BY 4.0; see data/README.md), report the held-out accuracy\n"
    "and draw the learning curves as an SVG file.",
    demo_options, sizeof demo_options / sizeof demo_options[0], 0, run_demo};
