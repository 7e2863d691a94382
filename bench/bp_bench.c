/*
 * bp_bench.c - backprop's side of the benchmarks (bench/README.md): the
 * workloads W1, W2, W3 trained through the public API, W1 per sample (to set
 * beside FANN), and the library's internal GEMM on square 1024 matrices.
 *
 *   bp_bench w1   [--epochs 1] [--eval 1,5,10] [--data DIR] [--seed S] [--threads N] [--optimizer sgd|adam]
 *                 [--precision fp32|bf16|bf16-emulated]   (also w3)
 *   bp_bench w1b1 [--samples 5000] [--data DIR]
 *   bp_bench w2   [--samples 100000]
 *   bp_bench w3   [--samples 16384] [--batch 256]   (--batch 32: one rank's slice of W3 at 8 ranks)
 *   bp_bench gemm [--calls 10] [--threads N] [--precision fp32|bf16|bf16-amx|bf16-avx512|bf16-emulated]
 *   --impl NAME   the name in the JSON (run.sh: "backprop-openblas" for the build
 *                 of the library with make BLAS=openblas)
 *
 * Each run prints one JSON object on one line (bench/report.py reads them).
 * Timed: training only, shuffling and batch gathering included (that is
 * inside bp_trainer_epoch); not timed: reading data, creating the net,
 * evaluating the test set.
 *
 * Threads: --threads N goes to bp_net_set_threads, and the GEMM ceiling runs
 * bp_gemm_team_ex on a pool of N threads, the path training takes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/pool.h"
#include "bench_common.h"

static const char *prog = "bp_bench";

typedef struct {
    const char *workload;
    const char *impl; /* the name the JSON gives (--impl; default "backprop") */
    size_t epochs;
    char eval[128];
    const char *data_dir;
    uint64_t seed;
    long threads;
    size_t samples;
    size_t calls;
    int adam; /* --optimizer adam: W1 with Adam (lr 0.001) instead of SGD */
    size_t batch; /* --batch: W3's batch (default 256) */
    const char *precision; /* --precision: fp32, bf16 (the best kernel), bf16-amx, bf16-avx512, bf16-emulated */
} options;

/* The GEMM kernel --precision names: 0 for fp32, else a bp_bf16_kernel. */
static int gemm_precision(const char *name)
{
    if (!strcmp(name, "fp32")) return BP_BF16_NONE;
    if (!strcmp(name, "bf16")) return BP_BF16_BEST;
    if (!strcmp(name, "bf16-amx")) return BP_BF16_AMX;
    if (!strcmp(name, "bf16-avx512")) return BP_BF16_AVX512;
    if (!strcmp(name, "bf16-emulated")) return BP_BF16_EMULATED;
    bench_die(prog, "--precision: fp32, bf16, bf16-amx, bf16-avx512 or bf16-emulated");
    return 0;
}

static void check(bp_status s, const char *what, const bp_error *err)
{
    if (s == BP_OK) return;
    fprintf(stderr, "%s: %s: %s%s%s\n", prog, what, bp_status_message(s),
            err && err->message[0] ? ": " : "", err ? err->message : "");
    exit(1);
}

/* The training precision --precision names (fp32, bf16, bf16-emulated; the
   kernel-specific names mean bf16, whose kernel the library picks). */
static bp_precision train_precision(const char *name)
{
    if (!strcmp(name, "fp32")) return BP_PRECISION_FP32;
    if (!strcmp(name, "bf16-emulated")) return BP_PRECISION_BF16_EMULATED;
    return BP_PRECISION_BF16;
}

/* Makes a trainer, or says on one JSON line that this CPU cannot train in the
   precision asked for (and returns NULL). */
static bp_trainer *make_trainer(const options *o, bp_net *net, bp_train_config *tc)
{
    tc->precision = train_precision(o->precision);
    bp_trainer *tr;
    bp_status s = bp_trainer_create(net, tc, &tr);
    if (s == BP_ERR_UNSUPPORTED) {
        printf("{\"impl\": \"%s\", \"workload\": \"%s\", \"precision\": \"%s\", \"status\": "
               "\"this CPU has no bf16 products\"}\n", o->impl, o->workload, o->precision);
        return NULL;
    }
    check(s, "creating the trainer", NULL);
    return tr;
}

/* The JSON fields every training workload starts with after its name. */
static void print_precision(const options *o, const bp_train_config *tc)
{
    const char *kernel = bp_precision_kernel(tc->precision);
    printf(", \"precision\": \"%s\", \"kernel\": \"%s\"", o->precision, kernel ? kernel : "none");
}

/* Gives the network its threads (bp_net_set_threads); returns the count it got. */
static int set_threads(bp_net *net, long threads)
{
    bp_error err;
    check(bp_net_set_threads(net, (int)(threads < 1 ? 1 : threads > 256 ? 256 : threads), &err),
          "setting threads", &err);
    return bp_net_threads(net);
}

/* ------------------------------------------------------------------ data */

static bp_dataset *synthetic_classes(size_t n, size_t n_in, size_t n_out, uint64_t seed)
{
    bp_dataset *d;
    check(bp_dataset_create(n, n_in, n_out, &d), "creating a data set", NULL);
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    uint64_t state = seed;
    for (size_t i = 0; i < n * n_in; i++) x[i] = bench_uniform(&state);
    for (size_t i = 0; i < n; i++) y[i * n_out + bench_splitmix64(&state) % n_out] = 1.0f;
    return d;
}

/* Fashion-MNIST (pixels / 255), or synthetic data of the same shape when absent. */
static bp_dataset *fashion(const char *dir, const char *kind, int *synthetic)
{
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, kind);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, kind);
    FILE *f = fopen(images, "rb");
    if (!f) {
        *synthetic = 1;
        return synthetic_classes(strcmp(kind, "train") == 0 ? 60000 : 10000, 784, 10,
                                 strcmp(kind, "train") == 0 ? 11 : 12);
    }
    fclose(f);
    bp_dataset *d;
    bp_error err;
    check(bp_dataset_read_idx(images, labels, 10, &d, &err), "reading Fashion-MNIST", &err);
    size_t n_in = bp_dataset_inputs(d);
    float *shift = calloc(n_in, sizeof(float)), *scale = malloc(n_in * sizeof(float));
    if (!shift || !scale) bench_die(prog, "out of memory");
    for (size_t i = 0; i < n_in; i++) scale[i] = 1.0f / 255.0f;
    check(bp_dataset_apply_transform(d, shift, scale), "scaling pixels", NULL);
    free(shift);
    free(scale);
    return d;
}

static bp_net *make_net(const size_t *sizes, size_t n_layers, bp_activation hidden,
                        bp_activation output, bp_loss loss, uint64_t seed)
{
    bp_net_config nc = {.n_layers = n_layers, .sizes = sizes, .hidden = hidden, .output = output,
                        .loss = loss, .bias = 1, .seed = seed};
    bp_net *net;
    bp_error err;
    check(bp_net_create(&nc, &net, &err), "creating the network", &err);
    return net;
}

/* -------------------------------------------------------------- workloads */

static int in_list(const char *list, size_t epoch)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if ((size_t)strtoul(tok, NULL, 10) == epoch) return 1;
    return 0;
}

static void run_w1(const options *o)
{
    int synthetic = 0;
    bp_dataset *train = fashion(o->data_dir, "train", &synthetic);
    bp_dataset *test = fashion(o->data_dir, "t10k", &synthetic);
    static const size_t sizes[] = {784, 256, 128, 10};
    bp_net *net = make_net(sizes, 3, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, o->seed);
    bp_train_config tc = {.learning_rate = o->adam ? 0.001 : 0.1, .batch_size = 64, .seed = o->seed + 1000,
                          .optimizer = o->adam ? BP_OPT_ADAM : BP_OPT_SGD};
    const int used = set_threads(net, o->threads);
    bp_trainer *tr = make_trainer(o, net, &tc);
    if (!tr) {
        bp_net_free(net);
        bp_dataset_free(train);
        bp_dataset_free(test);
        return;
    }

    size_t n = bp_dataset_count(train);
    double *secs = calloc(o->epochs, sizeof(double));
    double acc[64];
    size_t acc_epoch[64], n_acc = 0;
    double last_loss = 0;
    for (size_t e = 1; e <= o->epochs; e++) {
        bp_epoch_stats st;
        double t0 = bench_now();
        check(bp_trainer_epoch(tr, train, &st), "training", NULL);
        secs[e - 1] = bench_now() - t0;
        last_loss = st.loss;
        if (in_list(o->eval, e) && n_acc < 64) {
            bp_metrics m;
            check(bp_net_evaluate(net, test, &m), "evaluating", NULL);
            acc_epoch[n_acc] = e;
            acc[n_acc++] = m.accuracy;
        }
    }
    printf("{\"impl\": \"%s\", \"workload\": \"w1\"", o->impl);
    print_precision(o, &tc);
    printf(", \"threads_used\": %d, \"synthetic\": %s, \"samples\": %zu, \"epoch_s\": ", used,
           synthetic ? "true" : "false", n);
    bench_print_array(secs, o->epochs);
    printf(", \"train_loss\": %.6g, \"accuracy\": {", last_loss);
    for (size_t i = 0; i < n_acc; i++) printf("%s\"%zu\": %.6g", i ? ", " : "", acc_epoch[i], acc[i]);
    printf("}}\n");
    free(secs);
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(train);
    bp_dataset_free(test);
}

/* W1 per sample (batch 1, lr 0.1, first `samples` training samples in file order): the
 * setting FANN can run, so FANN's figure has a like-for-like backprop figure beside it. */
static void run_w1b1(const options *o)
{
    int synthetic = 0;
    bp_dataset *train = fashion(o->data_dir, "train", &synthetic);
    size_t n = o->samples < bp_dataset_count(train) ? o->samples : bp_dataset_count(train);
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) bench_die(prog, "out of memory");
    for (size_t i = 0; i < n; i++) idx[i] = i;
    bp_dataset *part;
    check(bp_dataset_subset(train, idx, n, &part), "taking a subset", NULL);
    static const size_t sizes[] = {784, 256, 128, 10};
    bp_net *net = make_net(sizes, 3, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, o->seed);
    bp_train_config tc = {.learning_rate = 0.1, .batch_size = 1, .no_shuffle = 1};
    const int used = set_threads(net, o->threads);
    bp_trainer *tr;
    check(bp_trainer_create(net, &tc, &tr), "creating the trainer", NULL);
    bp_epoch_stats st;
    double t0 = bench_now();
    check(bp_trainer_epoch(tr, part, &st), "training", NULL);
    double secs = bench_now() - t0;
    printf("{\"impl\": \"%s\", \"workload\": \"w1b1\", \"threads_used\": %d, \"synthetic\": %s, "
           "\"samples\": %zu, \"seconds\": %.6g, \"train_loss\": %.6g}\n",
           o->impl, used, synthetic ? "true" : "false", n, secs, st.loss);
    free(idx);
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(part);
    bp_dataset_free(train);
}

static void run_w2(const options *o)
{
    size_t n = o->samples;
    bp_dataset *d;
    check(bp_dataset_create(n, 2, 2, &d), "creating a data set", NULL);
    bench_w2_data(bp_dataset_x(d), bp_dataset_y(d), n);
    static const size_t sizes[] = {2, 3, 2};
    bp_net *net = make_net(sizes, 2, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, o->seed);
    bp_train_config tc = {.learning_rate = 0.5, .batch_size = 1, .no_shuffle = 1};
    const int used = set_threads(net, o->threads);
    bp_trainer *tr;
    check(bp_trainer_create(net, &tc, &tr), "creating the trainer", NULL);
    bp_epoch_stats st;
    double t0 = bench_now();
    check(bp_trainer_epoch(tr, d, &st), "training", NULL);
    double secs = bench_now() - t0;
    bp_metrics m;
    check(bp_net_evaluate(net, d, &m), "evaluating", NULL);
    /* m.mse is (1/n_L)||a - y||^2 averaged over samples; report 1/2||a - y||^2 like the loss. */
    printf("{\"impl\": \"%s\", \"workload\": \"w2\", \"threads_used\": %d, \"samples\": %zu, "
           "\"seconds\": %.6g, \"train_loss\": %.6g, \"final_loss\": %.6g}\n",
           o->impl, used, n, secs, st.loss, m.mse);
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(d);
}

static void run_w3(const options *o)
{
    size_t n = o->samples;
    static const size_t sizes[] = {784, 1024, 1024, 10};
    bp_dataset *d = synthetic_classes(n, 784, 10, 33);
    bp_net *net = make_net(sizes, 3, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, o->seed);
    const size_t batch = o->batch ? o->batch : 256;
    bp_train_config tc = {.learning_rate = 0.1, .batch_size = batch, .seed = o->seed + 1000};
    const int used = set_threads(net, o->threads);
    bp_trainer *tr = make_trainer(o, net, &tc);
    if (!tr) {
        bp_net_free(net);
        bp_dataset_free(d);
        return;
    }
    /* One untimed warm-up step: first-touch of the work space and the caches. */
    check(bp_trainer_step(tr, bp_dataset_x_const(d), bp_dataset_y_const(d), batch < n ? batch : n, NULL),
          "warm-up", NULL);
    bp_epoch_stats st;
    double t0 = bench_now();
    check(bp_trainer_epoch(tr, d, &st), "training", NULL);
    double secs = bench_now() - t0;
    printf("{\"impl\": \"%s\", \"workload\": \"w3\"", o->impl);
    print_precision(o, &tc);
    printf(", \"threads_used\": %d, \"samples\": %zu, \"batch\": %zu, \"steps\": %zu, \"seconds\": %.6g, "
           "\"flops_per_sample\": %.0f, \"train_loss\": %.6g}\n",
           used, n, batch, st.steps, secs, bench_flops_per_sample(sizes, 3), st.loss);
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(d);
}

/* ------------------------------------------------------------------- GEMM */

enum { N_GEMM = 1024 };

static double gemm_once(int ta, int tb, const float *A, const float *B, float *C,
                        const bp_gemm_team *team)
{
    size_t n = N_GEMM;
    double t0 = bench_now();
    bp_gemm_team_ex(team, ta, tb, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n, NULL);
    return bench_now() - t0;
}

static void run_gemm(const options *o)
{
    size_t n = N_GEMM, calls = o->calls ? o->calls : 1;
    int threads = o->threads < 1 ? 1 : o->threads > 64 ? 64 : (int)o->threads;
    float *A = aligned_alloc(64, n * n * sizeof(float)), *B = aligned_alloc(64, n * n * sizeof(float));
    float *C = aligned_alloc(64, n * n * sizeof(float));
    float *work[64];
    bp_pool *pool = threads > 1 ? bp_pool_create(threads) : NULL;
    if (!A || !B || !C || (threads > 1 && !pool)) bench_die(prog, "out of memory");
    const int precision = gemm_precision(o->precision);
    if (precision != BP_BF16_NONE && bp_gemm_bf16_resolve((bp_bf16_kernel)precision) == BP_BF16_NONE) {
        printf("{\"impl\": \"%s\", \"workload\": \"gemm\", \"precision\": \"%s\", \"status\": "
               "\"this CPU has no such bf16 kernel\"}\n", o->impl, o->precision);
        return;
    }
    const bp_gemm_team team = {pool, work, precision};
    for (int t = 0; t < threads; t++) {
        work[t] = aligned_alloc(64, ((BP_GEMM_WORKSPACE_FLOATS * sizeof(float) + 63) / 64) * 64);
        if (!work[t]) bench_die(prog, "out of memory");
    }
    uint64_t state = 5;
    for (size_t i = 0; i < n * n; i++) {
        A[i] = bench_uniform(&state) - 0.5f;
        B[i] = bench_uniform(&state) - 0.5f;
    }
    double flops = 2.0 * (double)n * (double)n * (double)n;
    static const char *names[] = {"nn", "tn", "nt"};
    static const int flags[][2] = {{0, 0}, {1, 0}, {0, 1}};
    printf("{\"impl\": \"%s\", \"workload\": \"gemm\", \"precision\": \"%s\", \"n\": %zu, \"threads_used\": %d, "
           "\"calls\": %zu, \"corename\": \"%s\"", o->impl, o->precision, n, threads, calls,
           precision ? bp_gemm_bf16_kernel_name((bp_bf16_kernel)precision) : bp_gemm_kernel_name());
    double *g = malloc(calls * sizeof(double));
    for (int v = 0; v < 3; v++) {
        gemm_once(flags[v][0], flags[v][1], A, B, C, &team); /* warm-up */
        for (size_t c = 0; c < calls; c++)
            g[c] = flops / gemm_once(flags[v][0], flags[v][1], A, B, C, &team) * 1e-9;
        printf(", \"gflops_%s\": ", names[v]);
        bench_print_array(g, calls);
    }
    /* A spot check that the product is right (the unit tests do the real checking). */
    double err = 0;
    for (size_t k = 0; k < 8; k++) {
        size_t i = (k * 131) % n, j = (k * 277) % n;
        double ref = 0;
        for (size_t p = 0; p < n; p++) ref += (double)A[i * n + p] * B[j * n + p]; /* last: NT */
        err = fmax(err, fabs(ref - C[i * n + j]));
    }
    printf(", \"max_abs_error\": %.3g}\n", err);
    free(g);
    free(A);
    free(B);
    free(C);
    for (int t = 0; t < threads; t++) free(work[t]);
    bp_pool_free(pool);
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    options o = {.epochs = 1, .data_dir = "/usr/share/datasets/fashion-mnist", .seed = 1,
                 .threads = 1, .samples = 0, .calls = 10, .impl = "backprop", .precision = "fp32"};
    snprintf(o.eval, sizeof o.eval, "1");
    if (argc < 2) bench_die(prog, "usage: bp_bench w1|w1b1|w2|w3|gemm [options]");
    o.workload = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) bench_die(prog, "an option needs a value");
        const char *v = argv[++i];
        if (!strcmp(a, "--epochs")) o.epochs = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--eval")) snprintf(o.eval, sizeof o.eval, "%s", v);
        else if (!strcmp(a, "--data")) o.data_dir = v;
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)bench_long(prog, v);
        else if (!strcmp(a, "--threads")) o.threads = bench_long(prog, v);
        else if (!strcmp(a, "--samples")) o.samples = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--calls")) o.calls = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--impl")) o.impl = v;
        else if (!strcmp(a, "--batch")) o.batch = (size_t)bench_long(prog, v);
        else if (!strcmp(a, "--precision")) o.precision = v, (void)gemm_precision(v);
        else if (!strcmp(a, "--optimizer") && (!strcmp(v, "sgd") || !strcmp(v, "adam"))) o.adam = !strcmp(v, "adam");
        else bench_die(prog, "unknown option");
    }
    if (o.epochs < 1) o.epochs = 1;
    if (!strcmp(o.workload, "w1")) run_w1(&o);
    else if (!strcmp(o.workload, "w1b1")) { if (!o.samples) o.samples = 5000; run_w1b1(&o); }
    else if (!strcmp(o.workload, "w2")) { if (!o.samples) o.samples = 100000; run_w2(&o); }
    else if (!strcmp(o.workload, "w3")) { if (!o.samples) o.samples = 16384; run_w3(&o); }
    else if (!strcmp(o.workload, "gemm")) run_gemm(&o);
    else bench_die(prog, "unknown workload (w1, w1b1, w2, w3, gemm)");
    return 0;
}
