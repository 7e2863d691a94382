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

static int run_demo(cli_args *a)
{
    size_t epochs = 30;
    uint64_t seed = 1;
    int code;
    if ((code = cli_size(a, "epochs", 1, 100000, &epochs)) || (code = cli_u64(a, "seed", &seed)))
        return code;
    const char *plot_path = cli_get(a, "plot") ? cli_get(a, "plot") : "backprop-demo.svg";
    if (strcmp(plot_path, "none") == 0) plot_path = NULL;
    const char *out = cli_get(a, "o");

    bp_dataset *all = NULL, *train = NULL, *test = NULL;
    bp_net *net = NULL;
    bp_trainer *trainer = NULL;
    bp_error err = {0};
    double loss_curve[1000], acc_curve[1000];
    size_t curve_n = 0;

    /* 1. The data: CSV text (compressed) -> a data set with one-hot targets for digits 0..9. */
    bp_csv_options csv = {BP_TARGET_CLASS, 10, -1, NULL};
    bp_status s = bp_dataset_read_csv_memory(bp_digits_csv_gz, bp_digits_csv_gz_size, "digits.csv.gz",
                                             &csv, &all, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, "the built-in data set");
    /* 2. Hold out 20% for testing, shuffled with the seed. */
    if ((s = bp_dataset_split(all, 0.2, seed, &train, &test)) != BP_OK) {
        code = cli_fail_status(a, s, NULL, "splitting the data");
        goto done;
    }
    /* 3. Pixels are 0..16: scale them to [0, 1] (the model stores this). */
    float shift[64], scale[64];
    for (int i = 0; i < 64; i++) shift[i] = 0.0f, scale[i] = 1.0f / 16.0f;
    bp_dataset_apply_transform(train, shift, scale);
    bp_dataset_apply_transform(test, shift, scale);

    /* 4. A 64-64-10 network: ReLU hidden units, softmax outputs, cross-entropy. */
    size_t sizes[] = {64, 64, 10};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, seed};
    bp_train_config tc = {0};
    tc.optimizer = BP_OPT_MOMENTUM;
    tc.learning_rate = 0.05;
    tc.momentum = 0.9;
    tc.batch_size = 16;
    tc.seed = seed;
    if ((s = bp_net_create(&c, &net, &err)) != BP_OK || (s = bp_net_set_input_transform(net, shift, scale)) != BP_OK ||
        (s = bp_trainer_create(net, &tc, &trainer)) != BP_OK) {
        code = cli_fail_status(a, s, &err, "setting up the demo");
        goto done;
    }

    printf("backprop demo: handwritten digits (8x8 pixels, 0..9), built into the program\n"
           "%zu training and %zu test images; network 64-64-10 (ReLU hidden, softmax output,\n"
           "cross-entropy loss), mini-batches of 16, gradient descent with momentum 0.9, lr 0.05.\n\n",
           bp_dataset_count(train), bp_dataset_count(test));
    bp_metrics m;
    bp_net_evaluate(net, test, &m);
    printf("before training: test loss %.4f, test accuracy %5.1f%% (a guess is right 10%% of the time)\n",
           m.loss, 100 * m.accuracy);
    double start = cli_now();
    size_t samples = 0;
    /* 5. Train: every epoch reshuffles, then forward, loss, backward and update per batch. */
    for (size_t e = 1; e <= epochs; e++) {
        bp_epoch_stats st;
        if ((s = bp_trainer_epoch(trainer, train, &st)) != BP_OK) {
            code = cli_fail_status(a, s, NULL, "training");
            goto done;
        }
        samples += st.samples;
        bp_net_evaluate(net, test, &m);
        if (curve_n < sizeof loss_curve / sizeof loss_curve[0]) {
            loss_curve[curve_n] = st.loss;
            acc_curve[curve_n++] = m.accuracy;
        }
        if (e <= 3 || e % 5 == 0 || e == epochs)
            printf("epoch %3zu: train loss %.4f, test loss %.4f, test accuracy %5.1f%%\n", e, st.loss,
                   m.loss, 100 * m.accuracy);
    }
    double secs = cli_now() - start;
    printf("\n%zu samples in %.2f s (%.0f samples/s)\n", samples, secs,
           (double)samples / (secs > 1e-9 ? secs : 1e-9));
    printf("held-out accuracy: %.1f%% of %zu test digits\n", 100 * m.accuracy, bp_dataset_count(test));

    /* 6. Show a few test digits with what the network thinks they are. */
    printf("\nA few test digits and the network's answers:\n");
    const float *tx = bp_dataset_x_const(test), *ty = bp_dataset_y_const(test);
    for (size_t i = 0; i < 3 && i < bp_dataset_count(test); i++) {
        float p[10];
        bp_net_forward(net, tx + i * 64, 1, p);
        size_t guess = argmax(p, 10);
        draw_digit(tx + i * 64);
        printf("    true %zu, predicted %zu (probability %.3f)\n\n", argmax(ty + i * 10, 10), guess, p[guess]);
    }

    if (plot_path) {
        plot_series series[2] = {{"train loss", loss_curve, curve_n, 0}, {"test accuracy", acc_curve, curve_n, 1}};
        char why[256] = "";
        if (plot_write_svg(plot_path, "backprop demo: handwritten digits", series, 2, why, sizeof why) != 0) {
            code = cli_fail(a, EXIT_FAILED, "%s", why);
            goto done;
        }
        printf("learning curves: %s (open it in a browser)\n", plot_path);
    }
    if (m.accuracy < 0.96) {
        code = cli_fail(a, EXIT_FAILED, "held-out accuracy %.1f%% is below the 96%% this demo promises",
                        100 * m.accuracy);
        goto done;
    }
    if (out) {
        if ((s = bp_net_save(net, out, &err)) != BP_OK) {
            code = cli_fail_status(a, s, &err, out);
            goto done;
        }
        printf("saved %s; try: backprop info %s\n", out, out);
    }
    printf("\nNext: 'backprop explain --arch 64,64,10 --activation relu --loss ce' prints every\n"
           "equation of this network; 'backprop gradcheck' proves its gradients three ways.\n");
    code = EXIT_OK;
done:
    bp_trainer_free(trainer);
    bp_net_free(net);
    bp_dataset_free(all);
    bp_dataset_free(train);
    bp_dataset_free(test);
    return code;
}

const cli_command cmd_demo = {
    "demo", "[--epochs N] [--seed N] [--plot FILE] [-o FILE]",
    "train a digit classifier on the built-in data set",
    "Train a 64-64-10 network on the 1,797 handwritten digits built into the program\n"
    "(UCI / scikit-learn, CC BY 4.0; see data/README.md), report the held-out accuracy\n"
    "and draw the learning curves as an SVG file.",
    demo_options, sizeof demo_options / sizeof demo_options[0], 0, run_demo};
