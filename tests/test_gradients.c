/*
 * test_gradients.c - the three-way agreement: float32 backprop, the double
 * Jacobian-chain reference and central finite differences, on every
 * activation x loss x bias combination, random depths 1-4 and random widths,
 * batch sizes 1 and more, mean and sum reductions; and all of it again with
 * dropout, through one fixed mask that all three apply (bp_net_set_dropout_mask).
 */
#include <math.h>
#include <stdlib.h>

#include "backprop_verify.h"
#include "test.h"

static uint64_t next(uint64_t *s) { return bp_test_next(s); }
static double unit(uint64_t *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }

typedef struct {
    double bp_ref, ref_fd, scale;
    int mask_mattered; /* with dropout: the masked loss differs from the unmasked one */
} agreement;

/* Build a random network and batch for this combination, and measure how well
   the three gradients agree. */
static int compare(bp_activation hidden, bp_activation output, bp_loss loss, int bias, size_t m,
                   bp_reduction red, uint64_t seed, int dropout, agreement *out)
{
    uint64_t st = seed;
    size_t sizes[5], L = 1 + (size_t)(next(&st) % 4);
    for (size_t l = 0; l <= L; l++) sizes[l] = 1 + (size_t)(next(&st) % 6);
    if (output == BP_ACT_SOFTMAX && sizes[L] < 2) sizes[L] = 2;
    const double p[4] = {0.5, 0.25, 0.5, 0.25};
    bp_net_config c = {L, sizes, hidden, output, loss, bias, seed, dropout ? p : NULL, 0};
    bp_net *net = NULL;
    if (bp_net_create(&c, &net, NULL) != BP_OK) return 0;
    if (dropout) {
        /* One mask for every hidden unit of every sample: 0 (dropped) or 1 / (1 - p). */
        size_t count = 0;
        for (size_t l = 1; l < L; l++) count += m * sizes[l];
        float *mask = malloc((count ? count : 1) * sizeof(float));
        if (!mask) return 0;
        for (size_t l = 1, k = 0; l < L; l++)
            for (size_t i = 0; i < m * sizes[l]; i++, k++)
                mask[k] = unit(&st) < p[l - 1] ? 0.0f : (float)(1.0 / (1.0 - p[l - 1]));
        CHECK(bp_net_set_dropout_mask(net, mask, m) == BP_OK, "set the mask");
        free(mask);
    }
    for (size_t l = 1; bias && l <= L; l++) {
        float *b;
        bp_net_layer_view(net, l, NULL, &b, NULL, NULL);
        for (size_t i = 0; i < sizes[l]; i++) b[i] = (float)(unit(&st) - 0.5);
    }
    size_t n0 = sizes[0], nL = sizes[L], P = bp_net_param_count(net);
    float *x = malloc(m * n0 * sizeof(float)), *y = calloc(m * nL, sizeof(float));
    double *g_ref = malloc(P * sizeof(double)), *g_fd = malloc(P * sizeof(double)),
           *g_bp = malloc(P * sizeof(double));
    int ok = x && y && g_ref && g_fd && g_bp;
    if (ok) {
        for (size_t i = 0; i < m * n0; i++) x[i] = (float)(2 * unit(&st) - 1);
        for (size_t k = 0; k < m; k++) {
            if (loss == BP_LOSS_CE && seed % 3 == 0)
                /* Targets that do not sum to 1: dC/dz is then (sum y) a - y, not a - y. */
                for (size_t i = 0; i < nL; i++) y[k * nL + i] = (float)unit(&st);
            else if (loss == BP_LOSS_CE)
                y[k * nL + next(&st) % nL] = 1;
            else
                for (size_t i = 0; i < nL; i++) y[k * nL + i] = (float)unit(&st);
        }
        double l_bp = 0, l_ref = 0;
        ok = bp_net_backward(net, x, y, m, red, &l_bp) == BP_OK &&
             bp_reference_gradient(net, x, y, m, red, &l_ref, g_ref) == BP_OK &&
             bp_finite_difference_gradient(net, x, y, m, red, 1e-6, g_fd) == BP_OK;
        CHECK(fabs(l_bp - l_ref) <= 1e-5 * (1 + fabs(l_ref)), "loss %g vs reference %g", l_bp, l_ref);
        out->mask_mattered = 0;
        if (dropout && ok) {
            double plain = 0;
            bp_net_set_dropout_mask(net, NULL, 0);
            ok = bp_net_compute_loss(net, x, y, m, red, &plain) == BP_OK;
            out->mask_mattered = plain != l_bp;
        }
        const float *g = bp_net_grads(net);
        for (size_t i = 0; i < P; i++) g_bp[i] = g[i];
        out->bp_ref = bp_relative_error(g_bp, g_ref, P);
        out->ref_fd = bp_relative_error(g_ref, g_fd, P);
        out->scale = 0;
        for (size_t i = 0; i < P; i++) out->scale = fmax(out->scale, fabs(g_ref[i]));
    }
    free(x), free(y), free(g_ref), free(g_fd), free(g_bp);
    bp_net_free(net);
    return ok;
}

static void sweep(size_t m, bp_reduction red, uint64_t seed0, int dropout)
{
    int mattered = 0, deep = 0;
    const bp_activation hiddens[] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU,
                                     BP_ACT_LEAKY_RELU};
    const struct {
        bp_activation output;
        bp_loss loss;
    } heads[] = {{BP_ACT_IDENTITY, BP_LOSS_MSE}, {BP_ACT_SIGMOID, BP_LOSS_MSE},
                 {BP_ACT_TANH, BP_LOSS_MSE},     {BP_ACT_RELU, BP_LOSS_MSE},
                 {BP_ACT_LEAKY_RELU, BP_LOSS_MSE}, {BP_ACT_SOFTMAX, BP_LOSS_MSE},
                 {BP_ACT_SOFTMAX, BP_LOSS_CE},   {BP_ACT_SIGMOID, BP_LOSS_BCE}};
    uint64_t seed = seed0;
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++)
        for (size_t a = 0; a < 5; a++)
            for (int bias = 0; bias <= 1; bias++)
                for (int trial = 0; trial < 3; trial++) {
                    agreement r = {0};
                    seed++;
                    int ok = compare(hiddens[a], heads[h].output, heads[h].loss, bias, m, red, seed, dropout, &r);
                    mattered += r.mask_mattered;
                    deep++;
                    CHECK(ok, "could not run %s/%s/%s", bp_activation_name(hiddens[a]),
                          bp_activation_name(heads[h].output), bp_loss_name(heads[h].loss));
                    if (!ok) continue;
                    /* A ReLU network can be dead for some random draws: an all-zero
                       gradient agrees with anything, so it proves nothing either way. */
                    if (r.scale == 0 && (hiddens[a] == BP_ACT_RELU || heads[h].output == BP_ACT_RELU))
                        continue;
                    CHECK(r.scale > 0, "all-zero gradient: %s/%s/%s bias %d seed %llu",
                          bp_activation_name(hiddens[a]), bp_activation_name(heads[h].output),
                          bp_loss_name(heads[h].loss), bias, (unsigned long long)seed);
                    CHECK(r.ref_fd <= 1e-7, "reference vs finite differences %.3e: %s/%s/%s bias %d m %zu seed %llu",
                          r.ref_fd, bp_activation_name(hiddens[a]), bp_activation_name(heads[h].output),
                          bp_loss_name(heads[h].loss), bias, m, (unsigned long long)seed);
                    CHECK(r.bp_ref <= 1e-4, "backprop vs reference %.3e: %s/%s/%s bias %d m %zu seed %llu",
                          r.bp_ref, bp_activation_name(hiddens[a]), bp_activation_name(heads[h].output),
                          bp_loss_name(heads[h].loss), bias, m, (unsigned long long)seed);
                }
    /* Networks without a hidden layer have nothing to drop; most others must feel it. */
    if (dropout) CHECK(mattered > deep / 3, "the mask changed the loss in %d of %d networks", mattered, deep);
}

void test_gradients_three_ways_single_sample(void) { sweep(1, BP_REDUCE_MEAN, 1000, 0); }
void test_gradients_three_ways_batch_mean(void) { sweep(7, BP_REDUCE_MEAN, 2000, 0); }
void test_gradients_three_ways_batch_sum(void) { sweep(5, BP_REDUCE_SUM, 3000, 0); }
void test_gradients_three_ways_dropout(void) { sweep(6, BP_REDUCE_MEAN, 4000, 1); }

/* The batch gradient with the mean reduction is the mean of the per-sample gradients,
   and the sum reduction is m times it (seed 004's matrix form against seed 003's sum). */
void test_gradients_batch_is_mean_of_samples(void)
{
    size_t sizes[] = {4, 6, 3};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 9, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    if (!net) return;
    enum { M = 9 };
    float x[M * 4], y[M * 3] = {0};
    uint64_t st = 5;
    for (int i = 0; i < M * 4; i++) x[i] = (float)(2 * unit(&st) - 1);
    for (int k = 0; k < M; k++) y[k * 3 + k % 3] = 1;
    size_t P = bp_net_param_count(net);
    double *mean = calloc(P, sizeof(double));
    float *batch = malloc(P * sizeof(float));
    if (!mean || !batch) {
        free(mean), free(batch), bp_net_free(net);
        CHECK(0, "out of memory");
        return;
    }
    for (int k = 0; k < M; k++) {
        CHECK(bp_net_backward(net, x + 4 * k, y + 3 * k, 1, BP_REDUCE_MEAN, NULL) == BP_OK, "one");
        for (size_t i = 0; i < P; i++) mean[i] += bp_net_grads(net)[i] / (double)M;
    }
    CHECK(bp_net_backward(net, x, y, M, BP_REDUCE_MEAN, NULL) == BP_OK, "batch");
    for (size_t i = 0; i < P; i++) batch[i] = bp_net_grads(net)[i];
    for (size_t i = 0; i < P; i++) CHECK_NEAR(batch[i], mean[i], 1e-5);
    CHECK(bp_net_backward(net, x, y, M, BP_REDUCE_SUM, NULL) == BP_OK, "sum");
    for (size_t i = 0; i < P; i++) CHECK_NEAR(bp_net_grads(net)[i], M * mean[i], 1e-5);
    free(mean), free(batch);
    bp_net_free(net);
}

/* Wide layers go through the blocked GEMM's packed path, not only its small-matrix
   path: check backprop against the reference there too. */
void test_gradients_wide_layers(void)
{
    size_t sizes[] = {70, 90, 33, 10};
    bp_net_config c = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    if (!net) return;
    enum { M = 37 };
    float *x = malloc(M * 70 * sizeof(float)), y[M * 10] = {0};
    size_t P = bp_net_param_count(net);
    double *g_ref = malloc(P * sizeof(double)), *g_bp = malloc(P * sizeof(double));
    uint64_t st = 11;
    if (x && g_ref && g_bp) {
        for (int i = 0; i < M * 70; i++) x[i] = (float)unit(&st);
        for (int k = 0; k < M; k++) y[k * 10 + k % 10] = 1;
        CHECK(bp_net_backward(net, x, y, M, BP_REDUCE_MEAN, NULL) == BP_OK, "backward");
        CHECK(bp_reference_gradient(net, x, y, M, BP_REDUCE_MEAN, NULL, g_ref) == BP_OK, "reference");
        for (size_t i = 0; i < P; i++) g_bp[i] = bp_net_grads(net)[i];
        double e = bp_relative_error(g_bp, g_ref, P);
        CHECK(e <= 1e-4, "backprop vs reference %.3e", e);
    }
    free(x), free(g_ref), free(g_bp);
    bp_net_free(net);
}

void test_relative_error_measure(void)
{
    double a[] = {1, 2, -4}, b[] = {1, 2.5, -4}, z[] = {0, 0, 0}, n[] = {0, NAN, 0};
    CHECK(bp_relative_error(a, b, 3) == 0.125, "0.5 / 4");
    CHECK(bp_relative_error(z, z, 3) == 0, "both zero");
    CHECK(isinf(bp_relative_error(a, n, 3)), "NaN is never agreement");
}
