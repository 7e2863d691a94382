/*
 * int8_bench.c - int8 inference against float on W1 (bench/README.md): what
 * `backprop predict --int8` does, measured beside what `backprop predict`
 * does, in the same run, on the same test set.
 *
 *   int8_bench [--epochs 1] [--data DIR] [--seed S] [--reps 7]
 *
 * Trains W1 (784-256-128-10, ReLU, softmax-CE, SGD lr 0.1, batch 64) for
 * --epochs, quantizes it calibrated on the training set (bp_qnet_create), and
 * prints one JSON line: the test accuracy of both, how often they agree, and
 * the throughput of each over the 10,000 test images. Float runs the way
 * predict runs it (bp_net_forward on chunks of 256, one thread); int8 is
 * bp_qnet_forward on the same floats, which quantizes them, runs the layers in
 * integers (the kernel the CPU picks: AVX-512 VNNI, else AVX2) and dequantizes
 * a^L. The two alternate --reps times, so a noisy neighbour slows both alike;
 * the ratio is taken per repetition. Not timed: reading, training, quantizing.
 * The AVX2 and portable kernels are timed too, for reference (the best of three).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "bench_common.h"
#include "core/quantize.h"
#include "kernels/int8.h"

static const char *prog = "int8_bench";

static void check(bp_status s, const char *what, const bp_error *err)
{
    if (s == BP_OK) return;
    fprintf(stderr, "%s: %s: %s%s%s\n", prog, what, bp_status_message(s), err && err->message[0] ? ": " : "",
            err ? err->message : "");
    exit(1);
}

/* Fashion-MNIST, pixels / 255; synthetic data of the same shape when it is not installed. */
static bp_dataset *fashion(const char *dir, const char *kind, int *synthetic)
{
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, kind);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, kind);
    bp_dataset *d;
    bp_error err;
    FILE *f = fopen(images, "rb");
    if (!f) {
        size_t n = strcmp(kind, "train") == 0 ? 60000 : 10000;
        uint64_t state = n;
        *synthetic = 1;
        check(bp_dataset_create(n, 784, 10, &d), "creating a data set", NULL);
        for (size_t i = 0; i < n * 784; i++) bp_dataset_x(d)[i] = bench_uniform(&state);
        for (size_t i = 0; i < n; i++) bp_dataset_y(d)[i * 10 + bench_splitmix64(&state) % 10] = 1.0f;
        return d;
    }
    fclose(f);
    check(bp_dataset_read_idx(images, labels, 10, &d, &err), "reading Fashion-MNIST", &err);
    float shift[784] = {0}, scale[784];
    for (size_t i = 0; i < 784; i++) scale[i] = 1.0f / 255.0f;
    check(bp_dataset_apply_transform(d, shift, scale), "scaling pixels", NULL);
    return d;
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Seconds for the float pass over n samples, as `backprop predict` runs it. */
static double time_float(bp_net *net, const float *x, size_t n, float *out)
{
    double t0 = bench_now();
    for (size_t s = 0; s < n; s += 256)
        check(bp_net_forward(net, x + s * 784, n - s < 256 ? n - s : 256, out + s * 10), "float forward", NULL);
    return bench_now() - t0;
}

static double time_int8(bp_qnet *q, const float *x, size_t n, float *out)
{
    double t0 = bench_now();
    check(bp_qnet_forward(q, x, n, out), "int8 forward", NULL);
    return bench_now() - t0;
}

int main(int argc, char **argv)
{
    size_t epochs = 1, reps = 7;
    uint64_t seed = 1;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--epochs")) epochs = (size_t)bench_long(prog, argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = (size_t)bench_long(prog, argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = (uint64_t)bench_long(prog, argv[i + 1]);
        else if (!strcmp(argv[i], "--data")) dir = argv[i + 1];
        else bench_die(prog, "usage: int8_bench [--epochs N] [--reps N] [--seed S] [--data DIR]");
    }
    if (reps < 1 || reps > 100) bench_die(prog, "--reps must be 1..100");
    int synthetic = 0;
    bp_dataset *train = fashion(dir, "train", &synthetic), *test = fashion(dir, "t10k", &synthetic);
    static const size_t sizes[] = {784, 256, 128, 10};
    bp_net_config nc = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, seed, NULL, 0};
    bp_train_config tc = {.learning_rate = 0.1, .batch_size = 64, .seed = seed + 1000};
    bp_net *net;
    bp_trainer *tr;
    bp_error err;
    check(bp_net_create(&nc, &net, &err), "creating W1", &err);
    check(bp_trainer_create(net, &tc, &tr), "creating the trainer", NULL);
    for (size_t e = 0; e < epochs; e++) check(bp_trainer_epoch(tr, train, NULL), "training", NULL);

    double t0 = bench_now();
    bp_qnet *q;
    check(bp_qnet_create(net, train, &q, &err), "quantizing", &err);
    double quantize_s = bench_now() - t0;

    size_t n = bp_dataset_count(test);
    const float *x = bp_dataset_x_const(test), *y = bp_dataset_y_const(test);
    float *of = malloc(n * 10 * sizeof(float)), *oq = malloc(n * 10 * sizeof(float));
    double *fs = malloc(reps * sizeof(double)), *qs = malloc(reps * sizeof(double));
    if (!of || !oq || !fs || !qs) bench_die(prog, "out of memory");
    time_float(net, x, n, of); /* warm-up: the work space and the caches */
    time_int8(q, x, n, oq);
    for (size_t r = 0; r < reps; r++) {
        fs[r] = time_float(net, x, n, of);
        qs[r] = time_int8(q, x, n, oq);
    }
    size_t right_f = 0, right_q = 0, same = 0;
    for (size_t i = 0; i < n; i++) {
        size_t cy = argmax(y + i * 10, 10), cf = argmax(of + i * 10, 10), cq = argmax(oq + i * 10, 10);
        right_f += cf == cy;
        right_q += cq == cy;
        same += cf == cq;
    }
    printf("{\"impl\": \"backprop\", \"workload\": \"int8\", \"synthetic\": %s, \"epochs\": %zu, \"samples\": %zu, "
           "\"kernel\": \"%s\", \"accuracy_float\": %.6g, \"accuracy_int8\": %.6g, \"agreement\": %.6g, "
           "\"quantize_s\": %.4g, \"float_s\": ",
           synthetic ? "true" : "false", epochs, n, bp_i8_kernel_name(bp_i8_kernel_best()), (double)right_f / n,
           (double)right_q / n, (double)same / n, quantize_s);
    bench_print_array(fs, reps);
    printf(", \"int8_s\": ");
    bench_print_array(qs, reps);
    /* The fallbacks, once each. */
    static const bp_i8_kernel others[] = {BP_I8_AVX2, BP_I8_PORTABLE};
    static const char *const keys[] = {"int8_avx2_s", "int8_portable_s"};
    for (size_t k = 0; k < 2; k++) {
        bp_qnet *other = NULL;
        if (!bp_i8_kernel_usable(others[k]) || bp_qnet_create_with(net, train, others[k], &other, NULL) != BP_OK) {
            printf(", \"%s\": null", keys[k]);
            continue;
        }
        double best = time_int8(other, x, n, oq);
        for (int r = 0; r < 2; r++) {
            double t = time_int8(other, x, n, oq);
            best = t < best ? t : best;
        }
        printf(", \"%s\": %.6g", keys[k], best);
        bp_qnet_free(other);
    }
    printf("}\n");
    free(of), free(oq), free(fs), free(qs);
    bp_qnet_free(q);
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(train);
    bp_dataset_free(test);
    return 0;
}
