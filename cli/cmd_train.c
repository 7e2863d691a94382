/*
 * cmd_train.c - `backprop train` and `backprop eval` on CSV data.
 *
 * Training is the library's bp_trainer_epoch in a loop; this file reads the
 * options, reads the data, prints one line per epoch and saves the model.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* ------------------------------------------------------------------ train */

static const cli_option train_options[] = {
    {"train", "FILE", "training data, CSV: inputs then the class label (or --targets N columns) (required)"},
    {"test", "FILE", "held-out data in the same layout, evaluated after every epoch"},
    {"targets", "N|class", "class (default): last column is a class 0..K-1; N: the last N columns are values"},
    {"hidden", "N1,N2,...", "hidden layer widths (default 16; 0 layers: --hidden none)"},
    {"activation", "NAME", "hidden activation: identity, sigmoid, tanh, relu (default), leaky-relu"},
    {"output", "NAME", "output activation (default: softmax for ce, sigmoid for bce, identity for mse)"},
    {"loss", "NAME", "ce (default for classes), mse (default for values) or bce"},
    {"no-bias", NULL, "layers without biases"},
    {"lr", "ETA", "learning rate (default 0.1)"},
    {"momentum", "MU", "momentum, 0 to <1 (default 0: plain gradient descent)"},
    {"batch", "M", "samples per step: 1 = per-sample, 0 = full batch (default 32)"},
    {"epochs", "N", "passes over the training data (default 10)"},
    {"reduction", "NAME", "mean (default) or sum of the per-sample gradients in a batch"},
    {"no-shuffle", NULL, "keep the file's order instead of reshuffling every epoch"},
    {"seed", "N", "seed for initialization and shuffling (default 1)"},
    {"o", "FILE", "save the trained model here (.bpm)"},
    {"json", NULL, "one JSON object per epoch instead of text"},
};

static int read_train_data(cli_args *a, const char *path, size_t n_classes, bp_dataset **out,
                           int *classes)
{
    const char *t = cli_get(a, "targets");
    bp_csv_options opt = {BP_TARGET_CLASS, n_classes, 0};
    *classes = 1;
    if (t && strcmp(t, "class") != 0) {
        size_t n = 0;
        int code = cli_size(a, "targets", 1, BP_MAX_WIDTH, &n);
        if (code) return code;
        opt.target = BP_TARGET_VALUES;
        opt.n_targets = n;
        *classes = 0;
    }
    bp_error err = {0};
    bp_status s = bp_dataset_read_csv(path, &opt, out, &err);
    return s == BP_OK ? 0 : cli_fail_status(a, s, &err, path);
}

static void print_epoch(int json, size_t epoch, size_t epochs, const bp_epoch_stats *st,
                        const bp_metrics *test, double rate, double elapsed)
{
    if (json) {
        printf("{\"epoch\":%zu,\"train_loss\":", epoch);
        json_double(stdout, st->loss);
        if (test) {
            printf(",\"test_loss\":");
            json_double(stdout, test->loss);
            if (test->accuracy >= 0) {
                printf(",\"test_accuracy\":");
                json_double(stdout, test->accuracy);
            } else {
                printf(",\"test_mse\":");
                json_double(stdout, test->mse);
            }
        }
        printf(",\"samples_per_second\":%.0f,\"elapsed\":%.3f}\n", rate, elapsed);
        return;
    }
    printf("epoch %*zu/%zu  train loss %.6f", epoch < 10 && epochs < 10 ? 1 : 3, epoch, epochs, st->loss);
    if (test) {
        printf("  test loss %.6f", test->loss);
        if (test->accuracy >= 0)
            printf("  test accuracy %6.2f%%", 100.0 * test->accuracy);
        else
            printf("  test mse %.6g", test->mse);
    }
    printf("  %9.0f samples/s  %.2f s\n", rate, elapsed);
}

static int run_train(cli_args *a)
{
    const char *train_path = cli_get(a, "train"), *test_path = cli_get(a, "test"),
               *out_path = cli_get(a, "o");
    if (!train_path) return cli_fail(a, EXIT_USAGE, "--train FILE is required");
    int code;
    size_t hidden[BP_MAX_LAYERS], n_hidden = 1;
    hidden[0] = 16;
    const char *hs = cli_get(a, "hidden");
    if (hs && strcmp(hs, "none") == 0)
        n_hidden = 0;
    else if (hs && (code = cli_size_list(a, "hidden", hidden, BP_MAX_LAYERS - 1, &n_hidden)))
        return code;
    bp_train_config tc = {0};
    tc.learning_rate = 0.1;
    tc.batch_size = 32;
    size_t epochs = 10;
    if ((code = cli_double(a, "lr", 0, 1e6, &tc.learning_rate)) ||
        (code = cli_double(a, "momentum", 0, 0.999999, &tc.momentum)) ||
        (code = cli_size(a, "batch", 0, (size_t)1 << 40, &tc.batch_size)) ||
        (code = cli_size(a, "epochs", 1, 1000000, &epochs)))
        return code;
    const char *rs = cli_get(a, "reduction");
    if (rs && bp_reduction_parse(rs, &tc.reduction) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "--reduction expects mean or sum, got '%s'", rs);
    tc.no_shuffle = cli_flag(a, "no-shuffle");

    bp_dataset *train = NULL, *test = NULL;
    int classes = 1;
    if ((code = read_train_data(a, train_path, 0, &train, &classes))) return code;
    size_t n_in = bp_dataset_inputs(train), n_out = bp_dataset_outputs(train);

    bp_net_config c = {0};
    if ((code = cli_net_config(a, &c, classes ? BP_LOSS_CE : BP_LOSS_MSE))) goto done;
    size_t sizes[BP_MAX_LAYERS + 1];
    sizes[0] = n_in;
    for (size_t i = 0; i < n_hidden; i++) sizes[i + 1] = hidden[i];
    sizes[n_hidden + 1] = n_out;
    c.n_layers = n_hidden + 1;
    c.sizes = sizes;
    tc.seed = c.seed;
    if (test_path) {
        int test_classes = 1;
        if ((code = read_train_data(a, test_path, classes ? n_out : 0, &test, &test_classes))) goto done;
        if (bp_dataset_inputs(test) != n_in || bp_dataset_outputs(test) != n_out) {
            code = cli_fail(a, EXIT_FAILED, "%s: %zu inputs and %zu outputs, but %s has %zu and %zu",
                            test_path, bp_dataset_inputs(test), bp_dataset_outputs(test), train_path,
                            n_in, n_out);
            goto done;
        }
    }

    bp_error err = {0};
    bp_net *net = NULL;
    bp_trainer *trainer = NULL;
    bp_status s = bp_net_create(&c, &net, &err);
    if (s != BP_OK) {
        code = cli_fail(a, s == BP_ERR_ARG ? EXIT_USAGE : EXIT_FAILED, "%s", err.message);
        goto done;
    }
    if ((s = bp_trainer_create(net, &tc, &trainer)) != BP_OK) {
        bp_net_free(net);
        code = cli_fail_status(a, s, NULL, "setting up training");
        goto done;
    }
    int json = cli_flag(a, "json");
    if (!json) {
        printf("training ");
        for (size_t l = 0; l <= c.n_layers; l++) printf("%s%zu", l ? "-" : "", sizes[l]);
        printf(" (%s hidden, %s output, %s loss) on %zu samples from %s\n", bp_activation_name(c.hidden),
               bp_activation_name(c.output), bp_loss_name(c.loss), bp_dataset_count(train), train_path);
    }
    double start = cli_now();
    code = EXIT_OK;
    for (size_t e = 1; e <= epochs; e++) {
        double t0 = cli_now();
        bp_epoch_stats st;
        s = bp_trainer_epoch(trainer, train, &st);
        double t1 = cli_now();
        if (s != BP_OK) {
            code = cli_fail(a, EXIT_FAILED, "epoch %zu: %s%s", e, bp_status_message(s),
                            s == BP_ERR_NUMERIC ? " (the loss diverged; try a smaller --lr)" : "");
            break;
        }
        bp_metrics m;
        int have_test = test && bp_net_evaluate(net, test, &m) == BP_OK;
        print_epoch(json, e, epochs, &st, have_test ? &m : NULL,
                    (double)st.samples / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9), cli_now() - start);
        fflush(stdout);
    }
    if (code == EXIT_OK && out_path) {
        s = bp_net_save(net, out_path, &err);
        if (s != BP_OK)
            code = cli_fail_status(a, s, &err, out_path);
        else if (!json)
            printf("saved %s\n", out_path);
    }
    bp_trainer_free(trainer);
    bp_net_free(net);
done:
    bp_dataset_free(train);
    bp_dataset_free(test);
    return code;
}

const cli_command cmd_train = {
    "train", "--train FILE [--test FILE] [--hidden 64,32] [options] [-o model.bpm]",
    "train a network on CSV data",
    "Train a fully connected network by backpropagation and gradient descent.\n"
    "Each CSV row holds the inputs, then either a class label 0..K-1 (the default;\n"
    "the network gets K softmax outputs and cross-entropy) or, with --targets N, N\n"
    "real-valued targets (identity outputs and mean squared error).\n"
    "--batch 1 is per-sample descent, --batch 0 full-batch descent.",
    train_options, sizeof train_options / sizeof train_options[0], 0, run_train};

/* ------------------------------------------------------------------- eval */

static const cli_option eval_options[] = {
    {"data", "FILE", "CSV data: inputs, then the class label (ce) or n_L target columns (required)"},
    {"targets", "KIND", "class or values: how to read the target columns (default from the loss)"},
    {"json", NULL, "machine-readable output"},
};

static int run_eval(cli_args *a)
{
    if (a->n_positional != 1) return cli_fail(a, EXIT_USAGE, "expects one MODEL file");
    const char *data_path = cli_get(a, "data");
    if (!data_path) return cli_fail(a, EXIT_USAGE, "--data FILE is required");
    bp_error err = {0};
    bp_net *net = NULL;
    bp_status s = bp_net_load(a->positional[0], &net, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, a->positional[0]);
    bp_dataset *data = NULL;
    int code = cli_load_data_for_net(a, data_path, net, &data);
    if (code) {
        bp_net_free(net);
        return code;
    }
    bp_metrics m;
    s = bp_net_evaluate(net, data, &m);
    if (s != BP_OK) {
        code = cli_fail_status(a, s, NULL, "evaluating");
    } else if (cli_flag(a, "json")) {
        printf("{\"samples\":%zu,\"loss\":", m.samples);
        json_double(stdout, m.loss);
        printf(",\"accuracy\":");
        if (m.accuracy >= 0) json_double(stdout, m.accuracy); else printf("null");
        printf(",\"mse\":");
        json_double(stdout, m.mse);
        printf(",\"rmse\":");
        json_double(stdout, m.mse > 0 ? sqrt(m.mse) : 0.0);
        printf("}\n");
    } else {
        printf("samples   %zu\nloss      %.6f (%s)\n", m.samples, m.loss, bp_loss_name(bp_net_loss(net)));
        if (m.accuracy >= 0) printf("accuracy  %.2f%%\n", 100.0 * m.accuracy);
        printf("mse       %.6g\nrmse      %.6g\n", m.mse, m.mse > 0 ? sqrt(m.mse) : 0.0);
    }
    bp_dataset_free(data);
    bp_net_free(net);
    return code;
}

const cli_command cmd_eval = {
    "eval", "MODEL --data FILE [--json]", "loss and accuracy (or RMSE) of a model on data",
    "Evaluate a trained model on a CSV file in the layout it was trained on:\n"
    "the loss, the accuracy for class labels, and the (root) mean squared error.",
    eval_options, sizeof eval_options / sizeof eval_options[0], 1, run_eval};
