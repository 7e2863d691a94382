/*
 * test_layers.c - every fast path of a dense layer against the plain reference
 * (src/core/dense_reference.c): the GEMM with its epilogues (bias, ReLU, g'),
 * the gradient products and the update steps fused into them (dense.c), and the
 * tiny per-sample path (tiny_sgd.c), on every activation and on shapes that cut
 * the GEMM's tiles unevenly.
 *
 * The reference sums in double, so the tolerance bounds the fast path's own
 * float rounding: a few units of 2^-24 times the size of the terms summed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "core/activation.h"
#include "core/dense.h"
#include "core/dense_reference.h"
#include "core/loss.h"
#include "kernels/fastmath.h"
#include "core/tiny_sgd.h"
#include "test.h"

static const bp_activation every_g[] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU,
                                        BP_ACT_LEAKY_RELU, BP_ACT_SOFTMAX};
static const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 100, 48}, {2, 300, 20}, {70, 13, 2}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static float uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((bp_test_next(s) >> 40) / 16777216.0);
}

static float *random_block(uint64_t *s, size_t n, float lo, float hi)
{
    float *v = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; v && i < n; i++) v[i] = uniform(s, lo, hi);
    return v;
}

/* Largest |a_i - b_i| over n values. */
static double max_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

/* A team of one: the calling thread and its GEMM workspace. */
static float *workspace;
static float *workspace_list[1];
static bp_gemm_team one_thread(void)
{
    if (!workspace) workspace = malloc(BP_GEMM_WORKSPACE_FLOATS * sizeof(float));
    workspace_list[0] = workspace;
    bp_gemm_team team = {NULL, workspace_list, 0};
    return team;
}

/* Forward: the GEMM with the bias (and ReLU) in its epilogue, then g, against
   z = W a + b, a = g(z) in plain loops; z kept apart, or computed in place (a
   hidden layer keeps only a). */
void test_layer_forward_matches_reference(void)
{
    uint64_t s = 11;
    bp_gemm_team team = one_thread();
    for (size_t k = 0; k < N_SHAPES; k++)
        for (size_t gi = 0; gi < sizeof every_g / sizeof every_g[0]; gi++)
            for (int bias = 0; bias < 2; bias++)
                for (int in_place = 0; in_place < 2; in_place++) {
                    const bp_activation g = every_g[gi];
                    if (in_place && g == BP_ACT_SOFTMAX) continue; /* the output layer keeps z */
                    const size_t m = shapes[k][0], n_in = shapes[k][1], n_out = shapes[k][2];
                    float *x = random_block(&s, m * n_in, -1, 1), *W = random_block(&s, n_out * n_in, -1, 1);
                    float *b = bias ? random_block(&s, n_out, -1, 1) : NULL;
                    float *z = malloc(m * n_out * sizeof(float)), *a = malloc(m * n_out * sizeof(float));
                    float *rz = malloc(m * n_out * sizeof(float)), *ra = malloc(m * n_out * sizeof(float));
                    bp_dense_forward(in_place ? a : z, a, x, W, b, m, n_in, n_out, g, &team);
                    bp_dense_forward_reference(rz, ra, x, W, b, m, n_in, n_out, g);
                    /* Each z sums n_in + 1 terms of size at most 1. */
                    const double tol = 4e-7 * (double)(n_in + 1);
                    CHECK(max_diff(a, ra, m * n_out) <= tol, "a, %s, bias %d, in place %d, %zux%zux%zu: off by %g",
                          bp_activation_name(g), bias, in_place, m, n_in, n_out, max_diff(a, ra, m * n_out));
                    if (!in_place)
                        CHECK(max_diff(z, rz, m * n_out) <= tol, "z, %s, bias %d, %zux%zux%zu: off by %g",
                              bp_activation_name(g), bias, m, n_in, n_out, max_diff(z, rz, m * n_out));
                    free(x), free(W), free(b), free(z), free(a), free(rz), free(ra);
                }
}

/* The layer's output a = g(z) for random z: what a backward pass reads g' from. */
static float *outputs_of(uint64_t *s, bp_activation g, size_t n)
{
    float *a = random_block(s, n, -2, 2);
    for (size_t i = 0; a && i < n; i++) a[i] = bp_g(g, a[i]);
    return a;
}

/* Backward: delta^(l-1) = W^T delta (.) g'(a^(l-1)) with g' in the GEMM's epilogue,
   and dW, db as products, against the plain loops; mean and sum. */
void test_layer_backward_matches_reference(void)
{
    uint64_t s = 12;
    bp_gemm_team team = one_thread();
    for (size_t k = 0; k < N_SHAPES; k++)
        for (size_t gi = 0; gi < 5; gi++) /* every hidden activation: all but softmax */
            for (int mean = 0; mean < 2; mean++) {
                const bp_activation g = every_g[gi];
                const size_t m = shapes[k][0], n_in = shapes[k][1], n_out = shapes[k][2];
                const float scale = mean ? 1.0f / (float)m : 1.0f;
                float *a_prev = outputs_of(&s, g, m * n_in), *W = random_block(&s, n_out * n_in, -1, 1);
                float *delta = random_block(&s, m * n_out, -1, 1);
                float *dp = malloc(m * n_in * sizeof(float)), *rdp = malloc(m * n_in * sizeof(float));
                float *gW = malloc(n_out * n_in * sizeof(float)), *rgW = malloc(n_out * n_in * sizeof(float));
                float *gb = malloc(n_out * sizeof(float)), *rgb = malloc(n_out * sizeof(float));
                bp_dense_backward_delta(dp, delta, W, a_prev, g, m, n_in, n_out, &team);
                bp_dense_gradient(gW, gb, delta, a_prev, m, n_in, n_out, scale, &team);
                bp_dense_backward_reference(rdp, rgW, rgb, delta, W, a_prev, g, m, n_in, n_out, scale);
                /* |a_prev| <= 2 (identity, leaky), |delta|, |W| <= 1. */
                const double tol_d = 4e-7 * (double)n_out, tol_w = 8e-7 * (double)m * scale;
                CHECK(max_diff(dp, rdp, m * n_in) <= tol_d, "delta_prev, %s, %zux%zux%zu: off by %g",
                      bp_activation_name(g), m, n_in, n_out, max_diff(dp, rdp, m * n_in));
                CHECK(max_diff(gW, rgW, n_out * n_in) <= tol_w, "dW, %s, %zux%zux%zu, mean %d: off by %g",
                      bp_activation_name(g), m, n_in, n_out, mean, max_diff(gW, rgW, n_out * n_in));
                CHECK(max_diff(gb, rgb, n_out) <= tol_w, "db, %s, %zux%zux%zu, mean %d: off by %g",
                      bp_activation_name(g), m, n_in, n_out, mean, max_diff(gb, rgb, n_out));
                free(a_prev), free(W), free(delta), free(dp), free(rdp), free(gW), free(rgW), free(gb), free(rgb);
            }
}

/* The updates fused into the weight-gradient product: plain SGD with L2 decay,
   W <- (1 - lr wd) W - lr dW, and momentum, V <- mu V + dW, W <- W - lr V, against
   the same arithmetic on the reference gradient. */
void test_layer_fused_steps_match_reference(void)
{
    uint64_t s = 13;
    bp_gemm_team team = one_thread();
    const float lr = 0.3f, wd = 0.01f, mu = 0.9f;
    for (size_t k = 0; k < N_SHAPES; k++) {
        const size_t m = shapes[k][0], n_in = shapes[k][1], n_out = shapes[k][2], nw = n_out * n_in;
        const float scale = 1.0f / (float)m;
        float *a_prev = random_block(&s, m * n_in, 0, 1), *delta = random_block(&s, m * n_out, -1, 1);
        float *W = random_block(&s, nw, -1, 1), *b = random_block(&s, n_out, -1, 1);
        float *vW = random_block(&s, nw, -1, 1), *vb = random_block(&s, n_out, -1, 1);
        float *rgW = malloc(nw * sizeof(float)), *rgb = malloc(n_out * sizeof(float));
        bp_dense_backward_reference(NULL, rgW, rgb, delta, W, a_prev, BP_ACT_IDENTITY, m, n_in, n_out, scale);
        float *W1 = malloc(nw * sizeof(float)), *b1 = malloc(n_out * sizeof(float));
        float *rW = malloc(nw * sizeof(float)), *rb = malloc(n_out * sizeof(float));
        /* Plain SGD with decay. */
        memcpy(W1, W, nw * sizeof(float)), memcpy(b1, b, n_out * sizeof(float));
        bp_dense_sgd_step(W1, b1, delta, a_prev, m, n_in, n_out, scale, lr, wd, &team);
        for (size_t i = 0; i < nw; i++) rW[i] = (1 - lr * wd) * W[i] - lr * rgW[i];
        for (size_t i = 0; i < n_out; i++) rb[i] = (1 - lr * wd) * b[i] - lr * rgb[i];
        CHECK(max_diff(W1, rW, nw) <= 1e-6, "sgd W, shape %zu: off by %g", k, max_diff(W1, rW, nw));
        CHECK(max_diff(b1, rb, n_out) <= 1e-6, "sgd b, shape %zu: off by %g", k, max_diff(b1, rb, n_out));
        /* Momentum. */
        float *v1 = malloc(nw * sizeof(float)), *vb1 = malloc(n_out * sizeof(float));
        memcpy(W1, W, nw * sizeof(float)), memcpy(b1, b, n_out * sizeof(float));
        memcpy(v1, vW, nw * sizeof(float)), memcpy(vb1, vb, n_out * sizeof(float));
        bp_dense_momentum_step(W1, b1, v1, vb1, delta, a_prev, m, n_in, n_out, scale, lr, mu, &team);
        for (size_t i = 0; i < nw; i++) rW[i] = W[i] - lr * (mu * vW[i] + rgW[i]);
        for (size_t i = 0; i < n_out; i++) rb[i] = b[i] - lr * (mu * vb[i] + rgb[i]);
        CHECK(max_diff(W1, rW, nw) <= 2e-6, "momentum W, shape %zu: off by %g", k, max_diff(W1, rW, nw));
        CHECK(max_diff(b1, rb, n_out) <= 2e-6, "momentum b, shape %zu: off by %g", k, max_diff(b1, rb, n_out));
        free(a_prev), free(delta), free(W), free(b), free(vW), free(vb), free(rgW), free(rgb);
        free(W1), free(b1), free(rW), free(rb), free(v1), free(vb1);
    }
}

/* One per-sample SGD step of the whole network through the reference layers:
   forward, delta^L (a - y for the canonical pairs, (a - y) (.) g'(a) for MSE
   otherwise), backward layer by layer with the old weights, then W <- W - lr dW. */
static void reference_sgd_sample(size_t L, const size_t *n, bp_activation hidden, bp_activation output, bp_loss loss,
                                 float **W, float **b, const float *x, const float *y, float lr)
{
    float act[4][32], z[32], delta[32], prev[32], gW[32 * 32], gb[32];
    const float *a = x;
    for (size_t l = 1; l <= L; l++) {
        bp_dense_forward_reference(z, act[l], a, W[l], b[l], 1, n[l - 1], n[l], l == L ? output : hidden);
        a = act[l];
    }
    for (size_t i = 0; i < n[L]; i++) {
        delta[i] = a[i] - y[i];
        if (loss == BP_LOSS_MSE && output != BP_ACT_IDENTITY) delta[i] *= bp_g_prime(output, a[i]);
    }
    for (size_t l = L; l >= 1; l--) {
        const float *a_prev = l > 1 ? act[l - 1] : x;
        bp_dense_backward_reference(l > 1 ? prev : NULL, gW, b[l] ? gb : NULL, delta, W[l], a_prev, hidden, 1,
                                    n[l - 1], n[l], 1.0f);
        for (size_t i = 0; i < n[l] * n[l - 1]; i++) W[l][i] -= lr * gW[i];
        for (size_t i = 0; b[l] && i < n[l]; i++) b[l][i] -= lr * gb[i];
        if (l > 1) memcpy(delta, prev, n[l - 1] * sizeof(float));
    }
}

/* The tiny path (its plain loops and, where the network is small enough, its
   four-lane version) against the reference layers, sample after sample. */
void test_tiny_path_matches_reference_layers(void)
{
    static const struct {
        bp_activation output;
        bp_loss loss;
    } tops[] = {{BP_ACT_IDENTITY, BP_LOSS_MSE}, {BP_ACT_SIGMOID, BP_LOSS_MSE}, {BP_ACT_SIGMOID, BP_LOSS_BCE},
                {BP_ACT_SOFTMAX, BP_LOSS_CE}, {BP_ACT_TANH, BP_LOSS_MSE}};
    static const size_t small[] = {3, 4, 2}, wide[] = {5, 17, 9, 3};
    const bp_tiny_kernel kernels[] = {BP_TINY_PLAIN, BP_TINY_VECTOR, BP_TINY_VECTOR_FMA};
    uint64_t s = 14;
    for (int shape = 0; shape < 2; shape++)
        for (size_t gi = 0; gi < 5; gi++)
            for (size_t t = 0; t < sizeof tops / sizeof tops[0]; t++)
                for (size_t k = 0; k < 3; k++) {
                    const size_t L = shape ? 3 : 2, *n = shape ? wide : small;
                    bp_net_config c = {L, n, every_g[gi], tops[t].output, tops[t].loss, 1, 7 + gi, NULL, 0};
                    bp_net *net = NULL;
                    if (bp_net_create(&c, &net, NULL) != BP_OK) {
                        CHECK(0, "creating the network");
                        continue;
                    }
                    const size_t samples = 5;
                    float x[5 * 5], y[5 * 3];
                    for (size_t i = 0; i < samples * n[0]; i++) x[i] = uniform(&s, -1, 1);
                    for (size_t i = 0; i < samples; i++)
                        for (size_t j = 0; j < n[L]; j++)
                            y[i * n[L] + j] = tops[t].loss == BP_LOSS_CE ? (j == i % n[L]) : uniform(&s, 0, 1);
                    /* The reference's copy of the parameters. */
                    float *W[4] = {0}, *b[4] = {0};
                    for (size_t l = 1; l <= L; l++) {
                        float *nW, *nb;
                        bp_net_layer_view(net, l, &nW, &nb, NULL, NULL);
                        W[l] = malloc(n[l] * n[l - 1] * sizeof(float));
                        b[l] = malloc(n[l] * sizeof(float));
                        memcpy(W[l], nW, n[l] * n[l - 1] * sizeof(float));
                        memcpy(b[l], nb, n[l] * sizeof(float));
                    }
                    const float lr = 0.2f;
                    double sum = bp_tiny_sgd_epoch_with(kernels[k], net, x, y, NULL, samples, lr, 0.0f);
                    for (size_t i = 0; i < samples; i++)
                        reference_sgd_sample(L, n, every_g[gi], tops[t].output, tops[t].loss, W, b, x + i * n[0],
                                             y + i * n[L], lr);
                    double worst = 0.0;
                    for (size_t l = 1; l <= L; l++) {
                        float *nW, *nb;
                        bp_net_layer_view(net, l, &nW, &nb, NULL, NULL);
                        worst = fmax(worst, max_diff(nW, W[l], n[l] * n[l - 1]));
                        worst = fmax(worst, max_diff(nb, b[l], n[l]));
                        free(W[l]), free(b[l]);
                    }
                    /* The tiny path's exponentials are a few ulp from libm's. */
                    CHECK(isfinite(sum) && worst <= 2e-5, "kernel %zu, %zu layers, %s hidden, %s/%s: off by %g", k, L,
                          bp_activation_name(every_g[gi]), bp_activation_name(tops[t].output),
                          bp_loss_name(tops[t].loss), worst);
                    bp_net_free(net);
                }
}

/* A row of test logits for the softmax and loss tests: random values over a wide
   range, with ties for the largest, special values (if asked) and exact multiples of
   ln2 mixed in. */
static void test_logits(float *z, size_t m, size_t n, uint32_t *state, int specials)
{
    const float special[] = {NAN, INFINITY, -INFINITY, 90.0f, -100.0f, -0.0f, 0.6931472f, -2.0794415f, 1e-30f};
    for (size_t i = 0; i < m * n; i++) {
        *state = *state * 1664525u + 1013904223u;
        z[i] = ((float)(*state >> 8) / 16777216.0f - 0.5f) * 80.0f;
        if (specials && *state % 23 == 0) z[i] = special[(*state >> 5) % (sizeof special / sizeof special[0])];
        if (*state % 7 == 0 && i % n > 0) z[i] = z[i - 1]; /* ties */
        if (*state % 11 == 0) z[i] = (float)(i % 5) * 0.6931472f;
    }
}

/* The plain softmax softmax_rows is measured against: per row, the maximum, e^(z -
   max) by bp_fast_expf one value at a time, the sum in double, each divided by it. */
static void softmax_plain(const float *z, float *a, size_t m, size_t n)
{
    for (size_t s = 0; s < m; s++) {
        float max = z[s * n];
        for (size_t i = 1; i < n; i++) max = z[s * n + i] > max ? z[s * n + i] : max;
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += a[s * n + i] = bp_fast_expf(z[s * n + i] - max);
        float inv = (float)(1.0 / sum);
        for (size_t i = 0; i < n; i++) a[s * n + i] *= inv;
    }
}

/* bp_softmax_rows gives the plain loop's bits, portable and with AVX-512 (where the
   CPU has it), for every row length up to 40 and batches of 1 to 31 rows (so the
   eight-row blocks, the rows after them, rows too long for a block, and the 16-lane
   exponentials' main loop and scalar tail all run), NaN and infinities included. */
void test_softmax_rows_match_plain(void)
{
    static float z[40 * 31], want[40 * 31], portable[40 * 31], wide[40 * 31];
    const size_t batches[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 24, 31};
    uint32_t state = 2024;
    size_t mismatches = 0;
    for (size_t n = 1; n <= 40; n++)
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            const size_t m = batches[b];
            test_logits(z, m, n, &state, 1);
            softmax_plain(z, want, m, n);
            bp_softmax_rows(z, portable, m, n, 1);
            memcpy(wide, z, m * n * sizeof(float)); /* in place, as the layers call it */
            bp_softmax_rows(wide, wide, m, n, 0);
            for (size_t i = 0; i < m * n; i++) {
                /* NaN's payload may differ; that it is NaN may not. */
                if (want[i] != want[i]) {
                    mismatches += portable[i] == portable[i] || wide[i] == wide[i];
                    continue;
                }
                mismatches += memcmp(&portable[i], &want[i], sizeof(float)) != 0;
                mismatches += memcmp(&wide[i], &want[i], sizeof(float)) != 0;
            }
        }
    CHECK(mismatches == 0, "%zu softmax values differ from the plain loop's bits", mismatches);
}

/* The cross-entropy sum takes log a at the largest logit found without a branch; it
   must give the bits of the definition that finds the first largest logit's index,
   ties and all, for one-hot and soft targets, alone and fused with delta^L (rows of
   1 to 20, batches of 1 to 64: the eight-row AVX-512 blocks, the rows after them and
   rows too long for a block). */
void test_ce_loss_sum_matches_plain(void)
{
    static float z[64 * 20], a[64 * 20], y[64 * 20], delta[64 * 20];
    uint32_t state = 77;
    size_t mismatches = 0;
    for (size_t n = 1; n <= 20; n++)
        for (size_t m = 1; m <= 64; m += 21) {
            test_logits(z, m, n, &state, 0);
            bp_softmax_rows(z, a, m, n, 0);
            for (size_t s = 0; s < m; s++)
                for (size_t i = 0; i < n; i++) {
                    state = state * 1664525u + 1013904223u;
                    y[s * n + i] = s % 2 ? (float)(i == state % n) : (float)(state >> 8) / 16777216.0f;
                }
            double want = 0.0;
            for (size_t s = 0; s < m; s++) {
                const float *zr = z + s * n, *ar = a + s * n, *yr = y + s * n;
                size_t top = 0;
                double ysum = 0.0, yz = 0.0;
                for (size_t i = 1; i < n; i++) top = zr[i] > zr[top] ? i : top;
                for (size_t i = 0; i < n; i++) ysum += yr[i], yz += (double)yr[i] * zr[i];
                want += ysum * ((double)zr[top] - log((double)ar[top])) - yz;
            }
            const double got = bp_loss_sum(BP_LOSS_CE, z, a, y, m, n);
            mismatches += memcmp(&got, &want, sizeof got) != 0;
            /* The fused form, portable and with AVX-512 (where the CPU has it): the same
               sum, and delta = (sum y) a - y. */
            for (int portable = 0; portable <= 1; portable++) {
                const double fused = bp_loss_sum_delta(BP_LOSS_CE, BP_ACT_SOFTMAX, z, a, y, delta, m, n, portable);
                mismatches += memcmp(&fused, &want, sizeof fused) != 0;
                for (size_t s = 0; s < m; s++) {
                    float ysum = 0.0f;
                    for (size_t i = 0; i < n; i++) ysum += y[s * n + i];
                    for (size_t i = 0; i < n; i++) {
                        const float d = ysum * a[s * n + i] - y[s * n + i];
                        mismatches += memcmp(&d, &delta[s * n + i], sizeof d) != 0;
                    }
                }
            }
        }
    CHECK(mismatches == 0, "%zu cross-entropy sums differ from the plain definition's bits", mismatches);
}
