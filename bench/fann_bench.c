/*
 * fann_bench.c - FANN (floatfann 2.2) on W2 and, as far as FANN can, W1.
 *
 *   fann_bench w2 [--w2-samples 100000]
 *   fann_bench w1 [--w1-samples 5000] [--eval-samples 10000] [--data DIR]
 *
 * FANN trains one sample at a time (fann_train = forward, backward and an
 * immediate weight update; "incremental" training). Settings:
 *   - sigmoid: FANN_SIGMOID is 1 / (1 + exp(-2 s x)); steepness s = 0.5 gives the
 *     standard logistic 1 / (1 + exp(-x)) that backprop and PyTorch use.
 *   - error function FANN_ERRORFUNC_LINEAR (plain a - y; FANN's default
 *     FANN_ERRORFUNC_TANH would train on a different loss).
 *   - W2: 2-3-2, sigmoid hidden and output, lr 0.5: the same problem as
 *     everybody's. W1: FANN has neither ReLU (in 2.2) nor softmax nor
 *     mini-batches, so 784-256-128-10 runs with sigmoid hidden and output
 *     units, MSE on one-hot targets, lr 0.1, one sample per update, on the first
 *     --w1-samples training samples in file order. Its rate is set beside
 *     backprop's own per-sample rate on the same samples (bp_bench w1b1); its
 *     accuracy is of that smaller run and model and not comparable with the
 *     others'.
 *   - weights: srand(seed), then fann_randomize_weights in [-0.1, 0.1].
 * Timed: the fann_train calls only. Prints one JSON object per workload.
 */
#include <floatfann.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

static const char *prog = "fann_bench";

static struct fann *make(unsigned n_layers, const unsigned *sizes, float lr, unsigned seed)
{
    struct fann *ann = fann_create_standard_array(n_layers, sizes);
    if (!ann) bench_die(prog, "fann_create_standard_array failed");
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5f);
    fann_set_activation_steepness_output(ann, 0.5f);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, lr);
    fann_set_learning_momentum(ann, 0.0f);
    srand(seed);
    fann_randomize_weights(ann, -0.1f, 0.1f);
    return ann;
}

static void run_w2(size_t n, unsigned seed)
{
    float *x = malloc(n * 2 * sizeof(float)), *y = malloc(n * 2 * sizeof(float));
    if (!x || !y) bench_die(prog, "out of memory");
    bench_w2_data(x, y, n);
    static const unsigned sizes[] = {2, 3, 2};
    struct fann *ann = make(3, sizes, 0.5f, seed);
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) fann_train(ann, x + 2 * i, y + 2 * i);
    double secs = bench_now() - t0;
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        const float *a = fann_run(ann, x + 2 * i);
        for (int k = 0; k < 2; k++) loss += 0.5 * (a[k] - y[2 * i + k]) * (a[k] - y[2 * i + k]);
    }
    printf("{\"impl\": \"fann\", \"workload\": \"w2\", \"threads_used\": 1, \"samples\": %zu, "
           "\"seconds\": %.6g, \"final_loss\": %.6g}\n", n, secs, loss / (double)n);
    fann_destroy(ann);
    free(x);
    free(y);
}

/* Reads a gzip IDX file of unsigned bytes through `gzip -dc` (no zlib needed); returns
 * the payload and its item count, or NULL when the file is absent. */
static unsigned char *read_idx(const char *path, size_t *count, size_t *item)
{
    FILE *probe = fopen(path, "rb");
    if (!probe) return NULL;
    fclose(probe);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 20, len = 0, r;
    unsigned char *buf = malloc(cap);
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    pclose(f);
    if (!buf || len < 8) bench_die(prog, "cannot read an IDX file");
    unsigned dims = buf[3];
    size_t hdr = 4 + 4 * (size_t)dims;
    *count = ((size_t)buf[4] << 24) | ((size_t)buf[5] << 16) | ((size_t)buf[6] << 8) | buf[7];
    *item = 1;
    for (unsigned d = 1; d < dims; d++) {
        const unsigned char *p = buf + 4 + 4 * d;
        *item *= ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    }
    if (len < hdr + *count * *item) bench_die(prog, "truncated IDX file");
    memmove(buf, buf + hdr, *count * *item);
    return buf;
}

/* Fashion-MNIST as floats (pixels / 255) and one-hot targets; synthetic when absent. */
static size_t fashion(const char *dir, const char *kind, size_t limit, float **x, float **y,
                      int *synthetic)
{
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, kind);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, kind);
    size_t n, item, n_labels, one;
    unsigned char *px = read_idx(images, &n, &item), *lb = px ? read_idx(labels, &n_labels, &one) : NULL;
    if (!px || !lb) {
        *synthetic = 1;
        n = strcmp(kind, "train") == 0 ? 60000 : 10000;
        item = 784;
    }
    if (n > limit) n = limit;
    *x = malloc(n * item * sizeof(float));
    *y = calloc(n * 10, sizeof(float));
    if (!*x || !*y) bench_die(prog, "out of memory");
    uint64_t state = 77;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < item; j++)
            (*x)[i * item + j] = px ? px[i * item + j] / 255.0f : bench_uniform(&state);
        (*y)[i * 10 + (lb ? lb[i] % 10 : bench_splitmix64(&state) % 10)] = 1.0f;
    }
    free(px);
    free(lb);
    return n;
}

static void run_w1(size_t samples, size_t eval_samples, const char *dir, unsigned seed)
{
    int synthetic = 0;
    float *x, *y, *tx = NULL, *ty = NULL;
    size_t n = fashion(dir, "train", samples, &x, &y, &synthetic);
    size_t nt = eval_samples ? fashion(dir, "t10k", eval_samples, &tx, &ty, &synthetic) : 0;
    static const unsigned sizes[] = {784, 256, 128, 10};
    struct fann *ann = make(4, sizes, 0.1f, seed);
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) fann_train(ann, x + 784 * i, y + 10 * i);
    double secs = bench_now() - t0;
    size_t correct = 0;
    for (size_t i = 0; i < nt; i++) {
        const float *a = fann_run(ann, tx + 784 * i);
        size_t best = 0, truth = 0;
        for (size_t k = 1; k < 10; k++) {
            if (a[k] > a[best]) best = k;
            if (ty[10 * i + k] > ty[10 * i + truth]) truth = k;
        }
        correct += best == truth;
    }
    printf("{\"impl\": \"fann\", \"workload\": \"w1b1\", \"threads_used\": 1, \"synthetic\": %s, "
           "\"samples\": %zu, \"seconds\": %.6g", synthetic ? "true" : "false", n, secs);
    if (nt) printf(", \"accuracy\": %.6g, \"eval_samples\": %zu", (double)correct / (double)nt, nt);
    printf("}\n");
    fann_destroy(ann);
    free(x);
    free(y);
    free(tx);
    free(ty);
}

int main(int argc, char **argv)
{
    size_t w1_samples = 5000, w2_samples = 100000, eval_samples = 0;
    unsigned seed = 1;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    int do_w1 = 0, do_w2 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "w1")) { do_w1 = 1; continue; }
        if (!strcmp(a, "w2")) { do_w2 = 1; continue; }
        if (i + 1 >= argc) bench_die(prog, "usage: fann_bench w1|w2... [options]");
        const char *v = argv[++i];
        if (!strcmp(a, "--w1-samples")) w1_samples = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--w2-samples")) w2_samples = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--eval-samples")) eval_samples = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--seed")) seed = (unsigned)bench_long(prog, v);
        else if (!strcmp(a, "--data")) dir = v;
        else if (!strcmp(a, "--threads")) (void)bench_long(prog, v); /* FANN is single-threaded */
        else bench_die(prog, "unknown option");
    }
    if (do_w2) run_w2(w2_samples, seed);
    fflush(stdout);
    if (do_w1) run_w1(w1_samples, eval_samples, dir, seed);
    return 0;
}
