/*
 * test_cuda.c - the GPU trainer against the CPU one.
 *
 * Every build runs these. Without a usable GPU (a build without CUDA, or no
 * device) they check that asking for one fails cleanly with a reason, print
 * the rest as skipped. With a GPU, the same network is trained on
 * both devices from the same start, with the same shuffle, and the parameters
 * must agree within 1e-4 relative error (fp32 sums in another order; TF32 off;
 * 1e-3 after hundreds of per-sample steps, where rounding differences grow):
 * every hidden activation x output/loss pair x bias, plain SGD with weight
 * decay, momentum, sum reduction, a short last batch, and the one-warp
 * tiny-network kernel at batch 1. Each on both of the GPU's step paths (the
 * cuBLASLt products, and the fused whole-run kernel, forced in turn with
 * bp_device_options), and the fused kernel on more shapes, bitwise repeatable.
 */
#include "test.h"

#include "backprop.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int gpu_here(void)
{
    if (bp_cuda_devices() > 0) return 1;
#ifdef BP_CUDA
    SKIP("no CUDA device visible to this process");
#else
    SKIP("this build has no CUDA backend (make CUDA=1)");
#endif
    return 0;
}

/* Asking for the GPU where there is none fails with a reason, and the trainer
   stays on the CPU and still trains. */
void test_cuda_unavailable_is_explained(void)
{
    if (bp_cuda_devices() > 0) return; /* the other tests cover a real GPU */
    size_t sizes[] = {3, 4, 2};
    bp_net_config nc = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_train_config tc = {.learning_rate = 0.1, .batch_size = 2};
    CHECK(bp_net_create(&nc, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK, "set-up");
    if (!t) goto done;
    bp_error err = {0};
    const bp_device_options cuda = {.device = BP_DEVICE_CUDA}, cpu = {.device = BP_DEVICE_CPU},
                            seven = {.device = (bp_device)7}, bad_path = {.device = BP_DEVICE_CUDA, .cuda_path = (bp_cuda_path)9};
    CHECK(bp_trainer_set_device(t, &cuda, &err) == BP_ERR_UNSUPPORTED, "no GPU, yet no error");
#ifdef BP_CUDA
    CHECK(strstr(err.message, "no CUDA device") != NULL, "message: %s", err.message);
#else
    CHECK(strstr(err.message, "make CUDA=1") != NULL, "message: %s", err.message);
#endif
    CHECK(bp_trainer_device(t) == BP_DEVICE_CPU, "the trainer left the CPU");
    CHECK(bp_trainer_set_device(t, &cpu, &err) == BP_OK, "back to the CPU");
    CHECK(bp_trainer_set_device(t, NULL, &err) == BP_OK && bp_trainer_device(t) == BP_DEVICE_CPU, "NULL: the CPU");
    CHECK(bp_trainer_set_device(t, &seven, &err) == BP_ERR_ARG, "device 7");
    CHECK(bp_trainer_set_device(t, &bad_path, &err) == BP_ERR_ARG, "CUDA path 9");
done:
    bp_trainer_free(t);
    bp_net_free(net);
}

/* Unsupported settings are refused with a reason before any device is touched. */
void test_cuda_refuses_what_it_cannot_do(void)
{
    size_t sizes[] = {3, 4, 2};
    bp_net_config nc = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&nc, &net, NULL) == BP_OK, "net");
    const bp_train_config configs[] = {
        {.optimizer = BP_OPT_ADAM},
        {.schedule = BP_SCHEDULE_STEP},
        {.clip_norm = 1.0},
    };
    const char *words[] = {"adam", "schedules", "clipping"};
    for (int i = 0; i < 3; i++) {
        bp_trainer *t = NULL;
        CHECK(bp_trainer_create(net, &configs[i], &t) == BP_OK, "trainer %d", i);
        bp_error err = {0};
        const bp_device_options cuda = {.device = BP_DEVICE_CUDA};
        CHECK(bp_trainer_set_device(t, &cuda, &err) == BP_ERR_UNSUPPORTED && strstr(err.message, words[i]),
              "config %d: %s", i, err.message);
        bp_trainer_free(t);
    }
    bp_net_free(net);
}


/* The GPU's two step paths, forced in turn through bp_device_options.cuda_path:
   cuBLASLt products and kernels, and the fused kernel (src/cuda/fused.cuh). The
   fused kernel's tiled and per-sample phases split the layers at its "tail" layer,
   chosen from the weights' sizes; fused_tail forces it, so small networks test
   both. The products path does a small last layer with its head kernels, or as
   products with no_head. */
static const bp_device_options variants[] = {
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_PRODUCTS},
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_FUSED},
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_FUSED, .fused_tail = 1},
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_FUSED, .fused_tail = 2},
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_FUSED, .fused_tail = 3},
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_FUSED, .fused_tail = 9},
    {.device = BP_DEVICE_CUDA, .cuda_path = BP_CUDA_PATH_PRODUCTS, .no_head = 1}};
#define VARIANTS (sizeof variants / sizeof variants[0])

/* A variant in words, for messages. */
static const char *variant_name(size_t p)
{
    static const char *const names[] = {"products",           "fused",
                                        "fused, tail 1",      "fused, tail 2",
                                        "fused, tail 3",      "fused, tail 9",
                                        "products, no head"};
    return p < sizeof names / sizeof names[0] ? names[p] : "?";
}

/* Trains `epochs` epochs of the same network and data on the CPU and on the GPU
   (its step path forced to `path`); returns the largest parameter difference
   relative to the parameters' scale, or -1 when something failed. With `again`,
   also trains a second GPU copy and returns -2 unless it is bitwise the same. */
static double cpu_vs_gpu_on(size_t variant, const bp_net_config *nc, const bp_train_config *tc, size_t n,
                            int epochs, int again)
{
    size_t n_in = nc->sizes[0], n_out = nc->sizes[nc->n_layers];
    bp_dataset *d = NULL;
    if (bp_dataset_create(n, n_in, n_out, &d) != BP_OK) return -1;
    uint64_t s = 99;
    for (size_t i = 0; i < n * n_in; i++) bp_dataset_x(d)[i] = (float)((bp_test_next(&s) >> 40) / 16777216.0 - 0.5);
    for (size_t i = 0; i < n; i++) {
        if (nc->loss == BP_LOSS_CE) bp_dataset_y(d)[i * n_out + bp_test_next(&s) % n_out] = 1.0f;
        else
            for (size_t j = 0; j < n_out; j++) bp_dataset_y(d)[i * n_out + j] = (float)((bp_test_next(&s) >> 40) / 16777216.0);
    }
    bp_net *cpu = NULL, *gpu = NULL, *gpu2 = NULL;
    bp_trainer *tc_cpu = NULL, *tc_gpu = NULL, *tc_gpu2 = NULL;
    double worst = -1;
    bp_error err = {0};
    if (bp_net_create(nc, &cpu, NULL) != BP_OK || bp_net_clone(cpu, &gpu) != BP_OK ||
        bp_net_clone(cpu, &gpu2) != BP_OK || bp_trainer_create(cpu, tc, &tc_cpu) != BP_OK ||
        bp_trainer_create(gpu, tc, &tc_gpu) != BP_OK || bp_trainer_create(gpu2, tc, &tc_gpu2) != BP_OK ||
        bp_trainer_set_device(tc_gpu, &variants[variant], &err) != BP_OK ||
        (again && bp_trainer_set_device(tc_gpu2, &variants[variant], &err) != BP_OK))
        goto done;
    for (int e = 0; e < epochs; e++) {
        bp_epoch_stats a, b, c;
        if (bp_trainer_epoch(tc_cpu, d, &a) != BP_OK || bp_trainer_epoch(tc_gpu, d, &b) != BP_OK) goto done;
        if (!(fabs(a.loss - b.loss) <= 1e-4 * fmax(1.0, fabs(a.loss))) || a.steps != b.steps) {
            printf("  epoch %d: loss %.9g on the CPU, %.9g on the GPU; steps %zu, %zu\n", e + 1, a.loss, b.loss,
                   a.steps, b.steps);
            goto done;
        }
        if (again && bp_trainer_epoch(tc_gpu2, d, &c) != BP_OK) goto done;
    }
    if (again && memcmp(bp_net_params_const(gpu), bp_net_params_const(gpu2), bp_net_param_count(gpu) * sizeof(float))) {
        worst = -2;
        goto done;
    }
    worst = 0;
    double scale = 0;
    const float *p = bp_net_params_const(cpu), *q = bp_net_params_const(gpu);
    for (size_t i = 0; i < bp_net_param_count(cpu); i++) {
        worst = fmax(worst, fabs((double)p[i] - q[i]));
        scale = fmax(scale, fabs((double)p[i]));
    }
    worst /= fmax(scale, 1e-30);
done:
    if (worst < 0 && err.message[0]) printf("  %s\n", err.message);
    if (worst < 0 && tc_gpu && bp_trainer_device_message(tc_gpu)[0]) printf("  %s\n", bp_trainer_device_message(tc_gpu));
    if (worst == -2) printf("  two GPU runs differ\n");
    bp_trainer_free(tc_cpu);
    bp_trainer_free(tc_gpu);
    bp_trainer_free(tc_gpu2);
    bp_net_free(cpu);
    bp_net_free(gpu);
    bp_net_free(gpu2);
    bp_dataset_free(d);
    return worst;
}

static double cpu_vs_gpu(size_t variant, const bp_net_config *nc, const bp_train_config *tc, size_t n, int epochs)
{
    return cpu_vs_gpu_on(variant, nc, tc, n, epochs, 0);
}

/* Every hidden activation x output/loss pair x bias, mini-batches with a short
   last one, plain SGD with weight decay. */
void test_cuda_matches_cpu(void)
{
    if (!gpu_here()) return;
    const bp_activation hidden[] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU, BP_ACT_LEAKY_RELU};
    const struct {
        bp_activation out;
        bp_loss loss;
    } tops[] = {{BP_ACT_SOFTMAX, BP_LOSS_CE},  {BP_ACT_SIGMOID, BP_LOSS_BCE}, {BP_ACT_IDENTITY, BP_LOSS_MSE},
                {BP_ACT_SIGMOID, BP_LOSS_MSE}, {BP_ACT_TANH, BP_LOSS_MSE},    {BP_ACT_RELU, BP_LOSS_MSE},
                {BP_ACT_SOFTMAX, BP_LOSS_MSE}};
    /* products with and without the head; fused with tails 1 (its own choice), 2, 3 */
    const size_t some[] = {0, 6, 1, 3, 4};
    for (size_t v = 0; v < 5; v++)
        for (size_t h = 0; h < 5; h++)
            for (size_t o = 0; o < 7; o++)
                for (int bias = 0; bias < 2; bias++) {
                    size_t sizes[] = {40, 37, 33, 6};
                    bp_net_config nc = {3, sizes, hidden[h], tops[o].out, tops[o].loss, bias, 5, NULL, 0};
                    bp_train_config tc = {.learning_rate = 0.05, .batch_size = 16, .seed = 3, .weight_decay = 1e-3};
                    const size_t p = some[v];
                    double r = cpu_vs_gpu(p, &nc, &tc, 200, 2);
                    CHECK(r >= 0 && r <= 1e-4,
                          "%s: %s hidden, %s/%s, bias %d: relative difference %g",
                          variant_name(p),
                          bp_activation_name(hidden[h]), bp_activation_name(tops[o].out),
                          bp_loss_name(tops[o].loss), bias, r);
                }
}

/* The fused kernel's other shapes: no hidden layer, an output wider than a warp,
   four layers, widths and batches that cut tiles and split reductions unevenly, a
   wide input (784, the reduction split in pieces), a hidden layer of one unit,
   batches on both sides of the products path's head limit;
   every variant (each tail the fused kernel can take), and runs bitwise
   repeatable. */
void test_cuda_fused_shapes(void)
{
    if (!gpu_here()) return;
    static size_t s1[] = {30, 5}, s2[] = {20, 45, 40}, s3[] = {12, 40, 70, 33, 3}, s4[] = {784, 96, 10},
                  s5[] = {65, 1, 33}, s6[] = {64, 32, 10};
    const struct {
        bp_net_config nc;
        bp_train_config tc;
        size_t n;
    } cases[] = {
        {{1, s1, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 2, NULL, 0}, {.learning_rate = 0.1, .batch_size = 8, .seed = 2}, 100},
        {{2, s2, BP_ACT_TANH, BP_ACT_IDENTITY, BP_LOSS_MSE, 1, 3, NULL, 0},
         {.learning_rate = 0.02, .batch_size = 48, .seed = 5, .weight_decay = 1e-3}, 250},
        {{2, s2, BP_ACT_SIGMOID, BP_ACT_SOFTMAX, BP_LOSS_CE, 0, 3, NULL, 0},
         {.learning_rate = 0.05, .batch_size = 33, .momentum = 0.9, .seed = 5}, 200},
        {{4, s3, BP_ACT_LEAKY_RELU, BP_ACT_SIGMOID, BP_LOSS_BCE, 1, 4, NULL, 0},
         {.learning_rate = 0.05, .batch_size = 100, .seed = 6}, 330},
        {{2, s4, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 7, NULL, 0}, {.learning_rate = 0.05, .batch_size = 64, .seed = 7}, 300},
        {{2, s5, BP_ACT_TANH, BP_ACT_TANH, BP_LOSS_MSE, 1, 8, NULL, 0},
         {.learning_rate = 0.01, .batch_size = 7, .reduction = BP_REDUCE_SUM, .seed = 8}, 50},
        /* Full batches above the head's largest (cuBLAS's products for the last layer)
           and a short last one within it (the head), in the same epoch. */
        {{2, s6, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 9, NULL, 0},
         {.learning_rate = 0.05, .batch_size = 2100, .momentum = 0.5, .seed = 9}, 2600},
    };
    for (size_t p = 0; p < VARIANTS; p++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* Repeatable bit for bit: the fused kernel always; the products path below
               batch 256, where it takes cuBLASLt's first-ranked algorithms (above, it
               times candidates, and two runs may pick differently). */
            const int again = variants[p].cuda_path == BP_CUDA_PATH_FUSED || cases[i].tc.batch_size < 256;
            double r = cpu_vs_gpu_on(p, &cases[i].nc, &cases[i].tc, cases[i].n, 2, again);
            CHECK(r >= 0 && r <= 1e-4, "%s: case %zu: relative difference %g",
                  variant_name(p), i, r);
        }
}

/* Momentum (with and without weight decay), sum reduction, a batch larger than
   the data set, and the tiny-network kernel at batch 1. */
void test_cuda_matches_cpu_modes(void)
{
    if (!gpu_here()) return;
    size_t wide[] = {50, 64, 10};
    bp_net_config nc = {2, wide, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 8, NULL, 0};
    const bp_train_config modes[] = {
        {.learning_rate = 0.05, .batch_size = 32, .momentum = 0.9, .seed = 1},
        {.learning_rate = 0.05, .batch_size = 32, .momentum = 0.9, .weight_decay = 1e-3, .seed = 1},
        {.learning_rate = 0.005, .batch_size = 10, .reduction = BP_REDUCE_SUM, .seed = 1},
        {.learning_rate = 0.05, .batch_size = 1000, .seed = 1},
        {.learning_rate = 0.05, .batch_size = 1, .seed = 1},
    };
    /* Hundreds of per-sample steps let rounding differences grow: 1e-3 there. */
    const size_t some[] = {0, 6, 1, 3}; /* products with and without the head; fused with tails 1 and 2 */
    for (size_t v = 0; v < 4; v++)
        for (size_t i = 0, p = some[v]; i < sizeof modes / sizeof modes[0]; i++) {
            double r = cpu_vs_gpu(p, &nc, &modes[i], 300, 2), tol = modes[i].batch_size == 1 ? 1e-3 : 1e-4;
            CHECK(r >= 0 && r <= tol, "%s: mode %zu: relative difference %g",
                  variant_name(p), i, r);
        }
    size_t tiny[] = {2, 3, 2};
    bp_net_config small = {2, tiny, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 232, NULL, 0};
    bp_train_config per_sample = {.learning_rate = 0.5, .batch_size = 1, .no_shuffle = 1};
    double r = cpu_vs_gpu(0, &small, &per_sample, 2000, 2);
    CHECK(r >= 0 && r <= 1e-3, "2-3-2 per sample (the tiny-network kernel): relative difference %g", r);
    size_t tiny_ce[] = {5, 7, 4};
    bp_net_config small_ce = {2, tiny_ce, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 0, 3, NULL, 0};
    bp_train_config shuffled = {.learning_rate = 0.1, .batch_size = 1, .seed = 4};
    r = cpu_vs_gpu(0, &small_ce, &shuffled, 500, 2);
    CHECK(r >= 0 && r <= 1e-3, "5-7-4 softmax-CE per sample, shuffled, no bias: relative difference %g", r);
}
