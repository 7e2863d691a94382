/*
 * test_precision.c - training in bf16 (bp_train_config.precision): gradients
 * against the double-precision reference within the bf16 tolerance, the
 * switch set only while training, the same bits for any thread count, and the
 * settings' checks.
 *
 * The bf16 tolerance for a gradient, and why. Each matrix product rounds its
 * two operands to bf16 (8 significant bits: at most 2^-8 of each), so each of
 * its terms is off by at most 2^-7 + 2^-16 of itself (tests/test_gemm_bf16.c
 * checks the products to that bound). A gradient dC/dW^l comes out of a chain
 * of such products: L forward products, then the deltas down to layer l, then
 * the weight-gradient product, at most 2L of them on any path. The errors add
 * along the chain (to first order), each scaled by how much the terms of its
 * product cancel; for the small random networks here (weights from the usual
 * initializations, inputs in [-1, 1], no product cancelling more than a few
 * times), the largest element of the error stays within 2L 2^-7 times a small
 * factor of the largest element of the gradient. The tests allow 2^-3 (12.5%)
 * in bp_relative_error's measure (largest difference over largest value) for
 * L <= 3, that is 2L 2^-7 times 2.7 at L = 3, and require the error to be
 * above float32's (1e-5): a bf16 gradient as exact as the float one would mean
 * the products never ran in bf16.
 */
#include "test.h"

#include "backprop.h"
#include "backprop_verify.h"
#include "core/network.h"
#include "core/precision.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double pr_unit(uint64_t *s) { return (double)(bp_test_next(s) >> 11) * 0x1.0p-53; }

/* The precisions this CPU trains in: the emulation always, bf16 when it has it. */
static int pr_precisions(bp_precision out[2])
{
    int n = 0;
    out[n++] = BP_PRECISION_BF16_EMULATED;
    if (bp_precision_kernel(BP_PRECISION_BF16)) out[n++] = BP_PRECISION_BF16;
    return n;
}

/* bp_relative_error of the gradient computed in `precision` against the
   reference's, for a random network of this combination, or -1 when it could
   not run; *scale gets the gradient's largest element. */
static double bf16_gradient_error(bp_precision precision, bp_activation hidden, bp_activation output, bp_loss loss,
                                  uint64_t seed, double *scale)
{
    uint64_t st = seed;
    size_t sizes[4], L = 1 + (size_t)(bp_test_next(&st) % 3);
    for (size_t l = 0; l <= L; l++) sizes[l] = 8 + (size_t)(bp_test_next(&st) % 40);
    const size_t m = 4 + (size_t)(bp_test_next(&st) % 29);
    bp_net_config c = {L, sizes, hidden, output, loss, 1, seed, NULL, 0};
    bp_net *net = NULL;
    if (bp_net_create(&c, &net, NULL) != BP_OK) return -1;
    const size_t n0 = sizes[0], nL = sizes[L], P = bp_net_param_count(net);
    float *x = malloc(m * n0 * sizeof(float)), *y = calloc(m * nL, sizeof(float));
    double *g_ref = malloc(P * sizeof(double)), *g = malloc(P * sizeof(double));
    double err = -1;
    if (x && y && g_ref && g) {
        for (size_t i = 0; i < m * n0; i++) x[i] = (float)(2 * pr_unit(&st) - 1);
        for (size_t k = 0; k < m; k++) {
            if (loss == BP_LOSS_CE)
                y[k * nL + bp_test_next(&st) % nL] = 1;
            else
                for (size_t i = 0; i < nL; i++) y[k * nL + i] = (float)pr_unit(&st);
        }
        double l_bp = 0, l_ref = 0;
        const int saved = bp_precision_enter(net, precision);
        const bp_status s = bp_net_backward(net, x, y, m, BP_REDUCE_MEAN, &l_bp);
        bp_precision_leave(net, saved);
        if (s == BP_OK && bp_reference_gradient(net, x, y, m, BP_REDUCE_MEAN, &l_ref, g_ref) == BP_OK) {
            const float *gf = bp_net_grads(net);
            *scale = 0;
            for (size_t i = 0; i < P; i++) {
                g[i] = gf[i];
                *scale = fmax(*scale, fabs(g_ref[i]));
            }
            err = bp_relative_error(g, g_ref, P);
        }
    }
    free(x), free(y), free(g_ref), free(g);
    bp_net_free(net);
    return err;
}

/* Every hidden activation x output head, in each bf16 precision of this CPU:
   within 2^-3 of the reference, and not as close as float32 gets. */
void test_bf16_gradients_against_the_reference(void)
{
    const bp_activation hiddens[] = {BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU, BP_ACT_LEAKY_RELU};
    const struct {
        bp_activation output;
        bp_loss loss;
    } heads[] = {{BP_ACT_IDENTITY, BP_LOSS_MSE}, {BP_ACT_SIGMOID, BP_LOSS_MSE}, {BP_ACT_SOFTMAX, BP_LOSS_CE},
                 {BP_ACT_SIGMOID, BP_LOSS_BCE}};
    bp_precision precisions[2];
    const int np = pr_precisions(precisions);
    for (int p = 0; p < np; p++) {
        double worst = 0, least = INFINITY;
        uint64_t seed = 7000;
        for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++)
            for (size_t a = 0; a < sizeof hiddens / sizeof hiddens[0]; a++)
                for (int trial = 0; trial < 3; trial++) {
                    double scale = 0;
                    const double err = bf16_gradient_error(precisions[p], hiddens[a], heads[h].output,
                                                           heads[h].loss, ++seed, &scale);
                    CHECK(err >= 0, "could not run seed %llu", (unsigned long long)seed);
                    if (err < 0 || scale == 0) continue; /* a dead ReLU network proves nothing */
                    worst = fmax(worst, err);
                    least = fmin(least, err);
                    CHECK(err <= 0.125, "%s: %s/%s/%s seed %llu: gradient off the reference by %.3g",
                          bp_precision_kernel(precisions[p]), bp_activation_name(hiddens[a]),
                          bp_activation_name(heads[h].output), bp_loss_name(heads[h].loss),
                          (unsigned long long)seed, err);
                    CHECK(err > 1e-5, "%s: %s/%s/%s seed %llu: off by only %.3g: were the products in bf16?",
                          bp_precision_kernel(precisions[p]), bp_activation_name(hiddens[a]),
                          bp_activation_name(heads[h].output), bp_loss_name(heads[h].loss),
                          (unsigned long long)seed, err);
                }
        printf("  %s: gradient error %.3g to %.3g of its largest element\n", bp_precision_kernel(precisions[p]),
               least, worst);
    }
}

/* A 64-96-48-10 network and a batch of 64 random samples, in `threads`
   threads, trained `steps` steps of SGD (the update fused into the products)
   or Adam (the general path) in `precision`; the parameters come back in
   params (n floats). */
static int pr_train(bp_precision precision, int threads, int adam, int steps, float *params, size_t n)
{
    size_t sizes[] = {64, 96, 48, 10};
    bp_net_config c = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 5, NULL, 0};
    bp_train_config tc = {0};
    tc.optimizer = adam ? BP_OPT_ADAM : BP_OPT_SGD;
    tc.precision = precision;
    enum { M = 64 };
    static float x[M * 64], y[M * 10];
    uint64_t st = 17;
    memset(y, 0, sizeof y);
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)(2 * pr_unit(&st) - 1);
    for (size_t k = 0; k < M; k++) y[k * 10 + bp_test_next(&st) % 10] = 1;
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    int ok = bp_net_create(&c, &net, NULL) == BP_OK && bp_net_set_threads(net, threads, NULL) == BP_OK &&
             bp_trainer_create(net, &tc, &t) == BP_OK && bp_net_param_count(net) == n;
    for (int s = 0; ok && s < steps; s++) ok = bp_trainer_step(t, x, y, M, NULL) == BP_OK;
    if (ok) memcpy(params, bp_net_params(net), n * sizeof(float));
    bp_trainer_free(t);
    bp_net_free(net);
    return ok;
}

/* Training in bf16 gives the same bits with 1, 2 and 3 threads (the products
   are cut between 32 x 32 steps, never inside a sum), on both training paths;
   and it is really bf16: the parameters differ from float32 training's. */
void test_bf16_training_same_bits_for_any_thread_count(void)
{
    const size_t n = 64 * 96 + 96 + 96 * 48 + 48 + 48 * 10 + 10;
    float *one = malloc(n * sizeof(float)), *more = malloc(n * sizeof(float)), *fp32 = malloc(n * sizeof(float));
    bp_precision precisions[2];
    const int np = pr_precisions(precisions);
    CHECK(one && more && fp32, "out of memory");
    for (int adam = 0; one && more && fp32 && adam <= 1; adam++) {
        CHECK(pr_train(BP_PRECISION_FP32, 1, adam, 3, fp32, n), "float32 training");
        for (int p = 0; p < np; p++) {
            CHECK(pr_train(precisions[p], 1, adam, 3, one, n), "training on one thread");
            CHECK(memcmp(one, fp32, n * sizeof(float)) != 0, "%s: the same bits as float32 training",
                  bp_precision_kernel(precisions[p]));
            for (int threads = 2; threads <= 3; threads++) {
                CHECK(pr_train(precisions[p], threads, adam, 3, more, n), "training on %d threads", threads);
                CHECK(memcmp(one, more, n * sizeof(float)) == 0, "%s, %s: %d threads differ from one",
                      bp_precision_kernel(precisions[p]), adam ? "adam" : "sgd", threads);
            }
        }
    }
    free(one), free(more), free(fp32);
}

/* The precision holds while the trainer trains and only then: after a bf16
   step the network's own forward pass is float32 again, bit for bit what a
   copy of it (which never trained) computes. */
void test_bf16_only_while_training(void)
{
    size_t sizes[] = {40, 50, 3};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 8, NULL, 0};
    bp_train_config tc = {0};
    tc.precision = BP_PRECISION_BF16_EMULATED;
    enum { M = 40 };
    float x[M * 40], y[M * 3] = {0};
    uint64_t st = 3;
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)(2 * pr_unit(&st) - 1);
    for (size_t k = 0; k < M; k++) y[k * 3 + k % 3] = 1;
    bp_net *net = NULL, *copy = NULL;
    bp_trainer *t = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK, "setting up");
    if (t) {
        CHECK(bp_trainer_step(t, x, y, M, NULL) == BP_OK, "a bf16 step");
        CHECK(net->team.precision == 0, "the network's products stayed in precision %d", net->team.precision);
        CHECK(bp_net_clone(net, &copy) == BP_OK, "clone");
        if (copy) {
            float out1[M * 3], out2[M * 3];
            CHECK(bp_net_forward(net, x, M, out1) == BP_OK && bp_net_forward(copy, x, M, out2) == BP_OK, "forward");
            CHECK(memcmp(out1, out2, sizeof out1) == 0, "the trained network's forward pass is not float32's");
        }
    }
    bp_trainer_free(t);
    bp_net_free(net);
    bp_net_free(copy);
}

/* The settings: an unknown precision is refused, bf16 is refused exactly
   where bp_precision_kernel says there is none, a refused change keeps the
   old setting, and per-sample training of a tiny network (a path without bf16
   products) is not planned in bf16. */
void test_bf16_settings(void)
{
    size_t sizes[] = {4, 5, 2};
    bp_net_config c = {2, sizes, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 1, NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    if (!net) return;
    bp_train_config tc = {0};
    tc.precision = (bp_precision)7;
    CHECK(bp_trainer_create(net, &tc, &t) == BP_ERR_ARG, "precision 7 accepted");
    tc.precision = BP_PRECISION_BF16;
    const bp_status want = bp_precision_kernel(BP_PRECISION_BF16) ? BP_OK : BP_ERR_UNSUPPORTED;
    CHECK(bp_trainer_create(net, &tc, &t) == want, "bf16 here: %s", bp_status_message(want));
    bp_trainer_free(t);
    t = NULL;
    tc.precision = BP_PRECISION_BF16_EMULATED;
    CHECK(bp_trainer_create(net, &tc, &t) == BP_OK, "the emulation is everywhere");
    CHECK(bp_precision_kernel(BP_PRECISION_FP32) != NULL, "no float32 kernel named");
    CHECK(bp_precision_kernel((bp_precision)7) == NULL, "precision 7 has a kernel");
    if (t) {
        CHECK(bp_trainer_set_precision(t, (bp_precision)9) == BP_ERR_ARG, "precision 9 accepted");
        CHECK(bp_trainer_set_precision(t, BP_PRECISION_BF16) == want, "bf16 set");
        CHECK(bp_trainer_set_precision(NULL, BP_PRECISION_FP32) == BP_ERR_ARG, "no trainer");
        /* Per sample on a 4-5-2 network: the tiny path in float32, the general one in bf16.
           The tiny path never touches the team: a bf16 run leaves it bf16-free in the end
           either way, so the difference shows in the bits of the result. */
        bp_dataset *d = NULL;
        CHECK(bp_dataset_create(50, 4, 2, &d) == BP_OK, "data");
        if (d) {
            uint64_t st = 9;
            for (size_t i = 0; i < 50 * 4; i++) bp_dataset_x(d)[i] = (float)pr_unit(&st);
            for (size_t i = 0; i < 50 * 2; i++) bp_dataset_y(d)[i] = (float)pr_unit(&st);
            bp_net *a = NULL, *b = NULL;
            bp_trainer *ta = NULL, *tb = NULL;
            bp_train_config one = {0};
            one.batch_size = 1;
            one.no_shuffle = 1;
            CHECK(bp_net_clone(net, &a) == BP_OK && bp_net_clone(net, &b) == BP_OK, "clones");
            CHECK(a && b && bp_trainer_create(a, &one, &ta) == BP_OK, "fp32 trainer");
            one.precision = BP_PRECISION_BF16_EMULATED;
            CHECK(a && b && bp_trainer_create(b, &one, &tb) == BP_OK, "bf16 trainer");
            if (ta && tb) {
                CHECK(bp_trainer_epoch(ta, d, NULL) == BP_OK && bp_trainer_epoch(tb, d, NULL) == BP_OK, "epochs");
                CHECK(memcmp(bp_net_params(a), bp_net_params(b), bp_net_param_count(a) * sizeof(float)) != 0,
                      "per-sample bf16 training gave float32's bits: it ran on the tiny float32 path");
            }
            bp_trainer_free(ta), bp_trainer_free(tb);
            bp_net_free(a), bp_net_free(b);
        }
        bp_dataset_free(d);
    }
    bp_trainer_free(t);
    bp_net_free(net);
}

/* Training to an answer: three Gaussian clusters in 20 dimensions, a 20-32-3
   network, 8 epochs of SGD at batch 32. bf16 must learn them as float32 does:
   both above 95% training accuracy, within 2 points of each other. */
void test_bf16_learns_what_float32_learns(void)
{
    enum { N = 1500, D = 20, K = 3 };
    bp_dataset *d = NULL;
    CHECK(bp_dataset_create(N, D, K, &d) == BP_OK, "data");
    if (!d) return;
    uint64_t st = 44;
    float centers[K][D];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < D; j++) centers[k][j] = (float)(pr_unit(&st) - 0.5);
    for (size_t i = 0; i < N; i++) {
        const size_t k = i % K;
        for (int j = 0; j < D; j++) {
            /* Box-Muller, sigma 0.25 around the center. */
            const double u1 = pr_unit(&st) + 1e-12, u2 = pr_unit(&st);
            bp_dataset_x(d)[i * D + j] = centers[k][j] + (float)(0.25 * sqrt(-2 * log(u1)) * cos(6.283185307 * u2));
        }
        bp_dataset_y(d)[i * K + k] = 1;
    }
    size_t sizes[] = {D, 32, K};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 2, NULL, 0};
    double acc[3] = {0};
    const bp_precision precisions[3] = {BP_PRECISION_FP32, BP_PRECISION_BF16_EMULATED, BP_PRECISION_BF16};
    for (int p = 0; p < 3; p++) {
        if (precisions[p] == BP_PRECISION_BF16 && !bp_precision_kernel(BP_PRECISION_BF16)) {
            acc[p] = acc[1];
            continue;
        }
        bp_net *net = NULL;
        bp_trainer *t = NULL;
        bp_train_config tc = {0};
        tc.batch_size = 32;
        tc.seed = 3;
        tc.precision = precisions[p];
        CHECK(bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK, "setting up");
        for (int e = 0; t && e < 8; e++) CHECK(bp_trainer_epoch(t, d, NULL) == BP_OK, "epoch");
        bp_metrics m;
        if (t && bp_net_evaluate(net, d, &m) == BP_OK) acc[p] = m.accuracy;
        bp_trainer_free(t);
        bp_net_free(net);
    }
    for (int p = 0; p < 3; p++)
        CHECK(acc[p] > 0.95 && fabs(acc[p] - acc[0]) <= 0.02, "%s: accuracy %.4f, float32 %.4f",
              bp_precision_kernel(precisions[p]) ? bp_precision_kernel(precisions[p]) : "bf16", acc[p], acc[0]);
    bp_dataset_free(d);
}
