/*
 * cmd_demo.c - `backprop demo`: train a small network on a built-in problem and
 * show what happened, with nothing to download and no options needed.
 *
 * The network is seed 001's 2-3-2 sigmoid network with the 1/2 MSE loss,
 * trained by per-sample gradient descent. The problem is made up on the spot
 * from a fixed seed: points in the unit square, labelled by whether they fall
 * inside a circle, with one-hot targets for the two outputs.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_option demo_options[] = {
    {"epochs", "N", "passes over the training points (default 60)"},
    {"seed", "N", "seed for the points, the weights and the shuffling (default 1)"},
    {"o", "FILE", "also save the trained model here (.bpm)"},
};

static void make_points(bp_dataset *d, uint64_t *state)
{
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    for (size_t i = 0; i < bp_dataset_count(d); i++) {
        float u = (float)cli_random_unit(state), v = (float)cli_random_unit(state);
        int inside = (u - 0.5f) * (u - 0.5f) + (v - 0.5f) * (v - 0.5f) < 0.3f * 0.3f;
        x[2 * i] = u;
        x[2 * i + 1] = v;
        y[2 * i] = inside ? 1.0f : 0.0f;
        y[2 * i + 1] = inside ? 0.0f : 1.0f;
    }
}

static int run_demo(cli_args *a)
{
    size_t epochs = 60;
    uint64_t seed = 1;
    int code;
    if ((code = cli_size(a, "epochs", 1, 100000, &epochs)) || (code = cli_u64(a, "seed", &seed)))
        return code;
    bp_dataset *train = NULL, *test = NULL;
    bp_net *net = NULL;
    bp_trainer *trainer = NULL;
    if (bp_dataset_create(2000, 2, 2, &train) != BP_OK || bp_dataset_create(1000, 2, 2, &test) != BP_OK) {
        bp_dataset_free(train);
        return cli_fail(a, EXIT_FAILED, "out of memory");
    }
    uint64_t state = seed;
    make_points(train, &state);
    make_points(test, &state);

    size_t sizes[] = {2, 3, 2};
    bp_net_config c = {2, sizes, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, seed};
    bp_train_config tc = {0};
    tc.learning_rate = 0.5;
    tc.batch_size = 1;
    tc.seed = seed;
    bp_error err = {0};
    bp_status s = bp_net_create(&c, &net, &err);
    if (s == BP_OK) s = bp_trainer_create(net, &tc, &trainer);
    if (s != BP_OK) {
        code = cli_fail_status(a, s, &err, "setting up the demo");
        goto done;
    }

    printf("backprop demo: seed 001's network, 2 inputs -> 3 sigmoid -> 2 sigmoid, loss 1/2 ||a - y||^2\n"
           "Task: is a point of the unit square inside the circle of radius 0.3 around its centre?\n"
           "2000 training points, 1000 test points, per-sample gradient descent, learning rate 0.5.\n\n");
    bp_metrics m;
    bp_net_evaluate(net, test, &m);
    printf("before training: test loss %.4f, test accuracy %.1f%%\n", m.loss, 100 * m.accuracy);
    double start = cli_now();
    size_t samples = 0;
    for (size_t e = 1; e <= epochs; e++) {
        bp_epoch_stats st;
        if ((s = bp_trainer_epoch(trainer, train, &st)) != BP_OK) {
            code = cli_fail_status(a, s, NULL, "training");
            goto done;
        }
        samples += st.samples;
        if (e == 1 || e % 10 == 0 || e == epochs) {
            bp_net_evaluate(net, test, &m);
            printf("epoch %3zu: train loss %.4f, test loss %.4f, test accuracy %.1f%%\n", e, st.loss,
                   m.loss, 100 * m.accuracy);
        }
    }
    double secs = cli_now() - start;
    printf("\n%zu gradient steps in %.3f s (%.0f samples/s)\n", samples, secs,
           (double)samples / (secs > 1e-9 ? secs : 1e-9));
    printf("\nThe trained weights (rows: units of the layer, columns: inputs to it):\n");
    for (size_t l = 1; l <= 2; l++) {
        float *W, *b;
        bp_net_layer(net, l, &W, &b, NULL, NULL);
        for (size_t i = 0; i < sizes[l]; i++) {
            printf("  %s", i == 0 ? (l == 1 ? "W^1 =" : "W^2 =") : "     ");
            for (size_t j = 0; j < sizes[l - 1]; j++) printf(" %8.3f", (double)W[i * sizes[l - 1] + j]);
            printf("    %s %8.3f\n", i == 0 ? (l == 1 ? "b^1 =" : "b^2 =") : "     ", (double)b[i]);
        }
    }
    const char *out = cli_get(a, "o");
    if (out) {
        if ((s = bp_net_save(net, out, &err)) != BP_OK) {
            code = cli_fail_status(a, s, &err, out);
            goto done;
        }
        printf("\nsaved %s; try: backprop explain --model %s\n", out, out);
    }
    printf("\nNext: 'backprop explain --arch 2,3,2 --activation sigmoid --output sigmoid' prints\n"
           "every equation of this network, and 'backprop gradcheck' proves its gradients.\n");
    code = m.accuracy >= 0.9 ? EXIT_OK : EXIT_FAILED;
    if (code != EXIT_OK) cli_fail(a, code, "training did not reach 90%% test accuracy");
done:
    bp_trainer_free(trainer);
    bp_net_free(net);
    bp_dataset_free(train);
    bp_dataset_free(test);
    return code;
}

const cli_command cmd_demo = {
    "demo", "[--epochs N] [--seed N] [-o FILE]", "train a small network on a built-in problem",
    "Train seed 001's 2-3-2 sigmoid network on a built-in two-class problem and\n"
    "print how loss and accuracy change, then the learned weights.",
    demo_options, sizeof demo_options / sizeof demo_options[0], 0, run_demo};
