/*
 * test_tiny_sgd.c - the tiny-network SGD path (tiny_sgd.c) against the general one.
 *
 * The general path for batch 1 is bp_net_backward on one sample, then
 * W <- W - eta (grad + wd W): exactly what the trainer does without tiny_sgd.c.
 * Every implementation of tiny_sgd.c (the plain loops, the portable vector
 * version, the AVX2 + FMA one) runs one epoch from the same network on the same
 * data, for every activation x (loss, output) pair the library accepts, with
 * and without biases, with and without weight decay, on depths 1-3 and widths
 * 1-8 (the vector version takes widths up to 4, the rest go to the loops).
 * They must agree to 1e-4 relative: tiny_sgd.c uses a fast exp where the general
 * path calls libm, and sums in another order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "kernels/fastmath.h"
#include "core/tiny_sgd.h"
#include "test.h"

static uint64_t next(uint64_t *s) { return bp_test_next(s); }
static double unit(uint64_t *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }

typedef struct {
    size_t n_layers;
    size_t sizes[4];
} shape;

/* Depths 1-3, widths 1-8: seed 001's 2-3-2, full and partial four-lane layers, and
   shapes only the plain loops take. */
static const shape shapes[] = {
    {1, {2, 2}},       {1, {4, 3}},       {1, {1, 5}},          {2, {2, 3, 2}},   {2, {1, 1, 2}},
    {2, {4, 4, 4}},    {2, {3, 2, 4}},    {2, {5, 7, 3}},       {3, {2, 4, 3, 2}}, {3, {3, 1, 2, 4}},
    {3, {4, 4, 4, 4}}, {3, {8, 6, 2, 3}}, {3, {2, 3, 2, 8}},
};

/* A network of this shape and kind with random biases (bp_net_create zeroes them),
   and n samples of data to go with it: inputs in [-1, 1], targets that suit the loss. */
static bp_net *make_case(const shape *sh, bp_activation hidden, bp_activation output, bp_loss loss,
                         int bias, uint64_t seed, size_t n, float **x, float **y)
{
    bp_net_config c = {sh->n_layers, sh->sizes, hidden, output, loss, bias, seed, NULL, 0};
    bp_net *net = NULL;
    if (bp_net_create(&c, &net, NULL) != BP_OK) return NULL;
    uint64_t st = seed;
    for (size_t l = 1; bias && l <= sh->n_layers; l++) {
        float *b;
        bp_net_layer_view(net, l, NULL, &b, NULL, NULL);
        for (size_t i = 0; i < sh->sizes[l]; i++) b[i] = (float)(unit(&st) - 0.5);
    }
    size_t n0 = sh->sizes[0], nL = sh->sizes[sh->n_layers];
    *x = malloc(n * n0 * sizeof(float));
    *y = calloc(n * nL, sizeof(float));
    if (!*x || !*y) {
        bp_net_free(net);
        return NULL;
    }
    for (size_t i = 0; i < n * n0; i++) (*x)[i] = (float)(2 * unit(&st) - 1);
    for (size_t k = 0; k < n; k++) {
        float *yk = *y + k * nL;
        if (output == BP_ACT_SOFTMAX && k % 5 == 0)
            /* Targets that do not sum to 1: CE's delta is then (sum y) a - y. */
            for (size_t i = 0; i < nL; i++) yk[i] = (float)unit(&st);
        else if (output == BP_ACT_SOFTMAX)
            yk[next(&st) % nL] = 1;
        else if (loss == BP_LOSS_BCE)
            for (size_t i = 0; i < nL; i++) yk[i] = (float)(next(&st) & 1);
        else if (output == BP_ACT_TANH || output == BP_ACT_IDENTITY)
            for (size_t i = 0; i < nL; i++) yk[i] = (float)(2 * unit(&st) - 1);
        else
            for (size_t i = 0; i < nL; i++) yk[i] = (float)unit(&st);
    }
    return net;
}

/* One epoch of the general path in sample order order[0..n) (0..n-1 when NULL). */
static double general_epoch(bp_net *net, const float *x, const float *y, const size_t *order, size_t n,
                            float lr, float wd)
{
    size_t n0 = bp_net_width(net, 0), nL = bp_net_width(net, bp_net_layer_count(net));
    size_t P = bp_net_param_count(net);
    float *p = bp_net_params(net);
    const float *g = bp_net_grads(net);
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k] : k;
        double loss = 0.0;
        bp_net_backward(net, x + i * n0, y + i * nL, 1, BP_REDUCE_MEAN, &loss);
        total += loss;
        for (size_t j = 0; j < P; j++) p[j] -= lr * (g[j] + wd * p[j]);
    }
    return total;
}

/* max |a - b| / max |b| over the parameters. */
static double param_error(const bp_net *a, const bp_net *b)
{
    const float *pa = bp_net_params_const(a), *pb = bp_net_params_const(b);
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < bp_net_param_count(b); i++) {
        diff = fmax(diff, fabs((double)pa[i] - pb[i]));
        scale = fmax(scale, fabs((double)pb[i]));
    }
    return diff / (scale > 0 ? scale : 1.0);
}

static const bp_tiny_kernel kernels[] = {BP_TINY_PLAIN, BP_TINY_VECTOR, BP_TINY_VECTOR_FMA,
                                          BP_TINY_AUTO};

/* One case through the general path and every kernel; returns the worst errors. */
static void compare_case(const shape *sh, bp_activation hidden, bp_activation output, bp_loss loss,
                         int bias, float wd, int shuffled, uint64_t seed, double *worst_p,
                         double *worst_l)
{
    const size_t n = 120;
    const float lr = 0.05f;
    float *x = NULL, *y = NULL;
    bp_net *ref = make_case(sh, hidden, output, loss, bias, seed, n, &x, &y);
    CHECK(ref != NULL, "could not build the network");
    if (!ref) return;
    size_t order[120];
    for (size_t k = 0; k < n; k++) order[k] = k;
    for (size_t k = n - 1; shuffled && k > 0; k--) {
        size_t j = (size_t)(next(&seed) % (k + 1)), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    bp_net *start = NULL;
    bp_net_clone(ref, &start);
    double want = general_epoch(ref, x, y, shuffled ? order : NULL, n, lr, wd);
    for (size_t kk = 0; start && kk < sizeof kernels / sizeof kernels[0]; kk++) {
        bp_net *net = NULL;
        if (bp_net_clone(start, &net) != BP_OK) break;
        double got = bp_tiny_sgd_epoch_with(kernels[kk], net, x, y, shuffled ? order : NULL, n, lr, wd);
        double ep = param_error(net, ref), el = fabs(got - want) / fmax(fabs(want), 1e-3);
        if (!(ep <= 1e-4) || !(el <= 1e-4))
            fprintf(stderr, "  kernel %d, sizes %zu-%zu-..., L %zu, %s/%s/%s, bias %d, wd %g: "
                            "params %.3g, loss %.3g (%.9g vs %.9g)\n",
                    (int)kernels[kk], sh->sizes[0], sh->sizes[1], sh->n_layers,
                    bp_activation_name(hidden), bp_activation_name(output), bp_loss_name(loss), bias,
                    (double)wd, ep, el, got, want);
        *worst_p = fmax(*worst_p, isnan(ep) ? INFINITY : ep);
        *worst_l = fmax(*worst_l, isnan(el) ? INFINITY : el);
        bp_net_free(net);
    }
    bp_net_free(start);
    bp_net_free(ref);
    free(x);
    free(y);
}

void test_tiny_matches_general_path(void)
{
    const bp_activation hiddens[] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_TANH, BP_ACT_RELU,
                                     BP_ACT_LEAKY_RELU};
    const struct {
        bp_activation output;
        bp_loss loss;
    } tops[] = {{BP_ACT_IDENTITY, BP_LOSS_MSE}, {BP_ACT_SIGMOID, BP_LOSS_MSE},
                {BP_ACT_TANH, BP_LOSS_MSE},     {BP_ACT_RELU, BP_LOSS_MSE},
                {BP_ACT_LEAKY_RELU, BP_LOSS_MSE}, {BP_ACT_SOFTMAX, BP_LOSS_MSE},
                {BP_ACT_SOFTMAX, BP_LOSS_CE},   {BP_ACT_SIGMOID, BP_LOSS_BCE}};
    double worst_p = 0.0, worst_l = 0.0;
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t h = 0; h < sizeof hiddens / sizeof hiddens[0]; h++) {
            /* One layer has no hidden activation: one pass is enough. */
            if (shapes[s].n_layers == 1 && h > 0) break;
            for (size_t t = 0; t < sizeof tops / sizeof tops[0]; t++) {
                if (tops[t].output == BP_ACT_SOFTMAX && shapes[s].sizes[shapes[s].n_layers] < 2) continue;
                for (int bias = 0; bias <= 1; bias++)
                    for (int w = 0; w <= 1; w++)
                        compare_case(&shapes[s], hiddens[h], tops[t].output, tops[t].loss, bias,
                                     w ? 0.01f : 0.0f, (int)(seed % 2), seed, &worst_p, &worst_l),
                            seed++;
            }
        }
    CHECK(worst_p <= 1e-4, "parameters differ by %g relative", worst_p);
    CHECK(worst_l <= 1e-4, "loss sums differ by %g relative", worst_l);
}

/* Seed 001's network as the W2 benchmark trains it (lr 0.5), over more samples: the
   kernels stay with the general path for a whole epoch, not just a short one. */
void test_tiny_w2_epoch(void)
{
    const shape sh = {2, {2, 3, 2}};
    const size_t n = 2000;
    float *x = NULL, *y = NULL;
    bp_net *ref = make_case(&sh, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 7, n, &x, &y);
    CHECK(ref != NULL, "could not build the network");
    if (!ref) return;
    bp_net *start = NULL;
    bp_net_clone(ref, &start);
    double want = general_epoch(ref, x, y, NULL, n, 0.5f, 0.0f);
    for (size_t kk = 0; start && kk < sizeof kernels / sizeof kernels[0]; kk++) {
        bp_net *net = NULL;
        if (bp_net_clone(start, &net) != BP_OK) break;
        double got = bp_tiny_sgd_epoch_with(kernels[kk], net, x, y, NULL, n, 0.5f, 0.0f);
        double ep = param_error(net, ref);
        CHECK(ep <= 1e-4, "kernel %d: parameters differ by %g relative", (int)kernels[kk], ep);
        CHECK_NEAR(got / want, 1.0, 1e-5);
        bp_net_free(net);
    }
    bp_net_free(start);
    bp_net_free(ref);
    free(x);
    free(y);
}

/* A learning rate that blows the weights up must come back as a non-finite loss
   (which the trainer reports), not as a crash or a finite number. */
void test_tiny_divergence_is_not_finite(void)
{
    /* Identity outputs: a saturated sigmoid output would stop learning instead. */
    const shape cases[] = {{2, {2, 3, 2}}, {1, {3, 4}}, {2, {6, 5, 2}}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t kk = 0; kk < sizeof kernels / sizeof kernels[0]; kk++) {
            float *x = NULL, *y = NULL;
            bp_net *net = make_case(&cases[c], BP_ACT_SIGMOID, BP_ACT_IDENTITY, BP_LOSS_MSE, 1, 3, 200, &x, &y);
            CHECK(net != NULL, "could not build the network");
            if (!net) continue;
            double loss = bp_tiny_sgd_epoch_with(kernels[kk], net, x, y, NULL, 200, 1e30f, 0.0f);
            CHECK(!isfinite(loss), "case %zu, kernel %d: loss %g", c, (int)kernels[kk], loss);
            bp_net_free(net);
            free(x);
            free(y);
        }
}

#if BP_FAST_V4
/* The four-lane exp and sigmoid against libm, lane by lane. Inlined into a portable
   function and into one compiled for AVX2 + FMA as tiny_sgd.c does, so that both builds
   of them are measured. */
typedef struct {
    double exp, sigmoid; /* worst relative errors */
    int edges;           /* clamping, saturation and NaN as documented */
} fast4_report;

static inline __attribute__((always_inline)) fast4_report fast4_check(int fused)
{
    fast4_report r = {0.0, 0.0, 1};
    for (float x = -87.0f; x <= 87.99f; x += 4 * 0.000731f) {
        bp_v4 v = {x, x + 0.000731f, x + 2 * 0.000731f, x + 3 * 0.000731f};
        bp_v4 e = bp_fast_exp4(v, fused), s = bp_fast_sigmoid4(v, fused);
        for (int i = 0; i < 4; i++) {
            double want = exp((double)v[i]);
            r.exp = fmax(r.exp, fabs(e[i] - want) / want);
            double sig = 1.0 / (1.0 + exp(-(double)v[i]));
            if (v[i] > -80.0f) r.sigmoid = fmax(r.sigmoid, fabs(s[i] - sig) / sig);
        }
    }
    bp_v4 big = {1000.0f, -1000.0f, INFINITY, -INFINITY};
    bp_v4 e = bp_fast_exp4(big, fused), s = bp_fast_sigmoid4(big, fused);
    r.edges &= isfinite(e[0]) && e[0] > 1e38f && e[1] > 0.0f && e[1] < 1e-37f;
    r.edges &= s[0] == 1.0f && s[1] >= 0.0f && s[1] < 1e-34f && s[2] == 1.0f && s[3] >= 0.0f &&
               s[3] < 1e-34f;
    bp_v4 nan = {NAN, 0.0f, NAN, 1.0f};
    e = bp_fast_exp4(nan, fused);
    s = bp_fast_sigmoid4(nan, fused);
    r.edges &= isnan(e[0]) && isnan(e[2]) && e[1] == 1.0f;
    r.edges &= isnan(s[0]) && isnan(s[2]) && fabsf(s[1] - 0.5f) < 1e-7f;
    return r;
}

static fast4_report fast4_portable(void) { return fast4_check(0); }

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
__attribute__((target("avx2,fma")))
#else
__attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#endif
static fast4_report fast4_fma(void) { return fast4_check(1); }
#endif
#endif

void test_tiny_fast_exp4(void)
{
#if BP_FAST_V4
    fast4_report r[2] = {fast4_portable(), fast4_portable()};
    int builds = 1;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) r[builds++] = fast4_fma();
#endif
    for (int b = 0; b < builds; b++) {
        CHECK(r[b].exp < 5e-7, "build %d: exp: worst relative error %g", b, r[b].exp);
        CHECK(r[b].sigmoid < 5e-7, "build %d: sigmoid: worst relative error %g", b, r[b].sigmoid);
        CHECK(r[b].edges, "build %d: clamping, saturation or NaN wrong", b);
    }
#endif
}
