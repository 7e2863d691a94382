/*
 * optim_bench.c - time per epoch of every optimizer on two networks, through
 * the public API (bench/optim.sh runs it against two builds of the library in
 * the same session and prints after/before ratios).
 *
 *   optim_bench digits|fmnist --optimizer NAME [--epochs N] [--seed S] [--threads N]
 *               [--data DIR] [--digits FILE.csv.gz] [--impl NAME] [--weight-decay WD]
 *
 *   digits: scikit-learn's 8x8 digits (data/digits.csv.gz, pixels / 16), the first
 *           1,500 samples to train and the last 297 to test; 64-128-64-10.
 *   fmnist: Fashion-MNIST (pixels / 255), 784-256-128-10.
 *
 * Both: ReLU hidden layers, softmax and cross-entropy, batch 64, reshuffled every
 * epoch; learning rate 0.1 for sgd, momentum and nesterov, 0.001 for adam and adamw
 * (the library's defaults), full batch for rprop; --weight-decay sets the trainer's weight
 * decay (L2 for all but adamw; scikit-learn's alpha 1e-4 at batch 64 is 1.5625e-6). One JSON line: seconds per epoch,
 * the last training loss and the test accuracy at the end. Only bp_trainer_epoch is
 * timed, twice: wall-clock seconds, and the CPU seconds of the process
 * (CLOCK_PROCESS_CPUTIME_ID), which on a shared machine leave out the time other
 * programs had the core; with one thread that is the better measure.
 *
 * rprop trains one untimed epoch first. Its first full-batch epoch touches a gather
 * buffer and a work space of about 400 MB on Fashion-MNIST for the first time, and the
 * page faults cost most in whichever process meets fragmented memory first: a build
 * timed against itself came out 0.57 after / before without the warm-up. The mini-batch
 * rules touch a few hundred KB at their first step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "bench_common.h"

static const char *prog = "optim_bench";

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(bp_status s, const char *what, const bp_error *err)
{
    if (s == BP_OK) return;
    fprintf(stderr, "%s: %s: %s%s%s\n", prog, what, bp_status_message(s),
            err && err->message[0] ? ": " : "", err ? err->message : "");
    exit(1);
}

/* Every input multiplied by f. */
static void scale_inputs(bp_dataset *d, float f)
{
    float *x = bp_dataset_x(d);
    size_t n = bp_dataset_count(d) * bp_dataset_inputs(d);
    for (size_t i = 0; i < n; i++) x[i] *= f;
}

static bp_dataset *range(const bp_dataset *d, size_t lo, size_t hi)
{
    size_t *idx = malloc((hi - lo) * sizeof *idx);
    if (!idx) bench_die(prog, "out of memory");
    for (size_t i = lo; i < hi; i++) idx[i - lo] = i;
    bp_dataset *out;
    check(bp_dataset_subset(d, idx, hi - lo, &out), "taking a subset", NULL);
    free(idx);
    return out;
}

int main(int argc, char **argv)
{
    const char *workload = argc > 1 ? argv[1] : "";
    const char *opt_name = "sgd", *data_dir = "/usr/share/datasets/fashion-mnist";
    const char *digits = "data/digits.csv.gz", *impl = "backprop";
    long epochs = 0, seed = 1, threads = 1;
    double weight_decay = 0.0;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--optimizer")) opt_name = v;
        else if (!strcmp(a, "--epochs")) epochs = bench_long(prog, v);
        else if (!strcmp(a, "--seed")) seed = bench_long(prog, v);
        else if (!strcmp(a, "--threads")) threads = bench_long(prog, v);
        else if (!strcmp(a, "--data")) data_dir = v;
        else if (!strcmp(a, "--digits")) digits = v;
        else if (!strcmp(a, "--impl")) impl = v;
        else if (!strcmp(a, "--weight-decay")) weight_decay = atof(v);
        else bench_die(prog, "unknown option");
    }
    if (argc % 2) bench_die(prog, "an option needs a value");
    bp_optimizer opt;
    if (bp_optimizer_parse(opt_name, &opt) != BP_OK) bench_die(prog, "unknown optimizer");

    bp_dataset *train = NULL, *test = NULL;
    bp_error err;
    static const size_t digits_sizes[] = {64, 128, 64, 10}, fmnist_sizes[] = {784, 256, 128, 10};
    const size_t *sizes;
    if (!strcmp(workload, "digits")) {
        bp_csv_options co = {.target = BP_TARGET_CLASS, .n_targets = 10, .header = -1};
        bp_dataset *all;
        check(bp_dataset_read_csv(digits, &co, &all, &err), "reading digits", &err);
        scale_inputs(all, 1.0f / 16.0f);
        train = range(all, 0, 1500);
        test = range(all, 1500, bp_dataset_count(all));
        bp_dataset_free(all);
        sizes = digits_sizes;
        if (!epochs) epochs = 200;
    } else if (!strcmp(workload, "fmnist")) {
        char images[1024], labels[1024];
        snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", data_dir);
        snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", data_dir);
        check(bp_dataset_read_idx(images, labels, 10, &train, &err), "reading Fashion-MNIST", &err);
        snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", data_dir);
        snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", data_dir);
        check(bp_dataset_read_idx(images, labels, 10, &test, &err), "reading Fashion-MNIST", &err);
        scale_inputs(train, 1.0f / 255.0f);
        scale_inputs(test, 1.0f / 255.0f);
        sizes = fmnist_sizes;
        if (!epochs) epochs = 2;
    } else {
        bench_die(prog, "usage: optim_bench digits|fmnist --optimizer NAME [options]");
    }

    bp_net_config nc = {.n_layers = 3, .sizes = sizes, .hidden = BP_ACT_RELU, .output = BP_ACT_SOFTMAX,
                        .loss = BP_LOSS_CE, .bias = 1, .seed = (uint64_t)seed};
    bp_net *net;
    check(bp_net_create(&nc, &net, &err), "creating the network", &err);
    check(bp_net_set_threads(net, (int)threads, &err), "setting threads", &err);
    bp_train_config tc = {.optimizer = opt, .batch_size = 64, .seed = (uint64_t)seed + 1000,
                          .weight_decay = weight_decay};
    bp_trainer *tr;
    check(bp_trainer_create(net, &tc, &tr), "creating the trainer", NULL);

    double *secs = calloc((size_t)epochs, sizeof *secs);
    if (!secs) bench_die(prog, "out of memory");
    bp_epoch_stats st = {0};
    if (opt == BP_OPT_RPROP) check(bp_trainer_epoch(tr, train, &st), "the warm-up epoch", NULL);
    double cpu = 0;
    for (long e = 0; e < epochs; e++) {
        double t0 = bench_now(), c0 = cpu_now();
        check(bp_trainer_epoch(tr, train, &st), "training", NULL);
        secs[e] = bench_now() - t0;
        cpu += cpu_now() - c0;
    }
    bp_metrics m;
    check(bp_net_evaluate(net, test, &m), "evaluating", NULL);
    double total = 0;
    for (long e = 0; e < epochs; e++) total += secs[e];
    printf("{\"impl\": \"%s\", \"workload\": \"%s\", \"optimizer\": \"%s\", \"epochs\": %ld, "
           "\"weight_decay\": %g, \"seconds\": %.6g, \"epoch_s\": %.6g, \"epoch_cpu_s\": %.6g, \"train_loss\": %.6g, \"accuracy\": %.6g}\n",
           impl, workload, opt_name, epochs, weight_decay, total, total / (double)epochs, cpu / (double)epochs, st.loss, m.accuracy);
    free(secs);
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(train);
    bp_dataset_free(test);
    return 0;
}
