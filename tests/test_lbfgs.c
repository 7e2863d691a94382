/*
 * test_lbfgs.c - L-BFGS (src/core/lbfgs.c): the optimum of a convex problem
 * known in closed form, a seed network whose loss must fall at every
 * iteration, the evaluation cap, and results that do not depend on the
 * thread count.
 */
#include <math.h>
#include <string.h>

#include "backprop.h"
#include "test.h"

enum { N_SAMPLES = 40, N_IN = 3, N_OUT = 2 };

/* y = A x + c + noise, for a linear least-squares problem. */
static bp_dataset *linear_data(void)
{
    bp_dataset *d = NULL;
    if (bp_dataset_create(N_SAMPLES, N_IN, N_OUT, &d) != BP_OK) return NULL;
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    unsigned long long r = 7;
    for (size_t s = 0; s < N_SAMPLES; s++) {
        for (size_t i = 0; i < N_IN; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[s * N_IN + i] = (float)((r >> 40) & 0xFFFF) / 16384.0f - 2.0f;
        }
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        const float noise = (float)((r >> 40) & 0xFF) / 512.0f - 0.25f;
        y[s * N_OUT] = 1.5f * x[s * N_IN] - 0.5f * x[s * N_IN + 2] + 0.25f + noise;
        y[s * N_OUT + 1] = -x[s * N_IN + 1] + 2.0f + 0.5f * noise;
    }
    return d;
}

/* The minimizer of (1/n) sum 1/2 ||W x + b - y||^2 + wd/2 (||W||^2 + ||b||^2), output by
   output: (X'X / n + wd I) theta = X'y / n with X's rows (x, 1), by Gaussian elimination.
   theta goes to the parameter block's layout: W row-major, then b. */
static void least_squares(const bp_dataset *d, double wd, double *params)
{
    const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
    enum { K = N_IN + 1 };
    for (size_t j = 0; j < N_OUT; j++) {
        double A[K][K + 1] = {{0}};
        for (size_t s = 0; s < N_SAMPLES; s++) {
            double row[K];
            for (size_t i = 0; i < N_IN; i++) row[i] = x[s * N_IN + i];
            row[N_IN] = 1.0;
            for (size_t a = 0; a < K; a++) {
                for (size_t b = 0; b < K; b++) A[a][b] += row[a] * row[b] / N_SAMPLES;
                A[a][K] += row[a] * y[s * N_OUT + j] / N_SAMPLES;
            }
        }
        for (size_t a = 0; a < K; a++) A[a][a] += wd;
        for (size_t p = 0; p < K; p++)
            for (size_t a = p + 1; a < K; a++) {
                const double f = A[a][p] / A[p][p];
                for (size_t b = p; b <= K; b++) A[a][b] -= f * A[p][b];
            }
        double theta[K];
        for (size_t p = K; p-- > 0;) {
            double v = A[p][K];
            for (size_t b = p + 1; b < K; b++) v -= A[p][b] * theta[b];
            theta[p] = v / A[p][p];
        }
        for (size_t i = 0; i < N_IN; i++) params[j * N_IN + i] = theta[i];
        params[N_OUT * N_IN + j] = theta[N_IN];
    }
}

/* Train the linear network with L-BFGS until it converges (at most `epochs`); returns the
   epochs it took, 0 when it never converged. */
static size_t fit_linear(const bp_dataset *d, double wd, bp_net **out)
{
    size_t sizes[] = {N_IN, N_OUT};
    bp_net_config c = {1, sizes, BP_ACT_IDENTITY, BP_ACT_IDENTITY, BP_LOSS_MSE, 1, 5, NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_train_config tc = {.optimizer = BP_OPT_LBFGS, .weight_decay = wd, .tolerance = 1e-6};
    size_t epochs = 0;
    if (bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK) {
        bp_epoch_stats st = {0};
        for (size_t e = 1; e <= 200 && !st.converged; e++) {
            CHECK(bp_trainer_epoch(t, d, &st) == BP_OK, "epoch %zu", e);
            if (st.converged) epochs = e;
        }
    }
    bp_trainer_free(t);
    *out = net;
    return epochs;
}

void test_lbfgs_finds_least_squares_optimum(void)
{
    bp_dataset *d = linear_data();
    if (!d) return;
    const double decays[] = {0.0, 0.1};
    for (size_t k = 0; k < 2; k++) {
        double want[N_OUT * N_IN + N_OUT];
        least_squares(d, decays[k], want);
        bp_net *net = NULL;
        size_t epochs = fit_linear(d, decays[k], &net);
        CHECK(epochs > 0 && epochs < 100, "weight decay %g: converged after %zu iterations", decays[k], epochs);
        if (net) {
            const float *p = bp_net_params(net);
            double worst = 0;
            for (size_t i = 0; i < bp_net_param_count(net); i++) worst = fmax(worst, fabs(p[i] - want[i]));
            CHECK(worst < 1e-4, "weight decay %g: parameters within %g of the closed-form optimum", decays[k], worst);
        }
        bp_net_free(net);
    }
    bp_dataset_free(d);
}

/* Seed 001's 2-3-2 sigmoid network with MSE, on a small smooth problem: the line search's
   sufficient decrease means the loss falls at every iteration until it stops. */
void test_lbfgs_seed_network_descends(void)
{
    bp_dataset *d = NULL;
    if (bp_dataset_create(64, 2, 2, &d) != BP_OK) return;
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    for (size_t s = 0; s < 64; s++) {
        x[2 * s] = (float)(s % 8) / 8.0f, x[2 * s + 1] = (float)(s / 8) / 8.0f;
        y[2 * s] = x[2 * s] * x[2 * s + 1], y[2 * s + 1] = 0.5f * (x[2 * s] + x[2 * s + 1]);
    }
    for (int threads = 1; threads <= 3; threads += 2) {
        size_t sizes[] = {2, 3, 2};
        bp_net_config c = {2, sizes, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 232, NULL, 0};
        bp_net *net = NULL;
        bp_trainer *t = NULL;
        bp_train_config tc = {.optimizer = BP_OPT_LBFGS, .lbfgs_history = 5};
        if (bp_net_create(&c, &net, NULL) != BP_OK || bp_net_set_threads(net, threads, NULL) != BP_OK ||
            bp_trainer_create(net, &tc, &t) != BP_OK)
            break;
        bp_metrics before, after;
        bp_net_evaluate(net, d, &before);
        double last = INFINITY;
        int falls = 1, stepped = 0;
        for (int e = 0; e < 60; e++) {
            bp_epoch_stats st;
            CHECK(bp_trainer_epoch(t, d, &st) == BP_OK, "epoch");
            falls &= st.converged || st.loss < last;
            stepped += (int)st.steps;
            last = st.loss;
        }
        bp_net_evaluate(net, d, &after);
        CHECK(falls, "the loss fell at every iteration");
        CHECK(after.loss < 0.05 * before.loss, "loss %g -> %g after %d steps", before.loss, after.loss, stepped);
        static float first[17];
        if (threads == 1) memcpy(first, bp_net_params(net), sizeof first);
        else CHECK(memcmp(first, bp_net_params(net), sizeof first) == 0, "3 threads: bitwise the same as 1");
        /* L-BFGS has no single-batch step. */
        CHECK(bp_trainer_step(t, x, y, 4, NULL) == BP_ERR_UNSUPPORTED, "bp_trainer_step refuses");
        bp_trainer_free(t);
        bp_net_free(net);
    }
    bp_dataset_free(d);
}

void test_lbfgs_stops_at_evaluation_cap(void)
{
    bp_dataset *d = linear_data();
    size_t sizes[] = {N_IN, 4, N_OUT};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_IDENTITY, BP_LOSS_MSE, 1, 9, NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_train_config tc = {.optimizer = BP_OPT_LBFGS, .max_evaluations = 6, .tolerance = 1e-12};
    if (d && bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK) {
        bp_epoch_stats st = {0};
        int e = 0;
        while (!st.converged && e < 50) {
            CHECK(bp_trainer_epoch(t, d, &st) == BP_OK, "epoch");
            e++;
        }
        /* Each iteration evaluates at least once, and the first evaluation is the start. */
        CHECK(st.converged && e <= 6, "stopped after %d iterations for a cap of 6 evaluations", e);
        float saved[32];
        memcpy(saved, bp_net_params(net), bp_net_param_count(net) * sizeof(float));
        CHECK(bp_trainer_epoch(t, d, &st) == BP_OK && st.steps == 0 && st.converged, "a converged run stays");
        CHECK(memcmp(saved, bp_net_params(net), bp_net_param_count(net) * sizeof(float)) == 0, "nothing moved");
    }
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
}
