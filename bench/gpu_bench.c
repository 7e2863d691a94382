/*
 * gpu_bench.c - backprop's side of `make bench-gpu`: the time of one training
 * step on the GPU (bp_trainer_set_device CUDA) for the shapes of
 * ../shared/DESIGN.md and issue 6, and a whole W1 epoch on Fashion-MNIST.
 *
 *   gpu_bench step SIZES BATCH [--steps S] [--tf32] [--path products|fused]
 *                  [--no-carry] [--profile]              e.g. step 784,256,128,10 64
 *   gpu_bench w1 [--data DIR] [--epochs E]
 *
 * --path forces one of the GPU's step paths, --no-carry turns off the fused
 * kernel's carry, --profile prints the fused kernel's per-phase times
 * (bp_device_options; tools/gpu-check.sh's `paths` step compares them).
 *
 * A step workload trains on S batches of synthetic data (ReLU hidden layers,
 * softmax-CE; 2-3-2 is sigmoid/MSE per sample, as W2), one warm-up epoch and
 * then timed epochs; the step time is epoch time / S. Each epoch (one
 * bp_trainer_epoch call) includes uploading the parameters and the shuffle
 * order and copying the parameters back, which a long epoch amortizes. Prints
 * one JSON line per workload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "bench_common.h"

static const char *prog = "gpu_bench";

static void check(bp_status s, const char *what, const bp_error *err)
{
    if (s == BP_OK) return;
    fprintf(stderr, "%s: %s: %s%s%s\n", prog, what, bp_status_message(s), err && err->message[0] ? ": " : "",
            err ? err->message : "");
    exit(1);
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

static void run_step(const char *sizes_arg, size_t batch, size_t steps, const bp_device_options *device)
{
    size_t sizes[BP_MAX_LAYERS + 1], L = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sizes_arg);
    for (char *tok = strtok(buf, ","); tok && L <= BP_MAX_LAYERS; tok = strtok(NULL, ","))
        sizes[L++] = (size_t)bench_long(prog, tok);
    if (L < 2) bench_die(prog, "SIZES needs at least two widths");
    L--;
    int tiny = L == 2 && sizes[0] == 2 && sizes[1] == 3 && sizes[2] == 2;
    bp_net_config nc = {L, sizes, tiny ? BP_ACT_SIGMOID : BP_ACT_RELU, tiny ? BP_ACT_SIGMOID : BP_ACT_SOFTMAX,
                        tiny ? BP_LOSS_MSE : BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net;
    bp_error err;
    check(bp_net_create(&nc, &net, &err), "creating the network", &err);
    size_t n = batch * steps, n_in = sizes[0], n_out = sizes[L];
    bp_dataset *d;
    check(bp_dataset_create(n, n_in, n_out, &d), "creating the data", NULL);
    uint64_t state = 7;
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    for (size_t i = 0; i < n * n_in; i++) x[i] = bench_uniform(&state);
    if (tiny) bench_w2_data(x, y, n); /* W2's data */
    else
        for (size_t i = 0; i < n; i++) y[i * n_out + bench_splitmix64(&state) % n_out] = 1.0f;
    bp_train_config tc = {.learning_rate = tiny ? 0.5 : 0.01, .batch_size = batch, .seed = 3};
    bp_trainer *t;
    check(bp_trainer_create(net, &tc, &t), "creating the trainer", NULL);
    check(bp_trainer_set_device(t, device, &err), "moving to the GPU", &err);
    bp_epoch_stats st;
    check(bp_trainer_epoch(t, d, &st), bp_trainer_device_message(t), NULL); /* warm-up: upload, capture */
    double times[5];
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        check(bp_trainer_epoch(t, d, &st), bp_trainer_device_message(t), NULL);
        times[r] = bench_now() - t0;
    }
    double sec = median(times, 5);
    printf("{\"impl\": \"backprop\", \"workload\": \"step\", \"sizes\": \"%s\", \"batch\": %zu, \"steps\": %zu, "
           "\"tf32\": %s, \"step_us\": %.3f, \"loss\": %.6g}\n",
           sizes_arg, batch, steps, device->tf32 ? "true" : "false", 1e6 * sec / (double)steps, st.loss);
    if (device->profile && bp_trainer_device_message(t)[0]) fprintf(stderr, "%s\n", bp_trainer_device_message(t));
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
}

static void run_w1(const char *dir, int epochs)
{
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", dir);
    bp_dataset *d;
    bp_error err;
    check(bp_dataset_read_idx(images, labels, 10, &d, &err), "reading Fashion-MNIST", &err);
    float *shift = calloc(784, sizeof(float)), *scale = malloc(784 * sizeof(float));
    if (!shift || !scale) bench_die(prog, "out of memory");
    for (int i = 0; i < 784; i++) scale[i] = 1.0f / 255.0f;
    check(bp_dataset_apply_transform(d, shift, scale), "scaling", NULL);
    free(shift);
    free(scale);
    size_t sizes[] = {784, 256, 128, 10};
    bp_net_config nc = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net;
    check(bp_net_create(&nc, &net, &err), "creating the network", &err);
    bp_train_config tc = {.learning_rate = 0.1, .batch_size = 64, .seed = 1001};
    bp_trainer *t;
    check(bp_trainer_create(net, &tc, &t), "creating the trainer", NULL);
    const bp_device_options cuda = {.device = BP_DEVICE_CUDA};
    check(bp_trainer_set_device(t, &cuda, &err), "moving to the GPU", &err);
    printf("{\"impl\": \"backprop\", \"workload\": \"w1_epoch\", \"epoch_s\": [");
    bp_epoch_stats st;
    for (int e = 0; e < epochs; e++) {
        double t0 = bench_now();
        check(bp_trainer_epoch(t, d, &st), bp_trainer_device_message(t), NULL);
        printf("%s%.6f", e ? ", " : "", bench_now() - t0);
    }
    printf("], \"train_loss\": %.6g}\n", st.loss);
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
}

int main(int argc, char **argv)
{
    if (argc < 2) bench_die(prog, "usage: gpu_bench step SIZES BATCH [--steps S] [--tf32] [--path P] [--no-carry] [--profile] | w1 [--data DIR]");
    if (bp_cuda_devices() == 0) bench_die(prog, "no CUDA device (or a build without make CUDA=1)");
    if (!strcmp(argv[1], "step") && argc >= 4) {
        size_t steps = 200;
        bp_device_options device = {.device = BP_DEVICE_CUDA};
        for (int i = 4; i < argc; i++) {
            if (!strcmp(argv[i], "--tf32")) device.tf32 = 1;
            else if (!strcmp(argv[i], "--no-carry")) device.fused_no_carry = 1;
            else if (!strcmp(argv[i], "--profile")) device.profile = 1;
            else if (!strcmp(argv[i], "--path") && i + 1 < argc && !strcmp(argv[i + 1], "fused"))
                device.cuda_path = BP_CUDA_PATH_FUSED, i++;
            else if (!strcmp(argv[i], "--path") && i + 1 < argc && !strcmp(argv[i + 1], "products"))
                device.cuda_path = BP_CUDA_PATH_PRODUCTS, i++;
            else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = (size_t)bench_long(prog, argv[++i]);
            else bench_die(prog, "unknown option");
        }
        run_step(argv[2], (size_t)bench_long(prog, argv[3]), steps ? steps : 1, &device);
    } else if (!strcmp(argv[1], "w1")) {
        const char *dir = "/usr/share/datasets/fashion-mnist";
        int epochs = 3;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--data")) dir = argv[i + 1];
            else if (!strcmp(argv[i], "--epochs")) epochs = (int)bench_long(prog, argv[i + 1]);
            else bench_die(prog, "unknown option");
        }
        run_w1(dir, epochs < 1 ? 1 : epochs);
    } else {
        bench_die(prog, "unknown workload");
    }
    return 0;
}
