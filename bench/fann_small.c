/*
 * fann_small.c - FANN 2.2 (floatfann) with its own defaults on one small
 * tabular data set, for bench/small_sets.py: full-batch iRPROP-
 * (FANN_TRAIN_RPROP, FANN's default algorithm and error function), the
 * hidden layers given, symmetric sigmoid (tanh) hidden units and sigmoid
 * outputs over one-hot classes, weights from srand(seed) and
 * fann_randomize_weights in [-0.1, 0.1] (FANN's own default range).
 *
 *   fann_small TRAIN.fann TEST.fann --hidden 16[,8] --epochs 500 --seed S
 *
 * Prints one JSON line with the test accuracy (argmax of the outputs against
 * argmax of the one-hot targets).
 *
 * For the ablation in bench/small_sets.py, three of FANN's defaults can be set
 * to what backprop does instead (FANN's own value in brackets):
 *   --error linear      back-propagate y - a (FANN_ERRORFUNC_LINEAR) [tanh:
 *                       2 atanh(y - a), FANN_ERRORFUNC_TANH]
 *   --steepness S       hidden units compute tanh(S z) [0.5]
 *   --init R            weights and biases uniform in [-R, R] [0.1]
 */
#include <floatfann.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

static const char *prog = "fann_small";

/* A positive number for --steepness and --init (benchmark arguments: strtod is fine here). */
static double positive(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v > 0)) bench_die(prog, "expected a positive number");
    return v;
}

static double accuracy(struct fann *ann, struct fann_train_data *d)
{
    unsigned correct = 0, n = fann_length_train_data(d), k = fann_num_output_train_data(d);
    for (unsigned s = 0; s < n; s++) {
        fann_type *out = fann_run(ann, d->input[s]);
        unsigned best = 0, want = 0;
        for (unsigned j = 1; j < k; j++) {
            if (out[j] > out[best]) best = j;
            if (d->output[s][j] > d->output[s][want]) want = j;
        }
        correct += best == want;
    }
    return n ? (double)correct / n : 0.0;
}

int main(int argc, char **argv)
{
    if (argc < 3) bench_die(prog, "usage: fann_small TRAIN.fann TEST.fann --hidden N[,N] --epochs E --seed S");
    unsigned layers[8], n_layers = 1;
    long epochs = 500, seed = 1;
    int linear_error = 0;
    double steepness = 0.5, init = 0.1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--hidden")) {
            for (char *tok = strtok(argv[i + 1], ","); tok && n_layers < 6; tok = strtok(NULL, ","))
                layers[n_layers++] = (unsigned)bench_long(prog, tok);
        } else if (!strcmp(argv[i], "--epochs")) {
            epochs = bench_long(prog, argv[i + 1]);
        } else if (!strcmp(argv[i], "--seed")) {
            seed = bench_long(prog, argv[i + 1]);
        } else if (!strcmp(argv[i], "--error")) {
            if (strcmp(argv[i + 1], "linear") && strcmp(argv[i + 1], "tanh")) bench_die(prog, "--error: linear or tanh");
            linear_error = !strcmp(argv[i + 1], "linear");
        } else if (!strcmp(argv[i], "--steepness")) {
            steepness = positive(argv[i + 1]);
        } else if (!strcmp(argv[i], "--init")) {
            init = positive(argv[i + 1]);
        } else {
            bench_die(prog, "unknown option");
        }
    }
    struct fann_train_data *train = fann_read_train_from_file(argv[1]);
    struct fann_train_data *test = fann_read_train_from_file(argv[2]);
    if (!train || !test) bench_die(prog, "cannot read the data files");
    layers[0] = fann_num_input_train_data(train);
    layers[n_layers++] = fann_num_output_train_data(train);
    struct fann *ann = fann_create_standard_array(n_layers, layers);
    if (!ann) bench_die(prog, "fann_create_standard_array failed");
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    /* FANN_SIGMOID is 1 / (1 + exp(-2 s z)): the output's default s = 0.5 is the
       logistic function itself, while the hidden units' tanh(s z) is tanh(z / 2). */
    fann_set_activation_steepness_hidden(ann, (fann_type)steepness);
    if (linear_error) fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    srand((unsigned)seed);
    fann_randomize_weights(ann, (fann_type)-init, (fann_type)init);
    double t0 = bench_now();
    fann_train_on_data(ann, train, (unsigned)epochs, 0, 0.0f);
    double secs = bench_now() - t0;
    printf("{\"impl\": \"fann\", \"seed\": %ld, \"epochs\": %ld, \"seconds\": %.6g, \"train_accuracy\": %.6g, "
           "\"test_accuracy\": %.6g}\n", seed, epochs, secs, accuracy(ann, train), accuracy(ann, test));
    fann_destroy(ann);
    fann_destroy_train(train);
    fann_destroy_train(test);
    return 0;
}
