/*
 * web_speed.c - the native side of bench/web-speed.sh: the digits network
 * (64-128-64-10, ReLU, softmax and cross-entropy, plain SGD at lr 0.1, batch 64)
 * trained on a CSV file through the public API on one thread, the same calls
 * the playground's worker makes in the browser (web/worker.js, ops.benchmark):
 * bp_dataset_read_csv, bp_net_create, bp_trainer_create, bp_trainer_epoch.
 *
 *   web_speed DATA.csv SECONDS
 *
 * After a one-second warm-up it trains whole epochs for SECONDS, timed in runs
 * of whole epochs lasting at least 0.1 s each, and prints one JSON line with the
 * best run's samples per second (the worker reports the same), the epochs timed
 * and the last epoch's loss. Reading the data and
 * building the network are not timed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "backprop.h"
#include "bench_common.h"

static void check(bp_status s, const char *what, const bp_error *err)
{
    if (s == BP_OK) return;
    fprintf(stderr, "web_speed: %s: %s %s\n", what, bp_status_message(s), err ? err->message : "");
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: web_speed DATA.csv SECONDS\n");
        return 2;
    }
    const double seconds = atof(argv[2]);
    bp_error err = {0};
    bp_dataset *data = NULL;
    bp_csv_options csv = {0};
    check(bp_dataset_read_csv(argv[1], &csv, &data, &err), "reading the data", &err);
    size_t sizes[] = {64, 128, 64, 10};
    bp_net_config c = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net = NULL;
    check(bp_net_create(&c, &net, &err), "creating the network", &err);
    bp_train_config tc = {0};
    tc.learning_rate = 0.1;
    tc.batch_size = 64;
    tc.seed = 1;
    bp_trainer *trainer = NULL;
    check(bp_trainer_create(net, &tc, &trainer), "creating the trainer", NULL);
    bp_epoch_stats stats = {0};
    for (double t0 = bench_now(); bench_now() - t0 < 1.0;)
        check(bp_trainer_epoch(trainer, data, &stats), "training", NULL);
    double best = 0;
    int epochs = 0;
    /* Each measurement spans whole epochs for at least 0.1 s, as the worker's do
       (its clock has 0.1 ms steps; an epoch takes a few milliseconds). */
    for (double t0 = bench_now(); bench_now() - t0 < seconds;) {
        const double e0 = bench_now();
        int k = 0;
        double elapsed = 0;
        do {
            check(bp_trainer_epoch(trainer, data, &stats), "training", NULL);
            k++;
            elapsed = bench_now() - e0;
        } while (elapsed < 0.1);
        epochs += k;
        const double rate = (double)k * (double)bp_dataset_count(data) / elapsed;
        best = rate > best ? rate : best;
    }
    printf("{\"samples_per_second\": %.0f, \"epochs\": %d, \"loss\": %.6f}\n", best, epochs, stats.loss);
    bp_trainer_free(trainer);
    bp_net_free(net);
    bp_dataset_free(data);
    return 0;
}
